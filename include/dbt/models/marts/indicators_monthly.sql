-- grain: one row per (scope_country, month) with feedback; scope_country is a country
-- code or 'NETWORK'. The wide indicator table the reports read (docs/indicators.md).
-- A ratio is null when its denominator is 0 (nobody answered that question).

select
    scope_country,
    month,
    active_members,
    respondents,
    case when active_members > 0
         then cast(respondents as double precision) / active_members end      as response_rate,
    case when peer_n > 0
         then cast(peer_yes as double precision) / peer_n end                  as peer_session_rate,
    case when workshop_n > 0
         then cast(workshop_yes as double precision) / workshop_n end          as workshop_rate,
    case when satisfaction_n > 0
         then cast(satisfaction_sum as double precision) / satisfaction_n end  as satisfaction_mean,
    case when satisfaction_n > 0
         then cast(satisfaction_low as double precision) / satisfaction_n end  as satisfaction_low_share,
    case when relevance_n > 0
         then cast(relevance_sum as double precision) / relevance_n end        as relevance_mean,
    case when recommend_n > 0
         then cast(100 * (promoters - detractors) as double precision)
              / recommend_n end                                                as nps,
    case when skill_n > 0
         then cast(skill_half_points as double precision) / (2 * skill_n) end  as skill_gain_rate,
    case when connections_n > 0 then connections_sum end                       as connections_sum,
    case when connections_n > 0
         then cast(connections_sum as double precision) / connections_n end   as connections_mean,
    connections_cumulative,
    case when access_n > 0
         then cast(access_public_sector as double precision) / access_n end   as access_public_sector_rate,
    case when access_n > 0
         then cast(access_corporate as double precision) / access_n end       as access_corporate_rate,
    case when access_n > 0
         then cast(access_impact_investor as double precision) / access_n end as access_impact_investor_rate,
    case when access_n > 0
         then cast(access_media as double precision) / access_n end           as access_media_rate,
    case when access_n > 0
         then cast(access_any as double precision) / access_n end             as access_any_rate,
    case when baseline_members > 0
         then cast(baseline_covered as double precision) / baseline_members end as needs_coverage
from {{ ref('int_monthly_counts') }}
