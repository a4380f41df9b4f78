//! Password policy (NIST SP 800-63B: length and a breached-password check, no composition rules)
//! and argon2id hashing on blocking threads, with a bound on how many hashes run at once.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use shared::FieldError;
use tokio::sync::Semaphore;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;
/// A password guessable within this many tries is refused: it is at least as weak as the
/// 10,000 most common passwords of zxcvbn's breach-derived list.
const MIN_GUESSES: u64 = 10_000;

/// Checks length in Unicode code points (never truncating) and commonness.
pub fn check_policy(password: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(FieldError::new(
            "password",
            "password_too_short",
            format!("Use at least {MIN_CHARS} characters."),
        ));
    }
    if chars > MAX_CHARS {
        return Err(FieldError::new(
            "password",
            "password_too_long",
            format!("Use at most {MAX_CHARS} characters."),
        ));
    }
    if is_common(password) {
        return Err(FieldError::new(
            "password",
            "password_too_common",
            "This password is too common; choose one that is harder to guess.",
        ));
    }
    Ok(())
}

/// Compared case-insensitively: zxcvbn's dictionary match ranks the lowercase form, and a whole
/// password that is one of the top-ranked entries has guesses equal to its rank.
fn is_common(password: &str) -> bool {
    zxcvbn::zxcvbn(&password.to_lowercase(), &[]).guesses() <= MIN_GUESSES
}

#[derive(Debug, Clone, Copy)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// Hashes and verifies passwords off the async runtime.
#[derive(Clone)]
pub struct Hasher {
    argon2: Arc<Argon2<'static>>,
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the email is unknown so that
    /// "no such user" costs the same time as "wrong password".
    dummy: Arc<String>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", self.argon2.params())
            .finish_non_exhaustive()
    }
}

impl Hasher {
    pub fn new(params: HashParams, max_concurrent: usize) -> anyhow::Result<Self> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let mut random = [0u8; 32];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| anyhow::anyhow!("random source failed"))?;
        let dummy = hash_with(&argon2, &base64_of(&random))?;
        let max = if max_concurrent == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get() * 2)
                .unwrap_or(4)
        } else {
            max_concurrent
        };
        Ok(Self {
            argon2: Arc::new(argon2),
            permits: Arc::new(Semaphore::new(max)),
            dummy: Arc::new(dummy),
        })
    }

    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        let _permit = self.permits.clone().acquire_owned().await?;
        let argon2 = self.argon2.clone();
        tokio::task::spawn_blocking(move || hash_with(&argon2, &password)).await?
    }

    /// Verifies against `stored`, or against the dummy hash when there is no user, so both
    /// paths do the same work. Returns whether it matched and whether the stored hash should be
    /// upgraded to the current parameters.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> anyhow::Result<Verified> {
        let _permit = self.permits.clone().acquire_owned().await?;
        let argon2 = self.argon2.clone();
        let dummy = self.dummy.clone();
        tokio::task::spawn_blocking(move || {
            let is_real = stored.is_some();
            let phc = stored.as_deref().unwrap_or(dummy.as_str());
            let parsed = PasswordHash::new(phc)
                .map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
            let matched = argon2.verify_password(password.as_bytes(), &parsed).is_ok() && is_real;
            let outdated = matched
                && Params::try_from(&parsed)
                    .map(|p| &p != argon2.params())
                    .unwrap_or(true);
            Ok(Verified { matched, outdated })
        })
        .await?
    }
}

pub struct Verified {
    pub matched: bool,
    pub outdated: bool,
}

fn hash_with(argon2: &Argon2<'_>, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_code_points_not_bytes() {
        // 8 code points, 24 bytes.
        assert!(check_policy("日本語の長い秘密").is_ok());
        assert_eq!(
            check_policy("short").unwrap_err().code,
            "password_too_short"
        );
        assert_eq!(
            check_policy(&"x".repeat(129)).unwrap_err().code,
            "password_too_long"
        );
        let varied: String = (0..128u32)
            .filter_map(|i| char::from_u32(0x4E00 + i * 7))
            .collect();
        assert_eq!(varied.chars().count(), 128);
        assert!(check_policy(&varied).is_ok());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for pw in [
            "password",
            "PASSWORD1",
            "12345678",
            "iloveyou",
            "Qwerty123",
            "sunshine",
            "baseball",
        ] {
            assert_eq!(
                check_policy(pw).map_err(|e| e.code),
                Err("password_too_common".to_owned()),
                "{pw}"
            );
        }
    }

    #[test]
    fn uncommon_passwords_pass() {
        for pw in [
            "correct horse battery staple",
            "tR4v!s-9qL#mz",
            "my cat eats paperclips",
        ] {
            assert!(check_policy(pw).is_ok(), "{pw}");
        }
    }

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let h = Hasher::new(
            HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            2,
        )
        .expect("hasher");
        let phc = h.hash("a long passphrase".into()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            h.verify("a long passphrase".into(), Some(phc.clone()))
                .await
                .expect("verify")
                .matched
        );
        assert!(
            !h.verify("wrong passphrase".into(), Some(phc))
                .await
                .expect("verify")
                .matched
        );
        assert!(
            !h.verify("anything".into(), None)
                .await
                .expect("verify")
                .matched
        );
    }

    #[tokio::test]
    async fn hashes_under_weaker_parameters_are_flagged_for_upgrade() {
        let strong = Hasher::new(
            HashParams {
                memory_kib: 19_456,
                iterations: 3,
                parallelism: 1,
            },
            1,
        )
        .expect("hasher");
        let weak = Hasher::new(
            HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            1,
        )
        .expect("hasher");
        let phc = weak.hash("a long passphrase".into()).await.expect("hash");
        let v = strong
            .verify("a long passphrase".into(), Some(phc))
            .await
            .expect("verify");
        assert!(v.matched && v.outdated);
    }
}
