//! Projects, tasks and time entries.

use serde_json::json;

use crate::support::Fixture;

#[tokio::test]
async fn projects_and_tasks() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let body =
        json!({"name": "O365 migration", "client_id": s.client, "start_date": "2026-12-01", "end_date": "2027-01-31"});
    let project = f.call(&f.a.admin, "POST", "/api/v1/projects", Some(body)).await.expect(201);
    assert_eq!(project.data()["status"], "planned");
    let id = project.id();
    f.call(&f.a.admin, "POST", "/api/v1/projects", Some(json!({"name": "O365 migration", "client_id": s.client})))
        .await
        .expect(409);
    let bad_dates = json!({"name": "X", "client_id": s.client, "start_date": "2026-12-01", "end_date": "2026-11-01"});
    f.call(&f.a.admin, "POST", "/api/v1/projects", Some(bad_dates)).await.expect(400);
    f.call(
        &f.a.admin,
        "POST",
        "/api/v1/projects",
        Some(json!({"name": "X", "client_id": s.client, "status": "paused"})),
    )
    .await
    .expect(400);
    f.call(&f.a.admin, "PUT", &format!("/api/v1/projects/{id}"), Some(json!({"status": "active", "end_date": null})))
        .await
        .expect(200);
    let active = f.call(&f.a.readonly, "GET", "/api/v1/projects?status=active&search=o365", None).await.expect(200);
    assert_eq!(active.body["pagination"]["total"], 1);
    assert!(active.data()[0]["end_date"].is_null());

    let tasks = format!("/api/v1/projects/{id}/tasks");
    let task = f
        .call(
            &f.a.admin,
            "POST",
            &tasks,
            Some(json!({"title": "Mailboxes", "estimated_minutes": 480, "assigned_to": f.a.tech.user_id().unwrap()})),
        )
        .await
        .expect(201);
    assert_eq!(task.data()["status"], "todo");
    let task_id = task.id();
    f.call(&f.a.admin, "POST", &tasks, Some(json!({"title": "X", "estimated_minutes": -5}))).await.expect(400);
    f.call(&f.a.admin, "PUT", &format!("{tasks}/{task_id}"), Some(json!({"status": "done"}))).await.expect(200);
    let done = f.call(&f.a.readonly, "GET", &format!("{tasks}?status=done"), None).await.expect(200);
    assert_eq!(done.body["pagination"]["total"], 1);
    // A task reached through another project is not there.
    let other = f
        .call(&f.a.admin, "POST", "/api/v1/projects", Some(json!({"name": "Other", "client_id": s.client})))
        .await
        .expect(201)
        .id();
    f.call(&f.a.admin, "GET", &format!("/api/v1/projects/{other}/tasks/{task_id}"), None).await.expect(404);
    f.call(&f.b.admin, "GET", &format!("{tasks}/{task_id}"), None).await.expect(404);
    f.call(&f.b.admin, "GET", &tasks, None).await.expect(404);
    f.call(&f.a.tech, "POST", &tasks, Some(json!({"title": "X"}))).await.expect(403);

    // Logged time protects the task and the project.
    let entry = json!({"work_item_type": "project_task", "work_item_id": task_id, "started_at": "2026-11-24T09:00:00Z", "duration_minutes": 30});
    f.call(&f.a.tech, "POST", "/api/v1/time-entries", Some(entry)).await.expect(201);
    f.call(&f.a.admin, "DELETE", &format!("{tasks}/{task_id}"), None).await.expect(409);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/projects/{id}"), None).await.expect(409);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/projects/{other}"), None).await.expect(204);
}

#[tokio::test]
async fn time_entries() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let ticket = f.ticket(&f.a.admin, &s, "T").await;
    let body = json!({"work_item_type": "ticket", "work_item_id": ticket, "started_at": "2026-11-24T09:00:00+01:00", "ended_at": "2026-11-24T09:45:00+01:00", "notes": "fixed"});
    let entry = f.call(&f.a.tech, "POST", "/api/v1/time-entries", Some(body)).await.expect(201);
    assert_eq!(entry.data()["duration_minutes"], 45);
    assert_eq!(entry.data()["started_at"], "2026-11-24T08:00:00.000000Z", "stored in UTC");
    assert_eq!(entry.data()["user_id"], f.a.tech.user_id().unwrap(), "the caller by default");
    assert_eq!(entry.data()["billable"], true);
    let id = entry.id();

    let base = json!({"work_item_type": "ticket", "work_item_id": ticket, "started_at": "2026-11-24T09:00:00Z", "duration_minutes": 30});
    let with = |key: &str, value: serde_json::Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let mut no_end = base.clone();
    no_end.as_object_mut().unwrap().remove("duration_minutes");
    for (body, field) in [
        (no_end, "ended_at"),
        (with("duration_minutes", json!(1441)), "duration_minutes"),
        (with("ended_at", json!("2026-11-24T09:30:01Z")), "duration_minutes"),
        (with("work_item_id", json!("nope")), "work_item_id"),
        (with("work_item_type", json!("invoice")), "work_item_type"),
        (with("user_id", json!(f.b.admin.user_id().unwrap())), "user_id"),
    ] {
        let answer = f.call(&f.a.tech, "POST", "/api/v1/time-entries", Some(body)).await.expect(400);
        assert!(answer.body["error"]["message"].as_str().unwrap().contains(field), "{field}: {}", answer.body);
    }
    // A ticket of another tenant is not a work item here.
    let foreign = f.setup(&f.b.admin).await;
    let foreign_ticket = f.ticket(&f.b.admin, &foreign, "B").await;
    f.call(&f.a.tech, "POST", "/api/v1/time-entries", Some(with("work_item_id", json!(foreign_ticket))))
        .await
        .expect(400);

    let moved = f
        .call(
            &f.a.tech,
            "PUT",
            &format!("/api/v1/time-entries/{id}"),
            Some(json!({"started_at": "2026-11-24T10:00:00Z"})),
        )
        .await
        .expect(200);
    assert_eq!(moved.data()["ended_at"], "2026-11-24T10:45:00.000000Z", "the duration is kept");
    let listed = f
        .call(
            &f.a.readonly,
            "GET",
            &format!("/api/v1/time-entries?work_item_type=ticket&work_item_id={ticket}&from=2026-11-24T00:00:00Z"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(listed.body["pagination"]["total"], 1);
    f.call(&f.a.readonly, "GET", "/api/v1/time-entries?from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z", None)
        .await
        .expect(400);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/tickets/{ticket}"), None).await.expect(409);
    f.call(&f.b.admin, "GET", &format!("/api/v1/time-entries/{id}"), None).await.expect(404);
    f.call(&f.a.readonly, "POST", "/api/v1/time-entries", Some(base)).await.expect(403);
    f.call(&f.a.tech, "DELETE", &format!("/api/v1/time-entries/{id}"), None).await.expect(403);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/time-entries/{id}"), None).await.expect(204);
}
