//! Tags, teams, ticket categories, and what tickets and comments gained with them.

use std::sync::Arc;

use alga_core::identity::{Actor, Principal};
use alga_core::rbac::BuiltInRole;
use serde_json::{Value, json};

use crate::support::Fixture;

fn names(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect()
}

/// An agent (as the enterprise edition authenticates one) of tenant A with the Technician role.
fn agent(f: &Fixture, id: &str) -> Arc<Principal> {
    let admin = &f.a.admin;
    Arc::new(Principal {
        tenant_id: admin.tenant_id.clone(),
        tenant_slug: admin.tenant_slug.clone(),
        actor: Actor::Agent { id: id.to_owned(), name: format!("agent {id}") },
        api_key_id: None,
        roles: Vec::new(),
        permissions: BuiltInRole::Technician.permissions(),
    })
}

#[tokio::test]
async fn tags_are_a_case_insensitive_vocabulary_per_tenant() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let vip = f.call(a, "POST", "/api/v1/tags", Some(json!({"name": " VIP ", "color": "#D32F2F"}))).await.expect(201);
    assert_eq!((&vip.data()["name"], &vip.data()["color"]), (&json!("VIP"), &json!("#d32f2f")));
    let vip = vip.id();
    let dup = f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "vip"}))).await.expect(409);
    assert!(dup.body["error"]["message"].as_str().unwrap().contains("vip"), "{}", dup.body);
    let long = "x".repeat(51);
    let too_long = f.call(a, "POST", "/api/v1/tags", Some(json!({"name": long}))).await.expect(400);
    assert_eq!(too_long.body["error"]["details"]["fields"][0]["field"], "name");
    f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "x".repeat(50)}))).await.expect(201);
    f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "  "}))).await.expect(400);
    f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "bad", "color": "red"}))).await.expect(400);
    f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "Onsite"}))).await.expect(201);

    // Renaming keeps uniqueness regardless of case; a rename to its own name in another case is fine.
    f.call(a, "PUT", &format!("/api/v1/tags/{vip}"), Some(json!({"name": "ONSITE"}))).await.expect(409);
    let renamed = f.call(a, "PUT", &format!("/api/v1/tags/{vip}"), Some(json!({"name": "vip"}))).await.expect(200);
    assert_eq!(renamed.data()["color"], "#d32f2f", "omitted fields keep their value");
    let cleared = f.call(a, "PUT", &format!("/api/v1/tags/{vip}"), Some(json!({"color": null}))).await.expect(200);
    assert_eq!(cleared.data()["color"], Value::Null);

    let listed = f.call(&f.a.readonly, "GET", "/api/v1/tags?name=ONS", None).await.expect(200);
    assert_eq!(listed.body["pagination"]["total"], 1);
    assert_eq!(listed.data()[0]["name"], "Onsite");
    let all = f.call(&f.a.tech, "GET", "/api/v1/tags", None).await.expect(200);
    assert_eq!(all.body["pagination"]["total"], 3);

    // Technicians and read-only users read tags; only the Admin manages them.
    f.call(&f.a.tech, "POST", "/api/v1/tags", Some(json!({"name": "new"}))).await.expect(403);
    f.call(&f.a.tech, "PUT", &format!("/api/v1/tags/{vip}"), Some(json!({"name": "x"}))).await.expect(403);
    f.call(&f.a.readonly, "DELETE", &format!("/api/v1/tags/{vip}"), None).await.expect(403);
    // Another tenant neither sees nor reaches them, and has its own vocabulary.
    f.call(&f.b.admin, "GET", &format!("/api/v1/tags/{vip}"), None).await.expect(404);
    f.call(&f.b.admin, "DELETE", &format!("/api/v1/tags/{vip}"), None).await.expect(404);
    assert_eq!(f.call(&f.b.admin, "GET", "/api/v1/tags", None).await.expect(200).body["pagination"]["total"], 0);
    f.call(&f.b.admin, "POST", "/api/v1/tags", Some(json!({"name": "VIP"}))).await.expect(201);
}

#[tokio::test]
async fn clients_and_tickets_carry_tags_and_filter_by_them() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let vip = f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "vip"}))).await.expect(201).id();
    f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "Onsite"}))).await.expect(201);

    // Names match any case, repeats fold, the answer is sorted case-insensitively.
    let globex = f
        .call(a, "POST", "/api/v1/clients", Some(json!({"name": "Globex", "tags": ["VIP", "onsite", "vip"]})))
        .await
        .expect(201);
    assert_eq!(names(&globex.data()["tags"]), ["Onsite", "vip"]);
    let globex = globex.id();
    // Unknown names are refused together, by name, and create nothing.
    let unknown = f
        .call(a, "POST", "/api/v1/clients", Some(json!({"name": "Initech", "tags": ["vip", "gold", "Silver"]})))
        .await
        .expect(400);
    let message = unknown.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("`gold`") && message.contains("`Silver`") && !message.contains("`vip`"), "{message}");
    assert_eq!(f.call(a, "GET", "/api/v1/clients?name=initech", None).await.body["pagination"]["total"], 0);

    // Omitted keeps; a list replaces; an empty list clears.
    let kept = f.call(a, "PUT", &format!("/api/v1/clients/{globex}"), Some(json!({"notes": "n"}))).await.expect(200);
    assert_eq!(names(&kept.data()["tags"]), ["Onsite", "vip"]);
    let replaced =
        f.call(a, "PUT", &format!("/api/v1/clients/{globex}"), Some(json!({"tags": ["vip"]}))).await.expect(200);
    assert_eq!(names(&replaced.data()["tags"]), ["vip"]);
    let got = f.call(&f.a.readonly, "GET", &format!("/api/v1/clients/{globex}"), None).await.expect(200);
    assert_eq!(names(&got.data()["tags"]), ["vip"]);
    f.call(a, "PUT", &format!("/api/v1/clients/{globex}"), Some(json!({"tags": ["nope"]}))).await.expect(400);
    assert_eq!(names(&f.call(a, "GET", &format!("/api/v1/clients/{globex}"), None).await.data()["tags"]), ["vip"]);

    let vip_clients = f.call(&f.a.tech, "GET", "/api/v1/clients?tag=VIP", None).await.expect(200);
    assert_eq!(vip_clients.body["pagination"]["total"], 1);
    assert_eq!(vip_clients.data()[0]["name"], "Globex");
    assert_eq!(names(&vip_clients.data()[0]["tags"]), ["vip"]);
    let all = f.call(a, "GET", "/api/v1/clients", None).await.expect(200);
    assert_eq!(all.body["pagination"]["total"], 2);
    let none = f.call(a, "GET", "/api/v1/clients?tag=unknown", None).await.expect(200);
    assert_eq!(none.body["pagination"]["total"], 0);

    // Tickets: tags on create and update, the filter, and the tag's use counted on delete.
    let body = json!({"title": "VIP down", "board_id": s.board, "client_id": s.client, "priority_id": s.priority, "tags": ["vip"]});
    let ticket = f.call(&f.a.tech, "POST", "/api/v1/tickets", Some(body)).await.expect(201);
    assert_eq!(names(&ticket.data()["tags"]), ["vip"]);
    let ticket = ticket.id();
    let other = f.ticket(a, &s, "Other").await;
    let tagged = f.call(a, "GET", "/api/v1/tickets?tag=vip", None).await.expect(200);
    assert_eq!(tagged.body["pagination"]["total"], 1);
    assert_eq!(tagged.data()[0]["id"], ticket.as_str());
    let untagged = f.call(a, "GET", &format!("/api/v1/tickets/{other}"), None).await.expect(200);
    assert_eq!(untagged.data()["tags"], json!([]));
    f.call(&f.a.tech, "PUT", &format!("/api/v1/tickets/{other}"), Some(json!({"tags": ["Onsite", "VIP"]})))
        .await
        .expect(200);
    assert_eq!(f.call(a, "GET", "/api/v1/tickets?tag=vip", None).await.body["pagination"]["total"], 2);
    // Tagging is part of updating the record: read-only users cannot.
    f.call(&f.a.readonly, "PUT", &format!("/api/v1/tickets/{other}"), Some(json!({"tags": []}))).await.expect(403);

    let in_use = f.call(a, "DELETE", &format!("/api/v1/tags/{vip}"), None).await.expect(409);
    let message = in_use.body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("3 records carry the tag `vip`"), "{message}");
    assert!(message.contains("1 client") && message.contains("2 ticket"), "{message}");
    // Deleting the records removes their tags; then the tag can go.
    f.call(a, "DELETE", &format!("/api/v1/tickets/{ticket}"), None).await.expect(204);
    f.call(a, "DELETE", &format!("/api/v1/tickets/{other}"), None).await.expect(204);
    f.call(a, "PUT", &format!("/api/v1/clients/{globex}"), Some(json!({"tags": []}))).await.expect(200);
    f.call(a, "DELETE", &format!("/api/v1/tags/{vip}"), None).await.expect(204);

    // Tenant B cannot use tenant A's tags, nor see A's records through a tag name.
    let b_client = f.call(&f.b.admin, "POST", "/api/v1/clients", Some(json!({"name": "B", "tags": ["Onsite"]}))).await;
    assert_eq!(b_client.status, 400, "{}", b_client.body);
    assert_eq!(f.call(&f.b.admin, "GET", "/api/v1/clients?tag=onsite", None).await.body["pagination"]["total"], 0);
}

#[tokio::test]
async fn teams_have_active_members_of_the_tenant() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let tech = f.a.tech.user_id().unwrap().to_owned();
    let admin = a.user_id().unwrap().to_owned();
    let created = f
        .call(
            a,
            "POST",
            "/api/v1/teams",
            Some(json!({"name": "Network", "description": "Switches", "user_ids": [tech, tech]})),
        )
        .await
        .expect(201);
    assert_eq!(created.data()["members"], json!([{"user_id": tech, "display_name": "Technician"}]));
    let team = created.id();
    f.call(a, "POST", "/api/v1/teams", Some(json!({"name": "Network"}))).await.expect(409);
    f.call(a, "POST", "/api/v1/teams", Some(json!({"name": "Service Desk"}))).await.expect(201);

    let set = f
        .call(a, "PUT", &format!("/api/v1/teams/{team}/members"), Some(json!({"user_ids": [tech, admin]})))
        .await
        .expect(200);
    assert_eq!(
        set.data()["members"],
        json!([{"user_id": admin, "display_name": "Admin"}, {"user_id": tech, "display_name": "Technician"}])
    );
    // Another tenant's user, or a deactivated one, is refused and changes nothing.
    let foreign = f.b.tech.user_id().unwrap().to_owned();
    let refused = f
        .call(a, "PUT", &format!("/api/v1/teams/{team}/members"), Some(json!({"user_ids": [tech, foreign]})))
        .await
        .expect(400);
    assert_eq!(refused.body["error"]["details"]["fields"][0]["field"], "user_ids");
    let spare = f
        .call(a, "POST", "/api/v1/users", Some(json!({"email": "s@x.example", "display_name": "S", "role_ids": []})))
        .await
        .expect(201)
        .id();
    f.call(a, "PUT", &format!("/api/v1/users/{spare}"), Some(json!({"active": false}))).await.expect(200);
    f.call(a, "PUT", &format!("/api/v1/teams/{team}/members"), Some(json!({"user_ids": [spare]}))).await.expect(400);
    let got = f.call(&f.a.readonly, "GET", &format!("/api/v1/teams/{team}"), None).await.expect(200);
    assert_eq!(got.data()["members"].as_array().unwrap().len(), 2);

    // Who is on which team: filter by member.
    let mine = f.call(&f.a.tech, "GET", &format!("/api/v1/teams?user_id={tech}"), None).await.expect(200);
    assert_eq!(mine.body["pagination"]["total"], 1);
    assert_eq!(mine.data()[0]["name"], "Network");
    assert_eq!(f.call(a, "GET", "/api/v1/teams?name=desk", None).await.body["pagination"]["total"], 1);

    // Technicians read teams only; other tenants do not see them.
    f.call(&f.a.tech, "PUT", &format!("/api/v1/teams/{team}/members"), Some(json!({"user_ids": []}))).await.expect(403);
    f.call(&f.a.tech, "POST", "/api/v1/teams", Some(json!({"name": "Mine"}))).await.expect(403);
    f.call(&f.b.admin, "GET", &format!("/api/v1/teams/{team}"), None).await.expect(404);

    // A team that tickets are routed to cannot be deleted; an empty team can.
    let s = f.setup(a).await;
    let body = json!({"title": "Switch down", "board_id": s.board, "client_id": s.client, "priority_id": s.priority, "team_id": team});
    let ticket = f.call(a, "POST", "/api/v1/tickets", Some(body)).await.expect(201);
    assert_eq!(ticket.data()["team_id"], team.as_str());
    let routed = f.call(a, "GET", &format!("/api/v1/tickets?team_id={team}"), None).await.expect(200);
    assert_eq!(routed.body["pagination"]["total"], 1);
    let in_use = f.call(a, "DELETE", &format!("/api/v1/teams/{team}"), None).await.expect(409);
    assert!(in_use.body["error"]["message"].as_str().unwrap().starts_with("1 tickets"), "{}", in_use.body);
    f.call(a, "PUT", &format!("/api/v1/tickets/{}", ticket.id()), Some(json!({"team_id": null}))).await.expect(200);
    f.call(a, "DELETE", &format!("/api/v1/teams/{team}"), None).await.expect(204);
    let body =
        json!({"title": "x", "board_id": s.board, "client_id": s.client, "priority_id": s.priority, "team_id": "nope"});
    f.call(a, "POST", "/api/v1/tickets", Some(body)).await.expect(400);

    // A member can still be deleted (not merely deactivated): their memberships go with them.
    let desk = f.call(a, "GET", "/api/v1/teams?name=desk", None).await.data()[0]["id"].as_str().unwrap().to_owned();
    let leaver = f
        .call(a, "POST", "/api/v1/users", Some(json!({"email": "l@x.example", "display_name": "L", "role_ids": []})))
        .await
        .expect(201)
        .id();
    f.call(a, "PUT", &format!("/api/v1/teams/{desk}/members"), Some(json!({"user_ids": [leaver, tech]})))
        .await
        .expect(200);
    let removed = f.call(a, "DELETE", &format!("/api/v1/users/{leaver}"), None).await.expect(200);
    assert_eq!(removed.data()["outcome"], "deleted");
    let desk = f.call(a, "GET", &format!("/api/v1/teams/{desk}"), None).await.expect(200);
    assert_eq!(desk.data()["members"], json!([{"user_id": tech, "display_name": "Technician"}]));
}

#[tokio::test]
async fn ticket_categories_are_two_levels_deep() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let hardware =
        f.call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": "Hardware"}))).await.expect(201).id();
    let software =
        f.call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": "Software"}))).await.expect(201).id();
    let printer = f
        .call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": "Printer", "parent_id": hardware})))
        .await
        .expect(201);
    assert_eq!(printer.data()["parent_id"], hardware.as_str());
    let printer = printer.id();
    let third = f
        .call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": "Toner", "parent_id": printer})))
        .await
        .expect(400);
    assert!(third.body["error"]["message"].as_str().unwrap().contains("two levels"), "{}", third.body);
    f.call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": "Printer"}))).await.expect(409);
    f.call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": "X", "parent_id": "nope"}))).await.expect(400);
    // A category with children cannot become a child; nothing is its own parent.
    f.call(a, "PUT", &format!("/api/v1/ticket-categories/{hardware}"), Some(json!({"parent_id": software})))
        .await
        .expect(400);
    f.call(a, "PUT", &format!("/api/v1/ticket-categories/{software}"), Some(json!({"parent_id": software})))
        .await
        .expect(400);
    let subs = f.call(&f.a.tech, "GET", &format!("/api/v1/ticket-categories?parent_id={hardware}"), None).await;
    assert_eq!(subs.expect(200).body["pagination"]["total"], 1);
    let top = f.call(&f.a.readonly, "GET", "/api/v1/ticket-categories?top_level=true", None).await.expect(200);
    assert_eq!(top.body["pagination"]["total"], 2);

    // Tickets in a subcategory are found by their category and by its parent.
    let body = json!({"title": "Jam", "board_id": s.board, "client_id": s.client, "priority_id": s.priority, "category_id": printer});
    let ticket = f.call(a, "POST", "/api/v1/tickets", Some(body)).await.expect(201).id();
    f.ticket(a, &s, "Uncategorized").await;
    for category in [&hardware, &printer] {
        let found = f.call(a, "GET", &format!("/api/v1/tickets?category_id={category}"), None).await.expect(200);
        assert_eq!(found.body["pagination"]["total"], 1, "{category}");
        assert_eq!(found.data()[0]["id"], ticket.as_str());
    }
    let other = f.call(a, "GET", &format!("/api/v1/tickets?category_id={software}"), None).await.expect(200);
    assert_eq!(other.body["pagination"]["total"], 0);

    // Deleting: 409 with children or tickets.
    let parent = f.call(a, "DELETE", &format!("/api/v1/ticket-categories/{hardware}"), None).await.expect(409);
    assert!(parent.body["error"]["message"].as_str().unwrap().contains("1 subcategories"), "{}", parent.body);
    let used = f.call(a, "DELETE", &format!("/api/v1/ticket-categories/{printer}"), None).await.expect(409);
    assert!(used.body["error"]["message"].as_str().unwrap().starts_with("1 tickets"), "{}", used.body);
    f.call(a, "PUT", &format!("/api/v1/tickets/{ticket}"), Some(json!({"category_id": software}))).await.expect(200);
    f.call(a, "DELETE", &format!("/api/v1/ticket-categories/{printer}"), None).await.expect(204);
    f.call(a, "DELETE", &format!("/api/v1/ticket-categories/{hardware}"), None).await.expect(204);

    f.call(&f.a.tech, "POST", "/api/v1/ticket-categories", Some(json!({"name": "Mine"}))).await.expect(403);
    f.call(&f.b.admin, "GET", &format!("/api/v1/ticket-categories/{software}"), None).await.expect(404);
    let foreign_category = json!({"category_id": software});
    let b = f.setup(&f.b.admin).await;
    let b_ticket = f.ticket(&f.b.admin, &b, "B's").await;
    f.call(&f.b.admin, "PUT", &format!("/api/v1/tickets/{b_ticket}"), Some(foreign_category)).await.expect(400);
}

#[tokio::test]
async fn tickets_have_a_source_a_parent_and_sort_by_priority() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let parent = f.call(a, "GET", &format!("/api/v1/tickets/{}", f.ticket(a, &s, "Outage").await), None).await;
    assert_eq!(parent.data()["source"], "api", "created through the API by a person");
    assert_eq!(parent.data()["created_by"], a.user_id().unwrap());
    assert_eq!(parent.data()["created_by_agent"], Value::Null);
    let parent = parent.id();
    f.call(a, "PUT", &format!("/api/v1/priorities/{}", s.priority), Some(json!({"position": 5}))).await.expect(200);
    let urgent = f
        .call(a, "POST", "/api/v1/priorities", Some(json!({"name": "Critical", "position": 0})))
        .await
        .expect(201)
        .id();
    let body = json!({"title": "Site B down", "board_id": s.board, "client_id": s.client, "priority_id": urgent,
        "parent_ticket_id": parent, "source": "phone"});
    let child = f.call(a, "POST", "/api/v1/tickets", Some(body)).await.expect(201);
    assert_eq!((&child.data()["source"], &child.data()["parent_ticket_id"]), (&json!("phone"), &json!(parent)));
    let child = child.id();
    let grandchild = f.ticket(a, &s, "Site B switch").await;
    f.call(a, "PUT", &format!("/api/v1/tickets/{grandchild}"), Some(json!({"parent_ticket_id": child})))
        .await
        .expect(200);

    // No cycles, not itself, only the tenant's tickets, only known sources.
    for (ticket, to) in [(&parent, &grandchild), (&parent, &child), (&child, &child)] {
        let cycle = f
            .call(a, "PUT", &format!("/api/v1/tickets/{ticket}"), Some(json!({"parent_ticket_id": to})))
            .await
            .expect(400);
        assert_eq!(cycle.body["error"]["details"]["fields"][0]["field"], "parent_ticket_id");
    }
    let b = f.setup(&f.b.admin).await;
    let foreign = f.ticket(&f.b.admin, &b, "B's").await;
    f.call(a, "PUT", &format!("/api/v1/tickets/{child}"), Some(json!({"parent_ticket_id": foreign}))).await.expect(400);
    f.call(a, "PUT", &format!("/api/v1/tickets/{child}"), Some(json!({"source": "fax"}))).await.expect(400);

    let children = f.call(a, "GET", &format!("/api/v1/tickets?parent_ticket_id={parent}"), None).await.expect(200);
    assert_eq!(children.body["pagination"]["total"], 1);
    let by_phone = f.call(a, "GET", "/api/v1/tickets?source=phone", None).await.expect(200);
    assert_eq!(by_phone.body["pagination"]["total"], 1);
    // Most urgent first by default; the other way with order=asc.
    let by_priority = f.call(a, "GET", "/api/v1/tickets?sort=priority", None).await.expect(200);
    assert_eq!(by_priority.data()[0]["id"], child.as_str());
    let reversed = f.call(a, "GET", "/api/v1/tickets?sort=priority&order=asc", None).await.expect(200);
    assert_eq!(reversed.data()[2]["id"], child.as_str());

    // Deleting a parent keeps its children, as top-level tickets.
    f.call(a, "DELETE", &format!("/api/v1/tickets/{child}"), None).await.expect(204);
    let orphan = f.call(a, "GET", &format!("/api/v1/tickets/{grandchild}"), None).await.expect(200);
    assert_eq!(orphan.data()["parent_ticket_id"], Value::Null);
}

#[tokio::test]
async fn comments_are_edited_by_their_author_or_a_moderator_and_agents_are_named() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let ticket = f.ticket(a, &s, "Printer").await;
    let comments = format!("/api/v1/tickets/{ticket}/comments");
    let by_tech = f.call(&f.a.tech, "POST", &comments, Some(json!({"body": "mine"}))).await.expect(201).id();
    let by_admin = f.call(a, "POST", &comments, Some(json!({"body": "admin's"}))).await.expect(201).id();

    let edited = f
        .call(&f.a.tech, "PUT", &format!("{comments}/{by_tech}"), Some(json!({"body": " fixed ", "is_internal": true})))
        .await
        .expect(200);
    assert_eq!((&edited.data()["body"], &edited.data()["is_internal"]), (&json!("fixed"), &json!(true)));
    let denied =
        f.call(&f.a.tech, "PUT", &format!("{comments}/{by_admin}"), Some(json!({"body": "hijack"}))).await.expect(403);
    assert!(denied.body["error"]["message"].as_str().unwrap().contains("ticket_comment:delete"), "{}", denied.body);
    // The Admin moderates; read-only users edit nothing; bad input changes nothing.
    f.call(a, "PUT", &format!("{comments}/{by_tech}"), Some(json!({"body": "moderated"}))).await.expect(200);
    f.call(&f.a.readonly, "PUT", &format!("{comments}/{by_tech}"), Some(json!({"body": "x"}))).await.expect(403);
    f.call(a, "PUT", &format!("{comments}/{by_admin}"), Some(json!({"body": "  "}))).await.expect(400);
    let listed = f.call(a, "GET", &comments, None).await.expect(200);
    let bodies: Vec<&str> = listed.data().as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["moderated", "admin's"]);
    // A comment of another ticket is not found under this one.
    let other = f.ticket(a, &s, "Other").await;
    f.call(a, "PUT", &format!("/api/v1/tickets/{other}/comments/{by_tech}"), Some(json!({"body": "x"})))
        .await
        .expect(404);

    // An agent's records name it; it edits its own comments and not a person's, nor another agent's.
    let bot = agent(&f, "agent-1");
    let body =
        json!({"title": "From the agent", "board_id": s.board, "client_id": s.client, "priority_id": s.priority});
    let created = f.call(&bot, "POST", "/api/v1/tickets", Some(body)).await.expect(201);
    assert_eq!(created.data()["source"], "agent");
    assert_eq!((&created.data()["created_by"], &created.data()["created_by_agent"]), (&Value::Null, &json!("agent-1")));
    let note = f.call(&bot, "POST", &comments, Some(json!({"body": "triaged"}))).await.expect(201);
    assert_eq!((&note.data()["author_id"], &note.data()["created_by_agent"]), (&Value::Null, &json!("agent-1")));
    let note = note.id();
    f.call(&bot, "PUT", &format!("{comments}/{note}"), Some(json!({"body": "triaged again"}))).await.expect(200);
    f.call(&bot, "PUT", &format!("{comments}/{by_tech}"), Some(json!({"body": "x"}))).await.expect(403);
    f.call(&agent(&f, "agent-2"), "PUT", &format!("{comments}/{note}"), Some(json!({"body": "x"}))).await.expect(403);
    f.call(&f.a.tech, "PUT", &format!("{comments}/{note}"), Some(json!({"body": "x"}))).await.expect(403);
    let entry = json!({"work_item_type": "ticket", "work_item_id": ticket, "user_id": f.a.tech.user_id().unwrap(),
        "started_at": "2026-11-24T09:00:00Z", "duration_minutes": 15});
    let logged = f.call(&bot, "POST", "/api/v1/time-entries", Some(entry)).await.expect(201);
    assert_eq!(logged.data()["created_by_agent"], "agent-1");
}

/// Two updates at once, A's parent := B and B's parent := A: at most one may succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parent_tickets_never_form_a_cycle_under_concurrency() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let mut cycles = 0;
    for i in 0..40 {
        let x = f.ticket(a, &s, &format!("x{i}")).await;
        let y = f.ticket(a, &s, &format!("y{i}")).await;
        let (px, py) = (format!("/api/v1/tickets/{x}"), format!("/api/v1/tickets/{y}"));
        let (r1, r2) = tokio::join!(
            f.call(a, "PUT", &px, Some(json!({"parent_ticket_id": y}))),
            f.call(a, "PUT", &py, Some(json!({"parent_ticket_id": x}))),
        );
        if r1.status == 200 && r2.status == 200 {
            cycles += 1;
        }
    }
    assert_eq!(cycles, 0, "pairs of tickets that became each other's parent");
}

/// A ticket deleted while its tags are set leaves no tagging behind (else the tag can never be
/// deleted: it is "carried" by a record that no longer exists).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_ticket_leaves_no_tagging_behind() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let tag = f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "race"}))).await.expect(201).id();
    f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "old"}))).await.expect(201);
    for i in 0..100 {
        let t = f.ticket(a, &s, &format!("t{i}")).await;
        f.call(a, "PUT", &format!("/api/v1/tickets/{t}"), Some(json!({"tags": ["old"]}))).await.expect(200);
        let pt = format!("/api/v1/tickets/{t}");
        let _ = tokio::join!(f.call(a, "PUT", &pt, Some(json!({"tags": ["race"]}))), f.call(a, "DELETE", &pt, None),);
    }
    // Take the tag off every ticket that still exists: then nothing carries it.
    let carried = f.call(a, "GET", "/api/v1/tickets?tag=race&limit=100", None).await.expect(200);
    for t in carried.data().as_array().unwrap() {
        let path = format!("/api/v1/tickets/{}", t["id"].as_str().unwrap());
        f.call(a, "PUT", &path, Some(json!({"tags": []}))).await.expect(200);
    }
    f.call(a, "DELETE", &format!("/api/v1/tags/{tag}"), None).await.expect(204);
}

/// A ticket has at most 32 levels of parent tickets, on create and on update.
#[tokio::test]
async fn a_ticket_has_at_most_32_levels_of_parent_tickets() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let child_of = |title: String, parent: Option<String>| {
        json!({"title": title, "board_id": s.board, "client_id": s.client, "priority_id": s.priority,
            "parent_ticket_id": parent})
    };
    // t0 ← t1 ← … ← t32: t32 has 32 ancestors.
    let mut chain = vec![f.ticket(a, &s, "t0").await];
    for i in 1..=32 {
        let body = child_of(format!("t{i}"), chain.last().cloned());
        chain.push(f.call(a, "POST", "/api/v1/tickets", Some(body)).await.expect(201).id());
    }
    let deepest = chain[32].clone();
    let refused = f.call(a, "POST", "/api/v1/tickets", Some(child_of("t33".into(), Some(deepest.clone())))).await;
    let refused = refused.expect(400);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("at most 32 levels"), "{}", refused.body);
    let loose = f.ticket(a, &s, "loose").await;
    let path = format!("/api/v1/tickets/{loose}");
    f.call(a, "PUT", &path, Some(json!({"parent_ticket_id": deepest}))).await.expect(400);
    let unchanged = f.call(a, "GET", &path, None).await.expect(200);
    assert_eq!(unchanged.data()["parent_ticket_id"], Value::Null);
    // One level less is allowed; a cycle through the whole chain is still found.
    f.call(a, "PUT", &path, Some(json!({"parent_ticket_id": chain[31]}))).await.expect(200);
    let top = format!("/api/v1/tickets/{}", chain[0]);
    f.call(a, "PUT", &top, Some(json!({"parent_ticket_id": chain[30]}))).await.expect(400);
}

/// Editing someone else's comment is decided on the moderator grant held now, not on the grants a
/// credential carried when it was authenticated (and may still carry from a cache).
#[tokio::test]
async fn a_moderator_edits_others_comments_only_while_holding_the_grant_now() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let ticket = f.ticket(a, &s, "Printer").await;
    let comments = format!("/api/v1/tickets/{ticket}/comments");
    let granted = ["ticket:read", "ticket_comment:read", "ticket_comment:create", "ticket_comment:update"];
    let (moderator, role) = f.user_with_role("moderator", &[&granted[..], &["ticket_comment:delete"]].concat()).await;
    let by_tech = f.call(&f.a.tech, "POST", &comments, Some(json!({"body": "tech's"}))).await.expect(201).id();
    let own = f.call(&moderator, "POST", &comments, Some(json!({"body": "mine"}))).await.expect(201).id();
    f.call(&moderator, "PUT", &format!("{comments}/{by_tech}"), Some(json!({"body": "moderated"}))).await.expect(200);

    f.call(a, "PUT", &format!("/api/v1/roles/{role}"), Some(json!({"permissions": granted}))).await.expect(200);
    let denied =
        f.call(&moderator, "PUT", &format!("{comments}/{by_tech}"), Some(json!({"body": "again"}))).await.expect(403);
    assert!(denied.body["error"]["message"].as_str().unwrap().contains("ticket_comment:delete"), "{}", denied.body);
    f.call(&moderator, "PUT", &format!("{comments}/{own}"), Some(json!({"body": "still mine"}))).await.expect(200);
    let listed = f.call(a, "GET", &comments, None).await.expect(200);
    let bodies: Vec<&str> = listed.data().as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["moderated", "still mine"]);
}

/// A request names at most 100 tags for a record and 100 members for a team; beyond, a 400 that
/// changes nothing.
#[tokio::test]
async fn tags_and_team_members_are_capped_at_100() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "kept"}))).await.expect(201);
    let ticket = f.ticket(a, &s, "Tagged").await;
    let path = format!("/api/v1/tickets/{ticket}");
    f.call(a, "PUT", &path, Some(json!({"tags": ["kept"]}))).await.expect(200);
    let many: Vec<String> = (0..101).map(|i| format!("tag{i}")).collect();
    let refused = f.call(a, "PUT", &path, Some(json!({"tags": many, "title": "Renamed"}))).await.expect(400);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("at most 100"), "{}", refused.body);
    let unchanged = f.call(a, "GET", &path, None).await.expect(200);
    assert_eq!(
        (names(&unchanged.data()["tags"]), &unchanged.data()["title"]),
        (vec!["kept".to_owned()], &json!("Tagged"))
    );

    let tech = f.a.tech.user_id().unwrap().to_owned();
    let members = vec![tech.clone(); 101];
    let refused =
        f.call(a, "POST", "/api/v1/teams", Some(json!({"name": "Crowd", "user_ids": members}))).await.expect(400);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("at most 100"), "{}", refused.body);
    assert_eq!(f.call(a, "GET", "/api/v1/teams", None).await.expect(200).body["pagination"]["total"], 0);
    let team = f.call(a, "POST", "/api/v1/teams", Some(json!({"name": "Few", "user_ids": [tech]}))).await.expect(201);
    let team = team.id();
    f.call(a, "PUT", &format!("/api/v1/teams/{team}/members"), Some(json!({"user_ids": members}))).await.expect(400);
    let kept = f.call(a, "GET", &format!("/api/v1/teams/{team}"), None).await.expect(200);
    assert_eq!(kept.data()["members"].as_array().unwrap().len(), 1);
}

/// Deleting a record while another request refers to it answers a clear error (never a 500), and
/// leaves no dangling reference: a team or category deleted while a ticket is routed to it, a
/// ticket deleted while a child is linked to it, a tag deleted while set on a ticket, and two
/// categories made each other's parent at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_between_a_delete_and_a_reference_answer_a_clear_error() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let allowed = |what: &str, got: (u16, u16), ok: &[(u16, u16)]| {
        assert!(ok.contains(&got), "{what}: (reference, delete) answered {got:?}");
    };
    for i in 0..15 {
        let ticket = f.ticket(a, &s, &format!("t{i}")).await;
        let path = format!("/api/v1/tickets/{ticket}");

        let team = f.call(a, "POST", "/api/v1/teams", Some(json!({"name": format!("team{i}")}))).await.expect(201).id();
        let gone = format!("/api/v1/teams/{team}");
        let (routed, deleted) =
            tokio::join!(f.call(a, "PUT", &path, Some(json!({"team_id": team}))), f.call(a, "DELETE", &gone, None),);
        allowed("team", (routed.status, deleted.status), &[(200, 409), (400, 204)]);

        let category = f
            .call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": format!("c{i}")})))
            .await
            .expect(201)
            .id();
        let gone = format!("/api/v1/ticket-categories/{category}");
        let (categorized, deleted) = tokio::join!(
            f.call(a, "PUT", &path, Some(json!({"category_id": category}))),
            f.call(a, "DELETE", &gone, None),
        );
        allowed("category", (categorized.status, deleted.status), &[(200, 409), (400, 204)]);

        let tag = f.call(a, "POST", "/api/v1/tags", Some(json!({"name": format!("tag{i}")}))).await.expect(201);
        let gone = format!("/api/v1/tags/{}", tag.id());
        let (tagged, deleted) = tokio::join!(
            f.call(a, "PUT", &path, Some(json!({"tags": [format!("tag{i}")]}))),
            f.call(a, "DELETE", &gone, None),
        );
        allowed("tag", (tagged.status, deleted.status), &[(200, 409), (400, 204)]);

        let parent = f.ticket(a, &s, &format!("p{i}")).await;
        let gone = format!("/api/v1/tickets/{parent}");
        let (linked, deleted) = tokio::join!(
            f.call(a, "PUT", &path, Some(json!({"parent_ticket_id": parent}))),
            f.call(a, "DELETE", &gone, None),
        );
        allowed("parent", (linked.status, deleted.status), &[(200, 204), (400, 204)]);
        let child = f.call(a, "GET", &path, None).await.expect(200);
        assert_eq!(child.data()["parent_ticket_id"], Value::Null, "the deleted parent is unlinked");

        let x = f.call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": format!("x{i}")}))).await.id();
        let y = f.call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": format!("y{i}")}))).await.id();
        let (px, py) = (format!("/api/v1/ticket-categories/{x}"), format!("/api/v1/ticket-categories/{y}"));
        let (xy, yx) = tokio::join!(
            f.call(a, "PUT", &px, Some(json!({"parent_id": y}))),
            f.call(a, "PUT", &py, Some(json!({"parent_id": x}))),
        );
        allowed("crossed categories", (xy.status, yx.status), &[(200, 400), (400, 200)]);
    }
}
