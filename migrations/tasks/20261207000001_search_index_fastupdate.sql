-- The trigram indexes without GIN's pending list. With fastupdate on (the default), new entries
-- collect in an unsorted list of up to gin_pending_list_limit (4 MB) that every search reads in
-- full, whoever's tasks they are: at 10 M tasks a list of 9,690 recent titles made one user's search
-- 3.4 ms in the index instead of 0.26 ms (BENCHMARKS.md), and the insert that finds the list full
-- pays to merge all of it. Off, each insert adds its own entries, and a search costs the same
-- whatever everyone else wrote last. Where pg_trgm was unavailable there are no such indexes.
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['tasks.tasks_title_trgm', 'tasks.tasks_description_trgm'] LOOP
        IF to_regclass(name) IS NOT NULL THEN
            EXECUTE format('ALTER INDEX %s SET (fastupdate = off)', name);
            -- Turning it off leaves what is already pending; merge it now rather than at the next
            -- vacuum.
            PERFORM pg_catalog.gin_clean_pending_list(to_regclass(name));
        END IF;
    END LOOP;
END
$$;
