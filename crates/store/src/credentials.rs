//! API credentials (bearer tokens tied to a role and scope) and the lookups the API needs to
//! decide who may read a payload. Tokens are random; only their SHA-256 is stored.

use insyn_ledger::entry::{Actor, Body, Kind};
use insyn_ledger::hash::sha256;
use insyn_ledger::id::{MunicipalityCode, OrgNumber};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entity::entries;
use crate::error::{from_db, to_db};
use crate::reads::{StoredEntry, stored_entry};
use crate::{Store, StoreError, actor_key};

/// The `api_credentials` table.
#[allow(missing_docs)]
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_credentials")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub token_hash: String,
        pub role: String,
        pub scope: String,
        pub label: String,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A stored credential (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Its number, used as the reader reference in the payload-read audit (`credential:N`).
    pub id: i32,
    /// `provider`, `auditor` or `inspector`.
    pub role: String,
    /// The organisation number (provider), municipality code (auditor) or "" (inspector).
    pub scope: String,
    /// What it is for, as the operator described it.
    pub label: String,
    /// When it was created, Unix milliseconds.
    pub created_at_ms: u64,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<u64>,
}

fn token_hash(token: &str) -> String {
    hex::encode(sha256(token.as_bytes()))
}

fn credential(row: entity::Model) -> Result<Credential, StoreError> {
    Ok(Credential {
        id: row.id,
        role: row.role,
        scope: row.scope,
        label: row.label,
        created_at_ms: from_db(row.created_at)?,
        revoked_at_ms: row.revoked_at.map(from_db).transpose()?,
    })
}

impl Store {
    /// Stores a credential for `token` (which the caller generated and shows once).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty role or label; database errors.
    pub async fn add_credential(
        &self,
        token: &str,
        role: &str,
        scope: &str,
        label: &str,
    ) -> Result<i32, StoreError> {
        if role.is_empty() || label.trim().is_empty() {
            return Err(StoreError::InvalidInput(
                "a credential needs a role and a label".into(),
            ));
        }
        let row = entity::ActiveModel {
            token_hash: Set(token_hash(token)),
            role: Set(role.to_owned()),
            scope: Set(scope.to_owned()),
            label: Set(label.to_owned()),
            created_at: Set(to_db(self.clock().now_ms())?),
            ..Default::default()
        };
        let res = entity::Entity::insert(row).exec(self.connection()).await?;
        Ok(res.last_insert_id)
    }

    /// The unrevoked credential whose token is `token`, if any.
    ///
    /// # Errors
    /// Database errors.
    pub async fn credential_by_token(&self, token: &str) -> Result<Option<Credential>, StoreError> {
        entity::Entity::find()
            .filter(entity::Column::TokenHash.eq(token_hash(token)))
            .filter(entity::Column::RevokedAt.is_null())
            .one(self.connection())
            .await?
            .map(credential)
            .transpose()
    }

    /// Revokes credential `id`; `false` when there is no such unrevoked credential.
    ///
    /// # Errors
    /// Database errors.
    pub async fn revoke_credential(&self, id: i32) -> Result<bool, StoreError> {
        let res = entity::Entity::update_many()
            .col_expr(
                entity::Column::RevokedAt,
                Expr::value(to_db(self.clock().now_ms())?),
            )
            .filter(entity::Column::Id.eq(id))
            .filter(entity::Column::RevokedAt.is_null())
            .exec(self.connection())
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Every credential, newest first (never their tokens).
    ///
    /// # Errors
    /// Database errors.
    pub async fn credentials(&self) -> Result<Vec<Credential>, StoreError> {
        entity::Entity::find()
            .order_by_desc(entity::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(credential)
            .collect()
    }

    /// The entries whose statements name the payload with this SHA-256 (usually one; the same
    /// bytes may be named twice), in log order.
    ///
    /// # Errors
    /// Database errors, or [`StoreError::Corrupt`] for an entry that does not decode.
    pub async fn entries_with_payload(
        &self,
        sha256: &[u8; 32],
    ) -> Result<Vec<StoredEntry>, StoreError> {
        entries_with_payload_query(sha256)
            .all(self.connection())
            .await?
            .into_iter()
            .map(stored_entry)
            .collect()
    }

    /// The statement [`Store::entries_with_payload`] runs, for tests that inspect its plan.
    #[doc(hidden)]
    #[must_use]
    pub fn entries_with_payload_statement(
        backend: sea_orm::DbBackend,
        sha256: &[u8; 32],
    ) -> sea_orm::Statement {
        use sea_orm::QueryTrait;
        entries_with_payload_query(sha256).build(backend)
    }

    /// Whether municipality `m` has registered a contract with provider `p` (at any time).
    ///
    /// # Errors
    /// Database errors, or [`StoreError::Corrupt`] for an entry that does not decode.
    pub async fn has_contract(
        &self,
        m: MunicipalityCode,
        p: &OrgNumber,
    ) -> Result<bool, StoreError> {
        let rows = entries::Entity::find()
            .filter(entries::Column::Kind.eq(i16::from(Kind::ContractRegistered.code())))
            .filter(entries::Column::Actor.eq(actor_key(&Actor::Municipality(m))))
            .all(self.connection())
            .await?;
        for row in rows {
            let e = stored_entry(row)?;
            if matches!(e.entry.statement().body(), Body::ContractRegistered { provider, .. } if provider == p)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The entries naming a payload (at most 100, in log order): by leaf index through the payloads'
/// key and the carriers' hash index (there is no index of the entries by payload hash).
fn entries_with_payload_query(sha256: &[u8; 32]) -> sea_orm::Select<entries::Entity> {
    use sea_orm::sea_query::ExprTrait;
    let hash = sha256.to_vec();
    entries::Entity::find()
        .filter(
            entries::Column::Idx.in_subquery(crate::reads::entries_naming(|c| c.eq(hash.clone()))),
        )
        .order_by_asc(entries::Column::Idx)
        .limit(100)
}
