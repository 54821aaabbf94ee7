-- The form (questions and options) landed for the country, kind and month.
select payload
from raw_form
where country = :country
  and form_kind = :kind
  and report_month = :month
