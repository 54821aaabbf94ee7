-- Right to erasure and responses deleted at the source (docs/security.md).
--
-- erasure_log: one row per `make forget`. The member is recorded only as a SHA-256 of their
-- member id (never the address, never the id itself): enough to keep a forgotten member's
-- responses from being landed again by a later re-run, and to answer "was this member
-- erased, and when", given their address and the pseudonymisation key.
create table if not exists erasure_log (
    erased_at       timestamp  not null,
    member_hash     text       not null,
    rows_removed    text       not null,
    total_removed   integer    not null,
    primary key (member_hash, erased_at)
);

-- response_removed: a landed response that its form no longer lists (deleted in Google
-- Forms: a test or duplicate answer, a member's request at the source) and that therefore
-- left every table. reason says how it was noticed.
create table if not exists response_removed (
    form_id       text       not null,
    response_id   text       not null,
    country       text       not null,
    form_kind     text       not null,
    report_month  date       not null,
    removed_at    timestamp  not null,
    reason        text       not null,
    primary key (form_id, response_id, removed_at)
);
