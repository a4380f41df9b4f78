-- How many tasks each user holds, so that the per-user quota (MAX_TASKS_PER_USER) is checked in
-- O(1) and without a race: creating a task takes its owner's row here in the same statement that
-- inserts the task (see db::tasks::insert), and a delete, whoever issues it, gives the count back
-- through the trigger below.
CREATE TABLE tasks.task_counts (
    user_id uuid    PRIMARY KEY,
    tasks   integer NOT NULL
);

-- Users who already hold tasks. Rows created while this runs by an older replica (which does not
-- count) leave a count too low by as many: the quota is then a little lenient, never wrong the
-- other way.
INSERT INTO tasks.task_counts (user_id, tasks)
SELECT user_id, count(*) FROM tasks.tasks GROUP BY user_id;

-- Statement-level, over the transition table: one UPDATE per statement however many rows it
-- deleted (an account's erasure deletes them all at once). GREATEST: a count that ever drifted low
-- must not make a delete fail.
CREATE FUNCTION tasks.uncount_deleted_tasks() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE tasks.task_counts AS c
    SET tasks = GREATEST(c.tasks - d.n, 0)
    FROM (SELECT user_id, count(*) AS n FROM deleted GROUP BY user_id) AS d
    WHERE c.user_id = d.user_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_uncount_deleted
AFTER DELETE ON tasks.tasks
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT EXECUTE FUNCTION tasks.uncount_deleted_tasks();
