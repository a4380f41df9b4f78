-- Tasks, one row per task, owned by the user id from the access token's `sub`. The auth-service
-- owns users in another schema (possibly another database), so there is no foreign key: the token
-- is the proof the user exists.
CREATE TABLE tasks.tasks (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL,
    title        text        NOT NULL,
    description  text,
    completed    boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    -- The API trims titles and checks these too; the database is the last word.
    CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 200),
    CONSTRAINT tasks_title_not_blank CHECK (title ~ '[^[:space:]]'),
    CONSTRAINT tasks_description_length CHECK (description IS NULL OR char_length(description) <= 1000),
    CONSTRAINT tasks_completed_at_matches CHECK (completed = (completed_at IS NOT NULL))
);

-- One index per sort order of the list query, each led by the owner so a user's page is a range
-- scan (forwards or backwards) that stops after `limit` rows, whatever the other users hold; the id
-- breaks ties exactly as the keyset cursor does.
CREATE INDEX tasks_user_created ON tasks.tasks (user_id, created_at, id);
CREATE INDEX tasks_user_updated ON tasks.tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_title ON tasks.tasks (user_id, lower(title), id);
