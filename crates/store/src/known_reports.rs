//! The reports a batch's candidates refer to, read from the database under the log's write lock,
//! so that the admission policy can apply the report rules ("one original report per contract and
//! period", "a correction supersedes the latest version", "a review is of a report") without any
//! in-memory state that grows with the log.
//!
//! Per batch, two indexed queries: the report versions (`report_index`) of every contract and
//! period a report or correction names, and the entries a correction or review points at; a third
//! when the batch holds corrections: the corrections the log holds of the leaves they supersede.
//! Reports admitted earlier in the same batch are added as they are admitted. The same knowledge
//! finds a resubmitted report ([`KnownReports::same_place`]), so reports need no index on their
//! dedupe hash.

use std::collections::{HashMap, HashSet};

use insyn_ledger::entry::{Body, ContractRef, Entry};
use insyn_ledger::id::Period;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
};

use crate::StoreError;
use crate::entity::{entries, report_index};
use crate::error::{from_db, to_db};
use crate::reads::stored_entry;

/// Most keys per query (three parameters each for versions): well under both databases'
/// parameter limits.
const QUERY_CHUNK: usize = 1024;

/// The database's key for a contract and period, as `report_index` stores them.
type Key = (String, String, String);

fn key(contract: &ContractRef, period: Period) -> Key {
    (
        contract.municipality.code().to_owned(),
        contract.reference.as_str().to_owned(),
        period.to_string(),
    )
}

/// What the log holds about the reports a batch refers to, plus the reports admitted earlier in
/// the batch. Lookups of anything the batch does not refer to answer "none".
#[derive(Debug, Default, Clone)]
pub struct KnownReports {
    /// Original and latest version of each report named, by contract and period.
    versions: HashMap<Key, (u64, u64)>,
    /// Contract and period of each report or correction leaf named.
    leaves: HashMap<u64, (ContractRef, Period)>,
    /// For each leaf a correction candidate supersedes: the correction the log already holds
    /// that supersedes it (a resubmission of the candidate, if the signed bytes are the same).
    superseded: HashMap<u64, u64>,
}

impl KnownReports {
    /// Leaf indices of the original and the latest version of the report for `contract` and
    /// `period`, if the log (or the batch so far) has one.
    #[must_use]
    pub fn versions(&self, contract: &ContractRef, period: Period) -> Option<(u64, u64)> {
        self.versions.get(&key(contract, period)).copied()
    }

    /// The contract and period of the report or correction at `leaf`, if it is one.
    #[must_use]
    pub fn report_leaf(&self, leaf: u64) -> Option<&(ContractRef, Period)> {
        self.leaves.get(&leaf)
    }

    /// The correction, if any, that supersedes the report or correction at `leaf` (at most one:
    /// `report_index_version` is unique), for the leaves the batch's corrections name.
    #[must_use]
    pub fn superseded_by(&self, leaf: u64) -> Option<u64> {
        self.superseded.get(&leaf).copied()
    }

    /// The version of the report the log already holds in the place `body` would take: the
    /// original for its contract and period when `body` is a report, the correction of the same
    /// leaf when it is a correction. A candidate can only be a resubmission of that entry.
    #[must_use]
    pub fn same_place(&self, body: &Body) -> Option<u64> {
        match body {
            Body::ReportSubmitted { contract, period } => self
                .versions(contract, *period)
                .map(|(original, _)| original),
            Body::ReportCorrected { supersedes, .. } => self.superseded_by(*supersedes),
            _ => None,
        }
    }

    /// Records an entry just admitted at `index`, so later candidates of the batch see it (the
    /// sequencer does this; a test of a policy can build its own this way).
    pub fn admitted(&mut self, index: u64, entry: &Entry) {
        let (contract, period) = match entry.statement().body() {
            Body::ReportSubmitted { contract, period } => (contract, *period),
            Body::ReportCorrected {
                contract,
                period,
                supersedes,
            } => {
                self.superseded.insert(*supersedes, index);
                (contract, *period)
            }
            _ => return,
        };
        self.versions
            .entry(key(contract, period))
            .and_modify(|v| v.1 = index)
            .or_insert((index, index));
        self.leaves.insert(index, (contract.clone(), period));
    }

    /// Reads what the log holds about the reports `entries` refer to.
    pub async fn load<'a, C: ConnectionTrait>(
        db: &C,
        statements: impl Iterator<Item = &'a Body>,
    ) -> Result<Self, StoreError> {
        let mut keys: HashSet<Key> = HashSet::new();
        let mut leaves: HashSet<u64> = HashSet::new();
        let mut corrected: HashSet<u64> = HashSet::new();
        for body in statements {
            match body {
                Body::ReportSubmitted { contract, period } => {
                    keys.insert(key(contract, *period));
                }
                Body::ReportCorrected {
                    contract,
                    period,
                    supersedes,
                } => {
                    keys.insert(key(contract, *period));
                    leaves.insert(*supersedes);
                    corrected.insert(*supersedes);
                }
                Body::ReportReviewed { report, .. } => {
                    leaves.insert(*report);
                }
                _ => {}
            }
        }
        let mut known = Self::default();
        let keys: Vec<Key> = keys.into_iter().collect();
        for chunk in keys.chunks(QUERY_CHUNK) {
            for (key, original, latest) in report_versions(db, chunk).await? {
                match (original, latest) {
                    (None, None) => {}
                    (Some(original), Some(latest)) => {
                        known.versions.insert(key, (original, latest));
                    }
                    _ => {
                        return Err(StoreError::Corrupt(
                            "a report's corrections are indexed without its original".to_owned(),
                        ));
                    }
                }
            }
        }
        let leaves: Vec<i64> = leaves
            .into_iter()
            .map(to_db)
            .collect::<Result<_, StoreError>>()?;
        for chunk in leaves.chunks(QUERY_CHUNK) {
            let rows = entries::Entity::find()
                .filter(entries::Column::Idx.is_in(chunk.iter().copied()))
                .all(db)
                .await?;
            for row in rows {
                let stored = stored_entry(row)?;
                if let Body::ReportSubmitted { contract, period }
                | Body::ReportCorrected {
                    contract, period, ..
                } = stored.entry.statement().body()
                {
                    known
                        .leaves
                        .insert(stored.index, (contract.clone(), *period));
                }
            }
        }
        let corrected: Vec<i64> = corrected
            .into_iter()
            .map(to_db)
            .collect::<Result<_, StoreError>>()?;
        for chunk in corrected.chunks(QUERY_CHUNK) {
            let rows: Vec<(i64, Option<i64>)> = report_index::Entity::find()
                .select_only()
                .column(report_index::Column::Idx)
                .column(report_index::Column::Supersedes)
                .filter(report_index::Column::Supersedes.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(db)
                .await?;
            for (idx, supersedes) in rows {
                if let Some(s) = supersedes {
                    known.superseded.insert(from_db(s)?, from_db(idx)?);
                }
            }
        }
        Ok(known)
    }
}

/// For each (municipality, contract, period) key: the original report's index and the latest
/// version's, both `None` when the period has no report.
///
/// Each key is looked up on its own, by correlated subqueries over a `VALUES` list, which both
/// databases answer with an index lookup per key in `report_index_version` (SQLite is told to;
/// PostgreSQL, while it has no statistics yet, may use the index on municipality and period,
/// which reads only that period's reports). A row-value `IN (…)` or a join instead leaves the access path to the
/// planner, and PostgreSQL, while a fresh or fast-growing table has no statistics yet, chose to
/// filter every report of the municipality: each batch's admission then cost more as the log grew.
async fn report_versions<C: ConnectionTrait>(
    db: &C,
    keys: &[Key],
) -> Result<Vec<(Key, Option<u64>, Option<u64>)>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all_raw(versions_statement(db.get_database_backend(), keys))
        .await?;
    let index = |v: Option<i64>| {
        v.map(|i| u64::try_from(i).map_err(|_| StoreError::Corrupt(format!("report index {i}"))))
            .transpose()
    };
    rows.iter()
        .map(|row| {
            let key: Key = (
                row.try_get("", "municipality")?,
                row.try_get("", "contract_ref")?,
                row.try_get("", "period")?,
            );
            let original: Option<i64> = row.try_get("", "original")?;
            let latest: Option<i64> = row.try_get("", "latest")?;
            Ok((key, index(original)?, index(latest)?))
        })
        .collect()
}

impl KnownReports {
    /// The statement that [`KnownReports::load`] runs for these contracts and periods (`None` for
    /// none), for tests that inspect its plan.
    #[doc(hidden)]
    #[must_use]
    pub fn versions_statement(
        backend: DbBackend,
        keys: &[(ContractRef, Period)],
    ) -> Option<Statement> {
        let keys: Vec<Key> = keys.iter().map(|(c, p)| key(c, *p)).collect();
        (!keys.is_empty()).then(|| versions_statement(backend, &keys))
    }
}

/// `keys` must not be empty (`VALUES` needs a row).
fn versions_statement(backend: DbBackend, keys: &[Key]) -> Statement {
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(keys.len() * 3);
    let mut rows = Vec::with_capacity(keys.len());
    for (municipality, contract_ref, period) in keys {
        let mut row = Vec::with_capacity(3);
        for v in [municipality, contract_ref, period] {
            values.push(v.clone().into());
            row.push(match backend {
                DbBackend::Postgres => format!("${}", values.len()),
                _ => "?".to_owned(),
            });
        }
        rows.push(format!("({})", row.join(", ")));
    }
    let same = "r.municipality = k.column1 AND r.contract_ref = k.column2 AND r.period = k.column3";
    // SQLite's MIN/MAX optimisation otherwise prefers `report_index_municipality`, whose `idx`
    // follows municipality and period, and reads every report of the period. PostgreSQL has no
    // such clause; its plan is tested instead.
    let from = match backend {
        DbBackend::Sqlite => "report_index r INDEXED BY report_index_version",
        _ => "report_index r",
    };
    let sql = format!(
        "SELECT k.column1 AS municipality, k.column2 AS contract_ref, k.column3 AS period, \
         (SELECT r.idx FROM {from} WHERE {same} AND COALESCE(r.supersedes, -1) = -1) AS original, \
         (SELECT MAX(r.idx) FROM {from} WHERE {same}) AS latest \
         FROM (VALUES {}) AS k",
        rows.join(", ")
    );
    Statement::from_sql_and_values(backend, sql, values)
}
