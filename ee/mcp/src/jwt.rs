//! JWT verification rules: the crate `alga-ee-jwt` (`ee/jwt`), kept apart so that the fuzz
//! workspace builds them alone; re-exported here. Each rule has a test below, and the token
//! helpers below serve this crate's other tests.

pub use alga_ee_jwt::*;

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, SystemTime};

    use josekit::jwk::Jwk;
    use josekit::jws::{ES256, HS256, JwsHeader, RS256};
    use josekit::jwt::{self, JwtPayload};

    use super::*;

    pub const ISSUER: &str = "https://idp.test";
    pub const AUDIENCE: &str = "https://alga.test/api/mcp";

    pub fn es256_pair(kid: &str) -> (Jwk, Jwk) {
        let pair = ES256.generate_key_pair().unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id(kid);
        let mut private = pair.to_jwk_private_key();
        private.set_key_id(kid);
        (public, private)
    }

    pub fn claims(sub: &str) -> JwtPayload {
        let mut claims = JwtPayload::new();
        claims.set_issuer(ISSUER);
        claims.set_audience(vec![AUDIENCE]);
        claims.set_subject(sub);
        claims.set_expires_at(&(SystemTime::now() + Duration::from_secs(300)));
        claims.set_issued_at(&SystemTime::now());
        claims
    }

    pub fn sign_es256(private: &Jwk, claims: &JwtPayload) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        if let Some(kid) = private.key_id() {
            header.set_key_id(kid);
        }
        jwt::encode_with_signer(claims, &header, &ES256.signer_from_jwk(private).unwrap()).unwrap()
    }

    fn check(token: &str, public: &Jwk) -> Result<JwtPayload, Rejection> {
        verify(token, &ES256.verifier_from_jwk(public).unwrap(), ISSUER, AUDIENCE, SystemTime::now())
    }

    #[test]
    fn a_good_token_passes_and_names_its_subject() {
        let (public, private) = es256_pair("k1");
        let token = sign_es256(&private, &claims("agent-1"));
        let seen = inspect(&token).unwrap();
        assert_eq!(
            (seen.algorithm.as_str(), seen.kid.as_deref(), seen.issuer.as_str(), &seen.claims["sub"]),
            ("ES256", Some("k1"), ISSUER, &serde_json::json!("agent-1"))
        );
        let payload = check(&token, &public).unwrap();
        assert_eq!(subject(&payload, "sub").unwrap(), "agent-1");
        assert_eq!(subject(&payload, "azp"), Err(Rejection::NoSubject("azp".into())));
    }

    #[test]
    fn claim_rules() {
        let (public, private) = es256_pair("k1");
        let now = SystemTime::now();
        type Change = Box<dyn Fn(&mut JwtPayload)>;
        let cases: Vec<(Change, Rejection)> = vec![
            (Box::new(|c| c.set_issuer("https://evil.test")), Rejection::UnknownIssuer("https://evil.test".into())),
            (Box::new(|c| c.set_audience(vec!["https://other.test"])), Rejection::WrongAudience(AUDIENCE.into())),
            (Box::new(|c| c.set_claim("aud", None).unwrap()), Rejection::WrongAudience(AUDIENCE.into())),
            (Box::new(|c| c.set_claim("exp", None).unwrap()), Rejection::NoExpiry),
            (Box::new(move |c| c.set_expires_at(&(now - Duration::from_secs(61)))), Rejection::Expired),
            (Box::new(move |c| c.set_not_before(&(now + Duration::from_secs(120)))), Rejection::NotYetValid),
            (Box::new(move |c| c.set_issued_at(&(now + Duration::from_secs(120)))), Rejection::IssuedInFuture),
        ];
        for (change, expected) in cases {
            let mut c = claims("a");
            change(&mut c);
            assert_eq!(check(&sign_es256(&private, &c), &public).unwrap_err(), expected);
        }
        // Within the leeway: just expired, not-before and issued-at slightly ahead.
        let mut c = claims("a");
        c.set_expires_at(&(now - Duration::from_secs(30)));
        c.set_not_before(&(now + Duration::from_secs(30)));
        c.set_issued_at(&(now + Duration::from_secs(30)));
        assert!(check(&sign_es256(&private, &c), &public).is_ok());
        // A string audience counts as a one-element list.
        let mut c = claims("a");
        c.set_claim("aud", Some(serde_json::json!(AUDIENCE))).unwrap();
        assert!(check(&sign_es256(&private, &c), &public).is_ok());
    }

    #[test]
    fn signatures_and_algorithms() {
        let (public, private) = es256_pair("k1");
        let (_, other) = es256_pair("k1");
        let forged = sign_es256(&other, &claims("a"));
        assert_eq!(check(&forged, &public).unwrap_err(), Rejection::BadSignature);
        // alg none: an unsigned token.
        let unsigned = jwt::encode_unsecured(&claims("a"), &JwsHeader::new()).unwrap();
        assert_eq!(inspect(&unsigned).unwrap_err(), Rejection::Algorithm("none".into()));
        // HS256 "signed" with the public key's bytes: refused by algorithm before any key is used.
        let rsa = RS256.generate_key_pair(2048).unwrap();
        let hs = jwt::encode_with_signer(
            &claims("a"),
            &JwsHeader::new(),
            &HS256.signer_from_bytes(rsa.to_pem_public_key()).unwrap(),
        )
        .unwrap();
        assert_eq!(inspect(&hs).unwrap_err(), Rejection::Algorithm("HS256".into()));
        // An ES256 token checked with an RS256 verifier fails: josekit matches alg and key.
        let mut rsa_public = rsa.to_jwk_public_key();
        rsa_public.set_key_id("k1");
        let token = sign_es256(&private, &claims("a"));
        let rs = RS256.verifier_from_jwk(&rsa_public).unwrap();
        assert_eq!(verify(&token, &rs, ISSUER, AUDIENCE, SystemTime::now()).unwrap_err(), Rejection::BadSignature);
    }

    #[test]
    fn size_type_and_shape() {
        let (_, private) = es256_pair("k1");
        let mut c = claims("a");
        c.set_claim("pad", Some(serde_json::json!("x".repeat(MAX_TOKEN_BYTES)))).unwrap();
        assert_eq!(inspect(&sign_es256(&private, &c)).unwrap_err(), Rejection::TooLarge);
        let mut header = JwsHeader::new();
        header.set_token_type("secevent+jwt");
        let token = jwt::encode_with_signer(&claims("a"), &header, &ES256.signer_from_jwk(&private).unwrap()).unwrap();
        assert_eq!(inspect(&token).unwrap_err(), Rejection::BadType);
        let mut c = claims("a");
        c.set_claim("iss", None).unwrap();
        assert_eq!(inspect(&sign_es256(&private, &c)).unwrap_err(), Rejection::NoIssuer);
        assert!(!looks_like_jwt("alga_0123"));
        assert!(looks_like_jwt("a.b.c"));
        assert_eq!(inspect("a.b.c").unwrap_err(), Rejection::Malformed);
    }
}
