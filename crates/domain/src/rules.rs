//! The ledger's business rules: who is registered, which contracts exist, which reports have been
//! filed, and whether a NEW statement may be appended.
//!
//! [`Registry`] is built by applying entries in log order ([`Registry::apply`]); before a statement
//! is appended, [`Registry::check`] says every rule it breaks. Key validity (was this key added for
//! this actor and not revoked?) is the ledger's `KeyHistory`, not this module's; this module checks
//! everything else: that the actor may make this kind of statement at all, registration order,
//! contracts, periods, corrections and reviews.
//!
//! Rules, each with a stable [`ProblemCode`]:
//! - the operator registers municipalities and inspectors, once each;
//! - a registered municipality registers a provider before contracting it, once per municipality
//!   (a provider serving three municipalities is registered by each of them, as the ledger's
//!   `KeyHistory` also expects);
//! - a registered municipality registers its own contracts (the contract's municipality is the
//!   signer) with a provider it has registered, once per reference;
//! - a key is added or revoked for a registered municipality, inspector or provider, by the subject
//!   itself or its registrar (the operator for municipalities and inspectors; a municipality that
//!   registered it for a provider); never for the operator, whose key is the log's own;
//! - a report is submitted by the contract's provider, for a period within the contract that has
//!   begun (Swedish time), once per contract and period: anything later is a correction;
//! - a correction is made by the same provider and supersedes the latest version of the report for
//!   the same contract and period, so the chain of versions is a line, never a tree;
//! - a review is made by the municipality whose contract the reviewed report (original or
//!   correction) belongs to.
//!
//! Memory: nothing is kept per key, review or registration entry beyond the registered set itself,
//! and about 80 bytes per report or correction (its contract interned to a 4-byte number, its
//! period, the leaf indices of its original and latest version, a review count and the last
//! decision, plus a 16-byte leaf-to-report row), so a million reports take under 100 MB, whatever
//! else the log holds. The test `memory_per_report_is_small` pins the sizes. A server, whose log
//! grows without end, uses [`LedgerState::without_reports`] instead: nothing per report in memory,
//! the report rules answered from its database through [`ReportLookup`].

use std::collections::{HashMap, HashSet};
use std::fmt;

use insyn_ledger::entry::{
    Actor, Body, ContractRef, Decision, Entry, InspectorName, SignedStatement, Statement,
};
use insyn_ledger::history::{HistoryError, KeyHistory};
use insyn_ledger::id::{MunicipalityCode, OrgNumber, Period, Sek};
use insyn_ledger::keys::PublicKey;
use serde::Serialize;

use crate::calendar;

/// What kind of rule a [`Problem`] breaks; stable, for translation and for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemCode {
    /// This kind of statement may not be made by this actor.
    WrongActor,
    /// The municipality is already registered.
    MunicipalityAlreadyRegistered,
    /// The municipality is not registered (yet).
    MunicipalityNotRegistered,
    /// The inspector is already registered.
    InspectorAlreadyRegistered,
    /// The provider is already registered.
    ProviderAlreadyRegistered,
    /// The provider is not registered (yet).
    ProviderNotRegistered,
    /// A contract with this reference is already registered.
    ContractAlreadyRegistered,
    /// A municipality registering a contract for another municipality.
    ContractOfAnotherMunicipality,
    /// No contract with this reference is registered.
    UnknownContract,
    /// The signing provider is not the contract's provider.
    NotTheContractProvider,
    /// The period is outside the contract's first..=last periods.
    PeriodOutsideContract,
    /// The period has not begun yet (Swedish time).
    PeriodNotStarted,
    /// A report for this contract and period exists; a new one must be a correction.
    ReportAlreadySubmitted,
    /// The leaf index named is not a report or a correction.
    UnknownReport,
    /// The superseded report is of another contract or period.
    CorrectionOfAnotherReport,
    /// The superseded report is not the latest version.
    CorrectionNotOfLatest,
    /// The reviewed report belongs to another municipality's contract.
    ReviewOfAnotherMunicipality,
    /// A key for an actor that is not registered, or for the operator.
    UnknownKeySubject,
    /// The signer may not add or revoke this subject's keys.
    KeySignerNotAllowed,
    /// The statement names a key the log has never registered.
    UnknownKey,
    /// The key belongs to another actor.
    KeyOfAnotherActor,
    /// The key was revoked before this entry.
    KeyRevoked,
    /// An operator statement not signed with the log key.
    NotLogKey,
    /// The signature does not verify.
    BadSignature,
    /// The added public key is refused (not a valid, strong Ed25519 key).
    WeakKey,
    /// The added key is already registered.
    DuplicateKey,
    /// The revoked key is not the subject's.
    NotSubjectsKey,
    /// The revoked key was already revoked.
    KeyAlreadyRevoked,
    /// Another rule of the ledger's key history (see the message).
    LedgerRule,
}

impl ProblemCode {
    /// The code as a string, e.g. `"period_outside_contract"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongActor => "wrong_actor",
            Self::MunicipalityAlreadyRegistered => "municipality_already_registered",
            Self::MunicipalityNotRegistered => "municipality_not_registered",
            Self::InspectorAlreadyRegistered => "inspector_already_registered",
            Self::ProviderAlreadyRegistered => "provider_already_registered",
            Self::ProviderNotRegistered => "provider_not_registered",
            Self::ContractAlreadyRegistered => "contract_already_registered",
            Self::ContractOfAnotherMunicipality => "contract_of_another_municipality",
            Self::UnknownContract => "unknown_contract",
            Self::NotTheContractProvider => "not_the_contract_provider",
            Self::PeriodOutsideContract => "period_outside_contract",
            Self::PeriodNotStarted => "period_not_started",
            Self::ReportAlreadySubmitted => "report_already_submitted",
            Self::UnknownReport => "unknown_report",
            Self::CorrectionOfAnotherReport => "correction_of_another_report",
            Self::CorrectionNotOfLatest => "correction_not_of_latest",
            Self::ReviewOfAnotherMunicipality => "review_of_another_municipality",
            Self::UnknownKeySubject => "unknown_key_subject",
            Self::KeySignerNotAllowed => "key_signer_not_allowed",
            Self::UnknownKey => "unknown_key",
            Self::KeyOfAnotherActor => "key_of_another_actor",
            Self::KeyRevoked => "key_revoked",
            Self::NotLogKey => "not_log_key",
            Self::BadSignature => "bad_signature",
            Self::WeakKey => "weak_key",
            Self::DuplicateKey => "duplicate_key",
            Self::NotSubjectsKey => "not_subjects_key",
            Self::KeyAlreadyRevoked => "key_already_revoked",
            Self::LedgerRule => "ledger_rule",
        }
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule a statement breaks: a stable code and an English message for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Which rule.
    pub code: ProblemCode,
    /// What is wrong and, where it helps, what to do instead.
    pub message: String,
}

impl Problem {
    fn new(code: ProblemCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// A contract, interned: its number in this registry (registration order, from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContractNo(u32);

impl ContractNo {
    /// The number.
    #[must_use]
    pub fn get(self) -> u32 {
        self.0
    }
}

/// A registered contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractInfo {
    /// The contract.
    pub contract: ContractRef,
    /// The contracted provider.
    pub provider: OrgNumber,
    /// First reporting period.
    pub first: Period,
    /// Last reporting period.
    pub last: Period,
    /// Budget for the whole contract, in whole kronor.
    pub budget: Sek,
    /// Leaf index of the `ContractRegistered` entry.
    pub registered_at: u64,
}

/// A registered provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The municipalities that registered it (and may manage its keys), sorted.
    pub registered_by: Vec<MunicipalityCode>,
    /// Leaf index of its first `ProviderRegistered` entry.
    pub registered_at: u64,
    /// Its contracts, in registration order.
    pub contracts: Vec<ContractNo>,
}

/// The versions of one report (one contract, one period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportVersions {
    /// Leaf index of the original `ReportSubmitted`.
    pub original: u64,
    /// Leaf index of the latest version (the original or the last correction).
    pub latest: u64,
    /// How many corrections.
    pub corrections: u32,
    /// How many reviews, of any version.
    pub reviews: u32,
    /// The latest review's decision and the version it was about.
    pub last_review: Option<(Decision, u64)>,
}

/// What the rules need to know about the reports already in the log: the versions of a report,
/// and what a report leaf is about. A [`Registry`] answers from memory; a server that keeps its
/// reports in a database (the sequencer) answers from there, so that its memory does not grow with
/// the log ([`Registry::without_reports`]).
pub trait ReportLookup {
    /// The leaf indices of the original and of the latest version (the original or its last
    /// correction) of the report for `contract` and `period`, if one was submitted.
    fn versions_of(&self, contract: &ContractRef, period: Period) -> Option<(u64, u64)>;

    /// The contract and period of the report or correction at leaf `leaf`, if it is one.
    fn report_leaf(&self, leaf: u64) -> Option<(ContractRef, Period)>;
}

/// The registry: everything registered and reported so far, built by applying entries in log order.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    /// True for a registry that keeps no reports ([`Registry::without_reports`]).
    without_reports: bool,
    municipalities: HashSet<MunicipalityCode>,
    inspectors: HashSet<InspectorName>,
    providers: HashMap<OrgNumber, ProviderInfo>,
    contract_numbers: HashMap<ContractRef, ContractNo>,
    contracts: Vec<ContractInfo>,
    reports: HashMap<(ContractNo, Period), ReportVersions>,
    /// The corrections of corrected reports only, in order (most reports are never corrected, so
    /// this costs nothing for them).
    corrections: HashMap<(ContractNo, Period), Vec<u64>>,
    /// Every report and correction leaf, in increasing leaf order (entries are applied in log
    /// order), for finding what a correction or review points at by binary search.
    report_leaves: Vec<(u64, ContractNo, Period)>,
}

impl Registry {
    /// An empty registry (an empty log).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry that keeps nothing per report, correction or review: registrations and
    /// contracts only, so its memory grows with the registered world, never with the log. Its
    /// caller answers the report rules from elsewhere ([`Registry::check_with`]); checking with the
    /// registry itself ([`Registry::check`]) would see no report at all.
    #[must_use]
    pub fn without_reports() -> Self {
        Self {
            without_reports: true,
            ..Self::default()
        }
    }

    /// Whether this registry keeps no reports ([`Registry::without_reports`]).
    #[must_use]
    pub fn keeps_reports(&self) -> bool {
        !self.without_reports
    }

    /// Whether the municipality is registered.
    #[must_use]
    pub fn has_municipality(&self, m: MunicipalityCode) -> bool {
        self.municipalities.contains(&m)
    }

    /// Registered municipalities, in code order.
    #[must_use]
    pub fn municipalities(&self) -> Vec<MunicipalityCode> {
        let mut v: Vec<_> = self.municipalities.iter().copied().collect();
        v.sort_unstable();
        v
    }

    /// Whether the inspector is registered.
    #[must_use]
    pub fn has_inspector(&self, name: &InspectorName) -> bool {
        self.inspectors.contains(name)
    }

    /// A registered provider.
    #[must_use]
    pub fn provider(&self, p: &OrgNumber) -> Option<&ProviderInfo> {
        self.providers.get(p)
    }

    /// Every registered provider, in organisation-number order.
    #[must_use]
    pub fn providers(&self) -> Vec<OrgNumber> {
        let mut v: Vec<_> = self.providers.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Whether municipality `m` has registered provider `p`.
    #[must_use]
    pub fn registered_by(&self, p: &OrgNumber, m: MunicipalityCode) -> bool {
        self.providers
            .get(p)
            .is_some_and(|info| info.registered_by.binary_search(&m).is_ok())
    }

    /// The municipalities that have a contract with the provider (for the access policy), sorted.
    #[must_use]
    pub fn contracting_municipalities(&self, p: &OrgNumber) -> Vec<MunicipalityCode> {
        let mut v: Vec<_> = self
            .providers
            .get(p)
            .map(|info| {
                info.contracts
                    .iter()
                    .filter_map(|n| self.contract_info(*n))
                    .map(|c| c.contract.municipality)
                    .collect()
            })
            .unwrap_or_default();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The interned number of a registered contract.
    #[must_use]
    pub fn contract_no(&self, c: &ContractRef) -> Option<ContractNo> {
        self.contract_numbers.get(c).copied()
    }

    /// A registered contract by number.
    #[must_use]
    pub fn contract_info(&self, n: ContractNo) -> Option<&ContractInfo> {
        self.contracts.get(n.0 as usize)
    }

    /// A registered contract.
    #[must_use]
    pub fn contract(&self, c: &ContractRef) -> Option<&ContractInfo> {
        self.contract_no(c).and_then(|n| self.contract_info(n))
    }

    /// Every contract, in registration order.
    pub fn contracts(&self) -> impl Iterator<Item = (ContractNo, &ContractInfo)> {
        self.contracts
            .iter()
            .enumerate()
            .map(|(i, c)| (ContractNo(i as u32), c))
    }

    /// The versions of the report for one contract and period, if one was submitted.
    #[must_use]
    pub fn report(&self, c: &ContractRef, period: Period) -> Option<ReportVersions> {
        let n = self.contract_no(c)?;
        self.reports.get(&(n, period)).copied()
    }

    /// What the report or correction at a leaf index is about.
    #[must_use]
    pub fn report_at(&self, leaf: u64) -> Option<(&ContractInfo, Period)> {
        let i = self
            .report_leaves
            .binary_search_by_key(&leaf, |(l, _, _)| *l)
            .ok()?;
        let (_, n, period) = self.report_leaves[i];
        Some((self.contract_info(n)?, period))
    }

    /// Leaf indices of every version of the report for one contract and period: the original,
    /// then each correction in order. Empty when nothing was submitted.
    #[must_use]
    pub fn versions(&self, c: &ContractRef, period: Period) -> Vec<u64> {
        let Some(n) = self.contract_no(c) else {
            return Vec::new();
        };
        let Some(v) = self.reports.get(&(n, period)) else {
            return Vec::new();
        };
        let mut out = vec![v.original];
        out.extend(
            self.corrections
                .get(&(n, period))
                .into_iter()
                .flatten()
                .copied(),
        );
        out
    }

    /// Number of reports and corrections applied.
    #[must_use]
    pub fn report_entries(&self) -> usize {
        self.report_leaves.len()
    }

    /// Every rule the statement breaks if it were appended now, at `integrated_at_ms` (Unix ms).
    ///
    /// # Errors
    /// Every [`Problem`] found (never an empty list).
    pub fn check(&self, statement: &Statement, integrated_at_ms: u64) -> Result<(), Vec<Problem>> {
        self.check_with(statement, integrated_at_ms, self)
    }

    /// [`Registry::check`], with the reports already in the log found in `reports` rather than in
    /// this registry.
    ///
    /// # Errors
    /// Every [`Problem`] found (never an empty list).
    pub fn check_with(
        &self,
        statement: &Statement,
        integrated_at_ms: u64,
        reports: &dyn ReportLookup,
    ) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        self.check_into(
            statement.actor(),
            statement.body(),
            integrated_at_ms,
            reports,
            &mut problems,
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Checks and, if no rule is broken, applies the statement as leaf `index`.
    ///
    /// # Errors
    /// As [`Registry::check`]; nothing is applied then.
    pub fn admit(
        &mut self,
        index: u64,
        statement: &Statement,
        integrated_at_ms: u64,
    ) -> Result<(), Vec<Problem>> {
        self.check(statement, integrated_at_ms)?;
        self.apply(index, statement);
        Ok(())
    }

    fn check_into(
        &self,
        actor: &Actor,
        body: &Body,
        at_ms: u64,
        reports: &dyn ReportLookup,
        out: &mut Vec<Problem>,
    ) {
        use ProblemCode as P;
        let wrong_actor = |who: &str| {
            Problem::new(
                P::WrongActor,
                format!("only {who} may make this statement, not {actor}"),
            )
        };
        match body {
            Body::MunicipalityRegistered { municipality } => {
                if *actor != Actor::Operator {
                    out.push(wrong_actor("the log operator"));
                }
                if self.has_municipality(*municipality) {
                    out.push(Problem::new(
                        P::MunicipalityAlreadyRegistered,
                        format!(
                            "municipality {} {} is already registered",
                            municipality.code(),
                            municipality.name()
                        ),
                    ));
                }
            }
            Body::InspectorRegistered { inspector } => {
                if *actor != Actor::Operator {
                    out.push(wrong_actor("the log operator"));
                }
                if self.has_inspector(inspector) {
                    out.push(Problem::new(
                        P::InspectorAlreadyRegistered,
                        format!("inspector {} is already registered", inspector.as_str()),
                    ));
                }
            }
            Body::ProviderRegistered { provider } => {
                let m = self.check_registered_municipality(actor, out);
                if let Some(m) = m.filter(|m| self.registered_by(provider, *m)) {
                    out.push(Problem::new(
                        P::ProviderAlreadyRegistered,
                        format!(
                            "provider {provider} is already registered by municipality {}",
                            m.code()
                        ),
                    ));
                }
            }
            Body::ContractRegistered {
                contract, provider, ..
            } => {
                if let Some(m) = self.check_registered_municipality(actor, out)
                    && m != contract.municipality
                {
                    out.push(Problem::new(
                        P::ContractOfAnotherMunicipality,
                        format!(
                            "municipality {} cannot register a contract of municipality {}",
                            m.code(),
                            contract.municipality.code()
                        ),
                    ));
                }
                if !self.registered_by(provider, contract.municipality) {
                    out.push(Problem::new(
                        P::ProviderNotRegistered,
                        format!(
                            "provider {provider} is not registered by municipality {}; a municipality registers a provider before contracting it",
                            contract.municipality.code()
                        ),
                    ));
                }
                if self.contract_numbers.contains_key(contract) {
                    out.push(Problem::new(
                        P::ContractAlreadyRegistered,
                        format!("contract {contract} is already registered; references are unique per municipality"),
                    ));
                }
            }
            Body::KeyAdded { subject, .. } | Body::KeyRevoked { subject, .. } => {
                self.check_key_authority(actor, subject, out)
            }
            Body::ReportSubmitted { contract, period } => {
                if let Some(info) = self.check_report_basics(actor, contract, *period, at_ms, out)
                    && let Some((original, latest)) = reports.versions_of(contract, *period)
                {
                    out.push(Problem::new(
                        P::ReportAlreadySubmitted,
                        format!(
                            "a report for {} {period} was already submitted (entry {original}); to change it, submit a correction that supersedes entry {latest}",
                            info.contract
                        ),
                    ));
                }
            }
            Body::ReportCorrected {
                contract,
                period,
                supersedes,
            } => {
                if self
                    .check_report_basics(actor, contract, *period, at_ms, out)
                    .is_some()
                {
                    match reports.report_leaf(*supersedes) {
                        None => out.push(Problem::new(
                            P::UnknownReport,
                            format!("entry {supersedes} is not a report or a correction, so it cannot be superseded"),
                        )),
                        Some((target, target_period)) if target != *contract || target_period != *period => {
                            out.push(Problem::new(
                                P::CorrectionOfAnotherReport,
                                format!(
                                    "entry {supersedes} is the report for {target} {target_period}, not for {contract} {period}",
                                ),
                            ));
                        }
                        Some(_) => {
                            let latest = reports.versions_of(contract, *period).map(|(_, latest)| latest);
                            if let Some(latest) = latest.filter(|l| l != supersedes) {
                                out.push(Problem::new(
                                    P::CorrectionNotOfLatest,
                                    format!(
                                        "entry {supersedes} has already been corrected; a correction supersedes the latest version, entry {latest}"
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
            Body::ReportReviewed { report, .. } => {
                let reviewer = self.check_registered_municipality(actor, out);
                match reports.report_leaf(*report) {
                    None => out.push(Problem::new(
                        P::UnknownReport,
                        format!("entry {report} is not a report or a correction, so it cannot be reviewed"),
                    )),
                    Some((contract, _)) => {
                        if let Some(m) = reviewer.filter(|m| *m != contract.municipality) {
                            out.push(Problem::new(
                                P::ReviewOfAnotherMunicipality,
                                format!(
                                    "entry {report} reports on contract {contract}, so only municipality {} may review it, not {}",
                                    contract.municipality.code(),
                                    m.code()
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }

    /// The signing municipality, if the actor is a registered municipality; problems otherwise.
    fn check_registered_municipality(
        &self,
        actor: &Actor,
        out: &mut Vec<Problem>,
    ) -> Option<MunicipalityCode> {
        match actor {
            Actor::Municipality(m) if self.has_municipality(*m) => Some(*m),
            Actor::Municipality(m) => {
                out.push(Problem::new(
                    ProblemCode::MunicipalityNotRegistered,
                    format!("municipality {} {} is not registered", m.code(), m.name()),
                ));
                None
            }
            other => {
                out.push(Problem::new(
                    ProblemCode::WrongActor,
                    format!("only a municipality may make this statement, not {other}"),
                ));
                None
            }
        }
    }

    fn check_key_authority(&self, actor: &Actor, subject: &Actor, out: &mut Vec<Problem>) {
        use ProblemCode as P;
        let registrars: Vec<Actor> = match subject {
            Actor::Operator => {
                out.push(Problem::new(
                    P::UnknownKeySubject,
                    "the operator's key is the log's own key; it is not managed by key entries",
                ));
                return;
            }
            Actor::Municipality(m) if self.has_municipality(*m) => vec![Actor::Operator],
            Actor::Inspector(name) if self.has_inspector(name) => vec![Actor::Operator],
            Actor::Provider(p) => match self.providers.get(p) {
                Some(info) => info
                    .registered_by
                    .iter()
                    .map(|m| Actor::Municipality(*m))
                    .collect(),
                None => {
                    out.push(Problem::new(
                        P::UnknownKeySubject,
                        format!("{subject} is not registered"),
                    ));
                    return;
                }
            },
            _ => {
                out.push(Problem::new(
                    P::UnknownKeySubject,
                    format!("{subject} is not registered"),
                ));
                return;
            }
        };
        if actor != subject && !registrars.contains(actor) {
            out.push(Problem::new(
                P::KeySignerNotAllowed,
                format!("keys of {subject} are managed by {subject} itself or by its registrar, not by {actor}"),
            ));
        }
    }

    /// Rules shared by reports and corrections; the contract, when it exists.
    fn check_report_basics(
        &self,
        actor: &Actor,
        contract: &ContractRef,
        period: Period,
        at_ms: u64,
        out: &mut Vec<Problem>,
    ) -> Option<&ContractInfo> {
        use ProblemCode as P;
        let provider = match actor {
            Actor::Provider(p) => Some(*p),
            other => {
                out.push(Problem::new(
                    P::WrongActor,
                    format!("only the contract's provider may report, not {other}"),
                ));
                None
            }
        };
        let Some(info) = self.contract(contract) else {
            out.push(Problem::new(
                P::UnknownContract,
                format!("no contract {contract} is registered"),
            ));
            return None;
        };
        if let Some(p) = provider.filter(|p| *p != info.provider) {
            out.push(Problem::new(
                P::NotTheContractProvider,
                format!(
                    "contract {contract} is with provider {}, not {p}",
                    info.provider
                ),
            ));
        }
        if period < info.first || period > info.last {
            out.push(Problem::new(
                P::PeriodOutsideContract,
                format!(
                    "contract {contract} runs from {} to {}; {period} is outside it",
                    info.first, info.last
                ),
            ));
        }
        let started =
            calendar::from_unix_ms(at_ms).is_some_and(|now| calendar::period_start(period) <= now);
        if !started {
            out.push(Problem::new(
                P::PeriodNotStarted,
                format!("{period} has not begun yet (Swedish time); a month can be reported once it has begun"),
            ));
        }
        Some(info)
    }

    /// Applies an entry's statement as leaf `index`, in log order. Statements that break a rule
    /// change nothing they cannot (e.g. a correction of an unknown report is ignored), so replaying
    /// a log never panics; run [`Registry::check`] first to know.
    pub fn apply(&mut self, index: u64, statement: &Statement) {
        if self.without_reports && is_about_reports(statement.body()) {
            return;
        }
        match statement.body() {
            Body::MunicipalityRegistered { municipality } => {
                self.municipalities.insert(*municipality);
            }
            Body::InspectorRegistered { inspector } => {
                self.inspectors.insert(inspector.clone());
            }
            Body::ProviderRegistered { provider } => {
                if let Actor::Municipality(m) = statement.actor() {
                    let info = self.providers.entry(*provider).or_insert(ProviderInfo {
                        registered_by: Vec::new(),
                        registered_at: index,
                        contracts: Vec::new(),
                    });
                    if let Err(at) = info.registered_by.binary_search(m) {
                        info.registered_by.insert(at, *m);
                    }
                }
            }
            Body::ContractRegistered {
                contract,
                provider,
                first,
                last,
                budget,
            } => {
                if self.contract_numbers.contains_key(contract) {
                    return;
                }
                let Ok(n) = u32::try_from(self.contracts.len()) else {
                    return;
                };
                let n = ContractNo(n);
                self.contract_numbers.insert(contract.clone(), n);
                self.contracts.push(ContractInfo {
                    contract: contract.clone(),
                    provider: *provider,
                    first: *first,
                    last: *last,
                    budget: *budget,
                    registered_at: index,
                });
                if let Some(p) = self.providers.get_mut(provider) {
                    p.contracts.push(n);
                }
            }
            Body::KeyAdded { .. } | Body::KeyRevoked { .. } => {}
            Body::ReportSubmitted { contract, period } => {
                let Some(n) = self.contract_no(contract) else {
                    return;
                };
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    self.reports.entry((n, *period))
                {
                    slot.insert(ReportVersions {
                        original: index,
                        latest: index,
                        corrections: 0,
                        reviews: 0,
                        last_review: None,
                    });
                    self.push_leaf(index, n, *period);
                }
            }
            Body::ReportCorrected {
                contract, period, ..
            } => {
                let Some(n) = self.contract_no(contract) else {
                    return;
                };
                if let Some(v) = self.reports.get_mut(&(n, *period)) {
                    v.latest = index;
                    v.corrections = v.corrections.saturating_add(1);
                    self.corrections
                        .entry((n, *period))
                        .or_default()
                        .push(index);
                    self.push_leaf(index, n, *period);
                }
            }
            Body::ReportReviewed {
                report, decision, ..
            } => {
                let Ok(i) = self
                    .report_leaves
                    .binary_search_by_key(report, |(l, _, _)| *l)
                else {
                    return;
                };
                let (_, n, period) = self.report_leaves[i];
                if let Some(v) = self.reports.get_mut(&(n, period)) {
                    v.reviews = v.reviews.saturating_add(1);
                    v.last_review = Some((*decision, *report));
                }
            }
        }
    }

    fn push_leaf(&mut self, index: u64, n: ContractNo, period: Period) {
        // Leaves arrive in increasing order; anything else would break the binary search.
        if self.report_leaves.last().is_none_or(|(l, _, _)| *l < index) {
            self.report_leaves.push((index, n, period));
        }
    }
}

impl ReportLookup for Registry {
    fn versions_of(&self, contract: &ContractRef, period: Period) -> Option<(u64, u64)> {
        self.report(contract, period)
            .map(|v| (v.original, v.latest))
    }

    fn report_leaf(&self, leaf: u64) -> Option<(ContractRef, Period)> {
        self.report_at(leaf)
            .map(|(info, period)| (info.contract.clone(), period))
    }
}

/// Whether the statement is a report, a correction or a review: the entries a registry without
/// reports keeps nothing of, and which change no key.
#[must_use]
pub fn is_about_reports(body: &Body) -> bool {
    matches!(
        body,
        Body::ReportSubmitted { .. } | Body::ReportCorrected { .. } | Body::ReportReviewed { .. }
    )
}

/// The key history's verdict as a [`Problem`].
fn key_problem(e: &HistoryError, statement: &Statement) -> Problem {
    let about_keys = matches!(
        statement.body(),
        Body::KeyAdded { .. } | Body::KeyRevoked { .. }
    );
    use ProblemCode as P;
    let code = match e {
        HistoryError::UnknownKey(_) => P::UnknownKey,
        HistoryError::WrongActor { .. } => P::KeyOfAnotherActor,
        HistoryError::Revoked { .. } => P::KeyRevoked,
        HistoryError::NotLogKey { .. } => P::NotLogKey,
        HistoryError::Signature(_) => P::BadSignature,
        HistoryError::NotAllowed { .. } => P::WrongActor,
        HistoryError::NotRegistrar { .. } => P::KeySignerNotAllowed,
        HistoryError::NotRegistered(Actor::Provider(_)) if !about_keys => P::ProviderNotRegistered,
        HistoryError::NotRegistered(_) | HistoryError::OperatorKey => P::UnknownKeySubject,
        HistoryError::AlreadyRegistered(Actor::Municipality(_)) => P::MunicipalityAlreadyRegistered,
        HistoryError::AlreadyRegistered(Actor::Inspector(_)) => P::InspectorAlreadyRegistered,
        HistoryError::AlreadyRegistered(_) => P::ProviderAlreadyRegistered,
        HistoryError::BadKey(_) => P::WeakKey,
        HistoryError::DuplicateKey(_) => P::DuplicateKey,
        HistoryError::NotSubjectsKey { .. } => P::NotSubjectsKey,
        HistoryError::AlreadyRevoked { .. } => P::KeyAlreadyRevoked,
        HistoryError::ForeignContract { .. } => P::ContractOfAnotherMunicipality,
        HistoryError::NotEarlier { .. } => P::UnknownReport,
        // A rule the ledger adds later: still refused, under a general code.
        #[allow(unreachable_patterns)]
        _ => P::LedgerRule,
    };
    Problem::new(code, e.to_string())
}

/// Everything the sequencer and the verifier need to decide whether an entry belongs in the log:
/// the ledger's key history (signatures and key validity) and this crate's [`Registry`] (the
/// business rules). One [`LedgerState::admit`] per submission, in log order.
#[derive(Debug, Clone)]
pub struct LedgerState {
    /// Which keys are valid for whom.
    pub keys: KeyHistory,
    /// What is registered and reported.
    pub registry: Registry,
}

impl LedgerState {
    /// The state of an empty log signed by `log_key`.
    #[must_use]
    pub fn new(log_key: PublicKey) -> Self {
        Self {
            keys: KeyHistory::new(log_key),
            registry: Registry::new(),
        }
    }

    /// The state of an empty log signed by `log_key`, for a server that keeps its reports in its
    /// database: the registry keeps none ([`Registry::without_reports`]), checks take the reports
    /// from a [`ReportLookup`] ([`LedgerState::check_with`]), and applying a report, correction or
    /// review only moves the index on (it changes no key and nothing this state keeps; the
    /// caller vouches for it: it was checked when it was admitted). Its memory grows with the
    /// registered world, not with the log.
    #[must_use]
    pub fn without_reports(log_key: PublicKey) -> Self {
        Self {
            keys: KeyHistory::new(log_key),
            registry: Registry::without_reports(),
        }
    }

    /// The index the next entry gets.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.keys.len()
    }

    /// For a state without reports ([`LedgerState::without_reports`]): moves the index on to
    /// `len` over entries the caller knows, from their stored kind, to be reports and
    /// corrections, without reading them (they change nothing this state keeps). A state that
    /// keeps reports must see each one, so for it this changes nothing and returns `false`.
    pub fn pass_over_reports_to(&mut self, len: u64) -> bool {
        if self.registry.keeps_reports() {
            return false;
        }
        self.keys.pass_over_to(len);
        true
    }

    /// Whether no entry has been applied.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every problem with appending `signed` next, at `integrated_at_ms`: the signature and key
    /// first, then the business rules, without repeating a rule both sides check.
    ///
    /// # Errors
    /// Every [`Problem`] found.
    pub fn check(
        &self,
        signed: &SignedStatement,
        integrated_at_ms: u64,
    ) -> Result<(), Vec<Problem>> {
        self.check_with(signed, integrated_at_ms, None, &self.registry)
    }

    /// [`LedgerState::check`] for a caller (the sequencer) that has already verified the
    /// signature strictly and had it accepted with `verified_key`: the signature is not verified
    /// again when that is the key the key history would use
    /// ([`KeyHistory::check_with_verified_key`]). The verdict is [`LedgerState::check`]'s,
    /// provided the caller's claim is true.
    ///
    /// # Errors
    /// As [`LedgerState::check`].
    pub fn check_verified(
        &self,
        signed: &SignedStatement,
        integrated_at_ms: u64,
        verified_key: &PublicKey,
    ) -> Result<(), Vec<Problem>> {
        self.check_with(signed, integrated_at_ms, Some(verified_key), &self.registry)
    }

    /// [`LedgerState::check`] (or, with `verified_key`, [`LedgerState::check_verified`]) with the
    /// reports already in the log found in `reports`: what a state made
    /// [`LedgerState::without_reports`] checks with.
    ///
    /// # Errors
    /// As [`LedgerState::check`].
    pub fn check_with(
        &self,
        signed: &SignedStatement,
        integrated_at_ms: u64,
        verified_key: Option<&PublicKey>,
        reports: &dyn ReportLookup,
    ) -> Result<(), Vec<Problem>> {
        let mut problems = self
            .registry
            .check_with(signed.statement(), integrated_at_ms, reports)
            .err()
            .unwrap_or_default();
        let keys = match verified_key {
            Some(k) => self.keys.check_with_verified_key(signed, k),
            None => self.keys.check(signed),
        };
        if let Err(e) = keys {
            let p = key_problem(&e, signed.statement());
            if !problems.iter().any(|q| q.code == p.code) {
                problems.insert(0, p);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Checks `signed` and, if it may be appended, applies it as the next entry and returns that
    /// entry (stamped with `integrated_at_ms`), ready to be written. Nothing changes on error.
    ///
    /// # Errors
    /// As [`LedgerState::check`].
    pub fn admit(
        &mut self,
        signed: &SignedStatement,
        integrated_at_ms: u64,
    ) -> Result<Entry, Vec<Problem>> {
        self.check(signed, integrated_at_ms)?;
        let entry = signed.clone().into_entry(integrated_at_ms);
        // Checked just now, so both sides accept it.
        let _ = self.apply(&entry);
        Ok(entry)
    }

    /// Applies the next entry of an existing log (replay at start-up, or an inspector verifying).
    /// The entry always takes the next index. An entry that breaks a rule changes nothing else and
    /// its problems are returned, so a verifier can report them and carry on.
    ///
    /// # Errors
    /// Every [`Problem`] with the entry at its point in the log.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), Vec<Problem>> {
        self.apply_inner(entry, None)
    }

    /// [`LedgerState::apply`] for an entry whose signature the caller has already verified
    /// strictly with `verified_key` ([`KeyHistory::apply_verified`]).
    ///
    /// # Errors
    /// As [`LedgerState::apply`].
    pub fn apply_verified(
        &mut self,
        entry: &Entry,
        verified_key: &PublicKey,
    ) -> Result<(), Vec<Problem>> {
        self.apply_inner(entry, Some(verified_key))
    }

    fn apply_inner(
        &mut self,
        entry: &Entry,
        verified_key: Option<&PublicKey>,
    ) -> Result<(), Vec<Problem>> {
        let index = self.keys.len();
        if !self.registry.keeps_reports() && is_about_reports(entry.statement().body()) {
            return self
                .keys
                .pass_over(entry)
                .map_err(|e| vec![key_problem(&e, entry.statement())]);
        }
        let mut problems = self
            .registry
            .check(entry.statement(), entry.integrated_at_ms())
            .err()
            .unwrap_or_default();
        let keys = match verified_key {
            Some(k) => self.keys.apply_verified(entry, k),
            None => self.keys.apply(entry),
        };
        if let Err(e) = keys {
            let p = key_problem(&e, entry.statement());
            if !problems.iter().any(|q| q.code == p.code) {
                problems.insert(0, p);
            }
        }
        if problems.is_empty() {
            self.registry.apply(index, entry.statement());
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests;

/// The sequencer's fast path ([`LedgerState::check_verified`], [`LedgerState::apply_verified`])
/// gives the verdicts of the strict path.
#[cfg(test)]
mod verified_tests {
    use insyn_ledger::entry::{Actor, Body, ContractRef, SignedStatement, Statement};
    use insyn_ledger::keys::SigningKey;

    use super::*;

    fn sign(
        actor: Actor,
        body: Body,
        payload: Option<[u8; 32]>,
        key: &SigningKey,
    ) -> SignedStatement {
        Statement::build_and_sign(actor, body, payload, key).unwrap()
    }

    fn report(
        prov: &Actor,
        contract: &ContractRef,
        period: &str,
        key: &SigningKey,
    ) -> SignedStatement {
        sign(
            prov.clone(),
            Body::ReportSubmitted {
                contract: contract.clone(),
                period: period.parse().unwrap(),
            },
            Some([9; 32]),
            key,
        )
    }

    #[test]
    fn verified_check_and_apply_match_the_strict_ones() {
        let log = SigningKey::from_seed(&[40; 32]);
        let muni_key = SigningKey::from_seed(&[41; 32]);
        let prov_key = SigningKey::from_seed(&[42; 32]);
        let muni = Actor::Municipality("0180".parse().unwrap());
        let org: OrgNumber = "5599123451".parse().unwrap();
        let prov = Actor::Provider(org);
        let contract = ContractRef {
            municipality: "0180".parse().unwrap(),
            reference: "SOC-1".parse().unwrap(),
        };
        // 2026-05-10 12:00 UTC.
        let now = 1_778_414_400_000;
        let mut state = LedgerState::new(log.public_key());
        let setup = [
            (
                sign(
                    Actor::Operator,
                    Body::MunicipalityRegistered {
                        municipality: "0180".parse().unwrap(),
                    },
                    None,
                    &log,
                ),
                log.public_key(),
            ),
            (
                sign(
                    Actor::Operator,
                    Body::KeyAdded {
                        subject: muni.clone(),
                        public_key: muni_key.public_key().to_bytes(),
                    },
                    None,
                    &log,
                ),
                log.public_key(),
            ),
            (
                sign(
                    muni.clone(),
                    Body::ProviderRegistered { provider: org },
                    None,
                    &muni_key,
                ),
                muni_key.public_key(),
            ),
            (
                sign(
                    muni.clone(),
                    Body::ContractRegistered {
                        contract: contract.clone(),
                        provider: org,
                        first: "2026-01".parse().unwrap(),
                        last: "2026-12".parse().unwrap(),
                        budget: Sek(1000),
                    },
                    None,
                    &muni_key,
                ),
                muni_key.public_key(),
            ),
            (
                sign(
                    muni.clone(),
                    Body::KeyAdded {
                        subject: prov.clone(),
                        public_key: prov_key.public_key().to_bytes(),
                    },
                    None,
                    &muni_key,
                ),
                muni_key.public_key(),
            ),
        ];
        let mut strict = state.clone();
        for (s, k) in &setup {
            assert_eq!(state.check_verified(s, now, k), Ok(()));
            let e = s.clone().into_entry(now);
            assert_eq!(state.apply_verified(&e, k), strict.apply(&e));
        }
        assert_eq!(state.len(), strict.len());

        let pk = prov_key.public_key();
        let good = report(&prov, &contract, "2026-03", &prov_key);
        assert_eq!(state.check_verified(&good, now, &pk), Ok(()));
        assert_eq!(
            state.check_verified(&good, now, &pk),
            state.check(&good, now)
        );

        // A bad signature: any key other than the history's is verified again, and refused.
        let forged = SignedStatement::new(good.statement().clone(), prov_key.sign(b"not this"));
        let other = muni_key.public_key();
        assert!(state.check(&forged, now).is_err());
        assert_eq!(
            state.check_verified(&forged, now, &other),
            state.check(&forged, now)
        );

        // A period that has not begun, and a key not the provider's: the same problems.
        let early = report(&prov, &contract, "2026-09", &prov_key);
        assert!(state.check(&early, now).is_err());
        assert_eq!(
            state.check_verified(&early, now, &pk),
            state.check(&early, now)
        );
        let stranger = SigningKey::from_seed(&[43; 32]);
        let s = report(&prov, &contract, "2026-04", &stranger);
        assert_eq!(
            state.check_verified(&s, now, &stranger.public_key()),
            state.check(&s, now)
        );

        // The report is applied; a second one for the period is refused by both paths.
        let e = good.clone().into_entry(now);
        assert_eq!(state.apply_verified(&e, &pk), strict.apply(&e));
        let again = report(&prov, &contract, "2026-03", &prov_key);
        assert!(state.check(&again, now).is_err());
        assert_eq!(
            state.check_verified(&again, now, &pk),
            state.check(&again, now)
        );

        // Revoked: refused on both paths even though the signature itself verifies.
        let revoke = sign(
            muni.clone(),
            Body::KeyRevoked {
                subject: prov.clone(),
                key_id: prov_key.key_id(),
            },
            None,
            &muni_key,
        )
        .into_entry(now);
        assert_eq!(state.apply_verified(&revoke, &other), strict.apply(&revoke));
        let late = report(&prov, &contract, "2026-04", &prov_key);
        let verdict = state.check_verified(&late, now, &pk);
        assert!(verdict.is_err());
        assert_eq!(verdict, strict.check(&late, now));
        assert_eq!(state.len(), strict.len());
    }
}
