-- DuckDB only: the raw payload columns are compressed with zstd instead of DuckDB's default
-- choice (FSST or dictionary), which it re-analyses at every checkpoint. Each checkpoint
-- rewrites the partly filled last row group of a table, up to 120,000 payloads of about
-- 1 KB here, and every Airflow task checkpoints when it closes its connection. On the
-- benchmark's payloads, landing 40 extracts' worth of responses on a 900,000-row table
-- committed in 3.6 s instead of 6.2 s, and the file took 231 MB instead of 619 MB
-- (docs/performance.md). PostgreSQL compresses long text itself (TOAST).
--
-- DuckDB cannot change a column's compression in place, so both tables are rebuilt as
-- 008_response_keys.sql rebuilt feedback: copy every row into the new shape, drop the old
-- table, rename. Running this file again gives the same tables.

drop table if exists raw_response__zstd;

create table raw_response__zstd (
    form_id              text       not null,
    response_id          text       not null,
    country              text       not null,
    form_kind            text       not null,
    report_month         date       not null,
    last_submitted_time  timestamp  not null,
    create_time          timestamp,
    payload              text       using compression zstd not null,
    response_key         bigint,
    primary key (form_id, response_id)
);

insert into raw_response__zstd (form_id, response_id, country, form_kind, report_month,
                                last_submitted_time, create_time, payload, response_key)
select form_id, response_id, country, form_kind, report_month,
       last_submitted_time, create_time, payload, response_key
  from raw_response;

drop table raw_response;

alter table raw_response__zstd rename to raw_response;

drop table if exists raw_response_history__zstd;

create table raw_response_history__zstd (
    form_id              text       not null,
    response_id          text       not null,
    last_submitted_time  timestamp  not null,
    payload              text       using compression zstd not null,
    primary key (form_id, response_id, last_submitted_time)
);

insert into raw_response_history__zstd (form_id, response_id, last_submitted_time, payload)
select form_id, response_id, last_submitted_time, payload
  from raw_response_history;

drop table raw_response_history;

alter table raw_response_history__zstd rename to raw_response_history;
