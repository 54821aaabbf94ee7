-- Upsert landed responses by (form_id, response_id): a newer lastSubmittedTime replaces the
-- landed version; the same version is left as first landed (so a re-run changes nothing) and
-- an older one never brings back a version that a later edit replaced.
--
-- Run when some incoming response is an edit (else load/raw_response_append.sql, the same
-- insert without the delete). The landed rows to compare with are in staging
-- raw_response_landed (queries/landed_for_incoming.sql): the insert's check reads those,
-- not the whole table, so landing does not grow with the warehouse (docs/performance.md).
--
-- The delete is written as DELETE ... USING (a join) rather than WHERE EXISTS: DuckDB runs a
-- correlated EXISTS as a scan of the whole table; both backends run USING as a join.
delete from raw_response
 using raw_response_incoming as i
 where i.response_key = raw_response.response_key
   and i.form_id = raw_response.form_id
   and i.response_id = raw_response.response_id
   and i.last_submitted_time > raw_response.last_submitted_time;

-- What the delete left of a landed response is as new as the incoming one, or newer.
insert into raw_response (form_id, response_id, country, form_kind, report_month,
                          last_submitted_time, create_time, payload, response_key)
select i.form_id,
       i.response_id,
       i.country,
       i.form_kind,
       i.report_month,
       i.last_submitted_time,
       i.create_time,
       i.payload,
       i.response_key
  from raw_response_incoming as i
 where not exists (
       select 1
         from raw_response_landed as r
        where r.form_id = i.form_id
          and r.response_id = i.response_id
          and r.last_submitted_time >= i.last_submitted_time
 );
