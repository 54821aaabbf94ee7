-- Keys of a country's landed self-assessments, in a stable order (the harmonise fingerprint).
select form_id,
       response_id,
       last_submitted_time
from raw_response
where country = :country
  and form_kind = 'self_assessment'
order by form_id,
         response_id
