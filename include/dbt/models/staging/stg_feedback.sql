-- grain: one row per (scope_country, month, country, member_id): every loaded feedback
-- row twice, once under its own country and once under scope_country = 'NETWORK'.
-- Answers are turned into 0/1 flags and points so that the marts only count and sum.

with answers as (
    select
        country,
        feedback_month                                            as month,
        cast(extract(year from feedback_month) as integer) * 12
            + cast(extract(month from feedback_month) as integer) - 1 as month_index,
        member_id,
        case when attended_peer_session then 1
             when not attended_peer_session then 0 end            as peer_flag,
        case when attended_workshop then 1
             when not attended_workshop then 0 end                as workshop_flag,
        satisfaction,
        case when satisfaction <= 2 then 1
             when satisfaction is not null then 0 end              as satisfaction_low_flag,
        relevance,
        recommend,
        case when recommend >= 9 then 1
             when recommend is not null then 0 end                 as promoter_flag,
        case when recommend <= 6 then 1
             when recommend is not null then 0 end                 as detractor_flag,
        -- yes = 2 half-points, partly = 1, no = 0: integers keep the sums exact
        case new_skill when 'yes' then 2
                       when 'partly' then 1
                       when 'no' then 0 end                        as skill_half_points,
        new_connections_abroad                                     as connections
    from {{ source('warehouse', 'feedback') }}
    -- a country removed from partners.yaml keeps its rows but leaves every new report
    where country in (select country from {{ source('warehouse', 'member_roster') }})
)

select country as scope_country, answers.* from answers
union all
select 'NETWORK' as scope_country, answers.* from answers
