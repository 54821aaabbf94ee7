-- One digest of a country's landed self-assessment keys, in a stable order (the harmonise
-- fingerprint): computed where the rows are, instead of sending 2,500 keys a country to
-- Python every month. The text of a timestamp differs between backends, but a
-- fingerprint is only ever compared with one from the same warehouse.
select count(*) as responses,
       coalesce(md5(string_agg(form_id || chr(31) || response_id || chr(31)
                               || cast(last_submitted_time as varchar), chr(30)
                               order by form_id, response_id)), '') as digest
from raw_response
where country = :country
  and form_kind = 'self_assessment'
