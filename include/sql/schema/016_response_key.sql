-- An integer key per landed response: 63 bits of a hash of its response id
-- (bsin.ingest.reconcile.response_key). Every extract compares its responses with what is
-- landed; on the text ids DuckDB read the id columns of the whole table each time, so the
-- landing grew with the warehouse (docs/performance.md). The landed rows that share a key
-- with an incoming one are found on this column alone, and the comparisons run on those.
-- Rows landed before this migration get their key at the next extract.
alter table raw_response add column if not exists response_key bigint;
