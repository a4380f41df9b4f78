-- Search matches one lowered text, `title || U+001F || description`, with LIKE, in place of
-- `title ILIKE p OR description ILIKE p`. The two are the same test: ILIKE lowers both sides the
-- way lower() does, and `q` can never hold U+001F (control characters are refused), so a match
-- cannot straddle the two fields. One index condition instead of a BitmapOr of two, and one
-- lowering per row instead of up to two: in the database (pgbench, 4 clients, 1.1 M tasks) a
-- search by a user with 1,000 tasks went 0.40 → 0.23 ms, by one with 100,000 3.0 → 2.6 ms
-- (BENCHMARKS.md). An expression index, so the table is not rewritten. The fallbacks are those of
-- 20261207000002: without btree_gin the index is table-wide, without pg_trgm there is none and
-- search still works.
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
    IF trgm_schema IS NULL THEN
        RETURN;
    END IF;
    DROP INDEX IF EXISTS tasks.tasks_user_search;
    DROP INDEX IF EXISTS tasks.tasks_title_trgm;
    DROP INDEX IF EXISTS tasks.tasks_description_trgm;
    -- The expression must stay exactly what db::tasks::SEARCH_TEXT writes, or no query uses it.
    IF btree_gin_schema IS NOT NULL THEN
        EXECUTE format(
            'CREATE INDEX tasks_user_search ON tasks.tasks USING gin '
            '(user_id %I.uuid_ops, '
            '(lower(title || E''\x1f'' || coalesce(description, ''''))) %I.gin_trgm_ops) '
            'WITH (gin_pending_list_limit = 64)',
            btree_gin_schema, trgm_schema);
    ELSE
        EXECUTE format(
            'CREATE INDEX tasks_search ON tasks.tasks USING gin '
            '((lower(title || E''\x1f'' || coalesce(description, ''''))) %I.gin_trgm_ops) '
            'WITH (gin_pending_list_limit = 64)',
            trgm_schema);
    END IF;
END
$$;
