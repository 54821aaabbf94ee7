-- grain: one row per (scope_country, month) that has at least one feedback row: the
-- months every monthly mart reports on ("only months with data").

select distinct scope_country, month, month_index
from {{ ref('stg_feedback') }}
