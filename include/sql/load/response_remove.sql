-- Remove responses from every table that holds them or anything derived from them.
-- Input: staging table response_gone (form_id, response_id, country, form_kind). Response
-- ids are unique per form only, so every match carries the form (raw tables) or the country
-- and form kind (harmonised tables; a country has one form of each kind). One statement per
-- table, children first: bsin.ingest.reconcile.remove_responses counts the rows of each.
delete from feedback_selection
 where exists (
       select 1
         from feedback as f
         join response_gone as g
           on g.country = f.country
          and g.form_kind = 'monthly'
          and g.response_id = f.response_id
        where f.country = feedback_selection.country
          and f.feedback_month = feedback_selection.feedback_month
          and f.member_id = feedback_selection.member_id
 );

delete from feedback
 where exists (
       select 1
         from response_gone as g
        where g.country = feedback.country
          and g.form_kind = 'monthly'
          and g.response_id = feedback.response_id
 );

delete from feedback_candidate
 where exists (
       select 1
         from response_gone as g
        where g.country = feedback_candidate.country
          and g.form_kind = 'monthly'
          and g.response_id = feedback_candidate.response_id
 );

delete from self_assessment_need
 where exists (
       select 1
         from self_assessment as s
         join response_gone as g
           on g.country = s.country
          and g.form_kind = 'self_assessment'
          and g.response_id = s.response_id
        where s.country = self_assessment_need.country
          and s.wave = self_assessment_need.wave
          and s.member_id = self_assessment_need.member_id
 );

delete from self_assessment
 where exists (
       select 1
         from response_gone as g
        where g.country = self_assessment.country
          and g.form_kind = 'self_assessment'
          and g.response_id = self_assessment.response_id
 );

delete from quarantine
 where exists (
       select 1
         from response_gone as g
        where g.country = quarantine.country
          and g.form_kind = quarantine.form_kind
          and g.response_id = quarantine.response_id
 );

delete from raw_response_history
 where exists (
       select 1
         from response_gone as g
        where g.form_id = raw_response_history.form_id
          and g.response_id = raw_response_history.response_id
 );

delete from raw_response
 where exists (
       select 1
         from response_gone as g
        where g.form_id = raw_response.form_id
          and g.response_id = raw_response.response_id
 );
