//! The inspectors' ledger page: the log's identity, its latest checkpoint with cosignatures, its
//! size over the last 30 days (chart and table), and the full verification (`crate::verification`):
//! the button that starts it, its status page with progress (works without JavaScript; a small
//! static script updates it in place), and the result in plain language. The ledger page reads
//! only checkpoints, never entries, so it costs the same for any size of ledger.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use serde::Deserialize;
use serde::Serialize;
use time::{Date, OffsetDateTime, Time};

use insyn_domain::access;

use crate::chart::{Chart, ChartKind, Series, Unit};
use crate::csv::{Cell, Csv};
use crate::error::Error;
use crate::extract::QueryParams;
use crate::format;
use crate::pages::render;
use crate::session::LoggedIn;
use crate::state::PortalState;
use crate::verification::{FINDINGS_SHOWN, Outcome, Run, Starter};

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

/// The cosignatures of the checkpoint `latest`.
async fn cosignatures_of(
    state: &PortalState,
    latest: Option<&insyn_store::CheckpointRecord>,
) -> Result<Vec<CosignatureView>, Error> {
    Ok(match latest {
        Some(c) => state
            .store()
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
    })
}

/// The size at the last checkpoint of each of the last [`DAYS`] Swedish days, oldest first; a
/// day without a new checkpoint is a gap (the size did not change, or nothing was published).
/// One bounded query per day: the cost does not grow with the ledger.
async fn size_by_day(state: &PortalState) -> Result<Vec<(Date, Option<i64>)>, Error> {
    let now = format::from_unix_ms(state.now_ms()).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let today = format::stockholm_time(now).date();
    let mut out = Vec::new();
    for back in (0..DAYS).rev() {
        let Some(day) = today.checked_sub(time::Duration::days(back)) else {
            continue;
        };
        let start = local_midnight(day);
        let end = day.next_day().map_or(now, local_midnight).min(now);
        let page = state
            .store()
            .checkpoints_between(ms(start), ms(end).max(ms(start)))
            .await
            .map_err(store_error)?;
        out.push((
            day,
            page.iter()
                .map(|c| c.size)
                .max()
                .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        ));
    }
    Ok(out)
}

/// `GET /ledger/size.csv`: the size table of the ledger page (a day without a checkpoint has
/// an empty cell).
pub(crate) async fn size_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    require_verifier(&user)?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([t("ledger.day")?, t("ledger.entries")?]);
    for (day, size) in size_by_day(&state).await? {
        csv.row([
            Cell::from(format::date_iso(day)),
            size.map_or(Cell::from(""), Cell::from),
        ]);
    }
    Ok(csv.into_download("insyn-liggarens-storlek.csv"))
}

/// `GET /ledger/cosignatures.csv`: the latest checkpoint's cosignatures, as the ledger page
/// lists them, with the signature lines.
pub(crate) async fn cosignatures_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    require_verifier(&user)?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("ledger.witness")?,
        t("ledger.size")?,
        t("ledger.received")?,
        t("ledger.cosignature_line")?,
    ]);
    let store = state.store();
    if let Some(cp) = store.latest_checkpoint().await.map_err(store_error)? {
        for c in store.cosignatures(cp.size).await.map_err(store_error)? {
            csv.row([
                Cell::from(c.witness),
                Cell::from(int(c.checkpoint_size)),
                Cell::from(
                    format::from_unix_ms(int(c.received_at_ms))
                        .map(format::datetime)
                        .unwrap_or_default(),
                ),
                Cell::from(c.signature.trim_end().to_owned()),
            ]);
        }
    }
    Ok(csv.into_download("insyn-medsignaturer.csv"))
}

/// `GET /ledger`: inspectors only.
pub(crate) async fn ledger(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    require_verifier(&user)?;
    let store = state.store();
    let identity = store.log_identity().await.map_err(store_error)?;
    let latest = store.latest_checkpoint().await.map_err(store_error)?;
    let cosignatures = cosignatures_of(&state, latest.as_ref()).await?;
    let days = size_by_day(&state).await?;
    let categories = days.iter().map(|(d, _)| format::date_iso(*d)).collect();
    let axis_labels = days
        .iter()
        .map(|(d, _)| format!("{}/{}", d.day(), u8::from(d.month())))
        .collect();
    let sizes = days.iter().map(|(_, s)| *s).collect();
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
            verification => state.verifications().latest().map(|r| run_view(&r)),
        },
    )
}

/// A finding as the templates show it.
#[derive(Debug, Serialize)]
struct FindingRow {
    index: Option<i64>,
    /// Message key of the plain-language explanation.
    what: String,
    detail: String,
}

/// A verification run as the templates and the status JSON show it.
#[derive(Debug, Serialize)]
pub(crate) struct RunView {
    id: u64,
    started_by: String,
    started_at: i64,
    running: bool,
    finished_at: Option<i64>,
    /// Message key of the phase while running.
    phase: &'static str,
    total: Option<i64>,
    /// The `max` of the page's `<progress>` (positive, as HTML requires).
    progress_max: i64,
    checked: i64,
    percent: i64,
    /// `verified`, `problems` or `not_run` once finished.
    result: Option<&'static str>,
    size: Option<i64>,
    root: Option<String>,
    count: Option<i64>,
    first_bad: Option<i64>,
    elapsed_seconds: Option<i64>,
    /// Message key of why it could not run.
    reason: Option<String>,
    findings: Vec<FindingRow>,
    /// Whether the CSV holds more findings than the page shows.
    findings_more: bool,
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn run_view(run: &Run) -> RunView {
    let progress = run.progress();
    let total = progress.total();
    let finished = run.finished();
    let mut view = RunView {
        id: run.id,
        started_by: run.started_by_name.clone(),
        started_at: run.started_at_ms,
        running: finished.is_none(),
        finished_at: finished.as_ref().map(|(at, _)| *at),
        phase: if total.is_none() {
            "verification.phase_checkpoint"
        } else {
            "verification.phase_entries"
        },
        total: total.map(int),
        progress_max: total.map_or(100, |t| int(t.max(1))),
        checked: int(progress.checked()),
        percent: match total {
            Some(0) => 100,
            Some(t) => int(progress.checked().saturating_mul(100) / t),
            None => 0,
        },
        result: None,
        size: None,
        root: None,
        count: None,
        first_bad: None,
        elapsed_seconds: None,
        reason: None,
        findings: Vec::new(),
        findings_more: false,
    };
    match finished.map(|(_, o)| o) {
        None => {}
        Some(Outcome::Verified {
            size,
            root,
            elapsed_ms,
        }) => {
            view.result = Some("verified");
            view.size = Some(int(size));
            view.checked = int(size);
            view.percent = 100;
            view.root = Some(root);
            view.elapsed_seconds = Some(int(elapsed_ms.div_ceil(1000)));
        }
        Some(Outcome::Problems {
            size,
            root,
            count,
            first_bad,
            findings,
        }) => {
            view.result = Some("problems");
            view.size = Some(int(size));
            view.root = Some(root);
            view.count = Some(int(count));
            view.first_bad = first_bad.map(int);
            view.findings_more = findings.len() > FINDINGS_SHOWN;
            view.findings = findings
                .into_iter()
                .take(FINDINGS_SHOWN)
                .map(|f| FindingRow {
                    index: f.index.map(int),
                    what: format!("verification.finding.{}", f.kind),
                    detail: f.detail,
                })
                .collect();
        }
        Some(Outcome::NotRun { reason }) => {
            view.result = Some("not_run");
            view.reason = Some(format!("verification.not_run.{reason}"));
        }
    }
    view
}

fn require_verifier(user: &crate::session::CurrentUser) -> Result<(), Error> {
    if access::can_verify_ledger(&user.role()) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// `POST /ledger/verify`: starts the full verification, or shows the one already running.
pub(crate) async fn start_verification(
    State(state): State<PortalState>,
    LoggedIn { user, .. }: LoggedIn,
) -> Result<Response, Error> {
    require_verifier(&user)?;
    let clock = state.clock().clone();
    let (run, started) = state.verifications().start(
        state.store(),
        Starter {
            reference: format!("account:{}", user.account.id),
            name: format!("{} ({})", user.account.display_name, user.account.username),
            now_ms: state.now_ms(),
        },
        move || clock.now_ms(),
    );
    if !started {
        tracing::info!(
            run = run.id,
            asked_by = user.account.id,
            "a verification is already running; showing it"
        );
    }
    Ok(crate::pages::see_other("/ledger/verification"))
}

/// `?auto=1`: the visitor asked for the page to reload itself while the run lasts.
#[derive(Debug, Deserialize)]
pub(crate) struct StatusQuery {
    auto: Option<String>,
}

/// `GET /ledger/verification`: the latest run's progress or result.
pub(crate) async fn verification_page(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    QueryParams(query): QueryParams<StatusQuery>,
) -> Result<Response, Error> {
    require_verifier(&user)?;
    let run = state.verifications().latest().map(|r| run_view(&r));
    let running = run.as_ref().is_some_and(|r| r.running);
    render(
        &state,
        &ctx,
        StatusCode::OK,
        "verification.html",
        context! {
            verification => run,
            auto_refresh => running && query.auto.is_some_and(|a| a == "1"),
            script_url => Value::from_safe_string(state.assets().url("verification.js")),
        },
    )
}

/// `GET /ledger/verification/status`: the latest run's progress as JSON, for the status page's
/// script. The text is the page's sentence in the visitor's language.
pub(crate) async fn verification_status(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    require_verifier(&user)?;
    let Some(run) = state.verifications().latest() else {
        return Ok(Json(serde_json::json!({ "run": null })).into_response());
    };
    let view = run_view(&run);
    let ui = state.ui();
    let text = match view.total {
        Some(total) => ui.translate_with(
            ctx.lang,
            "verification.progress",
            &[
                ("checked", format::number(view.checked, ctx.lang)),
                ("total", format::number(total, ctx.lang)),
                ("percent", view.percent.to_string()),
            ],
        )?,
        None => ui.translate(ctx.lang, view.phase)?,
    };
    Ok(Json(serde_json::json!({
        "run": view.id,
        "running": view.running,
        "checked": view.checked,
        "total": view.total,
        "percent": view.percent,
        "text": text,
    }))
    .into_response())
}

/// `GET /ledger/verification/findings.csv`: every finding of the latest finished run that the
/// engine kept, with the plain-language explanation and the engine's own words.
pub(crate) async fn verification_findings_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    require_verifier(&user)?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("verification.finding_entry")?,
        t("verification.finding_what")?,
        t("verification.finding_detail")?,
    ]);
    let findings = match state
        .verifications()
        .latest()
        .and_then(|r| r.finished())
        .map(|(_, o)| o)
    {
        Some(Outcome::Problems { findings, .. }) => findings,
        _ => Vec::new(),
    };
    for f in findings {
        csv.row([
            f.index.map_or(Cell::from(""), |i| Cell::from(int(i))),
            Cell::from(t(&format!("verification.finding.{}", f.kind))?),
            Cell::from(f.detail),
        ]);
    }
    Ok(csv.into_download("insyn-verifiering.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    /// The running state of the status page (an integration test rarely catches a run in it):
    /// a labelled progress bar, a status region, the update link, the script, and a refresh
    /// only when asked for.
    #[test]
    fn the_running_page_shows_progress_and_refreshes_only_on_request() {
        let ui = crate::render::Ui::embedded().expect("templates");
        let run = Run::running_for_test(5000, 10 * 256);
        let view = run_view(&run);
        assert!(view.running);
        assert_eq!(view.checked, 6 * 256);
        assert_eq!(view.percent, 30);
        let render = |auto: bool| {
            ui.render(
                "verification.html",
                context! {
                    lang => "sv",
                    csrf_token => "token",
                    path => "/ledger/verification",
                    css_url => "/static/portal.css",
                    favicon_url => "/static/favicon.svg",
                    languages => Vec::<String>::new(),
                    verification => run_view(&run),
                    auto_refresh => auto,
                    script_url => Value::from_safe_string("/static/verification.js".into()),
                },
            )
            .expect("render")
        };
        let html = render(false);
        assert!(
            html.contains("<label for=\"verification-progress\">Förlopp</label>"),
            "{html}"
        );
        assert!(
            html.contains("max=\"5000\" value=\"1536\">30 %</progress>"),
            "{html}"
        );
        assert!(html.contains(
            "<p id=\"verification-progress-text\" role=\"status\">Minst 1\u{a0}536 av 5\u{a0}000 poster kontrollerade (30 %).</p>"
        ), "{html}");
        assert!(
            html.contains("<script src=\"/static/verification.js\" defer></script>"),
            "{html}"
        );
        assert!(!html.contains("http-equiv=\"refresh\""));
        assert!(html.contains("href=\"/ledger/verification?auto=1\""));
        let html = render(true);
        assert!(html.contains(
            "<meta http-equiv=\"refresh\" content=\"5; url=/ledger/verification?auto=1\">"
        ));
        assert!(html.contains("Sluta uppdatera automatiskt"));
    }

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
