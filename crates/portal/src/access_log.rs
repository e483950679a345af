//! The inspectors' access log: every recorded read of a payload across the whole ledger (who,
//! in which role, what was read, when), newest first, a page at a time, filtered by municipality
//! or by reader, and the same list as CSV (streamed in parts, never loaded whole).
//!
//! The rows come from `Store::payload_read_log`, keyset-paginated on the audit id: any page costs
//! the same however long the log is. Showing the log reads no payload, so it records no read.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::{Deserialize, Serialize};

use insyn_domain::access;
use insyn_ledger::entry::{Actor, Body};
use insyn_ledger::id::MunicipalityCode;
use insyn_store::accounts as store_accounts;
use insyn_store::{MAX_PAGE, ReadLogQuery, ReadLogRecord};

use crate::csv::{Cell, Csv};
use crate::error::{Error, percent_encode};
use crate::extract::QueryParams;
use crate::format;
use crate::i18n::Language;
use crate::pages::render;
use crate::paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Pager};
use crate::session::{CurrentUser, LoggedIn};
use crate::state::PortalState;

/// `?municipality=0180&reader=anna&before=123&per_page=50`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AccessLogQuery {
    municipality: Option<String>,
    reader: Option<String>,
    before: Option<u64>,
    per_page: Option<u64>,
}

/// One read as the page and the CSV show it.
#[derive(Debug, Serialize)]
struct ReadRow {
    id: i64,
    at: i64,
    /// The reader as a person reads it: `Name (username)` for a portal account, else the
    /// recorded reference.
    who: String,
    /// The recorded reference (`account:3`, `credential:2`).
    reference: String,
    role: String,
    municipality: Option<String>,
    what: String,
    /// The report page to link to (a report, or the report a review comment is about).
    report: Option<i64>,
    /// The review entry, for a review comment (the link's fragment).
    review: Option<i64>,
    /// The provider page to link to (organisation number digits).
    provider: Option<String>,
    /// A note that other entries sign the same contents, when they do.
    also_in: Option<String>,
    payload: String,
}

/// Where a row links to.
enum Link {
    None,
    Report(u64),
    Review { report: u64, review: u64 },
    Provider(String),
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn store_error(e: insyn_store::StoreError) -> Error {
    Error::Internal(format!("store: {e}"))
}

fn require(user: &CurrentUser) -> Result<(), Error> {
    if access::can_see_access_log(&user.role()) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// The filters as the store takes them: the municipality parsed, the reader resolved (a
/// username becomes its `account:N` reference). `Ok(None)` when the reader names no account,
/// so nothing can match.
async fn filters(state: &PortalState, query: &AccessLogQuery) -> Result<Option<Filters>, Error> {
    let municipality = match query.municipality.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<MunicipalityCode>()
                .map_err(|e| Error::BadRequest(format!("municipality: {e}")))?,
        ),
    };
    let typed = query.reader.as_deref().map(str::trim).unwrap_or_default();
    let reader = if typed.is_empty() {
        None
    } else if typed.contains(':') {
        if typed.len() > 128 || !typed.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Error::BadRequest("reader: not a reference".into()));
        }
        Some(typed.to_owned())
    } else {
        let Ok(username) = crate::accounts::normalize_username(typed) else {
            return Ok(None);
        };
        match store_accounts::find_account_by_username(state.db(), &username).await? {
            Some((account, _)) => Some(format!("account:{}", account.id)),
            None => return Ok(None),
        }
    };
    Ok(Some(Filters {
        municipality,
        reader,
        typed_reader: typed.to_owned(),
    }))
}

struct Filters {
    municipality: Option<MunicipalityCode>,
    reader: Option<String>,
    typed_reader: String,
}

/// Turns store rows into rows people read; `names` caches account names across calls.
async fn rows(
    state: &PortalState,
    lang: Language,
    records: Vec<ReadLogRecord>,
    names: &mut HashMap<i32, String>,
) -> Result<Vec<ReadRow>, Error> {
    let ui = state.ui();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let reference = r.read.reader.who.clone();
        let who = match reference
            .strip_prefix("account:")
            .and_then(|n| n.parse::<i32>().ok())
        {
            Some(id) => {
                if let Some(name) = names.get(&id) {
                    name.clone()
                } else {
                    let name = match store_accounts::find_account(state.db(), id).await? {
                        Some(a) => format!("{} ({})", a.display_name, a.username),
                        None => reference.clone(),
                    };
                    names.insert(id, name.clone());
                    name
                }
            }
            None => reference.clone(),
        };
        let role = match r.read.reader.role.as_str() {
            known @ ("auditor" | "inspector" | "administrator" | "provider") => {
                ui.translate(lang, &format!("role.{known}"))?
            }
            other => other.to_owned(),
        };
        let n = |v: u64| v.to_string();
        let (what, link, municipality) = match (&r.entry, &r.report) {
            (Some(e), Some(report)) => {
                let key = if report.supersedes.is_some() {
                    "access_log.what_correction"
                } else {
                    "access_log.what_report"
                };
                (
                    ui.translate_with(
                        lang,
                        key,
                        &[
                            ("contract", report.contract.reference.as_str().to_owned()),
                            ("period", report.period.to_string()),
                            ("index", n(e.index)),
                        ],
                    )?,
                    Link::Report(e.index),
                    Some(report.contract.municipality),
                )
            }
            (Some(e), None) => {
                let signer = match e.entry.statement().actor() {
                    Actor::Municipality(m) => Some(*m),
                    _ => None,
                };
                match e.entry.statement().body() {
                    Body::ReportReviewed { report, .. } => (
                        ui.translate_with(
                            lang,
                            "access_log.what_review",
                            &[("report", n(*report)), ("index", n(e.index))],
                        )?,
                        Link::Review {
                            report: *report,
                            review: e.index,
                        },
                        signer,
                    ),
                    Body::ProviderRegistered { provider } => (
                        ui.translate_with(
                            lang,
                            "access_log.what_provider",
                            &[("provider", provider.to_string()), ("index", n(e.index))],
                        )?,
                        Link::Provider(provider.digits().to_owned()),
                        signer,
                    ),
                    Body::ContractRegistered { contract, .. } => (
                        ui.translate_with(
                            lang,
                            "access_log.what_contract",
                            &[
                                ("contract", contract.reference.as_str().to_owned()),
                                ("index", n(e.index)),
                            ],
                        )?,
                        Link::None,
                        Some(contract.municipality),
                    ),
                    _ => (
                        ui.translate_with(lang, "access_log.what_entry", &[("index", n(e.index))])?,
                        Link::None,
                        signer,
                    ),
                }
            }
            (None, _) => (
                ui.translate(lang, "access_log.what_unknown")?,
                Link::None,
                None,
            ),
        };
        out.push(ReadRow {
            id: i64::try_from(r.read.id).unwrap_or(i64::MAX),
            at: i64::try_from(r.read.at_ms).unwrap_or(i64::MAX),
            who,
            reference,
            role,
            municipality: municipality.map(|m| format!("{} ({})", m.name(), m.code())),
            what,
            report: match link {
                Link::Report(i) | Link::Review { report: i, .. } => Some(int(i)),
                _ => None,
            },
            review: match link {
                Link::Review { review, .. } => Some(int(review)),
                _ => None,
            },
            provider: match link {
                Link::Provider(p) => Some(p),
                _ => None,
            },
            also_in: match r.also_in {
                0 => None,
                n => Some(ui.translate_with(
                    lang,
                    "access_log.also_in",
                    &[("count", format::number(int(n), lang))],
                )?),
            },
            payload: hex::encode(r.read.payload),
        });
    }
    Ok(out)
}

/// The query string that keeps the filters, URL-encoded.
fn keep(query: &AccessLogQuery) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(m) = query
        .municipality
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        out.push(("municipality", percent_encode(m.trim())));
    }
    if let Some(r) = query.reader.as_deref().filter(|s| !s.trim().is_empty()) {
        out.push(("reader", percent_encode(r.trim())));
    }
    out
}

fn url(path: &str, params: &[(&str, String)]) -> String {
    if params.is_empty() {
        path.to_owned()
    } else {
        let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{path}?{}", q.join("&"))
    }
}

/// `GET /access-log`: inspectors only.
pub(crate) async fn access_log(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    QueryParams(query): QueryParams<AccessLogQuery>,
) -> Result<Response, Error> {
    require(&user)?;
    let municipalities: Vec<(String, String)> = state
        .replica()
        .read(state.store(), |s| {
            s.ledger
                .registry
                .municipalities()
                .into_iter()
                .map(|m| (m.code().to_owned(), format!("{} ({})", m.name(), m.code())))
                .collect()
        })
        .await?
        .unwrap_or_default();
    let limit = query
        .per_page
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let filters = filters(&state, &query).await?;
    let (shown, pager, unknown_reader) = match &filters {
        None => (
            Vec::new(),
            Pager::new("/access-log", Default::default(), None, &[]),
            true,
        ),
        Some(f) => {
            let records = state
                .store()
                .payload_read_log(&ReadLogQuery {
                    reader: f.reader.clone(),
                    municipality: f.municipality,
                    before: query.before,
                    limit: limit + 1,
                })
                .await
                .map_err(store_error)?;
            let has_more = records.len() as u64 > limit;
            let records: Vec<ReadLogRecord> = records
                .into_iter()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .collect();
            let last = records.last().map(|r| r.read.id);
            let mut params = keep(&query);
            if limit != DEFAULT_PAGE_SIZE {
                params.push(("per_page", limit.to_string()));
            }
            let pager = Pager {
                first: query.before.is_some().then(|| url("/access-log", &params)),
                next: last.filter(|_| has_more).map(|id| {
                    let mut p = params.clone();
                    p.push(("before", id.to_string()));
                    url("/access-log", &p)
                }),
            };
            let mut names = HashMap::new();
            (
                rows(&state, ctx.lang, records, &mut names).await?,
                pager,
                false,
            )
        }
    };
    let csv_url = url("/access-log.csv", &keep(&query));
    render(
        &state,
        &ctx,
        StatusCode::OK,
        "access_log.html",
        context! {
            municipalities => municipalities,
            chosen => filters.as_ref().and_then(|f| f.municipality).map(|m| m.code().to_owned()),
            reader => filters.as_ref().map(|f| f.typed_reader.clone()).or(query.reader.clone()).unwrap_or_default(),
            unknown_reader => unknown_reader,
            reads => shown,
            pager => pager,
            csv_url => csv_url,
            older_page => query.before.is_some(),
        },
    )
}

/// `GET /access-log.csv`: the whole filtered log, newest first, streamed a page at a time.
pub(crate) async fn access_log_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    QueryParams(query): QueryParams<AccessLogQuery>,
) -> Result<Response, Error> {
    require(&user)?;
    let filters = filters(&state, &query).await?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let header = Csv::new([
        t("access_log.when")?,
        t("access_log.who")?,
        t("access_log.reference")?,
        t("access_log.role")?,
        t("access_log.municipality")?,
        t("access_log.what")?,
        t("access_log.payload")?,
    ]);
    tracing::info!(account = user.account.id, "access log exported as CSV");
    struct Cursor {
        state: PortalState,
        lang: Language,
        filters: Option<Filters>,
        before: Option<u64>,
        header: Option<Csv>,
        done: bool,
        names: HashMap<i32, String>,
    }
    let cursor = Cursor {
        state,
        lang: ctx.lang,
        filters,
        before: query.before,
        header: Some(header),
        done: false,
        names: HashMap::new(),
    };
    let parts = futures_util::stream::unfold(cursor, |mut c| async move {
        if let Some(header) = c.header.take() {
            return Some((Ok(header.into_string()), c));
        }
        if c.done {
            return None;
        }
        let Some(f) = &c.filters else {
            return None;
        };
        let page = c
            .state
            .store()
            .payload_read_log(&ReadLogQuery {
                reader: f.reader.clone(),
                municipality: f.municipality,
                before: c.before,
                limit: MAX_PAGE,
            })
            .await;
        let records = match page {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "access log CSV: store");
                c.done = true;
                return Some((Err(std::io::Error::other("store")), c));
            }
        };
        if records.is_empty() {
            return None;
        }
        c.done = (records.len() as u64) < MAX_PAGE;
        c.before = records.last().map(|r| r.read.id);
        let rows = match rows(&c.state, c.lang, records, &mut c.names).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "access log CSV: rows");
                c.done = true;
                return Some((Err(std::io::Error::other("rows")), c));
            }
        };
        let mut csv = Csv::continuation();
        for r in rows {
            csv.row([
                Cell::from(
                    format::from_unix_ms(r.at)
                        .map(format::datetime)
                        .unwrap_or_default(),
                ),
                Cell::from(r.who),
                Cell::from(r.reference),
                Cell::from(r.role),
                Cell::from(r.municipality.unwrap_or_default()),
                Cell::from(match &r.also_in {
                    Some(note) => format!("{} {note}", r.what),
                    None => r.what.clone(),
                }),
                Cell::from(r.payload),
            ]);
        }
        Some((Ok(csv.into_string()), c))
    });
    Ok(crate::csv::download_stream("insyn-atkomstlogg.csv", parts))
}
