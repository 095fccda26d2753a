//! Reclaim plans: what freeing wasted seats would do, item by item, fixed when the plan is made
//! so that a second admin approves exactly what will run. A plan belongs to one provider;
//! its items name the user and SKU by row id and by the provider's own ids, so that a plan
//! still reads as it was after the directory changed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReclaimPlans {
    Table,
    Id,
    ProviderId,
    Status,
    Filters,
    Summary,
    CreatedBy,
    CreatedAt,
    DecidedBy,
    DecidedAt,
}

#[derive(DeriveIden)]
enum ReclaimItems {
    Table,
    Id,
    PlanId,
    UserId,
    LicenseSkuId,
    UserExternalId,
    UserPrincipalName,
    SkuExternalId,
    SkuDisplayName,
    FindingKind,
    Evidence,
    Action,
    ManualReason,
    Groups,
    DisabledPlans,
    MonthlyCostAmount,
    MonthlyCostCurrency,
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReclaimPlans::Table)
                    .col(big_pk_auto(ReclaimPlans::Id))
                    .col(big_integer(ReclaimPlans::ProviderId))
                    .col(string_len(ReclaimPlans::Status, 32))
                    .col(json_binary(ReclaimPlans::Filters))
                    .col(json_binary(ReclaimPlans::Summary))
                    .col(string_len(ReclaimPlans::CreatedBy, 255))
                    .col(timestamp_with_time_zone(ReclaimPlans::CreatedAt))
                    .col(string_len_null(ReclaimPlans::DecidedBy, 255))
                    .col(timestamp_with_time_zone_null(ReclaimPlans::DecidedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReclaimPlans::Table, ReclaimPlans::ProviderId)
                            .to(Providers::Table, Providers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_reclaim_plans_provider_status")
                    .table(ReclaimPlans::Table)
                    .col(ReclaimPlans::ProviderId)
                    .col(ReclaimPlans::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReclaimItems::Table)
                    .col(big_pk_auto(ReclaimItems::Id))
                    .col(big_integer(ReclaimItems::PlanId))
                    .col(big_integer(ReclaimItems::UserId))
                    .col(big_integer(ReclaimItems::LicenseSkuId))
                    .col(string_len(ReclaimItems::UserExternalId, 64))
                    .col(string_len(ReclaimItems::UserPrincipalName, 1024))
                    .col(string_len(ReclaimItems::SkuExternalId, 64))
                    .col(string_len(ReclaimItems::SkuDisplayName, 255))
                    .col(string_len(ReclaimItems::FindingKind, 32))
                    .col(text(ReclaimItems::Evidence))
                    .col(string_len(ReclaimItems::Action, 32))
                    .col(string_len_null(ReclaimItems::ManualReason, 32))
                    .col(json_binary(ReclaimItems::Groups))
                    .col(json_binary(ReclaimItems::DisabledPlans))
                    .col(string_len_null(ReclaimItems::MonthlyCostAmount, 32))
                    .col(string_len_null(ReclaimItems::MonthlyCostCurrency, 3))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReclaimItems::Table, ReclaimItems::PlanId)
                            .to(ReclaimPlans::Table, ReclaimPlans::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_reclaim_items_plan")
                    .table(ReclaimItems::Table)
                    .col(ReclaimItems::PlanId)
                    .col(ReclaimItems::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReclaimItems::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ReclaimPlans::Table).to_owned())
            .await
    }
}
