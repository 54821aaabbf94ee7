-- grain: one row per (scope_country, area) for every capability area rated by at least
-- one member in both waves: end-line minus baseline self-assessed level (1-5 scale),
-- over the members who rated the area in both waves.

with scoped as (
    select country as scope_country, area, baseline_level, endline_level from {{ ref('stg_capability') }}
    union all
    select 'NETWORK' as scope_country, area, baseline_level, endline_level from {{ ref('stg_capability') }}
)

select
    scope_country,
    area,
    cast(count(*) as integer)                                                        as members,
    cast(sum(baseline_level) as double precision) / count(*)                         as baseline_mean,
    cast(sum(endline_level) as double precision) / count(*)                          as endline_mean,
    cast(sum(endline_level - baseline_level) as double precision) / count(*)         as growth_mean
from scoped
group by scope_country, area
