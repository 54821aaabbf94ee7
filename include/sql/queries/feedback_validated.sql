-- The month's feedback that validation let through, staged as feedback_incoming for
-- load/feedback_upsert.sql: the candidates of the countries that were not held back
-- (staging validated_country) without the responses validation quarantined (staging
-- validation_rejected). Built where the candidates are: the month's rows do not travel
-- back from Python (docs/performance.md). The columns are transform.schema.FEEDBACK_COLUMNS.
select c.country,
       c.feedback_month,
       c.member_id,
       c.response_id,
       c.submitted_at,
       c.attended_peer_session,
       c.attended_workshop,
       c.satisfaction,
       c.relevance,
       c.recommend,
       c.new_skill,
       c.new_connections_abroad,
       c.stakeholder_access,
       c.challenges,
       c.challenges_other,
       c.suggestion,
       c.form_revision_id
  from feedback_candidate as c
  join validated_country as v
    on v.country = c.country
 where c.report_month = :month
   and not exists (
       select 1
         from validation_rejected as r
        where r.country = c.country
          and r.response_id = c.response_id
 )
