-- One row per partner-month report sent (or attempted): guards exactly-once delivery.

create table if not exists delivery_log (
    country       text       not null,
    report_month  date       not null,
    message_id    text,
    recipients    text,
    sent_at       timestamp,
    status        text       not null,
    primary key (country, report_month)
);
