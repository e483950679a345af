//! The reports a batch's candidates refer to, read from the database under the log's write lock,
//! so that the admission policy can apply the report rules ("one original report per contract and
//! period", "a correction supersedes the latest version", "a review is of a report") without any
//! in-memory state that grows with the log.
//!
//! Per batch, two indexed queries: the report versions (`report_index`) of every contract and
//! period a report or correction names, and the entries a correction or review points at. Reports
//! admitted earlier in the same batch are added as they are admitted.

use std::collections::{HashMap, HashSet};

use insyn_ledger::entry::{Body, ContractRef, Entry};
use insyn_ledger::id::Period;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::StoreError;
use crate::entity::{entries, report_index};
use crate::error::to_db;
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

    /// Records an entry just admitted at `index`, so later candidates of the batch see it (the
    /// sequencer does this; a test of a policy can build its own this way).
    pub fn admitted(&mut self, index: u64, entry: &Entry) {
        let (contract, period) = match entry.statement().body() {
            Body::ReportSubmitted { contract, period }
            | Body::ReportCorrected {
                contract, period, ..
            } => (contract, *period),
            _ => return,
        };
        self.versions
            .entry(key(contract, period))
            .and_modify(|v| v.1 = index)
            .or_insert((index, index));
        self.leaves.insert(index, (contract.clone(), period));
    }

    /// Reads what the log holds about the reports `entries` refer to.
    pub(crate) async fn load<'a, C: ConnectionTrait>(
        db: &C,
        statements: impl Iterator<Item = &'a Body>,
    ) -> Result<Self, StoreError> {
        let mut keys: HashSet<Key> = HashSet::new();
        let mut leaves: HashSet<u64> = HashSet::new();
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
            let rows: Vec<(i64, String, String, String, Option<i64>)> =
                report_index::Entity::find()
                    .select_only()
                    .columns([
                        report_index::Column::Idx,
                        report_index::Column::Municipality,
                        report_index::Column::ContractRef,
                        report_index::Column::Period,
                        report_index::Column::Supersedes,
                    ])
                    .filter(
                        Expr::tuple([
                            Expr::col(report_index::Column::Municipality),
                            Expr::col(report_index::Column::ContractRef),
                            Expr::col(report_index::Column::Period),
                        ])
                        .in_tuples(chunk.iter().cloned()),
                    )
                    .into_tuple()
                    .all(db)
                    .await?;
            for (idx, municipality, contract_ref, period, supersedes) in rows {
                let idx = u64::try_from(idx)
                    .map_err(|_| StoreError::Corrupt(format!("report index {idx}")))?;
                let v = known
                    .versions
                    .entry((municipality, contract_ref, period))
                    .or_insert((u64::MAX, 0));
                if supersedes.is_none() {
                    v.0 = idx;
                }
                v.1 = Ord::max(v.1, idx);
            }
        }
        if known
            .versions
            .values()
            .any(|(original, _)| *original == u64::MAX)
        {
            return Err(StoreError::Corrupt(
                "a report's corrections are indexed without its original".to_owned(),
            ));
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
        Ok(known)
    }
}
