//! The operation catalog: every `/api/v1` operation declared once.
//!
//! An [`Operation`] carries its id, method, path, documentation, access rule, the JSON Schemas of
//! its path parameters, query, body and response (derived from the very Rust types its handler
//! takes and returns), and the handler itself behind a transport-independent signature:
//! [`RawRequest`] in, [`Reply`] out. The HTTP routes, the OpenAPI document and in-process dispatch
//! (MCP) are all generated from these values, so they cannot drift apart.

use std::any::TypeId;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use alga_core::rbac::Permission;
use alga_core::{ApiError, AppContext, DbConn, Principal};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    pub fn parse(text: &str) -> Option<Method> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }

    /// Whether a request with this method carries a JSON body.
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may call an operation. Business operations need exactly one permission; a few meta
/// operations only need a valid credential, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No credential: the OpenAPI document.
    Public,
    /// Any valid credential: the caller's own identity.
    Authenticated,
    /// A valid credential whose roles grant this permission.
    Permission(Permission),
}

impl Access {
    pub const fn needs(resource: alga_core::Resource, action: alga_core::Action) -> Access {
        Access::Permission(Permission::new(resource, action))
    }

    /// The single authorization decision for REST calls, tool calls and listings.
    pub fn check(self, principal: Option<&Principal>) -> Result<(), ApiError> {
        match (self, principal) {
            (Access::Public, _) => Ok(()),
            (_, None) => Err(ApiError::unauthorized("An API key is required (x-api-key or Authorization: Bearer).")),
            (Access::Authenticated, Some(_)) => Ok(()),
            (Access::Permission(p), Some(who)) => who.authorize(p),
        }
    }

    pub fn permission(self) -> Option<Permission> {
        match self {
            Access::Permission(p) => Some(p),
            Access::Public | Access::Authenticated => None,
        }
    }
}

/// The declaration of an operation, apart from its types and handler.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// Stable id such as `tickets.create`.
    pub id: &'static str,
    pub method: Method,
    /// Path template with `{name}` parameters, such as `/api/v1/tickets/{id}`.
    pub path: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub tags: &'static [&'static str],
    pub access: Access,
    /// The success status: 200, 201 or 204.
    pub status: u16,
    /// An example request body, as JSON text.
    pub example: Option<&'static str>,
}

impl Meta {
    /// A declaration with its success status from the method (201 for POST, 204 for DELETE,
    /// 200 otherwise); document it with [`Meta::doc`] and [`Meta::tags`].
    pub const fn new(id: &'static str, method: Method, path: &'static str, access: Access) -> Meta {
        let status = match method {
            Method::Post => 201,
            Method::Delete => 204,
            Method::Get | Method::Put => 200,
        };
        Meta { id, method, path, summary: "", description: "", tags: &[], access, status, example: None }
    }

    pub const fn doc(mut self, summary: &'static str, description: &'static str) -> Meta {
        self.summary = summary;
        self.description = description;
        self
    }

    pub const fn tags(mut self, tags: &'static [&'static str]) -> Meta {
        self.tags = tags;
        self
    }

    pub const fn status(mut self, status: u16) -> Meta {
        self.status = status;
        self
    }

    /// An example request body, as JSON text.
    pub const fn example(mut self, json: &'static str) -> Meta {
        self.example = Some(json);
        self
    }
}

/// One documented parameter (path or query).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    pub name: String,
    pub required: bool,
    pub description: String,
    pub schema: Value,
}

/// What a transport hands an operation: already routed, not yet parsed.
#[derive(Clone, Debug, Default)]
pub struct RawRequest {
    /// Path parameters by name, percent-decoded.
    pub path: Vec<(String, String)>,
    /// The raw query string, without `?`.
    pub query: String,
    /// The raw body, for methods that carry one.
    pub body: Option<Vec<u8>>,
}

/// What an operation answers: a status and a JSON body (none for 204).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Vec<u8>>,
}

/// What a governing transport does inside every write transaction of one call, so that the
/// authorization decision and the call's record commit with the change, or neither does.
pub trait WriteGuard: Send + Sync + fmt::Debug {
    /// First in the transaction, before the handler writes anything: refuses unless the caller's
    /// grants as committed now allow the operation.
    fn authorize(&self, conn: &mut DbConn) -> Result<(), ApiError>;
    /// Last in the same transaction: records the call, given what the handler's transaction
    /// produced (as JSON).
    fn record(&self, conn: &mut DbConn, output: &Value) -> Result<(), ApiError>;
    /// The transaction committed, and with it the record.
    fn committed(&self);
}

/// How many times an operation runs when the database rolls its write back for crossing a
/// concurrent one (each crossing aborts one side only, so a second run rarely meets another).
const WRITE_ATTEMPTS: u32 = 3;

/// What a handler gets besides its parsed input.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub app: AppContext,
    pub principal: Arc<Principal>,
    /// Set by a governing transport (the enterprise MCP endpoint).
    pub guard: Option<Arc<dyn WriteGuard>>,
    /// Set once one of the handler's write transactions commits: from then on the handler must
    /// not be run again (see [`Operation::call_guarded`]).
    wrote: Arc<AtomicBool>,
}

impl Ctx {
    pub fn tenant(&self) -> &str {
        &self.principal.tenant_id
    }

    /// Runs diesel code on a pooled connection, off the async threads.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.app.db.run(f).await
    }

    /// Runs diesel code that writes, in one write transaction (see
    /// [`alga_core::db::write_transaction`]): every handler that changes data goes through here.
    /// Under a [`WriteGuard`] the transaction first authorizes with current grants and last
    /// records the call, so no change commits without its decision and its record.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Serialize + Send + 'static,
    {
        self.write_ordered(|_| Ok(()), f).await
    }

    /// As [`Ctx::write`], with the handler's ordering locks (`ordering`: those it takes before
    /// any row lock, such as a per-tenant advisory lock) taken first in the transaction, before a
    /// governing guard authorizes. The guard's decision locks the record the call names; taken
    /// before the ordering locks, it would hold a row lock while waiting for them, against a
    /// direct write holding them while waiting for the row: a deadlock.
    pub async fn write_ordered<T, L, F>(&self, ordering: L, f: F) -> Result<T, ApiError>
    where
        L: FnOnce(&mut DbConn) -> Result<(), ApiError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Serialize + Send + 'static,
    {
        let guard = self.guard.clone();
        let out = self
            .app
            .db
            .run(move |conn| {
                alga_core::db::write_transaction(conn, |conn| -> Result<T, ApiError> {
                    ordering(conn)?;
                    if let Some(guard) = &guard {
                        guard.authorize(conn)?;
                    }
                    let out = f(conn)?;
                    if let Some(guard) = &guard {
                        let value = serde_json::to_value(&out).map_err(|e| ApiError::internal(&e))?;
                        guard.record(conn, &value)?;
                    }
                    Ok(out)
                })
            })
            .await?;
        self.wrote.store(true, Ordering::Relaxed);
        if let Some(guard) = &self.guard {
            guard.committed();
        }
        Ok(out)
    }

    pub fn can(&self, p: Permission) -> bool {
        self.principal.can(p)
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Handler = Arc<dyn Fn(Ctx, RawRequest) -> BoxFuture<Result<Reply, ApiError>> + Send + Sync>;

/// A declared operation, ready to be routed, documented and dispatched.
#[derive(Clone)]
pub struct Operation {
    pub meta: Meta,
    pub path_params: Vec<Param>,
    pub query_params: Vec<Param>,
    /// JSON Schema of the request body, with every `$ref` inlined.
    pub request_schema: Option<Value>,
    /// JSON Schema of the success body (absent for 204).
    pub response_schema: Option<Value>,
    handler: Handler,
}

impl fmt::Debug for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation").field("id", &self.meta.id).finish_non_exhaustive()
    }
}

/// Declares an operation from its meta and a typed handler `f(ctx, path, query, body)`.
///
/// `P`, `Q` and `B` are deserialized from the path parameters, the query string and the JSON body
/// (`()` where the operation takes none); `R` is the success body. Their JSON Schemas document the
/// operation, so documentation and behaviour come from the same types.
pub fn op<P, Q, B, R, F, Fut>(meta: Meta, f: F) -> Operation
where
    P: DeserializeOwned + JsonSchema + Send + 'static,
    Q: DeserializeOwned + JsonSchema + Send + 'static,
    B: DeserializeOwned + JsonSchema + Send + 'static,
    R: Serialize + JsonSchema + 'static,
    F: Fn(Ctx, P, Q, B) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<R, ApiError>> + Send + 'static,
{
    let status = meta.status;
    let handler: Handler = Arc::new(move |ctx: Ctx, raw: RawRequest| {
        Box::pin(async move {
            let path = parse_pairs::<P>(&raw.path, "path parameter")?;
            let query = parse_query::<Q>(&raw.query)?;
            let body = parse_body::<B>(raw.body.as_deref())?;
            let out = f(ctx, path, query, body).await?;
            let body =
                if status == 204 { None } else { Some(serde_json::to_vec(&out).map_err(|e| ApiError::internal(&e))?) };
            Ok(Reply { status, body })
        })
    });
    Operation {
        meta,
        path_params: params_of::<P>(),
        query_params: params_of::<Q>(),
        request_schema: (!is_none::<B>()).then(schema_of::<B>),
        response_schema: (status != 204).then(schema_of::<R>),
        handler,
    }
}

impl Operation {
    /// Runs the operation for a caller: the access check, then input parsing and the handler.
    /// Every transport goes through here, so every caller gets the same checks.
    pub async fn call(
        &self,
        app: AppContext,
        principal: Option<Arc<Principal>>,
        raw: RawRequest,
    ) -> Result<Reply, ApiError> {
        self.call_guarded(app, principal, raw, None).await
    }

    /// [`Operation::call`], with a governing transport's [`WriteGuard`] around every write.
    pub async fn call_guarded(
        &self,
        app: AppContext,
        principal: Option<Arc<Principal>>,
        raw: RawRequest,
        guard: Option<Arc<dyn WriteGuard>>,
    ) -> Result<Reply, ApiError> {
        self.meta.access.check(principal.as_deref())?;
        let principal = match principal {
            Some(p) => p,
            // Public operations never read the principal; give them an empty one.
            None => Arc::new(anonymous()),
        };
        // A write the database rolled back for crossing a concurrent one (PostgreSQL broke a
        // deadlock by aborting it) changed nothing: the handler runs again, unless an earlier
        // write of the same call committed, which running again would repeat.
        let mut attempt = 1;
        loop {
            let wrote = Arc::new(AtomicBool::new(false));
            let ctx =
                Ctx { app: app.clone(), principal: principal.clone(), guard: guard.clone(), wrote: wrote.clone() };
            match (self.handler)(ctx, raw.clone()).await {
                Err(e) if e.is_write_conflict() && !wrote.load(Ordering::Relaxed) && attempt < WRITE_ATTEMPTS => {
                    attempt += 1;
                }
                answer => return answer,
            }
        }
    }

    /// Whether calling it can change data.
    pub fn writes(&self) -> bool {
        self.meta.method != Method::Get
    }

    /// The path parameters (percent-decoded) if `path` matches this operation's template.
    pub fn match_path(&self, path: &str) -> Option<Vec<(String, String)>> {
        let segments: Vec<&str> = path.split('/').collect();
        let template: Vec<&str> = self.meta.path.split('/').collect();
        if template.len() != segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (t, s) in template.iter().zip(&segments) {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !s.is_empty() => {
                    let value = url::form_urlencoded::parse(format!("v={}", s.replace('+', "%2B")).as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())?;
                    params.push((name.to_owned(), value));
                }
                Some(_) => return None,
                None if t == s => {}
                None => return None,
            }
        }
        Some(params)
    }
}

fn anonymous() -> Principal {
    Principal {
        tenant_id: String::new(),
        tenant_slug: String::new(),
        actor: alga_core::identity::Actor::User {
            id: String::new(),
            email: String::new(),
            display_name: String::new(),
        },
        api_key_id: None,
        roles: Vec::new(),
        permissions: Default::default(),
    }
}

fn is_none<T: 'static>() -> bool {
    TypeId::of::<T>() == TypeId::of::<()>()
}

/// JSON Schema 2020-12 of `T`, every subschema inlined (many MCP clients reject `$ref`).
pub fn schema_of<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("title");
        obj.remove("$defs");
    }
    schema
}

/// The properties of an object schema as parameters.
fn params_of<T: JsonSchema + 'static>() -> Vec<Param> {
    if is_none::<T>() {
        return Vec::new();
    }
    let schema = schema_of::<T>();
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, prop)| {
            let mut prop = prop.clone();
            let description = prop
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .and_then(|d| d.as_str().map(str::to_owned))
                .unwrap_or_default();
            Param { name: name.clone(), required: required.contains(&name.as_str()), description, schema: prop }
        })
        .collect()
}

/// PostgreSQL text cannot hold a NUL character, so every input refuses one, on both backends alike.
fn refuse_nul(field: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::validation(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// Whether JSON text escapes a NUL character: `\u0000` whose backslash is not itself escaped.
fn escapes_nul(json: &[u8]) -> bool {
    json.windows(6)
        .enumerate()
        .any(|(i, w)| w == br"\u0000" && json[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0)
}

fn parse_pairs<T: DeserializeOwned + 'static>(pairs: &[(String, String)], what: &str) -> Result<T, ApiError> {
    if is_none::<T>() {
        return serde_json::from_value(Value::Null).map_err(|e| ApiError::internal(&e));
    }
    for (name, value) in pairs {
        refuse_nul(name, value)?;
    }
    let map: Map<String, Value> = pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let field = e.path().to_string();
        ApiError::validation(&field, format!("invalid {what}: {}", e.inner()))
    })
}

fn parse_query<T: DeserializeOwned + 'static>(query: &str) -> Result<T, ApiError> {
    if is_none::<T>() {
        return serde_json::from_value(Value::Null).map_err(|e| ApiError::internal(&e));
    }
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        refuse_nul(&name, &value)?;
    }
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        ApiError::validation(&field, format!("invalid query parameter: {}", e.inner()))
    })
}

fn parse_body<T: DeserializeOwned + 'static>(body: Option<&[u8]>) -> Result<T, ApiError> {
    if is_none::<T>() {
        return serde_json::from_value(Value::Null).map_err(|e| ApiError::internal(&e));
    }
    let bytes = match body {
        Some(b) if !b.iter().all(u8::is_ascii_whitespace) => b,
        _ => return Err(ApiError::validation("body", "a JSON object is required")),
    };
    if escapes_nul(bytes) {
        return Err(ApiError::validation("body", "text must not contain NUL characters (\\u0000)"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::validation(&field, e.inner().to_string())
    })?;
    de.end().map_err(|e| ApiError::validation("body", e.to_string()))?;
    Ok(value)
}

/// Every operation of the API.
#[derive(Debug)]
pub struct Catalog {
    operations: Vec<Operation>,
}

impl Catalog {
    pub fn new(operations: Vec<Operation>) -> Catalog {
        Catalog { operations }
    }

    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    pub fn get(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.meta.id == id)
    }

    /// The operation answering `method path`, with its path parameters (percent-decoded).
    pub fn route(&self, method: Method, path: &str) -> Option<(&Operation, Vec<(String, String)>)> {
        self.operations.iter().filter(|op| op.meta.method == method).find_map(|op| Some((op, op.match_path(path)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_found_in_json_escapes_only() {
        assert!(escapes_nul(br#"{"name":"a\u0000b"}"#));
        assert!(escapes_nul(br#"{"name":"\\\u0000"}"#), "an escaped backslash, then a NUL");
        assert!(!escapes_nul(br#"{"name":"\\u0000"}"#), "the text of an escape, not a NUL");
        assert!(!escapes_nul(br#"{"name":"u0000"}"#));
        assert!(refuse_nul("id", "x\0y").is_err() && refuse_nul("id", "xy").is_ok());
    }
}
