-- Landed responses to harmonise: the month's monthly ones; self-assessments of all time.
-- The id only names a payload that cannot be read (bsin.transform.landed.decode).
select response_id, payload
from raw_response
where country = :country
  and form_kind = :kind
  and (report_month = :month
       or form_kind = 'self_assessment')
order by response_id
