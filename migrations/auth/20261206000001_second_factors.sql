-- Second factors: TOTP with recovery codes, passkeys (WebAuthn), and the state between the steps
-- of a sign-in or a ceremony, kept here so that any replica can finish what another one started.

-- One authenticator app per user. The secret is sealed like the signing keys (AES-256-GCM under
-- the first KEY_ENCRYPTION_KEYS entry, the user id as associated data); kek_id NULL means stored
-- unsealed (no KEKs configured: loopback development only).
CREATE TABLE auth.totp (
    user_id      uuid        PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    kek_id       text,
    nonce        bytea,
    secret       bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- NULL while set up but not yet confirmed with a code: not active.
    confirmed_at timestamptz,
    -- The newest time step a code was accepted for. A code for this step or an earlier one is
    -- refused (RFC 6238 §5.2: each code once), decided by one conditional UPDATE.
    last_step    bigint
);

-- Ten per confirmation, shown once; SHA-256 of 80-bit random codes (no offline guessing).
CREATE TABLE auth.recovery_codes (
    user_id   uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    code_hash bytea       NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Between a correct password and the second factor: the SHA-256 of a 256-bit token, short-lived,
-- used once, and dead after a few wrong codes.
CREATE TABLE auth.mfa_tokens (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    failures   int         NOT NULL DEFAULT 0,
    used_at    timestamptz
);
CREATE INDEX mfa_tokens_expiry ON auth.mfa_tokens (expires_at);

-- Passkeys: webauthn-rs's Passkey (public key, algorithm, sign counter, backup flags) as JSON.
CREATE TABLE auth.passkeys (
    id            uuid        PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    credential_id bytea       NOT NULL UNIQUE,
    credential    jsonb       NOT NULL,
    name          text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX passkeys_user ON auth.passkeys (user_id, created_at);

-- A ceremony in progress: the server-side state webauthn-rs needs to finish it. Taken (deleted)
-- by the finishing request, so each challenge is answered at most once, on any replica.
CREATE TABLE auth.webauthn_challenges (
    id         uuid        PRIMARY KEY,
    purpose    text        NOT NULL CHECK (purpose IN ('register', 'signin')),
    -- Registration: whose; sign-in: NULL (the authenticator names the user).
    user_id    uuid        REFERENCES auth.users (id) ON DELETE CASCADE,
    state      jsonb       NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX webauthn_challenges_expiry ON auth.webauthn_challenges (expires_at);

-- Turning the authenticator app off ends the user's other sessions.
ALTER TABLE auth.sessions DROP CONSTRAINT sessions_revoked_reason_check;
ALTER TABLE auth.sessions ADD CONSTRAINT sessions_revoked_reason_check CHECK (
    revoked_reason IN ('signout', 'reuse_detected', 'ended_by_user', 'signout_all',
                       'password_changed', 'password_reset', 'idle', 'mfa_disabled'));
