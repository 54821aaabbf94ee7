-- Canonical monthly feedback (docs/architecture.md). Sets are stored twice: a sorted
-- ';'-joined text column for reading and one row per value in feedback_selection.

create table if not exists feedback_candidate (
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
    form_revision_id        text,
    primary key (country, response_id)
);

create table if not exists feedback (
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
    form_revision_id        text,
    primary key (country, feedback_month, member_id),
    unique (response_id)
);

create table if not exists feedback_selection (
    country         text  not null,
    feedback_month  date  not null,
    member_id       text  not null,
    field           text  not null,
    value           text  not null,
    primary key (country, feedback_month, member_id, field, value)
);
