-- The self-assessments to validate this month: those of countries whose self-assessment
-- form was harmonised for this month (harmonise_state). A form that was not harmonised
-- again was validated when it was, and its rejected rows are already gone
-- (load/self_assessment_reject.sql): validating every self-assessment of every country
-- each month repeated that work (docs/performance.md).
select s.*
from self_assessment as s
where not exists (
      select 1
        from harmonise_state as h
       where h.country = s.country
         and h.form_kind = 'self_assessment'
         and h.report_month <> :month
)
order by s.country,
         s.wave,
         s.member_id
