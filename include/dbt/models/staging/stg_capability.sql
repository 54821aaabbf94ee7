-- grain: one row per (country, member_id, area) for members with a baseline and an
-- end-line self-assessment that both rate the area: the capability grid unpivoted.
-- One capability_<area> column per area of var('capability_areas').

with levels as (
    {%- for area in var('capability_areas') %}
    select country, wave, member_id, '{{ area }}' as area, capability_{{ area }} as level
    from {{ source('warehouse', 'self_assessment') }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
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
  and e.level is not null
