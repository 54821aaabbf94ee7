-- Remove the landed versions that incoming edits supersede (a newer lastSubmittedTime), after
-- load/raw_response_history.sql kept them; load/raw_response_append.sql then lands the new
-- versions. Run only when some incoming response is an edit.
--
-- The delete is written as DELETE ... USING (a join) rather than WHERE EXISTS: DuckDB runs a
-- correlated EXISTS as a scan of the whole table; both backends run USING as a join.
delete from raw_response
 using raw_response_incoming as i
 where i.response_key = raw_response.response_key
   and i.form_id = raw_response.form_id
   and i.response_id = raw_response.response_id
   and i.last_submitted_time > raw_response.last_submitted_time;
