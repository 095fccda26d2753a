//! Accepted findings: a license an admin decided to keep (a shared mailbox, a person on leave),
//! with the reason and until when. One row per license (user and SKU): accepting it again
//! replaces the acceptance. The row keeps the finding's kind as it was accepted, so that a
//! finding of another kind (the account re-enabled, say) is not covered by it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AcceptedFindings {
    Table,
    Id,
    ProviderId,
    UserId,
    LicenseSkuId,
    Kind,
    Reason,
    AcceptedBy,
    AcceptedAt,
    ExpiresOn,
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DirectoryUsers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum LicenseSkus {
    Table,
    Id,
}

fn cascade(
    column: AcceptedFindings,
    table: impl IntoIden,
    id: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(AcceptedFindings::Table, column)
        .to(table, id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AcceptedFindings::Table)
                    .col(big_pk_auto(AcceptedFindings::Id))
                    .col(big_integer(AcceptedFindings::ProviderId))
                    .col(big_integer(AcceptedFindings::UserId))
                    .col(big_integer(AcceptedFindings::LicenseSkuId))
                    .col(string_len(AcceptedFindings::Kind, 32))
                    .col(string_len(AcceptedFindings::Reason, 500))
                    .col(string_len(AcceptedFindings::AcceptedBy, 255))
                    .col(timestamp_with_time_zone(AcceptedFindings::AcceptedAt))
                    .col(date(AcceptedFindings::ExpiresOn))
                    .foreign_key(&mut cascade(
                        AcceptedFindings::ProviderId,
                        Providers::Table,
                        Providers::Id,
                    ))
                    .foreign_key(&mut cascade(
                        AcceptedFindings::UserId,
                        DirectoryUsers::Table,
                        DirectoryUsers::Id,
                    ))
                    .foreign_key(&mut cascade(
                        AcceptedFindings::LicenseSkuId,
                        LicenseSkus::Table,
                        LicenseSkus::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_accepted_findings_license")
                    .table(AcceptedFindings::Table)
                    .col(AcceptedFindings::UserId)
                    .col(AcceptedFindings::LicenseSkuId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A report reads the acceptances of its provider that have not expired.
        manager
            .create_index(
                Index::create()
                    .name("ix_accepted_findings_provider")
                    .table(AcceptedFindings::Table)
                    .col(AcceptedFindings::ProviderId)
                    .col(AcceptedFindings::ExpiresOn)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AcceptedFindings::Table).to_owned())
            .await
    }
}
