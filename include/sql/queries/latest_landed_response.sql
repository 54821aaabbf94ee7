-- lastSubmittedTime of the newest response landed for the form (naive UTC).
select max(last_submitted_time)
from raw_response
where form_id = :form_id
