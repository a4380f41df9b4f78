//! Refresh tokens: opaque 256-bit random strings, stored only as SHA-256 hashes, single-use and
//! rotated on every refresh, grouped in sessions (families) with an absolute lifetime.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Length of a refresh token in characters (32 random bytes, base64url).
pub const TOKEN_CHARS: usize = 43;

pub struct RefreshToken {
    /// Given to the client once; never stored.
    pub token: String,
    pub hash: [u8; 32],
}

pub fn new_token() -> anyhow::Result<RefreshToken> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("random source failed"))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    Ok(RefreshToken { token, hash })
}

/// The database looks a token up by this hash. A fast hash is right here: the token has 256 bits
/// of entropy, so there is nothing to brute-force, unlike a password.
pub fn hash(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

/// Cheap shape check before touching the database.
pub fn looks_valid(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_256_bit_and_hash_deterministically() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_ne!(a.token, b.token);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.token).expect("b64").len(), 32);
        assert!(looks_valid(&a.token));
        assert_eq!(hash(&a.token), a.hash);
        assert!(!looks_valid("short"));
    }
}
