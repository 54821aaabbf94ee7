-- Earlier months of a country that a later run asked to harmonise again
-- (month_revalidation, load/feedback_candidate_moved.sql), other than the run month.
select report_month
  from month_revalidation
 where country = :country
   and report_month <> :month
 order by report_month
