-- A member may edit a response after its month's window closed: the new version lands
-- with a later lastSubmittedTime, in the report month whose window holds it, and its
-- landed row moves there (load/raw_response_upsert.sql). The candidate the earlier
-- month's harmonisation made from the old version would then share (country,
-- response_id) with the new one: it goes, and the response is harmonised, validated and
-- loaded with the month it now belongs to (load/feedback_upsert.sql removes its feedback
-- row of the earlier month). Params :country, :month; staging response_moved holds the
-- moved response ids (queries/moved_responses.sql). Run before the month's candidates are
-- written.
--
-- The earlier month's harmonisation no longer holds (the moved response may have been the
-- member's later answer there, and their earlier one counts again): it is requested again
-- (month_revalidation) before its rows of the moved responses go. So are the report months
-- of the member's other answers about the month the old version named: where the form
-- asks the month, an edit may name another one, and an answer about the old month landed
-- in a third report month counts again (load/month_revalidation_gone.sql does the same
-- for deletions).
insert into month_revalidation (country, report_month, requested_in, harmonised)
select distinct cast(:country as text), e.report_month, cast(:month as date), false
  from (select c.report_month
          from feedback_candidate as c
         where c.country = :country
           and c.report_month <> :month
           and c.response_id in (select m.response_id from response_moved as m)
        union
        select o.report_month
          from feedback_candidate as c
          join feedback_candidate as o
            on o.country = c.country
           and o.feedback_month = c.feedback_month
           and o.member_id = c.member_id
           and o.response_id <> c.response_id
         where c.country = :country
           and c.report_month <> :month
           and o.report_month <> :month
           and c.response_id in (select m.response_id from response_moved as m)
        union
        select q.report_month
          from quarantine as q
         where q.country = :country
           and q.form_kind = 'monthly'
           and q.report_month <> :month
           and q.stage in ('harmonise', 'validate')
           and q.response_id in (select m.response_id from response_moved as m)) as e
 where not exists (
       select 1
         from month_revalidation as v
        where v.country = :country
          and v.report_month = e.report_month
 );

delete from feedback_candidate
 where country = :country
   and report_month <> :month
   and response_id in (select m.response_id from response_moved as m);

-- Its quarantine rows of those months' harmonisation and validation go too: a re-run of
-- the earlier month would no longer see the response (its window does not hold the new
-- version), so it would drop them as well. The latest version's own findings are
-- recorded by this month's run.
delete from quarantine
 where country = :country
   and form_kind = 'monthly'
   and report_month <> :month
   and stage in ('harmonise', 'validate')
   and response_id in (select m.response_id from response_moved as m);
