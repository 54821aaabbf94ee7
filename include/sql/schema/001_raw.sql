-- Raw landing tables: the Forms API JSON as received, respondent emails already replaced
-- by "member_id". One row per (country, form kind, report month) form snapshot and one
-- row per response (latest version); superseded versions move to raw_response_history.

create table if not exists raw_form (
    country          text      not null,
    form_kind        text      not null,
    report_month     date      not null,
    form_id          text      not null,
    revision_id      text,
    payload          text      not null,
    primary key (country, form_kind, report_month)
);

create table if not exists raw_response (
    form_id              text       not null,
    response_id          text       not null,
    country              text       not null,
    form_kind            text       not null,
    report_month         date       not null,
    last_submitted_time  timestamp  not null,
    create_time          timestamp,
    payload              text       not null,
    primary key (form_id, response_id)
);

create table if not exists raw_response_history (
    form_id              text       not null,
    response_id          text       not null,
    last_submitted_time  timestamp  not null,
    payload              text       not null,
    primary key (form_id, response_id, last_submitted_time)
);
