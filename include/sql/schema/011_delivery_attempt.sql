-- Exactly-once delivery (docs/security.md, "Delivery"): delivery_log holds one row per
-- partner-month with the outcome and the claim a process must take before it sends;
-- delivery_attempt keeps every SMTP transaction, so a resend or retry never erases history.

-- claim_token: who holds the partner-month (a random token per deliver call); taken by an
-- insert on the primary key or a conditional update, which only one process can win.
alter table delivery_log add column if not exists claim_token text;
alter table delivery_log add column if not exists claimed_at timestamp;
-- Recipients that refused the report (address: SMTP reply); the next run sends to them only.
alter table delivery_log add column if not exists refused text;

create table if not exists delivery_attempt (
    country       text       not null,
    report_month  date       not null,
    attempt_no    integer    not null,   -- 1, 2, ... per partner-month, across runs
    message_id    text       not null,   -- stable per partner-month; a resend gets a new one
    claim_token   text       not null,
    started_at    timestamp  not null,
    finished_at   timestamp,
    -- started (still running or the process died), accepted, partly_refused, refused,
    -- failed (nothing stored), unknown (connection lost after DATA: the server may have
    -- stored the message)
    outcome       text       not null,
    recipients    text       not null,   -- envelope recipients of this attempt
    accepted      text,
    refused       text,
    smtp_reply    text,
    primary key (country, report_month, attempt_no)
);
