-- Rate limits shared by every replica: one GCRA "theoretical arrival time" per bucket. The key is
-- a SHA-256 of the bucket's name (`ip:<network>`, `account:<email>`, `device:<token hash>`), so a
-- row is 32 bytes whatever a client sends. UNLOGGED: no WAL for a row written on every attempt; a
-- Postgres crash (not a clean restart) empties the table, which only forgives budgets.
CREATE UNLOGGED TABLE auth.rate_limits (
    key bytea       PRIMARY KEY,
    tat timestamptz NOT NULL
);

-- Browsers that completed a sign-in to an account (OWASP's "device cookies"): sign-ins from one of
-- them draw on a budget of their own, so an attack on the account from elsewhere cannot lock its
-- owner out. Only the hash of the cookie's value is stored.
CREATE TABLE auth.known_devices (
    token_hash   bytea       PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX known_devices_user ON auth.known_devices (user_id);

-- The security history a user can read (GET /api/auth/events). Append-only: rows are inserted,
-- and deleted only by the retention purge or with their user; never changed.
CREATE TABLE auth.events (
    id         uuid        PRIMARY KEY,
    user_id    uuid        REFERENCES auth.users (id) ON DELETE CASCADE,
    type       text        NOT NULL CHECK (type IN (
                   'signup', 'signin', 'signin_failed', 'signout', 'session_ended',
                   'refresh_reuse_detected', 'password_changed', 'password_reset',
                   'email_verified', 'mfa_enabled', 'mfa_disabled', 'passkey_added',
                   'passkey_removed')),
    at         timestamptz NOT NULL DEFAULT now(),
    ip         inet,
    user_agent text,
    session_id uuid,
    outcome    text        NOT NULL CHECK (outcome IN ('success', 'failure'))
);
-- A user's events newest first (ids are UUIDv7, time-ordered); the purge by age.
CREATE INDEX events_user ON auth.events (user_id, id DESC);
CREATE INDEX events_at ON auth.events (at);

CREATE FUNCTION auth.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'auth.events is append-only';
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE ON auth.events
    FOR EACH ROW EXECUTE FUNCTION auth.events_append_only();
