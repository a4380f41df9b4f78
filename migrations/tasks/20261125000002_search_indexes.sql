-- Trigram indexes for `q` (ILIKE '%text%' on title or description), so a search by a user with
-- many tasks is a bitmap index scan instead of reading every row. pg_trgm is a trusted extension
-- (PostgreSQL 13+): a role with CREATE on the database may install it, as the compose set-up and
-- Neon allow. Where it cannot be installed, search still works, unindexed, and a warning says so.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA tasks;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_trgm is unavailable (%); task search will not be indexed', SQLERRM;
END
$$;

-- The extension may already live in another schema (installed there by someone else): find it.
DO $$
DECLARE
    trgm_schema text;
BEGIN
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX tasks_title_trgm ON tasks.tasks USING gin (title %I.gin_trgm_ops)', trgm_schema);
        EXECUTE format('CREATE INDEX tasks_description_trgm ON tasks.tasks USING gin (description %I.gin_trgm_ops)', trgm_schema);
    END IF;
END
$$;
