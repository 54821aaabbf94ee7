-- DuckDB only: the four tables that gain a month of rows every month lose their PRIMARY KEY
-- and UNIQUE constraints. DuckDB keeps each as an ART index and writes it whole at every
-- checkpoint that touches the table (duckdb/duckdb#24848); every Airflow task checkpoints
-- when it closes its connection, so at a million rows the month's load grew with the
-- warehouse (docs/performance.md). The code checks the same keys in each write's own
-- transaction instead (bsin.warehouse.keys, Warehouse.check_unique_keys). PostgreSQL keeps
-- the constraints.
--
-- DuckDB cannot drop a constraint in place, so each table is rebuilt as 017 did: copy every
-- row into the new shape, drop the old table, rename. Running this file again gives the
-- same tables.

drop table if exists raw_response__unindexed;

create table raw_response__unindexed (
    form_id              text       not null,
    response_id          text       not null,
    country              text       not null,
    form_kind            text       not null,
    report_month         date       not null,
    last_submitted_time  timestamp  not null,
    create_time          timestamp,
    payload              text       using compression zstd not null,
    response_key         bigint
);

insert into raw_response__unindexed (form_id, response_id, country, form_kind, report_month,
                                     last_submitted_time, create_time, payload, response_key)
select form_id, response_id, country, form_kind, report_month,
       last_submitted_time, create_time, payload, response_key
  from raw_response;

drop table raw_response;

alter table raw_response__unindexed rename to raw_response;

drop table if exists feedback_candidate__unindexed;

create table feedback_candidate__unindexed (
    country                 text       not null,
    response_id             text       not null,
    report_month            date,
    feedback_month          date,
    member_id               text,
    submitted_at            timestamp,
    attended_peer_session   boolean,
    attended_workshop       boolean,
    satisfaction            integer,
    relevance               integer,
    recommend               integer,
    new_skill               text,
    new_connections_abroad  integer,
    stakeholder_access      text,
    challenges              text,
    challenges_other        text,
    suggestion              text,
    form_revision_id        text
);

insert into feedback_candidate__unindexed
select country, response_id, report_month, feedback_month, member_id, submitted_at,
       attended_peer_session, attended_workshop, satisfaction, relevance, recommend,
       new_skill, new_connections_abroad, stakeholder_access, challenges, challenges_other,
       suggestion, form_revision_id
  from feedback_candidate;

drop table feedback_candidate;

alter table feedback_candidate__unindexed rename to feedback_candidate;

drop table if exists feedback__unindexed;

create table feedback__unindexed (
    country                 text       not null,
    feedback_month          date       not null,
    member_id               text       not null,
    response_id             text       not null,
    submitted_at            timestamp  not null,
    attended_peer_session   boolean,
    attended_workshop       boolean,
    satisfaction            integer,
    relevance               integer,
    recommend               integer,
    new_skill               text,
    new_connections_abroad  integer,
    stakeholder_access      text,
    challenges              text,
    challenges_other        text,
    suggestion              text,
    form_revision_id        text
);

insert into feedback__unindexed
select country, feedback_month, member_id, response_id, submitted_at,
       attended_peer_session, attended_workshop, satisfaction, relevance, recommend,
       new_skill, new_connections_abroad, stakeholder_access, challenges, challenges_other,
       suggestion, form_revision_id
  from feedback;

drop table feedback;

alter table feedback__unindexed rename to feedback;

drop table if exists feedback_selection__unindexed;

create table feedback_selection__unindexed (
    country         text  not null,
    feedback_month  date  not null,
    member_id       text  not null,
    field           text  not null,
    value           text  not null
);

insert into feedback_selection__unindexed
select country, feedback_month, member_id, field, value
  from feedback_selection;

drop table feedback_selection;

alter table feedback_selection__unindexed rename to feedback_selection;
