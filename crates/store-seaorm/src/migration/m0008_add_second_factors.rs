//! Second factors (contract §10): the sealed TOTP secret and its last accepted step on
//! `users`, and `recovery_codes` by their SHA-256.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, blob, blob_null};

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TotpSecret,
    TotpLastStep,
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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecoveryCodes::Table).to_owned())
            .await?;
        for column in [Users::TotpLastStep, Users::TotpSecret] {
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
