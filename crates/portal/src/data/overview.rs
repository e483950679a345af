//! The overview of one municipality: its contracted providers, each contract's reporting status
//! per month (badges), costs invoiced against the budget, charts of the main figures over time
//! (each with its table), anomaly flags, and the same table as CSV.
//!
//! An auditor sees their own municipality; an inspector chooses any registered municipality.
//! The page shows the last [`MONTHS`] months. It reads the figures of the latest version of each
//! month's report, which records a payload read per report shown.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::{Deserialize, Serialize};

use insyn_domain::access::Role;
use insyn_domain::calendar;
use insyn_domain::report::validate_report;
use insyn_domain::rules::ContractInfo;
use insyn_domain::status::{self, ContractStatus, ContractTerms, ReportEvent, ReviewEvent};
use insyn_ledger::entry::ContractRef;
use insyn_ledger::id::{MunicipalityCode, Period};
use insyn_store::{MAX_CONTRACTS, MonthFigures, PayloadContent};

use super::{data_role, ms, reader, store_error};
use crate::chart::{Chart, ChartKind, Series, Unit};
use crate::csv::{Cell, Csv};
use crate::error::Error;
use crate::extract::QueryParams;
use crate::format;
use crate::pages::render;
use crate::paging::PageQuery;
use crate::session::{CurrentUser, LoggedIn};
use crate::state::PortalState;

/// Months shown.
pub(crate) const MONTHS: u32 = 12;

/// `?municipality=0180&after=1234&per_page=50`: the municipality, and the page of its contracts
/// (by the leaf index of their registration).
#[derive(Debug, Deserialize)]
pub(crate) struct OverviewQuery {
    municipality: Option<String>,
    after: Option<u64>,
    per_page: Option<u64>,
}

impl OverviewQuery {
    fn page(&self) -> PageQuery {
        PageQuery {
            after: self.after,
            per_page: self.per_page,
        }
    }
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

/// The municipality's contracts in log order (the replica's registry holds every registration).
async fn contracts_of(
    state: &PortalState,
    m: MunicipalityCode,
) -> Result<Vec<ContractInfo>, Error> {
    Ok(state
        .replica()
        .read(state.store(), |s| {
            s.ledger
                .registry
                .contracts()
                .filter(|(_, c)| c.contract.municipality == m)
                .map(|(_, c)| c.clone())
                .collect::<Vec<_>>()
        })
        .await?
        .unwrap_or_default())
}

/// The status of `contracts` (at most [`MAX_CONTRACTS`]) over `window`: their report versions
/// from the store's report index, the contents of each month's latest version (read for `user`
/// in one transaction, every read recorded), and their reviews from the replica.
async fn statuses(
    state: &PortalState,
    user: &CurrentUser,
    contracts: Vec<ContractInfo>,
    window: &[Period],
    now: time::OffsetDateTime,
) -> Result<Vec<ContractData>, Error> {
    let (Some(first), Some(last)) = (window.first().copied(), window.last().copied()) else {
        return Err(Error::Internal("empty window".to_owned()));
    };
    if contracts.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<ContractRef> = contracts.iter().map(|c| c.contract.clone()).collect();
    let versions = state
        .store()
        .report_versions_in(&refs, first, last)
        .await
        .map_err(store_error)?;
    // The latest version of each contract's month (versions come by leaf index).
    let mut latest: HashMap<(&ContractRef, Period), usize> = HashMap::new();
    for (i, v) in versions.iter().enumerate() {
        latest.insert((&v.record.contract, v.record.period), i);
    }
    let latest: HashSet<usize> = latest.into_values().collect();
    let named: Vec<(u64, [u8; 32])> = latest
        .iter()
        .filter_map(|i| versions.get(*i))
        .filter_map(|v| v.payload.map(|sha| (v.record.index, sha)))
        .collect();
    let contents = state
        .store()
        .read_payloads(&named, &reader(user))
        .await
        .map_err(store_error)?;
    let indices: Vec<u64> = versions.iter().map(|v| v.record.index).collect();
    let reviews: Vec<(u64, ReviewEvent)> = state
        .replica()
        .read(state.store(), |s| {
            indices
                .iter()
                .flat_map(|i| s.reviews_of(*i))
                .map(|r| {
                    (
                        r.report,
                        ReviewEvent {
                            index: r.index,
                            report: r.report,
                            decision: r.decision,
                        },
                    )
                })
                .collect()
        })
        .await?
        .unwrap_or_default();
    let mut events: HashMap<ContractRef, (Vec<ReportEvent>, Vec<ReviewEvent>)> = HashMap::new();
    let mut contract_of: HashMap<u64, ContractRef> = HashMap::new();
    for (i, v) in versions.into_iter().enumerate() {
        let report = if latest.contains(&i) {
            match v.payload.and_then(|sha| contents.get(&sha)) {
                Some(PayloadContent::Present(bytes)) => validate_report(bytes).ok().map(Box::new),
                _ => None,
            }
        } else {
            None
        };
        contract_of.insert(v.record.index, v.record.contract.clone());
        events
            .entry(v.record.contract)
            .or_default()
            .0
            .push(ReportEvent {
                index: v.record.index,
                period: v.record.period,
                integrated_at_ms: v.integrated_at_ms,
                supersedes: v.record.supersedes,
                report,
            });
    }
    for (report, review) in reviews {
        if let Some(c) = contract_of.get(&report) {
            events.entry(c.clone()).or_default().1.push(review);
        }
    }
    Ok(contracts
        .into_iter()
        .map(|info| {
            let (reports, mut reviews) = events.remove(&info.contract).unwrap_or_default();
            reviews.sort_by_key(|r| r.index);
            let status = status::contract_status(&terms(&info), &reports, &reviews, now);
            ContractData { info, status }
        })
        .collect())
}

fn terms(info: &ContractInfo) -> ContractTerms {
    ContractTerms {
        first: info.first,
        last: info.last,
        budget: info.budget,
    }
}

/// The budget share of every month in `window`, summed over `contracts`.
fn budget_per_month(contracts: &[ContractInfo], window: &[Period]) -> Vec<i64> {
    let mut sums = vec![0i64; window.len()];
    for c in contracts {
        let terms = terms(c);
        for (k, p) in (1u32..).zip(c.first.through(c.last)) {
            if let Ok(slot) = window.binary_search(&p) {
                sums[slot] = sums[slot].saturating_add(terms.monthly_budget(k));
            }
        }
    }
    sums
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
    let now = format::from_unix_ms(state.now_ms()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let window = window(now);
    let (Some(first), Some(last)) = (window.first().copied(), window.last().copied()) else {
        return Err(Error::Internal("empty window".to_owned()));
    };
    let all = contracts_of(&state, m).await?;
    let total = all.len();
    let mut providers: Vec<(String, String)> = all
        .iter()
        .map(|c| (c.provider.digits().to_owned(), c.provider.to_string()))
        .collect();
    providers.sort();
    providers.dedup();
    let budget = budget_per_month(&all, &window);
    let page = query.page();
    let limit = usize::try_from(page.limit()).unwrap_or(usize::MAX);
    let skipped = all
        .iter()
        .take_while(|c| page.after.is_some_and(|a| c.registered_at <= a))
        .count();
    let shown: Vec<ContractInfo> = all.into_iter().skip(skipped).take(limit + 1).collect();
    let (shown, pager) = page.split(
        shown,
        |c| c.registered_at,
        "/overview",
        &[("municipality", m.code().to_owned())],
    );
    let shown_count = shown.len();
    let data = statuses(&state, &user, shown, &window, now).await?;
    let contracts: Vec<ContractView> = data.iter().map(|c| contract_view(c, &window)).collect();

    // Charts over every contract of the municipality: invoiced and active participants from the
    // store's report figures, the budget share from the contracts' terms.
    let figures: HashMap<Period, MonthFigures> = state
        .store()
        .monthly_figures(m, first, last)
        .await
        .map_err(store_error)?
        .into_iter()
        .collect();
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let categories: Vec<String> = window.iter().map(ToString::to_string).collect();
    let axis_labels: Vec<String> = window
        .iter()
        .map(|p| format!("{}/{}", p.month(), p.year() % 100))
        .collect();
    let invoiced: Vec<Option<i64>> = window
        .iter()
        .map(|p| figures.get(p).map(|f| f.invoiced_sek))
        .collect();
    let budget: Vec<Option<i64>> = budget.into_iter().map(Some).collect();
    let active: Vec<Option<i64>> = window
        .iter()
        .map(|p| figures.get(p).map(|f| f.active))
        .collect();
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
            values: active,
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
            total => total,
            first_shown => skipped + usize::from(shown_count > 0),
            last_shown => skipped + shown_count,
            pager => pager,
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
    let now = format::from_unix_ms(state.now_ms()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let window = window(now);
    let chunk = usize::try_from(crate::paging::MAX_PAGE_SIZE).unwrap_or(MAX_CONTRACTS);
    for m in &municipalities {
        let all = contracts_of(&state, *m).await?;
        for part in all.chunks(chunk.min(MAX_CONTRACTS)) {
            let data = statuses(&state, &user, part.to_vec(), &window, now).await?;
            for c in &data {
                let v = contract_view(c, &window);
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
