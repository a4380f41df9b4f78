//! A software passkey authenticator for tests: a P-256 key that answers the service's creation
//! and request options with WebAuthn Level 3 JSON (`credential.toJSON()`), exactly as a browser
//! would send them — "none" attestation, user presence and verification flags, a sign counter.
//! The whole ceremony in a real browser is the web app's Chromium test; this lets the Rust tests
//! drive every failure a browser would never produce (replays, clones, a wrong origin).

#![allow(dead_code)]

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

pub const ORIGIN: &str = "http://localhost:3000";
pub const RP_ID: &str = "localhost";

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;

pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    /// The user handle the service gave at registration (`user.id` of the options).
    pub user_handle: Vec<u8>,
    pub counter: u32,
    /// What the authenticator reports; tests flip these to play a broken or hostile one.
    pub origin: String,
    pub user_verified: bool,
}

impl SoftPasskey {
    /// Answers creation options: the new authenticator and its `credential.toJSON()`.
    pub fn register(options: &Value) -> (Self, Value) {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("key");
        let mut credential_id = vec![0u8; 16];
        aws_lc_rs::rand::fill(&mut credential_id).expect("random");
        let user_handle = B64
            .decode(options["user"]["id"].as_str().expect("user.id"))
            .expect("user.id base64url");
        let passkey = Self {
            key,
            credential_id,
            user_handle,
            counter: 0,
            origin: ORIGIN.to_owned(),
            user_verified: true,
        };
        let credential = passkey.attest(options);
        (passkey, credential)
    }

    /// `credential.toJSON()` of a creation for `options` (another registration of the same key).
    pub fn attest(&self, options: &Value) -> Value {
        let client_data = self.client_data("webauthn.create", options);
        let public = self.key.public_key().as_ref();
        // SEC1 uncompressed point: 0x04 || x || y.
        let (x, y) = (&public[1..33], &public[33..65]);
        let mut cose = Vec::new();
        cbor_map(&mut cose, 5);
        cbor_int(&mut cose, 1);
        cbor_int(&mut cose, 2); // kty: EC2
        cbor_int(&mut cose, 3);
        cbor_int(&mut cose, -7); // alg: ES256
        cbor_int(&mut cose, -1);
        cbor_int(&mut cose, 1); // crv: P-256
        cbor_int(&mut cose, -2);
        cbor_bytes(&mut cose, x);
        cbor_int(&mut cose, -3);
        cbor_bytes(&mut cose, y);

        let mut auth_data = self.auth_data_head(FLAG_AT, self.counter);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        let id_len = u16::try_from(self.credential_id.len()).expect("id length");
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);

        let mut attestation = Vec::new();
        cbor_map(&mut attestation, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        cbor_map(&mut attestation, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);

        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {"credProps": {"rk": true}},
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "attestationObject": B64.encode(attestation),
                "transports": ["internal"],
                "publicKeyAlgorithm": -7,
            },
        })
    }

    /// Answers request options with the next sign counter: `credential.toJSON()` of the assertion.
    pub fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        self.assert_with_counter(options, self.counter)
    }

    pub fn assert_with_counter(&self, options: &Value, counter: u32) -> Value {
        let client_data = self.client_data("webauthn.get", options);
        let auth_data = self.auth_data_head(0, counter);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest(&SHA256, &client_data).as_ref());
        let signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .expect("signature");
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "authenticatorData": B64.encode(auth_data),
                "signature": B64.encode(signature.as_ref()),
                "userHandle": B64.encode(&self.user_handle),
            },
        })
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["challenge"].as_str().expect("challenge");
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .expect("client data")
    }

    fn auth_data_head(&self, extra_flags: u8, counter: u32) -> Vec<u8> {
        let mut data = digest(&SHA256, RP_ID.as_bytes()).as_ref().to_vec();
        let uv = if self.user_verified { FLAG_UV } else { 0 };
        data.push(FLAG_UP | uv | extra_flags);
        data.extend_from_slice(&counter.to_be_bytes());
        data
    }
}

// Just enough CBOR (RFC 8949) for an attestation object and a COSE key.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | u8::try_from(n).expect("small")),
        24..=0xff => out.extend_from_slice(&[m | 24, u8::try_from(n).expect("u8")]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&u16::try_from(n).expect("u16").to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend_from_slice(&u32::try_from(n).expect("u32").to_be_bytes());
        }
    }
}

fn cbor_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        cbor_head(out, 0, n.unsigned_abs());
    } else {
        cbor_head(out, 1, (-1 - n).unsigned_abs());
    }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    cbor_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn cbor_map(out: &mut Vec<u8>, pairs: u64) {
    cbor_head(out, 5, pairs);
}
