-- Upsert landed responses by (form_id, response_id): a newer lastSubmittedTime replaces the
-- landed version; the same version is left as first landed (so a re-run changes nothing) and
-- an older one never brings back a version that a later edit replaced.
--
-- The deletes are written as DELETE ... USING (a join) rather than WHERE EXISTS: DuckDB
-- runs a correlated EXISTS as a scan of the whole table, which grew the landing with the
-- warehouse (docs/performance.md); both backends run USING as a join on the key.
delete from raw_response
 using raw_response_incoming as i
 where i.form_id = raw_response.form_id
   and i.response_id = raw_response.response_id
   and i.last_submitted_time > raw_response.last_submitted_time;

insert into raw_response (form_id, response_id, country, form_kind, report_month,
                          last_submitted_time, create_time, payload)
select i.form_id,
       i.response_id,
       i.country,
       i.form_kind,
       i.report_month,
       i.last_submitted_time,
       i.create_time,
       i.payload
  from raw_response_incoming as i
 where not exists (
       select 1
         from raw_response as r
        where r.form_id = i.form_id
          and r.response_id = i.response_id
 );
