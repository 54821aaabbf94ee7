-- Before an edited response replaces its landed version, keep that version.
-- Input: staging table raw_response_incoming (same columns as raw_response).
insert into raw_response_history (form_id, response_id, last_submitted_time, payload)
select r.form_id,
       r.response_id,
       r.last_submitted_time,
       r.payload
  from raw_response as r
  join raw_response_incoming as i
    on i.response_key = r.response_key
   and i.form_id = r.form_id
   and i.response_id = r.response_id
 where r.last_submitted_time < i.last_submitted_time
   and not exists (
       select 1
         from raw_response_history as h
        where h.form_id = r.form_id
          and h.response_id = r.response_id
          and h.last_submitted_time = r.last_submitted_time
   );
