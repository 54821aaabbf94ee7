-- grain: one row per (scope_country, month) with feedback: the integer counts and sums
-- every monthly indicator is a ratio of. Kept as a table so that indicators_monthly and
-- indicator_value share one computation (and so analysts can see each ratio's parts).

with feedback_counts as (
    select
        scope_country,
        month,
        count(*)                                         as respondents,
        count(peer_flag)                                 as peer_n,
        sum(peer_flag)                                   as peer_yes,
        count(workshop_flag)                             as workshop_n,
        sum(workshop_flag)                               as workshop_yes,
        count(satisfaction)                              as satisfaction_n,
        sum(satisfaction)                                as satisfaction_sum,
        sum(satisfaction_low_flag)                       as satisfaction_low,
        count(relevance)                                 as relevance_n,
        sum(relevance)                                   as relevance_sum,
        count(recommend)                                 as recommend_n,
        sum(promoter_flag)                               as promoters,
        sum(detractor_flag)                              as detractors,
        count(skill_half_points)                         as skill_n,
        sum(skill_half_points)                           as skill_half_points,
        count(connections)                               as connections_n,
        sum(connections)                                 as connections_sum
    from {{ ref('stg_feedback') }}
    group by scope_country, month
),

access_members as (
    -- one row per member who answered the stakeholder question in the month, under the
    -- member's own country, with a 0/1 flag per type: the counts below are then sums of
    -- integers, not distinct counts of text keys (docs/performance.md, eleventh run)
    select
        country,
        month,
        member_id,
        {%- for type in var('stakeholder_types') %}
        max(case when stakeholder_type = '{{ type }}' then 1 else 0 end)  as reached_{{ type }},
        {%- endfor %}
        max(case when stakeholder_type <> 'none' then 1 else 0 end)      as reached_any
    from {{ ref('stg_access') }}
    where scope_country = country
    group by country, month, member_id
),

country_access as (
    select
        country                                          as scope_country,
        month,
        count(*)                                         as access_n,
        {%- for type in var('stakeholder_types') %}
        sum(reached_{{ type }})                           as access_{{ type }},
        {%- endfor %}
        sum(reached_any)                                 as access_any
    from access_members
    group by country, month
),

access_counts as (
    select * from country_access
    union all
    -- a member belongs to one country, so the network's counts are the countries' sums
    select
        'NETWORK'                                        as scope_country,
        month,
        sum(access_n)                                    as access_n,
        {%- for type in var('stakeholder_types') %}
        sum(access_{{ type }})                            as access_{{ type }},
        {%- endfor %}
        sum(access_any)                                  as access_any
    from country_access
    group by month
),

roster as (
    select country as scope_country, month, active_members from {{ source('warehouse', 'member_roster') }}
    union all
    -- the network's members are those of the countries present in the month: a country
    -- that sent nothing (or was held back) must not dilute the network's rates
    select 'NETWORK' as scope_country, r.month, sum(r.active_members) as active_members
    from {{ source('warehouse', 'member_roster') }} as r
    where exists (
        select 1 from {{ ref('stg_feedback') }} as f
        where f.scope_country = r.country and f.month = r.month
    )
    group by r.month
),

baseline as (
    select scope_country, count(*) as baseline_members
    from {{ ref('stg_baseline_member') }}
    group by scope_country
),

covered as (
    -- baseline members with at least one need among the month's programme topics
    select
        m.scope_country,
        m.month,
        count(distinct n.country || '/' || n.member_id)  as baseline_covered
    from {{ ref('stg_scope_month') }} as m
    inner join {{ source('warehouse', 'programme_topic') }} as t
        on t.month = m.month
    inner join {{ ref('stg_baseline_need') }} as n
        on  n.scope_country = m.scope_country
        and n.need = t.topic
    group by m.scope_country, m.month
)

select
    m.scope_country,
    m.month,
    m.month_index,
    cast(r.active_members as integer)                              as active_members,
    cast(f.respondents as integer)                                 as respondents,
    cast(f.peer_n as integer)                                      as peer_n,
    cast(coalesce(f.peer_yes, 0) as integer)                       as peer_yes,
    cast(f.workshop_n as integer)                                  as workshop_n,
    cast(coalesce(f.workshop_yes, 0) as integer)                   as workshop_yes,
    cast(f.satisfaction_n as integer)                              as satisfaction_n,
    cast(coalesce(f.satisfaction_sum, 0) as integer)               as satisfaction_sum,
    cast(coalesce(f.satisfaction_low, 0) as integer)               as satisfaction_low,
    cast(f.relevance_n as integer)                                 as relevance_n,
    cast(coalesce(f.relevance_sum, 0) as integer)                  as relevance_sum,
    cast(f.recommend_n as integer)                                 as recommend_n,
    cast(coalesce(f.promoters, 0) as integer)                      as promoters,
    cast(coalesce(f.detractors, 0) as integer)                     as detractors,
    cast(f.skill_n as integer)                                     as skill_n,
    cast(coalesce(f.skill_half_points, 0) as integer)              as skill_half_points,
    cast(f.connections_n as integer)                               as connections_n,
    cast(coalesce(f.connections_sum, 0) as integer)                as connections_sum,
    cast(sum(coalesce(f.connections_sum, 0)) over (
        partition by m.scope_country
        order by m.month_index
        rows between unbounded preceding and current row
    ) as integer)                                                  as connections_cumulative,
    cast(sum(f.connections_n) over (
        partition by m.scope_country
        order by m.month_index
        rows between unbounded preceding and current row
    ) as integer)                                                  as connections_n_cumulative,
    cast(coalesce(a.access_n, 0) as integer)                       as access_n,
    {%- for type in var('stakeholder_types') %}
    cast(coalesce(a.access_{{ type }}, 0) as integer)  as access_{{ type }},
    {%- endfor %}
    cast(coalesce(a.access_any, 0) as integer)                     as access_any,
    cast(coalesce(b.baseline_members, 0) as integer)               as baseline_members,
    cast(coalesce(c.baseline_covered, 0) as integer)               as baseline_covered
from {{ ref('stg_scope_month') }} as m
inner join feedback_counts as f
    on f.scope_country = m.scope_country and f.month = m.month
left join access_counts as a
    on a.scope_country = m.scope_country and a.month = m.month
left join roster as r
    on r.scope_country = m.scope_country and r.month = m.month
left join baseline as b
    on b.scope_country = m.scope_country
left join covered as c
    on c.scope_country = m.scope_country and c.month = m.month
