//! Identity providers, agents, JWT verification, the remote endpoint, rate limits and the audit,
//! through real HTTP with real signed tokens.

use std::sync::atomic::Ordering;

use alga_ee_mcp::Settings;
use josekit::jws::{HS256, JwsHeader};
use josekit::jwt;
use serde_json::{Value, json};

use crate::support::{Env, Key, Provider};

fn tool_result(answer: &crate::support::Answer) -> &Value {
    &answer.body["result"]["structuredContent"]
}

#[actix_web::test]
async fn the_admin_api_registers_providers_and_agents() {
    let env = Env::start().await;
    let (_, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    let path = "/api/v1/mcp/idp-providers";

    // Only administrators, by credential.
    env.api("nope", "GET", path, None).await.expect(401);
    env.api(&env.a.tech_key, "GET", path, None).await.expect(403);

    let idp = env.trust(&env.a, &provider).await;
    let listed = env.api(&env.a.admin_key, "GET", path, None).await.expect(200);
    let row = &listed.data()[0];
    assert_eq!(
        (row["issuer"].as_str(), row["audience"].as_str(), row["subject_claim"].as_str()),
        (Some(provider.base.as_str()), Some(env.resource(None).as_str()), Some("sub"))
    );
    assert_eq!(row["jwks_uri"], format!("{}/jwks", provider.base), "found by discovery");
    assert!(env.api(&env.b.admin_key, "GET", path, None).await.data().as_array().unwrap().is_empty(), "per tenant");

    // Bad input: duplicate issuer, missing Entra tenant, plain http elsewhere, unknown claim.
    let dup = json!({"kind": "custom", "issuer": provider.base});
    env.api(&env.a.admin_key, "POST", path, Some(dup)).await.expect(409);
    let entra = json!({"kind": "microsoft"});
    let res = env.api(&env.a.admin_key, "POST", path, Some(entra)).await.expect(400);
    assert_eq!(res.body["error"]["details"]["fields"][0]["field"], "entra_tenant_id", "{}", res.body);
    let http = json!({"kind": "custom", "issuer": "http://idp.example.com", "jwks_uri": "http://idp.example.com/k"});
    env.api(&env.a.admin_key, "POST", path, Some(http)).await.expect(400);
    let claim = json!({"kind": "custom", "issuer": "https://x.example", "jwks_uri": "https://x.example/k", "subject_claim": "email"});
    env.api(&env.a.admin_key, "POST", path, Some(claim)).await.expect(400);
    let wrong_issuer = json!({"kind": "custom", "issuer": format!("{}/other", provider.base)});
    let res = env.api(&env.a.admin_key, "POST", path, Some(wrong_issuer)).await.expect(400);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("names issuer"), "{}", res.body);

    // Agents: one live agent per binding; the conflict names the holder.
    let agent = env.agent(&env.a, &idp, "client-1", &[&env.a.technician_role]).await;
    let again = json!({"name": "twin", "idp_id": idp, "subject": "client-1"});
    let res = env.api(&env.a.admin_key, "POST", "/api/v1/mcp/agents", Some(again)).await.expect(409);
    assert_eq!(res.body["error"]["details"]["agent_id"], agent.as_str());
    let half = json!({"name": "half", "idp_id": idp});
    env.api(&env.a.admin_key, "POST", "/api/v1/mcp/agents", Some(half)).await.expect(400);
    let foreign_role = json!({"name": "x", "role_ids": [env.b.technician_role]});
    env.api(&env.a.admin_key, "POST", "/api/v1/mcp/agents", Some(foreign_role)).await.expect(400);
    // Another tenant sees none of it.
    env.api(&env.b.admin_key, "GET", &format!("/api/v1/mcp/agents/{agent}"), None).await.expect(404);
    env.api(&env.b.admin_key, "DELETE", &format!("{path}/{idp}"), None).await.expect(404);

    // The provider cannot go while the agent is bound; retiring the agent frees it.
    let res = env.api(&env.a.admin_key, "DELETE", &format!("{path}/{idp}"), None).await.expect(409);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("agent client-1"), "{}", res.body);
    let retired = env.api(&env.a.admin_key, "DELETE", &format!("/api/v1/mcp/agents/{agent}"), None).await.expect(200);
    assert_eq!(retired.data()["status"], "retired");
    let patch = json!({"audience": "api://alga", "active": false});
    let res = env.api(&env.a.admin_key, "PATCH", &format!("{path}/{idp}"), Some(patch)).await.expect(200);
    assert_eq!((res.data()["audience"].as_str(), res.data()["active"].as_bool()), (Some("api://alga"), Some(false)));
    env.api(&env.a.admin_key, "DELETE", &format!("{path}/{idp}"), None).await.expect(204);
    let roles = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/roles", None).await.expect(200);
    assert!(roles.data().as_array().unwrap().iter().any(|r| r["name"] == "Technician"));
    env.stop().await;
}

/// An agent moves to another provider or subject through the admin API, checked as at creation
/// and audited with the binding before and after; its old token stops working at once.
#[actix_web::test]
async fn an_agent_is_rebound_to_another_provider_or_subject() {
    let env = Env::start().await;
    let (first_key, first_public) = Key::new("k1");
    let (second_key, second_public) = Key::new("k2");
    let first = Provider::start(vec![first_public]).await;
    let second = Provider::start(vec![second_public]).await;
    let (first_idp, second_idp) = (env.trust(&env.a, &first).await, env.trust(&env.a, &second).await);
    let agent = env.agent(&env.a, &first_idp, "bot", &[&env.a.technician_role]).await;
    let holder = env.agent(&env.a, &first_idp, "other", &[&env.a.technician_role]).await;
    let aud = env.resource(None);
    let old_token = first_key.sign(&env.claims(&first.base, "bot", &aud));
    let me = env.call_api("/api/mcp", &old_token, json!({"entryId": "meta.me"})).await.expect(200);
    assert_eq!(tool_result(&me)["data"]["data"]["agent"]["id"], agent.as_str(), "{}", me.body);

    let path = format!("/api/v1/mcp/agents/{agent}");
    let patch = |body: Value| env.api(&env.a.admin_key, "PATCH", &path, Some(body));
    let res = patch(json!({"subject": "bot-2"})).await.expect(400);
    assert_eq!(res.body["error"]["details"]["fields"][0]["field"], "subject", "{}", res.body);
    let res = patch(json!({"idp_id": "nope", "subject": "bot-2"})).await.expect(400);
    assert_eq!(res.body["error"]["details"]["fields"][0]["field"], "idp_id", "{}", res.body);
    patch(json!({"idp_id": second_idp, "subject": " "})).await.expect(400);
    let res = patch(json!({"idp_id": first_idp, "subject": "other"})).await.expect(409);
    assert_eq!(res.body["error"]["details"]["agent_id"], holder.as_str(), "names the holder: {}", res.body);
    // Its own binding is no conflict.
    patch(json!({"idp_id": first_idp, "subject": "bot"})).await.expect(200);

    let res = patch(json!({"idp_id": second_idp, "subject": "bot-2"})).await.expect(200);
    assert_eq!(
        (res.data()["idp_id"].as_str(), res.data()["subject"].as_str()),
        (Some(second_idp.as_str()), Some("bot-2"))
    );
    assert_eq!(res.data()["idp_issuer"], second.base.as_str());
    // Refused at once: on the tenant's own endpoint, which says why (no live agent holds it).
    let res = env.rpc("/t/tenant-a/api/mcp", &old_token, "tools/list", json!({})).await.expect(403);
    assert!(res.body["error"]["message"].as_str().unwrap_or_default().contains("bot"), "{}", res.body);
    env.rpc("/api/mcp", &old_token, "tools/list", json!({})).await.expect(401);
    let new_token = second_key.sign(&env.claims(&second.base, "bot-2", &aud));
    let me = env.call_api("/api/mcp", &new_token, json!({"entryId": "meta.me"})).await.expect(200);
    assert_eq!(tool_result(&me)["data"]["data"]["agent"]["id"], agent.as_str(), "{}", me.body);
    // The binding it left is free for another agent.
    env.agent(&env.a, &first_idp, "bot", &[&env.a.technician_role]).await;

    let changes = format!("/api/v1/mcp/admin-audit?action=agent.update&target_id={agent}");
    let rows = env.api(&env.a.admin_key, "GET", &changes, None).await.expect(200);
    let rebound = rows
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["after"]["subject"] == "bot-2")
        .unwrap_or_else(|| panic!("no audited rebinding: {}", rows.body));
    let (before, after) = (&rebound["before"], &rebound["after"]);
    assert_eq!((before["idp_id"].as_str(), before["subject"].as_str()), (Some(first_idp.as_str()), Some("bot")));
    assert_eq!((after["idp_id"].as_str(), after["subject"].as_str()), (Some(second_idp.as_str()), Some("bot-2")));

    // Another tenant's provider is no provider here, and a retired agent cannot be rebound.
    let other_tenant_idp = env.trust(&env.b, &first).await;
    patch(json!({"idp_id": other_tenant_idp, "subject": "bot-3"})).await.expect(400);
    env.api(&env.a.admin_key, "DELETE", &format!("/api/v1/mcp/agents/{holder}"), None).await.expect(200);
    let retired = format!("/api/v1/mcp/agents/{holder}");
    let body = json!({"idp_id": second_idp, "subject": "bot-4"});
    env.api(&env.a.admin_key, "PATCH", &retired, Some(body)).await.expect(409);
    env.stop().await;
}

#[actix_web::test]
async fn tokens_are_verified_and_agents_act_with_their_roles() {
    let env = Env::start().await;
    let (key, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    let idp = env.trust(&env.a, &provider).await;
    let agent = env.agent(&env.a, &idp, "bot", &[&env.a.technician_role]).await;
    let aud = env.resource(None);
    let token = key.sign(&env.claims(&provider.base, "bot", &aud));

    let init =
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}});
    let res = env.rpc("/api/mcp", &token, "initialize", init).await.expect(200);
    assert_eq!(res.body["result"]["protocolVersion"], "2025-06-18");
    let res = env.rpc("/api/mcp", &token, "tools/list", json!({})).await.expect(200);
    assert_eq!(res.body["result"]["tools"].as_array().unwrap().len(), 3);

    // The agent reads with its Technician role, and may not do what the role does not allow.
    let res = env.call_api("/api/mcp", &token, json!({"entryId": "clients.list"})).await.expect(200);
    assert_eq!(tool_result(&res)["status"], 200, "{}", res.body);
    let create = json!({"entryId": "clients.create", "body": {"name": "Agent Corp"}});
    let res = env.call_api("/api/mcp", &token, create).await.expect(200);
    assert_eq!(
        (res.body["result"]["isError"].as_bool(), tool_result(&res)["status"].as_i64()),
        (Some(true), Some(403))
    );
    let me = env.call_api("/api/mcp", &token, json!({"entryId": "meta.me"})).await;
    assert_eq!(tool_result(&me)["data"]["data"]["agent"]["id"], agent.as_str(), "{}", me.body);

    // Rejections on the tenant's endpoint, each with its reason and the metadata challenge.
    let own = "/t/tenant-a/api/mcp";
    let expect_401 = |res: crate::support::Answer, why: &str| {
        assert_eq!(res.status, 401, "{why}: {}", res.body);
        let challenge = res.header("www-authenticate");
        assert!(challenge.contains("resource_metadata=") && challenge.contains("invalid_token"), "{challenge}");
        let message = res.body["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(why), "{message} should say {why}");
    };
    let mut claims = env.claims("https://untrusted.example", "bot", &aud);
    expect_401(env.rpc(own, &key.sign(&claims), "tools/list", json!({})).await, "unknown issuer");
    // A token is remembered once verified, but never past its expiry (plus the 60 s leeway).
    claims = env.claims(&provider.base, "bot", &aud);
    claims.set_expires_at(&(std::time::SystemTime::now() - std::time::Duration::from_secs(57)));
    let brief = key.sign(&claims);
    let res = env.call_api(own, &brief, json!({"entryId": "meta.me"})).await.expect(200);
    assert_eq!(tool_result(&res)["status"], 200, "{}", res.body);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    expect_401(env.call_api(own, &brief, json!({"entryId": "meta.me"})).await, "expired");
    claims = env.claims(&provider.base, "bot", "https://elsewhere.example/api/mcp");
    expect_401(env.rpc(own, &key.sign(&claims), "tools/list", json!({})).await, "wrong audience");
    claims = env.claims(&provider.base, "bot", &aud);
    claims.set_expires_at(&(std::time::SystemTime::now() - std::time::Duration::from_secs(600)));
    expect_401(env.rpc(own, &key.sign(&claims), "tools/list", json!({})).await, "expired");
    let unsigned = jwt::encode_unsecured(&env.claims(&provider.base, "bot", &aud), &JwsHeader::new()).unwrap();
    expect_401(env.rpc(own, &unsigned, "tools/list", json!({})).await, "algorithm none");
    // "Signed" with public material (what an alg-confusion attack uses as the HMAC secret).
    let secret = format!("{}/jwks", provider.base).repeat(2).into_bytes();
    let hs = jwt::encode_with_signer(
        &env.claims(&provider.base, "bot", &aud),
        &JwsHeader::new(),
        &HS256.signer_from_bytes(secret).unwrap(),
    )
    .unwrap();
    expect_401(env.rpc(own, &hs, "tools/list", json!({})).await, "HS256");
    let (stranger, _) = Key::new("k1");
    let forged = stranger.sign(&env.claims(&provider.base, "bot", &aud));
    expect_401(env.rpc(own, &forged, "tools/list", json!({})).await, "bad signature");
    // The endpoint two tenants share refuses all of them alike: it does not tell which issuers,
    // keys or audiences some tenant registered.
    let untrusted = key.sign(&env.claims("https://untrusted.example", "bot", &aud));
    let elsewhere = key.sign(&env.claims(&provider.base, "bot", "https://elsewhere.example/api/mcp"));
    for token in [&untrusted, &elsewhere, &forged, &brief] {
        let res = env.rpc("/api/mcp", token, "tools/list", json!({})).await;
        assert_eq!(res.status, 401, "{}", res.body);
        let generic = format!("Invalid token: {}.", alga_ee_mcp::auth::NOT_ACCEPTED);
        assert_eq!(res.body["error"]["message"], generic.as_str(), "{}", res.body);
        assert!(res.header("www-authenticate").contains("invalid_token"));
    }
    let res = env.send("POST", "/api/mcp", &[("content-type", "application/json")], Some(b"{}".to_vec())).await;
    assert_eq!(res.status, 401);
    assert!(res.header("www-authenticate").contains("/.well-known/oauth-protected-resource/api/mcp"));
    assert!(!res.header("www-authenticate").contains("error="), "no credential: no error code");
    // A token for an unbound subject is valid but names no agent: 403 naming issuer and subject.
    let stray = key.sign(&env.claims(&provider.base, "nobody", &aud));
    let res = env.rpc(own, &stray, "tools/list", json!({})).await.expect(403);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("subject nobody"), "{}", res.body);
    // The shared endpoint does not tell that some tenant trusts this issuer and audience.
    let res = env.rpc("/api/mcp", &stray, "tools/list", json!({})).await.expect(401);
    assert_eq!(res.body["error"]["message"], format!("Invalid token: {}.", alga_ee_mcp::auth::NOT_ACCEPTED));
    // Tokens in the query string are ignored.
    let res = env
        .send(
            "POST",
            &format!("/api/mcp?access_token={token}"),
            &[("content-type", "application/json")],
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(res.status, 401);

    // Removing the agent's role takes effect on the next call, which is denied and audited.
    let patch = json!({"role_ids": []});
    env.api(&env.a.admin_key, "PATCH", &format!("/api/v1/mcp/agents/{agent}"), Some(patch)).await.expect(200);
    let denied = env.call_api("/api/mcp", &token, json!({"entryId": "clients.list"})).await;
    assert_eq!(denied.body["result"]["isError"], true, "{}", denied.body);
    let rows = env.audit(&env.a, &format!("agent_id={agent}&decision=deny")).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let named = (rows[0]["client_name"].as_str(), rows[0]["client_version"].as_str());
    assert_eq!(named, (Some("it"), Some("1")), "the client from initialize, on a later legacy call");
    assert_eq!(rows[0]["operation_id"], "clients.list");
    assert_eq!((rows[0]["status_code"].as_i64(), rows[0]["idp_subject"].as_str()), (Some(403), Some("bot")));

    // Deactivating the agent: the very next call is refused.
    let off = json!({"active": false});
    env.api(&env.a.admin_key, "PATCH", &format!("/api/v1/mcp/agents/{agent}"), Some(off)).await.expect(200);
    let res = env.rpc("/api/mcp", &token, "tools/list", json!({})).await.expect(403);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("deactivated"), "{}", res.body);
    env.stop().await;
}

#[actix_web::test]
async fn signing_keys_rotate_and_survive_an_outage() {
    let env = Env::start().await;
    let (old, public) = Key::new("old");
    let provider = Provider::start(vec![public]).await;
    let idp = env.trust(&env.a, &provider).await;
    env.agent(&env.a, &idp, "bot", &[&env.a.technician_role]).await;
    let claims = env.claims(&provider.base, "bot", &env.resource(None));
    env.rpc("/t/tenant-a/api/mcp", &old.sign(&claims), "tools/list", json!({})).await.expect(200);
    let after_first = provider.fetched();
    env.rpc("/t/tenant-a/api/mcp", &old.sign(&claims), "tools/list", json!({})).await.expect(200);
    assert_eq!(provider.fetched(), after_first, "keys are cached");

    // Rotation: a token with a new kid makes one refetch, then verifies.
    let (new, public) = Key::new("new");
    provider.publish(public);
    env.rpc("/t/tenant-a/api/mcp", &new.sign(&claims), "tools/list", json!({})).await.expect(200);
    assert_eq!(provider.fetched(), after_first + 1);
    // An unknown kid refetches at most once per 30 s.
    let (rogue, _) = Key::new("rogue");
    for _ in 0..3 {
        let res = env.rpc("/t/tenant-a/api/mcp", &rogue.sign(&claims), "tools/list", json!({})).await.expect(401);
        assert!(res.body["error"]["message"].as_str().unwrap().contains("unknown key"), "{}", res.body);
    }
    assert_eq!(provider.fetched(), after_first + 1);

    // A second provider, trusted while up but never asked for keys yet.
    let (second_key, second_public) = Key::new("second");
    let second = Provider::start(vec![second_public]).await;
    let second_idp = env.trust(&env.a, &second).await;
    env.agent(&env.a, &second_idp, "bot2", &[&env.a.technician_role]).await;
    let second_claims = env.claims(&second.base, "bot2", &env.resource(None));

    // The JWKS endpoints go down: cached keys keep verifying, during traffic too.
    provider.up.store(false, Ordering::SeqCst);
    second.up.store(false, Ordering::SeqCst);
    let calls = (0..8).map(|i| {
        let token = if i % 2 == 0 { old.sign(&claims) } else { new.sign(&claims) };
        let env = &env;
        async move { env.rpc("/t/tenant-a/api/mcp", &token, "tools/list", json!({})).await.status }
    });
    assert!(futures_util::future::join_all(calls).await.iter().all(|s| *s == 200));
    // A key the cache has never seen, or a provider never fetched, fails closed, saying why.
    let (newest, newest_public) = Key::new("newest");
    let res = env.rpc("/t/tenant-a/api/mcp", &newest.sign(&claims), "tools/list", json!({})).await.expect(401);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("unknown key"), "{}", res.body);
    let res =
        env.rpc("/t/tenant-a/api/mcp", &second_key.sign(&second_claims), "tools/list", json!({})).await.expect(401);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("could not be fetched"), "{}", res.body);
    assert!(res.header("www-authenticate").contains("invalid_token"));

    // The endpoints come back: service is normal, new keys included. The second provider's
    // failed fetch is remembered for 30 s: until then its tokens are refused without asking it.
    provider.publish(newest_public);
    provider.up.store(true, Ordering::SeqCst);
    second.up.store(true, Ordering::SeqCst);
    env.rpc("/t/tenant-a/api/mcp", &old.sign(&claims), "tools/list", json!({})).await.expect(200);
    let second_fetches = second.fetched();
    let res =
        env.rpc("/t/tenant-a/api/mcp", &second_key.sign(&second_claims), "tools/list", json!({})).await.expect(401);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("could not be fetched"), "{}", res.body);
    assert_eq!(second.fetched(), second_fetches);
    // A key rotated in meanwhile is looked for at most once per 30 s per provider (the last look
    // was moments ago): until then it is still refused as unknown, and nothing else.
    let res = env.rpc("/t/tenant-a/api/mcp", &newest.sign(&claims), "tools/list", json!({})).await.expect(401);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("unknown key"), "{}", res.body);
    env.stop().await;
}

/// Tokens naming a provider whose keys cannot be fetched make one fetch per 30 s, not one each.
#[actix_web::test]
async fn a_failed_key_fetch_is_remembered() {
    let env = Env::start().await;
    let (key, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    let idp = env.trust(&env.a, &provider).await;
    env.agent(&env.a, &idp, "bot", &[&env.a.technician_role]).await;
    let token = key.sign(&env.claims(&provider.base, "bot", &env.resource(None)));
    provider.up.store(false, Ordering::SeqCst);
    assert_eq!(provider.fetched(), 0, "discovery does not fetch the keys");
    for _ in 0..5 {
        let res = env.rpc("/t/tenant-a/api/mcp", &token, "tools/list", json!({})).await.expect(401);
        let message = res.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("could not be fetched") && !message.contains("503"), "{}", res.body);
    }
    assert_eq!(provider.fetched(), 1);
    env.stop().await;
}

/// Without `--allow-insecure-idp-urls`, a provider named by a private address, or by a host name
/// that resolves to loopback, is refused at registration or at its first fetch, and never
/// connected to.
#[actix_web::test]
async fn identity_providers_are_reached_only_at_public_addresses() {
    let env = Env::with(Settings::default()).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let path = "/api/v1/mcp/idp-providers";
    let register = |body: Value| env.api(&env.a.admin_key, "POST", path, Some(body));

    let literal = json!({"kind": "custom", "issuer": "https://10.0.0.1/realm", "jwks_uri": "https://10.0.0.1/jwks"});
    let res = register(literal).await.expect(400);
    assert!(res.body.to_string().contains("non-public"), "{}", res.body);
    let loopback = json!({"kind": "custom", "issuer": format!("https://127.0.0.1:{port}")});
    let res = register(loopback).await.expect(400);
    assert!(res.body.to_string().contains("--allow-insecure-idp-urls"), "{}", res.body);
    // Discovery at a name that resolves to loopback.
    let named = json!({"kind": "custom", "issuer": format!("https://localhost:{port}")});
    let res = register(named).await.expect(400);
    let message = res.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("resolves only to addresses this server may not reach"), "{}", res.body);
    // A JWKS URL given outright is judged when fetched.
    let issuer = format!("https://localhost:{port}/realm");
    let given = json!({"kind": "custom", "issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
    let idp = register(given).await.expect(201).data()["id"].as_str().unwrap().to_owned();
    env.agent(&env.a, &idp, "bot", &[&env.a.technician_role]).await;
    let (key, _) = Key::new("k1");
    let token = key.sign(&env.claims(&issuer, "bot", &env.resource(None)));
    let res = env.rpc("/t/tenant-a/api/mcp", &token, "tools/list", json!({})).await.expect(401);
    assert!(res.body["error"]["message"].as_str().unwrap().contains("could not be fetched"), "{}", res.body);

    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a refused address was connected to: {accepted:?}"
    );
    env.stop().await;
}

#[actix_web::test]
async fn tenants_stay_apart_on_both_endpoints() {
    let env = Env::start().await;
    let (key, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    let idp = env.trust(&env.a, &provider).await;
    env.agent(&env.a, &idp, "bot", &[&env.a.technician_role]).await;
    // Tenant B has a client the agent must never see.
    let secret = env.api(&env.b.admin_key, "POST", "/api/v1/clients", Some(json!({"name": "B secret"}))).await;
    let b_client = secret.expect(201).data()["id"].as_str().unwrap().to_owned();

    let token = key.sign(&env.claims(&provider.base, "bot", &env.resource(None)));
    let res = env.call_api("/api/mcp", &token, json!({"entryId": "clients.get", "path": {"id": b_client}})).await;
    assert_eq!(tool_result(&res)["status"], 404, "{}", res.body);
    let list = env.call_api("/api/mcp", &token, json!({"entryId": "clients.list"})).await;
    assert!(!list.body.to_string().contains("B secret"));

    // The per-tenant endpoint (the one the Connect page recommends) takes only that tenant's
    // providers, with their registered audience (a new provider's default: the instance URL,
    // which is `token`'s) or the endpoint's own.
    let a_token = key.sign(&env.claims(&provider.base, "bot", &env.resource(Some("tenant-a"))));
    env.rpc("/t/tenant-a/api/mcp", &a_token, "tools/list", json!({})).await.expect(200);
    env.rpc("/t/tenant-a/api/mcp", &token, "tools/list", json!({})).await.expect(200);
    let elsewhere = key.sign(&env.claims(&provider.base, "bot", "https://elsewhere.example/api"));
    env.rpc("/t/tenant-a/api/mcp", &elsewhere, "tools/list", json!({})).await.expect(401);
    let b_token = key.sign(&env.claims(&provider.base, "bot", &env.resource(Some("tenant-b"))));
    let res = env.rpc("/t/tenant-b/api/mcp", &b_token, "tools/list", json!({})).await.expect(401);
    assert!(res.header("www-authenticate").contains("/t/tenant-b/api/mcp"));
    // No tenant registers another tenant's endpoint as its provider's audience.
    let poached = json!({"kind": "custom", "issuer": provider.base, "audience": env.resource(Some("tenant-a"))});
    let res = env.api(&env.b.admin_key, "POST", "/api/v1/mcp/idp-providers", Some(poached)).await.expect(400);
    assert_eq!(res.body["error"]["details"]["fields"][0]["field"], "audience", "{}", res.body);
    // Tenant B registering the same issuer and subject makes the instance-wide endpoint ambiguous;
    // tenant A's own endpoint keeps working for its agent.
    let idp_b = env.trust(&env.b, &provider).await;
    env.agent(&env.b, &idp_b, "bot", &[&env.b.technician_role]).await;
    env.rpc("/api/mcp", &token, "tools/list", json!({})).await.expect(403);
    env.rpc("/t/tenant-a/api/mcp", &token, "tools/list", json!({})).await.expect(200);
    env.rpc("/t/tenant-b/api/mcp", &b_token, "tools/list", json!({})).await.expect(200);
    // An API key of tenant A is not accepted on tenant B's endpoint.
    env.rpc("/t/tenant-b/api/mcp", &env.a.tech_key, "tools/list", json!({})).await.expect(401);
    env.rpc("/t/nowhere/api/mcp", &token, "tools/list", json!({})).await.expect(404);

    // Metadata: each tenant's document lists its own issuers; the instance-wide one, read by
    // anyone on this instance of two tenants, names none.
    let meta = env.send("GET", "/.well-known/oauth-protected-resource/api/mcp", &[], None).await.expect(200);
    assert_eq!(meta.body["authorization_servers"], json!([]));
    assert_eq!(meta.body["resource"], env.resource(None));
    assert_eq!(meta.header("cache-control"), "no-store");
    let meta_a = env.send("GET", "/.well-known/oauth-protected-resource/t/tenant-a/api/mcp", &[], None).await;
    assert_eq!(meta_a.body["authorization_servers"], json!([provider.base]));
    let meta_b = env.send("GET", "/.well-known/oauth-protected-resource/t/tenant-b/api/mcp", &[], None).await;
    assert_eq!(meta_b.body["authorization_servers"], json!([provider.base]));
    assert_eq!(meta_b.body["resource"], env.resource(Some("tenant-b")));
    env.send("GET", "/.well-known/oauth-protected-resource", &[], None).await.expect(200);
    env.stop().await;
}

#[actix_web::test]
async fn the_endpoint_follows_streamable_http() {
    let env = Env::start().await;
    let key = env.a.tech_key.clone();
    let auth = format!("Bearer {key}");
    let json_headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    env.send("GET", "/api/mcp", &json_headers, None).await.expect(405);
    env.send("DELETE", "/api/mcp", &json_headers, None).await.expect(405);
    let big = vec![b' '; 1024 * 1024 + 10];
    env.send("POST", "/api/mcp", &json_headers, Some(big)).await.expect(413);
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string().into_bytes();
    env.send("POST", "/api/mcp", &json_headers, Some(note.clone())).await.expect(202);
    let evil =
        [("authorization", auth.as_str()), ("content-type", "application/json"), ("origin", "https://evil.example")];
    env.send("POST", "/api/mcp", &evil, Some(note.clone())).await.expect(403);
    let own_origin = env.base.clone();
    let own = [("authorization", auth.as_str()), ("content-type", "application/json"), ("origin", own_origin.as_str())];
    env.send("POST", "/api/mcp", &own, Some(note.clone())).await.expect(202);
    let text = [("authorization", auth.as_str()), ("content-type", "text/plain")];
    env.send("POST", "/api/mcp", &text, Some(note)).await.expect(415);
    let old = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("mcp-protocol-version", "2024-01-01"),
    ];
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string().into_bytes();
    env.send("POST", "/api/mcp", &old, Some(ping)).await.expect(400);
    // 2026-07-28: the Mcp-Method header must match the body.
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let list =
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta}}).to_string().into_bytes();
    let modern = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
    ];
    let res = env.send("POST", "/api/mcp", &modern, Some(list.clone())).await.expect(400);
    assert_eq!(res.body["error"]["code"], -32020);
    let modern = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
    ];
    let res = env.send("POST", "/api/mcp", &modern, Some(list)).await.expect(200);
    assert_eq!(res.body["result"]["cacheScope"], "private");
    env.stop().await;
}

#[actix_web::test]
async fn every_tool_call_is_audited_and_limited() {
    let settings = Settings {
        allow_insecure_idp_urls: true,
        mcp_call_burst: 6.0,
        mcp_calls_per_second: 0.01,
        ..Settings::default()
    };
    let env = Env::with(settings).await;
    let user = env.a.tech_key.clone();
    // allow
    env.call_api("/api/mcp", &user, json!({"entryId": "clients.list"})).await.expect(200);
    // deny: Technician may not create users; the password never reaches the audit.
    let body = json!({"email": "x@y.z", "display_name": "X", "password": "hunter2hunter2", "role_ids": []});
    let res = env.call_api("/api/mcp", &user, json!({"entryId": "users.create", "body": body})).await;
    assert_eq!(res.body["result"]["isError"], true);
    // error: a malformed argument.
    env.call_api("/api/mcp", &user, json!({"entryId": "clients.get", "path": {}})).await;
    // search tools are audited too.
    let search = json!({"name": "search_api_registry", "arguments": {"query": "create a ticket"}});
    env.rpc("/api/mcp", &user, "tools/call", search).await.expect(200);
    // unknown tool: a protocol error, still audited.
    let res = env.rpc("/api/mcp", &user, "tools/call", json!({"name": "rm_rf"})).await;
    assert_eq!(res.body["error"]["code"], -32602);
    env.call_api("/api/mcp", &user, json!({"entryId": "clients.list"})).await;
    // The bucket (burst 6) is empty: rate-limited, and audited as such.
    let res = env.call_api("/api/mcp", &user, json!({"entryId": "clients.list"})).await;
    let limited = tool_result(&res);
    assert_eq!((res.body["result"]["isError"].as_bool(), limited["status"].as_i64()), (Some(true), Some(429)));
    assert!(limited["error"].as_str().unwrap().contains("retry in"), "{limited}");

    let rows = env.audit(&env.a, "page_size=200").await;
    assert_eq!(rows.len(), 7, "one row per tools/call: {rows:#?}");
    let decisions: Vec<&str> = rows.iter().map(|r| r["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["deny", "allow", "error", "allow", "error", "deny", "allow"], "newest first");
    assert_eq!(rows[0]["reason"], "rate_limited");
    assert_eq!(rows[5]["operation_id"], "users.create");
    assert_eq!((rows[5]["http_method"].as_str(), rows[5]["http_path"].as_str()), (Some("POST"), Some("/api/v1/users")));
    let args: Value = serde_json::from_str(rows[5]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["body"]["password"], "***");
    assert!(!serde_json::to_string(&rows).unwrap().contains("hunter2"));
    assert!(
        rows.iter().all(|r| r["caller_kind"] == "user" && r["request_id"].is_string() || r["request_id"].is_null())
    );
    assert!(env.audit(&env.b, "").await.is_empty(), "tenant B sees none of it");
    let page = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/audit?decision=allow&page_size=1", None).await;
    assert_eq!((page.body["total"].as_i64(), page.data().as_array().unwrap().len()), (Some(3), 1));
    env.api(&env.a.admin_key, "GET", "/api/v1/mcp/audit?page_size=500", None).await.expect(400);
    env.api(&env.a.admin_key, "GET", "/api/v1/mcp/audit?decision=maybe", None).await.expect(400);

    // Export: every row, as CSV with a header, and as JSON Lines.
    let csv = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/audit/export?format=csv", None).await.expect(200);
    let text = csv.body.as_str().unwrap().to_owned();
    assert!(text.starts_with("id,created_at,caller_kind"), "{text}");
    assert_eq!(text.lines().count(), 8);
    assert!(csv.header("content-type").starts_with("text/csv"));
    let jsonl = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/audit/export?tool=call_api_endpoint", None).await;
    let lines: Vec<Value> = jsonl.body.as_str().unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5);
    assert!(lines.windows(2).all(|w| w[0]["created_at"].as_str() <= w[1]["created_at"].as_str()), "oldest first");

    // The same calls in the metrics, by tool and decision, and the audit writer's work.
    let metrics = env.ctx.metrics.render(&env.ctx.db);
    for line in [
        r#"alga_mcp_tool_calls_total{tool="call_api_endpoint",decision="allow"} 2"#,
        r#"alga_mcp_tool_calls_total{tool="call_api_endpoint",decision="deny"} 2"#,
        r#"alga_mcp_tool_calls_total{tool="call_api_endpoint",decision="error"} 1"#,
        r#"alga_mcp_tool_calls_total{tool="search_api_registry",decision="allow"} 1"#,
        r#"alga_mcp_tool_calls_total{tool="unknown",decision="error"} 1"#,
        "alga_audit_backlog 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    let batches = metrics.lines().find_map(|l| l.strip_prefix("alga_audit_batch_rows_sum ")).unwrap();
    assert_eq!(batches.parse::<f64>().unwrap(), 7.0);
    env.stop().await;
}

#[actix_web::test]
async fn agents_can_hold_expiring_keys() {
    let env = Env::start().await;
    let body = json!({"name": "nightly", "role_ids": [env.a.technician_role]});
    let agent = env.api(&env.a.admin_key, "POST", "/api/v1/mcp/agents", Some(body)).await.expect(201);
    let agent = agent.data()["id"].as_str().unwrap().to_owned();
    let keys = format!("/api/v1/mcp/agents/{agent}/keys");
    env.api(&env.a.admin_key, "POST", &keys, Some(json!({}))).await.expect(400);
    let far = (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    env.api(&env.a.admin_key, "POST", &keys, Some(json!({"expires_at": far}))).await.expect(400);
    let soon = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let issued = env.api(&env.a.admin_key, "POST", &keys, Some(json!({"expires_at": soon}))).await.expect(201);
    let plaintext = issued.data()["key"].as_str().unwrap().to_owned();
    let key_id = issued.data()["info"]["id"].as_str().unwrap().to_owned();
    let listed = env.api(&env.a.admin_key, "GET", &keys, None).await.expect(200);
    assert!(!listed.body.to_string().contains(&plaintext), "shown once");

    let me = env.call_api("/api/mcp", &plaintext, json!({"entryId": "meta.me"})).await.expect(200);
    assert_eq!(tool_result(&me)["data"]["data"]["agent"]["id"], agent.as_str(), "{}", me.body);
    // Agents cannot manage user keys.
    let res = env.call_api("/api/mcp", &plaintext, json!({"entryId": "api_keys.create", "body": {}})).await;
    assert_eq!(res.body["result"]["isError"], true, "{}", res.body);
    // Agent keys are not REST credentials of a user, and the user key list does not show them.
    let user_keys = env.api(&env.a.admin_key, "GET", "/api/v1/api-keys", None).await.expect(200);
    assert!(!user_keys.body.to_string().contains(&key_id));

    // The agent is cached now; a change made with plain SQL still takes effect on the next call
    // (triggers move the tenant's grant epoch, which each call's audit checks).
    let listed = env.call_api("/api/mcp", &plaintext, json!({"entryId": "clients.list"})).await.expect(200);
    assert_eq!(listed.body["result"]["isError"], false, "{}", listed.body);
    let sql = format!("DELETE FROM agent_roles WHERE agent_id = '{agent}'");
    env.ctx
        .db
        .run(move |c| diesel::RunQueryDsl::execute(diesel::sql_query(sql), c).map_err(alga_core::ApiError::from))
        .await
        .unwrap();
    let denied = env.call_api("/api/mcp", &plaintext, json!({"entryId": "clients.list"})).await.expect(200);
    assert_eq!(denied.body["result"]["isError"], true, "{}", denied.body);
    assert_eq!(tool_result(&denied)["status"], 403, "{}", denied.body);

    env.api(&env.a.admin_key, "DELETE", &format!("{keys}/{key_id}"), None).await.expect(204);
    env.call_api("/api/mcp", &plaintext, json!({"entryId": "meta.me"})).await.expect(401);
    let rows = env.audit(&env.a, &format!("agent_id={agent}")).await;
    let decisions: Vec<&str> = rows.iter().map(|r| r["decision"].as_str().unwrap()).collect();
    assert_eq!(
        decisions,
        ["deny", "deny", "allow", "deny", "allow"],
        "one row per answered call, the stale attempt none, the revoked key's refusal too"
    );
    assert_eq!(
        (rows[0]["reason"].as_str(), rows[0]["api_key_id"].as_str()),
        (Some("credential_ended"), Some(key_id.as_str()))
    );

    // The sweeper removes the revoked key.
    let swept = env.ctx.db.run(alga_ee_mcp::sweeper::sweep).await.unwrap();
    assert_eq!(swept, 1);
    assert!(env.api(&env.a.admin_key, "GET", &keys, None).await.data().as_array().unwrap().is_empty());
    env.stop().await;
}

#[actix_web::test]
async fn hostile_messages_and_arguments_get_clear_errors_and_change_nothing() {
    let env = Env::start().await;
    let key = env.a.tech_key.clone();
    let headers = [("x-api-key", key.as_str()), ("content-type", "application/json")];
    // Bodies that are not JSON-RPC at all: a parse error, never a crash.
    let deep = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    for body in
        [deep.into_bytes(), b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}".to_vec(), b"[[[[".to_vec()]
    {
        let res = env.send("POST", "/api/mcp", &headers, Some(body)).await;
        assert_eq!(res.status, 400, "{}", res.body);
        assert_eq!(res.body["error"]["code"], -32700, "{}", res.body);
    }
    // Arguments that try to leave the operation's path or smuggle a header: tool errors, audited.
    let before = env.audit(&env.a, "page_size=200").await.len();
    for arguments in [
        json!({"entryId": "clients.get", "path": {"id": "../../users"}}),
        json!({"entryId": "clients.get", "path": {"id": "x\r\nX-Injected: 1"}}),
        json!({"entryId": "clients.get", "path": {"id": "x\u{0}y"}}),
        json!({"entryId": "clients.create", "body": {"name": "a\u{0}b"}}),
        json!({"entryId": "clients.list", "query": {"limit": vec![0; 50_000]}}),
        json!({"entryId": "clients.create", "body": {"name": ["nested", "twice"], "extra": {"a": {"b": {"c": [1, 2, 3]}}}}}),
    ] {
        let res = env.call_api("/api/mcp", &key, arguments.clone()).await.expect(200);
        assert!(res.header("x-injected").is_empty());
        let result = &res.body["result"];
        assert_eq!(result["isError"], true, "{arguments}: {}", res.body);
        assert!(!result.to_string().contains("\"email\""), "no user data leaks through a traversal: {}", res.body);
    }
    // A search for text with line breaks is just a search: dispatch is in process, so no value
    // ever becomes a header.
    let search =
        json!({"entryId": "clients.list", "query": {"search": "a\r\nX-Injected: 1"}, "headers": {"X-Injected": "1"}});
    let res = env.call_api("/api/mcp", &key, search).await.expect(200);
    assert!(res.header("x-injected").is_empty());
    assert_eq!(res.body["result"]["structuredContent"]["data"]["data"], json!([]), "{}", res.body);
    let rows = env.audit(&env.a, "page_size=200").await;
    assert_eq!(rows.len(), before + 7, "each attempt is audited");
    let clients = env.api(&env.a.admin_key, "GET", "/api/v1/clients", None).await.expect(200);
    assert!(clients.data().as_array().unwrap().is_empty(), "nothing was created");
    env.stop().await;
}
