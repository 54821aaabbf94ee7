-- Fingerprint of the pseudonymisation key the warehouse's member ids were made with:
-- HMAC-SHA256 of a fixed label under the key (bsin.ingest.pseudonymise.key_fingerprint), never
-- the key. One row; a run under another key stops (bsin.ingest.pseudonymise.check_key_fingerprint).

create table if not exists pseudonym_key (
    fingerprint    text       not null primary key,
    first_used_at  timestamp  not null
);
