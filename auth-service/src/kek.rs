//! Key-encryption keys: signing keys are stored AES-256-GCM encrypted under them.
//!
//! Each KEK is named by the first 16 hex digits of its SHA-256, so the database records which
//! KEK sealed a key without revealing it, and an operator can rotate KEKs by listing the new one
//! first and the old one second until every key has been re-sealed (which happens at start-up).

use anyhow::{Context, bail};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

pub struct Kek {
    pub id: String,
    key: LessSafeKey,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The configured KEKs; the first seals, any opens.
#[derive(Debug, Default)]
pub struct KekRing {
    keks: Vec<Kek>,
}

pub struct Sealed {
    pub kek_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl KekRing {
    pub fn parse(list: Option<&SecretString>) -> anyhow::Result<Self> {
        let Some(list) = list else {
            return Ok(Self::default());
        };
        let mut keks = Vec::new();
        for (i, part) in list
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let bytes = STANDARD
                .decode(part)
                .with_context(|| format!("KEY_ENCRYPTION_KEYS entry {} is not base64", i + 1))?;
            if bytes.len() != 32 {
                bail!(
                    "KEY_ENCRYPTION_KEYS entry {} must decode to 32 bytes (try `openssl rand -base64 32`)",
                    i + 1
                );
            }
            let id = hex16(digest(&SHA256, &bytes).as_ref());
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| anyhow::anyhow!("invalid AES key"))?;
            keks.push(Kek {
                id,
                key: LessSafeKey::new(unbound),
            });
        }
        Ok(Self { keks })
    }

    pub fn is_empty(&self) -> bool {
        self.keks.is_empty()
    }

    pub fn current_id(&self) -> Option<&str> {
        self.keks.first().map(|k| k.id.as_str())
    }

    /// Seals `plaintext` under the current KEK, bound to `aad` (the key id) so a ciphertext
    /// cannot be swapped onto another row.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> anyhow::Result<Option<Sealed>> {
        let Some(kek) = self.keks.first() else {
            return Ok(None);
        };
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| anyhow::anyhow!("random source failed"))?;
        let mut buf = plaintext.to_vec();
        kek.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        Ok(Some(Sealed {
            kek_id: kek.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext: buf,
        }))
    }

    pub fn open(
        &self,
        kek_id: &str,
        nonce: &[u8],
        ciphertext: &[u8],
        aad: &[u8],
    ) -> anyhow::Result<Vec<u8>> {
        let kek = self.keks.iter().find(|k| k.id == kek_id).with_context(|| {
            format!(
                "a signing key is sealed under KEK {kek_id}, which is not in KEY_ENCRYPTION_KEYS"
            )
        })?;
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut buf = ciphertext.to_vec();
        let plain = kek
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| {
                anyhow::anyhow!(
                    "a signing key failed to decrypt under KEK {kek_id} (wrong key or tampered row)"
                )
            })?;
        Ok(plain.to_vec())
    }
}

fn hex16(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(keys: &[[u8; 32]]) -> KekRing {
        let list = keys
            .iter()
            .map(|k| STANDARD.encode(k))
            .collect::<Vec<_>>()
            .join(",");
        KekRing::parse(Some(&SecretString::from(list))).expect("valid keks")
    }

    #[test]
    fn seals_and_opens_bound_to_aad() {
        let r = ring(&[[7; 32]]);
        let s = r
            .seal(b"secret", b"kid-1")
            .expect("seal")
            .expect("configured");
        assert_ne!(s.ciphertext, b"secret");
        assert_eq!(
            r.open(&s.kek_id, &s.nonce, &s.ciphertext, b"kid-1")
                .expect("open"),
            b"secret"
        );
        assert!(
            r.open(&s.kek_id, &s.nonce, &s.ciphertext, b"kid-2")
                .is_err()
        );
    }

    #[test]
    fn old_kek_still_opens_after_rotation() {
        let old = ring(&[[1; 32]]);
        let s = old.seal(b"k", b"a").expect("seal").expect("configured");
        let rotated = ring(&[[2; 32], [1; 32]]);
        assert_ne!(rotated.current_id(), Some(s.kek_id.as_str()));
        assert_eq!(
            rotated
                .open(&s.kek_id, &s.nonce, &s.ciphertext, b"a")
                .expect("open"),
            b"k"
        );
        assert!(
            ring(&[[2; 32]])
                .open(&s.kek_id, &s.nonce, &s.ciphertext, b"a")
                .is_err()
        );
    }

    #[test]
    fn rejects_short_keys() {
        assert!(KekRing::parse(Some(&SecretString::from(STANDARD.encode([0u8; 16])))).is_err());
    }
}
