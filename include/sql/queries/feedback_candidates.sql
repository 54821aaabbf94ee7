-- The month's harmonised feedback rows waiting for validation.
select *
from feedback_candidate
where report_month = :month
order by country,
         response_id
