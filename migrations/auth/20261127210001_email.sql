-- Email verification and password reset.

-- When the address was proven by a verification link; NULL: not (yet) verified.
ALTER TABLE auth.users ADD COLUMN email_verified_at timestamptz;

-- Single-use link tokens, stored as SHA-256 hashes of 256-bit random values.
CREATE TABLE auth.email_tokens (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    -- The address the link was sent to: a verification proves that address only.
    email      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX email_tokens_user ON auth.email_tokens (user_id, purpose, created_at DESC);

-- Mail waiting to go out (a durable outbox): written in the transaction that causes the mail, sent
-- by a background task on any replica (rows claimed with FOR UPDATE SKIP LOCKED), retried with
-- back-off while the mail server is away. The body holds a link token, so a sent message's row is
-- emptied of it.
CREATE TABLE auth.outbox (
    id              uuid        PRIMARY KEY,
    to_address      text        NOT NULL,
    subject         text        NOT NULL,
    text_body       text        NOT NULL,
    html_body       text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        int         NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX outbox_due ON auth.outbox (next_attempt_at) WHERE sent_at IS NULL;
