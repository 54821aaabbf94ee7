-- Landed responses to harmonise: the month's monthly ones; self-assessments of all time.
select payload
from raw_response
where country = :country
  and form_kind = :kind
  and (report_month = :month
       or form_kind = 'self_assessment')
order by response_id
