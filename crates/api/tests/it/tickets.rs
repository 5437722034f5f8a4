use serde_json::json;

use crate::support::Fixture;

#[tokio::test]
async fn tickets_get_numbers_names_and_close_through_their_status() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let body = json!({
        "title": "Printer offline", "board_id": s.board, "client_id": s.client, "priority_id": s.priority,
        "contact_id": s.contact, "assigned_to": f.a.tech.user_id().unwrap(), "description": "Floor 2",
    });
    let first = f.call(&f.a.tech, "POST", "/api/v1/tickets", Some(body)).await.expect(201);
    let t = first.data();
    assert_eq!(t["number"], "T-000001");
    assert_eq!(t["status_id"], s.open.as_str(), "the board's first status");
    assert_eq!((t["status_name"].as_str(), t["client_name"].as_str()), (Some("New"), Some("Acme")));
    assert_eq!(t["is_closed"], false);
    assert_eq!(t["created_by"], f.a.tech.user_id().unwrap());
    let second = f.ticket(&f.a.admin, &s, "Second").await;
    let second_number = f.call(&f.a.admin, "GET", &format!("/api/v1/tickets/{second}"), None).await.expect(200);
    assert_eq!(second_number.data()["number"], "T-000002");

    let id = first.id();
    let closed = f
        .call(&f.a.tech, "PUT", &format!("/api/v1/tickets/{id}"), Some(json!({"status_id": s.closed})))
        .await
        .expect(200);
    assert_eq!(closed.data()["is_closed"], true);
    assert!(closed.data()["closed_at"].is_string());
    let open = f.call(&f.a.readonly, "GET", "/api/v1/tickets?is_open=true", None).await.expect(200);
    assert_eq!(open.body["pagination"]["total"], 1);
    let found = f.call(&f.a.readonly, "GET", "/api/v1/tickets?search=PRINTER", None).await.expect(200);
    assert_eq!(found.data()[0]["id"], id.as_str());
    let by_number = f.call(&f.a.readonly, "GET", "/api/v1/tickets?search=t-000002&sort=number&order=asc", None).await;
    assert_eq!(by_number.expect(200).data()[0]["id"], second.as_str());
}

#[tokio::test]
async fn ticket_validation() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let other = f.setup(&f.b.admin).await;
    let base = json!({"title": "T", "board_id": s.board, "client_id": s.client, "priority_id": s.priority});
    let with = |key: &str, value: serde_json::Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    for (body, field) in [
        (with("title", json!("")), "title"),
        (with("board_id", json!("nope")), "board_id"),
        (with("client_id", json!(other.client)), "client_id"),
        (with("status_id", json!(other.open)), "status_id"),
        (with("contact_id", json!("nope")), "contact_id"),
        (with("assigned_to", json!(f.b.admin.user_id().unwrap())), "assigned_to"),
        (with("extra", json!(1)), "extra"),
    ] {
        let answer = f.call(&f.a.admin, "POST", "/api/v1/tickets", Some(body)).await.expect(400);
        assert!(answer.body["error"]["message"].as_str().unwrap().contains(field), "{field}: {}", answer.body);
    }
    // A status of another board of the same tenant.
    let board2 = f.call(&f.a.admin, "POST", "/api/v1/boards", Some(json!({"name": "Projects"}))).await.expect(201).id();
    let status2 = f
        .call(&f.a.admin, "POST", "/api/v1/statuses", Some(json!({"board_id": board2, "name": "Doing"})))
        .await
        .expect(201)
        .id();
    let wrong_board = f.call(&f.a.admin, "POST", "/api/v1/tickets", Some(with("status_id", json!(status2)))).await;
    assert!(wrong_board.expect(400).body["error"]["message"].as_str().unwrap().contains("another board"));
    let id = f.ticket(&f.a.admin, &s, "T").await;
    let move_without_status =
        f.call(&f.a.admin, "PUT", &format!("/api/v1/tickets/{id}"), Some(json!({"board_id": board2}))).await;
    move_without_status.expect(400);
    let moved = f
        .call(
            &f.a.admin,
            "PUT",
            &format!("/api/v1/tickets/{id}"),
            Some(json!({"board_id": board2, "status_id": status2})),
        )
        .await
        .expect(200);
    assert_eq!(moved.data()["board_name"], "Projects");
    f.call(&f.a.admin, "GET", "/api/v1/tickets?created_from=yesterday", None).await.expect(400);
    f.call(&f.a.admin, "GET", "/api/v1/tickets?sort=colour", None).await.expect(400);
}

#[tokio::test]
async fn tickets_are_tenant_scoped_and_permission_checked() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let id = f.ticket(&f.a.admin, &s, "Secret").await;
    for (method, path, body) in [
        ("GET", format!("/api/v1/tickets/{id}"), None),
        ("PUT", format!("/api/v1/tickets/{id}"), Some(json!({"title": "x"}))),
        ("DELETE", format!("/api/v1/tickets/{id}"), None),
        ("GET", format!("/api/v1/tickets/{id}/comments"), None),
        ("POST", format!("/api/v1/tickets/{id}/comments"), Some(json!({"body": "x"}))),
    ] {
        assert_eq!(f.call(&f.b.admin, method, &path, body).await.status, 404, "{method} {path}");
    }
    assert_eq!(f.call(&f.b.admin, "GET", "/api/v1/tickets", None).await.expect(200).body["pagination"]["total"], 0);
    let ro = f.call(&f.a.readonly, "POST", "/api/v1/tickets", Some(json!({"title": "x"}))).await.expect(403);
    assert_eq!(ro.body["error"]["message"], "Permission denied: cannot create ticket");
    f.call(&f.a.tech, "DELETE", &format!("/api/v1/tickets/{id}"), None).await.expect(403);
    f.call(&f.a.readonly, "POST", &format!("/api/v1/tickets/{id}/comments"), Some(json!({"body": "x"})))
        .await
        .expect(403);
}

/// Two partial updates of one ticket at once both take effect: an update that read the ticket
/// before another writer committed must not write the old values back over it (a lost update).
#[tokio::test]
async fn a_partial_update_never_undoes_a_concurrent_one() {
    use alga_core::db::Backend;
    use alga_core::schema::tickets;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    let f = std::sync::Arc::new(Fixture::new().await);
    let s = f.setup(&f.a.admin).await;
    let id = f.ticket(&f.a.admin, &s, "Printer offline").await;
    // Another connection changes the description and keeps its transaction open.
    let mut other = f.db.conn();
    let begin = if f.db.backend() == Backend::Sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" };
    other.batch_execute(begin).unwrap();
    let changed = alga_core::on_backend!(&mut other, |c| diesel::update(tickets::table.filter(tickets::id.eq(&id)))
        .set(tickets::description.eq("Only the second floor"))
        .execute(c))
    .unwrap();
    assert_eq!(changed, 1);
    let caller = f.clone();
    let path = format!("/api/v1/tickets/{id}");
    let update = tokio::spawn(async move {
        caller.call(&caller.a.tech, "PUT", &path, Some(json!({"title": "Printer jammed"}))).await
    });
    if f.db.backend() == Backend::Postgres {
        // Commit only once the update waits for the other transaction's row lock: it has begun,
        // and whatever it read before waiting is what a lost update would write back.
        let mut probe = f.db.conn();
        let waiting = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
        while diesel::sql_query(waiting).execute(&mut probe).unwrap() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    } else {
        // SQLite: the update cannot even begin while this transaction holds the write lock.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    other.batch_execute("COMMIT").unwrap();
    let answer = update.await.unwrap().expect(200);
    assert_eq!(
        (answer.data()["title"].as_str(), answer.data()["description"].as_str()),
        (Some("Printer jammed"), Some("Only the second floor")),
        "the concurrent change survives"
    );
}

/// The lock an update takes before reading its record (`lock_row!`) lets rows that refer to the
/// record be inserted meanwhile on PostgreSQL (a `FOR UPDATE` would block their foreign-key
/// check and, against locks taken in the other order, deadlock).
#[tokio::test]
async fn a_locked_record_can_still_be_referred_to() {
    use alga_core::db::Backend;
    use alga_core::schema::clients;
    use diesel::connection::SimpleConnection;

    let f = Fixture::new().await;
    if f.db.backend() != Backend::Postgres {
        return; // SQLite: one writer at a time, so the question does not arise.
    }
    let s = f.setup(&f.a.admin).await;
    let mut other = f.db.conn();
    other.batch_execute("BEGIN").unwrap();
    let locked = (|| -> Result<(), alga_core::ApiError> {
        let conn = &mut other;
        alga_core::lock_row!(conn, clients, &f.a.admin.tenant_id, &s.client);
        Ok(())
    })();
    locked.unwrap();
    // A contact refers to its client by a foreign key.
    let contact =
        f.call(&f.a.admin, "POST", "/api/v1/contacts", Some(json!({"full_name": "Raj", "client_id": s.client})));
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), contact)
        .await
        .expect("a contact of a client locked for an update must not wait for that update");
    answer.expect(201);
    other.batch_execute("COMMIT").unwrap();
}

#[tokio::test]
async fn comments() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let id = f.ticket(&f.a.admin, &s, "T").await;
    let path = format!("/api/v1/tickets/{id}/comments");
    let note =
        f.call(&f.a.tech, "POST", &path, Some(json!({"body": "internal", "is_internal": true}))).await.expect(201);
    assert_eq!(note.data()["author_id"], f.a.tech.user_id().unwrap());
    f.call(&f.a.tech, "POST", &path, Some(json!({"body": "reply"}))).await.expect(201);
    f.call(&f.a.tech, "POST", &path, Some(json!({"body": "   "}))).await.expect(400);
    let all = f.call(&f.a.readonly, "GET", &path, None).await.expect(200);
    assert_eq!(all.body["pagination"]["total"], 2);
    assert_eq!(all.data()[0]["body"], "internal", "oldest first");
    let public = f.call(&f.a.readonly, "GET", &format!("{path}?is_internal=false"), None).await.expect(200);
    assert_eq!(public.body["pagination"]["total"], 1);
    let comment = note.id();
    f.call(&f.a.tech, "DELETE", &format!("{path}/{comment}"), None).await.expect(403);
    f.call(&f.b.admin, "DELETE", &format!("{path}/{comment}"), None).await.expect(404);
    f.call(&f.a.admin, "DELETE", &format!("{path}/{comment}"), None).await.expect(204);
    f.call(&f.a.admin, "DELETE", &format!("{path}/{comment}"), None).await.expect(404);
    // Deleting the ticket takes its comments along.
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/tickets/{id}"), None).await.expect(204);
}

#[tokio::test]
async fn boards_statuses_priorities() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let statuses =
        f.call(&f.a.readonly, "GET", &format!("/api/v1/statuses?board_id={}", s.board), None).await.expect(200);
    assert_eq!(statuses.data().as_array().unwrap().len(), 2);
    assert_eq!(statuses.data()[0]["name"], "New", "by position");
    f.call(&f.a.admin, "POST", "/api/v1/boards", Some(json!({"name": "Service Desk"}))).await.expect(409);
    f.call(&f.a.admin, "POST", "/api/v1/statuses", Some(json!({"board_id": s.board, "name": "New"}))).await.expect(409);
    f.call(&f.a.admin, "POST", "/api/v1/statuses", Some(json!({"board_id": "nope", "name": "X"}))).await.expect(400);
    f.call(&f.a.admin, "POST", "/api/v1/priorities", Some(json!({"name": "P", "color": "red"}))).await.expect(400);
    let renamed = f
        .call(&f.a.admin, "PUT", &format!("/api/v1/priorities/{}", s.priority), Some(json!({"color": "#ABC"})))
        .await
        .expect(200);
    assert_eq!(renamed.data()["color"], "#abc");

    let id = f.ticket(&f.a.admin, &s, "T").await;
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/boards/{}", s.board), None).await.expect(409);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/statuses/{}", s.open), None).await.expect(409);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/priorities/{}", s.priority), None).await.expect(409);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/clients/{}", s.client), None).await.expect(409);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/contacts/{}", s.contact), None).await.expect(204);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/tickets/{id}"), None).await.expect(204);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/boards/{}", s.board), None).await.expect(204);
    f.call(&f.a.admin, "GET", &format!("/api/v1/statuses/{}", s.open), None).await.expect(404);

    for path in ["/api/v1/boards", "/api/v1/statuses", "/api/v1/priorities"] {
        f.call(&f.a.tech, "POST", path, Some(json!({"name": "x"}))).await.expect(403);
        assert_eq!(f.call(&f.b.admin, "GET", &format!("{path}/{}", s.priority), None).await.status, 404);
    }
}

#[tokio::test]
async fn contacts() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let found = f.call(&f.a.readonly, "GET", "/api/v1/contacts?search=DAN", None).await.expect(200);
    assert_eq!(found.data()[0]["id"], s.contact.as_str());
    let of_client = f.call(&f.a.readonly, "GET", &format!("/api/v1/contacts?client_id={}", s.client), None).await;
    assert_eq!(of_client.expect(200).body["pagination"]["total"], 1);
    let cleared = f
        .call(&f.a.admin, "PUT", &format!("/api/v1/contacts/{}", s.contact), Some(json!({"client_id": null})))
        .await
        .expect(200);
    assert!(cleared.data()["client_id"].is_null());
    f.call(&f.a.admin, "POST", "/api/v1/contacts", Some(json!({"full_name": "X", "client_id": "nope"})))
        .await
        .expect(400);
    f.call(&f.a.tech, "POST", "/api/v1/contacts", Some(json!({"full_name": "X"}))).await.expect(403);
    f.call(&f.b.admin, "GET", &format!("/api/v1/contacts/{}", s.contact), None).await.expect(404);
}
