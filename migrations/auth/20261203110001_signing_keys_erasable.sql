-- A retired signing key that has left the JWKS needs only its public parts;
-- its private key is erased then, so later backups no longer hold it. Only a retired key may
-- lose it.
ALTER TABLE auth.signing_keys ALTER COLUMN private_key DROP NOT NULL;
ALTER TABLE auth.signing_keys
    ADD CONSTRAINT signing_keys_private_key_until_retired
    CHECK (private_key IS NOT NULL OR retires_at IS NOT NULL);
