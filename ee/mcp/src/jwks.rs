//! Identity providers' signing keys: fetched over HTTPS, turned into verifiers once per fetch, and
//! cached per JWKS URL.
//!
//! - An entry lives for the provider's `Cache-Control: max-age`, bounded to [1 min, 6 h], else
//!   10 min; concurrent misses share one fetch (moka `get_with`).
//! - An unknown `kid` refetches at most once per 30 s per URL (key rotation).
//! - When a fetch fails, the last good keys keep serving until they are 24 h old; either way the
//!   failure is remembered and retried at most every 30 s, so neither an outage nor tokens naming
//!   a failing provider make each request wait for a fetch.
//! - Fetches go through [`crate::egress`]: public addresses only, 5 s, bodies up to 1 MiB.

use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use josekit::jwk::{Jwk, JwkSet};
use josekit::jws::{ES256, EdDSA, JwsVerifier, PS256, RS256};

use crate::egress::{FetchError, IdpClient};
use crate::jwt::Rejection;

const DEFAULT_TTL: Duration = Duration::from_secs(600);
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(6 * 3600);
const REFETCH_EVERY: Duration = Duration::from_secs(30);
const STALE_FOR: Duration = Duration::from_secs(24 * 3600);

/// One published key and the verifiers it allows, by algorithm.
struct Key {
    kid: Option<String>,
    verifiers: Vec<(&'static str, Box<dyn JwsVerifier>)>,
}

/// The verifiers of one fetch of a JWKS.
pub struct KeySet {
    keys: Arc<Vec<Key>>,
    fetched_at: Instant,
    ttl: Duration,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("keys", &self.keys.len()).field("ttl", &self.ttl).finish()
    }
}

impl KeySet {
    /// Parses a JWKS document, keeping the signing keys this server can use.
    pub fn parse(json: &[u8], ttl: Duration) -> Result<KeySet, FetchError> {
        let set = JwkSet::from_bytes(json).map_err(|_| FetchError::Malformed("a JWKS document"))?;
        let keys: Vec<Key> = set
            .keys()
            .into_iter()
            .filter(|jwk| jwk.key_use().is_none_or(|u| u == "sig"))
            .filter_map(|jwk| {
                let verifiers = verifiers_for(jwk);
                (!verifiers.is_empty()).then(|| Key { kid: jwk.key_id().map(str::to_owned), verifiers })
            })
            .collect();
        Ok(KeySet { keys: Arc::new(keys), fetched_at: Instant::now(), ttl })
    }

    /// The verifier for a token's `kid` and `alg`. Without a `kid` the set must hold exactly one
    /// signing key.
    pub fn verifier(&self, kid: Option<&str>, algorithm: &str) -> Result<&dyn JwsVerifier, Rejection> {
        let key = match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or_else(|| Rejection::UnknownKey(kid.chars().take(64).collect()))?,
            None => match self.keys.as_slice() {
                [only] => only,
                _ => return Err(Rejection::KidRequired),
            },
        };
        key.verifiers
            .iter()
            .find(|(alg, _)| *alg == algorithm)
            .map(|(_, v)| v.as_ref())
            .ok_or_else(|| Rejection::KeyAlgorithm(algorithm.to_owned()))
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    fn age(&self) -> Duration {
        self.fetched_at.elapsed()
    }

    /// The same keys, served again for `ttl` (after a failed refresh).
    fn reserved(&self, ttl: Duration) -> KeySet {
        KeySet { keys: self.keys.clone(), fetched_at: self.fetched_at, ttl }
    }
}

/// Every verifier a key allows: its `alg` when it names one, else each algorithm of its type.
/// josekit refuses RSA keys under 2048 bits and keys whose `key_ops` exclude `verify`.
fn verifiers_for(jwk: &Jwk) -> Vec<(&'static str, Box<dyn JwsVerifier>)> {
    let mut out: Vec<(&'static str, Box<dyn JwsVerifier>)> = Vec::new();
    let wants = |alg: &str| jwk.algorithm().is_none_or(|a| a == alg);
    match jwk.key_type() {
        "RSA" => {
            if wants("RS256")
                && let Ok(v) = RS256.verifier_from_jwk(jwk)
            {
                out.push(("RS256", Box::new(v)));
            }
            if wants("PS256")
                && let Some(v) = Ps256Verifier::from_jwk(jwk)
            {
                out.push(("PS256", Box::new(v)));
            }
        }
        "EC" => {
            if wants("ES256")
                && let Ok(v) = ES256.verifier_from_jwk(jwk)
            {
                out.push(("ES256", Box::new(v)));
            }
        }
        "OKP" => {
            if wants("EdDSA")
                && let Ok(v) = EdDSA.verifier_from_jwk(jwk)
            {
                out.push(("EdDSA", Box::new(v)));
            }
        }
        _ => {}
    }
    out
}

/// PS256 over OpenSSL directly: josekit 0.10.3 turns the key into an RSA-PSS key and then fails
/// to read it back as RSA on OpenSSL 3, so its own PS256 verifier cannot be built from a JWK.
#[derive(Debug, Clone)]
struct Ps256Verifier {
    key: openssl::pkey::PKey<openssl::pkey::Public>,
    kid: Option<String>,
}

impl Ps256Verifier {
    fn from_jwk(jwk: &Jwk) -> Option<Ps256Verifier> {
        if !jwk.is_for_key_operation("verify") {
            return None;
        }
        let part = |name: &str| {
            jwk.parameter(name)
                .and_then(|v| v.as_str())
                .and_then(crate::jwt::base64url)
                .and_then(|bytes| openssl::bn::BigNum::from_slice(&bytes).ok())
        };
        let rsa = openssl::rsa::Rsa::from_public_components(part("n")?, part("e")?).ok()?;
        if rsa.size() * 8 < 2048 {
            return None;
        }
        let key = openssl::pkey::PKey::from_rsa(rsa).ok()?;
        Some(Ps256Verifier { key, kid: jwk.key_id().map(str::to_owned) })
    }
}

impl JwsVerifier for Ps256Verifier {
    fn algorithm(&self) -> &dyn josekit::jws::JwsAlgorithm {
        &PS256
    }

    fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), josekit::JoseError> {
        use openssl::hash::MessageDigest;
        use openssl::rsa::Padding;
        use openssl::sign::{RsaPssSaltlen, Verifier};
        let invalid = |e: openssl::error::ErrorStack| josekit::JoseError::InvalidSignature(e.into());
        let mut verifier = Verifier::new(MessageDigest::sha256(), &self.key).map_err(invalid)?;
        verifier.set_rsa_padding(Padding::PKCS1_PSS).map_err(invalid)?;
        verifier.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).map_err(invalid)?;
        verifier.set_rsa_mgf1_md(MessageDigest::sha256()).map_err(invalid)?;
        match verifier.verify_oneshot(signature, message) {
            Ok(true) => Ok(()),
            Ok(false) => Err(josekit::JoseError::InvalidSignature(anyhow::anyhow!("signature mismatch"))),
            Err(e) => Err(invalid(e)),
        }
    }

    fn box_clone(&self) -> Box<dyn JwsVerifier> {
        Box::new(self.clone())
    }
}

struct PerEntryTtl;

/// What the cache holds for a URL: its keys, or a failed fetch with no keys to fall back on.
#[derive(Clone)]
enum Entry {
    Keys(Arc<KeySet>),
    Failed,
}

impl moka::Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(match value {
            Entry::Keys(set) => set.ttl,
            Entry::Failed => REFETCH_EVERY,
        })
    }
}

/// Fetch counters, exported as metrics.
#[derive(Debug, Default)]
pub struct JwksStats {
    pub fetches: Counter,
    pub failures: Counter,
}

/// The JWKS cache shared by every request.
pub struct Jwks {
    http: IdpClient,
    cache: moka::future::Cache<String, Entry>,
    last_good: Mutex<HashMap<String, Arc<KeySet>>>,
    refetched: Mutex<HashMap<String, Instant>>,
    pub stats: JwksStats,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks").field("cached", &self.cache.entry_count()).finish_non_exhaustive()
    }
}

impl Jwks {
    pub fn new(http: IdpClient) -> Jwks {
        Jwks {
            http,
            cache: moka::future::Cache::builder().max_capacity(10_000).expire_after(PerEntryTtl).build(),
            last_good: Mutex::default(),
            refetched: Mutex::default(),
            stats: JwksStats::default(),
        }
    }

    /// The keys at `uri`, from the cache or one shared fetch.
    pub async fn keys(&self, uri: &str) -> Result<Arc<KeySet>, Rejection> {
        let entry = self
            .cache
            .get_with(uri.to_owned(), async {
                self.stats.fetches.inc();
                match self.fetch(uri).await {
                    Ok(set) => {
                        let set = Arc::new(set);
                        if let Ok(mut good) = self.last_good.lock() {
                            good.insert(uri.to_owned(), set.clone());
                        }
                        Entry::Keys(set)
                    }
                    Err(e) => {
                        self.stats.failures.inc();
                        tracing::warn!(jwks_uri = uri, error = %e, "fetching signing keys failed");
                        let stale = self.last_good.lock().ok().and_then(|good| good.get(uri).cloned());
                        match stale.filter(|s| s.age() < STALE_FOR) {
                            Some(stale) => Entry::Keys(Arc::new(stale.reserved(REFETCH_EVERY))),
                            None => Entry::Failed,
                        }
                    }
                }
            })
            .await;
        match entry {
            Entry::Keys(set) => Ok(set),
            Entry::Failed => Err(Rejection::KeysUnavailable),
        }
    }

    /// Whether the keys last fetched from `uri` (and still cached) include `kid` (any key, for a
    /// token without one); never fetches.
    pub async fn publishes(&self, uri: &str, kid: Option<&str>) -> bool {
        match self.cache.get(uri).await {
            Some(Entry::Keys(set)) => kid.is_none_or(|kid| set.has_kid(kid)),
            _ => false,
        }
    }

    /// The keys at `uri` after a token named a `kid` they lack: refetched, unless that was done
    /// for this URL less than 30 s ago.
    pub async fn keys_with(&self, uri: &str, kid: &str) -> Result<Arc<KeySet>, Rejection> {
        let keys = self.keys(uri).await?;
        if keys.has_kid(kid) {
            return Ok(keys);
        }
        let may_refetch = {
            let Ok(mut refetched) = self.refetched.lock() else { return Ok(keys) };
            let recent = refetched.get(uri).is_some_and(|at| at.elapsed() < REFETCH_EVERY);
            if !recent {
                refetched.insert(uri.to_owned(), Instant::now());
            }
            !recent
        };
        if !may_refetch {
            return Ok(keys);
        }
        self.cache.invalidate(uri).await;
        self.keys(uri).await
    }

    async fn fetch(&self, uri: &str) -> Result<KeySet, FetchError> {
        let fetched = self.http.get(uri).await?;
        let ttl = max_age(&fetched.headers).map_or(DEFAULT_TTL, |age| age.clamp(MIN_TTL, MAX_TTL));
        KeySet::parse(&fetched.body, ttl)
    }
}

fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').find_map(|d| {
        let (name, secs) = d.trim().split_once('=')?;
        name.eq_ignore_ascii_case("max-age").then(|| secs.trim().parse::<u64>().ok().map(Duration::from_secs))?
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use josekit::jwk::JwkSet;
    use josekit::jws::RS256;

    use super::*;
    use crate::jwt::tests::es256_pair;

    fn set_of(keys: &[&Jwk]) -> Vec<u8> {
        let mut set = JwkSet::new();
        for k in keys {
            set.push_key((*k).clone());
        }
        set.to_string().into_bytes()
    }

    /// josekit writes `alg` into generated keys; many providers publish RSA keys without it.
    fn without_alg(jwk: &Jwk) -> Jwk {
        let mut map = jwk.as_ref().clone();
        map.remove("alg");
        Jwk::from_map(map).unwrap()
    }

    #[test]
    fn keys_allow_only_their_algorithms() {
        let (ec, _) = es256_pair("ec");
        let mut rsa = without_alg(&RS256.generate_key_pair(2048).unwrap().to_jwk_public_key());
        rsa.set_key_id("rsa");
        let set = KeySet::parse(&set_of(&[&ec, &rsa]), DEFAULT_TTL).unwrap();
        assert!(set.verifier(Some("ec"), "ES256").is_ok());
        assert_eq!(set.verifier(Some("ec"), "RS256").unwrap_err(), Rejection::KeyAlgorithm("RS256".into()));
        assert!(set.verifier(Some("rsa"), "RS256").is_ok());
        assert!(set.verifier(Some("rsa"), "PS256").is_ok(), "an RSA key without alg allows PS256 too");
        // PS256 signatures verify (and RS256 ones do not pass as PS256).
        let pair = RS256.generate_key_pair(2048).unwrap();
        let mut public = without_alg(&pair.to_jwk_public_key());
        public.set_key_id("pss");
        let pss_set = KeySet::parse(&set_of(&[&public]), DEFAULT_TTL).unwrap();
        let pss_signer = josekit::jws::PS256.signer_from_der(pair.to_der_private_key()).unwrap();
        let claims = crate::jwt::tests::claims("a");
        let mut header = josekit::jws::JwsHeader::new();
        header.set_key_id("pss");
        let token = josekit::jwt::encode_with_signer(&claims, &header, &pss_signer).unwrap();
        let now = std::time::SystemTime::now();
        let (iss, aud) = (crate::jwt::tests::ISSUER, crate::jwt::tests::AUDIENCE);
        assert!(crate::jwt::verify(&token, pss_set.verifier(Some("pss"), "PS256").unwrap(), iss, aud, now).is_ok());
        let rs_signer = RS256.signer_from_der(pair.to_der_private_key()).unwrap();
        let rs_token = josekit::jwt::encode_with_signer(&claims, &header, &rs_signer).unwrap();
        let forged = format!("{}.{}", token.rsplit_once('.').unwrap().0, rs_token.rsplit_once('.').unwrap().1);
        assert!(crate::jwt::verify(&forged, pss_set.verifier(Some("pss"), "PS256").unwrap(), iss, aud, now).is_err());
        assert_eq!(set.verifier(Some("nope"), "ES256").unwrap_err(), Rejection::UnknownKey("nope".into()));
        assert_eq!(set.verifier(None, "ES256").unwrap_err(), Rejection::KidRequired, "two keys: kid required");
        // A key pinned to RS256 does not allow PS256.
        rsa.set_algorithm("RS256");
        let set = KeySet::parse(&set_of(&[&rsa]), DEFAULT_TTL).unwrap();
        assert_eq!(set.verifier(Some("rsa"), "PS256").unwrap_err(), Rejection::KeyAlgorithm("PS256".into()));
        assert!(set.verifier(None, "RS256").is_ok(), "one key: no kid needed");
        // Encryption keys and small RSA keys are left out.
        let mut enc = ec;
        enc.set_key_use("enc");
        // A 1024-bit modulus (all ones), which josekit will not generate.
        let small = serde_json::json!({"kty": "RSA", "kid": "small", "n": "_".repeat(171), "e": "AQAB"});
        let small = Jwk::from_map(small.as_object().unwrap().clone()).unwrap();
        let set = KeySet::parse(&set_of(&[&enc, &small]), DEFAULT_TTL).unwrap();
        assert_eq!(set.verifier(Some("ec"), "ES256").unwrap_err(), Rejection::UnknownKey("ec".into()));
        assert_eq!(set.verifier(Some("small"), "RS256").unwrap_err(), Rejection::UnknownKey("small".into()));
        assert!(KeySet::parse(b"{\"nope\": 1}", DEFAULT_TTL).is_err());
    }

    #[test]
    fn cache_control_max_age() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("cache-control", "public, max-age=3600, must-revalidate".parse().unwrap());
        assert_eq!(max_age(&headers), Some(Duration::from_secs(3600)));
        headers.insert("cache-control", "no-cache".parse().unwrap());
        assert_eq!(max_age(&headers), None);
    }
}
