//! Second factors (contract §10): the sealed TOTP secret and its last accepted step and the
//! WebAuthn user handle on `users`; `recovery_codes` by their SHA-256; `passkeys`; and
//! `webauthn_ceremonies`, the state of a registration or sign-in between its two requests.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, blob, blob_null, string, text,
};

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TotpSecret,
    TotpLastStep,
    WebauthnHandle,
}

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    PublicId,
    UserId,
    CredentialId,
    Name,
    Credential,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum WebauthnCeremonies {
    Table,
    Id,
    UserId,
    Purpose,
    State,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    UserId,
    CodeDigest,
}

/// See the module documentation.
pub(super) struct AddSecondFactors;

impl MigrationName for AddSecondFactors {
    fn name(&self) -> &str {
        "m0008_add_second_factors"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddSecondFactors {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for mut column in [
            blob_null(Users::TotpSecret),
            big_integer_null(Users::TotpLastStep),
            blob_null(Users::WebauthnHandle),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(big_integer(RecoveryCodes::UserId))
                    .col(blob(RecoveryCodes::CodeDigest))
                    .primary_key(
                        Index::create()
                            .col(RecoveryCodes::UserId)
                            .col(RecoveryCodes::CodeDigest),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recovery_codes_user")
                            .from(RecoveryCodes::Table, RecoveryCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_webauthn_handle")
                    .table(Users::Table)
                    .col(Users::WebauthnHandle)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Passkeys::Table)
                    .col(big_pk_auto(Passkeys::Id))
                    .col(string(Passkeys::PublicId).unique_key())
                    .col(big_integer(Passkeys::UserId))
                    .col(blob(Passkeys::CredentialId).unique_key())
                    .col(string(Passkeys::Name))
                    .col(text(Passkeys::Credential))
                    .col(big_integer(Passkeys::CreatedAt))
                    .col(big_integer_null(Passkeys::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_passkeys_user")
                            .from(Passkeys::Table, Passkeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_user_id")
                    .table(Passkeys::Table)
                    .col(Passkeys::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebauthnCeremonies::Table)
                    .col(string(WebauthnCeremonies::Id).primary_key())
                    .col(big_integer_null(WebauthnCeremonies::UserId))
                    .col(string(WebauthnCeremonies::Purpose))
                    .col(text(WebauthnCeremonies::State))
                    .col(big_integer(WebauthnCeremonies::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webauthn_ceremonies_user")
                            .from(WebauthnCeremonies::Table, WebauthnCeremonies::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webauthn_ceremonies_expires_at")
                    .table(WebauthnCeremonies::Table)
                    .col(WebauthnCeremonies::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebauthnCeremonies::Table.into_iden(),
            Passkeys::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_users_webauthn_handle")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Users::WebauthnHandle,
            Users::TotpLastStep,
            Users::TotpSecret,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
