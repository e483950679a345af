//! The inspectors' ledger page: the log's identity, its latest checkpoint with cosignatures, and
//! its size over the last 30 days (chart and table). Reads only checkpoints, never entries, so
//! the page costs the same for any size of ledger.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;
use time::{Date, OffsetDateTime, Time};

use insyn_domain::access;

use crate::chart::{Chart, ChartKind, Series, Unit};
use crate::error::Error;
use crate::format;
use crate::pages::render;
use crate::session::LoggedIn;
use crate::state::PortalState;

/// Days shown in the size chart.
const DAYS: i64 = 30;

#[derive(Debug, Serialize)]
struct CosignatureView {
    witness: String,
    received_at: i64,
}

fn ms(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// The UTC instant of Swedish local midnight starting `date`.
fn local_midnight(date: Date) -> OffsetDateTime {
    let utc_midnight = date.with_time(Time::MIDNIGHT).assume_utc();
    // The offset in force a little before local midnight (CET/CEST never change at midnight).
    let offset = format::stockholm_time(utc_midnight - time::Duration::hours(2)).offset();
    utc_midnight - time::Duration::seconds(i64::from(offset.whole_seconds()))
}

fn store_error(e: insyn_store::StoreError) -> Error {
    Error::Internal(format!("store: {e}"))
}

/// `GET /ledger`: inspectors only.
pub(crate) async fn ledger(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    if !access::can_verify_ledger(&user.role()) {
        return Err(Error::Forbidden);
    }
    let store = state.store();
    let identity = store.log_identity().await.map_err(store_error)?;
    let latest = store.latest_checkpoint().await.map_err(store_error)?;
    let cosignatures: Vec<CosignatureView> = match &latest {
        Some(c) => store
            .cosignatures(c.size)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|c| CosignatureView {
                witness: c.witness,
                received_at: i64::try_from(c.received_at_ms).unwrap_or(i64::MAX),
            })
            .collect(),
        None => Vec::new(),
    };

    // The size at the last checkpoint of each of the last 30 Swedish days; a day without a new
    // checkpoint is a gap (the size did not change, or nothing was published).
    let now = format::from_unix_ms(state.now_ms()).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let today = format::stockholm_time(now).date();
    let mut categories = Vec::new();
    let mut axis_labels = Vec::new();
    let mut sizes = Vec::new();
    for back in (0..DAYS).rev() {
        let Some(day) = today.checked_sub(time::Duration::days(back)) else {
            continue;
        };
        let start = local_midnight(day);
        let end = day.next_day().map_or(now, local_midnight).min(now);
        let page = store
            .checkpoints_between(ms(start), ms(end).max(ms(start)))
            .await
            .map_err(store_error)?;
        categories.push(format::date_iso(day));
        axis_labels.push(format!("{}/{}", day.day(), u8::from(day.month())));
        sizes.push(
            page.iter()
                .map(|c| c.size)
                .max()
                .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        );
    }
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let chart = Chart {
        kind: ChartKind::Line,
        id: "ledger-size".to_owned(),
        title: t("ledger.size_title")?,
        description: t("ledger.size_description")?,
        category_label: t("ledger.day")?,
        categories,
        axis_labels,
        series: vec![Series {
            name: t("ledger.entries")?,
            values: sizes,
        }],
        unit: Unit::Count,
    }
    .render(ctx.lang);

    render(
        &state,
        &ctx,
        StatusCode::OK,
        "ledger.html",
        context! {
            origin => identity.as_ref().map(|i| i.origin.clone()),
            verifier_key => identity.as_ref().map(|i| i.verifier_key.clone()),
            checkpoint_size => latest.as_ref().map(|c| i64::try_from(c.size).unwrap_or(i64::MAX)),
            checkpoint_at => latest.as_ref().map(|c| i64::try_from(c.created_at_ms).unwrap_or(i64::MAX)),
            checkpoint_note => latest.as_ref().map(|c| c.note.clone()),
            cosignatures => cosignatures,
            chart => chart,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn local_midnight_follows_summer_time() {
        // Winter: midnight in Stockholm is 23:00 UTC the day before.
        assert_eq!(
            local_midnight(date!(2026 - 01 - 15)),
            date!(2026 - 01 - 14)
                .with_hms(23, 0, 0)
                .expect("time")
                .assume_utc()
        );
        // Summer: 22:00 UTC.
        assert_eq!(
            local_midnight(date!(2026 - 07 - 01)),
            date!(2026 - 06 - 30)
                .with_hms(22, 0, 0)
                .expect("time")
                .assume_utc()
        );
    }
}
