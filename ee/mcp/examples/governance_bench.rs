//! Prints JWT verifications per second with a warm key cache (ES256 and RS256, one core), and
//! audit rows written per second through the group-commit writer the endpoint uses (64 concurrent
//! callers, each waiting for its row to be durable) on SQLite, and on PostgreSQL when
//! `ALGA_TEST_DATABASE_URL` names a server.
//! Also policy evaluations per second (one core) of a ticket update with 20 and 200 forbids that
//! apply to it: none of which matches (the screen rules them all out; Cedar does not run), and
//! one of which matches (Cedar evaluates them all).
//! Run by `cargo xtask bench`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant, SystemTime};

use alga_core::governance::McpGovernance;
use alga_core::identity::{create_tenant, new_id, now};
use alga_core::migrations::Migrator;
use alga_core::testing::TestDb;
use alga_core::{Db, PoolOptions};
use alga_ee_mcp::audit::{self, Record};
use alga_ee_mcp::jwks::KeySet;
use alga_ee_mcp::{Enterprise, jwt};
use josekit::jwk::{Jwk, JwkSet};
use josekit::jws::{ES256, JwsHeader, JwsSigner, RS256};
use josekit::jwt::JwtPayload;

const ISSUER: &str = "https://idp.bench";
const AUDIENCE: &str = "https://alga.bench/api/mcp";

fn token(signer: &dyn JwsSigner) -> String {
    let mut claims = JwtPayload::new();
    claims.set_issuer(ISSUER);
    claims.set_audience(vec![AUDIENCE]);
    claims.set_subject("bench-agent");
    claims.set_expires_at(&(SystemTime::now() + Duration::from_secs(3600)));
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id("k");
    josekit::jwt::encode_with_signer(&claims, &header, signer).unwrap()
}

fn verifications_per_second(public: Jwk, signer: &dyn JwsSigner) -> f64 {
    let mut set = JwkSet::new();
    let mut public = public;
    public.set_key_id("k");
    set.push_key(public);
    let keys = KeySet::parse(set.to_string().as_bytes(), Duration::from_secs(600)).unwrap();
    let token = token(signer);
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed() < Duration::from_secs(2) {
        let seen = jwt::inspect(&token).unwrap();
        let verifier = keys.verifier(seen.kid.as_deref(), &seen.algorithm).unwrap();
        let payload = jwt::verify(&token, verifier, ISSUER, AUDIENCE, SystemTime::now()).unwrap();
        assert_eq!(jwt::subject(&payload, "sub").unwrap(), "bench-agent");
        n += 1;
    }
    f64::from(n) / started.elapsed().as_secs_f64()
}

fn record(tenant: &str) -> Record {
    Record {
        tenant_id: tenant.to_owned(),
        id: new_id(),
        caller_kind: "agent".to_owned(),
        agent_id: Some("bench-agent".to_owned()),
        user_id: None,
        api_key_id: None,
        idp_issuer: Some(ISSUER.to_owned()),
        idp_subject: Some("bench-agent".to_owned()),
        client_name: Some("bench".to_owned()),
        client_version: Some("1".to_owned()),
        protocol_version: "2025-11-25".to_owned(),
        method: "tools/call".to_owned(),
        tool: Some("call_api_endpoint".to_owned()),
        operation_id: Some("tickets.get".to_owned()),
        http_method: Some("GET".to_owned()),
        http_path: Some("/api/v1/tickets/{id}".to_owned()),
        arguments: r#"{"entryId":"tickets.get","path":{"id":"0194"}}"#.to_owned(),
        decision: "allow".to_owned(),
        reason: None,
        status_code: Some(200),
        result_summary: Some(r#"{"status":200,"ok":true}"#.to_owned()),
        duration_ms: 1,
        request_id: Some(new_id()),
        created_at: now(),
        policy_decision: None,
        policy_ids: None,
        policy_version: None,
        policy_mode: None,
        policy_input: None,
        policy_errors: None,
        approval_id: None,
    }
}

async fn audit_rows_per_second(db: &TestDb) -> f64 {
    let mut conn = db.conn();
    Migrator::new(&Enterprise::default().migration_sets()).unwrap().run_pending(&mut conn).unwrap();
    let tenant = create_tenant(&mut conn, "bench", "Bench").unwrap().id;
    let pool = Db::connect(db.url().clone(), PoolOptions { max_size: 8, ..PoolOptions::default() }).await.unwrap();
    let writer = std::sync::Arc::new(audit::AuditWriter::default());
    let started = Instant::now();
    let writers: Vec<_> = (0..64)
        .map(|_| {
            let (pool, tenant, writer) = (pool.clone(), tenant.clone(), writer.clone());
            tokio::spawn(async move {
                let mut n = 0u32;
                while started.elapsed() < Duration::from_secs(3) {
                    writer.write(&pool, audit::Entry { record: record(&tenant), epoch: None }).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0u32;
    for w in writers {
        total += w.await.unwrap();
    }
    f64::from(total) / started.elapsed().as_secs_f64()
}

/// `count` realistic forbids on ticket updates (arguments, record attributes, principal teams),
/// none matching the call [`evaluations_per_second`] decides unless `matching` (then `p0` does).
fn policies(count: usize) -> String {
    (0..count)
        .map(|i| {
            let condition = match i % 3 {
                0 => format!("context.body has title && context.body.title == \"forbidden {i}\""),
                1 => format!("resource.client.tags.contains(\"blocked-{i}\")"),
                _ => format!("principal.teams.contains(\"team-{i}\") && resource.priority == \"P{i}\""),
            };
            format!(
                "@id(\"p{i}\")\nforbid (principal is Alga::Agent, action == Alga::Action::\"tickets.update\", resource is Alga::Ticket) when {{ {condition} }};\n"
            )
        })
        .collect()
}

fn evaluations_per_second(count: usize, matching: bool) -> f64 {
    use alga_ee_mcp::policy::facts::{CallFacts, Fact, PrincipalFacts, PrincipalKind, RecordFacts, RecordKind};
    use serde_json::json;
    let compiled = alga_ee_mcp::policy::engine::compile(&policies(count)).unwrap();
    let principal = PrincipalFacts {
        kind: PrincipalKind::Agent,
        id: "a1".to_owned(),
        name: "triage".to_owned(),
        roles: vec!["Technician".to_owned()],
        teams: vec!["desk".to_owned()],
        attributes: Default::default(),
    };
    let attributes = |kind: RecordKind, client: Option<RecordFacts>| {
        kind.attributes()
            .iter()
            .map(|(name, ty)| {
                let fact = match ty {
                    alga_ee_mcp::policy::facts::FactType::String => Fact::String("x".to_owned()),
                    alga_ee_mcp::policy::facts::FactType::OptionalString => Fact::Absent,
                    alga_ee_mcp::policy::facts::FactType::Long => Fact::Long(1),
                    alga_ee_mcp::policy::facts::FactType::Bool => Fact::Bool(false),
                    alga_ee_mcp::policy::facts::FactType::Names => Fact::Names(vec!["onsite".to_owned()]),
                    alga_ee_mcp::policy::facts::FactType::Client => Fact::Client(Box::new(client.clone().unwrap())),
                };
                ((*name).to_owned(), fact)
            })
            .collect()
    };
    let client =
        RecordFacts { kind: RecordKind::Client, id: "c1".to_owned(), attributes: attributes(RecordKind::Client, None) };
    let ticket = RecordFacts {
        kind: RecordKind::Ticket,
        id: "t1".to_owned(),
        attributes: attributes(RecordKind::Ticket, Some(client)),
    };
    let call = CallFacts {
        operation_id: "tickets.update".to_owned(),
        path: json!({ "id": "t1" }).as_object().cloned().unwrap(),
        query: Default::default(),
        body: Some(json!({ "title": if matching { "forbidden 0" } else { "Printer jams on floor 2" } })),
        now: chrono::Utc::now(),
        client_name: Some("bench".to_owned()),
        record: Some(ticket),
        derived: [("closes".to_owned(), alga_ee_mcp::policy::facts::Fact::Bool(false))].into(),
    };
    assert_eq!(compiled.decide(&principal, &call).allowed, !matching, "p0 alone matches, when asked to");
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed() < Duration::from_secs(2) {
        assert_eq!(compiled.decide(&principal, &call).allowed, !matching);
        n += 1;
    }
    f64::from(n) / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let es = ES256.generate_key_pair().unwrap();
    let mut es_private = es.to_jwk_private_key();
    es_private.set_key_id("k");
    let es_rate = verifications_per_second(es.to_jwk_public_key(), &ES256.signer_from_jwk(&es_private).unwrap());
    let rs = RS256.generate_key_pair(2048).unwrap();
    let rs_rate =
        verifications_per_second(rs.to_jwk_public_key(), &RS256.signer_from_der(rs.to_der_private_key()).unwrap());
    println!("JWT verifications per second, warm key cache, one core: ES256 {es_rate:.0}, RS256 {rs_rate:.0}");
    for (label, matching) in [("none matches, screened", false), ("one matches, Cedar", true)] {
        let (twenty, two_hundred) = (evaluations_per_second(20, matching), evaluations_per_second(200, matching));
        println!(
            "policy evaluations per second, ticket update, one core, {label}: 20 policies {twenty:.0}, 200 policies {two_hundred:.0}"
        );
    }
    let sqlite = audit_rows_per_second(&TestDb::sqlite()).await;
    println!("audit rows per second, 64 callers, group commit, each waits for its row: SQLite {sqlite:.0}");
    if std::env::var(alga_core::testing::TEST_DATABASE_ENV).is_ok_and(|v| !v.is_empty()) {
        let pg = audit_rows_per_second(&TestDb::new()).await;
        println!("audit rows per second, 64 callers, group commit, each waits for its row: PostgreSQL {pg:.0}");
    }
}
