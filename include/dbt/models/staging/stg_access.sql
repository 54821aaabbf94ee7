-- grain: one row per (scope_country, month, country, member_id, stakeholder_type): the
-- stakeholder types a member selected in the month's feedback ('none' included, so a
-- member with a row here answered the question), under the country and under 'NETWORK'.

with selected as (
    select distinct
        s.country,
        s.feedback_month  as month,
        s.member_id,
        s.value           as stakeholder_type
    from {{ source('warehouse', 'feedback_selection') }} as s
    inner join {{ source('warehouse', 'feedback') }} as f
        on  f.country = s.country
        and f.feedback_month = s.feedback_month
        and f.member_id = s.member_id
    where s.field = 'stakeholder_access'
      -- a country removed from partners.yaml keeps its rows but leaves every new report
      and s.country in (select country from {{ source('warehouse', 'member_roster') }})
)

select country as scope_country, selected.* from selected
union all
select 'NETWORK' as scope_country, selected.* from selected
