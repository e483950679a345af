//! The portal's people: accounts, their sessions and the login attempts used for throttling.
//!
//! Times are Unix milliseconds in `BIGINT` columns, like the ledger's integration time, so the
//! same comparisons work unchanged on SQLite and PostgreSQL. Session tokens are never stored:
//! only the hex SHA-256 of each token is, so a copy of the database cannot be used to log in.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, integer, pk_auto, string_len, string_len_null, string_len_uniq, text,
};

/// Creates `accounts`, `sessions` and `login_attempts`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Username,
    DisplayName,
    Role,
    Municipality,
    Language,
    PasswordHash,
    Disabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    TokenHash,
    AccountId,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Id,
    Username,
    ClientAddr,
    AttemptedAt,
    Succeeded,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(pk_auto(Accounts::Id))
                    .col(string_len_uniq(Accounts::Username, 64))
                    .col(string_len(Accounts::DisplayName, 200))
                    // `auditor`, `inspector` or `administrator`.
                    .col(string_len(Accounts::Role, 16))
                    // The SCB code of an auditor's municipality; NULL for every other role.
                    .col(string_len_null(Accounts::Municipality, 4))
                    .col(string_len(Accounts::Language, 8).default("sv"))
                    // A PHC string (`$argon2id$v=19$m=…`).
                    .col(text(Accounts::PasswordHash))
                    .col(boolean(Accounts::Disabled).default(false))
                    .col(big_integer(Accounts::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::TokenHash, 64).primary_key())
                    .col(integer(Sessions::AccountId))
                    .col(string_len(Sessions::CsrfToken, 64))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::LastSeenAt))
                    .col(big_integer(Sessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_account")
                            .from(Sessions::Table, Sessions::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_account")
                    .table(Sessions::Table)
                    .col(Sessions::AccountId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_expires")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .col(pk_auto(LoginAttempts::Id))
                    // The username as typed (normalised), whether or not such an account exists.
                    .col(string_len(LoginAttempts::Username, 64))
                    .col(string_len(LoginAttempts::ClientAddr, 64))
                    .col(big_integer(LoginAttempts::AttemptedAt))
                    .col(boolean(LoginAttempts::Succeeded))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_attempts_username")
                    .table(LoginAttempts::Table)
                    .col(LoginAttempts::Username)
                    .col(LoginAttempts::AttemptedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_attempts_addr")
                    .table(LoginAttempts::Table)
                    .col(LoginAttempts::ClientAddr)
                    .col(LoginAttempts::AttemptedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginAttempts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Accounts::Table).to_owned())
            .await
    }
}
