//! Accounts: creating them (for `insyn admin` and `insyn serve --demo`), and logging in with
//! throttling. The queries are in `insyn_store::accounts`; this module adds validation,
//! password hashing and the throttling policy.

use std::sync::Arc;

use sea_orm::ConnectionTrait;

use insyn_store::accounts::{self as store, AccountError};
pub use insyn_store::accounts::{Account, AccountRole};

use crate::config::{Clock, PortalConfig, millis};
use crate::error::Error;
use crate::i18n::Language;
use crate::password::{self, PasswordCost};
use crate::session;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted (bounds hashing work).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A new account, as given by an administrator.
#[derive(Clone)]
pub struct NewAccount {
    /// Login name: 1–64 characters of `a-z 0-9 . _ - @`; upper case is folded to lower case.
    pub username: String,
    /// The name shown on pages (1–200 characters, no control characters).
    pub display_name: String,
    /// Role, with the municipality for an auditor.
    pub role: AccountRole,
    /// Interface language.
    pub language: Language,
    /// The password in clear text (hashed with Argon2id before it is stored).
    pub password: String,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("language", &self.language)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    /// The username is empty, too long, or has other characters than `a-z 0-9 . _ - @`.
    #[error("username must be 1–64 characters of a–z, 0–9, '.', '_', '-', '@'")]
    InvalidUsername,
    /// The display name is empty, too long, or has control characters.
    #[error("display name must be 1–200 characters without control characters")]
    InvalidDisplayName,
    /// The password is too short or too long.
    #[error("password must be {MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} characters")]
    InvalidPassword,
    /// The username is taken.
    #[error("an account named {0:?} already exists")]
    UsernameTaken(String),
    /// Hashing or the database failed.
    #[error("{0}")]
    Internal(String),
}

/// Normalises a username: trimmed, lower case, and checked.
///
/// # Errors
/// [`CreateAccountError::InvalidUsername`].
pub fn normalize_username(raw: &str) -> Result<String, CreateAccountError> {
    let name = raw.trim().to_lowercase();
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b));
    if ok {
        Ok(name)
    } else {
        Err(CreateAccountError::InvalidUsername)
    }
}

fn check_display_name(name: &str) -> Result<&str, CreateAccountError> {
    let name = name.trim();
    let chars = name.chars().count();
    if (1..=200).contains(&chars) && !name.chars().any(char::is_control) {
        Ok(name)
    } else {
        Err(CreateAccountError::InvalidDisplayName)
    }
}

fn check_password(password: &str) -> Result<(), CreateAccountError> {
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(CreateAccountError::InvalidPassword)
    }
}

/// Creates an account and returns its id. The password is hashed with Argon2id at `cost`
/// (use [`PasswordCost::RECOMMENDED`] outside tests) on a blocking thread.
///
/// # Errors
/// A [`CreateAccountError`] saying which field is wrong, or that the username is taken.
pub async fn create_account<C: ConnectionTrait>(
    db: &C,
    new: NewAccount,
    cost: PasswordCost,
) -> Result<i32, CreateAccountError> {
    create_account_at(db, new, cost, Clock::system().now_ms()).await
}

/// [`create_account`] with a given creation time (Unix milliseconds), for demo data and tests.
///
/// # Errors
/// As [`create_account`].
pub async fn create_account_at<C: ConnectionTrait>(
    db: &C,
    new: NewAccount,
    cost: PasswordCost,
    created_at: i64,
) -> Result<i32, CreateAccountError> {
    let username = normalize_username(&new.username)?;
    let display_name = check_display_name(&new.display_name)?.to_owned();
    check_password(&new.password)?;
    let hash = password::hash(Arc::from(new.password.as_str()), cost)
        .await
        .map_err(|e| CreateAccountError::Internal(e.to_string()))?;
    store::insert_account(
        db,
        &store::NewAccount {
            username: &username,
            display_name: &display_name,
            role: new.role,
            language: new.language.code(),
            password_hash: &hash,
            created_at,
        },
    )
    .await
    .map_err(|e| match e {
        AccountError::UsernameTaken(name) => CreateAccountError::UsernameTaken(name),
        other => CreateAccountError::Internal(other.to_string()),
    })
}

/// Sets a new password for an account (e.g. `insyn admin reset-password`). Existing sessions
/// are left alone.
///
/// # Errors
/// [`CreateAccountError::InvalidPassword`], or `Internal` for hashing and database failures.
pub async fn set_password<C: ConnectionTrait>(
    db: &C,
    account_id: i32,
    new_password: &str,
    cost: PasswordCost,
) -> Result<(), CreateAccountError> {
    check_password(new_password)?;
    let hash = password::hash(Arc::from(new_password), cost)
        .await
        .map_err(|e| CreateAccountError::Internal(e.to_string()))?;
    store::set_password_hash(db, account_id, &hash)
        .await
        .map_err(|e| CreateAccountError::Internal(e.to_string()))
}

/// The outcome of a login attempt.
#[derive(Debug)]
pub(crate) enum LoginOutcome {
    /// Logged in: the new session's token (for the cookie) and the account.
    Success { token: String },
    /// Wrong username or password (deliberately not saying which).
    Failed,
    /// Too many failures recently; try again after this many minutes.
    Throttled { retry_after_secs: i64 },
}

/// Checks a username and password, with throttling, and starts a session on success.
pub(crate) async fn login<C: ConnectionTrait>(
    db: &C,
    config: &PortalConfig,
    now: i64,
    raw_username: &str,
    password: &str,
    client_addr: &str,
) -> Result<LoginOutcome, Error> {
    // An impossible username is still counted, under a fixed name, so it cannot dodge throttling.
    let username = normalize_username(raw_username).unwrap_or_else(|_| "(invalid)".to_owned());
    let window = millis(config.throttle.window);
    let since = now.saturating_sub(window);

    let by_account = store::recent_failures_for_username(db, &username, since).await?;
    let by_addr = store::recent_failures_for_address(db, client_addr, since).await?;
    let limited = [
        (by_account, config.throttle.max_failures_per_account),
        (by_addr, config.throttle.max_failures_per_address),
    ]
    .into_iter()
    .filter(|(f, max)| f.count >= *max)
    .filter_map(|(f, _)| f.earliest)
    .map(|earliest| earliest.saturating_add(window).saturating_sub(now))
    .max();
    if let Some(wait_ms) = limited {
        tracing::warn!(username, client_addr, "login throttled");
        return Ok(LoginOutcome::Throttled {
            retry_after_secs: (wait_ms.max(1000) + 999) / 1000,
        });
    }

    let found = store::find_account_by_username(db, &username).await?;
    let (account, stored) = match found {
        Some((account, hash)) if !account.disabled => (Some(account), Some(hash)),
        _ => (None, None),
    };
    let ok = password::verify(Arc::from(password), stored, config.password_cost).await?;
    store::record_login_attempt(db, &username, client_addr, now, ok && account.is_some()).await?;
    // Attempts older than the window no longer count; deleting them on every attempt keeps the
    // table at one window's worth of rows even under a flood of guesses.
    if let Err(e) = store::prune_login_attempts(db, since).await {
        tracing::warn!(error = %e, "could not prune login attempts");
    }
    let Some(account) = account.filter(|_| ok) else {
        tracing::info!(username, client_addr, "login failed");
        return Ok(LoginOutcome::Failed);
    };

    let token = session::new_token()?;
    let csrf = session::new_token()?;
    store::insert_session(
        db,
        &store::Session {
            token_hash: session::token_hash(&token),
            account_id: account.id,
            csrf_token: csrf,
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(millis(config.session_absolute)),
        },
    )
    .await?;
    // Housekeeping that keeps the tables small; failures here do not matter to this login.
    let idle_cutoff = now.saturating_sub(millis(config.session_idle));
    if let Err(e) = store::delete_expired_sessions(db, now, idle_cutoff).await {
        tracing::warn!(error = %e, "could not delete expired sessions");
    }
    tracing::info!(username, "login");
    Ok(LoginOutcome::Success { token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(
            normalize_username(" Anna.Berg@0180 ").ok().as_deref(),
            Some("anna.berg@0180")
        );
        assert!(normalize_username("").is_err());
        assert!(normalize_username("a b").is_err());
        assert!(normalize_username("<script>").is_err());
        assert!(normalize_username(&"a".repeat(65)).is_err());
    }

    #[test]
    fn display_names_allow_any_printable_text() {
        assert!(check_display_name("<script>alert(1)</script>").is_ok());
        assert!(check_display_name("Åsa Öberg").is_ok());
        assert!(check_display_name("  ").is_err());
        assert!(check_display_name("a\u{7}b").is_err());
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
        assert!(check_password(&"x".repeat(257)).is_err());
    }
}
