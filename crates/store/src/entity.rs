//! sea-orm entities for the ledger tables (created by `insyn-migrations`, never from these types).
//!
//! These are storage rows, not domain values: handlers never see them. The public read API in
//! [`crate::Store`] turns them into typed values. Binary columns hold raw bytes (hashes are 32
//! bytes), integer columns hold u64 values below 2⁶³, times are Unix milliseconds.
// The derive macros generate public items (Column, ActiveModel, ...) that cannot carry docs.
#![allow(missing_docs)]

/// One log entry (Merkle leaf) per row.
pub mod entries {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i64,
        pub entry: Vec<u8>,
        pub leaf_hash: Vec<u8>,
        pub dedupe_hash: Vec<u8>,
        pub kind: i16,
        pub actor: String,
        pub key_id: Vec<u8>,
        pub payload_hash: Option<Vec<u8>>,
        pub integrated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The Merkle tree's stored hashes, by stored hash index.
pub mod stored_hashes {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "stored_hashes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i64,
        pub hash: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Signed checkpoints, one per published tree size.
pub mod checkpoints {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "checkpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub size: i64,
        pub note: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Payloads beside the tree, each stored by the entry that brought it (`idx`); `bytes` is `NULL`
/// once erased (with a tombstone). Found by hash through the runs of `payload_lookup` (see
/// `runs.rs`). Two entries bringing the same bytes store a copy each; an erasure erases every
/// copy, and the bytes of an erased payload are never stored again.
pub mod payloads {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payloads")]
    pub struct Model {
        /// The entry whose submission brought the bytes.
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i64,
        pub sha256: Vec<u8>,
        pub bytes: Option<Vec<u8>>,
        pub size: i64,
        pub stored_at: i64,
        pub erased_at: Option<i64>,
        pub erased_by: Option<String>,
        pub erasure_reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Every entry that names a payload without storing a copy of it (in [`payloads`]): a
/// statement naming a payload it did not bring, one bringing the bytes of an erased payload, and
/// (before migration 10) the same bytes named again. Append-only.
pub mod payload_carriers {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payload_carriers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i64,
        pub payload_hash: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The append-only audit of every read of a payload by a person.
pub mod payload_reads {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payload_reads")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub payload_hash: Vec<u8>,
        pub reader: String,
        pub role: String,
        pub read_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Reports (kinds ReportSubmitted and ReportCorrected) by contract, period and provider.
pub mod report_index {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "report_index")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i64,
        pub municipality: String,
        pub contract_ref: String,
        pub period: String,
        pub provider: String,
        pub kind: i16,
        pub supersedes: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The figures of each report that the overview's charts sum (derived from the payload at
/// admission; deleted with the payload's bytes when it is erased).
pub mod report_figures {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "report_figures")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i64,
        pub invoiced_sek: i64,
        pub active: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Witness cosignatures of checkpoints.
pub mod cosignatures {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cosignatures")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub witness: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub checkpoint_size: i64,
        pub signature: String,
        pub received_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The log's identity: origin and note verifier key (one row, id 1).
pub mod log_meta {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "log_meta")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub origin: String,
        pub verifier_key: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The bytes of every full tile, by tile path (`tile/0/x001/234`, `tile/entries/000`), written in
/// the append transaction that completes the tile.
pub mod full_tiles {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "full_tiles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub path: String,
        pub data: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
