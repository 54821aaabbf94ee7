-- How many incoming responses are edits of landed ones (newer lastSubmittedTime). Landed
-- rows come from staging raw_response_landed (queries/landed_for_incoming.sql).
select count(*)
from raw_response_incoming as i
join raw_response_landed as r on r.form_id = i.form_id
and r.response_id = i.response_id
where r.last_submitted_time < i.last_submitted_time
