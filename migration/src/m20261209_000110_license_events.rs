//! The change log: one row per change a sync (or reclaim) observed of a user or of one of a
//! user's licenses, with what it was before and after. Rows are only ever inserted, and pruned
//! past the retention period; no foreign key but the provider's, so that inserting one costs
//! no lookup of the user or SKU it names.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum LicenseEvents {
    Table,
    Id,
    ProviderId,
    UserId,
    LicenseSkuId,
    Kind,
    ObservedAt,
    SyncRunId,
    ReclaimPlanId,
    Before,
    After,
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
}

fn index(name: &str, columns: &[LicenseEvents]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(LicenseEvents::Table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LicenseEvents::Table)
                    .col(big_pk_auto(LicenseEvents::Id))
                    .col(big_integer(LicenseEvents::ProviderId))
                    .col(big_integer(LicenseEvents::UserId))
                    .col(big_integer_null(LicenseEvents::LicenseSkuId))
                    .col(string_len(LicenseEvents::Kind, 32))
                    .col(timestamp_with_time_zone(LicenseEvents::ObservedAt))
                    .col(big_integer_null(LicenseEvents::SyncRunId))
                    .col(big_integer_null(LicenseEvents::ReclaimPlanId))
                    .col(json_binary_null(LicenseEvents::Before))
                    .col(json_binary_null(LicenseEvents::After))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LicenseEvents::Table, LicenseEvents::ProviderId)
                            .to(Providers::Table, Providers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Newest first, per provider, per user and per SKU; and the oldest first, for pruning.
        for statement in [
            index(
                "ix_license_events_provider",
                &[LicenseEvents::ProviderId, LicenseEvents::Id],
            ),
            index(
                "ix_license_events_user",
                &[LicenseEvents::UserId, LicenseEvents::Id],
            ),
            index(
                "ix_license_events_sku",
                &[LicenseEvents::LicenseSkuId, LicenseEvents::Id],
            ),
            index("ix_license_events_observed", &[LicenseEvents::ObservedAt]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LicenseEvents::Table).to_owned())
            .await
    }
}
