//! The second factor's secrets and codes: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, one step
//! of skew either side) and recovery codes. Storage and single use are `db::mfa`'s; this module
//! only makes and checks values.

use aws_lc_rs::digest::{SHA256, digest};
use sqlx::PgPool;
use totp_rs::{Algorithm, Totp};
use uuid::Uuid;

use crate::db;
use crate::kek::KekRing;

/// RFC 4226 recommends 160-bit secrets.
const SECRET_BYTES: usize = 20;
const STEP_SECS: u64 = 30;
const DIGITS: u8 = 6;
/// Accept one step before and after the current one (clock drift, a code typed at the turn).
const SKEW_STEPS: u16 = 1;

pub const RECOVERY_CODES: usize = 10;
/// 16 characters of a 32-letter alphabet: 80 bits, so a stolen table of SHA-256 hashes cannot be
/// searched for the codes.
const RECOVERY_CODE_CHARS: usize = 16;
/// Lower-case Crockford base32: no i, l, o, u to misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new random TOTP secret.
pub fn new_secret() -> anyhow::Result<Vec<u8>> {
    let mut secret = vec![0u8; SECRET_BYTES];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| anyhow::anyhow!("random source failed"))?;
    Ok(secret)
}

/// The authenticator for `secret`, labelled for `account` at `issuer` in apps.
pub fn totp(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<Totp> {
    // A colon separates issuer from account in the otpauth label (Key Uri Format).
    let clean = |s: &str| s.replace(':', " ");
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW_STEPS)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(clean(issuer)))
        .with_account_name(clean(account))
        .build()
        .map_err(|e| anyhow::anyhow!("TOTP parameters refused: {e}"))
}

/// The secret as authenticator apps take it typed in (RFC 4648 base32, no padding).
pub fn secret_base32(totp: &Totp) -> String {
    totp.secret().to_base32()
}

/// The `otpauth://totp/...` URI a QR code carries.
pub fn otpauth_uri(totp: &Totp) -> anyhow::Result<String> {
    totp.to_url()
        .map_err(|e| anyhow::anyhow!("otpauth URI: {e}"))
}

/// The time step `code` is valid for at `now` (unix seconds), one step either side; `None` if it
/// is no valid code then. Comparison is constant-time (totp-rs `Token`).
pub fn matching_step(totp: &Totp, code: &str, now: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp.check(code, now)
        .and_then(|step| i64::try_from(step).ok())
}

/// Whether the text looks like a TOTP code rather than a recovery code.
pub fn is_totp_code(code: &str) -> bool {
    let code = code.trim();
    code.len() == usize::from(DIGITS) && code.bytes().all(|b| b.is_ascii_digit())
}

/// Ten fresh recovery codes, formatted `xxxx-xxxx-xxxx-xxxx`.
pub fn new_recovery_codes() -> anyhow::Result<Vec<String>> {
    (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect()
}

fn new_recovery_code() -> anyhow::Result<String> {
    let mut random = [0u8; RECOVERY_CODE_CHARS];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| anyhow::anyhow!("random source failed"))?;
    let mut code = String::with_capacity(RECOVERY_CODE_CHARS + 3);
    for (i, b) in random.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        // 256 is a multiple of 32: the low five bits are uniform.
        code.push(char::from(ALPHABET[usize::from(b & 31)]));
    }
    Ok(code)
}

/// The stored form of a recovery code as typed: case, dashes and spaces do not matter; `None` if
/// it cannot be one.
pub fn recovery_code_hash(typed: &str) -> Option<[u8; 32]> {
    let normal: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if normal.len() != RECOVERY_CODE_CHARS || !normal.bytes().all(|b| ALPHABET.contains(&b)) {
        return None;
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest(&SHA256, normal.as_bytes()).as_ref());
    Some(hash)
}

/// A secret as stored: sealed under the current KEK (the user id as associated data, so a sealed
/// secret cannot be moved to another user's row), or as it is when no KEK is configured.
pub struct Sealed {
    pub kek_id: Option<String>,
    pub nonce: Option<Vec<u8>>,
    pub bytes: Vec<u8>,
}

pub fn seal(keks: &KekRing, user_id: Uuid, secret: &[u8]) -> anyhow::Result<Sealed> {
    Ok(match keks.seal(secret, user_id.as_bytes())? {
        Some(s) => Sealed {
            kek_id: Some(s.kek_id),
            nonce: Some(s.nonce),
            bytes: s.ciphertext,
        },
        None => Sealed {
            kek_id: None,
            nonce: None,
            bytes: secret.to_vec(),
        },
    })
}

/// The plain secret of a stored row.
pub fn open(
    keks: &KekRing,
    user_id: Uuid,
    stored: &db::mfa::StoredSecret,
) -> anyhow::Result<Vec<u8>> {
    match (&stored.kek_id, &stored.nonce) {
        (Some(kek_id), Some(nonce)) => keks.open(kek_id, nonce, &stored.secret, user_id.as_bytes()),
        _ => Ok(stored.secret.clone()),
    }
}

/// At start-up, as for the signing keys: every secret not sealed under the first KEK (sealed under
/// an older one, or stored before KEKs were configured) is sealed under it, so an old KEK can be
/// dropped from KEY_ENCRYPTION_KEYS once every replica has started with the new one first.
pub async fn reseal_all(pool: &PgPool, keks: &KekRing) -> anyhow::Result<()> {
    let Some(current) = keks.current_id() else {
        return Ok(());
    };
    for (user_id, stored) in db::mfa::not_sealed_under(pool, current).await? {
        let plain = open(keks, user_id, &stored)?;
        let sealed = seal(keks, user_id, &plain)?;
        let done = shared::db::retry::write(pool, |conn| {
            Box::pin(db::mfa::reseal(conn, user_id, &stored.secret, &sealed))
        })
        .await?;
        if done {
            tracing::info!(%user_id, "TOTP secret re-sealed under the current KEK");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, truncated to 6 digits; the secret is "12345678901234567890".
        let t = totp(b"12345678901234567890", "Tasks", "ada@example.com").expect("totp");
        assert_eq!(t.generate(59).to_string(), "287082");
        assert_eq!(t.generate(1_111_111_109).to_string(), "081804");
        assert_eq!(t.generate(1_234_567_890).to_string(), "005924");
    }

    #[test]
    fn a_code_matches_its_own_step_and_one_either_side_only() {
        let t = totp(&new_secret().expect("secret"), "Tasks", "a@b.c").expect("totp");
        let now = 1_800_000_015;
        let step = i64::try_from(now / STEP_SECS).expect("step");
        let code = |at: u64| t.generate(at).to_string();
        assert_eq!(matching_step(&t, &code(now), now), Some(step));
        assert_eq!(matching_step(&t, &code(now - 30), now), Some(step - 1));
        assert_eq!(matching_step(&t, &code(now + 30), now), Some(step + 1));
        assert_eq!(matching_step(&t, &code(now - 60), now), None);
        assert_eq!(matching_step(&t, &code(now + 60), now), None);
        assert_eq!(matching_step(&t, "12345", now), None);
        assert_eq!(matching_step(&t, "12345a", now), None);
    }

    #[test]
    fn otpauth_uri_names_issuer_account_and_parameters() {
        let t = totp(&new_secret().expect("secret"), "Tasks", "ada@example.com").expect("totp");
        let uri = otpauth_uri(&t).expect("uri");
        assert!(
            uri.starts_with("otpauth://totp/Tasks:ada%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains(&format!("secret={}", secret_base32(&t))),
            "{uri}"
        );
        assert!(uri.contains("issuer=Tasks"), "{uri}");
    }

    #[test]
    fn recovery_codes_are_distinct_80_bit_and_forgiving_to_type() {
        let codes = new_recovery_codes().expect("codes");
        assert_eq!(codes.len(), 10);
        let mut hashes: Vec<_> = codes
            .iter()
            .map(|c| recovery_code_hash(c).expect("hash"))
            .collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), 10);
        let code = &codes[0];
        assert_eq!(code.len(), 19);
        let typed = code.to_uppercase().replace('-', " ");
        assert_eq!(recovery_code_hash(&typed), recovery_code_hash(code));
        assert_eq!(recovery_code_hash("too-short"), None);
        assert_eq!(recovery_code_hash("iiii-iiii-iiii-iiii"), None);
    }
}
