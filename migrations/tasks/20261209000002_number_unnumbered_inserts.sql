-- An insert that names no `seq` is numbered as db::tasks::insert numbers one: the next number of
-- its owner and a `created_at` after the owner's previous task, under the owner's task_counts row
-- lock. The service always names `seq`; this is for what does not: a replica still running the
-- code from before 20261209000001 during a rolling deployment (its insert would otherwise fail on
-- the NOT NULL, or, with a default, break the creation order search relies on), and an operator's
-- bulk import. A `created_at` given in order is kept; one out of order moves to a microsecond
-- after the owner's newest task. The quota count is left alone: the old insert took it itself.
CREATE OR REPLACE FUNCTION tasks.number_task() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO tasks.task_counts AS c (user_id, tasks, next_seq, last_created_at)
    VALUES (NEW.user_id, 0, 1, NEW.created_at)
    ON CONFLICT (user_id) DO UPDATE
    SET next_seq = c.next_seq + 1,
        last_created_at = greatest(NEW.created_at, c.last_created_at + interval '1 microsecond')
    RETURNING c.next_seq - 1, c.last_created_at INTO NEW.seq, NEW.created_at;
    NEW.updated_at := greatest(NEW.updated_at, NEW.created_at);
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS tasks_number ON tasks.tasks;
-- WHEN is checked without calling the function, so the service's own inserts pay nothing.
CREATE TRIGGER tasks_number
BEFORE INSERT ON tasks.tasks
FOR EACH ROW WHEN (NEW.seq IS NULL)
EXECUTE FUNCTION tasks.number_task();
