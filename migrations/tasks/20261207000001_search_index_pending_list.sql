-- The trigram indexes with a small GIN pending list. New entries collect in an unsorted list that
-- every search reads in full, whoever's tasks they are, until it reaches gin_pending_list_limit
-- (4 MB by default) and is merged: at 10 M tasks a list of 9,690 recent titles made one user's
-- search 3.4 ms in the index instead of 0.26 ms (BENCHMARKS.md), and the insert that found the
-- list full paid to merge all of it. At 64 kB (the minimum) a search reads at most eight pages,
-- and inserts still go in batches: turning the list off altogether cost each create ~40 % more
-- (1.19 ms against 1.54-1.69 ms p50 at 10 M tasks). Where pg_trgm was unavailable there are no
-- such indexes.
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['tasks.tasks_title_trgm', 'tasks.tasks_description_trgm'] LOOP
        IF to_regclass(name) IS NOT NULL THEN
            EXECUTE format('ALTER INDEX %s SET (gin_pending_list_limit = 64)', name);
            -- Merge what is already pending rather than leave it to the next insert or vacuum.
            PERFORM pg_catalog.gin_clean_pending_list(to_regclass(name));
        END IF;
    END LOOP;
END
$$;
