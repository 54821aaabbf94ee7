-- The set selections of the staged, validated feedback (feedback_incoming), for
-- load/feedback_upsert.sql: one row per chosen value of each set field (';'-joined text,
-- bsin.transform.harmonise.FEEDBACK_SET_FIELDS), a value chosen twice in one answer once.
-- The rule of bsin.transform.harmonise.feedback_selections, derived where the rows are
-- (tests/integration/test_feedback_load.py holds the two equal on both backends).
-- "<> ''": PostgreSQL splits '' into no value, DuckDB into one empty one.
select distinct s.country, s.feedback_month, s.member_id, s.field, s.value
  from (
        select i.country, i.feedback_month, i.member_id, 'stakeholder_access' as field,
               unnest(string_to_array(i.stakeholder_access, ';')) as value
          from feedback_incoming as i
         where i.stakeholder_access <> ''
        union all
        select i.country, i.feedback_month, i.member_id, 'challenges' as field,
               unnest(string_to_array(i.challenges, ';')) as value
          from feedback_incoming as i
         where i.challenges <> ''
       ) as s
