-- Search in pages that cost the page, not the user's matches. Each task gets `seq`, its owner's
-- running number (0, 1, 2, ... in creation order, never reused), and the search index is keyed by
-- the owner's bucket of 4,096 consecutive tasks, `user_id::text || ':' || (seq >> 12)::text`,
-- instead of the owner alone. A search walks the user's buckets newest first and stops once a
-- page is full (db::tasks::build_search), so a user with 100,000 tasks, a thousand of them
-- matching, reads ~80 rows instead of every match. One key per (user, bucket), not two keys
-- (user and bucket number), since bucket 0 would be shared by every user's first tasks and each
-- search would intersect with it; text, not a hash, so that equality on the key is equality on
-- the owner.
--
-- The walk is right only if bucket order is creation order: a newer bucket holds only tasks created
-- after every task of an older one. task_counts keeps the next `seq` and the newest `created_at`
-- of each user; the insert (db::tasks::insert) takes both under that row's lock and makes
-- `created_at` strictly increase per user (clock_timestamp() taken under the lock, at least one
-- microsecond after the previous task), so `seq` order and `(created_at, id)` order agree, even
-- when the clock steps back. Existing tasks are numbered here in `(created_at, id)` order, which is
-- the order the API lists them in.
-- Every step can run again (the renumbering test in tests/api/migrations.rs replays the
-- migrations after the renamed ones); a second numbering is the same numbering, gaps closed.
ALTER TABLE tasks.task_counts
    ADD COLUMN IF NOT EXISTS next_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS last_created_at timestamptz NOT NULL DEFAULT '-infinity';

ALTER TABLE tasks.tasks ADD COLUMN IF NOT EXISTS seq bigint;

UPDATE tasks.tasks AS t
SET seq = o.seq
FROM (
    SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at, id) - 1 AS seq
    FROM tasks.tasks
) AS o
WHERE t.id = o.id;

ALTER TABLE tasks.tasks ALTER COLUMN seq SET NOT NULL;

INSERT INTO tasks.task_counts (user_id, tasks, next_seq, last_created_at)
SELECT user_id, count(*), max(seq) + 1, max(created_at) FROM tasks.tasks GROUP BY user_id
ON CONFLICT (user_id) DO UPDATE
SET next_seq = excluded.next_seq, last_created_at = excluded.last_created_at;

-- The fallbacks are those of 20261208000001: without btree_gin the index is table-wide on the
-- text alone, without pg_trgm there is none; search still works, only slower.
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
    IF trgm_schema IS NULL OR btree_gin_schema IS NULL THEN
        RETURN;
    END IF;
    DROP INDEX IF EXISTS tasks.tasks_user_search;
    DROP INDEX IF EXISTS tasks.tasks_bucket_search;
    -- Both expressions must stay exactly what db::tasks writes (SEARCH_BUCKET, SEARCH_TEXT), or
    -- no query uses the index.
    EXECUTE format(
        'CREATE INDEX tasks_bucket_search ON tasks.tasks USING gin '
        '((user_id::text || '':'' || (seq >> 12)::text) %I.text_ops, '
        '(lower(title || E''\x1f'' || coalesce(description, ''''))) %I.gin_trgm_ops) '
        'WITH (gin_pending_list_limit = 64)',
        btree_gin_schema, trgm_schema);
END
$$;
