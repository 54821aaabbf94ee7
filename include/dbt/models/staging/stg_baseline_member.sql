-- grain: one row per (scope_country, country, member_id) of every member with a baseline
-- self-assessment, under the member's country and under 'NETWORK'. The denominator of
-- needs coverage and need shares.

select country as scope_country, country, member_id
from {{ source('warehouse', 'self_assessment') }}
where wave = 'baseline'
union all
select 'NETWORK' as scope_country, country, member_id
from {{ source('warehouse', 'self_assessment') }}
where wave = 'baseline'
