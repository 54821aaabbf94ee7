-- Countries whose self-assessments were harmonised (and validated) for another month than
-- this one: their rows and validation quarantine stand.
select country
from harmonise_state
where form_kind = 'self_assessment'
  and report_month <> :month
order by country
