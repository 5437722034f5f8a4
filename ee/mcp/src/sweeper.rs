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
    BackgroundTask {
        name: "api-key sweeper",
        run: Box::new(move |stop: CancellationToken| {
            Box::pin(async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(every) => {}
                    }
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
        }),
    }
}

/// How often approvals past their expiry are marked expired, and the pending count measured.
pub const APPROVAL_SWEEP: Duration = Duration::from_secs(30);

/// Marks approvals past their expiry as expired and sets the gauge of those waiting, every
/// `every`.
pub fn approval_task(ctx: &AppContext, every: Duration, pending: Gauge) -> BackgroundTask {
    let db = ctx.db.clone();
    BackgroundTask {
        name: "approval sweeper",
        run: Box::new(move |stop: CancellationToken| {
            Box::pin(async move {
                loop {
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
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(every) => {}
                    }
                }
            })
        }),
    }
}
