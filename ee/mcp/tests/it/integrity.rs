//! Governance integrity: every side effect of a tool call is authorized with current grants,
//! executed once and audited as what it was, also while grants change and when they change
//! through plain SQL on another connection.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::support::{Env, Tenant, keyed_agent};

fn tool_result(answer: &crate::support::Answer) -> &Value {
    &answer.body["result"]["structuredContent"]
}

fn is_error(answer: &crate::support::Answer) -> bool {
    answer.body["result"]["isError"].as_bool() != Some(false)
}

/// Plain SQL on a pooled connection of its own: a change the server's caches never hear of.
async fn sql(env: &Env, statement: String) {
    env.ctx
        .db
        .run(move |conn| diesel::sql_query(statement).execute(conn).map_err(alga_core::ApiError::from))
        .await
        .unwrap();
}

/// Demo data in tenant A; the id of one of its tickets.
async fn seeded(env: &Env) -> String {
    alga_api::demo::seed(&env.ctx, "tenant-a").await.unwrap();
    let list = env.api(&env.a.admin_key, "GET", "/api/v1/tickets?limit=1", None).await.expect(200);
    list.data()[0]["id"].as_str().unwrap().to_owned()
}

async fn comment(env: &Env, key: &str, ticket: &str, text: &str) -> crate::support::Answer {
    let args = json!({ "entryId": "tickets.comments.create", "path": { "id": ticket }, "body": { "body": text } });
    env.call_api("/api/mcp", key, args).await
}

async fn comment_count(env: &Env, ticket: &str) -> usize {
    let path = format!("/api/v1/tickets/{ticket}/comments?limit=100");
    let res = env.api(&env.a.admin_key, "GET", &path, None).await.expect(200);
    res.body["pagination"]["total"].as_u64().unwrap() as usize
}

async fn role_id(env: &Env, t: &Tenant, name: &str) -> String {
    let roles = env.api(&t.admin_key, "GET", "/api/v1/roles?limit=100", None).await.expect(200);
    let role = roles.data().as_array().unwrap().iter().find(|r| r["name"] == name).unwrap().clone();
    role["id"].as_str().unwrap().to_owned()
}

async fn tenant_id(env: &Env, t: &Tenant) -> String {
    let me = env.api(&t.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    me.data()["tenant"]["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn the_method_argument_cannot_change_the_operation() {
    let env = Env::start().await;
    let ticket = seeded(&env).await;
    let before = env.api(&env.a.admin_key, "GET", &format!("/api/v1/tickets/{ticket}"), None).await.expect(200);
    for method in ["PUT", "put", "DELETE"] {
        let args = json!({ "entryId": "tickets.get", "path": { "id": ticket }, "method": method, "body": { "title": "pwned" } });
        let res = env.call_api("/api/mcp", &env.a.tech_key, args).await.expect(200);
        assert!(is_error(&res), "{}", res.body);
        assert_eq!(tool_result(&res)["field"], "method", "a repairable error naming the argument: {}", res.body);
    }
    let after = env.api(&env.a.admin_key, "GET", &format!("/api/v1/tickets/{ticket}"), None).await.expect(200);
    assert_eq!(before.data(), after.data(), "nothing changed");
    // Naming the entry's own method is harmless, and the audit names the operation that ran.
    let same = json!({ "entryId": "tickets.get", "path": { "id": ticket }, "method": "GET" });
    assert!(!is_error(&env.call_api("/api/mcp", &env.a.tech_key, same).await.expect(200)));
    let rows = env.audit(&env.a, "").await;
    assert_eq!(rows.len(), 4);
    assert_eq!((rows[0]["decision"].as_str(), rows[0]["http_method"].as_str()), (Some("allow"), Some("GET")));
    assert_eq!(rows[0]["http_path"], format!("/api/v1/tickets/{ticket}"), "the concrete path that ran");
    assert!(rows[1..].iter().all(|r| r["decision"] == "error" && r["operation_id"] == "tickets.get"), "{rows:#?}");
    env.stop().await;
}

#[actix_web::test]
async fn a_write_commits_with_its_row_and_a_key_revoked_by_plain_sql_is_refused_and_audited() {
    let env = Env::start().await;
    let ticket = seeded(&env).await;
    let (agent, key) = keyed_agent(&env, &env.a, "writer", &[&env.a.technician_role]).await;
    let res = comment(&env, &key, &ticket, "first").await.expect(200);
    assert!(!is_error(&res), "{}", res.body);
    let rows = env.audit(&env.a, "").await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row["decision"].as_str(), row["agent_id"].as_str(), row["operation_id"].as_str(), row["status_code"].as_i64()),
        (Some("allow"), Some(agent.as_str()), Some("tickets.comments.create"), Some(201))
    );
    assert_eq!(row["http_path"], format!("/api/v1/tickets/{ticket}/comments"));
    assert!(row["result_summary"].as_str().unwrap().contains("first"), "{row}");
    let comments = comment_count(&env, &ticket).await;

    // Revoked with plain SQL on another connection: the server's caches never hear of it. The
    // cached identity reaches the write's transaction, which refuses and rolls back; the request
    // is then decided on a fresh read: refused at the door, and audited in the key's tenant.
    sql(&env, format!("UPDATE api_keys SET revoked_at = '2020-01-01 00:00:00' WHERE agent_id = '{agent}'")).await;
    for attempt in ["second", "third"] {
        let res = comment(&env, &key, &ticket, attempt).await.expect(401);
        assert!(res.header("www-authenticate").starts_with("Bearer"), "{:?}", res.headers);
    }
    assert_eq!(comment_count(&env, &ticket).await, comments, "nothing written");
    let rows = env.audit(&env.a, "").await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    for row in &rows[..2] {
        assert_eq!(
            (row["decision"].as_str(), row["reason"].as_str(), row["agent_id"].as_str()),
            (Some("deny"), Some("credential_ended"), Some(agent.as_str()))
        );
        assert!(row["api_key_id"].is_string(), "{row}");
    }
    assert!(env.audit(&env.b, "").await.is_empty());
    env.stop().await;
}

#[actix_web::test]
async fn agents_never_hold_permissions_over_users_and_roles() {
    let env = Env::start().await;
    let admin_role = role_id(&env, &env.a, "Admin").await;
    // The admin API refuses, naming the permissions.
    let body = json!({ "name": "boss", "role_ids": [admin_role] });
    let res = env.api(&env.a.admin_key, "POST", "/api/v1/mcp/agents", Some(body)).await.expect(409);
    let message = res.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("user:create") && message.contains("role:update"), "{message}");
    let assignable = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/roles", None).await.expect(200);
    assert!(assignable.data().as_array().unwrap().iter().all(|r| r["name"] != "Admin"), "{}", assignable.body);

    // Granted anyway with plain SQL: the decision still never grants them.
    let (agent, key) = keyed_agent(&env, &env.a, "sneaky", &[&env.a.technician_role]).await;
    let tenant = tenant_id(&env, &env.a).await;
    sql(
        &env,
        format!(
            "INSERT INTO agent_roles (tenant_id, agent_id, role_id) VALUES ('{tenant}', '{agent}', '{admin_role}')"
        ),
    )
    .await;
    let user = json!({ "email": "mallory@x.test", "display_name": "M", "password": "correct horse battery", "role_ids": [admin_role] });
    let res = env.call_api("/api/mcp", &key, json!({ "entryId": "users.create", "body": user })).await.expect(200);
    assert!(is_error(&res), "{}", res.body);
    let users = env.api(&env.a.admin_key, "GET", "/api/v1/users?search=mallory", None).await.expect(200);
    assert_eq!(users.data().as_array().unwrap().len(), 0, "no user was created");
    // What the SQL grant gives that is not privileged does apply: the grant is current.
    let client = json!({ "entryId": "clients.create", "body": { "name": "Granted by SQL" } });
    let res = env.call_api("/api/mcp", &key, client).await.expect(200);
    assert!(!is_error(&res), "{}", res.body);
    // Neither listed nor found.
    let found = env
        .rpc(
            "/api/mcp",
            &key,
            "tools/call",
            json!({ "name": "search_api_registry", "arguments": { "query": "create a user", "limit": 25 } }),
        )
        .await
        .expect(200);
    let ids: Vec<&str> =
        tool_result(&found)["results"].as_array().unwrap().iter().map(|r| r["entryId"].as_str().unwrap()).collect();
    assert!(!ids.iter().any(|id| id.starts_with("users.") && *id != "users.list" && *id != "users.get"), "{ids:?}");
    assert!(!ids.iter().any(|id| id.starts_with("roles.create") || id.starts_with("roles.update")), "{ids:?}");
    env.stop().await;
}

#[actix_web::test]
async fn changing_another_users_account_needs_every_permission_they_hold() {
    let env = Env::start().await;
    let a = &env.a;
    let helpdesk =
        json!({ "name": "Helpdesk", "permissions": ["user:read", "user:update", "api_key:create", "api_key:read"] });
    let role = env.api(&a.admin_key, "POST", "/api/v1/roles", Some(helpdesk)).await.expect(201);
    let role = role.data()["id"].as_str().unwrap().to_owned();
    let body = json!({ "email": "help@a.test", "display_name": "Help", "role_ids": [role] });
    let help = env.api(&a.admin_key, "POST", "/api/v1/users", Some(body)).await.expect(201);
    let help_id = help.data()["id"].as_str().unwrap().to_owned();
    let key = env.api(&a.admin_key, "POST", "/api/v1/api-keys", Some(json!({ "user_id": help_id }))).await.expect(201);
    let help_key = key.data()["key"].as_str().unwrap().to_owned();
    let users = env.api(&a.admin_key, "GET", "/api/v1/users?limit=100", None).await.expect(200);
    let id_of = |email: &str| {
        users.data().as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (admin, tech) = (id_of("admin@tenant-a.test"), id_of("technician@tenant-a.test"));
    let plain = env
        .api(
            &a.admin_key,
            "POST",
            "/api/v1/users",
            Some(json!({ "email": "plain@a.test", "display_name": "P", "role_ids": [] })),
        )
        .await
        .expect(201);
    let plain = plain.data()["id"].as_str().unwrap().to_owned();

    let password = json!({ "password": "a brand new password" });
    for target in [&admin, &tech] {
        let res = env.api(&help_key, "PUT", &format!("/api/v1/users/{target}"), Some(password.clone())).await;
        res.expect(403);
        let res = env
            .api(&help_key, "PUT", &format!("/api/v1/users/{target}"), Some(json!({ "email": "me@evil.test" })))
            .await;
        res.expect(403);
        env.api(&help_key, "POST", "/api/v1/api-keys", Some(json!({ "user_id": target }))).await.expect(403);
    }
    let admin_now = env.api(&a.admin_key, "GET", &format!("/api/v1/users/{admin}"), None).await.expect(200);
    assert_eq!(admin_now.data()["email"], "admin@tenant-a.test", "unchanged");
    // A user holding nothing the helpdesk lacks can be helped.
    env.api(&help_key, "PUT", &format!("/api/v1/users/{plain}"), Some(password.clone())).await.expect(200);
    env.api(&help_key, "POST", "/api/v1/api-keys", Some(json!({ "user_id": plain }))).await.expect(201);
    // Holding every permission is not being an Admin: the Admin role stays an Admin's to give.
    let all = env.api(&a.admin_key, "GET", "/api/v1/permissions?limit=100", None).await.expect(200);
    let names: Vec<Value> = all.data().as_array().unwrap().iter().map(|p| p["name"].clone()).collect();
    let everything = json!({ "name": "Everything", "permissions": names });
    let role = env.api(&a.admin_key, "POST", "/api/v1/roles", Some(everything)).await.expect(201);
    let body = json!({ "email": "almost@a.test", "display_name": "Almost", "role_ids": [role.data()["id"]] });
    let almost = env.api(&a.admin_key, "POST", "/api/v1/users", Some(body)).await.expect(201);
    let almost_id = almost.data()["id"].as_str().unwrap().to_owned();
    let key =
        env.api(&a.admin_key, "POST", "/api/v1/api-keys", Some(json!({ "user_id": almost_id }))).await.expect(201);
    let almost_key = key.data()["key"].as_str().unwrap().to_owned();
    let admin_role = role_id(&env, a, "Admin").await;
    let usurper = json!({ "email": "usurper@a.test", "display_name": "U", "role_ids": [admin_role], "password": "a long enough password" });
    env.api(&almost_key, "POST", "/api/v1/users", Some(usurper)).await.expect(403);
    env.api(&almost_key, "PUT", &format!("/api/v1/users/{plain}/roles"), Some(json!({ "role_ids": [admin_role] })))
        .await
        .expect(403);
    env.api(&almost_key, "PUT", &format!("/api/v1/users/{admin}"), Some(json!({ "active": false }))).await.expect(403);
    // An Admin may change a Technician's account.
    env.api(&a.admin_key, "PUT", &format!("/api/v1/users/{tech}"), Some(password)).await.expect(200);
    env.stop().await;
}

#[actix_web::test]
async fn created_keys_and_secrets_never_reach_the_audit() {
    let env = Env::start().await;
    let res = env
        .call_api(
            "/api/mcp",
            &env.a.tech_key,
            json!({ "entryId": "api_keys.create", "body": { "description": "mine" } }),
        )
        .await
        .expect(200);
    assert!(!is_error(&res), "{}", res.body);
    let plaintext = tool_result(&res)["data"]["data"]["key"].as_str().unwrap().to_owned();
    let args = json!({ "entryId": "clients.list", "query": { "limit": 1 }, "sessionToken": "s3cr3t-session", "Cookie": "c00kie", "passphrase": "open sesame" });
    env.call_api("/api/mcp", &env.a.tech_key, args).await.expect(200);
    let export = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/audit/export?format=jsonl", None).await.expect(200);
    let text = export.body.as_str().unwrap();
    assert_eq!(text.lines().count(), 2);
    for secret in [plaintext.as_str(), "s3cr3t-session", "c00kie", "open sesame"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let prefix = tool_result(&res)["data"]["data"]["prefix"].as_str().unwrap();
    assert!(text.contains(prefix), "what names the key stays readable: {text}");
    env.stop().await;
}

/// Agents write while an administrator changes their grants: every comment made is audited
/// exactly once as an allowed call, none is made twice, and every acknowledged call has its row.
#[actix_web::test]
async fn writes_while_grants_change_are_executed_once_and_audited() {
    let unlimited = alga_ee_mcp::Settings {
        allow_insecure_idp_urls: true,
        mcp_calls_per_second: 1e6,
        mcp_call_burst: 1e6,
        mcp_writes_per_second: 1e6,
        ..alga_ee_mcp::Settings::default()
    };
    let env = Arc::new(Env::with(unlimited).await);
    let ticket = seeded(&env).await;
    let mut agents = Vec::new();
    for i in 0..4 {
        agents.push(keyed_agent(&env, &env.a, &format!("busy {i}"), &[&env.a.technician_role]).await);
    }
    let read_only = role_id(&env, &env.a, "Read-only").await;
    let editor = {
        let env = env.clone();
        let (agents, technician) = (agents.clone(), env.a.technician_role.clone());
        tokio::spawn(async move {
            for round in 0..30 {
                let (id, _) = &agents[round % agents.len()];
                let path = format!("/api/v1/mcp/agents/{id}");
                let change = match round % 3 {
                    0 => json!({ "active": false }),
                    1 => json!({ "active": true, "role_ids": [read_only] }),
                    _ => json!({ "active": true, "role_ids": [technician] }),
                };
                env.api(&env.a.admin_key, "PATCH", &path, Some(change)).await.expect(200);
            }
        })
    };
    let mut writers = Vec::new();
    for (n, (_, key)) in agents.iter().enumerate() {
        let (env, key, ticket) = (env.clone(), key.clone(), ticket.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..25 {
                let nonce = format!("nonce-{n}-{i}");
                let res = comment(&env, &key, &ticket, &nonce).await;
                if res.status == 200 && res.body["result"]["isError"] == false {
                    acknowledged.push(nonce);
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    editor.await.unwrap();

    let comment_total = comment_count(&env, &ticket).await;
    let path = format!("/api/v1/tickets/{ticket}/comments?limit=100");
    let mut made: HashMap<String, usize> = HashMap::new();
    let mut page = 1;
    loop {
        let res = env.api(&env.a.admin_key, "GET", &format!("{path}&page={page}"), None).await.expect(200);
        let items = res.data().as_array().unwrap().clone();
        for c in &items {
            let body = c["body"].as_str().unwrap();
            if body.starts_with("nonce-") {
                *made.entry(body.to_owned()).or_default() += 1;
            }
        }
        if items.len() < 100 {
            break;
        }
        page += 1;
    }
    let rows = {
        let export = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/audit/export", None).await.expect(200);
        export.body.as_str().unwrap().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>()
    };
    let mut audited: HashMap<String, usize> = HashMap::new();
    for row in rows.iter().filter(|r| r["decision"] == "allow" && r["operation_id"] == "tickets.comments.create") {
        let args: Value = serde_json::from_str(row["arguments"].as_str().unwrap()).unwrap();
        *audited.entry(args["body"]["body"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert!(made.values().all(|n| *n == 1), "a comment made twice: {made:?}");
    assert!(audited.values().all(|n| *n == 1), "a call audited twice: {audited:?}");
    let mut made_keys: Vec<&String> = made.keys().collect();
    let mut audited_keys: Vec<&String> = audited.keys().collect();
    made_keys.sort();
    audited_keys.sort();
    assert_eq!(made_keys, audited_keys, "side effects = audited allowed creations");
    assert!(acknowledged.iter().all(|n| audited.contains_key(n)), "every acknowledged write has its row");
    // The grants that hold at the end decide: agent 0 ends Read-only, agent 1 a Technician.
    let before = made.len();
    assert!(is_error(&comment(&env, &agents[0].1, &ticket, "read-only now").await.expect(200)));
    assert!(!is_error(&comment(&env, &agents[1].1, &ticket, "technician now").await.expect(200)));
    assert_eq!(comment_count(&env, &ticket).await, comment_total + 1, "one more comment, not {before} more");
    let env = Arc::into_inner(env).unwrap();
    env.stop().await;
}

#[actix_web::test]
async fn the_audit_cannot_be_edited_and_only_prune_removes_old_rows() {
    let env = Env::start().await;
    env.call_api("/api/mcp", &env.a.tech_key, json!({ "entryId": "clients.list" })).await.expect(200);
    env.call_api("/api/mcp", &env.a.tech_key, json!({ "entryId": "clients.list" })).await.expect(200);
    let edit = |statement: &'static str| {
        let db = env.ctx.db.clone();
        async move {
            db.run(move |conn| diesel::sql_query(statement).execute(conn).map_err(alga_core::ApiError::from)).await
        }
    };
    assert!(edit("UPDATE mcp_audit SET decision = 'deny'").await.is_err(), "no update");
    assert!(edit("DELETE FROM mcp_audit").await.is_err(), "no delete");
    assert_eq!(env.audit(&env.a, "").await.len(), 2);

    // The retention period holds: nothing younger than it goes.
    let now = alga_core::identity::now();
    let refused = env.ctx.db.run(move |conn| alga_ee_mcp::audit::prune(conn, now, 30, "test")).await.unwrap_err();
    assert!(
        refused.message().contains("retention") || refused.body().to_string().contains("retention"),
        "{:?}",
        refused.body()
    );
    let old = now - chrono::Duration::days(400);
    let removed = env.ctx.db.run(move |conn| alga_ee_mcp::audit::prune(conn, old, 365, "test")).await.unwrap();
    assert_eq!(removed, 0, "the rows are young");
    assert_eq!(env.audit(&env.a, "").await.len(), 2);
    let removed = env
        .ctx
        .db
        .run(move |conn| alga_ee_mcp::audit::prune(conn, alga_core::identity::now(), 0, "test"))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert!(env.audit(&env.a, "").await.is_empty());
    #[derive(diesel::QueryableByName)]
    struct Pruned {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        removed: i64,
    }
    let records: Vec<Pruned> = env
        .ctx
        .db
        .run(|conn| {
            diesel::sql_query("SELECT removed FROM audit_prunes ORDER BY pruned_at")
                .load(conn)
                .map_err(alga_core::ApiError::from)
        })
        .await
        .unwrap();
    assert_eq!(records.iter().map(|r| r.removed).collect::<Vec<_>>(), [0, 2], "every prune is recorded");
    assert!(edit("DELETE FROM audit_prunes").await.is_err(), "and the record is kept");
    assert!(edit("UPDATE audit_prunes SET removed = 0").await.is_err());
    env.stop().await;
}

/// Changes to who may do what are recorded, in the transaction that makes them, with who made
/// them and the target before and after, secrets redacted; a refused change leaves no row.
#[actix_web::test]
async fn administrators_changes_are_audited_with_before_and_after() {
    let env = Env::start().await;
    let a = &env.a;
    let (agent, key) = keyed_agent(&env, a, "audited", &[&a.technician_role]).await;
    let read_only = role_id(&env, a, "Read-only").await;
    let patch = json!({ "role_ids": [read_only] });
    env.api(&a.admin_key, "PATCH", &format!("/api/v1/mcp/agents/{agent}"), Some(patch)).await.expect(200);
    let keys = env.api(&a.admin_key, "GET", &format!("/api/v1/mcp/agents/{agent}/keys"), None).await.expect(200);
    let key_id = keys.data()[0]["id"].as_str().unwrap().to_owned();
    env.api(&a.admin_key, "DELETE", &format!("/api/v1/mcp/agents/{agent}/keys/{key_id}"), None).await.expect(204);
    // Revoking it again changes nothing, and leaves no row.
    env.api(&a.admin_key, "DELETE", &format!("/api/v1/mcp/agents/{agent}/keys/{key_id}"), None).await.expect(204);
    let user = json!({ "email": "new@a.test", "display_name": "New", "role_ids": [read_only], "password": "a secret password!" });
    let user = env.api(&a.admin_key, "POST", "/api/v1/users", Some(user)).await.expect(201);
    let user_id = user.data()["id"].as_str().unwrap().to_owned();
    let issued =
        env.api(&a.admin_key, "POST", "/api/v1/api-keys", Some(json!({ "user_id": user_id }))).await.expect(201);
    let plaintext = issued.data()["key"].as_str().unwrap().to_owned();
    env.api(&a.admin_key, "DELETE", &format!("/api/v1/mcp/agents/{agent}"), None).await.expect(200);
    // Refused changes leave no row.
    env.api(&a.admin_key, "PATCH", &format!("/api/v1/mcp/agents/{agent}"), Some(json!({ "name": "x" })))
        .await
        .expect(409);
    env.api(&a.tech_key, "POST", "/api/v1/roles", Some(json!({ "name": "r", "permissions": ["user:read"] })))
        .await
        .expect(403);

    let res = env.api(&a.admin_key, "GET", "/api/v1/mcp/admin-audit?page_size=200", None).await.expect(200);
    let rows = res.data().as_array().unwrap();
    let actions: Vec<&str> = rows.iter().rev().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "agent.create",
            "agent_key.create",
            "agent.update",
            "agent_key.revoke",
            "user.create",
            "api_key.create",
            "agent.retire"
        ],
        "oldest first here: {rows:#?}"
    );
    let update = &rows[4];
    assert_eq!((update["actor_kind"].as_str(), update["via"].as_str()), (Some("user"), Some("api_key")));
    assert_eq!(update["before"]["roles"][0]["name"], "Technician");
    assert_eq!(update["after"]["roles"][0]["name"], "Read-only");
    assert_eq!(rows[2]["after"]["password"], "***", "a password change shows, never the password");
    let text = res.body.to_string();
    assert!(!text.contains("a secret password!") && !text.contains(&plaintext) && !text.contains(&key), "{text}");
    let export = env.api(&a.admin_key, "GET", "/api/v1/mcp/admin-audit/export?format=csv", None).await.expect(200);
    assert_eq!(export.body.as_str().unwrap().lines().count(), 8, "a header and seven changes");
    let other = env.api(&env.b.admin_key, "GET", "/api/v1/mcp/admin-audit", None).await.expect(200);
    assert!(other.data().as_array().unwrap().is_empty(), "per tenant");
    env.api(&a.tech_key, "GET", "/api/v1/mcp/admin-audit", None).await.expect(403);
    sql(&env, "SELECT 1".to_owned()).await;
    let db = env.ctx.db.clone();
    let edited = db
        .run(|conn| {
            diesel::sql_query("UPDATE admin_audit SET action = 'x'").execute(conn).map_err(alga_core::ApiError::from)
        })
        .await;
    assert!(edited.is_err(), "append-only");
    env.stop().await;
}

/// A tenant with data, agents, grants and audit rows can be deleted on both databases (the grant
/// epoch's triggers stay quiet during the cascade); both of its audits outlive it.
#[actix_web::test]
async fn a_tenant_is_deleted_and_its_audits_outlive_it() {
    let env = Env::start().await;
    alga_api::demo::seed(&env.ctx, "tenant-b").await.unwrap();
    let (_, key) = keyed_agent(&env, &env.b, "leaving", &[&env.b.technician_role]).await;
    env.call_api("/api/mcp", &key, json!({ "entryId": "clients.list" })).await.expect(200);
    let tenant = tenant_id(&env, &env.b).await;
    let edition = alga_ee_mcp::Enterprise::default();
    env.ctx.db.run(move |conn| alga_core::identity::delete_tenant(conn, "tenant-b", &edition)).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |table: &'static str| {
        let (db, tenant) = (env.ctx.db.clone(), tenant.clone());
        async move {
            db.run(move |conn| {
                diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = '{tenant}'"))
                    .get_result::<Count>(conn)
                    .map_err(alga_core::ApiError::from)
            })
            .await
            .unwrap()
            .n
        }
    };
    assert_eq!(count("tickets").await, 0, "its data went with it");
    for table in ["client_locations", "assets", "ticket_assets", "kb_articles"] {
        assert_eq!(count(table).await, 0, "{table}");
    }
    assert_eq!(count("agents").await, 0);
    assert_eq!(count("grant_epochs").await, 0, "no epoch row was made again by the cascade");
    assert_eq!(count("mcp_audit").await, 1, "its tool audit stays");
    assert!(count("admin_audit").await >= 2, "its admin audit stays");
    // Its agent's key, cached before, no longer works.
    env.call_api("/api/mcp", &key, json!({ "entryId": "clients.list" })).await.expect(401);
    env.api(&env.a.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    env.stop().await;
}

/// A token verified (and remembered) with a key the provider then withdraws stops working once
/// the keys are fetched again, although it has not expired.
#[actix_web::test]
async fn a_key_withdrawn_from_the_jwks_stops_verifying_at_the_next_refresh() {
    use crate::support::{Key, Provider};
    let env = Env::start().await;
    let (old, old_public) = Key::new("old");
    let provider = Provider::start(vec![old_public]).await;
    let idp = env.trust(&env.a, &provider).await;
    env.agent(&env.a, &idp, "rotating", &[&env.a.technician_role]).await;
    let token = old.sign(&env.claims(&provider.base, "rotating", &env.resource(None)));
    env.rpc("/t/tenant-a/api/mcp", &token, "tools/list", json!({})).await.expect(200);
    env.call_api("/t/tenant-a/api/mcp", &token, json!({ "entryId": "clients.list" })).await.expect(200);

    // The provider rotates: a token with the new key makes the server fetch the keys again.
    let (new, new_public) = Key::new("new");
    provider.publish(new_public);
    provider.withdraw("old");
    let fresh = new.sign(&env.claims(&provider.base, "rotating", &env.resource(None)));
    env.rpc("/t/tenant-a/api/mcp", &fresh, "tools/list", json!({})).await.expect(200);
    let res = env.call_api("/t/tenant-a/api/mcp", &token, json!({ "entryId": "clients.list" })).await.expect(401);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("key"), "{}", res.body);
    env.stop().await;
}

/// A user's tool call that changes grants (and so moves its tenant's grant epoch in its own
/// transaction) is executed and audited once, not made stale by its own change.
#[actix_web::test]
async fn a_call_that_changes_grants_is_not_invalidated_by_its_own_change() {
    let env = Env::start().await;
    let body = json!({ "name": "Dispatchers", "permissions": ["ticket:read"] });
    let res = env.call_api("/api/mcp", &env.a.admin_key, json!({ "entryId": "roles.create", "body": body })).await;
    assert!(!is_error(&res.expect(200)));
    let roles = env.api(&env.a.admin_key, "GET", "/api/v1/roles?limit=100", None).await.expect(200);
    let made = roles.data().as_array().unwrap().iter().filter(|r| r["name"] == "Dispatchers").count();
    assert_eq!(made, 1, "made once");
    let rows = env.audit(&env.a, "").await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["decision"].as_str(), rows[0]["operation_id"].as_str()), (Some("allow"), Some("roles.create")));
    let changes = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/admin-audit", None).await.expect(200);
    assert_eq!(changes.data()[0]["action"], "role.create", "and recorded as a change, by the same user");
    env.stop().await;
}

#[actix_web::test]
async fn a_role_agents_hold_is_not_deleted_and_they_are_named() {
    let env = Env::start().await;
    let body = json!({ "name": "Triage", "permissions": ["ticket:read", "ticket:update"] });
    let role = env.api(&env.a.admin_key, "POST", "/api/v1/roles", Some(body)).await.expect(201);
    let role = role.data()["id"].as_str().unwrap().to_owned();
    keyed_agent(&env, &env.a, "Night shift", &[&role]).await;
    let res = env.api(&env.a.admin_key, "DELETE", &format!("/api/v1/roles/{role}"), None).await.expect(409);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("Night shift"), "{}", res.body);
    assert_eq!(res.body["error"]["details"]["agents"], json!(["Night shift"]));
    env.api(&env.a.admin_key, "GET", &format!("/api/v1/roles/{role}"), None).await.expect(200);
    env.stop().await;
}

/// A provider's settings tightened while its agent writes (a required scope, another audience):
/// the next write, with the token already verified or with a new one, is decided afresh and
/// refused, and changes nothing.
#[actix_web::test]
async fn writes_on_cached_tokens_honour_tightened_provider_settings() {
    use crate::support::{Key, Provider};
    let env = Env::start().await;
    let ticket = seeded(&env).await;
    let (key, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    let idp = env.trust(&env.a, &provider).await;
    env.agent(&env.a, &idp, "writer", &[&env.a.technician_role]).await;
    let token = key.sign(&env.claims(&provider.base, "writer", &env.resource(None)));
    assert!(!is_error(&comment(&env, &token, &ticket, "before").await.expect(200)));
    let before = comment_count(&env, &ticket).await;

    let path = format!("/api/v1/mcp/idp-providers/{idp}");
    let tighten = json!({ "required_scopes": ["mcp:write"] });
    env.api(&env.a.admin_key, "PATCH", &path, Some(tighten)).await.expect(200);
    let res = comment(&env, &token, &ticket, "cached token").await;
    assert_eq!(
        (res.status, res.header("www-authenticate").contains("insufficient_scope")),
        (403, true),
        "{}",
        res.body
    );
    let mut claims = env.claims(&provider.base, "writer", &env.resource(None));
    claims.set_claim("jti", Some(json!("another token, same subject"))).unwrap();
    let res = comment(&env, &key.sign(&claims), &ticket, "new token").await;
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(comment_count(&env, &ticket).await, before, "no refused write committed");

    // Another audience: tokens for the old one stop writing at once.
    let loosen = json!({ "required_scopes": [], "audience": "api://only-this" });
    env.api(&env.a.admin_key, "PATCH", &path, Some(loosen)).await.expect(200);
    let res = comment(&env, &token, &ticket, "old audience").await;
    assert_eq!(res.status, 401, "{}", res.body);
    assert_eq!(comment_count(&env, &ticket).await, before);
    env.stop().await;
}

/// A write authenticated just before its agent is re-bound to another subject (the request's body
/// arrives after the change) is decided on the new binding: the old token's write is refused and
/// changes nothing.
#[actix_web::test]
async fn a_write_authenticated_before_a_rebinding_follows_the_new_binding() {
    use std::io::{Read, Write};

    use crate::support::{Key, Provider};
    let env = Env::start().await;
    let ticket = seeded(&env).await;
    let (key, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    let idp = env.trust(&env.a, &provider).await;
    let agent = env.agent(&env.a, &idp, "old-subject", &[&env.a.technician_role]).await;
    // Never used before: the endpoint reads this caller afresh.
    let token = key.sign(&env.claims(&provider.base, "old-subject", &env.resource(None)));
    let before = comment_count(&env, &ticket).await;

    let args = json!({ "entryId": "tickets.comments.create", "path": { "id": ticket }, "body": { "body": "late" } });
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "call_api_endpoint", "arguments": args } })
    .to_string();
    let addr = env.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /t/tenant-a/api/mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..body.len() - 1]).unwrap();
    // The endpoint authenticates on the headers, then waits for the last byte of the body.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let rebind = json!({ "idp_id": idp, "subject": "new-subject" });
    env.api(&env.a.admin_key, "PATCH", &format!("/api/v1/mcp/agents/{agent}"), Some(rebind)).await.expect(200);
    stream.write_all(&body.as_bytes()[body.len() - 1..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("No active agent is bound"), "{answer}");
    assert_eq!(comment_count(&env, &ticket).await, before, "the old binding's write committed nothing");
    env.stop().await;
}
