-- Responses deleted at the source (staging response_gone, bsin.ingest.reconcile) leave
-- their months: request those months again (month_revalidation), the report months that
-- landed them and the months their answers were about, other than the run month :month
-- (harmonised anyway). A member's other answer, quarantined as the duplicate of one that
-- is gone, counts there now. Run before the responses are removed.
insert into month_revalidation (country, report_month, requested_in, harmonised)
select distinct e.country, e.report_month, cast(:month as date), false
  from (select r.country, r.report_month
          from raw_response as r
          join response_gone as g
            on g.form_id = r.form_id
           and g.response_id = r.response_id
         where g.form_kind = 'monthly'
        union
        select c.country, c.feedback_month
          from feedback_candidate as c
          join response_gone as g
            on g.country = c.country
           and g.response_id = c.response_id
         where g.form_kind = 'monthly'
           and c.feedback_month is not null) as e
 where e.report_month <> :month
   and not exists (
       select 1
         from month_revalidation as v
        where v.country = e.country
          and v.report_month = e.report_month
 );
