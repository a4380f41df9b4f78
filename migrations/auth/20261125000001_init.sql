-- The auth-service's schema. Only the auth-service reads or writes it.

CREATE TABLE auth.users (
    id            uuid PRIMARY KEY,
    -- Stored as entered (trimmed); uniqueness ignores case through the index below.
    email         text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    name          text CHECK (name IS NULL OR char_length(name) BETWEEN 1 AND 100),
    -- PHC string (argon2id); never the password.
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One account per address whatever its case: decided by the database, so two concurrent
-- sign-ups cannot both win.
CREATE UNIQUE INDEX users_email_lower_key ON auth.users (lower(email));

-- A session is one refresh-token family: every token rotated from one sign-in.
CREATE TABLE auth.sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- Absolute lifetime: rotation never extends it.
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text CHECK (revoked_reason IN ('signout', 'reuse_detected'))
);
CREATE INDEX sessions_user_id_idx ON auth.sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON auth.sessions (expires_at);

-- Refresh tokens are stored only as SHA-256 hashes.
CREATE TABLE auth.refresh_tokens (
    token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    session_id uuid NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when the token is rotated; a retired token presented after the grace window
    -- revokes its whole session.
    retired_at timestamptz
);
CREATE INDEX refresh_tokens_session_id_idx ON auth.refresh_tokens (session_id);

-- RSA signing keys. Private keys are PKCS#8, AES-256-GCM encrypted under a key-encryption key
-- named by kek_id; kek_id NULL means stored in the clear (development only, logged loudly).
CREATE TABLE auth.signing_keys (
    kid          text PRIMARY KEY,
    n            text NOT NULL,
    e            text NOT NULL,
    private_key  bytea NOT NULL,
    kek_id       text,
    nonce        bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Published in the JWKS from creation, used for signing only from here: caches that fetched
    -- the JWKS before the key existed have expired by then.
    activates_at timestamptz NOT NULL,
    -- No longer signs from here; stays published until every token it signed has expired.
    retires_at   timestamptz,
    CHECK ((kek_id IS NULL) = (nonce IS NULL))
);
