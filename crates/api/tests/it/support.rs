//! Two tenants, each with an Admin, a Technician and a Read-only user, and a way to call any
//! operation as any of them.

use std::sync::Arc;

use alga_api::catalog::{Method, RawRequest};
use alga_core::identity::{self, NewUser};
use alga_core::migrations::{COMMUNITY, Migrator};
use alga_core::rbac::BuiltInRole;
use alga_core::testing::TestDb;
use alga_core::{AppContext, Db, PoolOptions, Principal};
use serde_json::Value;

pub struct Tenant {
    pub admin: Arc<Principal>,
    pub tech: Arc<Principal>,
    pub readonly: Arc<Principal>,
}

pub struct Fixture {
    pub db: TestDb,
    pub ctx: AppContext,
    pub a: Tenant,
    pub b: Tenant,
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn id(&self) -> String {
        self.body["data"]["id"].as_str().unwrap_or_else(|| panic!("no data.id in {}", self.body)).to_owned()
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Answer {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }
}

impl Fixture {
    pub async fn new() -> Fixture {
        // Internal errors are logged, not returned: show them in the failing test's output.
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let db = TestDb::new();
        let mut conn = db.conn();
        Migrator::new(&[&COMMUNITY]).unwrap().run_pending(&mut conn).unwrap();
        let pool = Db::connect(db.url().clone(), PoolOptions { max_size: 4, ..PoolOptions::default() }).await.unwrap();
        let ctx = AppContext::new(pool, "http://alga.test".parse().unwrap());
        let a = tenant(&ctx, &mut conn, "tenant-a").await;
        let b = tenant(&ctx, &mut conn, "tenant-b").await;
        Fixture { db, ctx, a, b }
    }

    /// Calls `method path?query` as `who`, as the HTTP adapter and MCP do.
    pub async fn call(&self, who: &Arc<Principal>, method: &str, target: &str, body: Option<Value>) -> Answer {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let method = Method::parse(method).unwrap();
        let catalog = alga_api::catalog();
        let Some((op, params)) = catalog.route(method, path) else {
            panic!("no operation for {method} {path}");
        };
        let raw =
            RawRequest { path: params, query: query.to_owned(), body: body.map(|b| serde_json::to_vec(&b).unwrap()) };
        match op.call(self.ctx.clone(), Some(who.clone()), raw).await {
            Ok(reply) => Answer {
                status: reply.status,
                body: reply.body.map(|b| serde_json::from_slice(&b).unwrap()).unwrap_or(Value::Null),
            },
            Err(e) => Answer { status: e.status().as_u16(), body: e.body() },
        }
    }
}

async fn tenant(ctx: &AppContext, conn: &mut alga_core::DbConn, slug: &str) -> Tenant {
    let tenant = identity::create_tenant(conn, slug, slug).unwrap();
    let mut principals = Vec::new();
    for role in BuiltInRole::ALL {
        let roles = identity::role_ids_by_name(conn, &tenant.id, &[role.name().to_owned()]).unwrap();
        let email = format!("{}@{slug}.test", role.name().to_lowercase());
        let user = identity::create_user(
            conn,
            &NewUser {
                tenant_id: &tenant.id,
                email: &email,
                display_name: role.name(),
                password: None,
                role_ids: &roles,
            },
        )
        .unwrap();
        let key = identity::create_api_key(conn, &tenant.id, &user, "test", None).unwrap();
        principals.push(ctx.auth.authenticate(&key.plaintext).await.unwrap());
    }
    let mut principals = principals.into_iter();
    Tenant { admin: principals.next().unwrap(), tech: principals.next().unwrap(), readonly: principals.next().unwrap() }
}

/// Ids of a ready-to-use ticketing setup in one tenant.
pub struct Setup {
    pub board: String,
    pub open: String,
    pub closed: String,
    pub priority: String,
    pub client: String,
    pub contact: String,
}

impl Fixture {
    pub async fn setup(&self, who: &Arc<Principal>) -> Setup {
        use serde_json::json;
        let board =
            self.call(who, "POST", "/api/v1/boards", Some(json!({"name": "Service Desk"}))).await.expect(201).id();
        let open = self
            .call(who, "POST", "/api/v1/statuses", Some(json!({"board_id": board, "name": "New", "position": 1})))
            .await
            .expect(201)
            .id();
        let closed = self
            .call(
                who,
                "POST",
                "/api/v1/statuses",
                Some(json!({"board_id": board, "name": "Resolved", "is_closed": true, "position": 9})),
            )
            .await
            .expect(201)
            .id();
        let priority =
            self.call(who, "POST", "/api/v1/priorities", Some(json!({"name": "High"}))).await.expect(201).id();
        let client = self.call(who, "POST", "/api/v1/clients", Some(json!({"name": "Acme"}))).await.expect(201).id();
        let contact = self
            .call(who, "POST", "/api/v1/contacts", Some(json!({"full_name": "Dana", "client_id": client})))
            .await
            .expect(201)
            .id();
        Setup { board, open, closed, priority, client, contact }
    }

    pub async fn ticket(&self, who: &Arc<Principal>, s: &Setup, title: &str) -> String {
        let body =
            serde_json::json!({"title": title, "board_id": s.board, "client_id": s.client, "priority_id": s.priority});
        self.call(who, "POST", "/api/v1/tickets", Some(body)).await.expect(201).id()
    }
}
