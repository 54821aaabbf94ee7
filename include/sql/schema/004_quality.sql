-- Data quality: rows that failed a rule (quarantine) and form changes noticed (form_drift).
-- response_id / field hold '' when a finding is not about one response / one field;
-- stage says which step quarantined the row ('harmonise' or 'validate').

create table if not exists quarantine (
    country       text  not null,
    form_kind     text  not null,
    report_month  date  not null,
    response_id   text  not null,
    rule          text  not null,
    field         text  not null,
    reason        text  not null,
    value         text,
    stage         text  not null,
    primary key (country, form_kind, report_month, response_id, rule, field)
);

create table if not exists form_drift (
    country       text  not null,
    form_kind     text  not null,
    report_month  date  not null,
    kind          text  not null,
    detail        text  not null,
    form_id       text,
    revision_id   text,
    severity      text  not null,
    primary key (country, form_kind, report_month, kind, detail)
);
