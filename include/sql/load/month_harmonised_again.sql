-- The country's harmonise task harmonised the earlier month again (month_revalidation):
-- the validate task may now validate it again. Params :country, :earlier.
update month_revalidation
   set harmonised = true
 where country = :country
   and report_month = :earlier;
