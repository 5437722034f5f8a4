//! Deletes expired and revoked API keys and expired admin sessions, and marks approvals past
//! their expiry as expired, on a schedule.

use std::time::Duration;

use alga_core::db::write_transaction;
use alga_core::identity::now;
use alga_core::schema::api_keys;
use alga_core::{ApiError, AppContext, BackgroundTask};
use diesel::prelude::*;
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
                    let expire = |conn: &mut alga_core::DbConn| crate::approval::store::expire_due(conn, now());
                    match db.run(expire).await {
                        Ok(expired) => tracing::info!(expired, "approvals past their expiry marked expired"),
                        Err(e) => tracing::warn!(error = %e, "expiring approvals failed"),
                    }
                }
            })
        }),
    }
}
