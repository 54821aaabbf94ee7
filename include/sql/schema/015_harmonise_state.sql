-- What the last harmonisation of a country's self-assessment form was computed from
-- (bsin.pipeline.harmonise_country): a SHA-256 over the code, mapping, form, key and the
-- landed responses' keys. The form is read for all time every month; while the
-- fingerprint is unchanged its harmonised rows and quarantine stand and it is not redone.
create table if not exists harmonise_state (
    country       text  not null,
    form_kind     text  not null,
    fingerprint   text  not null,
    report_month  date  not null,
    primary key (country, form_kind)
);
