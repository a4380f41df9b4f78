//! The passkey relying party: webauthn-rs configured from `WEBAUTHN_RP_ID` / `WEBAUTHN_ORIGIN`,
//! and the two adjustments this service makes to its defaults.
//!
//! - Sign-in is username-less (discoverable credentials), so registration asks the authenticator
//!   to keep the credential (`residentKey: required`); webauthn-rs's passkey registration leaves
//!   that to the authenticator.
//! - Ceremony states are stored server-side (`auth.webauthn_challenges`), taken once by the
//!   finishing request on any replica — the storage the crate's documentation calls safe for its
//!   state serialisation.

use std::time::Duration;

use serde_json::Value;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    RequestChallengeResponse, Uuid, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::config::Config;

/// How long a ceremony may take: the browser's prompt times out then, and the stored state
/// expires with it (WebAuthn's recommended 5 minutes).
pub const CEREMONY_TTL: Duration = webauthn_rs::DEFAULT_AUTHENTICATOR_TIMEOUT;

pub struct RelyingParty {
    webauthn: Webauthn,
    rp_id: String,
    origin: url::Url,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("rp_id", &self.rp_id)
            .field("origin", &self.origin.as_str())
            .finish()
    }
}

impl RelyingParty {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let webauthn = WebauthnBuilder::new(&config.webauthn_rp_id, &config.webauthn_origin)
            .map_err(|e| {
                anyhow::anyhow!(
                    "WEBAUTHN_ORIGIN ({}) is not on WEBAUTHN_RP_ID ({}) or a subdomain of it: {e}",
                    config.webauthn_origin,
                    config.webauthn_rp_id
                )
            })?
            .rp_name(&config.app_name)
            .timeout(CEREMONY_TTL)
            .build()
            .map_err(|e| anyhow::anyhow!("passkey settings refused: {e}"))?;
        Ok(Self {
            webauthn,
            rp_id: config.webauthn_rp_id.clone(),
            origin: config.webauthn_origin.clone(),
        })
    }

    /// Options for registering a discoverable passkey for the user, and the state to keep.
    pub fn start_registration(
        &self,
        user_id: Uuid,
        email: &str,
        display_name: &str,
        existing: Vec<Vec<u8>>,
    ) -> Result<(CreationChallengeResponse, PasskeyRegistration), WebauthnError> {
        let exclude = (!existing.is_empty()).then_some(existing);
        let (mut ccr, state) =
            self.webauthn
                .start_passkey_registration(user_id, email, display_name, exclude)?;
        if let Some(selection) = ccr.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        Ok((ccr, state))
    }

    pub fn finish_registration(
        &self,
        credential: &webauthn_rs::prelude::RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
    ) -> Result<Passkey, WebauthnError> {
        self.webauthn.finish_passkey_registration(credential, state)
    }

    /// Options for a username-less sign-in (no `allowCredentials`), and the state to keep.
    pub fn start_signin(
        &self,
    ) -> Result<(RequestChallengeResponse, DiscoverableAuthentication), WebauthnError> {
        self.webauthn.start_discoverable_authentication()
    }

    /// The user and credential id an assertion names (its `userHandle`), before it is verified.
    pub fn identify<'a>(
        &self,
        credential: &'a webauthn_rs::prelude::PublicKeyCredential,
    ) -> Result<(Uuid, &'a [u8]), WebauthnError> {
        self.webauthn
            .identify_discoverable_authentication(credential)
    }

    /// Verifies the assertion against the stored passkey; on success the passkey's counter and
    /// backup flags are brought up to date (`Some(updated)` when they changed).
    pub fn finish_signin(
        &self,
        credential: &webauthn_rs::prelude::PublicKeyCredential,
        state: DiscoverableAuthentication,
        passkey: &mut Passkey,
    ) -> Result<bool, WebauthnError> {
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(credential, state, &*passkey)?;
        Ok(passkey.update_credential(&result).unwrap_or(false))
    }
}

/// The options as WebAuthn Level 3's JSON form: `publicKey` only (the browser's
/// `parse*OptionsFromJSON` takes it), and no empty `allowCredentials` for a discoverable sign-in.
pub fn options_json(public_key: &impl serde::Serialize) -> anyhow::Result<Value> {
    let mut value = serde_json::to_value(public_key)?;
    if let Some(map) = value.as_object_mut()
        && map
            .get("allowCredentials")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
    {
        map.remove("allowCredentials");
    }
    Ok(value)
}
