-- Sessions a user can see and end: where and when each was last used, and why it ended.
ALTER TABLE auth.sessions
    ADD COLUMN last_used_at timestamptz,
    ADD COLUMN user_agent text CHECK (user_agent IS NULL OR char_length(user_agent) <= 512),
    ADD COLUMN ip inet;
UPDATE auth.sessions SET last_used_at = created_at;
ALTER TABLE auth.sessions
    ALTER COLUMN last_used_at SET NOT NULL,
    ALTER COLUMN last_used_at SET DEFAULT now();
ALTER TABLE auth.sessions DROP CONSTRAINT sessions_revoked_reason_check;
ALTER TABLE auth.sessions ADD CONSTRAINT sessions_revoked_reason_check CHECK (
    revoked_reason IN ('signout', 'reuse_detected', 'ended_by_user', 'signout_all',
                       'password_changed', 'password_reset', 'idle'));
CREATE INDEX sessions_user_last_used_idx ON auth.sessions (user_id, last_used_at DESC);

-- What other services must learn: sessions that ended (their access tokens die with them) and
-- accounts that were deleted (their data goes). Written by triggers, so no code path that ends a
-- session or deletes a user can forget it; read through GET /api/internal/revocations.
--
-- `xid` orders the feed safely: a reader advances its cursor only past transaction ids below the
-- oldest transaction still running (pg_snapshot_xmin), so a row committed late can never fall
-- behind a cursor that already moved on, as it could with a plain sequence.
CREATE TABLE auth.revocations (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind       text NOT NULL CHECK (kind IN ('session_ended', 'user_deleted')),
    session_id uuid,
    user_id    uuid NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'session_ended') = (session_id IS NOT NULL))
);
CREATE INDEX revocations_xid_idx ON auth.revocations (xid);

CREATE FUNCTION auth.record_session_ended() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO auth.revocations (kind, session_id, user_id)
    VALUES ('session_ended', NEW.id, NEW.user_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER sessions_ended AFTER UPDATE OF revoked_at ON auth.sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION auth.record_session_ended();

CREATE FUNCTION auth.record_user_deleted() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO auth.revocations (kind, user_id) VALUES ('user_deleted', OLD.id);
    RETURN OLD;
END
$$;
CREATE TRIGGER users_deleted AFTER DELETE ON auth.users
    FOR EACH ROW EXECUTE FUNCTION auth.record_user_deleted();
