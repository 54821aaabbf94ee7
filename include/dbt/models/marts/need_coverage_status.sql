-- grain: one row per (scope_country, month, need) for every month with feedback and every
-- need named in at least one baseline self-assessment of the scope: how many members
-- named it, and whether the programme covered it this month / in any month so far.
-- The uncovered_need adaptation signal reads this table.

with naming as (
    select scope_country, need, count(distinct country || '/' || member_id) as members_naming
    from {{ ref('stg_baseline_need') }}
    group by scope_country, need
),

first_cover as (
    select m.scope_country, m.month, t.topic as need, min(t.month) as first_covered_month
    from {{ ref('stg_scope_month') }} as m
    inner join {{ source('warehouse', 'programme_topic') }} as t
        on t.month <= m.month
    group by m.scope_country, m.month, t.topic
)

select
    c.scope_country,
    c.month,
    n.need,
    cast(n.members_naming as integer)                                       as members_naming,
    c.baseline_members,
    cast(n.members_naming as double precision) / c.baseline_members         as share,
    case when exists (
        select 1 from {{ source('warehouse', 'programme_topic') }} as p where p.month = c.month and p.topic = n.need
    ) then true else false end                                              as covered_this_month,
    f.first_covered_month,
    case when f.first_covered_month is not null then true else false end   as covered_so_far
from {{ ref('int_monthly_counts') }} as c
inner join naming as n
    on n.scope_country = c.scope_country
left join first_cover as f
    on  f.scope_country = c.scope_country
    and f.month = c.month
    and f.need = n.need
where c.baseline_members > 0
