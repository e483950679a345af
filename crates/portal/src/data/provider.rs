//! A provider's page: its contracts, its keys and their history (added and revoked at which
//! entries), all its reports (paginated, and as CSV), and the review questions still open.
//! Shows no payload, so it records no read.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;

use insyn_domain::access::Role;
use insyn_domain::rules::ContractInfo;
use insyn_domain::status;
use insyn_ledger::entry::{Actor, Kind};
use insyn_ledger::id::OrgNumber;
use insyn_store::{Page, ReportQuery, ReportRecord};

use super::replica::ReviewRecord;
use super::{data_role, may_see_provider, ms, store_error};
use crate::csv::{Cell, Csv};
use crate::error::Error;
use crate::extract::{PathParam, QueryParams};
use crate::pages::render;
use crate::paging::PageQuery;
use crate::session::LoggedIn;
use crate::state::PortalState;

#[derive(Debug, Clone, Serialize)]
struct ContractView {
    municipality: String,
    reference: String,
    first: String,
    last: String,
    budget: i64,
    registered_at: i64,
}

#[derive(Debug, Clone, Serialize)]
struct KeyView {
    key_id: String,
    added_at: i64,
    revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
struct ReportRow {
    index: i64,
    municipality: String,
    contract: String,
    period: String,
    corrected: bool,
    supersedes: Option<i64>,
    review: Option<&'static str>,
    review_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct QuestionView {
    report: i64,
    review: i64,
    contract: String,
    period: String,
}

/// What the replica says about a provider, for a role that may see it.
struct ProviderData {
    contracts: Vec<ContractInfo>,
    keys: Vec<KeyView>,
    questions: Vec<QuestionView>,
    registered_by: Vec<String>,
}

fn parse_org(s: &str) -> Result<OrgNumber, Error> {
    s.parse().map_err(|_| Error::NotFound)
}

/// The provider's data, and the latest reviews that are questions (not yet checked for being
/// still open).
type Found = (ProviderData, Vec<ReviewRecord>);

async fn provider_data(
    state: &PortalState,
    role: &Role,
    org: &OrgNumber,
) -> Result<ProviderData, Error> {
    let found: Option<Option<Result<Found, Error>>> = state
        .replica()
        .read(state.store(), |s| {
            let registry = &s.ledger.registry;
            let info = registry.provider(org)?;
            let contracting = registry.contracting_municipalities(org);
            if !may_see_provider(role, org, &contracting) {
                return Some(Err(Error::Forbidden));
            }
            let contracts: Vec<ContractInfo> = info
                .contracts
                .iter()
                .filter_map(|n| registry.contract_info(*n).cloned())
                .collect();
            let keys = s
                .keys_of(&Actor::Provider(*org))
                .iter()
                .filter_map(|id| s.ledger.keys.key(id).map(|r| (id, r)))
                .map(|(id, r)| KeyView {
                    key_id: id.to_string(),
                    added_at: ms(r.added_at),
                    revoked_at: r.revoked_at.map(ms),
                })
                .collect();
            let questions = s.questions_by(&contracting);
            Some(Ok((
                ProviderData {
                    contracts,
                    keys,
                    questions: Vec::new(),
                    registered_by: info
                        .registered_by
                        .iter()
                        .map(|m| format!("{} ({})", m.name(), m.code()))
                        .collect(),
                },
                questions,
            )))
        })
        .await?;
    let (mut data, questions) = found.flatten().ok_or(Error::NotFound)??;
    data.questions = open_questions(state, &data.contracts, questions).await?;
    Ok(data)
}

/// The questions still open on the provider's reports: a question is open while it is the
/// latest review of the latest version of its report (a correction or a later decision closes
/// it). `questions` are the latest reviews that are questions, by the contracting municipalities.
async fn open_questions(
    state: &PortalState,
    contracts: &[ContractInfo],
    questions: Vec<ReviewRecord>,
) -> Result<Vec<QuestionView>, Error> {
    let reports: Vec<u64> = questions.iter().map(|q| q.report).collect();
    let records = state
        .store()
        .reports_at(&reports)
        .await
        .map_err(store_error)?;
    let mut out = Vec::new();
    for record in records {
        if !contracts.iter().any(|c| c.contract == record.contract) {
            continue;
        }
        let versions = state
            .store()
            .report_versions(&record.contract, record.period)
            .await
            .map_err(store_error)?;
        if versions.last().map(|v| v.index) != Some(record.index) {
            continue;
        }
        if let Some(review) = questions.iter().find(|q| q.report == record.index) {
            out.push(QuestionView {
                report: ms(record.index),
                review: ms(review.index),
                contract: record.contract.to_string(),
                period: record.period.to_string(),
            });
        }
    }
    Ok(out)
}

/// The last review decision of each report row, from the replica.
async fn report_rows(state: &PortalState, rows: &[ReportRecord]) -> Result<Vec<ReportRow>, Error> {
    let rows = state
        .replica()
        .read(state.store(), |s| {
            rows.iter()
                .map(|r| ReportRow {
                    index: ms(r.index),
                    municipality: r.contract.municipality.code().to_owned(),
                    contract: r.contract.reference.as_str().to_owned(),
                    period: r.period.to_string(),
                    corrected: r.kind == Kind::ReportCorrected,
                    supersedes: r.supersedes.map(ms),
                    review: s
                        .reviews_of(r.index)
                        .last()
                        .map(|v| status::decision_name(v.decision)),
                    review_key: s
                        .reviews_of(r.index)
                        .last()
                        .map(|v| format!("review.decision.{}", status::decision_name(v.decision))),
                })
                .collect()
        })
        .await?;
    Ok(rows.unwrap_or_default())
}

/// `GET /providers/{org}`.
pub(crate) async fn provider_page(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    PathParam(org): PathParam<String>,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let org = parse_org(&org)?;
    let data = provider_data(&state, &role, &org).await?;
    let rows = state
        .store()
        .reports(
            &ReportQuery {
                provider: Some(org),
                ..ReportQuery::default()
            },
            page.store_page(),
        )
        .await
        .map_err(store_error)?;
    let path = format!("/providers/{}", org.digits());
    let (rows, pager) = page.split(rows, |r| r.index, &path, &[]);
    let reports = report_rows(&state, &rows).await?;
    let contracts = contract_views(&data);
    render(
        &state,
        &ctx,
        StatusCode::OK,
        "provider.html",
        context! {
            provider => org.to_string(),
            provider_digits => org.digits(),
            registered_by => data.registered_by,
            contracts => contracts,
            keys => data.keys,
            questions => data.questions,
            reports => reports,
            pager => pager,
        },
    )
}

fn contract_views(data: &ProviderData) -> Vec<ContractView> {
    data.contracts
        .iter()
        .map(|c| ContractView {
            municipality: format!(
                "{} ({})",
                c.contract.municipality.name(),
                c.contract.municipality.code()
            ),
            reference: c.contract.reference.as_str().to_owned(),
            first: c.first.to_string(),
            last: c.last.to_string(),
            budget: c.budget.0,
            registered_at: ms(c.registered_at),
        })
        .collect()
}

/// `GET /providers/{org}/contracts.csv`: the provider's contracts, as the page's table shows them.
pub(crate) async fn provider_contracts_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    PathParam(org): PathParam<String>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let org = parse_org(&org)?;
    let data = provider_data(&state, &role, &org).await?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("overview.contract")?,
        t("overview.municipality")?,
        t("overview.contract_period")?,
        t("overview.budget")?,
        t("provider.registered_at")?,
    ]);
    for c in contract_views(&data) {
        csv.row([
            Cell::from(c.reference),
            Cell::from(c.municipality),
            Cell::from(format!("{} – {}", c.first, c.last)),
            Cell::Int(c.budget),
            Cell::Int(c.registered_at),
        ]);
    }
    Ok(csv.into_download(&format!("insyn-avtal-{}.csv", org.digits())))
}

/// `GET /providers/{org}/keys.csv`: the provider's keys and their history, as the page's table
/// shows them (the entries that added and revoked each key).
pub(crate) async fn provider_keys_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    PathParam(org): PathParam<String>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let org = parse_org(&org)?;
    let data = provider_data(&state, &role, &org).await?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("provider.key_id")?,
        t("provider.added_at")?,
        t("provider.revoked")?,
    ]);
    for k in data.keys {
        csv.row([
            Cell::from(k.key_id),
            Cell::Int(k.added_at),
            k.revoked_at.map_or(Cell::from(""), Cell::Int),
        ]);
    }
    Ok(csv.into_download(&format!("insyn-nycklar-{}.csv", org.digits())))
}

/// `GET /providers/{org}/reports.csv`: every report of the provider.
pub(crate) async fn provider_reports_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    PathParam(org): PathParam<String>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let org = parse_org(&org)?;
    provider_data(&state, &role, &org).await?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("provider.report_index")?,
        t("overview.municipality")?,
        t("overview.contract")?,
        t("overview.month")?,
        t("provider.kind")?,
        t("provider.corrects")?,
        t("provider.review")?,
    ]);
    let query = ReportQuery {
        provider: Some(org),
        ..ReportQuery::default()
    };
    let mut after = None;
    loop {
        let rows = state
            .store()
            .reports(&query, Page { after, limit: 1000 })
            .await
            .map_err(store_error)?;
        let Some(last) = rows.last().map(|r| r.index) else {
            break;
        };
        for r in report_rows(&state, &rows).await? {
            csv.row([
                Cell::Int(r.index),
                Cell::from(r.municipality),
                Cell::from(r.contract),
                Cell::from(r.period),
                Cell::from(t(if r.corrected {
                    "provider.kind_corrected"
                } else {
                    "provider.kind_submitted"
                })?),
                r.supersedes.map_or(Cell::from(""), Cell::Int),
                match r.review {
                    Some(d) => Cell::from(t(&format!("review.decision.{d}"))?),
                    None => Cell::from(""),
                },
            ]);
        }
        after = Some(last);
    }
    Ok(csv.into_download(&format!("insyn-rapporter-{}.csv", org.digits())))
}
