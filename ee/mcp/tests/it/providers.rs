//! Tokens shaped exactly like each real provider's (issuer, audience, claims and header as the
//! provider issues them), signed by RSA keys the test serves as that provider's JWKS: each preset
//! either accepts its provider's shape with its defaults, or the IdP doctor names the setting to
//! change. Also the scopes to request (metadata and challenges) and the required scopes and roles.

use std::time::{SystemTime, UNIX_EPOCH};

use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use serde_json::{Map, Value, json};

use crate::support::{Answer, Env, Provider, Tenant};

/// An RSA signing key, as every one of these providers uses (RS256).
struct RsaKey {
    private: Jwk,
}

impl RsaKey {
    fn new(kid: &str) -> (RsaKey, Jwk) {
        let pair = RS256.generate_key_pair(2048).unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id(kid);
        public.set_algorithm("RS256");
        public.set_key_use("sig");
        let mut private = pair.to_jwk_private_key();
        private.set_key_id(kid);
        (RsaKey { private }, public)
    }

    /// A token with this header `typ` and exactly these claims.
    fn sign(&self, typ: &str, claims: Value) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(self.private.key_id().unwrap());
        let Value::Object(map) = claims else { panic!("claims are an object") };
        let payload = JwtPayload::from_map(map).unwrap();
        jwt::encode_with_signer(&payload, &header, &RS256.signer_from_jwk(&self.private).unwrap()).unwrap()
    }
}

fn unix(offset: i64) -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 + offset
}

/// `iat`, `nbf` and `exp` as providers set them (an hour's lifetime).
fn times(mut claims: Value) -> Value {
    let map: &mut Map<String, Value> = claims.as_object_mut().unwrap();
    map.insert("iat".into(), json!(unix(-60)));
    map.insert("nbf".into(), json!(unix(-60)));
    map.insert("exp".into(), json!(unix(3540)));
    claims
}

const IDPS: &str = "/api/v1/mcp/idp-providers";
const OWN: &str = "/t/tenant-a/api/mcp";

async fn register(env: &Env, body: Value) -> Value {
    env.api(&env.a.admin_key, "POST", IDPS, Some(body)).await.expect(201).data().clone()
}

/// Points a preset's keys (fixed public URLs) at the test's JWKS, as plain SQL: the preset's
/// every other setting stays as registered.
async fn serve_keys_from(env: &Env, idp: &str, provider: &Provider) {
    let statement = format!("UPDATE agent_idp_providers SET jwks_uri = '{}/jwks' WHERE id = '{idp}'", provider.base);
    env.ctx
        .db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(statement).execute(conn).map_err(alga_core::ApiError::from)
        })
        .await
        .unwrap();
}

async fn patch(env: &Env, idp: &str, body: Value) -> Value {
    env.api(&env.a.admin_key, "PATCH", &format!("{IDPS}/{idp}"), Some(body)).await.expect(200).data().clone()
}

async fn doctor(env: &Env, t: &Tenant, token: &str) -> Value {
    let body = json!({ "token": token, "endpoint": "tenant" });
    env.api(&t.admin_key, "POST", "/api/v1/mcp/idp-doctor", Some(body)).await.expect(200).data().clone()
}

async fn list_tools(env: &Env, token: &str) -> Answer {
    env.rpc(OWN, token, "tools/list", json!({})).await
}

#[track_caller]
fn accepted(answer: &Answer) {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["result"]["tools"].as_array().map(Vec::len), Some(3), "{}", answer.body);
}

#[track_caller]
fn refused(answer: &Answer, status: u16, says: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message} should say {says}");
}

const ENTRA_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The app registration that represents Alga (the resource) and the agent's own (the client).
const ENTRA_RESOURCE_APP: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const ENTRA_AGENT_APP: &str = "2d4d11a2-f814-46a7-890a-274a72a7309e";
const ENTRA_AGENT_OBJECT: &str = "a6d7e9a0-54f4-4c4a-8f57-0b8f64bcb0c1";

/// An Entra v2.0 app-only access token (client credentials), as Entra shapes it.
fn entra_v2(key: &RsaKey, roles: &[&str]) -> String {
    key.sign(
        "JWT",
        times(json!({
            "aud": ENTRA_RESOURCE_APP,
            "iss": format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"),
            "aio": "k2BgYDi8ZTnR/3mbv9xzXw8AAA==",
            "azp": ENTRA_AGENT_APP,
            "azpacr": "1",
            "idtyp": "app",
            "oid": ENTRA_AGENT_OBJECT,
            "rh": "0.AXEAv4j5cvGGr0GRqy180BHbR2sXdG5W_kNIn_XmajmNuXxxAAA.",
            "roles": roles,
            "sub": ENTRA_AGENT_OBJECT,
            "tid": ENTRA_TENANT,
            "uti": "bX2mfQdCm0KJ3FvqJuxPAA",
            "ver": "2.0",
        })),
    )
}

/// The same grant as an Entra v1.0 token: another issuer, the Application ID URI as audience,
/// `appid` instead of `azp`.
fn entra_v1(key: &RsaKey) -> String {
    key.sign(
        "JWT",
        times(json!({
            "aud": format!("api://{ENTRA_RESOURCE_APP}"),
            "iss": format!("https://sts.windows.net/{ENTRA_TENANT}/"),
            "idp": format!("https://sts.windows.net/{ENTRA_TENANT}/"),
            "appid": ENTRA_AGENT_APP,
            "appidacr": "1",
            "oid": ENTRA_AGENT_OBJECT,
            "roles": ["Alga.Agent"],
            "sub": ENTRA_AGENT_OBJECT,
            "tid": ENTRA_TENANT,
            "ver": "1.0",
        })),
    )
}

#[actix_web::test]
async fn entra_tokens_with_the_microsoft_preset() {
    let env = Env::start().await;
    let (key, public) = RsaKey::new("nOo3ZDrODXEK1jKWhXslHR_KXEg");
    let provider = Provider::start(vec![public]).await;
    let idp = register(&env, json!({ "kind": "microsoft", "entra_tenant_id": ENTRA_TENANT })).await;
    assert_eq!(idp["issuer"], format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"));
    assert_eq!(idp["jwks_uri"], format!("https://login.microsoftonline.com/{ENTRA_TENANT}/discovery/v2.0/keys"));
    assert_eq!(idp["subject_claim"], "azp");
    assert_eq!(idp["scopes"], json!([format!("{}/.default", env.resource(None))]));
    let id = idp["id"].as_str().unwrap().to_owned();
    serve_keys_from(&env, &id, &provider).await;
    env.agent(&env.a, &id, ENTRA_AGENT_APP, &[&env.a.technician_role]).await;

    // With the defaults, a v2.0 token (whose aud is Alga's application id) is refused; the doctor
    // names the setting.
    let v2 = entra_v2(&key, &["Alga.Agent"]);
    refused(&list_tools(&env, &v2).await, 401, "wrong audience");
    let report = doctor(&env, &env.a, &v2).await;
    assert_eq!(report["accepted"], false);
    assert!(report.to_string().contains("set this provider's audience to api://"), "{report}");

    // The audience as the doctor says: the Application ID URI, which also accepts the bare id
    // (v2.0); the scope to request follows it.
    let idp = patch(&env, &id, json!({ "audience": format!("api://{ENTRA_RESOURCE_APP}") })).await;
    assert_eq!(idp["scopes"], json!([format!("api://{ENTRA_RESOURCE_APP}/.default")]));
    accepted(&list_tools(&env, &v2).await);
    assert_eq!(doctor(&env, &env.a, &v2).await["accepted"], true);

    // A v1.0 token is refused, and the doctor says which manifest setting makes Entra issue v2.0.
    let v1 = entra_v1(&key);
    refused(&list_tools(&env, &v1).await, 401, "unknown issuer");
    let report = doctor(&env, &env.a, &v1).await;
    assert!(report.to_string().contains("requestedAccessTokenVersion"), "{report}");

    // App roles: a required role the token lacks is 403 insufficient_scope, naming the scope.
    patch(&env, &id, json!({ "required_roles": ["Alga.Agent"] })).await;
    accepted(&list_tools(&env, &v2).await);
    // (A tool call: the cached grants of a listing are checked against the tenant's grant epoch
    // only by tool calls, which then decide afresh.)
    let lacking = env.call_api(OWN, &entra_v2(&key, &["Tickets.Read"]), json!({ "entryId": "meta.me" })).await;
    refused(&lacking, 403, "the role Alga.Agent");
    let challenge = lacking.header("www-authenticate");
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    assert!(challenge.contains(&format!("scope=\"api://{ENTRA_RESOURCE_APP}/.default\"")), "{challenge}");
    let report = doctor(&env, &env.a, &entra_v2(&key, &[])).await;
    assert!(report["verdict"].as_str().unwrap().contains("insufficient_scope"), "{report}");

    // What a client should request is advertised by the tenant's metadata and 401 challenges;
    // the instance-wide metadata of this two-tenant instance names none.
    let own = env.send("GET", "/.well-known/oauth-protected-resource/t/tenant-a/api/mcp", &[], None).await;
    assert_eq!(own.body["scopes_supported"], json!([format!("api://{ENTRA_RESOURCE_APP}/.default")]));
    let shared = env.send("GET", "/.well-known/oauth-protected-resource/api/mcp", &[], None).await;
    assert!(shared.body.get("scopes_supported").is_none(), "{}", shared.body);
    let bare = env.send("POST", OWN, &[("content-type", "application/json")], Some(b"{}".to_vec())).await;
    assert_eq!(bare.status, 401);
    assert!(bare.header("www-authenticate").contains(&format!("scope=\"api://{ENTRA_RESOURCE_APP}/.default\"")));
    let other = env.send("POST", "/t/tenant-b/api/mcp", &[("content-type", "application/json")], None).await;
    assert!(!other.header("www-authenticate").contains("scope="), "tenant B advertises only its own");
    env.stop().await;
}

#[actix_web::test]
async fn google_service_account_id_tokens_with_the_google_preset() {
    let env = Env::start().await;
    let (key, public) = RsaKey::new("a50f6e70ef4b548a5fd9142eecd1fb8f54dce9ee");
    let provider = Provider::start(vec![public]).await;
    let idp = register(&env, json!({ "kind": "google" })).await;
    assert_eq!(
        (idp["issuer"].as_str(), idp["subject_claim"].as_str()),
        (Some("https://accounts.google.com"), Some("sub"))
    );
    let id = idp["id"].as_str().unwrap().to_owned();
    serve_keys_from(&env, &id, &provider).await;
    let account = "113704948722830395122";
    env.agent(&env.a, &id, account, &[&env.a.technician_role]).await;
    // An ID token for a service account (`generateIdToken` with this server's URL as audience).
    let token = |audience: &str| {
        key.sign(
            "JWT",
            times(json!({
                "aud": audience,
                "azp": account,
                "email": "triage-agent@acme-psa.iam.gserviceaccount.com",
                "email_verified": true,
                "iss": "https://accounts.google.com",
                "sub": account,
            })),
        )
    };
    accepted(&list_tools(&env, &token(&env.resource(None))).await);
    accepted(&list_tools(&env, &token(&env.resource(Some("tenant-a")))).await);
    let elsewhere = token("https://elsewhere.example.com");
    refused(&list_tools(&env, &elsewhere).await, 401, "wrong audience");
    let report = doctor(&env, &env.a, &elsewhere).await;
    assert!(report.to_string().contains("request them with audience"), "{report}");
    env.stop().await;
}

#[actix_web::test]
async fn keycloak_client_credentials_tokens() {
    let env = Env::start().await;
    let (key, public) = RsaKey::new("yJ3o5w5Ks1OzKc0Qe9h3n0Ei7sXHkzXzD1pZJc5Xl4c");
    let provider = Provider::start(vec![public]).await;
    let issuer = "https://sso.acme-msp.example/realms/agents";
    let body = json!({ "kind": "custom", "issuer": issuer, "jwks_uri": format!("{}/jwks", provider.base),
        "required_scopes": ["mcp:tools"] });
    let id = register(&env, body).await["id"].as_str().unwrap().to_owned();
    let service_account = "4a7f1d3c-9b2e-4f61-8c5d-2e0b7a9c1f35";
    env.agent(&env.a, &id, service_account, &[&env.a.technician_role]).await;
    let token = |aud: Value, scope: &str| {
        key.sign(
            "JWT",
            times(json!({
                "jti": "2f1c6b1e-4a55-4c59-9d52-7c3f5a0b8e21",
                "iss": issuer,
                "aud": aud,
                "sub": service_account,
                "typ": "Bearer",
                "azp": "alga-triage-agent",
                "acr": "1",
                "allowed-origins": ["/*"],
                "realm_access": { "roles": ["default-roles-agents", "offline_access"] },
                "resource_access": { "account": { "roles": ["manage-account", "view-profile"] } },
                "scope": scope,
                "clientHost": "10.1.2.3",
                "email_verified": false,
                "preferred_username": "service-account-alga-triage-agent",
                "clientAddress": "10.1.2.3",
                "client_id": "alga-triage-agent",
            })),
        )
    };
    // With an audience mapper: both audiences; the scope string holds the required scope.
    let mapped = json!([env.resource(None), "account"]);
    accepted(&list_tools(&env, &token(mapped.clone(), "profile mcp:tools email")).await);
    refused(&list_tools(&env, &token(mapped, "profile email")).await, 403, "the scope mcp:tools");
    // Keycloak's default audience: the doctor names the mapper to add.
    let unmapped = token(json!("account"), "profile mcp:tools email");
    refused(&list_tools(&env, &unmapped).await, 401, "wrong audience");
    assert!(doctor(&env, &env.a, &unmapped).await.to_string().contains("Audience mapper"));
    env.stop().await;
}

#[actix_web::test]
async fn okta_custom_authorization_server_tokens() {
    let env = Env::start().await;
    let (key, public) = RsaKey::new("QnB8ue1oiK9Yy5JXKZqHbhgNSXjWeCmHqvHtZHwoPdE");
    let provider = Provider::start(vec![public]).await;
    let issuer = "https://acme-msp.okta.com/oauth2/aus8x2k4h1ZfSq9Qx5d7";
    let body = json!({ "kind": "custom", "issuer": issuer, "jwks_uri": format!("{}/jwks", provider.base),
        "audience": "api://alga", "scopes": ["mcp:read", "mcp:write"], "required_scopes": ["mcp:read"] });
    let id = register(&env, body).await["id"].as_str().unwrap().to_owned();
    let client = "0oa8x2k9a7Qm5Zb1c5d7";
    env.agent(&env.a, &id, client, &[&env.a.technician_role]).await;
    let token = |iss: &str, scp: Value| {
        key.sign(
            "JWT",
            times(json!({
                "ver": 1,
                "jti": "AT.3kSxgA0_0pBqBhh2bq0yJqX3Fv2Wc3Yl6i3v9V7m1-0",
                "iss": iss,
                "aud": "api://alga",
                "cid": client,
                "scp": scp,
                "sub": client,
            })),
        )
    };
    accepted(&list_tools(&env, &token(issuer, json!(["mcp:read", "mcp:write"]))).await);
    refused(&list_tools(&env, &token(issuer, json!(["mcp:write"]))).await, 403, "the scope mcp:read");
    let own = env.send("GET", "/.well-known/oauth-protected-resource/t/tenant-a/api/mcp", &[], None).await;
    assert_eq!(own.body["scopes_supported"], json!(["mcp:read", "mcp:write"]));
    // A token of Okta's org authorization server is for Okta's own APIs: the doctor says so.
    let org = token("https://acme-msp.okta.com", json!(["mcp:read"]));
    assert!(doctor(&env, &env.a, &org).await.to_string().contains("custom authorization server"));
    env.stop().await;
}

#[actix_web::test]
async fn auth0_client_credentials_tokens() {
    let env = Env::start().await;
    let (key, public) = RsaKey::new("bRq3n7TfX8L0m2wYpQ1sV");
    let provider = Provider::start(vec![public]).await;
    // Auth0's issuer ends with a slash, and its tokens say so.
    let issuer = "https://acme-msp.us.auth0.com/";
    let body = json!({ "kind": "custom", "issuer": issuer, "jwks_uri": format!("{}/jwks", provider.base),
        "scopes": ["call:tools"], "required_scopes": ["call:tools"] });
    let id = register(&env, body).await["id"].as_str().unwrap().to_owned();
    let subject = "q8fLw3Vx0bP2yZ1mK9sT4uR6@clients";
    env.agent(&env.a, &id, subject, &[&env.a.technician_role]).await;
    let token = |iss: &str| {
        key.sign(
            "at+jwt",
            times(json!({
                "iss": iss,
                "sub": subject,
                "aud": env.resource(None),
                "scope": "call:tools read:tickets",
                "gty": "client-credentials",
                "azp": "q8fLw3Vx0bP2yZ1mK9sT4uR6",
                "permissions": ["call:tools", "read:tickets"],
                "jti": "b1c2d3e4f5",
                "client_id": "q8fLw3Vx0bP2yZ1mK9sT4uR6",
            })),
        )
    };
    accepted(&list_tools(&env, &token(issuer)).await);
    // Registered without the slash, the issuer would not match: the doctor points at it.
    let unslashed = token("https://acme-msp.us.auth0.com");
    refused(&list_tools(&env, &unslashed).await, 401, "unknown issuer");
    assert!(doctor(&env, &env.a, &unslashed).await.to_string().contains("Auth0"));
    env.stop().await;
}

/// Scope names are checked; an update replaces a list, and an empty list clears it.
#[actix_web::test]
async fn scope_lists_are_validated() {
    let env = Env::start().await;
    let provider = Provider::start(Vec::new()).await;
    let base = json!({ "kind": "custom", "issuer": provider.base });
    for bad in [json!(["two words"]), json!(["quote\"d"]), json!([""])] {
        let mut body = base.clone();
        body["scopes"] = bad;
        env.api(&env.a.admin_key, "POST", IDPS, Some(body)).await.expect(400);
    }
    let id = register(&env, base).await["id"].as_str().unwrap().to_owned();
    let idp = patch(&env, &id, json!({ "required_scopes": ["mcp:read", "mcp:read", "mcp:write"] })).await;
    assert_eq!(idp["required_scopes"], json!(["mcp:read", "mcp:write"]));
    let idp = patch(&env, &id, json!({ "required_scopes": [] })).await;
    assert_eq!(idp["required_scopes"], json!([]));
    env.stop().await;
}
