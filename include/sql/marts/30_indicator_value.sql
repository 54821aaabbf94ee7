-- grain: one row per (scope_country, month, indicator) with a non-null value: the long
-- form of indicators_monthly with the number of answers behind each value (n) and its
-- trend. prev_value is the previous calendar month's value (null after a gap),
-- running_mean the mean over this and all earlier months with a value, mean_3m the mean
-- over the (up to) 3 calendar months before this one.

delete from indicator_value;

insert into indicator_value (
    scope_country, month, indicator, value, n, prev_value, delta, running_mean, mean_3m
)
with long_values as (
    select i.scope_country, i.month, c.month_index, 'response_rate' as indicator,
           i.response_rate as value, c.respondents as n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'peer_session_rate', i.peer_session_rate, c.peer_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'workshop_rate', i.workshop_rate, c.workshop_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'satisfaction_mean', i.satisfaction_mean, c.satisfaction_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'satisfaction_low_share', i.satisfaction_low_share, c.satisfaction_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'relevance_mean', i.relevance_mean, c.relevance_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'nps', i.nps, c.recommend_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'skill_gain_rate', i.skill_gain_rate, c.skill_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'connections_sum',
           cast(i.connections_sum as double precision), c.connections_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'connections_mean', i.connections_mean, c.connections_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'connections_cumulative',
           cast(i.connections_cumulative as double precision), c.connections_n_cumulative
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'access_public_sector_rate', i.access_public_sector_rate, c.access_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'access_corporate_rate', i.access_corporate_rate, c.access_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'access_impact_investor_rate', i.access_impact_investor_rate, c.access_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'access_media_rate', i.access_media_rate, c.access_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'access_any_rate', i.access_any_rate, c.access_n
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
    union all
    select i.scope_country, i.month, c.month_index, 'needs_coverage', i.needs_coverage, c.baseline_members
    from indicators_monthly as i
    inner join int_monthly_counts as c on c.scope_country = i.scope_country and c.month = i.month
),

present as (
    select * from long_values where value is not null
),

trend as (
    select
        cur.scope_country,
        cur.month,
        cur.indicator,
        cur.value,
        cur.n,
        max(case when hist.month_index = cur.month_index - 1 then hist.value end)  as prev_value,
        avg(hist.value)                                                             as running_mean,
        avg(case when hist.month_index >= cur.month_index - 3
                  and hist.month_index < cur.month_index then hist.value end)      as mean_3m
    from present as cur
    inner join present as hist
        on  hist.scope_country = cur.scope_country
        and hist.indicator = cur.indicator
        and hist.month_index <= cur.month_index
    group by cur.scope_country, cur.month, cur.indicator, cur.value, cur.n
)

select
    scope_country,
    month,
    indicator,
    value,
    n,
    prev_value,
    value - prev_value  as delta,
    running_mean,
    mean_3m
from trend;
