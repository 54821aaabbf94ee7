-- Earlier months a later run changed: an edit moved a response of `country` out of
-- `report_month` into the run month `requested_in` (load/feedback_candidate_moved.sql), or
-- the run found one of its responses deleted at the source (bsin.ingest.reconcile). The
-- earlier month's harmonisation no longer holds: another response of the same member may
-- count there now. The country's harmonise task harmonises that month again and sets
-- `harmonised`; the validate task then validates it again and removes the row. Until then
-- the row says what is pending.
create table if not exists month_revalidation (
    country       text     not null,
    report_month  date     not null,
    requested_in  date     not null,
    harmonised    boolean  not null,
    primary key (country, report_month)
);
