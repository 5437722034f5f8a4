//! Facts → a Cedar request and its entities, typed by the generated model. An argument given
//! with a value that does not fit its declared type is never left out: the request is not built
//! and the call is denied with an error naming the field (a `has`-guarded forbid must not fail
//! open). JSON null is absence here; the fields a body gives as null are `context.cleared`.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use cedar_policy::{Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression};
use chrono::{Datelike, SecondsFormat, Timelike};
use serde_json::{Map, Value};

use crate::policy::facts::{CallFacts, Fact, FactType, PrincipalFacts, PrincipalKind, RecordFacts, RecordKind};

use super::model::{COLLECTION, Field, OperationModel, PRINCIPAL_TYPES, Ty, type_name};

/// What [`super::Compiled::decide`] hands to the authorizer.
pub(super) struct Built {
    pub request: Request,
    pub entities: Entities,
}

/// Parsing a type name runs Cedar's parser: the fixed ones are parsed once.
fn cached_type(name: &str) -> Result<EntityTypeName, String> {
    static TYPES: OnceLock<HashMap<&'static str, EntityTypeName>> = OnceLock::new();
    let types = TYPES.get_or_init(|| {
        PRINCIPAL_TYPES
            .into_iter()
            .chain([COLLECTION])
            .chain(RecordKind::ALL.iter().map(|k| k.type_name()))
            .filter_map(|n| Some((n, type_name(n).ok()?)))
            .collect()
    });
    match types.get(name) {
        Some(t) => Ok(t.clone()),
        None => type_name(name),
    }
}

fn uid(type_: &str, id: &str) -> Result<EntityUid, String> {
    Ok(EntityUid::from_type_name_and_id(cached_type(type_)?, EntityId::new(id)))
}

pub(super) fn principal_uid(principal: &PrincipalFacts) -> Result<EntityUid, String> {
    uid(principal_type(principal.kind), &principal.id)
}

pub(super) fn principal_type(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Agent => "Agent",
        PrincipalKind::User => "User",
    }
}

/// A value of the request, as plain data: what Cedar is given ([`build`]) and what the
/// screen reads ([`super::screen`]), made once from the facts, so the two cannot differ.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Val {
    Str(String),
    Long(i64),
    Bool(bool),
    /// A Cedar `datetime`, as its literal (UTC, milliseconds).
    DateTime(String),
    Set(Vec<Val>),
    Record(BTreeMap<String, Val>),
    /// A reference to another entity of the request (the record's client), with its attributes.
    Entity(Box<EntityVal>),
}

/// An entity of the request: its uid, attributes and tags.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct EntityVal {
    pub uid: EntityUid,
    pub attrs: BTreeMap<String, Val>,
    pub tags: BTreeMap<String, String>,
}

/// A call as the policies see it, before it is handed to Cedar.
#[derive(Clone, Debug)]
pub(super) struct Input {
    pub principal: EntityVal,
    /// The resource's uid and, when it is a record whose attributes were read, its entity. A
    /// resource without one has no attributes: reading them errors.
    pub resource: EntityUid,
    pub record: Option<EntityVal>,
    pub context: BTreeMap<String, Val>,
}

fn strings<'a>(values: impl IntoIterator<Item = &'a String>) -> Val {
    Val::Set(values.into_iter().map(|v| Val::Str(v.clone())).collect())
}

fn principal_entity(principal: &PrincipalFacts) -> Result<EntityVal, String> {
    let attrs = BTreeMap::from([
        ("name".to_owned(), Val::Str(principal.name.clone())),
        ("roles".to_owned(), strings(&principal.roles)),
        ("teams".to_owned(), strings(&principal.teams)),
    ]);
    Ok(EntityVal { uid: principal_uid(principal)?, attrs, tags: principal.attributes.clone() })
}

/// The record's entity, its client an entity within it. An attribute whose fact does not have
/// the declared type is left out.
fn record_entity(record: &RecordFacts) -> Result<EntityVal, String> {
    let uid = uid(record.kind.type_name(), &record.id)?;
    let mut attrs = BTreeMap::new();
    for (name, ty) in record.kind.attributes() {
        let value = match (ty, record.attributes.get(*name)) {
            (FactType::String | FactType::OptionalString, Some(Fact::String(s))) => Val::Str(s.clone()),
            (FactType::Long, Some(Fact::Long(n))) => Val::Long(*n),
            (FactType::Bool, Some(Fact::Bool(b))) => Val::Bool(*b),
            (FactType::Names, Some(Fact::Names(names))) => strings(names),
            (FactType::Client, Some(Fact::Client(client))) => Val::Entity(Box::new(record_entity(client)?)),
            _ => continue,
        };
        attrs.insert((*name).to_owned(), value);
    }
    Ok(EntityVal { uid, attrs, tags: BTreeMap::new() })
}

/// A Cedar `datetime` literal (UTC, milliseconds) for a date-time text read as the operations
/// read it ([`alga_api::model::parse_datetime`]); `None` when it is not one, or is one Cedar
/// cannot hold (a year outside 0000–9999, a leap second).
fn datetime(text: &str) -> Option<Val> {
    let parsed = alga_api::model::parse_datetime(text)?;
    if !(0..=9999).contains(&parsed.year()) || parsed.nanosecond() >= 1_000_000_000 {
        return None;
    }
    Some(Val::DateTime(parsed.to_rfc3339_opts(SecondsFormat::Millis, true)))
}

fn expected(ty: &Ty) -> &'static str {
    match ty {
        Ty::String => "text",
        Ty::DateTime => "a date-time",
        Ty::Long => "a whole number (64-bit)",
        Ty::Bool => "true or false",
        Ty::Set(_) => "a list",
        Ty::Record(_) => "an object",
    }
}

/// `json` typed as `ty`; `field` names it in the error (`body.ended_at`, `body.tags[1]`).
fn value(field: &str, ty: &Ty, json: &Value) -> Result<Val, String> {
    let typed = match (ty, json) {
        (Ty::String, Value::String(s)) => Some(Val::Str(s.clone())),
        (Ty::DateTime, Value::String(s)) => datetime(s),
        (Ty::Long, Value::Number(n)) => n.as_i64().map(Val::Long),
        (Ty::Bool, Value::Bool(b)) => Some(Val::Bool(*b)),
        (Ty::Set(item), Value::Array(items)) => {
            let typed = items
                .iter()
                .enumerate()
                .map(|(i, v)| value(&format!("{field}[{i}]"), item, v))
                .collect::<Result<Vec<_>, _>>()?;
            Some(Val::Set(typed))
        }
        (Ty::Record(fields), Value::Object(map)) => Some(record(field, fields, map)?),
        _ => None,
    };
    typed.ok_or_else(|| format!("`{field}` is not {} the policies can read", expected(ty)))
}

/// A record of the declared fields present in `map`; JSON null is absence. `at` names the
/// record in errors (`body`).
fn record(at: &str, fields: &[Field], map: &Map<String, Value>) -> Result<Val, String> {
    let mut pairs = BTreeMap::new();
    for field in fields {
        let Some(v) = map.get(&field.name).filter(|v| !v.is_null()) else { continue };
        let v = tag_keys(&field.name, v);
        pairs.insert(field.name.clone(), value(&format!("{at}.{}", field.name), &field.ty, &v)?);
    }
    Ok(Val::Record(pairs))
}

/// Tag names (a body's `tags`, a query's `tag`) as the operations match them: by their key
/// (`tags::name_key`, trimmed and lowercased, repeats once), so a policy's
/// `context.body.tags.contains("vip")` holds for "VIP" and " vip" as the operation finds them.
fn tag_keys<'a>(field: &str, v: &'a Value) -> std::borrow::Cow<'a, Value> {
    use alga_api::tags::name_key;
    match (field, v) {
        ("tag", Value::String(name)) => std::borrow::Cow::Owned(Value::String(name_key(name))),
        ("tags", Value::Array(names)) if names.iter().all(Value::is_string) => {
            let mut keys: Vec<String> = names.iter().filter_map(Value::as_str).map(name_key).collect();
            keys.sort();
            keys.dedup();
            std::borrow::Cow::Owned(Value::Array(keys.into_iter().map(Value::String).collect()))
        }
        _ => std::borrow::Cow::Borrowed(v),
    }
}

/// The body fields given as JSON null: those the call clears (`assigned_to: null`).
fn cleared(body: Option<&Value>) -> Val {
    let names = match body {
        Some(Value::Object(map)) => map.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k).collect(),
        _ => Vec::new(),
    };
    strings(names)
}

/// Path and query values arrive as text, the way a URL carries them: those declared as numbers
/// or booleans are read as such (text that is neither stays text, and is then refused).
fn from_url(fields: &[Field], map: &Map<String, Value>) -> Map<String, Value> {
    let mut typed = map.clone();
    for field in fields {
        let Some(Value::String(text)) = map.get(&field.name) else { continue };
        let parsed = match field.ty {
            Ty::Long => text.parse::<i64>().ok().map(Value::from),
            Ty::Bool => text.parse::<bool>().ok().map(Value::Bool),
            _ => None,
        };
        if let Some(v) = parsed {
            typed.insert(field.name.clone(), v);
        }
    }
    typed
}

/// The call's input, typed by the operation's model: refused, naming the field, when a value
/// does not have its declared type.
pub(super) fn input(op: &OperationModel, principal: &PrincipalFacts, call: &CallFacts) -> Result<Input, String> {
    let (resource, entity) = match &call.record {
        Some(record) if op.record == Some(record.kind) => {
            let entity = record_entity(record)?;
            (entity.uid.clone(), Some(entity))
        }
        Some(record) => return Err(format!("the record is a {:?}, the operation acts on another type", record.kind)),
        // No record (e.g. a replay of a deleted one): the resource has no attributes, so a
        // policy reading them errors and denies.
        None if op.record.is_none() && op.resource_type.basename() == COLLECTION => {
            (uid(COLLECTION, &op.collection)?, None)
        }
        None => {
            let id = call.path.get("id").and_then(Value::as_str).unwrap_or_default();
            (EntityUid::from_type_name_and_id(op.resource_type.clone(), EntityId::new(id)), None)
        }
    };
    let empty = Map::new();
    let mut context = BTreeMap::from([
        ("path".to_owned(), record("path", &op.path, &from_url(&op.path, &call.path))?),
        ("query".to_owned(), record("query", &op.query, &from_url(&op.query, &call.query))?),
        (
            "body".to_owned(),
            match (&op.body, &call.body) {
                (Some(fields), Some(Value::Object(map))) => record("body", fields, map)?,
                _ => record("body", &[], &empty)?,
            },
        ),
        ("cleared".to_owned(), cleared(call.body.as_ref())),
        ("now".to_owned(), Val::DateTime(call.now.to_rfc3339_opts(SecondsFormat::Millis, true))),
    ]);
    for (name, _) in crate::policy::facts::derived(&call.operation_id) {
        let value = match call.derived.get(*name) {
            Some(Fact::Bool(b)) => Val::Bool(*b),
            Some(Fact::Long(n)) => Val::Long(*n),
            Some(Fact::String(s)) => Val::Str(s.clone()),
            Some(Fact::Names(names)) => strings(names),
            // Not derived (a stored input from before): a policy reading it errors and denies.
            _ => continue,
        };
        context.insert((*name).to_owned(), value);
    }
    if let Some(name) = &call.client_name {
        context.insert("client_name".to_owned(), Val::Str(name.clone()));
    }
    Ok(Input { principal: principal_entity(principal)?, resource, record: entity, context })
}

/// A value as Cedar's restricted expression; the entities it refers to are added to `out`.
fn expression(value: &Val, out: &mut Vec<Entity>) -> Result<RestrictedExpression, String> {
    Ok(match value {
        Val::Str(s) => RestrictedExpression::new_string(s.clone()),
        Val::Long(n) => RestrictedExpression::new_long(*n),
        Val::Bool(b) => RestrictedExpression::new_bool(*b),
        Val::DateTime(text) => RestrictedExpression::new_datetime(text),
        Val::Set(items) => {
            RestrictedExpression::new_set(items.iter().map(|v| expression(v, out)).collect::<Result<Vec<_>, _>>()?)
        }
        Val::Record(fields) => RestrictedExpression::new_record(
            fields.iter().map(|(k, v)| Ok((k.clone(), expression(v, out)?))).collect::<Result<Vec<_>, String>>()?,
        )
        .map_err(|e| e.to_string())?,
        Val::Entity(entity) => {
            let referred = cedar_entity(entity, out)?;
            out.push(referred);
            RestrictedExpression::new_entity_uid(entity.uid.clone())
        }
    })
}

fn cedar_entity(entity: &EntityVal, out: &mut Vec<Entity>) -> Result<Entity, String> {
    let attrs = entity
        .attrs
        .iter()
        .map(|(k, v)| Ok((k.clone(), expression(v, out)?)))
        .collect::<Result<HashMap<_, _>, String>>()?;
    let tags = entity.tags.iter().map(|(k, v)| (k.clone(), RestrictedExpression::new_string(v.clone())));
    Entity::new_with_tags(entity.uid.clone(), attrs, [], tags).map_err(|e| e.to_string())
}

/// The input as Cedar's request and entities.
pub(super) fn build(op: &OperationModel, input: &Input) -> Result<Built, String> {
    let mut entities = Vec::new();
    let principal = cedar_entity(&input.principal, &mut entities)?;
    entities.push(principal);
    if let Some(record) = &input.record {
        let record = cedar_entity(record, &mut entities)?;
        entities.push(record);
    }
    // The action and its groups, so `action in Action::"write"` holds without the schema's
    // whole action hierarchy in every request.
    entities.push(Entity::new_no_attrs(op.action.clone(), op.groups.iter().cloned().collect()));
    entities.extend(op.groups.iter().map(|g| Entity::new_no_attrs(g.clone(), Default::default())));
    let context = input
        .context
        .iter()
        .map(|(k, v)| Ok((k.clone(), expression(v, &mut entities)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let context = Context::from_pairs(context).map_err(|e| e.to_string())?;
    let request = Request::new(input.principal.uid.clone(), op.action.clone(), input.resource.clone(), context, None)
        .map_err(|e| e.to_string())?;
    let entities = Entities::from_entities(entities, None).map_err(|e| e.to_string())?;
    Ok(Built { request, entities })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(name: &str, ty: Ty) -> Field {
        Field { name: name.to_owned(), ty, required: false }
    }

    fn error(ty: &Ty, json: &Value) -> String {
        match value("body", ty, json) {
            Ok(_) => panic!("{json} typed as {ty:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn policy_every_declared_type_refuses_what_it_cannot_hold_naming_the_field() {
        let nested = Ty::Record(vec![
            field("at", Ty::DateTime),
            field("counts", Ty::Set(Box::new(Ty::Long))),
            field("inner", Ty::Record(vec![field("on", Ty::Bool)])),
        ]);
        let good = json!({"at": "2026-12-01 10:00:00Z", "counts": [1, 2], "inner": {"on": true}, "other": 1.5});
        assert!(value("body", &nested, &good).is_ok());
        assert!(error(&nested, &json!({"inner": {"on": "yes"}})).contains("`body.inner.on`"));
        assert!(error(&nested, &json!({"counts": [1, "2"]})).contains("`body.counts[1]`"));
        assert!(error(&nested, &json!({"counts": [i64::MAX as u64 + 1]})).contains("`body.counts[0]`"));
        assert!(error(&nested, &json!({"at": "2026-13-01T00:00:00Z"})).contains("`body.at`"));
        assert!(error(&nested, &json!({"inner": []})).contains("`body.inner`"));
        assert!(error(&nested, &json!("text")).contains("`body`"));
        // Null is absence, at any depth.
        assert!(value("body", &nested, &json!({"at": null, "inner": {"on": null}})).is_ok());
    }

    #[test]
    fn policy_date_times_cedar_cannot_hold_are_refused_not_dropped() {
        assert!(datetime("2026-12-01 10:00:00Z").is_some());
        assert!(datetime("2026-12-01T10:00:00.123456+05:30").is_some());
        // A leap second chrono reads and Cedar cannot.
        assert!(datetime("2016-12-31T23:59:60Z").is_none());
        assert!(error(&Ty::DateTime, &json!("2016-12-31T23:59:60Z")).contains("date-time"));
    }
}
