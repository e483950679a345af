//! The portal's accounts, sessions and login attempts at rest (tables from the
//! `m20261125_000002_accounts` migration).
//!
//! This module stores and finds; it decides nothing. Password hashing, token generation, expiry
//! and throttling thresholds belong to the portal, which passes in hashes and times (Unix
//! milliseconds) and reads back rows.

use std::fmt;
use std::str::FromStr;

use insyn_ledger::id::MunicipalityCode;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

/// Why an account query failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Another account already has this username.
    #[error("an account named {0:?} already exists")]
    UsernameTaken(String),
    /// A row in the database does not describe a valid account (a hand-edited or corrupt row).
    #[error("account row {id} is invalid: {reason}")]
    InvalidRow {
        /// The row's id.
        id: i32,
        /// What is wrong with it.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// What an account may do, with the municipality an auditor is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountRole {
    /// A municipal auditor: sees only the providers contracted by this municipality.
    Auditor(MunicipalityCode),
    /// A national inspector: reads and verifies everything.
    Inspector,
    /// Manages accounts.
    Administrator,
}

impl AccountRole {
    /// The role's name as stored (`auditor`, `inspector`, `administrator`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            AccountRole::Auditor(_) => "auditor",
            AccountRole::Inspector => "inspector",
            AccountRole::Administrator => "administrator",
        }
    }

    /// The municipality of an auditor, `None` for the other roles.
    #[must_use]
    pub fn municipality(self) -> Option<MunicipalityCode> {
        match self {
            AccountRole::Auditor(m) => Some(m),
            AccountRole::Inspector | AccountRole::Administrator => None,
        }
    }

    fn from_columns(role: &str, municipality: Option<&str>) -> Result<Self, String> {
        match (role, municipality) {
            ("auditor", Some(code)) => MunicipalityCode::from_str(code)
                .map(AccountRole::Auditor)
                .map_err(|e| e.to_string()),
            ("auditor", None) => Err("an auditor without a municipality".to_owned()),
            ("inspector", None) => Ok(AccountRole::Inspector),
            ("administrator", None) => Ok(AccountRole::Administrator),
            ("inspector" | "administrator", Some(_)) => {
                Err(format!("a {role} must not have a municipality"))
            }
            (other, _) => Err(format!("unknown role {other:?}")),
        }
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountRole::Auditor(m) => write!(f, "auditor ({m})"),
            other => f.write_str(other.name()),
        }
    }
}

/// A stored account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The row id, referenced by sessions and by reviews ("account ref").
    pub id: i32,
    /// The login name (lower case, unique).
    pub username: String,
    /// The name shown on pages; free text chosen by an administrator.
    pub display_name: String,
    /// What the account may do.
    pub role: AccountRole,
    /// The interface language code (`sv`, `en`).
    pub language: String,
    /// A disabled account cannot log in and its sessions are not honoured.
    pub disabled: bool,
    /// When the account was created (Unix milliseconds).
    pub created_at: i64,
}

/// A new account to store. The password must already be hashed.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    /// The login name, already normalised by the caller.
    pub username: &'a str,
    /// The name shown on pages.
    pub display_name: &'a str,
    /// What the account may do.
    pub role: AccountRole,
    /// The interface language code.
    pub language: &'a str,
    /// The PHC password hash string.
    pub password_hash: &'a str,
    /// Creation time (Unix milliseconds).
    pub created_at: i64,
}

/// A stored session. The token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Hex SHA-256 of the session token.
    pub token_hash: String,
    /// The account logged in.
    pub account_id: i32,
    /// The synchronizer token that every form of this session must carry.
    pub csrf_token: String,
    /// When the session began (Unix milliseconds).
    pub created_at: i64,
    /// When the session was last used (Unix milliseconds).
    pub last_seen_at: i64,
    /// When the session ends whatever happens (Unix milliseconds).
    pub expires_at: i64,
}

mod account_row {
    // Private entity: the derives need `pub` items, which are unreachable from outside.
    #![allow(unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub username: String,
        pub display_name: String,
        pub role: String,
        pub municipality: Option<String>,
        pub language: String,
        pub password_hash: String,
        pub disabled: bool,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod session_row {
    // Private entity: the derives need `pub` items, which are unreachable from outside.
    #![allow(unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub account_id: i32,
        pub csrf_token: String,
        pub created_at: i64,
        pub last_seen_at: i64,
        pub expires_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod attempt_row {
    // Private entity: the derives need `pub` items, which are unreachable from outside.
    #![allow(unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub username: String,
        pub client_addr: String,
        pub attempted_at: i64,
        pub succeeded: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn to_account(row: account_row::Model) -> Result<Account, AccountError> {
    let role = AccountRole::from_columns(&row.role, row.municipality.as_deref())
        .map_err(|reason| AccountError::InvalidRow { id: row.id, reason })?;
    Ok(Account {
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        role,
        language: row.language,
        disabled: row.disabled,
        created_at: row.created_at,
    })
}

fn to_session(row: session_row::Model) -> Session {
    Session {
        token_hash: row.token_hash,
        account_id: row.account_id,
        csrf_token: row.csrf_token,
        created_at: row.created_at,
        last_seen_at: row.last_seen_at,
        expires_at: row.expires_at,
    }
}

/// Stores a new account and returns its id.
///
/// # Errors
/// [`AccountError::UsernameTaken`] if the username exists; [`AccountError::Db`] otherwise.
pub async fn insert_account<C: ConnectionTrait>(
    db: &C,
    new: &NewAccount<'_>,
) -> Result<i32, AccountError> {
    let row = account_row::ActiveModel {
        username: Set(new.username.to_owned()),
        display_name: Set(new.display_name.to_owned()),
        role: Set(new.role.name().to_owned()),
        municipality: Set(new.role.municipality().map(|m| m.code().to_owned())),
        language: Set(new.language.to_owned()),
        password_hash: Set(new.password_hash.to_owned()),
        disabled: Set(false),
        created_at: Set(new.created_at),
        ..Default::default()
    };
    match row.insert(db).await {
        Ok(model) => Ok(model.id),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(AccountError::UsernameTaken(new.username.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Finds an account by its (normalised) username, with its password hash.
///
/// # Errors
/// [`AccountError::Db`] or [`AccountError::InvalidRow`].
pub async fn find_account_by_username<C: ConnectionTrait>(
    db: &C,
    username: &str,
) -> Result<Option<(Account, String)>, AccountError> {
    let row = account_row::Entity::find()
        .filter(account_row::Column::Username.eq(username))
        .one(db)
        .await?;
    row.map(|r| {
        let hash = r.password_hash.clone();
        to_account(r).map(|a| (a, hash))
    })
    .transpose()
}

/// Finds an account by id.
///
/// # Errors
/// [`AccountError::Db`] or [`AccountError::InvalidRow`].
pub async fn find_account<C: ConnectionTrait>(
    db: &C,
    id: i32,
) -> Result<Option<Account>, AccountError> {
    account_row::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_account)
        .transpose()
}

/// Every account, ordered by username.
///
/// # Errors
/// [`AccountError::Db`] or [`AccountError::InvalidRow`].
pub async fn list_accounts<C: ConnectionTrait>(db: &C) -> Result<Vec<Account>, AccountError> {
    account_row::Entity::find()
        .order_by_asc(account_row::Column::Username)
        .all(db)
        .await?
        .into_iter()
        .map(to_account)
        .collect()
}

/// Sets an account's interface language code.
///
/// # Errors
/// [`AccountError::Db`].
pub async fn set_language<C: ConnectionTrait>(
    db: &C,
    account_id: i32,
    language: &str,
) -> Result<(), AccountError> {
    account_row::Entity::update_many()
        .col_expr(account_row::Column::Language, Expr::value(language))
        .filter(account_row::Column::Id.eq(account_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces an account's password hash.
///
/// # Errors
/// [`AccountError::Db`].
pub async fn set_password_hash<C: ConnectionTrait>(
    db: &C,
    account_id: i32,
    password_hash: &str,
) -> Result<(), AccountError> {
    account_row::Entity::update_many()
        .col_expr(
            account_row::Column::PasswordHash,
            Expr::value(password_hash),
        )
        .filter(account_row::Column::Id.eq(account_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Enables or disables an account. Disabling also ends all its sessions.
///
/// # Errors
/// [`AccountError::Db`].
pub async fn set_disabled<C: ConnectionTrait>(
    db: &C,
    account_id: i32,
    disabled: bool,
) -> Result<(), AccountError> {
    account_row::Entity::update_many()
        .col_expr(account_row::Column::Disabled, Expr::value(disabled))
        .filter(account_row::Column::Id.eq(account_id))
        .exec(db)
        .await?;
    if disabled {
        session_row::Entity::delete_many()
            .filter(session_row::Column::AccountId.eq(account_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Stores a new session.
///
/// # Errors
/// [`AccountError::Db`].
pub async fn insert_session<C: ConnectionTrait>(
    db: &C,
    session: &Session,
) -> Result<(), AccountError> {
    session_row::ActiveModel {
        token_hash: Set(session.token_hash.clone()),
        account_id: Set(session.account_id),
        csrf_token: Set(session.csrf_token.clone()),
        created_at: Set(session.created_at),
        last_seen_at: Set(session.last_seen_at),
        expires_at: Set(session.expires_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Finds a session by its token hash, with its account. Expiry is the caller's decision.
///
/// # Errors
/// [`AccountError::Db`] or [`AccountError::InvalidRow`].
pub async fn find_session<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
) -> Result<Option<(Session, Account)>, AccountError> {
    let Some(session) = session_row::Entity::find_by_id(token_hash.to_owned())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(account) = find_account(db, session.account_id).await? else {
        return Ok(None);
    };
    Ok(Some((to_session(session), account)))
}

/// Records that a session was used at `now`.
///
/// # Errors
/// [`AccountError::Db`].
pub async fn touch_session<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
    now: i64,
) -> Result<(), AccountError> {
    session_row::Entity::update_many()
        .col_expr(session_row::Column::LastSeenAt, Expr::value(now))
        .filter(session_row::Column::TokenHash.eq(token_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes one session (logout).
///
/// # Errors
/// [`AccountError::Db`].
pub async fn delete_session<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
) -> Result<(), AccountError> {
    session_row::Entity::delete_by_id(token_hash.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes sessions past their absolute end (`expires_at <= now`) or unused since
/// `idle_cutoff`. Returns how many were deleted.
///
/// # Errors
/// [`AccountError::Db`].
pub async fn delete_expired_sessions<C: ConnectionTrait>(
    db: &C,
    now: i64,
    idle_cutoff: i64,
) -> Result<u64, AccountError> {
    let result = session_row::Entity::delete_many()
        .filter(
            Condition::any()
                .add(session_row::Column::ExpiresAt.lte(now))
                .add(session_row::Column::LastSeenAt.lt(idle_cutoff)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Records a login attempt (successful or not) for throttling and audit.
///
/// # Errors
/// [`AccountError::Db`].
pub async fn record_login_attempt<C: ConnectionTrait>(
    db: &C,
    username: &str,
    client_addr: &str,
    at: i64,
    succeeded: bool,
) -> Result<(), AccountError> {
    attempt_row::ActiveModel {
        username: Set(username.to_owned()),
        client_addr: Set(client_addr.to_owned()),
        attempted_at: Set(at),
        succeeded: Set(succeeded),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Failed attempts counted against a username or a client address since some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecentFailures {
    /// How many failed attempts there were.
    pub count: u64,
    /// When the earliest of them was made (Unix milliseconds), if any.
    pub earliest: Option<i64>,
}

/// Failed login attempts for `username` at or after `since` and after the username's latest
/// successful login (a success resets the count).
///
/// # Errors
/// [`AccountError::Db`].
pub async fn recent_failures_for_username<C: ConnectionTrait>(
    db: &C,
    username: &str,
    since: i64,
) -> Result<RecentFailures, AccountError> {
    let last_success: Option<i64> = attempt_row::Entity::find()
        .select_only()
        .column(attempt_row::Column::AttemptedAt)
        .filter(attempt_row::Column::Username.eq(username))
        .filter(attempt_row::Column::Succeeded.eq(true))
        .filter(attempt_row::Column::AttemptedAt.gte(since))
        .order_by_desc(attempt_row::Column::AttemptedAt)
        .into_tuple()
        .one(db)
        .await?;
    let from = last_success.map_or(since, |t| t.max(since).saturating_add(1));
    failures(db, attempt_row::Column::Username, username, from).await
}

/// Failed login attempts from `client_addr` at or after `since`, whatever the username.
///
/// # Errors
/// [`AccountError::Db`].
pub async fn recent_failures_for_address<C: ConnectionTrait>(
    db: &C,
    client_addr: &str,
    since: i64,
) -> Result<RecentFailures, AccountError> {
    failures(db, attempt_row::Column::ClientAddr, client_addr, since).await
}

async fn failures<C: ConnectionTrait>(
    db: &C,
    column: attempt_row::Column,
    value: &str,
    since: i64,
) -> Result<RecentFailures, AccountError> {
    let query = attempt_row::Entity::find()
        .filter(column.eq(value))
        .filter(attempt_row::Column::Succeeded.eq(false))
        .filter(attempt_row::Column::AttemptedAt.gte(since));
    let count = query.clone().count(db).await?;
    let earliest: Option<i64> = query
        .select_only()
        .column(attempt_row::Column::AttemptedAt)
        .order_by_asc(attempt_row::Column::AttemptedAt)
        .into_tuple()
        .one(db)
        .await?;
    Ok(RecentFailures { count, earliest })
}

/// Deletes login attempts older than `before` (they no longer count for throttling).
///
/// # Errors
/// [`AccountError::Db`].
pub async fn prune_login_attempts<C: ConnectionTrait>(
    db: &C,
    before: i64,
) -> Result<u64, AccountError> {
    let result = attempt_row::Entity::delete_many()
        .filter(attempt_row::Column::AttemptedAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
