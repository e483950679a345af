//! API credentials: bearer tokens that let a municipality, an inspector or a provider read the
//! payloads its role may see. Only the hex SHA-256 of each token is stored, so a copy of the
//! database cannot be used to read anything.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, pk_auto, string_len, string_len_uniq,
};

/// Creates `api_credentials`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ApiCredentials {
    Table,
    Id,
    TokenHash,
    Role,
    Scope,
    Label,
    CreatedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiCredentials::Table)
                    .col(pk_auto(ApiCredentials::Id))
                    .col(string_len_uniq(ApiCredentials::TokenHash, 64))
                    .col(string_len(ApiCredentials::Role, 16))
                    .col(string_len(ApiCredentials::Scope, 16))
                    .col(string_len(ApiCredentials::Label, 200))
                    .col(big_integer(ApiCredentials::CreatedAt))
                    .col(big_integer_null(ApiCredentials::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiCredentials::Table).to_owned())
            .await
    }
}
