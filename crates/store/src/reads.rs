//! Every read the API and the portal need, as methods on [`Store`]: entries, tiles, checkpoints,
//! proofs, payloads (with their read audit), the report index, cosignatures and the log's identity.

use std::ops::Range;
use std::str::FromStr;

use insyn_ledger::entry::{Actor, ContractRef, Entry, Kind};
use insyn_ledger::hash::{EMPTY_ROOT, Hash};
use insyn_ledger::id::{MunicipalityCode, OrgNumber, Period};
use insyn_ledger::merkle;
use insyn_ledger::tile::{Tile, TileKind, encode_bundle};
use sea_orm::sea_query::{Expr, OnConflict, Order};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Statement, TransactionTrait,
};

use crate::entity::payload_carriers;
use crate::entity::{
    checkpoints, cosignatures, entries, full_tiles, log_meta, payload_reads, payloads,
    report_figures, report_index,
};
use crate::error::{from_db, hash32, to_db};
use crate::hashes::HashCache;
use crate::runs::{self, LEAF, PAYLOAD};
use crate::{Store, StoreError, actor_key};

/// The most rows one paginated read returns, whatever the caller asks for.
pub const MAX_PAGE: u64 = 1000;

/// One entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    /// Its leaf index.
    pub index: u64,
    /// The decoded entry.
    pub entry: Entry,
    /// The canonical entry bytes (what the leaf hash covers and tile bundles carry).
    pub bytes: Vec<u8>,
    /// The RFC 6962 leaf hash.
    pub leaf_hash: Hash,
}

/// A signed checkpoint as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// The tree size it commits to.
    pub size: u64,
    /// The signed note text (what `/checkpoint` serves).
    pub note: String,
    /// When it was made, Unix milliseconds.
    pub created_at_ms: u64,
}

/// Who is reading a payload, as recorded in the read audit. Both are pseudonymous references
/// (an account or key reference and a role name), never a person's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadReader {
    /// The reader: an account reference (`account:17`) or a key reference.
    pub who: String,
    /// The reader's role (`auditor`, `inspector`, `provider`, …).
    pub role: String,
}

/// A payload's bytes, or the tombstone that replaced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadContent {
    /// The bytes as submitted.
    Present(Vec<u8>),
    /// Erased: who did it, when and why. The hash in the log still verifies.
    Erased {
        /// When, Unix milliseconds.
        at_ms: u64,
        /// Who (a pseudonymous reference).
        by: String,
        /// The recorded reason (legal basis).
        reason: String,
    },
}

/// A recorded read of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadReadRecord {
    /// The audit row's id (increasing).
    pub id: u64,
    /// The payload's SHA-256.
    pub payload: [u8; 32],
    /// Who read it.
    pub reader: PayloadReader,
    /// When, Unix milliseconds.
    pub at_ms: u64,
}

/// Which recorded payload reads to list, newest first: every filter set narrows the result, and
/// `before` continues a list (reads with a smaller audit id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadLogQuery {
    /// Reads by this reader reference (e.g. `account:17`).
    pub reader: Option<String>,
    /// Reads of payloads of entries about this municipality: reports on its contracts, and
    /// entries it signed (provider profiles, contracts, review comments).
    pub municipality: Option<MunicipalityCode>,
    /// Only reads with an audit id strictly below this one; `None` starts with the newest.
    pub before: Option<u64>,
    /// The most rows to return (capped at [`MAX_PAGE`]).
    pub limit: u64,
}

/// A recorded payload read together with what was read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadLogRecord {
    /// The read.
    pub read: PayloadReadRecord,
    /// The first entry whose statement signs the payload (`None` only if no entry does).
    pub entry: Option<StoredEntry>,
    /// That entry's row in the report index, when it is a report or a correction.
    pub report: Option<ReportRecord>,
    /// How many other entries sign the same payload: payloads are addressed by their hash, so
    /// identical bytes (a common review comment, say) are one payload, and the read cannot
    /// tell which of those entries the reader was looking at.
    pub also_in: u64,
}

/// Keyset pagination over leaf indices (or audit ids): rows with index `> after`, at most `limit`
/// (capped at [`MAX_PAGE`]), ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Return rows strictly after this index; `None` starts at the beginning.
    pub after: Option<u64>,
    /// The most rows to return.
    pub limit: u64,
}

impl Page {
    /// The first `limit` rows.
    #[must_use]
    pub fn first(limit: u64) -> Self {
        Self { after: None, limit }
    }

    fn limit(self) -> u64 {
        self.limit.clamp(1, MAX_PAGE)
    }
}

/// Which reports to list; every field set narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// Reports on this municipality's contracts.
    pub municipality: Option<MunicipalityCode>,
    /// Reports by this provider.
    pub provider: Option<OrgNumber>,
    /// Reports on this contract.
    pub contract: Option<ContractRef>,
    /// Reports for periods from this one on (inclusive).
    pub from: Option<Period>,
    /// Reports for periods up to this one (inclusive).
    pub to: Option<Period>,
}

/// One row of the report index: a submitted or corrected report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    /// The report's leaf index.
    pub index: u64,
    /// The contract.
    pub contract: ContractRef,
    /// The period.
    pub period: Period,
    /// The provider that signed it.
    pub provider: OrgNumber,
    /// [`Kind::ReportSubmitted`] or [`Kind::ReportCorrected`].
    pub kind: Kind,
    /// For a correction, the leaf index of the report it supersedes.
    pub supersedes: Option<u64>,
}

/// A witness's cosignature of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureRecord {
    /// The witness (its note key name).
    pub witness: String,
    /// The cosigned checkpoint's size.
    pub checkpoint_size: u64,
    /// The cosignature line as received (C2SP signed-note signature line).
    pub signature: String,
    /// When it was received, Unix milliseconds.
    pub received_at_ms: u64,
}

/// The log's identity as recorded on first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogIdentity {
    /// The checkpoint origin (note key name).
    pub origin: String,
    /// The note verifier key (`name+hash+base64`).
    pub verifier_key: String,
}

pub(crate) fn stored_entry(row: entries::Model) -> Result<StoredEntry, StoreError> {
    let index = from_db(row.idx)?;
    let entry = Entry::decode(&row.entry)
        .map_err(|e| StoreError::Corrupt(format!("entry {index} does not decode: {e}")))?;
    Ok(StoredEntry {
        index,
        entry,
        bytes: row.entry,
        leaf_hash: Hash(hash32(&row.leaf_hash)?),
    })
}

fn read_record(r: payload_reads::Model) -> Result<PayloadReadRecord, StoreError> {
    Ok(PayloadReadRecord {
        id: from_db(r.id)?,
        payload: hash32(&r.payload_hash)?,
        reader: PayloadReader {
            who: r.reader,
            role: r.role,
        },
        at_ms: from_db(r.read_at)?,
    })
}

fn checkpoint_record(row: checkpoints::Model) -> Result<CheckpointRecord, StoreError> {
    Ok(CheckpointRecord {
        size: from_db(row.size)?,
        note: row.note,
        created_at_ms: from_db(row.created_at)?,
    })
}

pub(crate) fn report_record(row: report_index::Model) -> Result<ReportRecord, StoreError> {
    let bad = |what: &str, v: &str| {
        StoreError::Corrupt(format!("report_index {}: bad {what} {v:?}", row.idx))
    };
    let municipality = MunicipalityCode::from_str(&row.municipality)
        .map_err(|_| bad("municipality", &row.municipality))?;
    let reference = row
        .contract_ref
        .parse()
        .map_err(|_| bad("contract reference", &row.contract_ref))?;
    let kind = u8::try_from(row.kind)
        .ok()
        .and_then(Kind::from_code)
        .ok_or_else(|| bad("kind", &row.kind.to_string()))?;
    Ok(ReportRecord {
        index: from_db(row.idx)?,
        contract: ContractRef {
            municipality,
            reference,
        },
        period: Period::from_str(&row.period).map_err(|_| bad("period", &row.period))?,
        provider: OrgNumber::from_str(&row.provider).map_err(|_| bad("provider", &row.provider))?,
        kind,
        supersedes: row.supersedes.map(from_db).transpose()?,
    })
}

/// The size of the log as committed: one past the highest leaf index.
pub(crate) async fn committed_size<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    let last: Option<i64> = entries::Entity::find()
        .select_only()
        .column(entries::Column::Idx)
        .order_by_desc(entries::Column::Idx)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    match last {
        Some(i) => Ok(from_db(i)? + 1),
        None => Ok(0),
    }
}

/// Entries with indices in `range`, ascending. Checks they are contiguous.
pub(crate) async fn entries_in<C: ConnectionTrait>(
    db: &C,
    range: Range<u64>,
) -> Result<Vec<StoredEntry>, StoreError> {
    if range.is_empty() {
        return Ok(Vec::new());
    }
    let rows = entries::Entity::find()
        .filter(entries::Column::Idx.gte(to_db(range.start)?))
        .filter(entries::Column::Idx.lt(to_db(range.end)?))
        .order_by_asc(entries::Column::Idx)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (expected, row) in range.clone().zip(rows) {
        let e = stored_entry(row)?;
        if e.index != expected {
            return Err(StoreError::Corrupt(format!(
                "entry {expected} is missing (found {})",
                e.index
            )));
        }
        out.push(e);
    }
    Ok(out)
}

impl Store {
    /// The current size of the log (number of entries committed).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn size(&self) -> Result<u64, StoreError> {
        committed_size(&self.db).await
    }

    /// The entry at `index`, if the log has one.
    ///
    /// # Errors
    /// [`StoreError::Database`], or [`StoreError::Corrupt`] if the row does not decode.
    pub async fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        entries::Entity::find_by_id(to_db(index)?)
            .one(&self.db)
            .await?
            .map(stored_entry)
            .transpose()
    }

    /// Entries with indices in `range` (at most [`MAX_PAGE`] of them), ascending; fewer when the
    /// log ends first.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn entries(&self, range: Range<u64>) -> Result<Vec<StoredEntry>, StoreError> {
        let end = range.end.min(range.start.saturating_add(MAX_PAGE));
        entries_in(&self.db, range.start..end).await
    }

    /// The entry with this RFC 6962 leaf hash, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn entry_by_leaf_hash(
        &self,
        leaf_hash: &Hash,
    ) -> Result<Option<StoredEntry>, StoreError> {
        match self.index_by_leaf_hash(leaf_hash).await? {
            Some(index) => self.entry(index).await,
            None => Ok(None),
        }
    }

    /// The leaf index of the entry with this leaf hash, found through the runs of
    /// `runs.rs` and checked against the entry's own leaf hash.
    async fn index_by_leaf_hash(&self, leaf_hash: &Hash) -> Result<Option<u64>, StoreError> {
        let Some(index) = runs::find(&self.db, LEAF, &leaf_hash.0).await? else {
            return Ok(None);
        };
        let stored: Option<Vec<u8>> = entries::Entity::find_by_id(to_db(index)?)
            .select_only()
            .column(entries::Column::LeafHash)
            .into_tuple()
            .one(&self.db)
            .await?;
        if stored.as_deref() != Some(&leaf_hash.0[..]) {
            return Err(StoreError::Corrupt(format!(
                "the leaf-hash lookup names entry {index}, whose leaf hash differs"
            )));
        }
        Ok(Some(index))
    }

    /// Entries of one kind, paginated by leaf index.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn entries_of_kind(
        &self,
        kind: Kind,
        page: Page,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let mut q =
            entries::Entity::find().filter(entries::Column::Kind.eq(i16::from(kind.code())));
        if let Some(after) = page.after {
            q = q.filter(entries::Column::Idx.gt(to_db(after)?));
        }
        q.order_by_asc(entries::Column::Idx)
            .limit(page.limit())
            .all(&self.db)
            .await?
            .into_iter()
            .map(stored_entry)
            .collect()
    }

    /// The entries in `range` whose kind is one of `kinds`, by leaf index, at most `limit` (capped
    /// at [`MAX_PAGE`]). Read through the index on kind and leaf index, so entries of other
    /// kinds cost nothing: the portal's replica reads a million-entry log's few registrations,
    /// keys and reviews without touching its reports.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn entries_of_kinds(
        &self,
        kinds: &[Kind],
        range: Range<u64>,
        limit: u64,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        if kinds.is_empty() || range.is_empty() {
            return Ok(Vec::new());
        }
        entries::Entity::find()
            .filter(entries::Column::Kind.is_in(kinds.iter().map(|k| i16::from(k.code()))))
            .filter(entries::Column::Idx.gte(to_db(range.start)?))
            .filter(entries::Column::Idx.lt(to_db(range.end)?))
            .order_by_asc(entries::Column::Idx)
            .limit(limit.clamp(1, MAX_PAGE))
            .all(&self.db)
            .await?
            .into_iter()
            .map(stored_entry)
            .collect()
    }

    /// Entries signed by one actor, paginated by leaf index.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn entries_by_actor(
        &self,
        actor: &Actor,
        page: Page,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let mut q = entries::Entity::find().filter(entries::Column::Actor.eq(actor_key(actor)));
        if let Some(after) = page.after {
            q = q.filter(entries::Column::Idx.gt(to_db(after)?));
        }
        q.order_by_asc(entries::Column::Idx)
            .limit(page.limit())
            .all(&self.db)
            .await?
            .into_iter()
            .map(stored_entry)
            .collect()
    }

    /// The contents of a tile as served at its `tlog-tiles` path: for a hash tile, its hashes
    /// (32 bytes each, tree level 8·L); for an entry bundle, the length-prefixed entries. `None`
    /// while the log is too small to have that tile at that width.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>, StoreError> {
        let size = self.size().await?;
        self.tile_at(tile, size).await
    }

    /// Like [`Store::tile`], against a known tree size (saves a query when the caller has one).
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn tile_at(&self, tile: &Tile, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if tile.is_full()
            && let Some(data) = full_tiles::Entity::find_by_id(tile.path())
                .select_only()
                .column(full_tiles::Column::Data)
                .into_tuple::<Vec<u8>>()
                .one(&self.db)
                .await?
        {
            return Ok(Some(data));
        }
        build_tile(&self.db, tile, size).await
    }

    /// The latest checkpoint, if the log has published one.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn latest_checkpoint(&self) -> Result<Option<CheckpointRecord>, StoreError> {
        checkpoints::Entity::find()
            .order_by_desc(checkpoints::Column::Size)
            .one(&self.db)
            .await?
            .map(checkpoint_record)
            .transpose()
    }

    /// The checkpoint published for tree `size`, if one was.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn checkpoint(&self, size: u64) -> Result<Option<CheckpointRecord>, StoreError> {
        checkpoints::Entity::find_by_id(to_db(size)?)
            .one(&self.db)
            .await?
            .map(checkpoint_record)
            .transpose()
    }

    /// The log's size over time: published checkpoints created in `[from_ms, to_ms)`, oldest
    /// first, at most [`MAX_PAGE`].
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn checkpoints_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<CheckpointRecord>, StoreError> {
        checkpoints::Entity::find()
            .filter(checkpoints::Column::CreatedAt.gte(to_db(from_ms)?))
            .filter(checkpoints::Column::CreatedAt.lt(to_db(to_ms)?))
            .order_by_asc(checkpoints::Column::Size)
            .limit(MAX_PAGE)
            .all(&self.db)
            .await?
            .into_iter()
            .map(checkpoint_record)
            .collect()
    }

    /// The root hash of the tree of the first `size` entries, from stored hashes.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `size` exceeds the log, else database errors.
    pub async fn root(&self, size: u64) -> Result<Hash, StoreError> {
        if size == 0 {
            return Ok(EMPTY_ROOT);
        }
        self.check_size(size).await?;
        HashCache::default()
            .compute(&self.db, |r| merkle::tree_hash(size, r))
            .await
    }

    /// The inclusion proof of leaf `index` in the tree of `size` entries.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `index >= size` or `size` exceeds the log.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        if index >= size {
            return Err(StoreError::InvalidInput(format!(
                "leaf {index} is not in a tree of size {size}"
            )));
        }
        self.check_size(size).await?;
        HashCache::default()
            .compute(&self.db, |r| merkle::prove_inclusion(size, index, r))
            .await
    }

    /// The leaf index and inclusion proof of the entry with `leaf_hash` in the tree of `size`
    /// entries; `None` when no entry in that tree has that hash.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `size` exceeds the log, else database errors.
    pub async fn inclusion_proof_by_leaf_hash(
        &self,
        leaf_hash: &Hash,
        size: u64,
    ) -> Result<Option<(u64, Vec<Hash>)>, StoreError> {
        let Some(index) = self.index_by_leaf_hash(leaf_hash).await? else {
            return Ok(None);
        };
        if index >= size {
            return Ok(None);
        }
        Ok(Some((index, self.inclusion_proof(index, size).await?)))
    }

    /// The consistency proof that the tree of `new` entries extends the tree of `old` entries.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `old > new` or `new` exceeds the log.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        if old > new {
            return Err(StoreError::InvalidInput(format!(
                "old size {old} exceeds new size {new}"
            )));
        }
        self.check_size(new).await?;
        HashCache::default()
            .compute(&self.db, |r| merkle::prove_consistency(old, new, r))
            .await
    }

    async fn check_size(&self, size: u64) -> Result<(), StoreError> {
        let current = self.size().await?;
        if size > current {
            return Err(StoreError::InvalidInput(format!(
                "the log has {current} entries, not {size}"
            )));
        }
        Ok(())
    }

    /// Reads a payload for a person and records the read in `payload_reads`, in one transaction:
    /// there is no way to read a payload's bytes through the store without leaving a record.
    /// Authorisation (may this reader see it?) is the caller's decision, made before calling.
    /// Reads of erased payloads are recorded too. `None` (and no record) for an unknown hash.
    ///
    /// # Errors
    /// [`StoreError::Database`] (then nothing was read nor recorded).
    pub async fn read_payload(
        &self,
        sha256: &[u8; 32],
        reader: &PayloadReader,
    ) -> Result<Option<PayloadContent>, StoreError> {
        let txn = self.db.begin().await?;
        let Some(row) = payload_copy(&txn, sha256).await? else {
            txn.rollback().await?;
            return Ok(None);
        };
        payload_reads::Entity::insert(payload_reads::ActiveModel {
            payload_hash: Set(sha256.to_vec()),
            reader: Set(reader.who.clone()),
            role: Set(reader.role.clone()),
            read_at: Set(to_db(self.clock.now_ms())?),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        payload_content(row).map(Some)
    }

    /// Whether the store holds a payload with this hash (present or erased), without reading it.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn has_payload(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        let Some(index) = runs::find(&self.db, PAYLOAD, sha256).await? else {
            return Ok(false);
        };
        let stored: Option<Vec<u8>> = payloads::Entity::find_by_id(to_db(index)?)
            .select_only()
            .column(payloads::Column::Sha256)
            .into_tuple()
            .one(&self.db)
            .await?;
        check_copy(index, stored.as_deref(), sha256).map(|()| true)
    }

    /// Erases a payload's bytes (every stored copy), leaving a tombstone (who, when, why), and
    /// deletes the report figures derived from it. The entry and its hash stay in the log and
    /// still verify. Returns `false` if there is no such payload or it was already erased.
    ///
    /// The erasure holds the log's write lock, as an append does: an append stores no copy of an
    /// erased payload's bytes, and none can slip in between its check and this erasure.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty `by` or `reason`, else database errors.
    pub async fn erase_payload(
        &self,
        sha256: &[u8; 32],
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        if by.trim().is_empty() || reason.trim().is_empty() {
            return Err(StoreError::InvalidInput(
                "an erasure needs who and why".to_owned(),
            ));
        }
        use sea_orm::sea_query::ExprTrait;
        let txn = crate::sequencer::begin_locked(self).await?;
        let copies = runs::find_all(&txn, PAYLOAD, sha256)
            .await?
            .into_iter()
            .map(to_db)
            .collect::<Result<Vec<_>, _>>()?;
        if copies.is_empty() {
            txn.rollback().await?;
            return Ok(false);
        }
        let res = payloads::Entity::update_many()
            .col_expr(
                payloads::Column::Bytes,
                Expr::value(Option::<Vec<u8>>::None),
            )
            .col_expr(
                payloads::Column::ErasedAt,
                Expr::value(to_db(self.clock.now_ms())?),
            )
            .col_expr(payloads::Column::ErasedBy, Expr::value(by))
            .col_expr(payloads::Column::ErasureReason, Expr::value(reason))
            .filter(payloads::Column::Idx.is_in(copies))
            .filter(payloads::Column::Sha256.eq(sha256.to_vec()))
            .filter(payloads::Column::ErasedAt.is_null())
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        // The figures derived from the payload go with it.
        let hash = sha256.to_vec();
        let signing = entries_naming(|c| c.eq(hash.clone()));
        report_figures::Entity::delete_many()
            .filter(report_figures::Column::Idx.in_subquery(signing))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The recorded reads of a payload, oldest first (paginated by audit id).
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn payload_reads(
        &self,
        sha256: &[u8; 32],
        page: Page,
    ) -> Result<Vec<PayloadReadRecord>, StoreError> {
        let mut q = payload_reads::Entity::find()
            .filter(payload_reads::Column::PayloadHash.eq(sha256.to_vec()));
        if let Some(after) = page.after {
            q = q.filter(payload_reads::Column::Id.gt(to_db(after)?));
        }
        q.order_by_asc(payload_reads::Column::Id)
            .limit(page.limit())
            .all(&self.db)
            .await?
            .into_iter()
            .map(read_record)
            .collect()
    }

    /// Every recorded payload read across the whole ledger, newest first, one page at a time
    /// (keyset pagination on the audit id, so any page costs the same), each with the entry
    /// whose payload was read. Filtering by reader uses the `payload_reads_reader` index; by
    /// municipality, a semi-join through the entries' payload hash and the report index.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn payload_read_log(
        &self,
        query: &ReadLogQuery,
    ) -> Result<Vec<ReadLogRecord>, StoreError> {
        use sea_orm::Condition;
        use sea_orm::sea_query::{ExprTrait, Query};
        let mut q = payload_reads::Entity::find();
        if let Some(reader) = &query.reader {
            q = q.filter(payload_reads::Column::Reader.eq(reader.as_str()));
        }
        if let Some(before) = query.before {
            q = q.filter(payload_reads::Column::Id.lt(to_db(before)?));
        }
        if let Some(m) = query.municipality {
            let about = Query::select()
                .expr(Expr::val(1))
                .from(entries::Entity)
                .left_join(
                    report_index::Entity,
                    Expr::col((report_index::Entity, report_index::Column::Idx))
                        .equals((entries::Entity, entries::Column::Idx)),
                )
                .and_where(
                    Expr::col((entries::Entity, entries::Column::Idx)).in_subquery(entries_naming(
                        |c| c.equals((payload_reads::Entity, payload_reads::Column::PayloadHash)),
                    )),
                )
                .cond_where(
                    Condition::any()
                        .add(
                            Expr::col((entries::Entity, entries::Column::Actor))
                                .eq(actor_key(&Actor::Municipality(m))),
                        )
                        .add(
                            Expr::col((report_index::Entity, report_index::Column::Municipality))
                                .eq(m.code()),
                        ),
                )
                .to_owned();
            q = q.filter(Expr::exists(about));
        }
        let reads: Vec<PayloadReadRecord> = q
            .order_by_desc(payload_reads::Column::Id)
            .limit(query.limit.clamp(1, MAX_PAGE))
            .all(&self.db)
            .await?
            .into_iter()
            .map(read_record)
            .collect::<Result<_, _>>()?;
        if reads.is_empty() {
            return Ok(Vec::new());
        }

        // What was read: the first entry signing each payload, and its report row if any.
        let mut hashes: Vec<Vec<u8>> = reads.iter().map(|r| r.payload.to_vec()).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let mut entry_of: std::collections::HashMap<[u8; 32], StoredEntry> =
            std::collections::HashMap::new();
        let mut others: std::collections::HashMap<[u8; 32], u64> = std::collections::HashMap::new();
        for row in entries::Entity::find()
            .filter(entries::Column::Idx.in_subquery(entries_naming(|c| c.is_in(hashes.clone()))))
            .order_by_asc(entries::Column::Idx)
            .all(&self.db)
            .await?
        {
            let Some(sha) = row.payload_hash.as_deref().map(hash32).transpose()? else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = entry_of.entry(sha) {
                slot.insert(stored_entry(row)?);
            } else {
                *others.entry(sha).or_default() += 1;
            }
        }
        let mut indices: Vec<i64> = entry_of
            .values()
            .map(|e| to_db(e.index))
            .collect::<Result<_, _>>()?;
        indices.sort_unstable();
        let mut report_of: std::collections::HashMap<u64, ReportRecord> =
            std::collections::HashMap::new();
        if !indices.is_empty() {
            for row in report_index::Entity::find()
                .filter(report_index::Column::Idx.is_in(indices))
                .all(&self.db)
                .await?
            {
                let r = report_record(row)?;
                report_of.insert(r.index, r);
            }
        }
        Ok(reads
            .into_iter()
            .map(|read| {
                let entry = entry_of.get(&read.payload).cloned();
                let report = entry
                    .as_ref()
                    .and_then(|e| report_of.get(&e.index).cloned());
                let also_in = others.get(&read.payload).copied().unwrap_or(0);
                ReadLogRecord {
                    read,
                    entry,
                    report,
                    also_in,
                }
            })
            .collect())
    }

    /// Reports matching `query`, ascending by leaf index, paginated.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn reports(
        &self,
        query: &ReportQuery,
        page: Page,
    ) -> Result<Vec<ReportRecord>, StoreError> {
        use report_index::Column as C;
        let mut q = report_index::Entity::find();
        if let Some(m) = query.municipality {
            q = q.filter(C::Municipality.eq(m.code()));
        }
        if let Some(p) = &query.provider {
            q = q.filter(C::Provider.eq(p.digits()));
        }
        if let Some(c) = &query.contract {
            q = q
                .filter(C::Municipality.eq(c.municipality.code()))
                .filter(C::ContractRef.eq(c.reference.as_str()));
        }
        if let Some(from) = query.from {
            q = q.filter(C::Period.gte(from.to_string()));
        }
        if let Some(to) = query.to {
            q = q.filter(C::Period.lte(to.to_string()));
        }
        if let Some(after) = page.after {
            q = q.filter(C::Idx.gt(to_db(after)?));
        }
        q.order_by_asc(C::Idx)
            .limit(page.limit())
            .all(&self.db)
            .await?
            .into_iter()
            .map(report_record)
            .collect()
    }

    /// The report index's row for leaf `index`, if that entry is a report or correction.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn report(&self, index: u64) -> Result<Option<ReportRecord>, StoreError> {
        report_index::Entity::find_by_id(to_db(index)?)
            .one(&self.db)
            .await?
            .map(report_record)
            .transpose()
    }

    /// The report index's rows for `indices` (those that are reports), by leaf index.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn reports_at(&self, indices: &[u64]) -> Result<Vec<ReportRecord>, StoreError> {
        let mut out = Vec::new();
        for chunk in indices.chunks(500) {
            let keys = chunk
                .iter()
                .map(|i| to_db(*i))
                .collect::<Result<Vec<_>, _>>()?;
            for row in report_index::Entity::find()
                .filter(report_index::Column::Idx.is_in(keys))
                .all(&self.db)
                .await?
            {
                out.push(report_record(row)?);
            }
        }
        out.sort_by_key(|r| r.index);
        Ok(out)
    }

    /// Every report (original and corrections) for one contract and period, oldest first. The
    /// last one is the report currently in force.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn report_versions(
        &self,
        contract: &ContractRef,
        period: Period,
    ) -> Result<Vec<ReportRecord>, StoreError> {
        let mut versions = report_versions_query(contract, period)
            .all(&self.db)
            .await?
            .into_iter()
            .map(report_record)
            .collect::<Result<Vec<_>, _>>()?;
        versions.sort_by_key(|r| r.index);
        Ok(versions)
    }

    /// The statement [`Store::report_versions`] runs, for tests that inspect its plan.
    #[doc(hidden)]
    #[must_use]
    pub fn report_versions_statement(
        backend: DbBackend,
        contract: &ContractRef,
        period: Period,
    ) -> Statement {
        report_versions_query(contract, period).build(backend)
    }

    /// Records a witness's cosignature of the checkpoint of `checkpoint_size`. Idempotent: the
    /// same line again returns `Ok(false)`. Checking the signature is the caller's job (the ledger
    /// crate's `CosignerVerifier`), done before calling.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when there is no such checkpoint or the witness already gave
    /// a different cosignature for it; database errors otherwise.
    pub async fn add_cosignature(
        &self,
        witness: &str,
        checkpoint_size: u64,
        signature_line: &str,
    ) -> Result<bool, StoreError> {
        if self.checkpoint(checkpoint_size).await?.is_none() {
            return Err(StoreError::InvalidInput(format!(
                "no checkpoint of size {checkpoint_size}"
            )));
        }
        let res = cosignatures::Entity::insert(cosignatures::ActiveModel {
            witness: Set(witness.to_owned()),
            checkpoint_size: Set(to_db(checkpoint_size)?),
            signature: Set(signature_line.to_owned()),
            received_at: Set(to_db(self.clock.now_ms())?),
        })
        .on_conflict(
            OnConflict::columns([
                cosignatures::Column::Witness,
                cosignatures::Column::CheckpointSize,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        if res == 1 {
            return Ok(true);
        }
        let existing =
            cosignatures::Entity::find_by_id((witness.to_owned(), to_db(checkpoint_size)?))
                .one(&self.db)
                .await?;
        match existing {
            Some(row) if row.signature == signature_line => Ok(false),
            _ => Err(StoreError::InvalidInput(format!(
                "witness {witness} already cosigned size {checkpoint_size} differently"
            ))),
        }
    }

    /// The cosignatures of the checkpoint of `checkpoint_size`, by witness name.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn cosignatures(
        &self,
        checkpoint_size: u64,
    ) -> Result<Vec<CosignatureRecord>, StoreError> {
        cosignatures::Entity::find()
            .filter(cosignatures::Column::CheckpointSize.eq(to_db(checkpoint_size)?))
            .order_by_asc(cosignatures::Column::Witness)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| {
                Ok(CosignatureRecord {
                    witness: r.witness,
                    checkpoint_size: from_db(r.checkpoint_size)?,
                    signature: r.signature,
                    received_at_ms: from_db(r.received_at)?,
                })
            })
            .collect()
    }

    /// The log's identity (origin and verifier key), once the sequencer has started once.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn log_identity(&self) -> Result<Option<LogIdentity>, StoreError> {
        Ok(log_meta::Entity::find_by_id(1)
            .one(&self.db)
            .await?
            .map(|r| LogIdentity {
                origin: r.origin,
                verifier_key: r.verifier_key,
            }))
    }
}

/// The leaf indices of the entries that name a payload whose hash satisfies `matches` (given the
/// hash column): every entry that stored a copy (through the runs of `payload_lookup`, one seek
/// per run) and every other entry naming it (`payload_carriers`, through its hash index). There
/// is no index of the entries by payload hash: the append path would pay a page of it per entry
/// (see migrations 7 and 10).
pub(crate) fn entries_naming<F>(matches: F) -> sea_orm::sea_query::SelectStatement
where
    F: Fn(Expr) -> Expr,
{
    use sea_orm::sea_query::{Alias, ExprTrait, Query, UnionType};
    let carriers = Query::select()
        .column((payload_carriers::Entity, payload_carriers::Column::Idx))
        .from(payload_carriers::Entity)
        .and_where(matches(Expr::col((
            payload_carriers::Entity,
            payload_carriers::Column::PayloadHash,
        ))))
        .to_owned();
    let (runs, lookup) = (
        Alias::new(PAYLOAD.runs_table()),
        Alias::new(PAYLOAD.lookup_table()),
    );
    Query::select()
        .column((lookup.clone(), Alias::new("idx")))
        .from(runs.clone())
        .cross_join(lookup.clone())
        .and_where(Expr::col((lookup.clone(), Alias::new("run"))).equals((runs, Alias::new("id"))))
        .and_where(matches(Expr::col((
            lookup,
            Alias::new(PAYLOAD.key_column()),
        ))))
        .union(UnionType::All, carriers)
        .to_owned()
}

/// A stored copy of the payload with this hash (the lowest entry's), found through the runs and
/// checked against the row's own hash. Every copy of a payload is erased together, so any copy
/// tells whether the payload is present or erased.
pub(crate) async fn payload_copy(
    db: &impl ConnectionTrait,
    sha256: &[u8; 32],
) -> Result<Option<payloads::Model>, StoreError> {
    let Some(index) = runs::find(db, PAYLOAD, sha256).await? else {
        return Ok(None);
    };
    let row = payloads::Entity::find_by_id(to_db(index)?).one(db).await?;
    check_copy(index, row.as_ref().map(|r| &r.sha256[..]), sha256)?;
    Ok(row)
}

/// That the copy the runs name at `index` (its stored hash, if the row exists) is of `sha256`.
fn check_copy(index: u64, stored: Option<&[u8]>, sha256: &[u8; 32]) -> Result<(), StoreError> {
    if stored == Some(&sha256[..]) {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "the payload-hash lookup names entry {index}, which stored no such payload"
        )))
    }
}

pub(crate) fn payload_content(row: payloads::Model) -> Result<PayloadContent, StoreError> {
    match (row.bytes, row.erased_at) {
        (Some(bytes), None) => Ok(PayloadContent::Present(bytes)),
        (None, Some(at)) => Ok(PayloadContent::Erased {
            at_ms: from_db(at)?,
            by: row.erased_by.unwrap_or_default(),
            reason: row.erasure_reason.unwrap_or_default(),
        }),
        _ => Err(StoreError::Corrupt(
            "a payload row is neither present nor a tombstone".to_owned(),
        )),
    }
}

/// A tile's bytes built from the rows it covers (entries, or stored hashes), as of a tree of
/// `size` leaves; `None` when the tree does not have it yet. The sequencer stores full tiles with
/// this too, so a stored tile and a built one are the same bytes by construction.
pub(crate) async fn build_tile<C: ConnectionTrait>(
    db: &C,
    tile: &Tile,
    size: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let positions = tile.positions();
    match tile.kind() {
        TileKind::Entries => {
            if positions.end > size {
                return Ok(None);
            }
            let rows = entries::Entity::find()
                .select_only()
                .column(entries::Column::Entry)
                .filter(entries::Column::Idx.gte(to_db(positions.start)?))
                .filter(entries::Column::Idx.lt(to_db(positions.end)?))
                .order_by_asc(entries::Column::Idx)
                .into_tuple::<Vec<u8>>()
                .all(db)
                .await?;
            if rows.len() != positions.clone().count() {
                return Err(StoreError::Corrupt(format!(
                    "entries missing under tile {tile}"
                )));
            }
            encode_bundle(&rows)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        TileKind::Hashes { level } => {
            // The hash at position p of tree level h exists once the tree has (p+1)·2^h leaves.
            let height = u32::from(level) * 8;
            let needed = positions
                .end
                .checked_shl(height)
                .filter(|n| n >> height == positions.end);
            if needed.is_none_or(|n| n > size) {
                return Ok(None);
            }
            let mut cache = HashCache::default();
            cache.compute(db, |r| tile.read_hashes(r)).await.map(Some)
        }
    }
}

/// The versions of `contract`'s report for `period`, in `report_index_version`'s order: the
/// original (-1), then each correction by the version it supersedes, which is the order of the
/// log (a correction supersedes the latest version). Ordered by `idx` instead, SQLite reads every
/// report of the period through the index on municipality and period, which yields that order.
fn report_versions_query(contract: &ContractRef, period: Period) -> Select<report_index::Entity> {
    use report_index::Column as C;
    report_index::Entity::find()
        .filter(C::Municipality.eq(contract.municipality.code()))
        .filter(C::ContractRef.eq(contract.reference.as_str()))
        .filter(C::Period.eq(period.to_string()))
        .order_by(Expr::cust("COALESCE(supersedes, -1)"), Order::Asc)
        .limit(MAX_PAGE)
}
