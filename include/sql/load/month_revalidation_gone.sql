-- Responses deleted at the source (staging response_gone, bsin.ingest.reconcile) leave
-- their months: request again (month_revalidation) the report month each was landed in,
-- and the report months of the same member's other answers about the same month (a late
-- answer may have been landed in a later month than the one it is about), other than the
-- run month :month (harmonised anyway). A member's other answer, quarantined as the
-- duplicate of one that is gone, counts there now. Only months the country was harmonised
-- for are named: each has its landed form. Run before the responses are removed.
insert into month_revalidation (country, report_month, requested_in, harmonised)
select distinct e.country, e.report_month, cast(:month as date), false
  from (select r.country, r.report_month
          from raw_response as r
          join response_gone as g
            on g.form_id = r.form_id
           and g.response_id = r.response_id
         where g.form_kind = 'monthly'
        union
        select o.country, o.report_month
          from feedback_candidate as c
          join response_gone as g
            on g.country = c.country
           and g.response_id = c.response_id
          join feedback_candidate as o
            on o.country = c.country
           and o.feedback_month = c.feedback_month
           and o.member_id = c.member_id
           and o.response_id <> c.response_id
         where g.form_kind = 'monthly') as e
 where e.report_month <> :month
   and not exists (
       select 1
         from month_revalidation as v
        where v.country = e.country
          and v.report_month = e.report_month
 );
