-- Request that a country's earlier report month be harmonised and validated again
-- (month_revalidation): a response of it was deleted at the source, and another answer of
-- the same member, quarantined as its duplicate, may count there now. Params :country,
-- :earlier (the month), :month (the run month asking).
insert into month_revalidation (country, report_month, requested_in, harmonised)
select cast(:country as text), cast(:earlier as date), cast(:month as date), false
 where not exists (
       select 1
         from month_revalidation as v
        where v.country = :country
          and v.report_month = :earlier
 );
