-- grain: one row per (scope_country, month) that has at least one feedback row: the
-- months every monthly mart reports on ("only months with data").

drop table if exists stg_scope_month;

create table stg_scope_month as
select distinct scope_country, month, month_index
from stg_feedback;
