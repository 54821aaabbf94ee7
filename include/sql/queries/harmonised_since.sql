-- The run month whose harmonisation of exactly these inputs stands.
select report_month
from harmonise_state
where country = :country
  and form_kind = :kind
  and fingerprint = :fingerprint
