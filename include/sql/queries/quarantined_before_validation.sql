-- Responses per country quarantined before validation (extract, harmonise).
select country,
       count(distinct response_id) as n
from quarantine
where report_month = :month
  and form_kind = 'monthly'
  and stage in ('extract',
                'harmonise')
group by country
