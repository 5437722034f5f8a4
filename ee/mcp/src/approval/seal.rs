//! The sealed `requestState` of the 2026-07-28 protocol: what the server hands a client with an
//! `InputRequiredResult` and gets back, unchanged, on the retry. The client controls it, so it is
//! AES-256-GCM sealed: a small versioned JSON payload binding the approval id, the tenant, the
//! principal, the method, the tool, the argument digest and an expiry.
//!
//! Text form: `v1.` + base64url(key id ‖ nonce ‖ ciphertext ‖ tag), the key id being 8 bytes of a
//! hash of the key, so that a state sealed under another key (another instance, a rotated key) is
//! told apart from a tampered one. Sealing does not make a state single-use: the approval's
//! consumption does that (`store::consume`).
//!
//! The key comes from `--approval-state-key` or, when none is configured, is generated once and
//! stored in `mcp_secrets` (every replica reads the same row, and it survives restarts). It is
//! never logged: its `Debug` is redacted.

use std::fmt;
use std::str::FromStr;

use alga_core::DbConn;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime};
use diesel::prelude::*;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use serde::{Deserialize, Serialize};

use crate::schema::mcp_secrets;

const PREFIX: &str = "v1.";
const PAYLOAD_VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Binds the ciphertext to its purpose and format version.
const AAD: &[u8] = b"alga requestState v1";
/// The `mcp_secrets` row holding the generated key.
const SECRET_NAME: &str = "request_state_key";
/// The longest text `open` reads: a payload is a few hundred bytes.
const MAX_TEXT: usize = 4096;

/// An AES-256 key. Its `Debug` never shows it. Boxed: it sits in the server's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct SealKey(Box<[u8; 32]>);

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

impl SealKey {
    pub fn new(bytes: [u8; 32]) -> SealKey {
        SealKey(Box::new(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Result<SealKey, SealError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| SealError::Crypto(format!("no randomness: {e}")))?;
        Ok(SealKey::new(bytes))
    }

    /// The key as configured: 32 bytes as 64 hex digits or unpadded base64url.
    pub fn parse(text: &str) -> Result<SealKey, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| e.to_string())?
        } else {
            URL_SAFE_NO_PAD
                .decode(text)
                .map_err(|_| "must be 32 bytes as 64 hex digits or unpadded base64url".to_owned())?
        };
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|_| "must be 32 bytes (64 hex digits or 43 base64url characters)".to_owned())?;
        Ok(SealKey::new(bytes))
    }

    fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(*self.0)
    }

    fn id(&self) -> [u8; KEY_ID_LEN] {
        let mut input = b"alga requestState key id ".to_vec();
        input.extend_from_slice(&*self.0);
        let hash = openssl::sha::sha256(&input);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&hash[..KEY_ID_LEN]);
        id
    }
}

impl FromStr for SealKey {
    type Err = String;

    fn from_str(text: &str) -> Result<SealKey, String> {
        SealKey::parse(text)
    }
}

/// What a sealed state binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub approval_id: String,
    pub tenant_id: String,
    /// `agent:<id>` or `user:<id>`.
    pub principal: String,
    /// The JSON-RPC method (`tools/call`).
    pub method: String,
    pub tool: String,
    pub args_digest: String,
    /// UTC; the state opens only before it.
    pub expires_at: NaiveDateTime,
}

/// What a retry must match, besides the expiry: everything a state binds except the approval id
/// (the caller reads that from the state to find the approval).
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub tenant_id: &'a str,
    pub principal: &'a str,
    pub method: &'a str,
    pub tool: &'a str,
    pub args_digest: &'a str,
}

impl State {
    /// Whether this state was issued for exactly this call; the first differing field otherwise.
    fn check(&self, call: &Binding<'_>) -> Result<(), SealError> {
        let fields = [
            ("tenant", self.tenant_id.as_str(), call.tenant_id),
            ("principal", &self.principal, call.principal),
            ("method", &self.method, call.method),
            ("tool", &self.tool, call.tool),
            ("arguments", &self.args_digest, call.args_digest),
        ];
        match fields.iter().find(|(_, sealed, given)| sealed != given) {
            Some((field, _, _)) => Err(SealError::Mismatch(field)),
            None => Ok(()),
        }
    }
}

/// The sealed JSON, versioned; short names keep the state short.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    v: u8,
    apr: String,
    ten: String,
    sub: String,
    mth: String,
    tool: String,
    dig: String,
    exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the request state is not one this server issued (malformed)")]
    Malformed,
    #[error("the request state has an unsupported version")]
    UnsupportedVersion,
    #[error("the request state was sealed with another key")]
    WrongKey,
    #[error("the request state was altered")]
    Tampered,
    #[error("the request state has expired")]
    Expired,
    #[error("the request state was issued for another call (its {0} differs)")]
    Mismatch(&'static str),
    #[error("sealing failed: {0}")]
    Crypto(String),
}

/// Seals `state` under `key`.
pub fn seal(key: &SealKey, state: &State) -> Result<String, SealError> {
    let payload = Payload {
        v: PAYLOAD_VERSION,
        apr: state.approval_id.clone(),
        ten: state.tenant_id.clone(),
        sub: state.principal.clone(),
        mth: state.method.clone(),
        tool: state.tool.clone(),
        dig: state.args_digest.clone(),
        exp: state.expires_at.and_utc().timestamp(),
    };
    let plain = serde_json::to_vec(&payload).map_err(|e| SealError::Crypto(e.to_string()))?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| SealError::Crypto(format!("no randomness: {e}")))?;
    let key_id = key.id();
    let mut tag = [0u8; TAG_LEN];
    let sealed = encrypt_aead(Cipher::aes_256_gcm(), &*key.0, Some(&nonce), &aad(&key_id), &plain, &mut tag)
        .map_err(|e| SealError::Crypto(e.to_string()))?;
    let mut bytes = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + sealed.len() + TAG_LEN);
    bytes.extend_from_slice(&key_id);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&sealed);
    bytes.extend_from_slice(&tag);
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Opens a state sealed by [`seal`] under `key` for the call retrying with it, refusing it once
/// `now` (UTC) reaches its expiry, or when it was issued for another call: the check is part of
/// opening, so no caller can forget it.
pub fn open(key: &SealKey, text: &str, call: &Binding<'_>, now: NaiveDateTime) -> Result<State, SealError> {
    if text.len() > MAX_TEXT {
        return Err(SealError::Malformed);
    }
    let Some(body) = text.strip_prefix(PREFIX) else {
        return Err(match text.split_once('.') {
            Some((version, _)) if version.starts_with('v') => SealError::UnsupportedVersion,
            _ => SealError::Malformed,
        });
    };
    let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::Malformed)?;
    if bytes.len() < KEY_ID_LEN + NONCE_LEN + TAG_LEN {
        return Err(SealError::Malformed);
    }
    let (key_id, rest) = bytes.split_at(KEY_ID_LEN);
    if key_id != key.id() {
        return Err(SealError::WrongKey);
    }
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (sealed, tag) = rest.split_at(rest.len() - TAG_LEN);
    let plain = decrypt_aead(Cipher::aes_256_gcm(), &*key.0, Some(nonce), &aad(key_id), sealed, tag)
        .map_err(|_| SealError::Tampered)?;
    // Authentic, so ours: a payload that does not parse is a format this version does not read.
    let payload: Payload = serde_json::from_slice(&plain).map_err(|_| SealError::UnsupportedVersion)?;
    if payload.v != PAYLOAD_VERSION {
        return Err(SealError::UnsupportedVersion);
    }
    let expires_at = DateTime::from_timestamp(payload.exp, 0).ok_or(SealError::Malformed)?.naive_utc();
    if now >= expires_at {
        return Err(SealError::Expired);
    }
    let state = State {
        approval_id: payload.apr,
        tenant_id: payload.ten,
        principal: payload.sub,
        method: payload.mth,
        tool: payload.tool,
        args_digest: payload.dig,
        expires_at,
    };
    state.check(call)?;
    Ok(state)
}

fn aad(key_id: &[u8]) -> Vec<u8> {
    [AAD, key_id].concat()
}

/// The key sealing states: the configured one, else the one stored in the database, generated
/// and stored by whichever replica needs it first (insert if absent, then read back: concurrent
/// replicas all end with the row that won).
pub fn state_key(conn: &mut DbConn, configured: Option<&SealKey>) -> Result<SealKey, alga_core::ApiError> {
    if let Some(key) = configured {
        return Ok(key.clone());
    }
    let existing = read_key(conn)?;
    if let Some(key) = existing {
        return Ok(key);
    }
    let candidate = SealKey::generate().map_err(|e| alga_core::ApiError::internal(&e))?.encoded();
    let now = alga_core::identity::now();
    let row = (mcp_secrets::name.eq(SECRET_NAME), mcp_secrets::secret.eq(&candidate), mcp_secrets::created_at.eq(now));
    alga_core::on_backend!(&mut *conn, |c| diesel::insert_into(mcp_secrets::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    read_key(conn)?.ok_or_else(|| alga_core::ApiError::internal(&"the stored request-state key vanished"))
}

fn read_key(conn: &mut DbConn) -> Result<Option<SealKey>, alga_core::ApiError> {
    let stored: Option<String> = mcp_secrets::table
        .filter(mcp_secrets::name.eq(SECRET_NAME))
        .select(mcp_secrets::secret)
        .first(conn)
        .optional()?;
    stored
        .map(|text| {
            SealKey::parse(&text).map_err(|_| {
                // Never the value itself: it is a secret.
                alga_core::ApiError::internal(&"the stored request-state key is not a valid key")
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::Duration;

    fn state() -> State {
        State {
            approval_id: "apr_0123456789abcdef0123456789abcdef".into(),
            tenant_id: "tenant-1".into(),
            principal: "agent:a1".into(),
            method: "tools/call".into(),
            tool: "call_api_endpoint".into(),
            args_digest: "ab".repeat(32),
            expires_at: DateTime::from_timestamp(2_000_000_000, 0).unwrap().naive_utc(),
        }
    }

    fn before_expiry() -> NaiveDateTime {
        state().expires_at - Duration::seconds(1)
    }

    const DIGEST: &str = "abababababababababababababababababababababababababababababababab";

    /// The call [`state`] was issued for.
    fn call() -> Binding<'static> {
        Binding {
            tenant_id: "tenant-1",
            principal: "agent:a1",
            method: "tools/call",
            tool: "call_api_endpoint",
            args_digest: DIGEST,
        }
    }

    #[test]
    fn a_sealed_state_opens_to_itself_and_binds_its_call() {
        let key = SealKey::generate().unwrap();
        let text = seal(&key, &state()).unwrap();
        assert!(text.starts_with("v1."), "{text}");
        assert!(!text.contains("tenant-1") && !text.contains("agent:a1"), "the payload is encrypted");
        assert_eq!(state().args_digest, DIGEST);
        let opened = open(&key, &text, &call(), before_expiry()).unwrap();
        assert_eq!(opened, state());
        // A second seal of the same state differs (fresh nonce).
        assert_ne!(seal(&key, &state()).unwrap(), text);

        let other = "cd".repeat(32);
        let opens_for = |call: Binding<'_>| open(&key, &text, &call, before_expiry()).map(|_| ());
        assert_eq!(opens_for(Binding { args_digest: &other, ..call() }), Err(SealError::Mismatch("arguments")));
        assert_eq!(opens_for(Binding { principal: "agent:a2", ..call() }), Err(SealError::Mismatch("principal")));
        assert_eq!(opens_for(Binding { tenant_id: "tenant-2", ..call() }), Err(SealError::Mismatch("tenant")));
        assert_eq!(opens_for(Binding { tool: "search", ..call() }), Err(SealError::Mismatch("tool")));
        assert_eq!(opens_for(Binding { method: "prompts/get", ..call() }), Err(SealError::Mismatch("method")));
    }

    #[test]
    fn tampered_wrong_key_expired_and_malformed_states_are_told_apart() {
        let key = SealKey::generate().unwrap();
        let text = seal(&key, &state()).unwrap();

        // Every single flipped bit of the ciphertext or tag is detected.
        let bytes = URL_SAFE_NO_PAD.decode(&text[3..]).unwrap();
        for i in KEY_ID_LEN..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            let altered = format!("v1.{}", URL_SAFE_NO_PAD.encode(&altered));
            assert_eq!(open(&key, &altered, &call(), before_expiry()), Err(SealError::Tampered), "byte {i}");
        }
        // Truncated.
        let short = format!("v1.{}", URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() - 1]));
        assert_eq!(open(&key, &short, &call(), before_expiry()), Err(SealError::Tampered));

        let other = SealKey::generate().unwrap();
        assert_eq!(open(&other, &text, &call(), before_expiry()), Err(SealError::WrongKey));

        assert_eq!(open(&key, &text, &call(), state().expires_at), Err(SealError::Expired));
        assert_eq!(open(&key, &text, &call(), state().expires_at + Duration::hours(1)), Err(SealError::Expired));

        for bad in ["", "v1.", "v1.!!!", "garbage", "v1.AAAA", &"v1.A".repeat(2000)] {
            assert_eq!(open(&key, bad, &call(), before_expiry()), Err(SealError::Malformed), "{bad:.20}");
        }
        assert_eq!(
            open(&key, &text.replacen("v1.", "v2.", 1), &call(), before_expiry()),
            Err(SealError::UnsupportedVersion)
        );
    }

    #[test]
    fn keys_parse_from_hex_or_base64url_and_never_show() {
        let bytes = [7u8; 32];
        let hex_form = hex::encode(bytes);
        let b64 = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(SealKey::parse(&hex_form).unwrap(), SealKey::new(bytes));
        assert_eq!(SealKey::parse(&b64).unwrap(), SealKey::new(bytes));
        assert!(SealKey::parse("short").is_err());
        assert!(SealKey::parse(&URL_SAFE_NO_PAD.encode([1u8; 16])).is_err());
        assert_eq!(format!("{:?}", SealKey::new(bytes)), "SealKey(<redacted>)");
        assert!(!format!("{:?}", SealKey::new(bytes)).contains(&hex_form));
    }
}
