-- adaptation_signal is written by bsin.reporting.signals (Python). It was created by 006_marts.sql,
-- which is gone since dbt (include/dbt) owns the mart tables; on a warehouse that applied
-- 006 this file changes nothing.

create table if not exists adaptation_signal (
    country         text              not null,
    month           date              not null,
    rule_id         text              not null,
    subject         text              not null,
    indicator       text              not null,
    measure         text              not null,
    value           double precision,
    observed        double precision  not null,
    comparison      text              not null,
    threshold       double precision  not null,
    recommendation  text              not null,
    primary key (country, month, rule_id, subject)
);
