//! A governed server in this process (the real routes, on a loopback port), two tenants, and a
//! fake OpenID provider whose signing keys the tests control.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix_web::{App, HttpResponse, HttpServer, web};
use alga_core::governance::McpGovernance;
use alga_core::identity::{self, NewUser};
use alga_core::migrations::Migrator;
use alga_core::rbac::BuiltInRole;
use alga_core::testing::TestDb;
use alga_core::{AppContext, Db, PoolOptions, error};
use alga_ee_mcp::{Enterprise, Settings};
use josekit::jwk::{Jwk, JwkSet};
use josekit::jws::{ES256, JwsHeader};
use josekit::jwt::{self, JwtPayload};
use serde_json::{Value, json};

/// A fake OpenID provider: discovery and a JWKS that can change or go down.
pub struct Provider {
    pub base: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    pub up: Arc<AtomicBool>,
    pub fetches: Arc<AtomicUsize>,
    _server: actix_web::dev::ServerHandle,
}

/// A signing key of the provider.
pub struct Key {
    pub private: Jwk,
}

impl Key {
    pub fn new(kid: &str) -> (Key, Jwk) {
        let pair = ES256.generate_key_pair().unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id(kid);
        let mut private = pair.to_jwk_private_key();
        private.set_key_id(kid);
        (Key { private }, public)
    }

    pub fn sign(&self, claims: &JwtPayload) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        header.set_key_id(self.private.key_id().unwrap());
        jwt::encode_with_signer(claims, &header, &ES256.signer_from_jwk(&self.private).unwrap()).unwrap()
    }
}

impl Provider {
    pub async fn start(keys: Vec<Jwk>) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(keys));
        let up = Arc::new(AtomicBool::new(true));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (k, u, f, issuer) = (keys.clone(), up.clone(), fetches.clone(), base.clone());
        let server = HttpServer::new(move || {
            let (k, u, f, issuer) = (k.clone(), u.clone(), f.clone(), issuer.clone());
            let other = issuer.clone();
            App::new()
                // Discovery under another path names the real issuer: a mismatch to refuse.
                .route(
                    "/other/.well-known/openid-configuration",
                    web::get().to(move || {
                        let issuer = other.clone();
                        async move {
                            HttpResponse::Ok().json(json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") }))
                        }
                    }),
                )
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(move || {
                        let issuer = issuer.clone();
                        async move {
                            HttpResponse::Ok().json(json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") }))
                        }
                    }),
                )
                .route(
                    "/jwks",
                    web::get().to(move || {
                        let (k, u, f) = (k.clone(), u.clone(), f.clone());
                        async move {
                            f.fetch_add(1, Ordering::SeqCst);
                            if !u.load(Ordering::SeqCst) {
                                return HttpResponse::ServiceUnavailable().finish();
                            }
                            let mut set = JwkSet::new();
                            for key in k.lock().unwrap().iter() {
                                set.push_key(key.clone());
                            }
                            HttpResponse::Ok().content_type("application/json").body(set.to_string())
                        }
                    }),
                )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Provider { base, keys, up, fetches, _server: handle }
    }

    pub fn publish(&self, key: Jwk) {
        self.keys.lock().unwrap().push(key);
    }

    /// Stops publishing the key with this id.
    pub fn withdraw(&self, kid: &str) {
        self.keys.lock().unwrap().retain(|k| k.key_id() != Some(kid));
    }

    pub fn fetched(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

pub struct Tenant {
    pub admin_key: String,
    pub tech_key: String,
    pub technician_role: String,
}

pub struct Env {
    _db: TestDb,
    pub ctx: AppContext,
    pub base: String,
    pub http: reqwest::Client,
    pub a: Tenant,
    pub b: Tenant,
    server: actix_web::dev::ServerHandle,
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    #[track_caller]
    pub fn expect(self, status: u16) -> Answer {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }
}

impl Env {
    pub async fn start() -> Env {
        // Tests decide approvals with the administrator's key (off by default: a person decides in
        // a session), as the interop suite does.
        Env::with(Settings { allow_insecure_idp_urls: true, approvals_by_api_key: true, ..Settings::default() }).await
    }

    pub async fn with(settings: Settings) -> Env {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let db = TestDb::new();
        let governance = Enterprise::new(settings);
        let mut conn = db.conn();
        Migrator::new(&governance.migration_sets()).unwrap().run_pending(&mut conn).unwrap();
        let pool = Db::connect(db.url().clone(), PoolOptions { max_size: 8, ..PoolOptions::default() }).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut ctx = AppContext::new(pool, base.parse().unwrap());
        ctx.edition = alga_core::Edition::Enterprise;
        ctx.role_holders = governance.role_holders();
        ctx.hidden_operations = governance.hidden_operations();
        governance.register_metrics(&ctx.metrics);
        let a = tenant(&mut conn, "tenant-a");
        let b = tenant(&mut conn, "tenant-b");
        let app_ctx = ctx.clone();
        let server = HttpServer::new(move || {
            let governance = governance.clone();
            let mut routes = governance.routes();
            routes.extend(alga_api::http::routes(&alga_api::catalog()));
            App::new()
                .app_data(web::Data::new(app_ctx.clone()))
                .app_data(web::PayloadConfig::new(error::MAX_JSON_BODY))
                .app_data(error::json_config())
                .app_data(error::path_config())
                .app_data(error::query_config())
                .wrap(error::json_error_pages())
                .configure(move |cfg| governance.app_data(cfg))
                .configure(move |cfg| routes.configure(cfg))
                .default_service(web::to(error::no_route))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        // Redirects are answers to check (the admin UI), never followed.
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Env { _db: db, ctx, base, http, a, b, server: handle }
    }

    /// Stops the server gracefully while the test's runtime still runs: its workers then drop
    /// their pooled connections inside a runtime (dropped during runtime teardown, deadpool's
    /// connection wrapper panics for want of one, and the test binary aborts).
    pub async fn stop(self) {
        self.server.stop(true).await;
        self.ctx.db.close();
    }

    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Answer {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer { status, headers, body }
    }

    /// A JSON call with an API key.
    pub async fn api(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        let headers = [("x-api-key", key), ("content-type", "application/json")];
        self.send(method, path, &headers, body.map(|b| b.to_string().into_bytes())).await
    }

    /// One JSON-RPC request to an MCP endpoint with `Authorization: Bearer`.
    pub async fn rpc(&self, endpoint: &str, bearer: &str, method: &str, params: Value) -> Answer {
        let auth = format!("Bearer {bearer}");
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        self.send("POST", endpoint, &headers, Some(body.to_string().into_bytes())).await
    }

    /// `tools/call` of `call_api_endpoint`.
    pub async fn call_api(&self, endpoint: &str, bearer: &str, arguments: Value) -> Answer {
        self.rpc(endpoint, bearer, "tools/call", json!({ "name": "call_api_endpoint", "arguments": arguments })).await
    }

    /// `call_api_endpoint` at `/api/mcp`, checking the status the operation answered with.
    pub async fn call_status(&self, bearer: &str, arguments: Value, status: u16) -> Answer {
        let answer = self.call_api("/api/mcp", bearer, arguments).await.expect(200);
        assert_eq!(answer.body["result"]["structuredContent"]["status"], status, "{}", answer.body);
        answer
    }

    pub fn resource(&self, slug: Option<&str>) -> String {
        match slug {
            Some(slug) => format!("{}/t/{slug}/api/mcp", self.base),
            None => format!("{}/api/mcp", self.base),
        }
    }

    /// Registers the provider as a custom IdP of the tenant (OIDC discovery); returns its id.
    pub async fn trust(&self, t: &Tenant, provider: &Provider) -> String {
        let body = json!({ "kind": "custom", "issuer": provider.base });
        let res = self.api(&t.admin_key, "POST", "/api/v1/mcp/idp-providers", Some(body)).await.expect(201);
        res.data()["id"].as_str().unwrap().to_owned()
    }

    /// Creates an agent bound to (idp, subject) with these roles; returns its id.
    pub async fn agent(&self, t: &Tenant, idp: &str, subject: &str, roles: &[&str]) -> String {
        let body = json!({ "name": format!("agent {subject}"), "idp_id": idp, "subject": subject, "role_ids": roles });
        let res = self.api(&t.admin_key, "POST", "/api/v1/mcp/agents", Some(body)).await.expect(201);
        res.data()["id"].as_str().unwrap().to_owned()
    }

    pub fn claims(&self, issuer: &str, subject: &str, audience: &str) -> JwtPayload {
        let mut claims = JwtPayload::new();
        claims.set_issuer(issuer);
        claims.set_audience(vec![audience]);
        claims.set_subject(subject);
        claims.set_expires_at(&(SystemTime::now() + Duration::from_secs(300)));
        claims.set_issued_at(&SystemTime::now());
        claims
    }

    /// A connection of its own to the test database, outside the server's pool.
    pub fn conn(&self) -> alga_core::DbConn {
        self._db.conn()
    }

    /// Audit rows of tenant `t`, newest first.
    pub async fn audit(&self, t: &Tenant, query: &str) -> Vec<Value> {
        let res = self.api(&t.admin_key, "GET", &format!("/api/v1/mcp/audit?{query}"), None).await.expect(200);
        res.data().as_array().unwrap().clone()
    }
}

fn tenant(conn: &mut alga_core::DbConn, slug: &str) -> Tenant {
    let tenant = identity::create_tenant(conn, slug, slug).unwrap();
    let mut keys = Vec::new();
    for role in [BuiltInRole::Admin, BuiltInRole::Technician] {
        let roles = identity::role_ids_by_name(conn, &tenant.id, &[role.name().to_owned()]).unwrap();
        let email = format!("{}@{slug}.test", role.name().to_lowercase());
        let new = NewUser {
            tenant_id: &tenant.id,
            email: &email,
            display_name: role.name(),
            password: None,
            role_ids: &roles,
        };
        let user = identity::create_user(conn, &new).unwrap();
        keys.push(identity::create_api_key(conn, &tenant.id, &user, "test", None).unwrap().plaintext);
    }
    let mut role = |name: &str| identity::role_ids_by_name(conn, &tenant.id, &[name.to_owned()]).unwrap().remove(0);
    let technician_role = role(BuiltInRole::Technician.name());
    let mut keys = keys.into_iter();
    Tenant { admin_key: keys.next().unwrap(), tech_key: keys.next().unwrap(), technician_role }
}

/// An agent of `t` with these roles and an API key: (agent id, key).
pub async fn keyed_agent(env: &Env, t: &Tenant, name: &str, roles: &[&str]) -> (String, String) {
    let body = json!({ "name": name, "role_ids": roles });
    let agent = env.api(&t.admin_key, "POST", "/api/v1/mcp/agents", Some(body)).await.expect(201);
    let id = agent.data()["id"].as_str().unwrap().to_owned();
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let key = env
        .api(&t.admin_key, "POST", &format!("/api/v1/mcp/agents/{id}/keys"), Some(json!({ "expires_at": expires })))
        .await
        .expect(201);
    (id, key.data()["key"].as_str().unwrap().to_owned())
}

/// `GET /api/v1/me` of this key: (tenant id, user id, or agent id for an agent's key).
pub async fn whoami(env: &Env, key: &str) -> (String, String) {
    let me = env.api(key, "GET", "/api/v1/me", None).await.expect(200);
    let data = me.data();
    let id = data["user"]["id"].as_str().or_else(|| data["agent"]["id"].as_str()).unwrap().to_owned();
    (data["tenant"]["id"].as_str().unwrap().to_owned(), id)
}
