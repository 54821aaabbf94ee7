-- grain: one row per (country, member_id, area) for members with a baseline and an
-- end-line self-assessment that both rate the area: the capability grid unpivoted.

drop table if exists stg_capability;

create table stg_capability as
with levels as (
    select country, wave, member_id, 'funding_access' as area, capability_funding_access as level from self_assessment
    union all
    select country, wave, member_id, 'visibility', capability_visibility from self_assessment
    union all
    select country, wave, member_id, 'impact_measurement', capability_impact_measurement from self_assessment
    union all
    select country, wave, member_id, 'scaling', capability_scaling from self_assessment
    union all
    select country, wave, member_id, 'public_procurement', capability_public_procurement from self_assessment
    union all
    select country, wave, member_id, 'corporate_partnerships', capability_corporate_partnerships from self_assessment
    union all
    select country, wave, member_id, 'investor_readiness', capability_investor_readiness from self_assessment
    union all
    select country, wave, member_id, 'team_leadership', capability_team_leadership from self_assessment
)

select
    b.country,
    b.member_id,
    b.area,
    b.level  as baseline_level,
    e.level  as endline_level
from levels as b
inner join levels as e
    on  e.country = b.country
    and e.member_id = b.member_id
    and e.area = b.area
    and e.wave = 'endline'
where b.wave = 'baseline'
  and b.level is not null
  and e.level is not null;
