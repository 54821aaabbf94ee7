{#- Every non-null value of the column is one of the project var `var_name` (a list of
    names, or of mappings with a `name`): the lists live once, in bsin.warehouse.dbt_project. -#}
{% test in_var_list(model, column_name, var_name) %}
{%- set allowed = [] -%}
{%- for item in var(var_name) -%}
    {%- do allowed.append(item.name if item is mapping else item) -%}
{%- endfor %}
select {{ column_name }} as unexpected_value
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in ({% for v in allowed %}'{{ v }}'{{ ', ' if not loop.last }}{% endfor %})
{% endtest %}
