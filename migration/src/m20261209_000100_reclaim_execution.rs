//! Reclaim plans run: an execution is a job on the sync runs' queue (one job a provider at a
//! time, under the same leases), and each item records what happened to it, once, and what
//! its undo did.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    ReclaimPlanId,
}

#[derive(DeriveIden)]
enum ReclaimPlans {
    Table,
    ExecutedAt,
}

#[derive(DeriveIden)]
enum ReclaimItems {
    Table,
    ContainedInSkuExternalId,
    Outcome,
    OutcomeMessage,
    OutcomeHint,
    StartedAt,
    FinishedAt,
    UndoOutcome,
    UndoMessage,
    UndoHint,
    UndoStartedAt,
    UndoneAt,
    UndoneBy,
}

/// SQLite alters one column per statement.
async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoTableRef,
    column: ColumnDef,
) -> Result<(), DbErr> {
    let mut column = column;
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column(&mut column)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No foreign key: SQLite cannot add one to an existing table. Runs of a deleted plan's
        // provider go with the provider; a plan is never deleted alone.
        add(
            manager,
            SyncRuns::Table,
            big_integer_null(SyncRuns::ReclaimPlanId),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_runs_reclaim_plan")
                    .table(SyncRuns::Table)
                    .col(SyncRuns::ReclaimPlanId)
                    .to_owned(),
            )
            .await?;
        add(
            manager,
            ReclaimPlans::Table,
            timestamp_with_time_zone_null(ReclaimPlans::ExecutedAt),
        )
        .await?;
        let items = [
            string_len_null(ReclaimItems::ContainedInSkuExternalId, 64),
            string_len_null(ReclaimItems::Outcome, 32),
            text_null(ReclaimItems::OutcomeMessage),
            text_null(ReclaimItems::OutcomeHint),
            timestamp_with_time_zone_null(ReclaimItems::StartedAt),
            timestamp_with_time_zone_null(ReclaimItems::FinishedAt),
            string_len_null(ReclaimItems::UndoOutcome, 32),
            text_null(ReclaimItems::UndoMessage),
            text_null(ReclaimItems::UndoHint),
            timestamp_with_time_zone_null(ReclaimItems::UndoStartedAt),
            timestamp_with_time_zone_null(ReclaimItems::UndoneAt),
            string_len_null(ReclaimItems::UndoneBy, 255),
        ];
        for column in items {
            add(manager, ReclaimItems::Table, column).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = |table: DynIden, column: DynIden| {
            Table::alter().table(table).drop_column(column).to_owned()
        };
        for column in [
            ReclaimItems::ContainedInSkuExternalId,
            ReclaimItems::Outcome,
            ReclaimItems::OutcomeMessage,
            ReclaimItems::OutcomeHint,
            ReclaimItems::StartedAt,
            ReclaimItems::FinishedAt,
            ReclaimItems::UndoOutcome,
            ReclaimItems::UndoMessage,
            ReclaimItems::UndoHint,
            ReclaimItems::UndoStartedAt,
            ReclaimItems::UndoneAt,
            ReclaimItems::UndoneBy,
        ] {
            manager
                .alter_table(drop(ReclaimItems::Table.into_iden(), column.into_iden()))
                .await?;
        }
        manager
            .alter_table(drop(
                ReclaimPlans::Table.into_iden(),
                ReclaimPlans::ExecutedAt.into_iden(),
            ))
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_sync_runs_reclaim_plan")
                    .table(SyncRuns::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(drop(
                SyncRuns::Table.into_iden(),
                SyncRuns::ReclaimPlanId.into_iden(),
            ))
            .await
    }
}
