-- Reference data filled from configuration by bsin.warehouse.marts.load_reference_data:
-- member_roster from partners.yaml, programme_topic from topics.yaml.

create table if not exists member_roster (
    country         text     not null,
    month           date     not null,
    active_members  integer  not null,
    primary key (country, month)
);

create table if not exists programme_topic (
    month  date  not null,
    topic  text  not null,
    primary key (month, topic)
);
