//! The report page: every field of one report version shown the way a person reads it, a
//! verification panel computed live (signature under the one acceptance rule, the key's validity
//! at that point of the log, the inclusion proof against the latest signed checkpoint, the
//! payload's hash), the chain of corrections, the review history and the review form; plus the
//! report's fields as CSV and the review submission.
//!
//! Opening the page (or its CSV) reads the report's payload for the person, which records the
//! read; so does showing each review comment.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use insyn_domain::access::{self, Role};
use insyn_domain::report::Report;
use insyn_domain::rules::ContractInfo;
use insyn_domain::status::{self, ContractTerms, ReportEvent, ReviewEvent, Timeliness};
use insyn_ledger::entry::{Actor, Body, Decision, Statement};
use insyn_ledger::history::KeyRecord;
use insyn_ledger::id::Period;
use insyn_ledger::keys;
use insyn_ledger::merkle;
use insyn_store::{Candidate, StoredEntry};

use super::replica::ReviewRecord;
use super::review::SubmitFailure;
use super::{Contents, data_role, may_see_provider, ms, read_payload, store_error};
use crate::csv::{Cell, Csv};
use crate::error::Error;
use crate::extract::{PathParam, QueryParams};
use crate::format;
use crate::i18n::Language;
use crate::pages::render;
use crate::session::{CurrentUser, LoggedIn};
use crate::state::PortalState;

/// The longest review comment accepted, in characters.
pub(crate) const MAX_COMMENT_CHARS: usize = 2000;

/// One check of the verification panel.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    /// Message key of the check's name.
    name: &'static str,
    /// Whether it passed.
    ok: bool,
    /// Message key of the plain-language result.
    result: &'static str,
    /// Figures for the result message (an entry index, a tree size).
    detail: Option<i64>,
}

/// One version in the chain of corrections.
#[derive(Debug, Clone, Serialize)]
struct VersionView {
    index: i64,
    integrated_at: i64,
    corrects: Option<i64>,
    current_page: bool,
    latest: bool,
}

/// One review in the history.
#[derive(Debug, Clone, Serialize)]
struct ReviewView {
    index: i64,
    report: i64,
    decision: &'static str,
    decision_key: String,
    auditor: String,
    integrated_at: i64,
    comment: Option<String>,
    /// Message key when there is no comment to show.
    comment_missing: Option<&'static str>,
}

/// A row of the report's fields.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldRow {
    pub(crate) label: String,
    pub(crate) value: String,
    /// The number, for CSV (text fields have none).
    #[serde(skip)]
    pub(crate) number: Option<i64>,
}

/// A group of fields.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldGroup {
    pub(crate) id: &'static str,
    pub(crate) title: String,
    pub(crate) rows: Vec<FieldRow>,
}

/// What the access check found about a report leaf.
struct Located {
    info: ContractInfo,
    period: Period,
    versions: Vec<(u64, u64, Option<u64>)>,
    /// The reviews of every version of the period's report.
    reviews: Vec<ReviewRecord>,
    review_events: Vec<ReviewEvent>,
    /// The period's versions, as the status takes them (contents not filled in).
    report_events: Vec<ReportEvent>,
}

/// Finds report `index` and checks that `role` may see it: 404 for no such report, 403 for a
/// report of a provider the role may not see. The report and its versions come from the store's
/// report index; the contract, the access rule's registrations and the reviews from the replica.
async fn locate(state: &PortalState, role: &Role, index: u64) -> Result<Located, Error> {
    let record = state
        .store()
        .report(index)
        .await
        .map_err(store_error)?
        .ok_or(Error::NotFound)?;
    let info = state
        .replica()
        .read(state.store(), |s| {
            let registry = &s.ledger.registry;
            let info = registry.contract(&record.contract)?.clone();
            let contracting = registry.contracting_municipalities(&info.provider);
            Some(if may_see_provider(role, &info.provider, &contracting) {
                Ok(info)
            } else {
                Err(Error::Forbidden)
            })
        })
        .await?
        .flatten()
        .ok_or(Error::NotFound)??;
    let period = record.period;
    let found = state
        .store()
        .report_versions_in(std::slice::from_ref(&info.contract), period, period)
        .await
        .map_err(store_error)?;
    let versions: Vec<(u64, u64, Option<u64>)> = found
        .iter()
        .map(|v| (v.record.index, v.integrated_at_ms, v.record.supersedes))
        .collect();
    let report_events: Vec<ReportEvent> = found
        .into_iter()
        .map(|v| ReportEvent {
            index: v.record.index,
            period,
            integrated_at_ms: v.integrated_at_ms,
            supersedes: v.record.supersedes,
            report: None,
        })
        .collect();
    let reviews: Vec<ReviewRecord> = state
        .replica()
        .read(state.store(), |s| {
            versions
                .iter()
                .flat_map(|(v, _, _)| s.reviews_of(*v).iter().cloned())
                .collect()
        })
        .await?
        .unwrap_or_default();
    let mut review_events: Vec<ReviewEvent> = reviews
        .iter()
        .map(|r| ReviewEvent {
            index: r.index,
            report: r.report,
            decision: r.decision,
        })
        .collect();
    review_events.sort_by_key(|r| r.index);
    Ok(Located {
        info,
        period,
        versions,
        reviews,
        review_events,
        report_events,
    })
}

/// The verification panel's checks for `stored` at `index`, and the tree size proven against.
async fn verify(
    state: &PortalState,
    stored: &StoredEntry,
    payload: Option<&[u8]>,
) -> Result<Vec<Check>, Error> {
    let index = stored.index;
    let statement = stored.entry.statement();
    let key_id = statement.key_id();
    let (record, verifier): (Option<KeyRecord>, _) = state
        .replica()
        .read(state.store(), |s| {
            (s.ledger.keys.key(&key_id).cloned(), s.verifier.clone())
        })
        .await?
        .ok_or(Error::NotFound)?;

    let mut checks = Vec::new();
    // 1. The signature, under the one acceptance rule (strict Ed25519).
    let signature_ok = record.as_ref().is_some_and(|r| {
        keys::verify(
            &r.public_key,
            &statement.signing_message(),
            stored.entry.signature(),
        )
        .is_ok()
    });
    checks.push(Check {
        name: "verify.signature",
        ok: signature_ok,
        result: match (&record, signature_ok) {
            (None, _) => "verify.signature_unknown_key",
            (Some(_), true) => "verify.signature_ok",
            (Some(_), false) => "verify.signature_bad",
        },
        detail: None,
    });

    // 2. The key was the actor's, added before this entry and not revoked before it.
    let (key_ok, key_result, key_detail) = match &record {
        None => (false, "verify.key_unknown", None),
        Some(r) if &r.actor != statement.actor() => (false, "verify.key_other_actor", None),
        Some(r) if r.added_at >= index => (false, "verify.key_added_later", Some(r.added_at)),
        Some(r) => match r.revoked_at {
            Some(at) if at <= index => (false, "verify.key_revoked_before", Some(at)),
            Some(at) => (true, "verify.key_revoked_after", Some(at)),
            None => (true, "verify.key_ok", Some(r.added_at)),
        },
    };
    checks.push(Check {
        name: "verify.key",
        ok: key_ok,
        result: key_result,
        detail: key_detail.map(ms),
    });

    // 3. Inclusion in the tree of the latest checkpoint, whose signature is checked with the
    // log's verifier key; the leaf hash is computed here from the entry's bytes.
    let latest = state
        .store()
        .latest_checkpoint()
        .await
        .map_err(store_error)?;
    let (incl_ok, incl_result, incl_detail) = match latest {
        None => (false, "verify.inclusion_no_checkpoint", None),
        Some(c) => match verifier.verify_checkpoint(c.note.as_bytes()) {
            Err(e) => {
                tracing::error!(error = %e, "the latest checkpoint does not verify");
                (false, "verify.inclusion_bad_checkpoint", None)
            }
            Ok(cp) if cp.size() <= index => (false, "verify.inclusion_pending", Some(cp.size())),
            Ok(cp) => {
                let proof = state
                    .store()
                    .inclusion_proof(index, cp.size())
                    .await
                    .map_err(store_error)?;
                let leaf = insyn_ledger::hash::leaf_hash(&stored.bytes);
                let same_entry = leaf == stored.entry.leaf_hash();
                match merkle::verify_inclusion(&proof, cp.size(), cp.root(), index, leaf) {
                    Ok(()) if same_entry => (true, "verify.inclusion_ok", Some(cp.size())),
                    _ => (false, "verify.inclusion_bad", Some(cp.size())),
                }
            }
        },
    };
    checks.push(Check {
        name: "verify.inclusion",
        ok: incl_ok,
        result: incl_result,
        detail: incl_detail.map(ms),
    });

    // 4. The contents are the ones the provider signed (their SHA-256 is in the statement).
    let (pay_ok, pay_result) = match (statement.payload_sha256(), payload) {
        (Some(named), Some(bytes)) => {
            let actual: [u8; 32] = Sha256::digest(bytes).into();
            if actual == named {
                (true, "verify.payload_ok")
            } else {
                (false, "verify.payload_bad")
            }
        }
        _ => (false, "verify.payload_unavailable"),
    };
    checks.push(Check {
        name: "verify.payload",
        ok: pay_ok,
        result: pay_result,
        detail: None,
    });
    Ok(checks)
}

/// The report's fields, grouped and formatted for `lang`.
pub(crate) fn field_groups(
    state: &PortalState,
    lang: Language,
    r: &Report,
) -> Result<Vec<FieldGroup>, Error> {
    let t = |key: &str| state.ui().translate(lang, &format!("report.field.{key}"));
    let count = |key: &str, n: u64| -> Result<FieldRow, Error> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        Ok(FieldRow {
            label: t(key)?,
            value: format::number(n, lang),
            number: Some(n),
        })
    };
    let money = |key: &str, n: u64| -> Result<FieldRow, Error> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        Ok(FieldRow {
            label: t(key)?,
            value: format::sek(n, lang),
            number: Some(n),
        })
    };
    let c = &r.caseload;
    let s = &r.services;
    let st = &r.staff;
    let fte = {
        let whole = i64::from(st.fte_hundredths / 100);
        let frac = st.fte_hundredths % 100;
        let sep = match lang {
            Language::Sv => ',',
            Language::En => '.',
        };
        format!("{}{sep}{frac:02}", format::number(whole, lang))
    };
    let mut relocations = Vec::new();
    for (county, n) in &r.relocations_by_county {
        relocations.push(FieldRow {
            label: format!("{} ({:02})", county.name(), county.number()),
            value: format::number(i64::from(n.get()), lang),
            number: Some(i64::from(n.get())),
        });
    }
    if relocations.is_empty() {
        relocations.push(FieldRow {
            label: t("relocations_none")?,
            value: format::number(0, lang),
            number: Some(0),
        });
    }
    let subcontractors = r
        .subcontractors
        .iter()
        .map(|sc| FieldRow {
            label: sc.org_number.to_string(),
            value: sc.delivered.clone(),
            number: None,
        })
        .collect::<Vec<_>>();
    let text = |key: &str, v: &str| -> Result<FieldRow, Error> {
        Ok(FieldRow {
            label: t(key)?,
            value: if v.is_empty() {
                "–".to_owned()
            } else {
                v.to_owned()
            },
            number: None,
        })
    };
    let group = |id: &'static str, rows: Vec<FieldRow>| -> Result<FieldGroup, Error> {
        Ok(FieldGroup {
            id,
            title: state.ui().translate(lang, &format!("report.group.{id}"))?,
            rows,
        })
    };
    let d = &r.incidents.deviations;
    Ok(vec![
        group(
            "caseload",
            vec![
                count("in_intake_assessment", c.in_intake_assessment.into())?,
                count("active", c.active.into())?,
                count("completed", c.completed.into())?,
                count("interrupted", c.interrupted.into())?,
                count("new_this_period", c.new_this_period.into())?,
            ],
        )?,
        group(
            "services",
            vec![
                count(
                    "protected_housing_nights",
                    s.protected_housing_nights.into(),
                )?,
                count(
                    "relocation_support_moves",
                    s.relocation_support_moves.into(),
                )?,
                count("counselling_sessions", s.counselling_sessions.into())?,
                count(
                    "work_or_study_support_participants",
                    s.work_or_study_support_participants.into(),
                )?,
                count(
                    "addiction_treatment_referrals",
                    s.addiction_treatment_referrals.into(),
                )?,
                count(
                    "addiction_treatment_participants",
                    s.addiction_treatment_participants.into(),
                )?,
                count(
                    "psychiatric_care_referrals",
                    s.psychiatric_care_referrals.into(),
                )?,
                count("debt_counselling_cases", s.debt_counselling_cases.into())?,
                count(
                    "police_exit_coordinator_contacts",
                    s.police_exit_coordinator_contacts.into(),
                )?,
            ],
        )?,
        group("relocations", relocations)?,
        group(
            "staff",
            vec![
                FieldRow {
                    label: t("fte")?,
                    value: fte,
                    number: None,
                },
                count("hours_worked", st.hours_worked.into())?,
                count("with_lived_experience", st.with_lived_experience.into())?,
                count("joined", st.joined.into())?,
                count("left", st.left.into())?,
                count("qualification_changes", st.qualification_changes.into())?,
            ],
        )?,
        group("subcontractors", subcontractors)?,
        group(
            "costs",
            vec![
                money("cost_staff", r.costs_sek.staff)?,
                money("cost_housing", r.costs_sek.housing)?,
                money("cost_treatment", r.costs_sek.treatment)?,
                money("cost_other", r.costs_sek.other)?,
                money("total_invoiced", r.costs_sek.total_invoiced)?,
            ],
        )?,
        group(
            "incidents",
            vec![
                count("deviations_minor", d.minor.into())?,
                count("deviations_significant", d.significant.into())?,
                count("deviations_serious", d.serious.into())?,
                count("reported_to_ivo", r.incidents.reported_to_ivo.into())?,
                count(
                    "threats_against_participants",
                    r.incidents.threats_or_violence_against_participants.into(),
                )?,
                count(
                    "threats_against_staff",
                    r.incidents.threats_or_violence_against_staff.into(),
                )?,
            ],
        )?,
        group(
            "complaints",
            vec![
                count("complaints_received", r.complaints.received.into())?,
                count("complaints_resolved", r.complaints.resolved.into())?,
            ],
        )?,
        group(
            "free_text",
            vec![
                text("narrative", &r.free_text.narrative)?,
                text(
                    "message_to_municipality",
                    &r.free_text.message_to_municipality,
                )?,
            ],
        )?,
    ])
}

/// The `?review=` notice after a review was submitted.
#[derive(Debug, Deserialize)]
pub(crate) struct ReportQuery {
    review: Option<u64>,
}

/// A review comment payload.
#[derive(Debug, Deserialize, Serialize)]
struct Comment {
    comment: String,
}

fn decision_from(s: &str) -> Option<Decision> {
    match s {
        "accepted" => Some(Decision::Accepted),
        "question" => Some(Decision::Question),
        "flagged" => Some(Decision::Flagged),
        _ => None,
    }
}

/// What the report page shows, loaded for `user`.
struct Loaded {
    located: Located,
    stored: StoredEntry,
    report: Option<Report>,
    contents_note: Option<&'static str>,
    erased: Option<(i64, String)>,
    checks: Vec<Check>,
}

async fn load(
    state: &PortalState,
    user: &CurrentUser,
    role: &Role,
    index: u64,
) -> Result<Loaded, Error> {
    let located = locate(state, role, index).await?;
    let stored = state
        .store()
        .entry(index)
        .await
        .map_err(store_error)?
        .ok_or(Error::NotFound)?;
    let statement: &Statement = stored.entry.statement();
    let (bytes, contents_note, erased) = match statement.payload_sha256() {
        None => (None, Some("report.contents_missing"), None),
        Some(sha) => match read_payload(state.store(), user, &sha).await? {
            Contents::Present(b) => (Some(b), None, None),
            Contents::Erased { at_ms, reason } => (
                None,
                Some("report.contents_erased"),
                Some((ms(at_ms), reason)),
            ),
            Contents::Missing => (None, Some("report.contents_missing"), None),
        },
    };
    let report = bytes
        .as_deref()
        .and_then(|b| insyn_domain::report::validate_report(b).ok());
    let checks = verify(state, &stored, bytes.as_deref()).await?;
    Ok(Loaded {
        located,
        stored,
        report,
        contents_note,
        erased,
        checks,
    })
}

/// `GET /reports/{index}`.
pub(crate) async fn report_page(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    PathParam(index): PathParam<u64>,
    QueryParams(query): QueryParams<ReportQuery>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let loaded = load(&state, &user, &role, index).await?;
    let Loaded {
        located,
        stored,
        report,
        contents_note,
        erased,
        checks,
    } = loaded;
    let info = &located.info;
    let latest = located.versions.last().map(|v| v.0);
    let versions: Vec<VersionView> = located
        .versions
        .iter()
        .map(|(i, at, sup)| VersionView {
            index: ms(*i),
            integrated_at: ms(*at),
            corrects: sup.map(ms),
            current_page: *i == index,
            latest: Some(*i) == latest,
        })
        .collect();
    let reviews = review_views(&state, &user, &located).await?;

    // Where the period stands (on time, late, corrected, reviewed), from the ledger alone.
    let now = format::from_unix_ms(state.now_ms()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let terms = ContractTerms {
        first: info.first,
        last: info.last,
        budget: info.budget,
    };
    let period_status =
        status::contract_status(&terms, &located.report_events, &located.review_events, now)
            .period(located.period)
            .cloned();
    let late_days = match period_status.as_ref().and_then(|p| p.timeliness) {
        Some(Timeliness::Late { days }) => Some(i64::from(days)),
        _ => None,
    };

    let groups = match &report {
        Some(r) => field_groups(&state, ctx.lang, r)?,
        None => Vec::new(),
    };
    let can_review = access::can_review(&role, &info.contract);
    let review_key = state
        .reviews()
        .is_some_and(|s| s.keys.get(info.contract.municipality).is_some());
    let verified = checks.iter().all(|c| c.ok);
    let statement = stored.entry.statement();
    render(
        &state,
        &ctx,
        StatusCode::OK,
        "report.html",
        context! {
            index => ms(index),
            provider => info.provider.to_string(),
            provider_digits => info.provider.digits(),
            contract => info.contract.reference.as_str(),
            municipality => format!("{} ({})", info.contract.municipality.name(), info.contract.municipality.code()),
            period => located.period.to_string(),
            kind_key => if matches!(statement.body(), Body::ReportCorrected { .. }) { "report.kind_corrected" } else { "report.kind_submitted" },
            integrated_at => ms(stored.entry.integrated_at_ms()),
            key_id => statement.key_id().to_string(),
            leaf_hash => hex::encode(stored.leaf_hash.0),
            payload_sha256 => statement.payload_sha256().map(hex::encode),
            state => period_status.as_ref().map(|p| p.state.as_str()),
            state_key => period_status.as_ref().map(|p| format!("status.{}", p.state.as_str())),
            late_days => late_days,
            due => period_status.as_ref().map(|p| p.due.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()),
            flags => period_status.as_ref().map(|p| super::overview::flags(&p.flags)).unwrap_or_default(),
            groups => groups,
            has_report => report.is_some(),
            contents_note => contents_note,
            erased_at => erased.as_ref().map(|e| e.0),
            erased_reason => erased.map(|e| e.1),
            checks => checks,
            verified => verified,
            versions => versions,
            latest => latest.map(ms),
            is_latest => latest == Some(index),
            reviews => reviews,
            can_review => can_review,
            review_available => review_key,
            max_comment => MAX_COMMENT_CHARS,
            reviewed_entry => query.review.map(ms),
        },
    )
}

/// `GET /reports/{index}/fields.csv`: the report's fields as a spreadsheet.
pub(crate) async fn report_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    PathParam(index): PathParam<u64>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let located = locate(&state, &role, index).await?;
    let stored = state
        .store()
        .entry(index)
        .await
        .map_err(store_error)?
        .ok_or(Error::NotFound)?;
    let Some(sha) = stored.entry.statement().payload_sha256() else {
        return Err(Error::NotFound);
    };
    let report = super::read_report(state.store(), &user, &sha)
        .await?
        .ok_or(Error::NotFound)?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("report.csv.group")?,
        t("report.csv.field")?,
        t("report.csv.value")?,
    ]);
    for g in field_groups(&state, ctx.lang, &report)? {
        for row in g.rows {
            csv.row([
                Cell::from(g.title.clone()),
                Cell::from(row.label),
                row.number.map_or(Cell::Text(row.value), Cell::Int),
            ]);
        }
    }
    Ok(csv.into_download(&format!(
        "insyn-rapport-{}-{}-{}.csv",
        located.info.contract.reference.as_str(),
        located.period,
        index
    )))
}

/// The report's reviews, newest first, with their comments (reading a comment is a recorded
/// payload read, like opening the report).
async fn review_views(
    state: &PortalState,
    user: &CurrentUser,
    located: &Located,
) -> Result<Vec<ReviewView>, Error> {
    let mut reviews = Vec::new();
    for r in located.reviews.iter().rev() {
        let (comment, comment_missing) = match r.comment {
            None => (None, Some("review.no_comment")),
            Some(sha) => match read_payload(state.store(), user, &sha).await? {
                Contents::Present(b) => match serde_json::from_slice::<Comment>(&b) {
                    Ok(c) if !c.comment.trim().is_empty() => (Some(c.comment), None),
                    Ok(_) => (None, Some("review.no_comment")),
                    Err(_) => (None, Some("review.comment_unreadable")),
                },
                Contents::Erased { .. } => (None, Some("review.comment_erased")),
                Contents::Missing => (None, Some("review.comment_withheld")),
            },
        };
        reviews.push(ReviewView {
            index: ms(r.index),
            report: ms(r.report),
            decision: status::decision_name(r.decision),
            decision_key: format!("review.decision.{}", status::decision_name(r.decision)),
            auditor: r.auditor.clone(),
            integrated_at: ms(r.integrated_at_ms),
            comment,
            comment_missing,
        });
    }
    Ok(reviews)
}

/// A time (Unix milliseconds) as the pages show it, for a CSV cell.
fn when(unix_ms: i64) -> Cell {
    Cell::from(
        format::from_unix_ms(unix_ms)
            .map(format::datetime)
            .unwrap_or_default(),
    )
}

/// `GET /reports/{index}/versions.csv`: the report's versions (the original and its corrections),
/// as the page's table shows them.
pub(crate) async fn versions_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    PathParam(index): PathParam<u64>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let located = locate(&state, &role, index).await?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("report.entry")?,
        t("report.integrated")?,
        t("report.version")?,
    ]);
    let latest = located.versions.last().map(|v| v.0);
    for (i, at, corrects) in &located.versions {
        let mut version = match corrects {
            Some(c) => format!("{} {c}", t("report.version_corrects")?),
            None => t("report.version_original")?,
        };
        if Some(*i) == latest {
            version = format!("{version} – {}", t("report.version_latest")?);
        }
        csv.row([Cell::Int(ms(*i)), when(ms(*at)), Cell::from(version)]);
    }
    Ok(csv.into_download(&format!(
        "insyn-versioner-{}-{}-{}.csv",
        located.info.contract.reference.as_str(),
        located.period,
        index
    )))
}

/// `GET /reports/{index}/reviews.csv`: the report's review history, newest first, as the page's
/// table shows it.
pub(crate) async fn reviews_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
    PathParam(index): PathParam<u64>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let located = locate(&state, &role, index).await?;
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("report.entry")?,
        t("review.decision_label")?,
        t("review.about")?,
        t("review.auditor")?,
        t("review.time")?,
        t("review.comment")?,
    ]);
    for r in review_views(&state, &user, &located).await? {
        let comment = match (r.comment, r.comment_missing) {
            (Some(c), _) => c,
            (None, Some(key)) => t(key)?,
            (None, None) => String::new(),
        };
        csv.row([
            Cell::Int(r.index),
            Cell::from(t(&r.decision_key)?),
            Cell::Int(r.report),
            Cell::from(r.auditor),
            when(r.integrated_at),
            Cell::from(comment),
        ]);
    }
    Ok(csv.into_download(&format!(
        "insyn-granskningar-{}-{}-{}.csv",
        located.info.contract.reference.as_str(),
        located.period,
        index
    )))
}

/// The review form.
#[derive(Deserialize)]
pub(crate) struct ReviewForm {
    decision: String,
    #[serde(default)]
    comment: String,
}

/// `POST /reports/{index}/review`: an auditor of the contract's municipality accepts, asks a
/// question about, or flags the report; the decision becomes a ledger entry signed with the
/// municipality's portal key, naming the auditor's account.
pub(crate) async fn review(
    State(state): State<PortalState>,
    LoggedIn { user, .. }: LoggedIn,
    PathParam(index): PathParam<u64>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, Error> {
    let role = data_role(&user)?;
    let located = locate(&state, &role, index).await?;
    let contract = &located.info.contract;
    if !access::can_review(&role, contract) {
        return Err(Error::Forbidden);
    }
    let decision = decision_from(&form.decision)
        .ok_or_else(|| Error::BadRequest(format!("unknown decision {:?}", form.decision)))?;
    let comment = form.comment.trim().replace("\r\n", "\n");
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(Error::BadRequest("comment too long".to_owned()));
    }
    if decision != Decision::Accepted && comment.is_empty() {
        return Err(Error::BadRequest(
            "a question or flag needs a comment".to_owned(),
        ));
    }
    let m = contract.municipality;
    let signer = state
        .reviews()
        .ok_or_else(|| Error::BadRequest("reviews are not available on this server".to_owned()))?;
    let key = signer.keys.get(m).ok_or_else(|| {
        Error::BadRequest(format!(
            "the portal holds no key for municipality {}",
            m.code()
        ))
    })?;
    let auditor = format!("account-{}", user.account.id)
        .parse()
        .map_err(|e| Error::Internal(format!("auditor reference: {e}")))?;
    let payload = serde_json::to_vec(&Comment { comment })
        .map_err(|e| Error::Internal(format!("comment JSON: {e}")))?;
    let sha: [u8; 32] = Sha256::digest(&payload).into();
    let signed = Statement::build_and_sign(
        Actor::Municipality(m),
        Body::ReportReviewed {
            report: index,
            decision,
            auditor,
        },
        Some(sha),
        key,
    )
    .map_err(|e| Error::Internal(format!("review statement: {e}")))?;
    let candidate = Candidate::new(signed, Some(payload))
        .map_err(|e| Error::Internal(format!("review candidate: {e}")))?;
    let entry = match signer.submit(candidate).await {
        Ok(i) => i,
        Err(SubmitFailure::Refused(why)) => {
            return Err(Error::Internal(format!(
                "the ledger refused a review: {why}"
            )));
        }
        Err(SubmitFailure::Unavailable(why)) => {
            return Err(Error::Internal(format!("the ledger is unavailable: {why}")));
        }
    };
    tracing::info!(
        report = index,
        entry,
        account = user.account.id,
        "review recorded"
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/reports/{index}?review={entry}#reviews")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}
