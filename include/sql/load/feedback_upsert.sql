-- Load the month's validated feedback (staging table feedback_incoming, selections in
-- feedback_selection_incoming) into feedback / feedback_selection. Param :month.
--
-- 1. Every row that came from this month's candidates before goes: a response that is now
--    quarantined, or that an edit moved to another feedback month, must not linger.
--    Response ids are unique per form only: match them within the country (its form).
--    (DELETE ... USING, a join: DuckDB runs a correlated EXISTS in a delete as a scan of the
--    whole table, a cost that grows with the warehouse; see raw_response_upsert.sql.)
delete from feedback
 using feedback_candidate as c
 where c.report_month = :month
   and c.country = feedback.country
   and c.response_id = feedback.response_id;

-- 2. Another response of the same member for the same month, loaded by another run, loses
--    to the later submission. The loser is quarantined, never silently dropped, and once:
--    whichever run found it first keeps the row (a re-run of an earlier month finds it again).
insert into quarantine (country, form_kind, report_month, response_id, rule, field, reason,
                        value, stage)
select f.country,
       'monthly',
       :month,
       f.response_id,
       'duplicate_submission',
       'member',
       'the member submitted again for the same month (response ' || i.response_id
           || '); the later submission counts',
       null,
       'supersede'
  from feedback as f
  join feedback_incoming as i
    on i.country = f.country
   and i.feedback_month = f.feedback_month
   and i.member_id = f.member_id
 where f.submitted_at <= i.submitted_at
   and not exists (
       select 1
         from quarantine as q
        where q.country = f.country
          and q.form_kind = 'monthly'
          and q.response_id = f.response_id
          and q.rule = 'duplicate_submission'
          and q.field = 'member'
   );

delete from feedback
 using feedback_incoming as i
 where i.country = feedback.country
   and i.feedback_month = feedback.feedback_month
   and i.member_id = feedback.member_id
   and i.submitted_at >= feedback.submitted_at;

-- 3. An incoming response that an already loaded later one beats is quarantined instead.
insert into quarantine (country, form_kind, report_month, response_id, rule, field, reason,
                        value, stage)
select i.country,
       'monthly',
       :month,
       i.response_id,
       'duplicate_submission',
       'member',
       'the member submitted again for the same month (response ' || f.response_id
           || '); the later submission counts',
       null,
       'supersede'
  from feedback_incoming as i
  join feedback as f
    on f.country = i.country
   and f.feedback_month = i.feedback_month
   and f.member_id = i.member_id
 where not exists (
       select 1
         from quarantine as q
        where q.country = i.country
          and q.form_kind = 'monthly'
          and q.response_id = i.response_id
          and q.rule = 'duplicate_submission'
          and q.field = 'member'
 );

insert into feedback (country, feedback_month, member_id, response_id, submitted_at,
                      attended_peer_session, attended_workshop, satisfaction, relevance,
                      recommend, new_skill, new_connections_abroad, stakeholder_access,
                      challenges, challenges_other, suggestion, form_revision_id)
select i.country,
       i.feedback_month,
       i.member_id,
       i.response_id,
       i.submitted_at,
       i.attended_peer_session,
       i.attended_workshop,
       i.satisfaction,
       i.relevance,
       i.recommend,
       i.new_skill,
       i.new_connections_abroad,
       i.stakeholder_access,
       i.challenges,
       i.challenges_other,
       i.suggestion,
       i.form_revision_id
  from feedback_incoming as i
 where not exists (
       select 1
         from feedback as f
        where f.country = i.country
          and f.feedback_month = i.feedback_month
          and f.member_id = i.member_id
 );

-- An incoming response that now holds its member's row is no longer superseded: the
-- later answer it had lost to left (deleted at the source, or moved by an edit).
delete from quarantine
 using feedback_incoming as i
 where quarantine.stage = 'supersede'
   and quarantine.form_kind = 'monthly'
   and quarantine.country = i.country
   and quarantine.response_id = i.response_id
   and exists (
       select 1
         from feedback as f
        where f.country = i.country
          and f.response_id = i.response_id
 );

-- 4. Selections follow their feedback rows: those of a row gone go, and those of a row
--    an incoming response now holds are replaced. An incoming response that lost to a
--    later one loaded before (step 3) leaves that row's selections alone: a re-run of an
--    earlier month removed them when the later answer came from a later run.
delete from feedback_selection
 where not exists (
       select 1
         from feedback as f
        where f.country = feedback_selection.country
          and f.feedback_month = feedback_selection.feedback_month
          and f.member_id = feedback_selection.member_id
 )
    or exists (
       select 1
         from feedback_incoming as i
         join feedback as f
           on f.country = i.country
          and f.feedback_month = i.feedback_month
          and f.member_id = i.member_id
          and f.response_id = i.response_id
        where i.country = feedback_selection.country
          and i.feedback_month = feedback_selection.feedback_month
          and i.member_id = feedback_selection.member_id
 );

insert into feedback_selection (country, feedback_month, member_id, field, value)
select s.country,
       s.feedback_month,
       s.member_id,
       s.field,
       s.value
  from feedback_selection_incoming as s
  join feedback as f
    on f.country = s.country
   and f.feedback_month = s.feedback_month
   and f.member_id = s.member_id
  join feedback_incoming as i
    on i.country = f.country
   and i.response_id = f.response_id;
