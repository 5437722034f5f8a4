//! Policy plumbing: agents' teams and attributes, the facts loaders, and the audit's policy
//! columns (on SQLite or, with ALGA_TEST_DATABASE_URL, PostgreSQL).

use std::collections::BTreeMap;

use alga_core::db::write_transaction;
use alga_core::identity::{Actor, Principal, RoleRef};
use alga_core::rbac::PermissionSet;
use alga_ee_mcp::policy::facts::{Fact, PrincipalKind, RecordFacts, RecordKind};
use alga_ee_mcp::policy::load::{principal_facts, record_facts};
use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::support::{Env, Tenant, keyed_agent};

async fn tenant_id(env: &Env, t: &Tenant) -> String {
    let me = env.api(&t.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    me.data()["tenant"]["id"].as_str().unwrap().to_owned()
}

async fn epoch(env: &Env, tenant: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Epoch {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        epoch: i64,
    }
    let statement = format!("SELECT epoch FROM grant_epochs WHERE tenant_id = '{tenant}'");
    env.ctx
        .db
        .run(move |conn| diesel::sql_query(statement).get_result::<Epoch>(conn).map_err(alga_core::ApiError::from))
        .await
        .unwrap()
        .epoch
}

async fn created(env: &Env, t: &Tenant, path: &str, body: Value) -> String {
    let res = env.api(&t.admin_key, "POST", path, Some(body)).await.expect(201);
    res.data()["id"].as_str().unwrap().to_owned()
}

async fn first_id(env: &Env, t: &Tenant, path: &str) -> String {
    let res = env.api(&t.admin_key, "GET", &format!("{path}?limit=1"), None).await.expect(200);
    res.data()[0]["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn agents_serve_teams_and_carry_attributes_and_each_change_moves_the_grant_epoch() {
    let env = Env::start().await;
    let (a, b) = (&env.a, &env.b);
    let tenant = tenant_id(&env, a).await;
    let desk = created(&env, a, "/api/v1/teams", json!({ "name": "Service desk" })).await;
    let foreign = created(&env, b, "/api/v1/teams", json!({ "name": "B's team" })).await;

    let body = json!({ "name": "triage", "team_ids": [desk], "attributes": { "region": "emea" } });
    let agent = env.api(&a.admin_key, "POST", "/api/v1/mcp/agents", Some(body)).await.expect(201);
    assert_eq!(agent.data()["team_ids"], json!([desk]));
    assert_eq!(agent.data()["attributes"], json!({ "region": "emea" }));
    let id = agent.data()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/mcp/agents/{id}");

    // Another tenant's team is unknown here: 400 naming it, nothing changed, epoch unmoved.
    let before = epoch(&env, &tenant).await;
    let res = env.api(&a.admin_key, "PATCH", &path, Some(json!({ "team_ids": [foreign], "name": "renamed" }))).await;
    let res = res.expect(400);
    assert!(res.body.to_string().contains(&foreign), "{}", res.body);
    let now = env.api(&a.admin_key, "GET", &path, None).await.expect(200);
    assert_eq!((now.data()["team_ids"].clone(), now.data()["name"].clone()), (json!([desk]), json!("triage")));
    assert_eq!(epoch(&env, &tenant).await, before);

    // Attributes are checked: count, key shape, value length.
    let many: BTreeMap<String, String> = (0..21).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    for bad in [json!(many), json!({ "bad key": "x" }), json!({ "": "x" }), json!({ "k": "v".repeat(201) })] {
        let res = env.api(&a.admin_key, "PATCH", &path, Some(json!({ "attributes": bad }))).await.expect(400);
        assert_eq!(res.body["error"]["details"]["fields"][0]["field"], "attributes", "{}", res.body);
    }
    assert_eq!(epoch(&env, &tenant).await, before, "refused changes change nothing");

    // Omitted keeps; each change moves the epoch.
    let kept = env.api(&a.admin_key, "PATCH", &path, Some(json!({ "description": "d" }))).await.expect(200);
    assert_eq!(
        (kept.data()["team_ids"].clone(), kept.data()["attributes"].clone()),
        (json!([desk]), json!({ "region": "emea" }))
    );
    let before = epoch(&env, &tenant).await;
    env.api(&a.admin_key, "PATCH", &path, Some(json!({ "attributes": { "region": "apac" } }))).await.expect(200);
    let after_attributes = epoch(&env, &tenant).await;
    assert!(after_attributes > before);
    env.api(&a.admin_key, "PATCH", &path, Some(json!({ "team_ids": [] }))).await.expect(200);
    assert!(epoch(&env, &tenant).await > after_attributes);

    let list = env.api(&a.admin_key, "GET", "/api/v1/mcp/agents", None).await.expect(200);
    let listed = list.data().as_array().unwrap().iter().find(|x| x["id"] == id.as_str()).unwrap().clone();
    assert_eq!((listed["team_ids"].clone(), listed["attributes"].clone()), (json!([]), json!({ "region": "apac" })));

    // Audited with before and after.
    let audit = env.api(&a.admin_key, "GET", "/api/v1/mcp/admin-audit?page_size=50", None).await.expect(200);
    let rows = audit.data().as_array().unwrap();
    let changed =
        |r: &&Value| r["before"]["attributes"]["region"] == "emea" && r["after"]["attributes"]["region"] == "apac";
    assert!(rows.iter().any(|r| changed(&r)), "the attribute change is audited: {rows:#?}");
    let teams_changed = |r: &&Value| r["before"]["team_ids"] == json!([desk]) && r["after"]["team_ids"] == json!([]);
    assert!(rows.iter().any(|r| teams_changed(&r)), "the team change is audited: {rows:#?}");
    env.stop().await;
}

#[actix_web::test]
async fn the_loaders_read_the_declared_facts_of_every_record_kind_and_never_another_tenants() {
    let env = Env::start().await;
    alga_api::demo::seed(&env.ctx, "tenant-a").await.unwrap();
    let a = &env.a;
    let tenant = tenant_id(&env, a).await;
    let other = tenant_id(&env, &env.b).await;
    let team = created(&env, a, "/api/v1/teams", json!({ "name": "VIP desk" })).await;
    // The demo data may hold the tag already.
    let tag = env.api(&a.admin_key, "POST", "/api/v1/tags", Some(json!({ "name": "vip" }))).await;
    assert!([201, 409].contains(&tag.status), "{}", tag.body);
    let client = created(&env, a, "/api/v1/clients", json!({ "name": "Big Corp", "tags": ["vip"] })).await;
    let board = first_id(&env, a, "/api/v1/boards").await;
    let priority = first_id(&env, a, "/api/v1/priorities").await;
    let body = json!({ "title": "CEO laptop", "board_id": board, "client_id": client, "priority_id": priority, "team_id": team });
    let ticket = created(&env, a, "/api/v1/tickets", body).await;
    let entry = env.api(&a.admin_key, "GET", "/api/v1/time-entries?limit=1", None).await.expect(200);
    let entry = entry.data()[0].clone();

    let mut ids = vec![(RecordKind::Ticket, ticket.clone()), (RecordKind::Client, client.clone())];
    ids.push((RecordKind::Asset, first_id(&env, a, "/api/v1/assets").await));
    ids.push((RecordKind::TimeEntry, entry["id"].as_str().unwrap().to_owned()));
    ids.push((RecordKind::KbArticle, first_id(&env, a, "/api/v1/kb-articles").await));
    assert_eq!(ids.len(), RecordKind::ALL.len());

    let (t, o) = (tenant.clone(), other.clone());
    let loaded: Vec<(Option<RecordFacts>, Option<RecordFacts>)> = env
        .ctx
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let mut out = Vec::new();
                for (kind, id) in &ids {
                    out.push((record_facts(conn, &t, *kind, id, true)?, record_facts(conn, &o, *kind, id, false)?));
                }
                Ok::<_, alga_core::ApiError>(out)
            })
        })
        .await
        .unwrap();
    for (facts, foreign) in &loaded {
        let facts = facts.as_ref().expect("the tenant's own record is found");
        assert!(foreign.is_none(), "another tenant's id is not found: {:?}", facts.kind);
        let declared: Vec<&str> = facts.kind.attributes().iter().map(|(name, _)| *name).collect();
        let present: Vec<&str> = facts.attributes.keys().map(String::as_str).collect();
        let mut sorted = declared.clone();
        sorted.sort_unstable();
        assert_eq!(present, sorted, "{:?} carries exactly its declared attributes", facts.kind);
        for (name, fact) in &facts.attributes {
            if let Fact::Client(client) = fact {
                let declared: Vec<&str> = RecordKind::Client.attributes().iter().map(|(n, _)| *n).collect();
                assert_eq!(client.attributes.len(), declared.len(), "{name}: the client's own attributes");
            }
        }
    }
    let ticket_facts = loaded[0].0.as_ref().unwrap();
    let Some(Fact::Client(of_ticket)) = ticket_facts.attributes.get("client") else { panic!("{ticket_facts:?}") };
    assert_eq!(of_ticket.attributes["tags"], Fact::Names(vec!["vip".to_owned()]));
    assert_eq!(of_ticket.attributes["name"], Fact::String("Big Corp".to_owned()));
    assert_eq!(ticket_facts.attributes["team_id"], Fact::String(team.clone()));
    assert_eq!(ticket_facts.attributes["is_closed"], Fact::Bool(false));
    assert_eq!(ticket_facts.attributes["assigned_to"], Fact::Absent);
    let entry_facts = loaded[3].0.as_ref().unwrap();
    assert_eq!(entry_facts.attributes["duration_minutes"], Fact::Long(entry["duration_minutes"].as_i64().unwrap()));

    // The principal: an agent's role names, teams and attributes.
    let body = json!({ "name": "vip-bot", "role_ids": [a.technician_role], "team_ids": [team], "attributes": { "tier": "gold" } });
    let agent = created(&env, a, "/api/v1/mcp/agents", body).await;
    let principal = Principal {
        tenant_id: tenant.clone(),
        tenant_slug: "tenant-a".to_owned(),
        actor: Actor::Agent { id: agent.clone(), name: "vip-bot".to_owned() },
        api_key_id: None,
        roles: vec![RoleRef { id: a.technician_role.clone(), name: "Technician".to_owned() }],
        permissions: PermissionSet::default(),
    };
    let facts = env.ctx.db.run(move |conn| principal_facts(conn, &principal)).await.unwrap();
    assert_eq!(facts.kind, PrincipalKind::Agent);
    assert_eq!((facts.id.as_str(), facts.name.as_str()), (agent.as_str(), "vip-bot"));
    assert_eq!(facts.roles, ["Technician"]);
    assert_eq!(facts.teams, [team]);
    assert_eq!(facts.attributes.get("tier").map(String::as_str), Some("gold"));
    env.stop().await;
}

#[actix_web::test]
async fn the_audit_stays_append_only_with_its_policy_columns() {
    let env = Env::start().await;
    let (_, key) = keyed_agent(&env, &env.a, "auditor", &[&env.a.technician_role]).await;
    env.call_api("/api/mcp", &key, json!({ "entryId": "clients.list" })).await.expect(200);
    let rows = env.audit(&env.a, "").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].get("policy_decision").is_none(), "absent while no policy set applied: {}", rows[0]);
    for statement in ["UPDATE mcp_audit SET policy_decision = 'deny', policy_ids = '[\"x\"]'", "DELETE FROM mcp_audit"]
    {
        let refused = env
            .ctx
            .db
            .run(move |conn| diesel::sql_query(statement).execute(conn).map_err(alga_core::ApiError::from))
            .await;
        assert!(refused.is_err(), "{statement}");
    }
    assert_eq!(env.audit(&env.a, "").await.len(), 1);
    env.stop().await;
}
