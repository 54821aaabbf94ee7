-- A country's month that was held back alone (issue 9: countries are independent): the
-- extract found a structural form change, or validation found no responses, too many
-- quarantined, an impossible response rate. One row per (country, month, stage, status);
-- each task replaces its own stage's rows. send_report reads it to tell the partner.

create table if not exists country_month_status (
    country       text  not null,
    report_month  date  not null,
    stage         text  not null,
    status        text  not null,
    detail        text  not null,
    primary key (country, report_month, stage, status)
);
