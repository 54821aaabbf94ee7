-- The responses of a country's monthly form that an edit moved into this report month
-- (load/feedback_candidate_moved.sql): landed now with report month :month, after an
-- earlier version. Only an edit can move a response, and landing an edit keeps the
-- earlier version in raw_response_history (load/raw_response_history.sql), so they are
-- found there, usually none, not among the month's thousands of landed responses.
select distinct r.response_id
  from raw_response_history as h
  join raw_response as r
    on r.form_id = h.form_id
   and r.response_id = h.response_id
 where r.country = :country
   and r.form_kind = 'monthly'
   and r.report_month = :month
