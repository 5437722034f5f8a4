//! The Cedar schema, generated once from the operation catalog and [`RecordKind::attributes`]:
//! its text (what admins read), the parsed schema and validator, and per operation what the
//! request builder needs (the action's groups, the resource type, the context's types).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::OnceLock;

use alga_api::catalog::{Method, Param};
use cedar_policy::{EntityTypeName, EntityUid, Schema, Validator};
use serde_json::Value;

use crate::policy::facts::{FactType, RecordKind};

use super::EngineError;

pub(super) const NAMESPACE: &str = "Alga";
/// The resource of lists and creates: `Collection::"<first path segment>"`.
pub(super) const COLLECTION: &str = "Collection";
pub(super) const PRINCIPAL_TYPES: [&str; 2] = ["Agent", "User"];
const READ: &str = "read";
const WRITE: &str = "write";
const DELETE: &str = "delete";

/// The schema type of a derived fact.
fn derived_type(ty: crate::policy::facts::FactType) -> &'static str {
    use crate::policy::facts::FactType;
    match ty {
        FactType::String | FactType::OptionalString | FactType::Client => "String",
        FactType::Long => "Long",
        FactType::Bool => "Bool",
        FactType::Names => "Set<String>",
    }
}

/// A context value's type, from an operation's JSON Schema.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ty {
    String,
    DateTime,
    Long,
    Bool,
    Set(Box<Ty>),
    Record(Vec<Field>),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Field {
    pub name: String,
    pub ty: Ty,
    pub required: bool,
}

/// What a request for one operation is built from.
#[derive(Debug)]
pub(super) struct OperationModel {
    pub action: EntityUid,
    /// The action groups it belongs to (`Action::"tickets"`, `Action::"write"`, …).
    pub groups: Vec<EntityUid>,
    /// A GET: it changes nothing.
    pub reads: bool,
    pub resource_type: EntityTypeName,
    /// The record kind whose attributes the resource carries, if any.
    pub record: Option<RecordKind>,
    /// The first path segment (`tickets`), the id of its `Collection` resource.
    pub collection: String,
    pub path: Vec<Field>,
    pub query: Vec<Field>,
    /// `None` when the operation takes no body (the context's `body` is then an empty record).
    pub body: Option<Vec<Field>>,
}

#[derive(Debug)]
pub(super) struct Model {
    pub text: String,
    pub validator: Validator,
    pub operations: HashMap<String, OperationModel>,
}

impl Model {
    pub fn schema(&self) -> &Schema {
        self.validator.schema()
    }
}

/// The model, built on first use.
pub(super) fn model() -> Result<&'static Model, EngineError> {
    static MODEL: OnceLock<Result<Model, String>> = OnceLock::new();
    MODEL.get_or_init(build).as_ref().map_err(|e| EngineError::Schema(e.clone()))
}

pub(super) fn type_name(name: &str) -> Result<EntityTypeName, String> {
    format!("{NAMESPACE}::{name}").parse().map_err(|e| format!("entity type {name}: {e}"))
}

pub(super) fn action_uid(id: &str) -> Result<EntityUid, String> {
    let literal = serde_json::to_string(id).map_err(|e| e.to_string())?;
    format!("{NAMESPACE}::Action::{literal}").parse().map_err(|e| format!("action {id}: {e}"))
}

/// The first segment after `/api/v1/` and whether the next one is an id.
fn first_segment(path: &str) -> (String, bool) {
    let rest = path.strip_prefix("/api/v1/").unwrap_or(path);
    let mut parts = rest.split('/');
    let first = parts.next().unwrap_or_default().to_owned();
    let has_id = parts.next().is_some_and(|s| s.starts_with('{'));
    (first, has_id)
}

/// `ticket-categories` → `TicketCategory`; a name the schema already uses gets `Resource` appended
/// (`users/{id}` → `UserResource`, since `User` is a principal type).
fn resource_type_name(segment: &str) -> String {
    let singular = if let Some(stem) = segment.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = segment.strip_suffix("ses") {
        format!("{stem}s")
    } else {
        segment.strip_suffix('s').unwrap_or(segment).to_owned()
    };
    let camel: String = singular
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    let taken = PRINCIPAL_TYPES.contains(&camel.as_str())
        || camel == COLLECTION
        || RecordKind::ALL.iter().any(|k| k.type_name() == camel);
    if taken { format!("{camel}Resource") } else { camel }
}

fn build() -> Result<Model, String> {
    let catalog = alga_api::catalog();
    let mut text = String::new();
    let mut attribute_less = BTreeMap::new();
    let mut groups = BTreeMap::new();
    let mut ops = Vec::new();
    for op in catalog.operations() {
        let (segment, has_id) = first_segment(op.meta.path);
        let record = RecordKind::of_path_prefix(op.meta.path);
        let resource = match (record, has_id) {
            (Some(kind), _) => kind.type_name().to_owned(),
            (None, true) => {
                let name = resource_type_name(&segment);
                attribute_less.insert(name.clone(), ());
                name
            }
            (None, false) => COLLECTION.to_owned(),
        };
        groups.insert(segment.clone(), ());
        let mut member_of = vec![segment.clone(), if op.meta.method == Method::Get { READ } else { WRITE }.to_owned()];
        if op.meta.method == Method::Delete {
            member_of.push(DELETE.to_owned());
        }
        let body = op.request_schema.as_ref().map(|s| match ty_of(s) {
            Some((Ty::Record(fields), _)) => fields,
            _ => Vec::new(),
        });
        ops.push((
            op.meta.id,
            member_of,
            resource,
            record,
            segment,
            fields_of_params(&op.path_params),
            fields_of_params(&op.query_params),
            body,
        ));
    }
    for (group, ()) in &groups {
        if catalog.get(group).is_some() {
            return Err(format!("action group {group} has the name of an operation"));
        }
    }

    let _ = writeln!(text, "// Generated from the operation catalog: one action per operation id, grouped by the");
    let _ = writeln!(text, "// first path segment and by read/write/delete. Context: the call's validated arguments.");
    let _ =
        writeln!(text, "// A value that cannot be typed as declared denies the call; null is absence (see `cleared`).");
    let _ = writeln!(text, "namespace {NAMESPACE} {{");
    let principal_attrs = r#"{ "name": String, "roles": Set<String>, "teams": Set<String> }"#;
    let _ = writeln!(text, "  // An agent's free attributes are its tags: principal.getTag(\"region\").");
    for p in PRINCIPAL_TYPES {
        let _ = writeln!(text, "  entity {p} = {principal_attrs} tags String;");
    }
    let _ = writeln!(text, "  // Lists and creates act on Collection::\"<first path segment>\".");
    let _ = writeln!(text, "  entity {COLLECTION};");
    for kind in RecordKind::ALL {
        let attrs: Vec<String> = kind
            .attributes()
            .iter()
            .map(|(name, ty)| {
                let (optional, ty) = match ty {
                    FactType::String => ("", "String"),
                    FactType::OptionalString => ("?", "String"),
                    FactType::Long => ("", "Long"),
                    FactType::Bool => ("", "Bool"),
                    FactType::Names => ("", "Set<String>"),
                    FactType::Client => ("", "Client"),
                };
                format!("{}{optional}: {ty}", quote(name))
            })
            .collect();
        let _ = writeln!(text, "  entity {} = {{ {} }};", kind.type_name(), attrs.join(", "));
    }
    for name in attribute_less.keys() {
        let _ = writeln!(text, "  entity {name};");
    }
    let _ = writeln!(text, "  action {}, {}, {};", quote(READ), quote(WRITE), quote(DELETE));
    let group_list: Vec<String> = groups.keys().map(|g| quote(g)).collect();
    let _ = writeln!(text, "  action {};", group_list.join(", "));

    let mut operations = HashMap::new();
    for (id, member_of, resource, record, collection, path, query, body) in ops {
        let parents: Vec<String> = member_of.iter().map(|g| quote(g)).collect();
        let empty = Vec::new();
        let mut context = vec![
            format!("\"path\": {}", record_text(&path)),
            format!("\"query\": {}", record_text(&query)),
            format!("\"body\": {}", record_text(body.as_ref().unwrap_or(&empty))),
            "\"now\": __cedar::datetime".to_owned(),
            "\"client_name\"?: String".to_owned(),
            // The body fields the call gives as null (clears): `context.cleared.contains("assigned_to")`.
            "\"cleared\": Set<String>".to_owned(),
        ];
        context.extend(
            crate::policy::facts::derived(id).iter().map(|(name, ty)| format!("{name:?}: {}", derived_type(*ty))),
        );
        let _ = writeln!(
            text,
            "  action {} in [{}] appliesTo {{ principal: [{}], resource: [{resource}], context: {{ {} }} }};",
            quote(id),
            parents.join(", "),
            PRINCIPAL_TYPES.join(", "),
            context.join(", ")
        );
        let model = OperationModel {
            action: action_uid(id)?,
            groups: member_of.iter().map(|g| action_uid(g)).collect::<Result<_, _>>()?,
            reads: member_of.iter().any(|g| g == READ),
            resource_type: type_name(&resource)?,
            record,
            collection,
            path,
            query,
            body,
        };
        operations.insert(id.to_owned(), model);
    }
    let _ = writeln!(text, "}}");

    let (schema, _warnings) = Schema::from_cedarschema_str(&text).map_err(|e| format!("generated schema: {e}"))?;
    Ok(Model { text, validator: Validator::new(schema), operations })
}

fn quote(name: &str) -> String {
    serde_json::to_string(name).unwrap_or_else(|_| format!("\"{name}\""))
}

fn record_text(fields: &[Field]) -> String {
    if fields.is_empty() {
        return "{}".to_owned();
    }
    let inner: Vec<String> = fields
        .iter()
        .map(|f| format!("{}{}: {}", quote(&f.name), if f.required { "" } else { "?" }, ty_text(&f.ty)))
        .collect();
    format!("{{ {} }}", inner.join(", "))
}

fn ty_text(ty: &Ty) -> String {
    match ty {
        Ty::String => "String".to_owned(),
        Ty::DateTime => "__cedar::datetime".to_owned(),
        Ty::Long => "Long".to_owned(),
        Ty::Bool => "Bool".to_owned(),
        Ty::Set(item) => format!("Set<{}>", ty_text(item)),
        Ty::Record(fields) => record_text(fields),
    }
}

fn fields_of_params(params: &[Param]) -> Vec<Field> {
    params
        .iter()
        .filter_map(|p| {
            let (ty, nullable) = ty_of(&p.schema)?;
            Some(Field { name: p.name.clone(), ty, required: p.required && !nullable })
        })
        .collect()
}

/// The Cedar type of a JSON Schema and whether it admits null; `None` when it has none
/// (free objects, non-integer numbers, mixed unions): such values are left out of the context.
pub(super) fn ty_of(schema: &Value) -> Option<(Ty, bool)> {
    let obj = schema.as_object()?;
    for key in ["anyOf", "oneOf"] {
        if let Some(variants) = obj.get(key).and_then(Value::as_array) {
            let mut nullable = false;
            let mut types = Vec::new();
            for v in variants {
                if v.get("type").and_then(Value::as_str) == Some("null") {
                    nullable = true;
                } else {
                    let (ty, n) = ty_of(v)?;
                    nullable |= n;
                    types.push(ty);
                }
            }
            let first = types.first()?.clone();
            // A union of differently typed values has no Cedar type.
            return types.iter().all(|t| *t == first).then_some((first, nullable));
        }
    }
    if let Some(values) = obj.get("enum").and_then(Value::as_array) {
        let nullable = values.iter().any(Value::is_null);
        return values.iter().filter(|v| !v.is_null()).all(Value::is_string).then_some((Ty::String, nullable));
    }
    if obj.get("const").is_some_and(Value::is_string) {
        return Some((Ty::String, false));
    }
    let (kind, nullable) = match obj.get("type") {
        Some(Value::String(t)) => (t.as_str(), false),
        Some(Value::Array(types)) => {
            let named: Vec<&str> = types.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect();
            match named.as_slice() {
                [one] => (*one, named.len() < types.len()),
                _ => return None,
            }
        }
        None if obj.contains_key("properties") => ("object", false),
        _ => return None,
    };
    let ty = match kind {
        "string" if obj.get("format").and_then(Value::as_str) == Some("date-time") => Ty::DateTime,
        "string" => Ty::String,
        "integer" => Ty::Long,
        "boolean" => Ty::Bool,
        "array" => match ty_of(obj.get("items")?)? {
            (item @ (Ty::String | Ty::DateTime | Ty::Long | Ty::Bool), false) => Ty::Set(Box::new(item)),
            _ => return None,
        },
        "object" => {
            let properties = obj.get("properties")?.as_object()?;
            let required: Vec<&str> =
                obj.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            Ty::Record(
                properties
                    .iter()
                    .filter_map(|(name, prop)| {
                        let (ty, nullable) = ty_of(prop)?;
                        Some(Field { name: name.clone(), ty, required: required.contains(&name.as_str()) && !nullable })
                    })
                    .collect(),
            )
        }
        _ => return None,
    };
    Some((ty, nullable))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_schema_types_map_to_cedar_types() {
        assert_eq!(ty_of(&json!({"type": "string"})), Some((Ty::String, false)));
        assert_eq!(ty_of(&json!({"type": ["string", "null"], "format": "date-time"})), Some((Ty::DateTime, true)));
        assert_eq!(ty_of(&json!({"type": "integer", "format": "int64"})), Some((Ty::Long, false)));
        assert_eq!(ty_of(&json!({"type": "number"})), None);
        assert_eq!(ty_of(&json!({"type": "object"})), None);
        assert_eq!(ty_of(&json!({"enum": ["a", "b", null]})), Some((Ty::String, true)));
        assert_eq!(
            ty_of(&json!({"type": "array", "items": {"type": "string"}})),
            Some((Ty::Set(Box::new(Ty::String)), false))
        );
        assert_eq!(ty_of(&json!({"anyOf": [{"type": "integer"}, {"type": "null"}]})), Some((Ty::Long, true)));
        assert_eq!(ty_of(&json!({"anyOf": [{"type": "integer"}, {"type": "string"}]})), None);
        assert_eq!(
            ty_of(
                &json!({"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": "number"}}, "required": ["a"]})
            ),
            Some((Ty::Record(vec![Field { name: "a".into(), ty: Ty::Bool, required: true }]), false))
        );
    }

    #[test]
    fn resource_type_names_are_singular_and_distinct_from_principals() {
        assert_eq!(resource_type_name("ticket-categories"), "TicketCategory");
        assert_eq!(resource_type_name("teams"), "Team");
        assert_eq!(resource_type_name("users"), "UserResource");
        assert_eq!(resource_type_name("api-keys"), "ApiKey");
    }
}
