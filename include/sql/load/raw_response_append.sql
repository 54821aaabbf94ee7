-- Land incoming responses by (form_id, response_id): a newer lastSubmittedTime lands (its
-- landed version was removed by load/raw_response_upsert.sql), the same version is left as
-- first landed (so a re-run changes nothing), and an older one never brings back a version
-- that a later edit replaced. The landed rows to compare with are in staging
-- raw_response_landed (queries/landed_for_incoming.sql), not the whole table, so landing
-- does not grow with the warehouse (docs/performance.md).
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
