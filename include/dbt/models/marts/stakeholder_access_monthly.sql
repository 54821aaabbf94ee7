-- grain: one row per (scope_country, month, stakeholder_type) for every month with
-- feedback and every stakeholder type of the questionnaire: how many of the members who
-- answered the stakeholder question reached that type of stakeholder this month.
-- int_monthly_counts already counts them per type (access_<type>): unpivoted here, so the
-- selections are read once a build, not twice.

with reached as (
    {%- for type in var('stakeholder_types') %}
    select
        scope_country,
        month,
        '{{ type }}'                                      as stakeholder_type,
        access_{{ type }}                                 as members_reached,
        access_n
    from {{ ref('int_monthly_counts') }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    scope_country,
    month,
    stakeholder_type,
    cast(members_reached as integer)                    as members_reached,
    access_n                                            as respondents,
    case when access_n > 0
         then cast(members_reached as double precision) / access_n end  as rate
from reached
