//! The HTTP application: shared middleware and the route table (the edition's routes, the
//! catalog's, health and metrics).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpMessage, HttpResponse, web};
use alga_core::error::{self, ApiError};
use alga_core::migrations::Migrator;
use alga_core::{AppContext, McpGovernance, RouteTable};
use serde_json::json;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Everything the app factory needs; cloned into each worker.
#[derive(Clone)]
pub struct Shared {
    pub ctx: AppContext,
    pub governance: Arc<dyn McpGovernance>,
    pub migrator: Arc<Migrator>,
    /// How long a request's body may take to arrive in full (`--body-timeout`).
    pub body_deadline: Duration,
    /// SHA-256 of `--metrics-token`: with it, the main listener serves `/metrics` to its bearer.
    pub metrics_token: Option<String>,
    /// Every route served: [`routes`] of the governance.
    pub routes: RouteTable,
}

/// Every route the server serves, in the order they are matched: the edition's first (its paths
/// under `/api/v1/mcp/` must win over any `/api/v1` pattern), then the catalog's, then health and
/// metrics. The app is built from this table alone; `alga-server routes` lists it.
pub fn routes(governance: &dyn McpGovernance) -> RouteTable {
    let mut table = governance.routes();
    table.extend(alga_api::http::routes(&alga_api::catalog()));
    table.get("/healthz", healthz).get("/readyz", readyz).get("/metrics", metrics_with_token);
    table
}

/// [`Shared::body_deadline`], for the middleware.
#[derive(Clone, Copy, Debug)]
struct BodyDeadline(Duration);

/// Builds the application for one worker.
pub fn app(
    shared: Shared,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let Shared { ctx, governance, migrator, body_deadline, metrics_token, routes } = shared;
    App::new()
        .app_data(web::Data::new(ctx))
        .app_data(web::Data::new(MetricsToken(metrics_token)))
        .app_data(web::Data::new(migrator))
        .app_data(BodyDeadline(body_deadline))
        .app_data(web::PayloadConfig::new(error::MAX_JSON_BODY))
        .app_data(error::json_config())
        .app_data(error::path_config())
        .app_data(error::query_config())
        .wrap(error::json_error_pages())
        .wrap(from_fn(request_span))
        .configure(move |cfg| governance.app_data(cfg))
        .configure(move |cfg| routes.configure(cfg))
        .default_service(web::to(error::no_route))
}

/// The metrics listener's app (`--metrics-bind`): `/metrics` and nothing else.
pub fn metrics_app(
    ctx: AppContext,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(ctx))
        .route("/metrics", web::get().to(metrics))
        .default_service(web::to(error::no_route))
}

/// [`Shared::metrics_token`], for the handler.
struct MetricsToken(Option<String>);

async fn metrics(ctx: web::Data<AppContext>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(ctx.metrics.render(&ctx.db))
}

/// `/metrics` on the main listener: only with `--metrics-token`, and only to its bearer.
async fn metrics_with_token(
    req: actix_web::HttpRequest,
    ctx: web::Data<AppContext>,
    token: web::Data<MetricsToken>,
) -> Result<HttpResponse, ApiError> {
    let Some(expected) = &token.0 else { return Err(error::no_route(req).await) };
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Equality of SHA-256 digests: nothing usable leaks through timing.
    if alga_core::identity::key_hash(presented) != *expected {
        return Err(ApiError::unauthorized("The metrics token is missing or wrong (Authorization: Bearer)."));
    }
    Ok(metrics(ctx).await)
}

/// Accepts a caller's request id when it is short and plain; otherwise makes a new one.
fn request_id_of(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .filter(|v| v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Most bytes a request's target and headers may take together (the HTTP parser's own limit is
/// 128 KiB). Room for a 16 KiB token, well short of what a parser of every request should hold.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

fn head_bytes(req: &ServiceRequest) -> usize {
    let target = req.uri().path().len() + req.uri().query().map_or(0, str::len);
    target + req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>()
}

/// The request's body, cut off with an error at `deadline`; `timed_out` tells it happened.
fn with_deadline(
    payload: actix_web::dev::Payload,
    deadline: tokio::time::Instant,
    timed_out: Arc<AtomicBool>,
) -> actix_web::dev::Payload {
    use actix_web::error::PayloadError;
    use futures_util::StreamExt;
    let stream = futures_util::stream::unfold(Some(payload), move |state| {
        let timed_out = timed_out.clone();
        async move {
            let mut payload = state?;
            match tokio::time::timeout_at(deadline, payload.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(payload))),
                Ok(None) => None,
                Err(_) => {
                    timed_out.store(true, Ordering::Relaxed);
                    let late = std::io::Error::new(std::io::ErrorKind::TimedOut, "the request body arrived too slowly");
                    Some((Err(PayloadError::Io(late)), None))
                }
            }
        }
    });
    actix_web::dev::Payload::Stream { payload: Box::pin(stream) }
}

/// One span per request carrying its id, a log line when it ends, and `x-request-id` on the answer.
async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = request_id_of(&req);
    req.extensions_mut().insert(alga_core::context::RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    let timed_out = Arc::new(AtomicBool::new(false));
    let (http, payload) = req.into_parts();
    // A body that trickles in must not hold its connection forever.
    let allowed = http.app_data::<BodyDeadline>().map_or(Duration::from_secs(30), |d| d.0);
    let deadline = tokio::time::Instant::now() + allowed;
    let req = ServiceRequest::from_parts(http, with_deadline(payload, deadline, timed_out.clone()));
    let mut res = if head_bytes(&req) > MAX_HEAD_BYTES {
        use actix_web::ResponseError;
        let e = ApiError::new(
            actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("The request's target and headers are larger than {} KiB.", MAX_HEAD_BYTES / 1024),
        );
        req.into_response(e.error_response())
    } else {
        // Handler errors arrive here as responses already; an Err is a failure of the stack itself.
        next.call(req).instrument(span.clone()).await?.map_into_boxed_body()
    };
    if timed_out.load(Ordering::Relaxed) {
        use actix_web::ResponseError;
        let e = ApiError::new(
            actix_web::http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("The request body did not arrive within {} s.", allowed.as_secs()),
        );
        res = ServiceResponse::new(res.request().clone(), e.error_response());
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(ctx) = res.request().app_data::<web::Data<AppContext>>() {
        let route = res.request().match_pattern();
        ctx.metrics.observe_request(res.request().method().as_str(), route.as_deref(), status, elapsed.as_secs_f64());
    }
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| tracing::info!(status, elapsed_us = micros, "request finished"));
    Ok(res)
}

/// The process is up.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Why the readiness probe failed, for the log only.
#[derive(Debug)]
struct ReadyError(String);

impl std::fmt::Display for ReadyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<alga_core::DbError> for ReadyError {
    fn from(e: alga_core::DbError) -> Self {
        ReadyError(e.to_string())
    }
}

/// How long readiness waits for the database before answering 503.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The database answers and holds every migration this binary needs.
async fn readyz(ctx: web::Data<AppContext>, migrator: web::Data<Arc<Migrator>>) -> Result<HttpResponse, ApiError> {
    let migrator = migrator.get_ref().clone();
    let check = ctx.db.run(move |conn| migrator.pending_count(conn).map_err(|e| ReadyError(e.to_string())));
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(0)) => Ok(HttpResponse::Ok().json(json!({ "status": "ready" }))),
        Ok(Ok(pending)) => {
            Err(ApiError::unavailable(format!("{pending} database migrations are pending; run `alga-server migrate`.")))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            Err(ApiError::unavailable("The database is not reachable."))
        }
        Err(_) => Err(ApiError::unavailable("The database did not answer in time.")),
    }
}
