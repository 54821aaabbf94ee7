-- Remove self-assessments that validation quarantined (staging table
-- self_assessment_rejected: country, response_id) together with their needs.
delete from self_assessment_need
 where exists (
       select 1
         from self_assessment as s
         join self_assessment_rejected as r
           on r.country = s.country
          and r.response_id = s.response_id
        where s.country = self_assessment_need.country
          and s.wave = self_assessment_need.wave
          and s.member_id = self_assessment_need.member_id
 );

delete from self_assessment
 where exists (
       select 1
         from self_assessment_rejected as r
        where r.country = self_assessment.country
          and r.response_id = self_assessment.response_id
 );
