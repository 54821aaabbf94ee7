-- Countries whose form landed for the month (their extract ran).
select distinct country
from raw_form
where report_month = :month
