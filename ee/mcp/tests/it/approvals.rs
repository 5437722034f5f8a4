//! Approvals (issue 16): the store's request/decide/consume/expire rules, the request-state key,
//! and the admin API `/api/v1/mcp/approvals` (on SQLite or, with ALGA_TEST_DATABASE_URL,
//! PostgreSQL).

use alga_api::tools::Arguments;
use alga_core::identity::now;
use alga_ee_mcp::approval::digest::of_call;
use alga_ee_mcp::approval::seal::{self, SealKey};
use alga_ee_mcp::approval::store::{
    self, Approval, ApprovalError, Binding, NewApproval, Requested, Requester, RequesterKind, Status,
};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::{Map, Value, json};

use crate::support::{Env, keyed_agent, whoami};

/// A call of `tickets.delete` on ticket `ticket` by `requester`.
#[derive(Clone)]
struct Call {
    tenant: String,
    requester: Requester,
    arguments: Arguments,
    policy_version: i64,
    approver_roles: Vec<String>,
    expires_at: NaiveDateTime,
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Call {
    fn new(tenant: &str, kind: RequesterKind, id: &str, ticket: &str) -> Call {
        Call {
            tenant: tenant.to_owned(),
            requester: Requester { kind, id: id.to_owned(), name: "Requester".into() },
            arguments: Arguments {
                path: object(json!({ "id": ticket })),
                query: Map::new(),
                body: Some(json!({ "reason": "dup", "api_key": "alga_secret" })),
            },
            policy_version: 3,
            approver_roles: Vec::new(),
            expires_at: now() + Duration::hours(1),
        }
    }

    fn new_approval(&self) -> NewApproval<'_> {
        NewApproval {
            tenant_id: &self.tenant,
            requester: &self.requester,
            client: (Some("approvals-test"), Some("1.0")),
            operation_id: "tickets.delete",
            arguments: &self.arguments,
            record: Some(("ticket", "t-1")),
            policy_version: self.policy_version,
            policy_ids: &[],
            approver_roles: &self.approver_roles,
            expires_at: self.expires_at,
        }
    }

    fn binding(&self) -> Binding<'_> {
        Binding {
            tenant_id: &self.tenant,
            principal_kind: self.requester.kind,
            principal_id: &self.requester.id,
            operation_id: "tickets.delete",
            arguments: &self.arguments,
            policy_version: self.policy_version,
        }
    }
}

async fn try_request(env: &Env, call: &Call) -> Result<Requested, ApprovalError> {
    let call = call.clone();
    env.ctx.db.run(move |conn| store::request(conn, &call.new_approval(), now())).await
}

async fn request(env: &Env, call: &Call) -> Requested {
    try_request(env, call).await.unwrap()
}

async fn consume(env: &Env, call: &Call, id: &str) -> Result<Approval, ApprovalError> {
    let (call, id) = (call.clone(), id.to_owned());
    env.ctx.db.run(move |conn| store::consume(conn, &id, call.binding(), Some("audit-row-1"), now())).await
}

fn approve(id: &str) -> String {
    format!("/api/v1/mcp/approvals/{id}/approve")
}

async fn status_of(env: &Env, key: &str, id: &str) -> String {
    let one = env.api(key, "GET", &format!("/api/v1/mcp/approvals/{id}"), None).await.expect(200);
    one.data()["status"].as_str().unwrap().to_owned()
}

/// Moves an approval's expiry into the past (as time passing would).
async fn age(env: &Env, id: &str) {
    let id = id.to_owned();
    env.ctx
        .db
        .run(move |conn| {
            use alga_ee_mcp::schema::mcp_approvals;
            diesel::update(mcp_approvals::table.filter(mcp_approvals::id.eq(&id)))
                .set(mcp_approvals::expires_at.eq(now() - Duration::seconds(1)))
                .execute(conn)
                .map_err(alga_core::ApiError::from)
        })
        .await
        .unwrap();
}

#[actix_web::test]
async fn an_identical_retry_finds_the_open_approval_and_any_other_call_asks_again() {
    let env = Env::start().await;
    let (tenant, _) = whoami(&env, &env.a.admin_key).await;
    let call = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-1");
    let first = request(&env, &call).await;
    assert!(first.created);
    let a = &first.approval;
    assert!(a.id.starts_with("apr_") && a.id.len() == 36, "{}", a.id);
    assert_eq!(a.status, Status::Pending);
    assert_eq!(a.arguments["body"]["api_key"], "***", "{}", a.arguments);
    assert_eq!(a.arguments["body"]["reason"], "dup");
    assert_eq!(a.arguments["path"]["id"], "t-1");
    // Bound by the digest of exactly the arguments it stores (before redaction).
    assert_eq!(a.args_digest, of_call("tickets.delete", &call.arguments));

    let again = request(&env, &call).await;
    assert!(!again.created);
    assert_eq!(again.approval.id, a.id);

    // Another ticket, another principal, another policy version: each a call of its own.
    let other_ticket = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-2");
    let other_principal = Call::new(&tenant, RequesterKind::Agent, "agent-2", "t-1");
    let mut other_version = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-1");
    other_version.policy_version = 4;
    for other in [&other_ticket, &other_principal, &other_version] {
        let r = request(&env, other).await;
        assert!(r.created);
        assert_ne!(r.approval.id, a.id);
    }

    // Once approved, the identical retry finds the approved one (to consume it).
    env.api(&env.a.admin_key, "POST", &approve(&a.id), Some(json!({}))).await.expect(200);
    let approved = request(&env, &call).await;
    assert!(!approved.created);
    assert_eq!((approved.approval.id.as_str(), approved.approval.status), (a.id.as_str(), Status::Approved));

    // Past its expiry it no longer counts: it is marked expired and a new one is asked for.
    age(&env, &a.id).await;
    let renewed = request(&env, &call).await;
    assert!(renewed.created);
    assert_ne!(renewed.approval.id, a.id);
    assert_eq!(status_of(&env, &env.a.admin_key, &a.id).await, "expired");
    env.stop().await;
}

#[actix_web::test]
async fn concurrent_identical_requests_store_one_approval() {
    let env = Env::start().await;
    let (tenant, _) = whoami(&env, &env.a.admin_key).await;
    let call = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-1");
    let all = futures_util::future::join_all((0..8).map(|_| request(&env, &call))).await;
    let ids: std::collections::BTreeSet<&str> = all.iter().map(|r| r.approval.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(all.iter().filter(|r| r.created).count(), 1);
    env.stop().await;
}

#[actix_web::test]
async fn an_approval_is_consumed_once_by_exactly_its_call() {
    let env = Env::start().await;
    let (tenant, _) = whoami(&env, &env.a.admin_key).await;
    let call = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-1");
    let id = request(&env, &call).await.approval.id;

    assert!(matches!(consume(&env, &call, &id).await, Err(ApprovalError::NotApproved(Status::Pending))));
    env.api(&env.a.admin_key, "POST", &approve(&id), None).await.expect(200);

    // Other arguments, another principal, another policy version: not this approval's call.
    let other_args = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-2");
    let other_agent = Call::new(&tenant, RequesterKind::Agent, "agent-2", "t-1");
    let mut other_version = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-1");
    other_version.policy_version = 4;
    for other in [&other_args, &other_agent, &other_version] {
        assert!(matches!(consume(&env, other, &id).await, Err(ApprovalError::OtherCall)));
    }
    // Another tenant cannot name it.
    let (tenant_b, _) = whoami(&env, &env.b.admin_key).await;
    let foreign = Call::new(&tenant_b, RequesterKind::Agent, "agent-1", "t-1");
    assert!(matches!(consume(&env, &foreign, &id).await, Err(ApprovalError::NotFound)));

    // A write that fails after consuming gives the approval back (its transaction rolls back).
    let (c, i) = (call.clone(), id.clone());
    let rolled_back = env
        .ctx
        .db
        .run(move |conn| {
            alga_core::db::write_transaction(conn, |conn| {
                store::consume(conn, &i, c.binding(), None, now())?;
                Err::<(), ApprovalError>(ApprovalError::Invalid { field: "x", message: "the write failed".into() })
            })
        })
        .await;
    assert!(matches!(rolled_back, Err(ApprovalError::Invalid { .. })));
    assert_eq!(status_of(&env, &env.a.admin_key, &id).await, "approved");

    // Concurrent consumers: exactly one wins.
    let outcomes = futures_util::future::join_all((0..8).map(|_| consume(&env, &call, &id))).await;
    let won: Vec<&Approval> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    assert_eq!(won[0].status, Status::Consumed);
    assert_eq!(won[0].audit_id.as_deref(), Some("audit-row-1"));
    assert!(
        outcomes
            .iter()
            .filter_map(|o| o.as_ref().err())
            .all(|e| matches!(e, ApprovalError::NotApproved(Status::Consumed))),
        "{outcomes:?}"
    );
    // And afterwards, never again; the identical call asks anew.
    assert!(matches!(consume(&env, &call, &id).await, Err(ApprovalError::NotApproved(Status::Consumed))));
    let next = request(&env, &call).await;
    assert!(next.created && next.approval.id != id);
    env.stop().await;
}

#[actix_web::test]
async fn expired_approvals_are_neither_decided_nor_consumed_and_the_sweep_marks_them() {
    let env = Env::start().await;
    let (tenant, _) = whoami(&env, &env.a.admin_key).await;
    let pending = request(&env, &Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-1")).await.approval.id;
    let call = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-2");
    let approved = request(&env, &call).await.approval.id;
    let live = request(&env, &Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-3")).await.approval.id;
    env.api(&env.a.admin_key, "POST", &approve(&approved), None).await.expect(200);
    let count = |env: &Env| {
        let tenant = tenant.clone();
        let db = env.ctx.db.clone();
        async move { db.run(move |conn| store::pending_count(conn, &tenant, now())).await.unwrap() }
    };
    assert_eq!(count(&env).await, 2);

    age(&env, &pending).await;
    age(&env, &approved).await;
    assert_eq!(count(&env).await, 1, "an expired approval no longer waits");
    let late = env.api(&env.a.admin_key, "POST", &approve(&pending), None).await.expect(409);
    assert!(late.body["error"]["message"].as_str().unwrap().contains("expired"), "{}", late.body);
    assert!(matches!(consume(&env, &call, &approved).await, Err(ApprovalError::Expired)));

    let swept = env.ctx.db.run(|conn| store::expire_due(conn, now())).await.unwrap();
    assert_eq!(swept, 2);
    assert_eq!(status_of(&env, &env.a.admin_key, &pending).await, "expired");
    assert_eq!(status_of(&env, &env.a.admin_key, &approved).await, "expired");
    assert_eq!(status_of(&env, &env.a.admin_key, &live).await, "pending");
    let again = env.api(&env.a.admin_key, "POST", &approve(&pending), None).await.expect(409);
    assert!(again.body["error"]["message"].as_str().unwrap().contains("already expired"), "{}", again.body);

    // Pruning the audit takes the approvals that expired before its cutoff, and no other.
    let cutoff = now() - Duration::milliseconds(500);
    env.ctx.db.run(move |conn| alga_ee_mcp::audit::prune(conn, cutoff, 0, "test")).await.unwrap();
    env.api(&env.a.admin_key, "GET", &format!("/api/v1/mcp/approvals/{pending}"), None).await.expect(404);
    env.api(&env.a.admin_key, "GET", &format!("/api/v1/mcp/approvals/{approved}"), None).await.expect(404);
    assert_eq!(status_of(&env, &env.a.admin_key, &live).await, "pending");
    env.stop().await;
}

#[actix_web::test]
async fn approvals_are_decided_by_people_never_by_their_requester_nor_an_agent() {
    let env = Env::start().await;
    let (tenant, admin_id) = whoami(&env, &env.a.admin_key).await;
    let (agent_id, agent_key) = keyed_agent(&env, &env.a, "bot", &[&env.a.technician_role]).await;
    let by_agent = request(&env, &Call::new(&tenant, RequesterKind::Agent, &agent_id, "t-1")).await.approval.id;
    let by_admin = request(&env, &Call::new(&tenant, RequesterKind::User, &admin_id, "t-1")).await.approval.id;

    // An agent (even one whose roles were given the permission) never decides.
    // Agents' keys do not open the admin API at all; and the store refuses an agent even when
    // it is handed every permission.
    env.api(&agent_key, "POST", &approve(&by_agent), None).await.expect(401);
    let agent = alga_core::Principal {
        tenant_id: tenant.clone(),
        tenant_slug: "tenant-a".into(),
        actor: alga_core::identity::Actor::Agent { id: agent_id.clone(), name: "bot".into() },
        api_key_id: None,
        roles: Vec::new(),
        permissions: alga_core::rbac::PermissionSet::all(),
    };
    let id = by_agent.clone();
    let refused = env.ctx.db.run(move |conn| store::decide(conn, &agent, &id, true, None, now())).await;
    assert!(matches!(refused, Err(ApprovalError::NotHuman)), "{refused:?}");
    // A technician lacks the permission.
    env.api(&env.a.tech_key, "POST", &approve(&by_agent), None).await.expect(403);
    env.api(&env.a.tech_key, "GET", "/api/v1/mcp/approvals", None).await.expect(403);
    // Nobody approves their own call.
    let own = env.api(&env.a.admin_key, "POST", &approve(&by_admin), None).await.expect(403);
    assert!(own.body["error"]["message"].as_str().unwrap().contains("own call"), "{}", own.body);
    // Another tenant's administrator sees nothing of it.
    env.api(&env.b.admin_key, "GET", &format!("/api/v1/mcp/approvals/{by_agent}"), None).await.expect(404);
    env.api(&env.b.admin_key, "POST", &approve(&by_agent), None).await.expect(404);
    let listed = env.api(&env.b.admin_key, "GET", "/api/v1/mcp/approvals", None).await.expect(200);
    assert_eq!(listed.data().as_array().unwrap().len(), 0);
    for id in [&by_agent, &by_admin] {
        assert_eq!(status_of(&env, &env.a.admin_key, id).await, "pending");
    }

    // A denial says why; an administrator of the tenant decides once.
    let bare = env.api(&env.a.admin_key, "POST", &format!("/api/v1/mcp/approvals/{by_agent}/deny"), None).await;
    bare.expect(400);
    let denied = env
        .api(
            &env.a.admin_key,
            "POST",
            &format!("/api/v1/mcp/approvals/{by_agent}/deny"),
            Some(json!({ "reason": "Not this one." })),
        )
        .await
        .expect(200);
    assert_eq!(denied.data()["status"], "denied");
    assert_eq!(denied.data()["decided_by"], admin_id);
    assert_eq!(denied.data()["decision_reason"], "Not this one.");
    let twice = env.api(&env.a.admin_key, "POST", &approve(&by_agent), None).await.expect(409);
    assert!(twice.body["error"]["message"].as_str().unwrap().contains("already denied"), "{}", twice.body);

    // Listing by status, paginated.
    let pending = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/approvals?status=pending", None).await.expect(200);
    let ids: Vec<&str> = pending.data().as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [by_admin.as_str()]);
    let page = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/approvals?limit=1&page=2", None).await.expect(200);
    assert_eq!(page.data().as_array().unwrap().len(), 1);
    assert_eq!(page.body["pagination"]["total"], 2);
    env.api(&env.a.admin_key, "GET", "/api/v1/mcp/approvals?status=maybe", None).await.expect(400);

    // The decision is in the admin audit, with who and before/after.
    let audit = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/admin-audit?target_kind=mcp_approval", None).await;
    let rows = audit.expect(200).data().as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "approval.deny");
    assert_eq!(rows[0]["target_id"], by_agent.as_str());
    assert_eq!(rows[0]["user_id"], admin_id);
    assert!(rows[0]["after"].to_string().contains("Not this one."), "{}", rows[0]);
    env.stop().await;
}

/// A user of tenant A holding the role `role_id`, with an API key of their own: (id, key).
async fn user_with_role(env: &Env, email: &str, role_id: &str) -> (String, String) {
    let user = env
        .api(
            &env.a.admin_key,
            "POST",
            "/api/v1/users",
            Some(json!({ "email": email, "display_name": email, "password": "correct horse battery staple 1", "role_ids": [role_id] })),
        )
        .await
        .expect(201);
    let user_id = user.data()["id"].as_str().unwrap().to_owned();
    let key = env
        .api(&env.a.admin_key, "POST", "/api/v1/api-keys", Some(json!({ "description": email, "user_id": user_id })))
        .await;
    (user_id, key.expect(201).data()["key"].as_str().unwrap().to_owned())
}

async fn role(env: &Env, name: &str) -> String {
    let role = env
        .api(
            &env.a.admin_key,
            "POST",
            "/api/v1/roles",
            Some(json!({ "name": name, "permissions": ["mcp_approval:update"] })),
        )
        .await
        .expect(201);
    role.data()["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn an_approval_naming_roles_needs_an_approver_holding_them_now() {
    let env = Env::start().await;
    let (tenant, _) = whoami(&env, &env.a.admin_key).await;
    let mut call = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-1");
    call.approver_roles = vec!["Billing".into()];
    // A policy naming a role the tenant does not have: nobody could approve, so nothing is asked.
    let unknown = try_request(&env, &call).await;
    assert!(matches!(&unknown, Err(ApprovalError::UnknownRole(name)) if name == "Billing"), "{unknown:?}");

    let billing = role(&env, "Billing").await;
    let id = request(&env, &call).await.approval.id;
    let missing = env.api(&env.a.admin_key, "POST", &approve(&id), None).await.expect(403);
    assert!(missing.body["error"]["message"].as_str().unwrap().contains("Billing"), "{}", missing.body);
    let shown = env.api(&env.a.admin_key, "GET", &format!("/api/v1/mcp/approvals/{id}"), None).await.expect(200);
    assert_eq!(shown.data()["approver_roles"], json!([{ "id": billing, "name": "Billing" }]));
    let (user_id, key) = user_with_role(&env, "billing@tenant-a.test", &billing).await;

    // The role is bound by id: renamed, its holders still approve; a new role given its old
    // name does not make its holders approvers.
    env.api(&env.a.admin_key, "PUT", &format!("/api/v1/roles/{billing}"), Some(json!({ "name": "Finance" })))
        .await
        .expect(200);
    let impostor = role(&env, "Billing").await;
    let (_, impostor_key) = user_with_role(&env, "impostor@tenant-a.test", &impostor).await;
    let refused = env.api(&impostor_key, "POST", &approve(&id), None).await.expect(403);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("Billing"), "{}", refused.body);

    // Deactivated (their roles kept, a credential still trusted somewhere): they decide nothing.
    let bill = alga_core::Principal {
        tenant_id: tenant.clone(),
        tenant_slug: "tenant-a".into(),
        actor: alga_core::identity::Actor::User {
            id: user_id.clone(),
            email: "billing@tenant-a.test".into(),
            display_name: "Bill".into(),
        },
        api_key_id: None,
        roles: Vec::new(),
        permissions: alga_core::rbac::PermissionSet::all(),
    };
    let (other, inactive) = (id.clone(), user_id.clone());
    env.ctx
        .db
        .run(move |conn| {
            alga_core::on_backend!(conn, |c| diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("UPDATE users SET active = false WHERE id = '{inactive}'")),
                c
            ))
            .map_err(alga_core::ApiError::from)
        })
        .await
        .unwrap();
    let refused = env.ctx.db.run(move |conn| store::decide(conn, &bill, &other, true, None, now())).await;
    assert!(matches!(refused, Err(ApprovalError::NotPermitted)), "{refused:?}");
    assert_eq!(status_of(&env, &env.a.admin_key, &id).await, "pending");
    env.api(&env.a.admin_key, "PUT", &format!("/api/v1/users/{user_id}"), Some(json!({ "active": true })))
        .await
        .expect(200);
    let approved = env.api(&key, "POST", &approve(&id), None).await.expect(200);
    assert_eq!(approved.data()["status"], "approved");
    assert_eq!(approved.data()["decided_by"], user_id);
    env.stop().await;
}

#[actix_web::test]
async fn a_denial_stands_for_the_identical_call_and_waiting_approvals_are_capped() {
    let env = Env::start().await;
    let (tenant, _) = whoami(&env, &env.a.admin_key).await;
    let call = Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-1");
    let id = request(&env, &call).await.approval.id;
    env.api(&env.a.admin_key, "POST", &format!("/api/v1/mcp/approvals/{id}/deny"), Some(json!({ "reason": "No." })))
        .await
        .expect(200);
    // The identical retry is told of the denial; it does not ask again.
    let again = request(&env, &call).await;
    assert!(!again.created);
    assert_eq!((again.approval.id.as_str(), again.approval.status), (id.as_str(), Status::Denied));
    assert_eq!(again.approval.decision_reason.as_deref(), Some("No."));
    // Until the denied approval would have expired.
    age(&env, &id).await;
    let renewed = request(&env, &call).await;
    assert!(renewed.created && renewed.approval.id != id);

    // At most MAX_PENDING_PER_PRINCIPAL waiting per principal (this one has one already).
    for n in 1..store::MAX_PENDING_PER_PRINCIPAL {
        assert!(request(&env, &Call::new(&tenant, RequesterKind::Agent, "agent-1", &format!("t-{n}x"))).await.created);
    }
    let over = try_request(&env, &Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-over")).await;
    assert!(matches!(over, Err(ApprovalError::TooManyPending)), "{over:?}");
    assert_eq!(alga_core::ApiError::from(over.unwrap_err()).status().as_u16(), 429);
    // The identical retry of a waiting one still finds it; another principal still asks.
    assert!(!request(&env, &call).await.created);
    assert!(request(&env, &Call::new(&tenant, RequesterKind::Agent, "agent-2", "t-over")).await.created);
    // A decision frees a place.
    env.api(&env.a.admin_key, "POST", &approve(&renewed.approval.id), None).await.expect(200);
    assert!(request(&env, &Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-over")).await.created);
    env.stop().await;
}

/// Concurrent requests of one principal, each for another call: at most
/// MAX_PENDING_PER_PRINCIPAL are stored, whatever the interleaving.
#[actix_web::test]
async fn concurrent_requests_of_one_caller_never_exceed_the_waiting_cap() {
    let env = Env::start().await;
    let (tenant, _) = whoami(&env, &env.a.admin_key).await;
    let calls: Vec<Call> =
        (0..30).map(|n| Call::new(&tenant, RequesterKind::Agent, "agent-1", &format!("t-{n}"))).collect();
    let outcomes = futures_util::future::join_all(calls.iter().map(|c| try_request(&env, c))).await;
    let created = outcomes.iter().filter(|o| matches!(o, Ok(r) if r.created)).count();
    let refused = outcomes.iter().filter(|o| matches!(o, Err(ApprovalError::TooManyPending))).count();
    assert_eq!((created, refused), (20, 10), "{outcomes:?}");
    env.stop().await;
}

#[actix_web::test]
async fn the_request_state_key_is_generated_once_and_shared_unless_configured() {
    let env = Env::start().await;
    let first = env.ctx.db.run(|conn| seal::state_key(conn, None)).await.unwrap();
    let second = env.ctx.db.run(|conn| seal::state_key(conn, None)).await.unwrap();
    assert_eq!(first, second, "the stored key is read back, not made again");
    let configured = SealKey::new([9u8; 32]);
    let given = configured.clone();
    let used = env.ctx.db.run(move |conn| seal::state_key(conn, Some(&given))).await.unwrap();
    assert_eq!(used, configured);
    assert_ne!(used, first);

    // A state sealed with the stored key opens with the key another connection reads.
    let state = seal::State {
        approval_id: "apr_x".into(),
        tenant_id: "t".into(),
        principal: "agent:a".into(),
        method: "tools/call".into(),
        tool: "call_api_endpoint".into(),
        args_digest: "0".repeat(64),
        expires_at: now() + Duration::minutes(5),
    };
    let text = seal::seal(&first, &state).unwrap();
    let call = seal::Binding {
        tenant_id: "t",
        principal: "agent:a",
        method: "tools/call",
        tool: "call_api_endpoint",
        args_digest: &state.args_digest,
    };
    assert_eq!(seal::open(&second, &text, &call, now()).unwrap().approval_id, "apr_x");
    env.stop().await;
}

/// By default a person decides in a signed-in session: an administrator's API key reads approvals
/// but cannot decide them, and the approval stays as it was.
#[actix_web::test]
async fn api_keys_decide_approvals_only_where_the_server_lets_them() {
    let env =
        Env::with(alga_ee_mcp::Settings { allow_insecure_idp_urls: true, ..alga_ee_mcp::Settings::default() }).await;
    let (tenant, _) = whoami(&env, &env.a.admin_key).await;
    let id = request(&env, &Call::new(&tenant, RequesterKind::Agent, "agent-1", "t-1")).await.approval.id;
    let refused = env.api(&env.a.admin_key, "POST", &approve(&id), None).await.expect(403);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("signed in"), "{}", refused.body);
    let deny = format!("/api/v1/mcp/approvals/{id}/deny");
    env.api(&env.a.admin_key, "POST", &deny, Some(json!({ "reason": "no" }))).await.expect(403);
    assert_eq!(status_of(&env, &env.a.admin_key, &id).await, "pending", "a key still reads, and changed nothing");
    env.stop().await;
}
