//! The overview of one municipality: its contracted providers, each contract's reporting status
//! per month (badges), costs invoiced against the budget, charts of the main figures over time
//! (each with its table), anomaly flags, and the same table as CSV.
//!
//! An auditor sees their own municipality; an inspector chooses any registered municipality.
//! The page shows the last [`MONTHS`] months. It reads the figures of the latest version of each
//! month's report, which records a payload read per report shown.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::{Deserialize, Serialize};

use insyn_domain::access::Role;
use insyn_domain::calendar;
use insyn_domain::rules::ContractInfo;
use insyn_domain::status::{self, ContractStatus, ContractTerms, ReportEvent, ReviewEvent};
use insyn_ledger::id::{MunicipalityCode, Period};
use insyn_store::StoredEntry;

use super::{data_role, ms, read_report, store_error};
use crate::chart::{Chart, ChartKind, Series, Unit};
use crate::csv::{Cell, Csv};
use crate::error::Error;
use crate::extract::QueryParams;
use crate::format;
use crate::pages::render;
use crate::session::{CurrentUser, LoggedIn};
use crate::state::PortalState;

/// Months shown.
pub(crate) const MONTHS: u32 = 12;

/// `?municipality=0180`.
#[derive(Debug, Deserialize)]
pub(crate) struct OverviewQuery {
    municipality: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FlagView {
    code: &'static str,
    /// Message key of the flag's title.
    key: String,
    pub(crate) explanation: String,
}

#[derive(Debug, Clone, Serialize)]
struct PeriodView {
    period: String,
    state: &'static str,
    state_key: String,
    report: Option<i64>,
    late_days: Option<i64>,
    invoiced: Option<i64>,
    budget_share: i64,
    flags: Vec<FlagView>,
}

#[derive(Debug, Clone, Serialize)]
struct ContractView {
    reference: String,
    provider: String,
    provider_digits: String,
    first: String,
    last: String,
    budget: i64,
    invoiced: i64,
    budget_for_months_invoiced: i64,
    months_invoiced: u32,
    periods: Vec<PeriodView>,
    flags: Vec<FlagView>,
}

pub(crate) fn flag_code(code: status::FlagCode) -> &'static str {
    use status::FlagCode as F;
    match code {
        F::CostsOverBudget => "costs_over_budget",
        F::CumulativeCostsOverBudget => "cumulative_costs_over_budget",
        F::CaseloadJump => "caseload_jump",
        F::SeriousDeviationsNotReported => "serious_deviations_not_reported",
        F::RelocationsWithoutSupport => "relocations_without_support",
        F::CostsWithoutParticipants => "costs_without_participants",
    }
}

pub(crate) fn flags(list: &[status::Flag]) -> Vec<FlagView> {
    list.iter()
        .map(|f| FlagView {
            code: flag_code(f.code),
            key: format!("flag.{}", flag_code(f.code)),
            explanation: f.explanation.clone(),
        })
        .collect()
}

/// The month `n` months before `p`.
fn months_before(p: Period, n: u32) -> Period {
    let total = i64::from(p.year()) * 12 + i64::from(p.month()) - 1 - i64::from(n);
    let year = u16::try_from(total.div_euclid(12)).unwrap_or(2000);
    let month = u8::try_from(total.rem_euclid(12) + 1).unwrap_or(1);
    Period::new(year, month).unwrap_or(p)
}

/// The months shown: the last [`MONTHS`] up to the current one.
fn window(now: time::OffsetDateTime) -> Vec<Period> {
    let Some(current) = calendar::period_at(now) else {
        return Vec::new();
    };
    months_before(current, MONTHS - 1)
        .through(current)
        .collect()
}

/// One contract's status over the window, with figures from the payloads the user may read.
struct ContractData {
    info: ContractInfo,
    status: ContractStatus,
}

/// Everything the overview shows for municipality `m`.
struct Overview {
    contracts: Vec<ContractData>,
    window: Vec<Period>,
    /// Sum of active participants per month (latest versions).
    active: BTreeMap<Period, i64>,
}

/// The municipality the page is about: the auditor's own; the inspector's choice.
fn municipality_for(role: &Role, asked: Option<&str>) -> Result<Option<MunicipalityCode>, Error> {
    let asked = match asked.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<MunicipalityCode>()
                .map_err(|e| Error::BadRequest(format!("municipality: {e}")))?,
        ),
        None => None,
    };
    match role {
        Role::Auditor(own) => match asked {
            Some(m) if m != *own => Err(Error::Forbidden),
            _ => Ok(Some(*own)),
        },
        Role::Inspector => Ok(asked),
        _ => Err(Error::Forbidden),
    }
}

async fn load(
    state: &PortalState,
    user: &CurrentUser,
    m: MunicipalityCode,
) -> Result<Overview, Error> {
    let now = format::from_unix_ms(state.now_ms()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let window = window(now);
    let contracts: Vec<(ContractInfo, Vec<ReportEvent>, Vec<ReviewEvent>)> = state
        .replica()
        .read(state.store(), |s| {
            s.ledger
                .registry
                .contracts()
                .filter(|(_, c)| c.contract.municipality == m)
                .map(|(_, c)| {
                    (
                        c.clone(),
                        s.reports_of(&c.contract).to_vec(),
                        s.review_events_of(&c.contract),
                    )
                })
                .collect()
        })
        .await?
        .unwrap_or_default();
    let (Some(first), Some(last)) = (window.first().copied(), window.last().copied()) else {
        return Err(Error::Internal("empty window".to_owned()));
    };
    let mut out = Vec::new();
    let mut active: BTreeMap<Period, i64> = BTreeMap::new();
    for (info, mut reports, reviews) in contracts {
        // The latest version of each month in the window: read its figures (recorded).
        let mut latest: BTreeMap<Period, usize> = BTreeMap::new();
        for (i, r) in reports.iter().enumerate() {
            if r.period >= first && r.period <= last {
                latest.insert(r.period, i);
            }
        }
        for (period, i) in latest {
            let stored: Option<StoredEntry> = state
                .store()
                .entry(reports[i].index)
                .await
                .map_err(store_error)?;
            let Some(sha) = stored.and_then(|e| e.entry.statement().payload_sha256()) else {
                continue;
            };
            if let Some(report) = read_report(state.store(), user, &sha).await? {
                *active.entry(period).or_insert(0) += i64::from(report.caseload.active);
                reports[i].report = Some(Box::new(report));
            }
        }
        let terms = ContractTerms {
            first: info.first,
            last: info.last,
            budget: info.budget,
        };
        let status = status::contract_status(&terms, &reports, &reviews, now);
        out.push(ContractData { info, status });
    }
    Ok(Overview {
        contracts: out,
        window,
        active,
    })
}

fn contract_view(c: &ContractData, window: &[Period]) -> ContractView {
    let periods = c
        .status
        .periods
        .iter()
        .filter(|p| window.contains(&p.period))
        .rev()
        .map(|p| PeriodView {
            period: p.period.to_string(),
            state: p.state.as_str(),
            state_key: format!("status.{}", p.state.as_str()),
            report: p.latest.map(ms),
            late_days: match p.timeliness {
                Some(status::Timeliness::Late { days }) => Some(i64::from(days)),
                _ => None,
            },
            invoiced: p.invoiced.map(ms),
            budget_share: p.budget_share,
            flags: flags(&p.flags),
        })
        .collect();
    ContractView {
        reference: c.info.contract.reference.as_str().to_owned(),
        provider: c.info.provider.to_string(),
        provider_digits: c.info.provider.digits().to_owned(),
        first: c.info.first.to_string(),
        last: c.info.last.to_string(),
        budget: c.info.budget.0,
        invoiced: ms(c.status.budget.invoiced),
        budget_for_months_invoiced: c.status.budget.budget_for_months_invoiced,
        months_invoiced: c.status.budget.months_invoiced,
        periods,
        flags: flags(&c.status.flags),
    }
}

/// `GET /overview`.
pub(crate) async fn overview(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    QueryParams(query): QueryParams<OverviewQuery>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let chosen = municipality_for(&role, query.municipality.as_deref())?;
    let municipalities: Vec<(String, String)> = if role == Role::Inspector {
        state
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
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let Some(m) = chosen else {
        return render(
            &state,
            &ctx,
            StatusCode::OK,
            "overview.html",
            context! {
                inspector => true,
                municipalities => municipalities,
                chosen => None::<String>,
            },
        );
    };
    let data = load(&state, &user, m).await?;
    let contracts: Vec<ContractView> = data
        .contracts
        .iter()
        .map(|c| contract_view(c, &data.window))
        .collect();
    let mut providers: Vec<(String, String)> = data
        .contracts
        .iter()
        .map(|c| {
            (
                c.info.provider.digits().to_owned(),
                c.info.provider.to_string(),
            )
        })
        .collect();
    providers.sort();
    providers.dedup();

    // Charts: invoiced against budget, and active participants, per month (all contracts).
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let categories: Vec<String> = data.window.iter().map(ToString::to_string).collect();
    let axis_labels: Vec<String> = data
        .window
        .iter()
        .map(|p| format!("{}/{}", p.month(), p.year() % 100))
        .collect();
    let mut invoiced = Vec::new();
    let mut budget = Vec::new();
    for p in &data.window {
        let mut inv: Option<i64> = None;
        let mut bud = 0i64;
        for c in &data.contracts {
            if let Some(ps) = c.status.period(*p) {
                bud = bud.saturating_add(ps.budget_share);
                if let Some(v) = ps.invoiced {
                    inv = Some(inv.unwrap_or(0).saturating_add(ms(v)));
                }
            }
        }
        invoiced.push(inv);
        budget.push(Some(bud));
    }
    let costs_chart = Chart {
        kind: ChartKind::Bar,
        id: "costs".to_owned(),
        title: t("overview.chart_costs_title")?,
        description: t("overview.chart_costs_description")?,
        category_label: t("overview.month")?,
        categories: categories.clone(),
        axis_labels: axis_labels.clone(),
        series: vec![
            Series {
                name: t("overview.invoiced")?,
                values: invoiced,
            },
            Series {
                name: t("overview.budget_share")?,
                values: budget,
            },
        ],
        unit: Unit::Sek,
    }
    .render(ctx.lang);
    let active_chart = Chart {
        kind: ChartKind::Line,
        id: "active".to_owned(),
        title: t("overview.chart_active_title")?,
        description: t("overview.chart_active_description")?,
        category_label: t("overview.month")?,
        categories,
        axis_labels,
        series: vec![Series {
            name: t("overview.active")?,
            values: data
                .window
                .iter()
                .map(|p| data.active.get(p).copied())
                .collect(),
        }],
        unit: Unit::Count,
    }
    .render(ctx.lang);

    render(
        &state,
        &ctx,
        StatusCode::OK,
        "overview.html",
        context! {
            inspector => role == Role::Inspector,
            municipalities => municipalities,
            chosen => m.code(),
            municipality => format!("{} ({})", m.name(), m.code()),
            providers => providers,
            contracts => contracts,
            costs_chart => costs_chart,
            active_chart => active_chart,
            months => MONTHS,
        },
    )
}

/// `GET /overview.csv`: the per-month table of every contract of the municipality (for an
/// inspector who has not chosen one: of every registered municipality).
pub(crate) async fn overview_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    QueryParams(query): QueryParams<OverviewQuery>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let chosen = municipality_for(&role, query.municipality.as_deref())?;
    let municipalities = match chosen {
        Some(m) => vec![m],
        None => state
            .replica()
            .read(state.store(), |s| s.ledger.registry.municipalities())
            .await?
            .unwrap_or_default(),
    };
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("overview.municipality")?,
        t("overview.contract")?,
        t("overview.provider")?,
        t("overview.month")?,
        t("overview.status")?,
        t("overview.report")?,
        t("overview.invoiced")?,
        t("overview.budget_share")?,
        t("overview.flags")?,
    ]);
    for m in &municipalities {
        let data = load(&state, &user, *m).await?;
        for c in &data.contracts {
            let v = contract_view(c, &data.window);
            for p in v.periods {
                csv.row([
                    Cell::from(m.code()),
                    Cell::from(v.reference.clone()),
                    Cell::from(v.provider.clone()),
                    Cell::from(p.period),
                    Cell::from(t(&p.state_key)?),
                    p.report.map_or(Cell::from(""), Cell::Int),
                    p.invoiced.map_or(Cell::from(""), Cell::Int),
                    Cell::Int(p.budget_share),
                    Cell::from(
                        p.flags
                            .iter()
                            .map(|f| f.explanation.clone())
                            .collect::<Vec<_>>()
                            .join(" | "),
                    ),
                ]);
            }
        }
    }
    let name = match chosen {
        Some(m) => format!("insyn-oversikt-{}.csv", m.code()),
        None => "insyn-oversikt.csv".to_owned(),
    };
    Ok(csv.into_download(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_before_crosses_years() {
        let p = Period::new(2026, 3).expect("period");
        assert_eq!(months_before(p, 0), p);
        assert_eq!(months_before(p, 2), Period::new(2026, 1).expect("period"));
        assert_eq!(months_before(p, 3), Period::new(2025, 12).expect("period"));
        assert_eq!(months_before(p, 14), Period::new(2025, 1).expect("period"));
    }
}
