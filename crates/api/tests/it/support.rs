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

/// The names in a JSON array of strings.
fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(|n| n.as_str().unwrap().to_owned()).collect()
}

impl Fixture {
    /// Checks that the records of a taggable collection (`/api/v1/assets`…) carry tags as clients
    /// do, in tenant A (whose vocabulary must not yet have `vip` or `Onsite`): `new(name, tags)`
    /// is a create body for a record named `name` with these tag names; `kind` is the records'
    /// type as a tag's usage names it (`asset`…).
    pub async fn check_tags(&self, collection: &str, kind: &str, new: impl Fn(&str, Value) -> Value) {
        use serde_json::json;
        let a = &self.a.admin;
        let total = async |who: &Arc<Principal>, query: String| -> u64 {
            let target = format!("{collection}?{query}");
            self.call(who, "GET", &target, None).await.expect(200).body["pagination"]["total"].as_u64().unwrap()
        };
        let vip = self.call(a, "POST", "/api/v1/tags", Some(json!({"name": "vip"}))).await.expect(201).id();
        self.call(a, "POST", "/api/v1/tags", Some(json!({"name": "Onsite"}))).await.expect(201);

        // Names match in any case, repeats count once, answers are sorted.
        let first = self.call(a, "POST", collection, Some(new("First", json!(["VIP", "onsite", "vip"])))).await;
        let first = first.expect(201);
        assert_eq!(strings(&first.data()["tags"]), ["Onsite", "vip"]);
        let first = first.id();
        let second = self.call(a, "POST", collection, Some(new("Second", json!([])))).await.expect(201);
        assert_eq!(second.data()["tags"], json!([]));
        let second = second.id();
        let mut untagged = new("Untagged", json!([]));
        untagged.as_object_mut().unwrap().remove("tags");
        let third = self.call(a, "POST", collection, Some(untagged)).await.expect(201);
        assert_eq!(third.data()["tags"], json!([]), "tags are optional on create");

        // Unknown names are refused together, by name, and create or change nothing.
        let unknown = self.call(a, "POST", collection, Some(new("Refused", json!(["vip", "gold", "Silver"])))).await;
        let unknown = unknown.expect(400);
        let message = unknown.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("`gold`") && message.contains("`Silver`") && !message.contains("`vip`"), "{message}");
        assert_eq!(total(a, String::new()).await, 3);
        let path = format!("{collection}/{first}");
        self.call(a, "PUT", &path, Some(json!({"tags": ["vip", "nope"]}))).await.expect(400);
        assert_eq!(strings(&self.call(a, "GET", &path, None).await.data()["tags"]), ["Onsite", "vip"]);

        // Omitted keeps; a list replaces; an empty list clears.
        let kept = self.call(a, "PUT", &path, Some(json!({}))).await.expect(200);
        assert_eq!(strings(&kept.data()["tags"]), ["Onsite", "vip"]);
        let replaced = self.call(a, "PUT", &path, Some(json!({"tags": ["Vip"]}))).await.expect(200);
        assert_eq!(strings(&replaced.data()["tags"]), ["vip"]);
        let got = self.call(&self.a.readonly, "GET", &path, None).await.expect(200);
        assert_eq!(strings(&got.data()["tags"]), ["vip"]);
        let second_path = format!("{collection}/{second}");
        self.call(a, "PUT", &second_path, Some(json!({"tags": ["onsite", "vip"]}))).await.expect(200);
        let cleared = self.call(a, "PUT", &second_path, Some(json!({"tags": []}))).await.expect(200);
        assert_eq!(cleared.data()["tags"], json!([]));
        // Tagging is part of updating the record: the read-only role cannot.
        self.call(&self.a.readonly, "PUT", &second_path, Some(json!({"tags": ["vip"]}))).await.expect(403);
        self.call(a, "PUT", &second_path, Some(json!({"tags": ["onsite"]}))).await.expect(200);

        // The filter: by name in any case; lists carry each record's tags; an unknown tag finds nothing.
        let vips = self.call(&self.a.readonly, "GET", &format!("{collection}?tag=VIP"), None).await.expect(200);
        assert_eq!(vips.body["pagination"]["total"], 1);
        assert_eq!(
            (vips.data()[0]["id"].as_str(), strings(&vips.data()[0]["tags"])),
            (Some(first.as_str()), vec!["vip".to_owned()])
        );
        let all = self.call(a, "GET", &format!("{collection}?limit=100"), None).await.expect(200);
        let tagged: Vec<(String, Vec<String>)> = all
            .data()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["id"].as_str().unwrap().to_owned(), strings(&r["tags"])))
            .collect();
        assert!(tagged.contains(&(second.clone(), vec!["Onsite".to_owned()])), "{tagged:?}");
        assert!(tagged.contains(&(first.clone(), vec!["vip".to_owned()])), "{tagged:?}");
        assert_eq!(total(a, "tag=onsite".to_owned()).await, 1);
        assert_eq!(total(a, "tag=unknown".to_owned()).await, 0);

        // A tag still carried is not deleted; deleting the record removes its taggings.
        let in_use = self.call(a, "DELETE", &format!("/api/v1/tags/{vip}"), None).await.expect(409);
        let message = in_use.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("1 records carry the tag `vip` (1 {kind})")), "{message}");
        self.call(a, "DELETE", &path, None).await.expect(204);
        self.call(a, "DELETE", &format!("/api/v1/tags/{vip}"), None).await.expect(204);
        assert_eq!(total(a, "tag=vip".to_owned()).await, 0);

        // Tenant B can neither use tenant A's tags nor find A's records through a tag name.
        let b = &self.b.admin;
        assert_eq!(total(b, "tag=onsite".to_owned()).await, 0);
        self.call(b, "PUT", &second_path, Some(json!({"tags": []}))).await.expect(404);
    }
}

impl Fixture {
    /// A user of tenant A with a role of its own holding `permissions`, authenticated once: the
    /// principal keeps these grants, as a cached credential does after the role changes. Returns
    /// the principal and the role's id.
    pub async fn user_with_role(&self, name: &str, permissions: &[&str]) -> (Arc<Principal>, String) {
        let admin = &self.a.admin;
        let role = self
            .call(admin, "POST", "/api/v1/roles", Some(serde_json::json!({"name": name, "permissions": permissions})))
            .await
            .expect(201)
            .id();
        let body =
            serde_json::json!({"email": format!("{name}@tenant-a.test"), "display_name": name, "role_ids": [role]});
        let user = self.call(admin, "POST", "/api/v1/users", Some(body)).await.expect(201).id();
        let mut conn = self.db.conn();
        let key = identity::create_api_key(&mut conn, &admin.tenant_id, &user, "test", None).unwrap();
        (self.ctx.auth.authenticate(&key.plaintext).await.unwrap(), role)
    }
}
