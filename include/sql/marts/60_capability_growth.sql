-- grain: one row per (scope_country, area) for every capability area rated by at least
-- one member in both waves: end-line minus baseline self-assessed level (1-5 scale),
-- over the members who rated the area in both waves.

delete from capability_growth;

insert into capability_growth (
    scope_country, area, members, baseline_mean, endline_mean, growth_mean
)
with scoped as (
    select country as scope_country, area, baseline_level, endline_level from stg_capability
    union all
    select 'NETWORK' as scope_country, area, baseline_level, endline_level from stg_capability
)

select
    scope_country,
    area,
    cast(count(*) as integer)                                                        as members,
    cast(sum(baseline_level) as double precision) / count(*)                         as baseline_mean,
    cast(sum(endline_level) as double precision) / count(*)                          as endline_mean,
    cast(sum(endline_level - baseline_level) as double precision) / count(*)         as growth_mean
from scoped
group by scope_country, area;
