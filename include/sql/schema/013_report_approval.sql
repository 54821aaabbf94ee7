-- One row per report month that waited for approval (programme.yaml approval: required):
-- the decision in the Airflow UI, why, by whom and when (bsin.delivery.approval).

create table if not exists report_approval (
    report_month  date       not null primary key,
    decision      text       not null,
    reason        text,
    decided_by    text,
    decided_at    timestamp  not null
);
