-- grain: one row per (scope_country, month, indicator) with a non-null value: the long
-- form of indicators_monthly with the number of answers behind each value (n) and its
-- trend. prev_value is the previous calendar month's value (null after a gap),
-- running_mean the mean over this and all earlier months with a value, mean_3m the mean
-- over the (up to) 3 calendar months before this one.
-- The indicators and the count column behind each come from var('indicators')
-- (bsin.warehouse.dbt_project.INDICATOR_COUNTS), one union branch per indicator.

with long_values as (
    {%- for indicator in var('indicators') %}
    select i.scope_country, i.month, c.month_index, '{{ indicator.name }}' as indicator,
           cast(i.{{ indicator.name }} as double precision) as value, c.{{ indicator.n }} as n
    from {{ ref('indicators_monthly') }} as i
    inner join {{ ref('int_monthly_counts') }} as c
        on c.scope_country = i.scope_country and c.month = i.month
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
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
from trend
