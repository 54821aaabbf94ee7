-- How many incoming responses are edits of landed ones (newer lastSubmittedTime).
select count(*)
from raw_response_incoming as i
join raw_response as r on r.form_id = i.form_id
and r.response_id = i.response_id
where r.last_submitted_time < i.last_submitted_time
