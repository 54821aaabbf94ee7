-- Countries with landed monthly responses but neither candidates nor harmonise
-- quarantine: their harmonise task failed.
select distinct r.country
from raw_response r
where r.report_month = :month
  and r.form_kind = 'monthly'
  and not exists
    (select 1
     from feedback_candidate c
     where c.country = r.country
       and c.report_month = :month)
  and not exists
    (select 1
     from quarantine q
     where q.country = r.country
       and q.report_month = :month
       and q.stage = 'harmonise')
