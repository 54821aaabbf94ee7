-- Response ids are unique per form, not globally (Google's responseId is unique within its
-- form only). feedback was "unique (response_id)", so one country's response could displace
-- another country's row with the same id; it becomes "unique (country, response_id)" (a
-- country has one monthly form). The other landed tables were already keyed by form or by
-- country and form kind.
--
-- Neither backend can swap a unique constraint in place on both engines, so the table is
-- rebuilt: copy every row into the new shape, drop the old table, rename. The copy keeps all
-- rows (the old constraint was stricter than the new one). Running this file again gives the
-- same table, so an interrupted upgrade can simply be retried.

drop table if exists feedback__rekey;

create table feedback__rekey (
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
    unique (country, response_id)
);

insert into feedback__rekey (country, feedback_month, member_id, response_id, submitted_at,
                             attended_peer_session, attended_workshop, satisfaction, relevance,
                             recommend, new_skill, new_connections_abroad, stakeholder_access,
                             challenges, challenges_other, suggestion, form_revision_id)
select country, feedback_month, member_id, response_id, submitted_at,
       attended_peer_session, attended_workshop, satisfaction, relevance,
       recommend, new_skill, new_connections_abroad, stakeholder_access,
       challenges, challenges_other, suggestion, form_revision_id
  from feedback;

drop table feedback;

alter table feedback__rekey rename to feedback;
