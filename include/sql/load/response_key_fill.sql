-- Give landed responses their integer key (staging response_key_fill: form_id,
-- response_id, response_key).
update raw_response
   set response_key = f.response_key
  from response_key_fill as f
 where f.form_id = raw_response.form_id
   and f.response_id = raw_response.response_id;
