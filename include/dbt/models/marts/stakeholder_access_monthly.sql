-- grain: one row per (scope_country, month, stakeholder_type) for every month with
-- feedback and every stakeholder type of the questionnaire: how many of the members who
-- answered the stakeholder question reached that type of stakeholder this month.

with stakeholder_types as (
    select stakeholder_type
    from (values
        {%- for type in var('stakeholder_types') %} ('{{ type }}'){{ ',' if not loop.last }}{% endfor %}
    ) as t (stakeholder_type)
),

reached as (
    -- stg_access holds a member's type once per month and scope: a row is a member
    select scope_country, month, stakeholder_type,
           count(*)                                     as members_reached
    from {{ ref('stg_access') }}
    group by scope_country, month, stakeholder_type
)

select
    c.scope_country,
    c.month,
    t.stakeholder_type,
    cast(coalesce(r.members_reached, 0) as integer)    as members_reached,
    c.access_n                                          as respondents,
    case when c.access_n > 0
         then cast(coalesce(r.members_reached, 0) as double precision) / c.access_n end  as rate
from {{ ref('int_monthly_counts') }} as c
cross join stakeholder_types as t
left join reached as r
    on  r.scope_country = c.scope_country
    and r.month = c.month
    and r.stakeholder_type = t.stakeholder_type
