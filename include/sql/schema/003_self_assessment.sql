-- Canonical self-assessment: wave 'baseline' (on joining) or 'endline' (programme end).

create table if not exists self_assessment (
    country                           text       not null,
    wave                              text       not null,
    member_id                         text       not null,
    response_id                       text       not null,
    submitted_at                      timestamp  not null,
    needs                             text,
    capability_funding_access         integer,
    capability_visibility             integer,
    capability_impact_measurement     integer,
    capability_scaling                integer,
    capability_public_procurement     integer,
    capability_corporate_partnerships integer,
    capability_investor_readiness     integer,
    capability_team_leadership        integer,
    interests                         text,
    primary key (country, wave, member_id)
);

create table if not exists self_assessment_need (
    country    text  not null,
    wave       text  not null,
    member_id  text  not null,
    need       text  not null,
    primary key (country, wave, member_id, need)
);
