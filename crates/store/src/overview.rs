//! The reads that let the portal's overview stay fast on a large log: one page of contracts'
//! report versions with their integration times, many payloads read (and recorded) in one
//! transaction, and a municipality's monthly sums from `report_figures` instead of every payload.

use std::collections::HashMap;

use insyn_ledger::entry::ContractRef;
use insyn_ledger::id::{MunicipalityCode, Period};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement, TransactionTrait,
};

use crate::entity::{entries, payload_reads, payloads, report_index};
use crate::error::{from_db, hash32, to_db};
use crate::reads::{
    PayloadContent, PayloadReader, ReportRecord, payload_content, payload_copy, report_record,
};
use crate::{Store, StoreError};

/// A report version with what a contract's status needs besides its index row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportVersion {
    /// The report index's row.
    pub record: ReportRecord,
    /// When the log integrated it, Unix milliseconds.
    pub integrated_at_ms: u64,
    /// The SHA-256 of its payload (the report's JSON).
    pub payload: Option<[u8; 32]>,
}

/// One month's sums over the latest version of each contract's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonthFigures {
    /// Reports whose figures are summed (latest versions whose payload is not erased).
    pub reports: u64,
    /// Costs invoiced, SEK.
    pub invoiced_sek: i64,
    /// Active participants.
    pub active: i64,
}

/// The most contracts one [`Store::report_versions_in`] call takes.
pub const MAX_CONTRACTS: usize = 200;

impl Store {
    /// Every report version (originals and corrections) of `contracts` for periods `from..=to`,
    /// by leaf index. Two indexed reads: the report index by contract, then the entries by index.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for more than [`MAX_CONTRACTS`] contracts; database errors.
    pub async fn report_versions_in(
        &self,
        contracts: &[ContractRef],
        from: Period,
        to: Period,
    ) -> Result<Vec<ReportVersion>, StoreError> {
        use report_index::Column as C;
        if contracts.len() > MAX_CONTRACTS {
            return Err(StoreError::InvalidInput(format!(
                "at most {MAX_CONTRACTS} contracts at a time, not {}",
                contracts.len()
            )));
        }
        let mut by_municipality: HashMap<MunicipalityCode, Vec<&str>> = HashMap::new();
        for c in contracts {
            by_municipality
                .entry(c.municipality)
                .or_default()
                .push(c.reference.as_str());
        }
        let mut records = Vec::new();
        for (m, refs) in by_municipality {
            for row in report_index::Entity::find()
                .filter(C::Municipality.eq(m.code()))
                .filter(C::ContractRef.is_in(refs))
                .filter(C::Period.gte(from.to_string()))
                .filter(C::Period.lte(to.to_string()))
                .all(&self.db)
                .await?
            {
                records.push(report_record(row)?);
            }
        }
        records.sort_by_key(|r| r.index);
        let mut found: HashMap<u64, (u64, Option<[u8; 32]>)> = HashMap::new();
        for chunk in records.chunks(500) {
            let indices = chunk
                .iter()
                .map(|r| to_db(r.index))
                .collect::<Result<Vec<_>, _>>()?;
            let rows: Vec<(i64, i64, Option<Vec<u8>>)> = entries::Entity::find()
                .select_only()
                .column(entries::Column::Idx)
                .column(entries::Column::IntegratedAt)
                .column(entries::Column::PayloadHash)
                .filter(entries::Column::Idx.is_in(indices))
                .into_tuple()
                .all(&self.db)
                .await?;
            for (idx, at, sha) in rows {
                found.insert(
                    from_db(idx)?,
                    (from_db(at)?, sha.as_deref().map(hash32).transpose()?),
                );
            }
        }
        records
            .into_iter()
            .map(|record| {
                let (integrated_at_ms, payload) =
                    found.get(&record.index).copied().ok_or_else(|| {
                        StoreError::Corrupt(format!("report {} has no entry", record.index))
                    })?;
                Ok(ReportVersion {
                    record,
                    integrated_at_ms,
                    payload,
                })
            })
            .collect()
    }

    /// Reads many payloads for a person and records every read, in one transaction (as
    /// [`Store::read_payload`] does for one). Each payload is asked for with an entry that names
    /// it (leaf index, hash), such as [`ReportVersion::payload`]'s: the copy that entry stored is
    /// read by its key, and only a payload the entry did not bring is looked up by hash. Unknown
    /// hashes are left out and not recorded; a payload asked for twice is read and recorded once.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`] (then nothing was read nor recorded).
    pub async fn read_payloads(
        &self,
        named: &[(u64, [u8; 32])],
        reader: &PayloadReader,
    ) -> Result<HashMap<[u8; 32], PayloadContent>, StoreError> {
        let mut wanted: Vec<(u64, [u8; 32])> = named.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut out = HashMap::with_capacity(wanted.len());
        if wanted.is_empty() {
            return Ok(out);
        }
        let now = to_db(self.clock.now_ms())?;
        let txn = self.db.begin().await?;
        let mut elsewhere = Vec::new();
        for chunk in wanted.chunks(500) {
            let keys = chunk
                .iter()
                .map(|(i, _)| to_db(*i))
                .collect::<Result<Vec<_>, _>>()?;
            let mut rows: HashMap<i64, payloads::Model> = payloads::Entity::find()
                .filter(payloads::Column::Idx.is_in(keys))
                .all(&txn)
                .await?
                .into_iter()
                .map(|r| (r.idx, r))
                .collect();
            for (index, sha) in chunk {
                let key = to_db(*index)?;
                match rows.remove_entry(&key) {
                    Some((_, row)) if row.sha256 == sha => {
                        out.insert(*sha, payload_content(row)?);
                    }
                    // Another payload's copy: put back for a later pair of the same entry.
                    Some((key, row)) => {
                        rows.insert(key, row);
                        elsewhere.push(*sha);
                    }
                    None => elsewhere.push(*sha),
                }
            }
        }
        for sha in elsewhere {
            if out.contains_key(&sha) {
                continue;
            }
            if let Some(row) = payload_copy(&txn, &sha).await? {
                out.insert(sha, payload_content(row)?);
            }
        }
        let mut read: Vec<&[u8; 32]> = out.keys().collect();
        read.sort_unstable();
        let reads: Vec<payload_reads::ActiveModel> = read
            .into_iter()
            .map(|sha| payload_reads::ActiveModel {
                payload_hash: Set(sha.to_vec()),
                reader: Set(reader.who.clone()),
                role: Set(reader.role.clone()),
                read_at: Set(now),
                ..Default::default()
            })
            .collect();
        for part in reads.chunks(100) {
            payload_reads::Entity::insert_many(part.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(out)
    }

    /// The statement [`Store::monthly_figures`] runs, for tests that inspect its plan.
    #[doc(hidden)]
    #[must_use]
    pub fn monthly_figures_statement(
        backend: DbBackend,
        m: MunicipalityCode,
        from: Period,
        to: Period,
    ) -> Statement {
        monthly_figures_statement(backend, m, from, to)
    }

    /// The sums of municipality `m`'s report figures per month in `from..=to`, over the latest
    /// version of each contract's report for the month (months without figures are left out).
    /// Nothing is read from the payloads and nothing is recorded: these are a municipality's
    /// totals, not a person opening a report.
    ///
    /// # Errors
    /// Database errors.
    pub async fn monthly_figures(
        &self,
        m: MunicipalityCode,
        from: Period,
        to: Period,
    ) -> Result<Vec<(Period, MonthFigures)>, StoreError> {
        let statement = monthly_figures_statement(self.db.get_database_backend(), m, from, to);
        let rows = self.db.query_all_raw(statement).await?;
        rows.iter()
            .map(|row| {
                let period: String = row.try_get("", "period")?;
                let period = period
                    .parse::<Period>()
                    .map_err(|_| StoreError::Corrupt(format!("report_index period {period:?}")))?;
                let reports: i64 = row.try_get("", "reports")?;
                Ok((
                    period,
                    MonthFigures {
                        reports: from_db(reports)?,
                        invoiced_sek: row.try_get("", "invoiced_sek")?,
                        active: row.try_get("", "active")?,
                    },
                ))
            })
            .collect()
    }
}

/// Of the municipality's reports in the window (read through `report_index_municipality`), only
/// the latest version of each contract and month counts: the one no correction supersedes, one
/// lookup in `report_index_supersedes` each (a correction always supersedes the latest version,
/// and `report_index_version` allows one per version, so each period's versions form one chain).
/// A `MAX(idx)` over the contract's versions instead let SQLite's MIN/MAX optimisation read every
/// report of the month for each report. The sums are cast so both databases return 64-bit
/// integers.
fn monthly_figures_statement(
    backend: DbBackend,
    m: MunicipalityCode,
    from: Period,
    to: Period,
) -> Statement {
    let p = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let sql = format!(
        "SELECT r.period AS period, COUNT(*) AS reports, \
         CAST(SUM(f.invoiced_sek) AS BIGINT) AS invoiced_sek, \
         CAST(SUM(f.active) AS BIGINT) AS active \
         FROM report_index r JOIN report_figures f ON f.idx = r.idx \
         WHERE r.municipality = {} AND r.period >= {} AND r.period <= {} \
         AND NOT EXISTS (SELECT 1 FROM report_index s WHERE s.supersedes = r.idx) \
         GROUP BY r.period ORDER BY r.period",
        p(1),
        p(2),
        p(3)
    );
    Statement::from_sql_and_values(
        backend,
        sql,
        [
            m.code().into(),
            from.to_string().into(),
            to.to_string().into(),
        ],
    )
}
