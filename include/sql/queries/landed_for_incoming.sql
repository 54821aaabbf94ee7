-- The landed responses that may be the same as, or clash with, an incoming one
-- (staging raw_response_incoming): those sharing its response id's key. A scan of one
-- integer column, so landing costs the same in month 10 as in month 1.
select r.form_id,
       r.response_id,
       r.country,
       r.form_kind,
       r.report_month,
       r.last_submitted_time,
       r.create_time,
       r.response_key
from raw_response as r
where r.response_key in (select i.response_key from raw_response_incoming as i)
