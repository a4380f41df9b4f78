//! Account input as parsed types: a value of [`Email`], [`UserName`] or [`NewPassword`] has passed
//! the contract's rules, so code that holds one need not check again. Parsing failures are field
//! errors a UI can place next to its input.

use secrecy::{ExposeSecret, SecretString};
use shared::FieldError;
use unicode_normalization::UnicodeNormalization;

use crate::password;

pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_NAME_CHARS: usize = 100;

/// A trimmed email address of plausible shape, as the user typed it but in Unicode NFC, so the
/// same address typed on another device (composed "é" or "e" + combining accent) is the same
/// string. Case is kept: uniqueness and sign-in compare case-insensitively in SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// NFC (canonical composition), not NFKC: compatibility folding would merge addresses a mail
/// server may well tell apart (e.g. "ﬁ" and "fi"); canonical forms are the same text.
fn nfc(s: &str) -> String {
    s.nfc().collect()
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let email = nfc(raw.trim());
        let email = email.as_str();
        let invalid = |msg: &str| FieldError::new("email", "invalid_email", msg);
        if email.is_empty() {
            return Err(invalid("Enter an email address."));
        }
        if email.chars().count() > MAX_EMAIL_CHARS {
            return Err(invalid("An email address has at most 254 characters."));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(invalid(
                "Enter a valid email address, like name@example.com.",
            ));
        };
        let bad_char = |c: char| c.is_whitespace() || c.is_control();
        if local.is_empty()
            || local.len() > 64
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || email.chars().any(bad_char)
        {
            return Err(invalid(
                "Enter a valid email address, like name@example.com.",
            ));
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a sign-in looks an account up (and rate-limits) by: the trimmed input in NFC, or nothing
/// when it cannot be an address we would have accepted (so no query is made for it).
pub fn sign_in_email(raw: &str) -> Option<String> {
    let email = nfc(raw.trim());
    (!email.is_empty() && email.chars().count() <= MAX_EMAIL_CHARS).then_some(email)
}

/// An optional display name: trimmed, blank means none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: Option<&str>) -> Result<Option<Self>, FieldError> {
        let Some(name) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "invalid_name",
                "Use at most 100 characters, without control characters.",
            ));
        }
        Ok(Some(Self(name.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy for a new credential (length, not a common password), in
/// the NFKC form that is checked and hashed. Held as a secret: its `Debug` prints `[REDACTED]`.
#[derive(Debug)]
pub struct NewPassword(SecretString);

impl NewPassword {
    /// Checks the policy on a blocking thread: zxcvbn takes milliseconds on long inputs.
    pub async fn parse(raw: SecretString) -> anyhow::Result<Result<Self, FieldError>> {
        tokio::task::spawn_blocking(move || {
            let normalized = password::normalize(&raw);
            password::check_policy(normalized.expose_secret()).map(|()| Self(normalized))
        })
        .await
        .map_err(anyhow::Error::from)
    }

    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_shape_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.com ").expect("valid").as_str(),
            "Ada@Example.com"
        );
        for bad in [
            "",
            "no-at-sign",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@.com",
            "a@example.",
        ] {
            assert_eq!(
                Email::parse(bad).map_err(|e| e.code),
                Err("invalid_email".to_owned()),
                "{bad:?}"
            );
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn emails_are_nfc_normalised_but_keep_their_case() {
        let composed = Email::parse("Ren\u{e9}@example.com").expect("valid");
        let decomposed = Email::parse("Rene\u{301}@example.com").expect("valid");
        assert_eq!(composed, decomposed);
        assert_eq!(composed.as_str(), "Ren\u{e9}@example.com");
        assert_eq!(
            sign_in_email(" rene\u{301}@example.com ").as_deref(),
            Some("ren\u{e9}@example.com")
        );
        // Compatibility forms are not folded: that would merge addresses a mail server need not.
        assert_ne!(
            Email::parse("\u{fb01}x@example.com")
                .expect("valid")
                .as_str(),
            "fix@example.com"
        );
    }

    #[test]
    fn names_are_optional_and_bounded() {
        assert_eq!(UserName::parse(None), Ok(None));
        assert_eq!(UserName::parse(Some("   ")), Ok(None));
        assert_eq!(
            UserName::parse(Some(" Ada ")).map(|n| n.map(|n| n.as_str().to_owned())),
            Ok(Some("Ada".to_owned()))
        );
        assert!(UserName::parse(Some(&"x".repeat(101))).is_err());
        assert!(UserName::parse(Some("a\u{7}b")).is_err());
    }

    #[tokio::test]
    async fn new_passwords_follow_the_policy_and_never_print() {
        let ok = NewPassword::parse("correct horse battery staple".into())
            .await
            .expect("ran")
            .expect("valid");
        assert!(!format!("{ok:?}").contains("horse"));
        let short = NewPassword::parse("short".into()).await.expect("ran");
        assert_eq!(
            short.map_err(|e| e.code).err().as_deref(),
            Some("password_too_short")
        );
    }

    #[tokio::test]
    async fn new_passwords_are_checked_and_kept_in_nfkc() {
        let decomposed = NewPassword::parse("cafe\u{301} au lait, s'il vous pla\u{ee}t".into())
            .await
            .expect("ran")
            .expect("valid");
        assert_eq!(
            decomposed.into_secret().expose_secret(),
            "caf\u{e9} au lait, s'il vous pla\u{ee}t"
        );
        // Full-width "password" is the most common password once normalised.
        let wide = NewPassword::parse(
            "\u{ff50}\u{ff41}\u{ff53}\u{ff53}\u{ff57}\u{ff4f}\u{ff52}\u{ff44}".into(),
        )
        .await
        .expect("ran");
        assert_eq!(
            wide.map_err(|e| e.code).err().as_deref(),
            Some("password_too_common")
        );
        // Length counts the normalised code points: 7 letters plus a combining accent is 7.
        let short = NewPassword::parse("abcdefe\u{301}".into())
            .await
            .expect("ran");
        assert_eq!(
            short.map_err(|e| e.code).err().as_deref(),
            Some("password_too_short")
        );
    }
}
