-- Earlier months harmonised again for some country since their validation
-- (month_revalidation), other than the run month.
select distinct report_month
  from month_revalidation
 where harmonised
   and report_month <> :month
 order by report_month
