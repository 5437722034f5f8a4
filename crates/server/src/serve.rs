//! `serve`: migrate, listen, and stop gracefully.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use alga_core::migrations::Migrator;
use alga_core::{AppContext, BackgroundTask, DatabaseUrl, Db, PoolOptions};
use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::edition;
use crate::http::{self, Shared};

/// How long each background task gets to finish once asked to stop.
const TASK_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How often idle database connections are trimmed, and how long one may sit idle.
const POOL_TRIM_EVERY: Duration = Duration::from_secs(60);
const POOL_MAX_IDLE: Duration = Duration::from_secs(300);

pub async fn serve(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let url: DatabaseUrl = global.database_url.parse()?;
    let configured_public_url = args.public_url.as_deref().map(parse_public_url).transpose()?;
    let governance = edition::serving(&args);
    let migrator = Arc::new(Migrator::new(&governance.migration_sets())?);

    let options =
        PoolOptions { max_size: args.database_pool_size, timeout: Duration::from_secs(args.database_timeout.max(1)) };
    let db = Db::connect(url, options).await.context("cannot open the database")?;
    let run = migrator.clone();
    let applied = db
        .run(move |conn| run.run_pending(conn).map_err(anyhow::Error::from))
        .await
        .context("cannot migrate the database")?;
    tracing::info!(applied = applied.len(), edition = %governance.edition(), database = %db.url(), "database ready");
    if let Some((key, password)) = db.run(crate::admin::bootstrap).await.context("cannot create the first tenant")? {
        announce_bootstrap(&key, &password)?;
    }

    // Bind before building the app: with port 0 the public URL derives from the real port.
    let listener = TcpListener::bind(args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let bound = listener.local_addr().context("cannot read the bound address")?;
    let public_url = match configured_public_url {
        Some(url) => url,
        None => parse_public_url(&default_public_url(bound))?,
    };
    let mut ctx = AppContext::new(db.clone(), public_url);
    ctx.edition = governance.edition();
    ctx.role_holders = governance.role_holders();
    ctx.hidden_operations = governance.hidden_operations();
    if args.demo {
        let summary = alga_api::demo::seed(&ctx, "default").await.context("cannot add the sample data")?;
        crate::admin::report_demo("default", summary)?;
    }
    let body_deadline = Duration::from_secs(args.body_timeout.max(1));
    governance.register_metrics(&ctx.metrics);
    let metrics_token = args.metrics_token.as_deref().map(alga_core::identity::key_hash);
    let routes = http::routes(governance.as_ref());
    let shared =
        Shared { ctx: ctx.clone(), governance: governance.clone(), migrator, body_deadline, metrics_token, routes };

    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let server = HttpServer::new(move || http::app(shared.clone()))
        .workers(workers.max(1))
        .disable_signals()
        .shutdown_timeout(args.shutdown_timeout)
        .listen(listener)
        .context("cannot start the HTTP server")?
        .run();
    let metrics_server = match args.metrics_bind {
        Some(addr) => {
            let metrics_ctx = ctx.clone();
            let server = HttpServer::new(move || http::metrics_app(metrics_ctx.clone()))
                .workers(1)
                .disable_signals()
                .bind(addr)
                .with_context(|| format!("cannot listen for metrics on {addr}"))?
                .run();
            tracing::info!(address = %addr, "serving metrics");
            Some(server)
        }
        None => None,
    };
    let metrics_handle = metrics_server.as_ref().map(actix_web::dev::Server::handle);
    if let Some(server) = metrics_server {
        tokio::spawn(server);
    }
    if let Some(path) = &args.address_file {
        std::fs::write(path, bound.to_string())
            .with_context(|| format!("cannot write the address file {}", path.display()))?;
    }
    tracing::info!(address = %bound, public_url = %ctx.public_url, workers, "listening");

    let mut tasks = vec![trim_idle_connections(db.clone())];
    tasks.extend(governance.background_tasks(&ctx));
    let tasks = Tasks::start(tasks);

    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => result.context("the HTTP server failed")?,
        signal = shutdown_signal() => {
            tracing::info!(signal, grace_s = args.shutdown_timeout, "stopping: no new connections, finishing in-flight requests");
            // The server future must keep running for the stop command to be processed.
            let (_, result) = tokio::join!(handle.stop(true), &mut server);
            result.context("the HTTP server failed while stopping")?;
        }
    }
    if let Some(handle) = metrics_handle {
        handle.stop(true).await;
    }
    tasks.stop().await;
    db.close();
    tracing::info!("stopped");
    Ok(())
}

/// Shows the bootstrap secrets once, on stdout (logs go to stderr and never carry them).
fn announce_bootstrap(key: &str, password: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "\nFirst start: created tenant `default` and its administrator admin@localhost.\n\
         These secrets are shown once and never again; store them now.\n\
         \n  admin API key:      {key}\n  one-time password:  {password}\n\
         \nThe password signs in admin@localhost to the admin UI (enterprise edition) once, to choose a new\n\
         one; `alga-server user set-password` sets another. The API key is separate and keeps working.\n"
    )?;
    out.flush()?;
    Ok(())
}

/// `http://<bind address>`, with a wildcard address replaced by loopback.
fn default_public_url(bound: SocketAddr) -> String {
    let ip = match bound.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, bound.port()))
}

/// An absolute http(s) URL without query or fragment, stored without a trailing slash.
pub fn parse_public_url(raw: &str) -> anyhow::Result<Url> {
    let mut url = Url::parse(raw.trim()).with_context(|| format!("--public-url `{raw}` is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("--public-url `{raw}` must be an http:// or https:// URL with a host");
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        bail!("--public-url `{raw}` must not carry credentials, a query or a fragment");
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// Resolves with the name of the first stop signal received.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// The server's own housekeeping: close database connections nobody used for a while.
fn trim_idle_connections(db: Db) -> BackgroundTask {
    BackgroundTask {
        name: "database-pool-trim",
        run: Box::new(move |stop: CancellationToken| {
            Box::pin(async move {
                let mut every = tokio::time::interval(POOL_TRIM_EVERY);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = every.tick() => {
                            let closed = db.close_idle(POOL_MAX_IDLE);
                            if closed > 0 {
                                tracing::debug!(closed, "closed idle database connections");
                            }
                        }
                    }
                }
            })
        }),
    }
}

/// Background tasks, each with its own stop token, stopped one by one in reverse start order.
struct Tasks(Vec<(&'static str, CancellationToken, tokio::task::JoinHandle<()>)>);

impl Tasks {
    fn start(tasks: Vec<BackgroundTask>) -> Tasks {
        Tasks(
            tasks
                .into_iter()
                .map(|task| {
                    let stop = CancellationToken::new();
                    let handle = tokio::spawn((task.run)(stop.clone()));
                    tracing::debug!(task = task.name, "background task started");
                    (task.name, stop, handle)
                })
                .collect(),
        )
    }

    async fn stop(self) {
        for (name, stop, handle) in self.0.into_iter().rev() {
            stop.cancel();
            let abort = handle.abort_handle();
            match tokio::time::timeout(TASK_STOP_TIMEOUT, handle).await {
                Ok(Ok(())) => tracing::debug!(task = name, "background task stopped"),
                Ok(Err(e)) => tracing::error!(task = name, error = %e, "background task failed"),
                Err(_) => {
                    abort.abort();
                    tracing::warn!(task = name, "background task did not stop in time; aborted");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_default_public_url_follows_the_bound_address() {
        assert_eq!(default_public_url("0.0.0.0:8080".parse().unwrap()), "http://127.0.0.1:8080");
        assert_eq!(default_public_url("[::]:80".parse().unwrap()), "http://[::1]:80");
        assert_eq!(default_public_url("10.1.2.3:9".parse().unwrap()), "http://10.1.2.3:9");
    }

    #[test]
    fn public_urls_are_checked_and_normalised() {
        assert_eq!(parse_public_url("https://psa.example.com/").unwrap().as_str(), "https://psa.example.com/");
        assert_eq!(parse_public_url("https://example.com/alga/").unwrap().as_str(), "https://example.com/alga");
        for bad in ["ftp://x", "psa.example.com", "https://x/?a=1", "https://u:p@x", "https://x/#f"] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }
}
