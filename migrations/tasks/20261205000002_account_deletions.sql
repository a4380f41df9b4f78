-- How far this service has applied the auth-service's revocation feed to its own data: every
-- account deletion in the feed below `cursor` has had its tasks removed. Kept in the database, not
-- in memory, so a deletion that happened while every replica was down is still applied when one
-- comes back; several replicas share it and only ever move it forward.
CREATE TABLE tasks.feed_state (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    cursor bigint  NOT NULL DEFAULT 0 CHECK (cursor >= 0)
);
INSERT INTO tasks.feed_state DEFAULT VALUES;
