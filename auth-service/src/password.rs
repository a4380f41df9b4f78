//! Password policy (NIST SP 800-63B: length and a breached-password check, no composition rules)
//! and argon2id hashing on blocking threads, with a bound on how many hashes run at once.
//!
//! Passwords are NFKC-normalised before the policy check and before hashing (SP 800-63B
//! §5.1.1.2), so the same password typed on another keyboard or OS — a precomposed "é" or "e"
//! plus a combining accent, full-width or half-width forms — is the same password. Hashes made
//! before normalisation still verify: the raw form is tried when the normalised one fails, and a
//! match that way asks for a rehash, which stores the normalised form from then on.

use std::sync::Arc;

use std::sync::Mutex;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use shared::FieldError;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::{IsNormalized, is_nfkc_quick};

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;
/// A password guessable within this many tries is refused: it is at least as weak as the
/// 10,000 most common passwords of zxcvbn's breach-derived list.
const MIN_GUESSES: u64 = 10_000;

/// The password in Unicode NFKC: the form that is checked, hashed and compared.
pub fn normalize(password: &SecretString) -> SecretString {
    let raw = password.expose_secret();
    if is_nfkc_quick(raw.chars()) == IsNormalized::Yes {
        return password.clone();
    }
    SecretString::from(raw.nfkc().collect::<String>())
}

/// Checks length in Unicode code points (never truncating) and commonness. Give it the
/// [`normalize`]d password: that is what gets stored.
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

/// Bytes of argon2 output stored in the PHC string.
const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

/// Hashes and verifies passwords off the async runtime.
///
/// At most `max_concurrent` computations run at once, and each borrows its working memory
/// (`memory_kib`, 19 MiB by default) from a pool that never holds more than that many buffers.
/// Allocating it per hash instead lets the allocator keep a freed buffer per thread arena, and
/// resident memory climbed to about 1 GiB under a sign-in burst in the benchmarks.
/// Password checks allowed to run or wait, per permit: beyond them a request is refused at once
/// (503 with `Retry-After`) instead of queueing into a timeout. At ~15 ms a hash, 32 per core is
/// at most about half a second of waiting; a burst of 32 sign-ins at once on 2 cores still fits.
const QUEUE_PER_PERMIT: usize = 32;

/// Why a hash or verification did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The queue in front of the hashing threads is full.
    #[error("too many password checks at once")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<tokio::task::JoinError> for HashError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Failed(e.into())
    }
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Bounds running plus waiting computations (`QUEUE_PER_PERMIT` × permits).
    queue: Arc<Semaphore>,
    max_concurrent: usize,
    /// Working buffers ever allocated (a buffer is allocated only when the pool is empty).
    allocated: Arc<std::sync::atomic::AtomicUsize>,
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// A real hash of a random password, verified against when the email is unknown so that
    /// "no such user" costs the same time as "wrong password".
    dummy: Arc<String>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// [`Hasher::load`]: permits (`MAX_CONCURRENT_HASHES`), hashes running, checks waiting for a
/// permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLoad {
    pub permits: usize,
    pub running: usize,
    pub waiting: usize,
}

pub struct Verified {
    pub matched: bool,
    /// The stored hash should be replaced by `hash(password)`: it was made with other parameters
    /// than the configured ones, or from the password as typed rather than its NFKC form.
    pub outdated: bool,
}

impl Hasher {
    pub fn new(params: HashParams, max_concurrent: usize) -> anyhow::Result<Self> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        // Argon2 is CPU-bound: more hashes at once than cores adds memory (19 MiB each), not
        // throughput.
        let max = if max_concurrent == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        } else {
            max_concurrent
        };
        let mut hasher = Self {
            params,
            permits: Arc::new(Semaphore::new(max)),
            queue: Arc::new(Semaphore::new(max * QUEUE_PER_PERMIT)),
            max_concurrent: max,
            allocated: Arc::default(),
            memory: Arc::new(Mutex::new(Vec::new())),
            dummy: Arc::new(String::new()),
        };
        let mut random = [0u8; 32];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| anyhow::anyhow!("random source failed"))?;
        hasher.dummy = Arc::new(hasher.hash_now(&random)?);
        // An idle service keeps no working memory; the pool fills again under load.
        if let Ok(mut pool) = hasher.memory.lock() {
            pool.clear();
        }
        Ok(hasher)
    }

    /// How busy the hashing is right now, for the metrics.
    pub fn load(&self) -> HashLoad {
        let running = self
            .max_concurrent
            .saturating_sub(self.permits.available_permits());
        let admitted =
            (self.max_concurrent * QUEUE_PER_PERMIT).saturating_sub(self.queue.available_permits());
        HashLoad {
            permits: self.max_concurrent,
            running,
            waiting: admitted.saturating_sub(running),
        }
    }

    /// A place in the queue, then a permit to run: `Busy` at once when the queue is full.
    async fn admit(
        &self,
    ) -> Result<
        (
            tokio::sync::OwnedSemaphorePermit,
            tokio::sync::OwnedSemaphorePermit,
        ),
        HashError,
    > {
        let place = self
            .queue
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| HashError::Failed(e.into()))?;
        Ok((place, permit))
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        let admitted = self.admit().await?;
        let this = self.clone();
        Ok(tokio::task::spawn_blocking(move || {
            // Held by the blocking work, not the request: a client that disconnects mid-hash
            // must not free a permit while the hash (and its 19 MiB) is still running.
            let _admitted = admitted;
            this.hash_now(normalize(&password).expose_secret().as_bytes())
        })
        .await??)
    }

    /// Verifies against `stored`, or against the dummy hash when there is no user, so both
    /// paths do the same work: the normalised password first, then — only when that fails and
    /// normalising changed it — the password as typed, which a hash stored before
    /// normalisation was made from. Whether the second try happens depends on the input alone,
    /// never on whether the account exists.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let admitted = self.admit().await?;
        let this = self.clone();
        let verified = tokio::task::spawn_blocking(move || {
            let _admitted = admitted;
            let is_real = stored.is_some();
            let phc = stored.as_deref().unwrap_or(this.dummy.as_str());
            let normalized = normalize(&password);
            let (mut matched, params) =
                this.verify_now(normalized.expose_secret().as_bytes(), phc)?;
            let mut legacy = false;
            if !matched && normalized.expose_secret() != password.expose_secret() {
                (matched, _) = this.verify_now(password.expose_secret().as_bytes(), phc)?;
                legacy = matched;
            }
            let outdated = matched
                && (legacy
                    || params.m_cost() != this.params.m_cost()
                    || params.t_cost() != this.params.t_cost()
                    || params.p_cost() != this.params.p_cost());
            Ok::<_, anyhow::Error>(Verified {
                matched: matched && is_real,
                outdated,
            })
        })
        .await??;
        Ok(verified)
    }

    fn hash_now(&self, password: &[u8]) -> anyhow::Result<String> {
        let mut salt = [0u8; SALT_LEN];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| anyhow::anyhow!("random source failed"))?;
        let mut out = [0u8; OUTPUT_LEN];
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        self.with_memory(self.params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, &salt, &mut out, blocks)
        })?;
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt encoding: {e}"))?;
        let out = Output::new(&out).map_err(|e| anyhow::anyhow!("output encoding: {e}"))?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost(),
            salt.as_str(),
            out
        ))
    }

    /// Recomputes the hash under the stored parameters and compares in constant time.
    fn verify_now(&self, password: &[u8], phc: &str) -> anyhow::Result<(bool, Params)> {
        let parsed =
            PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        let algorithm = Algorithm::try_from(parsed.algorithm)
            .map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let version = Version::try_from(parsed.version.unwrap_or(0x13))
            .map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let params = Params::try_from(&parsed).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            anyhow::bail!("stored hash lacks salt or output");
        };
        let mut salt_buf = [0u8; 64];
        let salt = salt
            .decode_b64(&mut salt_buf)
            .map_err(|e| anyhow::anyhow!("stored salt: {e}"))?;
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        self.with_memory(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, salt, &mut out, blocks)
        })?;
        Ok((
            bool::from(out.as_slice().ct_eq(expected.as_bytes())),
            params,
        ))
    }

    /// Lends a working buffer of `blocks` blocks from the pool (callers hold a permit, so the
    /// pool never grows past the permit count).
    fn with_memory(
        &self,
        blocks: usize,
        f: impl FnOnce(&mut [Block]) -> argon2::Result<()>,
    ) -> anyhow::Result<()> {
        let mut buf = self
            .memory
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_else(|| {
                self.allocated
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Vec::new()
            });
        buf.resize(blocks, Block::default());
        let result = f(&mut buf[..blocks]).map_err(|e| anyhow::anyhow!("argon2: {e}"));
        // Only buffers of the configured size go back; an outdated hash's odd size is dropped.
        if blocks == self.params.block_count()
            && let Ok(mut pool) = self.memory.lock()
            && pool.len() < self.max_concurrent
        {
            pool.push(buf);
        }
        result
    }

    #[cfg(test)]
    fn pooled_buffers(&self) -> usize {
        self.memory.lock().map(|p| p.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_a_check_is_refused_at_once_not_queued() {
        let h = Hasher::new(
            HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            1,
        )
        .expect("hasher");
        // One running and QUEUE_PER_PERMIT - 1 waiting fill the queue ...
        let running: Vec<_> = (0..QUEUE_PER_PERMIT)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { h.verify("pw".into(), None).await })
            })
            .collect();
        // Until every one of them holds its place (a loaded machine may take a while to start them).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while h.queue.available_permits() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // ... so the next is Busy without waiting for any of them.
        let started = std::time::Instant::now();
        let refused = h.verify("pw".into(), None).await;
        assert!(matches!(refused, Err(HashError::Busy)), "not refused");
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        for r in running {
            assert!(!r.await.expect("join").expect("verify").matched);
        }
        // Drained: admitted again.
        assert!(h.verify("pw".into(), None).await.is_ok());
    }

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
    async fn hashes_under_the_current_parameters_are_not_flagged() {
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
        let v = h
            .verify("a long passphrase".into(), Some(phc))
            .await
            .expect("verify");
        assert!(v.matched && !v.outdated);
    }

    #[tokio::test]
    async fn verifies_hashes_made_by_the_reference_implementation() {
        use argon2::password_hash::{PasswordHasher as _, rand_core::OsRng};
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19_456, 2, 1, None).expect("params"),
        );
        let phc = reference
            .hash_password(b"interop passphrase", &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string();
        let h = Hasher::new(
            HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            1,
        )
        .expect("hasher");
        assert!(
            h.verify("interop passphrase".into(), Some(phc.clone()))
                .await
                .expect("verify")
                .matched
        );
        assert!(
            !h.verify("interop passphrase!".into(), Some(phc))
                .await
                .expect("verify")
                .matched
        );
        // And the reference verifies ours.
        use argon2::password_hash::PasswordVerifier as _;
        let ours = h.hash("ours".into()).await.expect("hash");
        assert!(
            reference
                .verify_password(b"ours", &PasswordHash::new(&ours).expect("phc"))
                .is_ok()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn working_memory_is_pooled_not_reallocated() {
        let h = Hasher::new(
            HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            2,
        )
        .expect("hasher");
        assert_eq!(
            h.pooled_buffers(),
            0,
            "an idle hasher holds no working memory"
        );
        let phc = h.hash("a long passphrase".into()).await.expect("hash");
        let burst: Vec<_> = (0..8)
            .map(|_| {
                let (h, phc) = (h.clone(), phc.clone());
                tokio::spawn(async move { h.verify("a long passphrase".into(), Some(phc)).await })
            })
            .collect();
        for task in burst {
            assert!(task.await.expect("join").expect("verify").matched);
        }
        // Never more buffers than permits, however many requests came at once.
        assert!(
            (1..=2).contains(&h.pooled_buffers()),
            "{}",
            h.pooled_buffers()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_request_keeps_its_permit_until_the_hash_finishes() {
        let h = Hasher::new(
            HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            1,
        )
        .expect("hasher");
        let before = h.allocated.load(std::sync::atomic::Ordering::Relaxed);
        // A client that disconnects mid-hash: its future is dropped, the blocking hash goes on.
        let cancelled =
            tokio::time::timeout(std::time::Duration::from_millis(1), h.hash("first".into())).await;
        assert!(
            cancelled.is_err(),
            "the hash should still have been running"
        );
        // The next request must wait for that hash's buffer rather than allocate another one.
        h.hash("second".into()).await.expect("hash");
        let allocated = h.allocated.load(std::sync::atomic::Ordering::Relaxed) - before;
        assert_eq!(allocated, 1, "one permit, so one working buffer");
    }

    fn hasher() -> Hasher {
        Hasher::new(
            HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            2,
        )
        .expect("hasher")
    }

    const COMPOSED: &str = "cr\u{e8}me br\u{fb}l\u{e9}e";
    const DECOMPOSED: &str = "cre\u{300}me bru\u{302}le\u{301}e";

    #[tokio::test]
    async fn a_password_verifies_whichever_unicode_form_it_is_typed_in() {
        let h = hasher();
        for (stored_as, typed_as) in [
            (COMPOSED, DECOMPOSED),
            (DECOMPOSED, COMPOSED),
            (DECOMPOSED, DECOMPOSED),
        ] {
            let phc = h.hash(stored_as.into()).await.expect("hash");
            let v = h.verify(typed_as.into(), Some(phc)).await.expect("verify");
            assert!(
                v.matched && !v.outdated,
                "{stored_as:?} typed as {typed_as:?}"
            );
        }
        // Compatibility forms too: full-width digits are the digits.
        let phc = h.hash("tea for 2, at 10".into()).await.expect("hash");
        assert!(
            h.verify("tea for \u{ff12}, at \u{ff11}\u{ff10}".into(), Some(phc))
                .await
                .expect("verify")
                .matched
        );
    }

    #[tokio::test]
    async fn a_hash_of_the_raw_password_still_verifies_and_asks_for_a_rehash() {
        let h = hasher();
        // Made before normalisation: the decomposed bytes as typed.
        let legacy = h.hash_now(DECOMPOSED.as_bytes()).expect("hash");
        let v = h
            .verify(DECOMPOSED.into(), Some(legacy.clone()))
            .await
            .expect("verify");
        assert!(v.matched && v.outdated);
        assert!(
            !h.verify("cre\u{300}me bru\u{302}le\u{301}".into(), Some(legacy))
                .await
                .expect("verify")
                .matched
        );
        // A new hash never matches a non-normalised input through the raw fallback.
        let v = h
            .verify(
                DECOMPOSED.into(),
                Some(h.hash(DECOMPOSED.into()).await.expect("hash")),
            )
            .await
            .expect("verify");
        assert!(v.matched && !v.outdated);
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
