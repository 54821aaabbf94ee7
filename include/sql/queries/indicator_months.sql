-- Months the indicator mart holds.
select distinct month
from indicators_monthly
