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
        derived: derive(operation_id, body_ref, record.as_ref()),
        record,
    }
}

/// As the call path derives it, with statuses whose id starts with `closed` closed, the client
/// the record's (a body's `client_id` is the client `client-<tags>`), and time entries created.
fn derive(operation_id: &str, body: Option<&Value>, record: Option<&RecordFacts>) -> BTreeMap<String, Fact> {
    let mut derived = BTreeMap::new();
    let field = |name: &str| body.and_then(|b| b.get(name));
    for (name, _) in crate::policy::facts::derived(operation_id) {
        let fact = match *name {
            "closes" => {
                let status = field("status_id").and_then(Value::as_str);
                Some(Fact::Bool(status.is_some_and(|s| s.starts_with("closed"))))
            }
            "client_tags" => match (field("client_id").and_then(Value::as_str), record) {
                (Some(client_id), _) => Some(Fact::Names(
                    client_id
                        .strip_prefix("client-")
                        .into_iter()
                        .flat_map(|t| t.split(','))
                        .map(str::to_owned)
                        .collect(),
                )),
                (None, Some(record)) => match record.attributes.get("client") {
                    Some(Fact::Client(client)) => client.attributes.get("tags").cloned(),
                    _ => None,
                },
                (None, None) => None,
            },
            "minutes" => {
                let at = |name: &str| field(name).and_then(Value::as_str).and_then(alga_api::model::parse_datetime);
                let minutes = field("duration_minutes").and_then(Value::as_i64);
                alga_api::resources::time_entries::resulting_minutes(None, at("started_at"), at("ended_at"), minutes)
                    .map(Fact::Long)
            }
            _ => None,
        };
        if let Some(fact) = fact {
            derived.insert((*name).to_owned(), fact);
        }
    }
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
    assert_eq!(all.len(), 5);
    for template in &all {
        let set = compiled(template.source);
        assert_eq!(set.ids().first(), Some(&template.id.to_owned()), "a template's first policy has its id");
    }
    let together: String = all.iter().map(|t| t.source).collect::<Vec<_>>().join("\n");
    assert_eq!(compiled(&together).len(), 8);
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
    assert!(errors[0].message.contains("write `forbid`, or `@approval"), "{errors:?}");
    assert_eq!(errors[0].policy_id.as_deref(), Some("policy1"));
    // A permit asking for approval is one: it grants nothing (see the approval tests).
    assert!(
        compile("@approval(\"required\")\npermit (principal, action in Alga::Action::\"write\", resource);").is_ok()
    );
    // Not on reads: an approval is consumed with the write it lets run.
    let errors = compile("@approval(\"required\")\npermit (principal, action, resource);").unwrap_err();
    assert!(errors[0].message.contains("applies to operations that change something"), "{errors:?}");
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
fn tags_in_the_arguments_are_seen_by_their_key_as_the_operation_matches_them() {
    let set = compiled(
        "forbid (principal, action == Alga::Action::\"tickets.update\", resource)\nwhen { context.body has tags && context.body.tags.contains(\"vip\") };",
    );
    for tags in [json!(["vip"]), json!(["VIP"]), json!([" Vip "]), json!(["other", "vIP", "VIP"])] {
        let eval = set.decide(&agent(), &update_ticket(json!({ "tags": tags }), Some(ticket(&[], None))));
        assert!(!eval.allowed, "{tags}: {eval:?}");
    }
    assert!(set.decide(&agent(), &update_ticket(json!({"tags": ["vipx"]}), Some(ticket(&[], None)))).allowed);
}

#[test]
fn evaluation_errors_do_not_quote_the_values_they_failed_on() {
    let set = compiled(
        "forbid (principal, action == Alga::Action::\"time_entries.create\", resource)\nwhen { context.body has duration_minutes && context.body.duration_minutes * 9223372036854775807 > 0 };",
    );
    let body = json!({"work_item_type": "ticket", "work_item_id": "t", "started_at": "2026-12-01T08:00:00Z", "duration_minutes": 4817});
    let eval = set.decide(&agent(), &call("time_entries.create", json!({}), Some(body), None));
    assert!(!eval.allowed, "an error denies");
    assert_eq!(eval.errors.len(), 1, "{eval:?}");
    assert!(eval.errors[0].contains("integer overflow") && !eval.errors[0].contains("4817"), "{eval:?}");
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
        let built = request::build(op, &request::input(op, &agent(), &call).unwrap()).unwrap();
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

#[test]
fn policy_a_value_present_but_not_of_its_declared_type_denies_naming_the_field() {
    let set = compiled(
        "@id(\"late\")\nforbid (principal, action == Alga::Action::\"time_entries.update\", resource)\n\
         when { context.body has ended_at && context.body.ended_at > datetime(\"2026-12-01T17:00:00Z\") };",
    );
    let update = |body: Value| call("time_entries.update", json!({"id": "e"}), Some(body), None);
    // Written as the operation also reads it (no 'T', an offset): typed, so the forbid sees it.
    assert!(!set.decide(&agent(), &update(json!({"ended_at": "2026-12-01 18:00:00Z"}))).allowed);
    assert!(!set.decide(&agent(), &update(json!({"ended_at": "2026-12-01T19:30:00+01:00"}))).allowed);
    assert!(set.decide(&agent(), &update(json!({"ended_at": "2026-12-01 16:00:00Z"}))).allowed);
    assert!(set.decide(&agent(), &update(json!({"billable": true}))).allowed);
    for (body, field) in [
        (json!({"ended_at": "late"}), "`body.ended_at`"),
        (json!({"ended_at": 5}), "`body.ended_at`"),
        (json!({"duration_minutes": 18_446_744_073_709_551_615_u64}), "`body.duration_minutes`"),
        (json!({"duration_minutes": 1.5}), "`body.duration_minutes`"),
        (json!({"billable": "yes"}), "`body.billable`"),
    ] {
        let eval = set.decide(&agent(), &update(body.clone()));
        assert!(!eval.allowed, "{body}");
        assert_eq!(eval.policy_ids, vec!["late".to_owned()]);
        assert!(eval.errors.iter().any(|e| e.contains(field)), "{body}: {eval:?}");
    }
    // In a set, and in the path or query.
    let tickets = compiled("forbid (principal, action == Alga::Action::\"tickets.update\", resource) when { false };");
    let eval = tickets.decide(&agent(), &update_ticket(json!({"tags": ["a", 1]}), Some(ticket(&[], None))));
    assert!(eval.errors.iter().any(|e| e.contains("`body.tags[1]`")), "{eval:?}");
    let list = compiled("forbid (principal, action == Alga::Action::\"tickets.list\", resource) when { false };");
    let mut listing = call("tickets.list", json!({}), None, None);
    listing.query.insert("limit".into(), json!("ten"));
    let eval = list.decide(&agent(), &listing);
    assert!(!eval.allowed && eval.errors.iter().any(|e| e.contains("`query.limit`")), "{eval:?}");
}

#[test]
fn policy_the_eight_hour_template_reads_the_resulting_minutes() {
    let set = compiled(source_of("time-entry-at-most-8-hours"));
    let with = |derived: Option<i64>| {
        let mut call =
            call("time_entries.update", json!({"id": "e"}), Some(json!({"ended_at": "2026-12-01T18:00:00Z"})), None);
        call.derived = derived.map(|m| BTreeMap::from([("minutes".to_owned(), Fact::Long(m))])).unwrap_or_default();
        call
    };
    // Only the end is given: the decision is on the length the entry ends up with.
    assert!(!set.decide(&agent(), &with(Some(540))).allowed);
    assert!(set.decide(&agent(), &with(Some(480))).allowed);
    // Not derivable (a call the operation refuses): the forbid cannot tell, and denies.
    let eval = set.decide(&agent(), &with(None));
    assert!(!eval.allowed && !eval.errors.is_empty(), "{eval:?}");
}

#[test]
fn policy_the_vip_template_refuses_each_way_around_it() {
    let vip = compiled(source_of("no-closing-vip-tickets"));
    let denied_by = |call: &CallFacts| vip.decide(&agent(), call).policy_ids;
    let one = |id: &str| vec![id.to_owned()];
    // Closing the VIP client's ticket; moving it away first; moving one onto it closed.
    assert_eq!(
        denied_by(&update_ticket(json!({"status_id": "closed-1"}), Some(ticket(&["vip"], None)))),
        one("no-closing-vip-tickets")
    );
    assert_eq!(
        denied_by(&update_ticket(json!({"client_id": "client-smb"}), Some(ticket(&["vip"], None)))),
        one("no-moving-vip-tickets")
    );
    assert_eq!(
        denied_by(&update_ticket(json!({"client_id": "client-vip", "status_id": "closed-1"}), Some(ticket(&[], None)))),
        one("no-closing-vip-tickets")
    );
    let create = call(
        "tickets.create",
        json!({}),
        Some(json!({"client_id": "client-vip", "status_id": "closed-1", "title": "t", "board_id": "b"})),
        None,
    );
    assert_eq!(denied_by(&create), one("no-closing-vip-tickets"));
    // Retagging the VIP client; renaming or deleting tags; editing statuses.
    let retag = call("clients.update", json!({"id": "client-1"}), Some(json!({"tags": []})), Some(client(&["vip"])));
    assert_eq!(denied_by(&retag), one("no-untagging-vip-clients"));
    for op in ["tags.update", "tags.delete", "statuses.update", "statuses.delete"] {
        let body = op.ends_with("update").then(|| json!({"name": "x"}));
        assert_eq!(denied_by(&call(op, json!({"id": "x"}), body, None)), one("no-agent-tag-or-status-edits"), "{op}");
    }
    // What stays allowed.
    assert!(denied_by(&update_ticket(json!({"status_id": "closed-1"}), Some(ticket(&["smb"], None)))).is_empty());
    assert!(denied_by(&update_ticket(json!({"client_id": "client-smb"}), Some(ticket(&["smb"], None)))).is_empty());
    assert!(
        denied_by(&call("clients.update", json!({"id": "c"}), Some(json!({"tags": ["vip"]})), Some(client(&[]))))
            .is_empty()
    );
    assert!(
        denied_by(&call("clients.update", json!({"id": "c"}), Some(json!({"name": "n"})), Some(client(&["vip"]))))
            .is_empty()
    );
    assert!(vip.decide(&user(), &retag).allowed, "people are not concerned");
}

#[test]
fn policy_fields_given_as_null_are_the_cleared_set() {
    let set = compiled(
        "forbid (principal, action == Alga::Action::\"tickets.update\", resource) when { context.cleared.contains(\"assigned_to\") };",
    );
    let update = |body| update_ticket(body, Some(ticket(&[], None)));
    assert!(!set.decide(&agent(), &update(json!({"assigned_to": null}))).allowed);
    assert!(!set.decide(&agent(), &update(json!({"assigned_to": null, "title": "t"}))).allowed);
    assert!(set.decide(&agent(), &update(json!({"assigned_to": "user-2"}))).allowed);
    assert!(set.decide(&agent(), &update(json!({"team_id": null}))).allowed);
    assert!(set.decide(&agent(), &update(json!({}))).allowed);
}

fn tiny_policies(count: usize) -> String {
    "forbid(principal, action, resource) when { false };\n".repeat(count)
}

#[test]
fn a_set_at_the_policy_limit_compiles_and_one_more_is_refused() {
    let started = std::time::Instant::now();
    let at_limit = compile(&tiny_policies(MAX_POLICIES)).unwrap();
    let took = started.elapsed();
    assert_eq!(at_limit.len(), MAX_POLICIES);
    // Every policy may apply to every operation and both principal kinds: one shared set.
    assert_eq!(at_limit.held(), 2 * MAX_POLICIES);
    // Generous (debug builds on a shared machine): the point is seconds, not minutes.
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");

    let over = compile(&tiny_policies(MAX_POLICIES + 1)).err().unwrap();
    assert_eq!(over.len(), 1);
    assert!(over[0].message.contains(&format!("at most {MAX_POLICIES} policies")), "{}", over[0].message);
    assert_eq!(policy_count(&tiny_policies(MAX_POLICIES + 1)), MAX_POLICIES + 1);
    // What admins see is checked the same way, without the per-operation sets.
    assert_eq!(summarize(&tiny_policies(MAX_POLICIES + 1)).err(), Some(over));
    assert_eq!(summarize(&tiny_policies(MAX_POLICIES)).unwrap(), at_limit.summaries());
    for t in templates() {
        assert_eq!(summarize(t.source).unwrap(), compile(t.source).unwrap().summaries(), "{}", t.id);
    }
}

/// A set at the limit crafted so that operations get different lists, the worst case the cache
/// weighs, holds what the weigher counts and never more than every policy for every operation.
/// Measured once (debug build, 2026-12): 2 s and 60 MB (VmRSS) to compile, held 51,606, about
/// 1.2 KB per held policy.
#[test]
fn a_crafted_set_at_the_limit_stays_within_the_weighed_bound() {
    // Seven policies whose actions spell each operation's index in binary, so operations get
    // different lists, and the rest broad.
    let model = model::model().unwrap();
    let actions: Vec<String> = model.operations.values().map(|op| op.action.to_string()).collect();
    let bits: String = (0..7)
        .map(|bit| {
            let named: Vec<&str> =
                actions.iter().enumerate().filter(|(n, _)| n >> bit & 1 == 1).map(|(_, a)| a.as_str()).collect();
            format!("forbid(principal, action in [{}], resource) when {{ false }};\n", named.join(", "))
        })
        .collect();
    let source = bits + &tiny_policies(MAX_POLICIES - 7);
    assert!(source.len() < 100_000);
    let worst = compile(&source).unwrap();
    assert!(worst.held() > 50_000, "{}", worst.held());
    // Never more than every policy for every operation and both kinds.
    assert!(worst.held() <= MAX_POLICIES * (2 * actions.len() + 1), "{}", worst.held());
}

/// A deterministic stream of choices (SplitMix64), so the generated cases are the same on
/// every run.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A Cedar expression over a ticket update, well typed or not: what the screen models and
/// what it does not, nested `depth` deep.
fn generated_expr(c: &mut Choices, depth: usize) -> String {
    const PATHS: &[&str] = &[
        "principal.name",
        "principal.roles",
        "principal.teams",
        "principal.missing",
        "resource.status",
        "resource.priority",
        "resource.tags",
        "resource.team_id",
        "resource.is_closed",
        "resource.number",
        "resource.client",
        "resource.client.tags",
        "resource.client.name",
        "resource.client.is_inactive",
        "context.body",
        "context.body.title",
        "context.body.status_id",
        "context.body.tags",
        "context.path.id",
        "context.closes",
        "context.client_tags",
        "context.cleared",
        "context.now",
        "context.minutes",
        "context.client_name",
    ];
    const LITERALS: &[&str] = &[
        "\"vip\"",
        "\"New\"",
        "\"High\"",
        "\"team-a\"",
        "\"Printer\"",
        "\"closed-1\"",
        "\"\"",
        "0",
        "1",
        "480",
        "-1",
        "true",
        "false",
        "[\"vip\", \"team-a\"]",
        "[]",
        "[1, \"vip\"]",
        "[\"title\"]",
    ];
    const UNMODELLED: &[&str] = &[
        "resource.title like \"*Print*\"",
        "resource is Alga::Ticket",
        "principal in Alga::Agent::\"agent-1\"",
        "resource.client == Alga::Client::\"client-1\"",
        "principal.hasTag(\"region\")",
        "principal.getTag(\"region\") == \"emea\"",
        "context.now > datetime(\"2026-01-01\")",
        "resource.number + 1 == 2",
        "action == Alga::Action::\"tickets.update\"",
        "resource has client.tags",
        "context has body.title",
    ];
    const TYPED: &[&str] = &[
        "resource.status == \"New\"",
        "resource.priority != \"High\"",
        "resource.client.tags.contains(\"vip\")",
        "resource.tags.containsAny([\"vip\", \"team-a\"])",
        "principal.teams.contains(\"team-a\")",
        "principal.roles.containsAll([\"technician\"])",
        "context.body has title && context.body.title == \"Printer\"",
        "context.body has tags && context.body.tags.contains(\"vip\")",
        "context.closes",
        "context.client_tags.contains(\"vip\")",
        "context.cleared.isEmpty()",
        "resource has team_id && resource.team_id == \"team-a\"",
        "resource.is_closed",
        "resource.client.is_inactive == false",
    ];
    let operand = |c: &mut Choices| {
        if c.chance(60) { c.pick(PATHS).to_owned() } else { c.pick(LITERALS).to_owned() }
    };
    if depth == 0 || c.chance(25) {
        return match c.below(14) {
            0 => c.pick(UNMODELLED).to_owned(),
            10..=13 => c.pick(TYPED).to_owned(),
            1 => format!(
                "{} has {}",
                c.pick(&["principal", "resource", "resource.client", "context", "context.body"]),
                c.pick(&["title", "tags", "team_id", "status_id", "name", "missing"])
            ),
            2..=5 => {
                let op = c.pick(&["==", "!=", "<", "<=", ">", ">="]);
                format!("{} {op} {}", operand(c), operand(c))
            }
            6..=8 => {
                let method = c.pick(&["contains", "containsAll", "containsAny"]);
                format!("{}.{method}({})", operand(c), operand(c))
            }
            _ => format!("{}.isEmpty()", operand(c)),
        };
    }
    match c.below(5) {
        0 => format!("({} && {})", generated_expr(c, depth - 1), generated_expr(c, depth - 1)),
        1 => format!("({} || {})", generated_expr(c, depth - 1), generated_expr(c, depth - 1)),
        2 => format!("!({})", generated_expr(c, depth - 1)),
        3 => format!(
            "(if {} then {} else {})",
            generated_expr(c, depth - 1),
            generated_expr(c, depth - 1),
            generated_expr(c, depth - 1)
        ),
        _ => operand(c),
    }
}

/// A ticket update by the agent on a generated ticket and body: attributes absent, optional
/// ones unset, one sometimes of the wrong type (left out), or no record at all.
fn generated_call(c: &mut Choices) -> (PrincipalFacts, CallFacts) {
    let tags: Vec<&str> = ["vip", "smb", "team-a"].into_iter().filter(|_| c.chance(40)).collect();
    let mut record = ticket(&tags, if c.chance(50) { Some("team-a") } else { None });
    if c.chance(20) {
        let name = c.pick(&["status", "priority", "tags", "client", "is_closed"]);
        record.attributes.insert(name.to_owned(), Fact::Long(7));
    }
    let mut body = Map::new();
    for (name, value) in [
        ("title", json!("Printer")),
        ("status_id", json!("closed-1")),
        ("tags", json!(["VIP", "a"])),
        ("priority_id", Value::Null),
    ] {
        if c.chance(40) {
            body.insert(name.to_owned(), value);
        }
    }
    let record = if c.chance(10) { None } else { Some(record) };
    let mut principal = agent();
    if c.chance(50) {
        principal.teams = vec!["team-b".into()];
    }
    (principal, update_ticket(Value::Object(body), record))
}

/// Soundness of the screen, the one property that matters: whenever it rules a policy out,
/// Cedar neither matches nor errors on it. Policies are parsed without validation, so type
/// errors Cedar meets at run time are generated too.
#[test]
fn the_screen_never_rules_out_a_policy_cedar_matches_or_fails_on() {
    let model = model::model().unwrap();
    let op = &model.operations["tickets.update"];
    let mut c = Choices(0x5eed);
    let (mut ruled_out, mut decided_by_cedar, mut matched_or_failed) = (0, 0, 0);
    for case in 0..4000 {
        let clauses: Vec<String> = (0..1 + c.below(3))
            .map(|_| format!("{} {{ {} }}", c.pick(&["when", "unless"]), generated_expr(&mut c, 3)))
            .collect();
        let source = format!("forbid (principal, action, resource) {};", clauses.join(" "));
        let Ok(policy) = Policy::from_str(&source) else { panic!("case {case}: {source} does not parse") };
        let screen = screen::Screen::of(&policy);
        for _ in 0..4 {
            let (principal, call) = generated_call(&mut c);
            let input = request::input(op, &principal, &call).unwrap();
            let built = request::build(op, &input).unwrap();
            let set = PolicySet::from_policies([policy.clone()]).unwrap();
            let response = Authorizer::new().is_authorized(&built.request, &set, &built.entities);
            let matched = response.diagnostics().reason().next().is_some();
            let failed = response.diagnostics().errors().next().is_some();
            matched_or_failed += usize::from(matched || failed);
            if screen.rules_out(&input) {
                ruled_out += 1;
                assert!(
                    !matched && !failed,
                    "case {case}: ruled out, but Cedar says {response:?}\n{source}\n{input:?}"
                );
            } else {
                decided_by_cedar += 1;
            }
        }
    }
    // Not vacuous: both outcomes are common.
    assert!(
        ruled_out > 1000 && decided_by_cedar > 1000 && matched_or_failed > 1000,
        "{ruled_out} {decided_by_cedar} {matched_or_failed}"
    );
}

/// The whole engine, screened and not, decides the same on validated sets of generated
/// policies: the same allowed, ids, reasons and errors.
#[test]
fn screened_decisions_equal_cedar_alone_on_generated_sets() {
    let mut c = Choices(0xa19a);
    let mut compiled_sets = 0;
    for _ in 0..2000 {
        let policies: Vec<String> = (0..1 + c.below(2))
            .map(|i| {
                format!(
                    "@id(\"g{i}\")\n@reason(\"r{i}\")\nforbid (principal, action == Alga::Action::\"tickets.update\", resource) when {{ {} }};",
                    generated_expr(&mut c, 1)
                )
            })
            .collect();
        let Ok(set) = compile(&policies.join("\n")) else { continue };
        compiled_sets += 1;
        for _ in 0..4 {
            let (principal, call) = generated_call(&mut c);
            assert_eq!(
                set.evaluate(&principal, &call, true),
                set.evaluate(&principal, &call, false),
                "{policies:?}\n{call:?}"
            );
        }
    }
    assert!(compiled_sets > 250, "{compiled_sets} sets passed validation");
}

/// The forbids of the templates and of the bench, on a call none of them matches, are ruled out
/// without Cedar; on one each matches, they are not.
#[test]
fn the_screen_rules_out_common_forbids_that_do_not_match() {
    let model = model::model().unwrap();
    let op = &model.operations["tickets.update"];
    let screens = |source: &str| {
        // A policy without conditions matches wherever its scope does: never ruled out.
        let set = PolicySet::from_str(source).unwrap();
        set.policies().filter(|p| p.has_non_scope_constraint()).map(screen::Screen::of).collect::<Vec<_>>()
    };
    let sources = [
        source_of("no-closing-vip-tickets"),
        "forbid (principal, action, resource) when { resource.client.tags.contains(\"blocked\") };",
        "forbid (principal, action, resource) when { principal.teams.contains(\"team-x\") && resource.priority == \"P1\" };",
        "forbid (principal, action, resource) when { resource.status == \"Frozen\" || resource.tags.contains(\"frozen\") };",
        "forbid (principal, action, resource) when { context.body has title && context.body.title == \"x\" };",
        "forbid (principal, action, resource) unless { resource has team_id && principal.teams.contains(resource.team_id) };",
    ];
    let harmless = update_ticket(json!({"title": "Printer"}), Some(ticket(&["smb"], Some("team-a"))));
    let input = request::input(op, &agent(), &harmless).unwrap();
    for source in sources {
        for screen in screens(source) {
            assert!(screen.rules_out(&input), "{source}");
        }
    }
    let matching = [
        (source_of("no-closing-vip-tickets"), json!({"status_id": "closed-1"}), ticket(&["vip"], None)),
        (sources[1], json!({}), ticket(&["blocked"], None)),
        (sources[4], json!({"title": "x"}), ticket(&[], None)),
        (sources[5], json!({}), ticket(&[], Some("team-z"))),
    ];
    for (source, body, record) in matching {
        let call = update_ticket(body, Some(record));
        let input = request::input(op, &agent(), &call).unwrap();
        assert!(screens(source).iter().any(|s| !s.rules_out(&input)), "{source}");
    }
}

/// A policy's size bounds its depth before anything recursive reads it (Cedar's evaluator and
/// validator, the JSON form the screen reads): one too large is refused at its line; one at the
/// limit decides the same screened and by Cedar alone, run on a thread of the blocking pool's
/// stack size (2 MiB) in a release build; a debug build's frames are about five times larger.
#[test]
fn policies_too_deep_to_evaluate_safely_are_refused_and_those_at_the_limit_agree_with_cedar() {
    let chain = |terms: usize| {
        format!(
            "forbid (principal, action == Alga::Action::\"tickets.update\", resource)\nwhen {{ context.body has title && context.body.title == \"x\"{} }};",
            " && true".repeat(terms)
        )
    };
    let too_long = format!("{}\n{}", source_of("no-agent-deletes"), chain(MAX_POLICY_OPERATORS));
    let refused = compile(&too_long).map(|_| ()).unwrap_err();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].message.contains("at most 100 operators") && refused[0].line == 5, "{refused:?}");
    let nested = format!(
        "forbid (principal, action, resource) when {{ {}true{} }};",
        "(".repeat(MAX_POLICY_NESTING + 1),
        ")".repeat(MAX_POLICY_NESTING + 1)
    );
    assert!(compile(&nested).is_err());
    // A comment ends at a bare `\r` for Cedar, so a policy after one is counted too.
    let hidden = format!("// note\r{nested}");
    let refused = compile(&hidden).map(|_| ()).unwrap_err();
    assert!(refused.iter().any(|d| d.message.contains("nest")), "{refused:?}");
    // Operators inside strings and comments do not count.
    let quoted = format!(
        "// {}\nforbid (principal, action, resource) when {{ context has client_name && context.client_name == \"{}\" }};",
        "&& ".repeat(300),
        "&&".repeat(300)
    );
    assert!(compile(&quoted).is_ok(), "{:?}", compile(&quoted).map(|_| ()));

    let at_limit = chain(MAX_POLICY_OPERATORS - 7);
    std::thread::Builder::new()
        .stack_size(if cfg!(debug_assertions) { 16 } else { 2 } * 1024 * 1024)
        .spawn(move || {
            let set = compiled(&at_limit);
            for title in ["x", "y"] {
                let call = update_ticket(json!({ "title": title }), Some(ticket(&[], None)));
                let screened = set.evaluate(&agent(), &call, true);
                assert_eq!(screened, set.evaluate(&agent(), &call, false));
                assert_eq!(screened.allowed, title != "x", "{screened:?}");
                assert!(screened.errors.is_empty(), "{screened:?}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn approval_policies_ask_for_the_strictest_approval_and_never_beat_a_forbid() {
    let set = compiled(&format!(
        "{}\n{}",
        source_of("ticket-deletes-need-approval"),
        "@id(\"billing-approves-vip\")\n@approval(\"required\")\n@approvers(\"Billing, Finance\")\n@expires(\"30m\")\n\
         permit (principal, action == Alga::Action::\"tickets.delete\", resource) when { resource.client.tags.contains(\"vip\") };\n\
         @id(\"no-frozen\")\nforbid (principal, action, resource is Alga::Ticket) when { resource.tags.contains(\"frozen\") };"
    ));
    let delete = |record: RecordFacts| call("tickets.delete", json!({"id": "ticket-1"}), None, Some(record));
    // One policy asks: its expiry, no roles.
    let eval = set.decide(&agent(), &delete(ticket(&[], None)));
    assert!(eval.allowed && eval.policy_ids.is_empty(), "{eval:?}");
    let need = eval.approval.unwrap();
    assert_eq!(need.policy_ids, ["ticket-deletes-need-approval"]);
    assert!(need.approvers.is_empty());
    assert_eq!(need.expires_in_seconds, 3600);
    // Two ask: every role named, the shorter expiry.
    let need = set.decide(&agent(), &delete(ticket(&["vip"], None))).approval.unwrap();
    assert_eq!(need.policy_ids, ["ticket-deletes-need-approval", "billing-approves-vip"]);
    assert_eq!(need.approvers, ["Billing", "Finance"]);
    assert_eq!(need.expires_in_seconds, 1800);
    // A matching forbid denies: no approval is asked for.
    let mut frozen = ticket(&["vip"], None);
    frozen.attributes.insert("tags".into(), Fact::Names(vec!["frozen".into()]));
    let eval = set.decide(&agent(), &delete(frozen));
    assert!(!eval.allowed && eval.approval.is_none(), "{eval:?}");
    assert_eq!(eval.policy_ids, ["no-frozen"]);
    // Users are not asked by the agent-only template; the vip one asks anyone.
    assert!(set.decide(&user(), &delete(ticket(&[], None))).approval.is_none());
    assert!(set.decide(&user(), &delete(ticket(&["vip"], None))).approval.is_some());
    // An approval policy that cannot be evaluated denies (no record to read the client of).
    let eval = set.decide(&user(), &call("tickets.delete", json!({"id": "ticket-1"}), None, None));
    assert!(!eval.allowed && eval.approval.is_none(), "{eval:?}");
    assert!(eval.policy_ids.contains(&"billing-approves-vip".to_owned()), "{eval:?}");
    // Asking hides nothing: the operation stays listed, its search says policies may intervene.
    assert_eq!(set.visibility(&agent(), "tickets.delete"), Visibility::Conditional);
    // Other operations are not concerned.
    assert_eq!(
        set.decide(&agent(), &update_ticket(json!({"title": "t"}), Some(ticket(&[], None)))),
        Evaluation::allow()
    );
}

#[test]
fn approval_annotations_are_checked_at_their_policy() {
    let cases = [
        ("@approval(\"maybe\")\npermit (principal, action, resource);", "the one requirement"),
        ("@approval(\"required\")\nforbid (principal, action, resource);", "marks a `permit`"),
        ("@approvers(\"Billing\")\nforbid (principal, action, resource);", "belong to an `@approval"),
        ("@approval(\"required\")\n@expires(\"10s\")\npermit (principal, action, resource);", "minutes, hours or days"),
        (
            "@approval(\"required\")\n@expires(\"8d\")\npermit (principal, action, resource);",
            "between 1 minute and 7 days",
        ),
        (
            "@approval(\"required\")\n@approvers(\"Billing,,\")\npermit (principal, action, resource);",
            "1 to 10 role names",
        ),
        ("permit (principal, action, resource);", "roles grant"),
    ];
    for (source, expected) in cases {
        let errors = compile(source).map(|_| ()).unwrap_err();
        assert!(errors.iter().any(|d| d.message.contains(expected)), "{source}: {errors:?}");
    }
    assert!(compile("@approval(\"required\")\n@approvers(\" Billing \")\n@expires(\"7d\")\npermit (principal, action in Alga::Action::\"write\", resource);").is_ok());
}
