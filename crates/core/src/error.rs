//! The one JSON error envelope every HTTP answer uses:
//! `{"error":{"code":"…","message":"…","details":…}}`.
//!
//! Internal causes are logged with `tracing` where the error is made and never serialised.

use std::fmt;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use crate::db::DbError;

/// An error answered to an HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// A 400 naming the field at fault, with the same in `details.fields` for programs.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(StatusCode::BAD_REQUEST, "validation_error", format!("{field}: {message}"))
            .with_details(json!({ "fields": [{ "field": field, "message": message }] }))
    }

    /// 409 with `conflict`'s message when `e` is a unique-key violation; otherwise as any
    /// database error.
    pub fn from_unique(e: diesel::result::Error, conflict: impl FnOnce() -> String) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::conflict(conflict()),
            other => Self::from(other),
        }
    }

    /// 409 with `in_use`'s message when `e` is a foreign-key violation (deleting something still
    /// referenced); otherwise as any database error.
    pub fn from_in_use(e: diesel::result::Error, in_use: impl FnOnce() -> String) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => Self::conflict(in_use()),
            other => Self::from(other),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A write the database rolled back because it crossed a concurrent one (a deadlock or a
    /// serialization failure): nothing of it committed, so it may run again.
    pub fn write_conflict() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            WRITE_CONFLICT,
            "The write crossed a concurrent one and was rolled back; try again.",
        )
    }

    /// Whether this is [`ApiError::write_conflict`].
    pub fn is_write_conflict(&self) -> bool {
        self.code == WRITE_CONFLICT
    }

    /// The community build's answer on every governance route.
    pub fn enterprise_feature() -> Self {
        Self::new(StatusCode::NOT_FOUND, "enterprise_feature", "The MCP server is an Enterprise feature.")
    }

    /// A failure the client cannot act on. The cause is logged here and never sent.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "An internal error occurred.")
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn body(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = &self.details {
            error["details"] = details.clone();
        }
        json!({ "error": error })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        HttpResponse::build(self.status).json(self.body())
    }
}

/// Lets a handler answer with an error directly (`async fn stub() -> ApiError`).
impl actix_web::Responder for ApiError {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse<BoxBody> {
        self.error_response()
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(cause = %e, "database unavailable");
            return ApiError::unavailable("The database is not reachable; try again shortly.");
        }
        if e.is_write_conflict() {
            tracing::info!(cause = %e, "a write crossed a concurrent one");
            return ApiError::write_conflict();
        }
        match e {
            DbError::Query(diesel::result::Error::NotFound) => ApiError::not_found("Not found."),
            other => ApiError::internal(&other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::from(DbError::Query(e))
    }
}

/// The code of [`ApiError::write_conflict`].
const WRITE_CONFLICT: &str = "write_conflict";

/// The largest JSON body any route accepts.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// JSON body extraction answering with the envelope: 413 over the limit, 415 for a body that is
/// not JSON, 400 naming the problem otherwise.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(MAX_JSON_BODY).error_handler(|err, _req| {
        use actix_web::error::JsonPayloadError as E;
        let api = match &err {
            E::OverflowKnownLength { .. } | E::Overflow { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The request body exceeds {MAX_JSON_BODY} bytes."),
            ),
            E::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The request body must be JSON (Content-Type: application/json).",
            ),
            E::Deserialize(e) => ApiError::bad_request(format!("Invalid JSON body: {e}")),
            other => ApiError::bad_request(format!("Invalid request body: {other}")),
        };
        actix_web::error::InternalError::from_response(err, api.error_response()).into()
    })
}

/// Path parameters that do not parse answer 404: the resource named cannot exist.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let api = ApiError::not_found("Not found.");
        actix_web::error::InternalError::from_response(err, api.error_response()).into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let api = ApiError::bad_request(format!("Invalid query string: {err}"));
        actix_web::error::InternalError::from_response(err, api.error_response()).into()
    })
}

/// The answer for a path no route matches.
pub async fn no_route(req: HttpRequest) -> ApiError {
    ApiError::not_found(format!("No route for {} {}.", req.method(), req.path()))
}

/// Turns any error response that is not already JSON (actix's own 405s, payload errors, …)
/// into the envelope, so clients see one error shape.
pub fn json_error_pages<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let (code, message) = match status {
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "This method is not allowed on this path."),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The request body is too large."),
            StatusCode::NOT_FOUND => ("not_found", "Not found."),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "The request took too long to arrive."),
            s if s.is_server_error() => ("internal", "An internal error occurred."),
            _ => ("bad_request", "The request could not be processed."),
        };
        let body = ApiError::new(status, code, message).body().to_string();
        let (req, mut res) = res.into_parts();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let res = res.set_body(body);
        Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, res).map_into_boxed_body().map_into_right_body()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let e = ApiError::bad_request("nope").with_details(json!({"field": "title"}));
        assert_eq!(
            e.body(),
            json!({"error": {"code": "bad_request", "message": "nope", "details": {"field": "title"}}})
        );
        assert_eq!(
            ApiError::enterprise_feature().body(),
            json!({"error": {"code": "enterprise_feature", "message": "The MCP server is an Enterprise feature."}})
        );
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let e = ApiError::internal(&"password authentication failed for user alga");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.body().to_string().contains("password"));
    }
}
