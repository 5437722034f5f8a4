//! Deletes expired and revoked API keys and expired admin sessions, and marks approvals past
//! their expiry as expired, on a schedule.

use std::time::Duration;

use alga_core::db::write_transaction;
use alga_core::identity::now;
use alga_core::schema::api_keys;
use alga_core::{ApiError, AppContext, BackgroundTask};
use diesel::prelude::*;
use prometheus_client::metrics::gauge::Gauge;
use tokio_util::sync::CancellationToken;

/// Deletes every key that is revoked or past its expiry; returns how many.
pub fn sweep(conn: &mut alga_core::DbConn) -> Result<usize, ApiError> {
    write_transaction(conn, |conn| {
        Ok(diesel::delete(
            api_keys::table.filter(api_keys::revoked_at.is_not_null().or(api_keys::expires_at.lt(now()))),
        )
        .execute(conn)?)
    })
}

pub fn task(ctx: &AppContext, every: Duration) -> BackgroundTask {
    let db = ctx.db.clone();
    repeat("api-key sweeper", every, false, move || {
        let db = db.clone();
        async move {
            match db.run(sweep).await {
                Ok(swept) => tracing::info!(swept, "expired and revoked API keys swept"),
                Err(e) => tracing::warn!(error = %e, "sweeping API keys failed"),
            }
            match db.run(crate::session::sweep).await {
                Ok(swept) => tracing::info!(swept, "expired admin sessions swept"),
                Err(e) => tracing::warn!(error = %e, "sweeping admin sessions failed"),
            }
        }
    })
}

/// A task doing `work` every `every` until stopped (first at once when `now`, else after one
/// interval).
fn repeat<W, F>(name: &'static str, every: Duration, now: bool, work: W) -> BackgroundTask
where
    W: Fn() -> F + Send + 'static,
    F: std::future::Future<Output = ()> + Send,
{
    BackgroundTask {
        name,
        run: Box::new(move |stop: CancellationToken| {
            Box::pin(async move {
                if now {
                    work().await;
                }
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(every) => {}
                    }
                    work().await;
                }
            })
        }),
    }
}

/// How often approvals past their expiry are marked expired, and the pending count measured.
pub const APPROVAL_SWEEP: Duration = Duration::from_secs(30);

/// Marks approvals past their expiry as expired and sets the gauge of those waiting, every
/// `every`.
pub fn approval_task(ctx: &AppContext, every: Duration, pending: Gauge) -> BackgroundTask {
    let db = ctx.db.clone();
    repeat("approval sweeper", every, true, move || {
        let (db, pending) = (db.clone(), pending.clone());
        async move {
            let sweep = |conn: &mut alga_core::DbConn| {
                let expired = crate::approval::store::expire_due(conn, now())?;
                Ok::<_, crate::approval::store::ApprovalError>((
                    expired,
                    crate::approval::store::pending_total(conn, now())?,
                ))
            };
            match db.run(sweep).await {
                Ok((expired, waiting)) => {
                    if expired > 0 {
                        tracing::info!(expired, "approvals past their expiry marked expired");
                    }
                    pending.set(waiting);
                }
                Err(e) => tracing::warn!(error = %e, "sweeping approvals failed"),
            }
        }
    })
}
