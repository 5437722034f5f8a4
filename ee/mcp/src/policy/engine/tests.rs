use std::collections::BTreeMap;

use cedar_policy::Request;
use chrono::{TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::*;
use crate::policy::facts::{Fact, PrincipalKind, RecordFacts, RecordKind};

fn agent() -> PrincipalFacts {
    PrincipalFacts {
        kind: PrincipalKind::Agent,
        id: "agent-1".into(),
        name: "Dispatcher".into(),
        roles: vec!["technician".into()],
        teams: vec!["team-a".into()],
        attributes: BTreeMap::from([("region".to_owned(), "emea".to_owned())]),
    }
}

fn user() -> PrincipalFacts {
    PrincipalFacts { kind: PrincipalKind::User, id: "user-1".into(), attributes: BTreeMap::new(), ..agent() }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn call(operation_id: &str, path: Value, body: Option<Value>, record: Option<RecordFacts>) -> CallFacts {
    let body_ref = body.clone();
    let body_ref = body_ref.as_ref();
    CallFacts {
        operation_id: operation_id.into(),
        path: object(path),
        query: Map::new(),
        body,
        now: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single().unwrap_or_default(),
        client_name: Some("claude".into()),
        record,
        derived: closes(operation_id, body_ref),
    }
}

/// As the call path derives it, with statuses whose id starts with `closed` closed.
fn closes(operation_id: &str, body: Option<&Value>) -> BTreeMap<String, Fact> {
    let mut derived = BTreeMap::new();
    if crate::policy::facts::derived(operation_id).is_empty() {
        return derived;
    }
    let status = body.and_then(|b| b.get("status_id")).and_then(Value::as_str);
    derived.insert("closes".to_owned(), Fact::Bool(status.is_some_and(|s| s.starts_with("closed"))));
    derived
}

fn client(tags: &[&str]) -> RecordFacts {
    RecordFacts {
        kind: RecordKind::Client,
        id: "client-1".into(),
        attributes: BTreeMap::from([
            ("name".to_owned(), Fact::String("Acme".into())),
            ("is_inactive".to_owned(), Fact::Bool(false)),
            ("tags".to_owned(), Fact::Names(tags.iter().map(|t| (*t).to_owned()).collect())),
        ]),
    }
}

fn ticket(client_tags: &[&str], team: Option<&str>) -> RecordFacts {
    let s = |v: &str| Fact::String(v.to_owned());
    RecordFacts {
        kind: RecordKind::Ticket,
        id: "ticket-1".into(),
        attributes: BTreeMap::from([
            ("number".to_owned(), s("T-1")),
            ("title".to_owned(), s("Printer")),
            ("status".to_owned(), s("New")),
            ("is_closed".to_owned(), Fact::Bool(false)),
            ("priority".to_owned(), s("High")),
            ("board".to_owned(), s("Service")),
            ("client".to_owned(), Fact::Client(Box::new(client(client_tags)))),
            ("team_id".to_owned(), team.map_or(Fact::Absent, s)),
            ("category_id".to_owned(), Fact::Absent),
            ("assigned_to".to_owned(), Fact::Absent),
            ("source".to_owned(), s("api")),
            ("tags".to_owned(), Fact::Names(Vec::new())),
            ("created_by_agent".to_owned(), Fact::Absent),
        ]),
    }
}

fn update_ticket(body: Value, record: Option<RecordFacts>) -> CallFacts {
    call("tickets.update", json!({"id": "ticket-1"}), Some(body), record)
}

fn compiled(source: &str) -> Compiled {
    match compile(source) {
        Ok(c) => c,
        Err(d) => panic!("{source}\ndoes not compile: {d:?}"),
    }
}

fn source_of(id: &str) -> &'static str {
    templates().into_iter().find(|t| t.id == id).map(|t| t.source).unwrap_or_default()
}

#[test]
fn the_schema_covers_every_operation_and_reads_back() {
    let model = model::model().unwrap();
    assert_eq!(model.operations.len(), alga_api::catalog().operations().len());
    let text = schema_text().unwrap();
    assert!(text.contains(r#"action "tickets.update" in ["tickets", "write"]"#), "{text}");
    assert!(text.contains(r#"action "tickets.delete" in ["tickets", "write", "delete"]"#), "{text}");
    assert!(Schema::from_cedarschema_str(&text).is_ok());
}

#[test]
fn every_template_compiles_against_the_schema() {
    let all = templates();
    assert_eq!(all.len(), 4);
    for template in &all {
        let set = compiled(template.source);
        assert_eq!(set.ids(), vec![template.id.to_owned()]);
    }
    let together: String = all.iter().map(|t| t.source).collect::<Vec<_>>().join("\n");
    assert_eq!(compiled(&together).len(), 4);
}

#[test]
fn an_empty_set_allows() {
    let set = compiled("  // nothing yet\n");
    assert!(set.is_empty());
    let eval = set.decide(&agent(), &call("tickets.delete", json!({"id": "t"}), None, Some(ticket(&[], None))));
    assert!(eval.allowed);
    assert!(eval.policy_ids.is_empty());
}

#[test]
fn a_plain_permit_is_refused_as_it_cannot_widen_roles() {
    let errors =
        compile("forbid (principal, action, resource) when { false };\n\npermit (principal, action, resource);")
            .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].line, errors[0].column), (3, 1));
    assert!(errors[0].message.contains("write `forbid`; roles grant"), "{errors:?}");
    assert_eq!(errors[0].policy_id.as_deref(), Some("policy1"));

    let errors = compile("@approval(\"required\")\npermit (principal, action, resource);").unwrap_err();
    assert!(errors[0].message.contains("not supported yet"), "{errors:?}");
}

#[test]
fn policies_with_slots_are_refused() {
    let errors = compile("forbid (principal == ?principal, action, resource);").unwrap_err();
    assert!(errors[0].message.contains("slots"), "{errors:?}");
}

#[test]
fn duplicate_ids_are_refused() {
    let errors =
        compile("@id(\"x\") forbid (principal, action, resource);\n@id(\"x\") forbid (principal, action, resource);")
            .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 2);
}

#[test]
fn a_forbid_beats_everything_and_reports_its_id_and_reason() {
    let set = compiled(
        "@id(\"no-deletes\")\n@reason(\"Agents never delete.\")\nforbid (principal, action in Alga::Action::\"delete\", resource);\n\
         forbid (principal is Alga::User, action, resource);",
    );
    let eval = set.decide(&agent(), &call("tickets.delete", json!({"id": "t"}), None, Some(ticket(&[], None))));
    assert!(!eval.allowed);
    assert_eq!(eval.policy_ids, vec!["no-deletes".to_owned()]);
    assert_eq!(eval.reasons, vec!["Agents never delete.".to_owned()]);
    assert!(eval.errors.is_empty());

    // Only forbids: what none matches is allowed.
    let eval = set.decide(&agent(), &call("tickets.list", json!({}), None, None));
    assert!(eval.allowed, "{eval:?}");
    // The positional id when there is no `@id`.
    let eval = set.decide(&user(), &call("tickets.list", json!({}), None, None));
    assert_eq!(eval.policy_ids, vec!["policy1".to_owned()]);
    assert!(eval.reasons.is_empty());
}

#[test]
fn argument_conditions_decide_as_written() {
    let set = compiled(source_of("time-entry-at-most-8-hours"));
    let create = |body: Value| call("time_entries.create", json!({}), Some(body), None);
    let base = json!({"work_item_type": "ticket", "work_item_id": "t", "started_at": "2026-12-01T08:00:00Z"});
    let with = |extra: Value| {
        let mut body = base.clone();
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        body
    };
    assert!(!set.decide(&agent(), &create(with(json!({"duration_minutes": 481})))).allowed);
    assert!(set.decide(&agent(), &create(with(json!({"duration_minutes": 480})))).allowed);
    assert!(!set.decide(&agent(), &create(with(json!({"ended_at": "2026-12-01T16:30:00+00:00"})))).allowed);
    assert!(set.decide(&agent(), &create(with(json!({"ended_at": "2026-12-01T16:00:00Z"})))).allowed);
    // Users are not concerned.
    assert!(set.decide(&user(), &create(with(json!({"duration_minutes": 600})))).allowed);

    let set = compiled(
        "forbid (principal, action == Alga::Action::\"tickets.update\", resource)\nwhen { context.body has status_id && context.body.status_id == \"closed-1\" };",
    );
    assert!(!set.decide(&agent(), &update_ticket(json!({"status_id": "closed-1"}), Some(ticket(&[], None)))).allowed);
    assert!(set.decide(&agent(), &update_ticket(json!({"status_id": "open-1"}), Some(ticket(&[], None)))).allowed);
    assert!(set.decide(&agent(), &update_ticket(json!({"title": "x"}), Some(ticket(&[], None)))).allowed);
    // JSON null is absence.
    assert!(set.decide(&agent(), &update_ticket(json!({"status_id": null}), Some(ticket(&[], None)))).allowed);
}

#[test]
fn record_attributes_decide_as_written() {
    let vip = compiled(source_of("no-closing-vip-tickets"));
    let change = json!({"status_id": "closed-1"});
    let eval = vip.decide(&agent(), &update_ticket(change.clone(), Some(ticket(&["vip"], None))));
    assert!(!eval.allowed);
    assert_eq!(eval.policy_ids, vec!["no-closing-vip-tickets".to_owned()]);
    assert!(vip.decide(&agent(), &update_ticket(change, Some(ticket(&["smb"], None)))).allowed);
    assert!(vip.decide(&agent(), &update_ticket(json!({"title": "t"}), Some(ticket(&["vip"], None)))).allowed);
    // Another status change of a VIP ticket is not closing it.
    assert!(vip.decide(&agent(), &update_ticket(json!({"status_id": "open-2"}), Some(ticket(&["vip"], None)))).allowed);

    let teams = compiled(source_of("tickets-of-own-teams"));
    let get = |record| call("tickets.get", json!({"id": "ticket-1"}), None, Some(record));
    assert!(teams.decide(&agent(), &get(ticket(&[], Some("team-a")))).allowed);
    assert!(!teams.decide(&agent(), &get(ticket(&[], Some("team-b")))).allowed);
    assert!(!teams.decide(&agent(), &get(ticket(&[], None))).allowed);
    assert!(teams.decide(&agent(), &call("tickets.list", json!({}), None, None)).allowed);
}

#[test]
fn principal_tags_are_readable() {
    let set = compiled(
        "forbid (principal is Alga::Agent, action, resource) when { principal.hasTag(\"region\") && principal.getTag(\"region\") == \"emea\" };",
    );
    assert!(!set.decide(&agent(), &call("tickets.list", json!({}), None, None)).allowed);
    let other = PrincipalFacts { attributes: BTreeMap::new(), ..agent() };
    assert!(set.decide(&other, &call("tickets.list", json!({}), None, None)).allowed);
}

#[test]
fn a_forbid_that_errors_denies() {
    let vip = compiled(source_of("no-closing-vip-tickets"));
    // No record (a replay of a deleted ticket): the forbid cannot read the client.
    let eval = vip.decide(&agent(), &update_ticket(json!({"status_id": "closed-1"}), None));
    assert!(!eval.allowed);
    assert_eq!(eval.policy_ids, vec!["no-closing-vip-tickets".to_owned()]);
    assert_eq!(eval.errors.len(), 1, "{eval:?}");
    assert!(eval.errors[0].starts_with("no-closing-vip-tickets: "), "{eval:?}");
    // A forbid that does not read the record still decides without it.
    let eval = vip.decide(&agent(), &update_ticket(json!({"title": "t"}), None));
    assert!(eval.allowed, "{eval:?}");
}

#[test]
fn visibility_follows_scope_and_conditions() {
    let set = compiled(&format!(
        "{}\n{}",
        source_of("no-agent-deletes"),
        "forbid (principal is Alga::User, action in Alga::Action::\"tickets\", resource) when { context has client_name };"
    ));
    assert_eq!(set.visibility(&agent(), "tickets.delete"), Visibility::Hidden);
    assert_eq!(set.visibility(&agent(), "tags.delete"), Visibility::Hidden);
    assert_eq!(set.visibility(&agent(), "tickets.update"), Visibility::Open);
    assert_eq!(set.visibility(&user(), "tickets.delete"), Visibility::Conditional);
    assert_eq!(set.visibility(&user(), "tickets.update"), Visibility::Conditional);
    assert_eq!(set.visibility(&user(), "tags.delete"), Visibility::Open);

    // A scope on the resource type: only operations on that type.
    let teams = compiled(source_of("tickets-of-own-teams"));
    assert_eq!(teams.visibility(&agent(), "tickets.get"), Visibility::Conditional);
    assert_eq!(teams.visibility(&agent(), "tickets.list"), Visibility::Open);
    let all_tickets = compiled("forbid (principal, action, resource is Alga::Ticket);");
    assert_eq!(all_tickets.visibility(&user(), "tickets.get"), Visibility::Hidden);
    assert_eq!(all_tickets.visibility(&user(), "tickets.create"), Visibility::Open);
}

#[test]
fn diagnostics_point_at_line_and_column() {
    let syntax = "@id(\"a\")\nforbid (principal, action, resource)\nwhen { context.body has && };\n";
    let errors = compile(syntax).unwrap_err();
    assert!(!errors.is_empty());
    assert_eq!(errors[0].line, 3, "{errors:?}");
    assert!(errors[0].column > 1, "{errors:?}");

    let typed = "@id(\"typed\")\nforbid (\n  principal,\n  action == Alga::Action::\"tickets.update\",\n  resource) when { resource.nonsense == 1 };\n";
    let errors = compile(typed).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].line, errors[0].column), (5, 20), "{errors:?}");
    assert_eq!(errors[0].policy_id.as_deref(), Some("typed"));
    assert!(errors[0].message.contains("nonsense"), "{errors:?}");
    assert!(errors[0].message.contains("`typed`") && !errors[0].message.contains("policy0"), "{errors:?}");

    // Several problems at once.
    let two = "forbid (principal, action, resource is Alga::Ticket) when { resource.a };\npermit (principal, action, resource);";
    let errors = compile(two).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0].line, errors[1].line), (1, 2));
}

#[test]
fn requests_conform_to_the_schema() {
    let model = model::model().unwrap();
    let calls = [
        update_ticket(json!({"status_id": "s", "tags": ["a"], "team_id": null}), Some(ticket(&["vip"], Some("t")))),
        call(
            "time_entries.create",
            json!({}),
            Some(
                json!({"work_item_type": "ticket", "work_item_id": "t", "started_at": "2026-12-01T08:00:00Z", "duration_minutes": 5}),
            ),
            None,
        ),
        call("tickets.list", json!({}), None, None),
    ];
    for call in calls {
        let op = &model.operations[&call.operation_id];
        let built = request::build(op, &agent(), &call).unwrap();
        let context = built.request.context().cloned().unwrap();
        let principal = built.request.principal().cloned().unwrap();
        let resource = built.request.resource().cloned().unwrap();
        let checked = Request::new(principal, op.action.clone(), resource, context, Some(model.schema()));
        assert!(checked.is_ok(), "{}: {checked:?}", call.operation_id);
        assert!(
            cedar_policy::Entities::from_entities(built.entities.iter().cloned(), Some(model.schema())).is_ok(),
            "{}",
            call.operation_id
        );
    }
}
