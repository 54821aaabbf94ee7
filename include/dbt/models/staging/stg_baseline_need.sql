-- grain: one row per (scope_country, country, member_id, need) named in a member's
-- baseline self-assessment, under the member's country and under 'NETWORK'.

with needs as (
    select distinct n.country, n.member_id, n.need
    from {{ source('warehouse', 'self_assessment_need') }} as n
    inner join {{ source('warehouse', 'self_assessment') }} as s
        on  s.country = n.country
        and s.wave = n.wave
        and s.member_id = n.member_id
    where n.wave = 'baseline'
)

select country as scope_country, needs.* from needs
union all
select 'NETWORK' as scope_country, needs.* from needs
