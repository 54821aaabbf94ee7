-- Mart tables. Their contents are rebuilt by include/sql/marts/*.sql (delete + insert,
-- so the primary keys and column types below hold on every backend).

create table if not exists indicators_monthly (
    scope_country              text              not null,
    month                      date              not null,
    active_members             integer,
    respondents                integer           not null,
    response_rate              double precision,
    peer_session_rate          double precision,
    workshop_rate              double precision,
    satisfaction_mean          double precision,
    satisfaction_low_share     double precision,
    relevance_mean             double precision,
    nps                        double precision,
    skill_gain_rate            double precision,
    connections_sum            integer,
    connections_mean           double precision,
    connections_cumulative     integer,
    access_public_sector_rate  double precision,
    access_corporate_rate      double precision,
    access_impact_investor_rate double precision,
    access_media_rate          double precision,
    access_any_rate            double precision,
    needs_coverage             double precision,
    primary key (scope_country, month)
);

create table if not exists indicator_value (
    scope_country  text              not null,
    month          date              not null,
    indicator      text              not null,
    value          double precision  not null,
    n              integer           not null,
    prev_value     double precision,
    delta          double precision,
    running_mean   double precision  not null,
    mean_3m        double precision,
    primary key (scope_country, month, indicator)
);

create table if not exists stakeholder_access_monthly (
    scope_country     text              not null,
    month             date              not null,
    stakeholder_type  text              not null,
    members_reached   integer           not null,
    respondents       integer           not null,
    rate              double precision,
    primary key (scope_country, month, stakeholder_type)
);

create table if not exists capability_growth (
    scope_country   text              not null,
    area            text              not null,
    members         integer           not null,
    baseline_mean   double precision,
    endline_mean    double precision,
    growth_mean     double precision,
    primary key (scope_country, area)
);

create table if not exists need_coverage_status (
    scope_country        text              not null,
    month                date              not null,
    need                 text              not null,
    members_naming       integer           not null,
    baseline_members     integer           not null,
    share                double precision  not null,
    covered_this_month   boolean           not null,
    first_covered_month  date,
    covered_so_far       boolean           not null,
    primary key (scope_country, month, need)
);

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
