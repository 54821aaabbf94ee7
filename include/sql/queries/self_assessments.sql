-- Every self-assessment, for validation.
select *
from self_assessment
order by country,
         wave,
         member_id
