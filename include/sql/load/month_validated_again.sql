-- The earlier month was validated again: the requests it answered are done. A request
-- not harmonised yet (its country's task failed) stays for that task's retry.
-- Param :earlier.
delete from month_revalidation
 where report_month = :earlier
   and harmonised;
