//! JWT verification rules. josekit does the cryptography (signature and `alg`/key agreement); the
//! claim rules are ours, because josekit leaves `exp` optional, `aud` unchecked when absent and has
//! no leeway. A crate of its own so that the fuzz workspace (`tests/fuzz`, target `jwt_parsing`)
//! reads tokens without building the rest of `alga-ee-mcp` (the policy engine above all);
//! `alga-ee-mcp` re-exports it as `jwt`, where each rule has its test.

use std::time::{Duration, SystemTime};

use josekit::jws::JwsVerifier;
use josekit::jwt::{self, JwtPayload};
use serde_json::Value;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// The signature algorithms accepted, each only with a key of its own type.
pub const ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// Why a token was refused: said in the 401 body and the debug log; the token is never echoed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the token is larger than 16 KiB")]
    TooLarge,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token type (typ) must be JWT or at+jwt")]
    BadType,
    #[error("the signature algorithm {0} is not accepted (RS256, PS256, ES256, EdDSA)")]
    Algorithm(String),
    #[error("the token has no issuer (iss)")]
    NoIssuer,
    #[error("unknown issuer: no active identity provider of this server has issuer {0}")]
    UnknownIssuer(String),
    #[error("the identity provider's signing keys could not be fetched")]
    KeysUnavailable,
    #[error("the token needs a key id (kid): the provider publishes several signing keys")]
    KidRequired,
    #[error("unknown key: the provider publishes no signing key {0}")]
    UnknownKey(String),
    #[error("the key does not allow the algorithm {0}")]
    KeyAlgorithm(String),
    #[error("bad signature")]
    BadSignature,
    #[error("wrong audience: the token is not for {0}")]
    WrongAudience(String),
    #[error("the token has no expiry (exp)")]
    NoExpiry,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("the token has no {0} claim to identify the agent")]
    NoSubject(String),
}

/// What can be read from a token before its signature is checked: only used to pick the issuer's
/// keys, never trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    pub algorithm: String,
    pub kid: Option<String>,
    pub issuer: String,
    /// The payload as sent: for reading ahead only; nothing in it counts until verified.
    pub claims: serde_json::Map<String, Value>,
}

/// Whether a bearer credential looks like a JWT (three base64url parts) rather than an API key.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Reads the header and the issuer; applies the size, `typ` and algorithm rules.
pub fn inspect(token: &str) -> Result<Unverified, Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::TooLarge);
    }
    if !looks_like_jwt(token) {
        return Err(Rejection::Malformed);
    }
    let header = jwt::decode_header(token).map_err(|_| Rejection::Malformed)?;
    if let Some(typ) = header.claim("typ") {
        let typ = typ.as_str().ok_or(Rejection::BadType)?;
        if !typ.eq_ignore_ascii_case("JWT") && !typ.eq_ignore_ascii_case("at+jwt") {
            return Err(Rejection::BadType);
        }
    }
    let algorithm = header.claim("alg").and_then(Value::as_str).ok_or(Rejection::Malformed)?;
    if !ALGORITHMS.contains(&algorithm) {
        return Err(Rejection::Algorithm(algorithm.chars().take(20).collect()));
    }
    let kid = match header.claim("kid") {
        None => None,
        Some(Value::String(kid)) if kid.len() <= 256 => Some(kid.clone()),
        Some(_) => return Err(Rejection::Malformed),
    };
    let payload = token.split('.').nth(1).ok_or(Rejection::Malformed)?;
    let bytes = base64url(payload).ok_or(Rejection::Malformed)?;
    let Value::Object(claims) = serde_json::from_slice(&bytes).map_err(|_| Rejection::Malformed)? else {
        return Err(Rejection::Malformed);
    };
    let issuer = claims.get("iss").and_then(Value::as_str).ok_or(Rejection::NoIssuer)?.to_owned();
    Ok(Unverified { algorithm: algorithm.to_owned(), kid, issuer, claims })
}

/// Checks the signature with `verifier` (whose algorithm must be the header's), then the claims:
/// `iss` equals `issuer`, `aud` contains `audience`, `exp` present and not past, `nbf` and `iat`
/// not in the future, each with [`LEEWAY`].
pub fn verify(
    token: &str,
    verifier: &dyn JwsVerifier,
    issuer: &str,
    audience: &str,
    now: SystemTime,
) -> Result<JwtPayload, Rejection> {
    let (payload, _) = jwt::decode_with_verifier(token, verifier).map_err(|_| Rejection::BadSignature)?;
    if payload.issuer() != Some(issuer) {
        return Err(Rejection::UnknownIssuer(payload.issuer().unwrap_or_default().chars().take(200).collect()));
    }
    if !payload.audience().is_some_and(|aud| aud.contains(&audience)) {
        return Err(Rejection::WrongAudience(audience.to_owned()));
    }
    let Some(exp) = payload.expires_at() else { return Err(Rejection::NoExpiry) };
    if exp + LEEWAY <= now {
        return Err(Rejection::Expired);
    }
    if payload.not_before().is_some_and(|nbf| nbf > now + LEEWAY) {
        return Err(Rejection::NotYetValid);
    }
    if payload.issued_at().is_some_and(|iat| iat > now + LEEWAY) {
        return Err(Rejection::IssuedInFuture);
    }
    Ok(payload)
}

/// The value of the claim that names the agent (`sub`, `azp`, `client_id`, `oid` or `appid`).
pub fn subject(payload: &JwtPayload, claim: &str) -> Result<String, Rejection> {
    match payload.claim(claim) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 512 => Ok(s.clone()),
        _ => Err(Rejection::NoSubject(claim.to_owned())),
    }
}

/// Unpadded base64url (RFC 4648 §5), as JWTs use.
pub fn base64url(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}
