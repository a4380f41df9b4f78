-- One search index led by the owner, in place of the two table-wide trigram indexes. Their posting
-- lists hold every user's rows with a trigram, so a search fetched (and then filtered out) every
-- other user's matches: at 10 M tasks a user with 1,000 tasks and ten matches read 1,010 rows
-- (1.1 ms) because another user had a thousand. With btree_gin the owner is a key of the same GIN
-- index, the scan intersects it with the trigrams, and a search reads only its own user's matches
-- (0.12 ms; BENCHMARKS.md). btree_gin is a trusted extension like pg_trgm; where either is
-- missing the old indexes stay and search still works.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA tasks;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'btree_gin is unavailable (%); task search keeps its table-wide indexes', SQLERRM;
END
$$;

DO $$
DECLARE
    trgm_schema text;
    btree_gin_schema text;
BEGIN
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    SELECT n.nspname INTO btree_gin_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'btree_gin';
    IF trgm_schema IS NOT NULL AND btree_gin_schema IS NOT NULL THEN
        -- A small pending list, as for the indexes it replaces (20261207000001).
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS tasks_user_search ON tasks.tasks USING gin '
            '(user_id %I.uuid_ops, title %I.gin_trgm_ops, description %I.gin_trgm_ops) '
            'WITH (gin_pending_list_limit = 64)',
            btree_gin_schema, trgm_schema, trgm_schema);
        DROP INDEX IF EXISTS tasks.tasks_title_trgm;
        DROP INDEX IF EXISTS tasks.tasks_description_trgm;
    END IF;
END
$$;
