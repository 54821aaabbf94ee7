-- The revision of the country's form landed in the latest month before the month.
select revision_id
from raw_form
where country = :country
  and form_kind = :kind
  and report_month < :month
order by report_month desc
limit 1
