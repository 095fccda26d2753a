//! The whole storage model (docs/architecture.md, "Storage"), created at once so later features only add columns.
//!
//! Every timestamp is stored in UTC. Foreign keys cascade from `providers`, so deleting a provider
//! removes everything synced from it; audit events deliberately have no foreign key and outlive it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
    Kind,
    Name,
    TenantId,
    ClientId,
    ClientSecretSealed,
    ClientSecretKeyId,
    ClientSecretHint,
    ClientSecretExpiresAt,
    Cloud,
    SyncIntervalMinutes,
    Enabled,
    DeltaLink,
    DeltaLinkObtainedAt,
    LastFullSyncAt,
    SignInRefreshedAt,
    SignInDataStatus,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DirectoryUsers {
    Table,
    Id,
    ProviderId,
    ExternalId,
    UserPrincipalName,
    Mail,
    DisplayName,
    SearchText,
    AccountEnabled,
    UserType,
    CreatedDateTime,
    LastSignInAt,
    LastNonInteractiveSignInAt,
    LastSuccessfulSignInAt,
    FirstSeenAt,
    LastSeenAt,
    RemovedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LicenseSkus {
    Table,
    Id,
    ProviderId,
    SkuId,
    SkuPartNumber,
    DisplayName,
    CapabilityStatus,
    AppliesTo,
    EnabledUnits,
    SuspendedUnits,
    WarningUnits,
    LockedOutUnits,
    ConsumedUnits,
    ServicePlans,
    Subscribed,
    PriceAmount,
    PriceCurrency,
    PricePeriod,
    LastSyncedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LicenseAssignments {
    Table,
    Id,
    ProviderId,
    UserId,
    LicenseSkuId,
    DisabledPlans,
    AssignedDirectly,
    InheritedFromGroupIds,
    State,
    Error,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    ProviderId,
    ExternalId,
    CommerceSubscriptionId,
    SkuId,
    SkuPartNumber,
    Status,
    TotalLicenses,
    IsTrial,
    CreatedDateTime,
    NextLifecycleDateTime,
    LastSyncedAt,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Id,
    ProviderId,
    Trigger,
    Mode,
    EffectiveMode,
    Status,
    PagesFetched,
    UsersSeen,
    UsersCreated,
    UsersUpdated,
    UsersRemoved,
    SkusSynced,
    Warnings,
    ErrorCode,
    ErrorMessage,
    ErrorHint,
    LeaseOwner,
    LeaseExpiresAt,
    HeartbeatAt,
    Attempt,
    CancelRequested,
    QueuedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum LicenseSnapshots {
    Table,
    Id,
    ProviderId,
    LicenseSkuId,
    Day,
    EnabledUnits,
    ConsumedUnits,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    Subject,
    Role,
    Action,
    TargetType,
    TargetId,
    ProviderId,
    Outcome,
    Detail,
    CreatedAt,
}

fn cascade_to_provider(from: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, column)
        .to(Providers::Table, Providers::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(table: impl IntoIden, name: &str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(Alias::new(*column));
    }
    statement.to_owned()
}

fn unique(table: impl IntoIden, name: &str, columns: &[&'static str]) -> IndexCreateStatement {
    index(table, name, columns).unique().to_owned()
}

/// Zero-valued seat counters: Graph omits nothing here, but a SKU known only from a user's
/// assignment (no longer subscribed) has no seats at all.
fn units(column: impl IntoIden) -> ColumnDef {
    big_integer(column).default(0).to_owned()
}

fn counter(column: impl IntoIden) -> ColumnDef {
    big_integer(column).default(0).to_owned()
}

fn providers() -> TableCreateStatement {
    Table::create()
        .table(Providers::Table)
        .col(big_pk_auto(Providers::Id))
        .col(string_len(Providers::Kind, 32))
        .col(string_len(Providers::Name, 200))
        .col(string_len(Providers::TenantId, 255))
        .col(string_len(Providers::ClientId, 64))
        .col(blob(Providers::ClientSecretSealed))
        .col(string_len(Providers::ClientSecretKeyId, 64))
        .col(string_len(Providers::ClientSecretHint, 8))
        .col(timestamp_with_time_zone_null(
            Providers::ClientSecretExpiresAt,
        ))
        .col(string_len(Providers::Cloud, 16))
        .col(integer_null(Providers::SyncIntervalMinutes))
        .col(boolean(Providers::Enabled).default(true))
        .col(text_null(Providers::DeltaLink))
        .col(timestamp_with_time_zone_null(
            Providers::DeltaLinkObtainedAt,
        ))
        .col(timestamp_with_time_zone_null(Providers::LastFullSyncAt))
        .col(timestamp_with_time_zone_null(Providers::SignInRefreshedAt))
        .col(string_len_null(Providers::SignInDataStatus, 64))
        .col(timestamp_with_time_zone(Providers::CreatedAt))
        .col(timestamp_with_time_zone(Providers::UpdatedAt))
        .to_owned()
}

fn directory_users() -> TableCreateStatement {
    Table::create()
        .table(DirectoryUsers::Table)
        .col(big_pk_auto(DirectoryUsers::Id))
        .col(big_integer(DirectoryUsers::ProviderId))
        .col(string_len(DirectoryUsers::ExternalId, 64))
        .col(string_len(DirectoryUsers::UserPrincipalName, 1024))
        .col(string_len_null(DirectoryUsers::Mail, 1024))
        .col(string_len_null(DirectoryUsers::DisplayName, 1024))
        .col(text(DirectoryUsers::SearchText))
        .col(boolean(DirectoryUsers::AccountEnabled))
        .col(string_len_null(DirectoryUsers::UserType, 32))
        .col(timestamp_with_time_zone_null(
            DirectoryUsers::CreatedDateTime,
        ))
        .col(timestamp_with_time_zone_null(DirectoryUsers::LastSignInAt))
        .col(timestamp_with_time_zone_null(
            DirectoryUsers::LastNonInteractiveSignInAt,
        ))
        .col(timestamp_with_time_zone_null(
            DirectoryUsers::LastSuccessfulSignInAt,
        ))
        .col(timestamp_with_time_zone(DirectoryUsers::FirstSeenAt))
        .col(timestamp_with_time_zone(DirectoryUsers::LastSeenAt))
        .col(timestamp_with_time_zone_null(DirectoryUsers::RemovedAt))
        .col(timestamp_with_time_zone(DirectoryUsers::UpdatedAt))
        .foreign_key(&mut cascade_to_provider(
            DirectoryUsers::Table,
            DirectoryUsers::ProviderId,
        ))
        .to_owned()
}

fn license_skus() -> TableCreateStatement {
    Table::create()
        .table(LicenseSkus::Table)
        .col(big_pk_auto(LicenseSkus::Id))
        .col(big_integer(LicenseSkus::ProviderId))
        .col(string_len(LicenseSkus::SkuId, 64))
        .col(string_len(LicenseSkus::SkuPartNumber, 255))
        .col(string_len(LicenseSkus::DisplayName, 255))
        .col(string_len(LicenseSkus::CapabilityStatus, 32))
        .col(string_len_null(LicenseSkus::AppliesTo, 32))
        .col(units(LicenseSkus::EnabledUnits))
        .col(units(LicenseSkus::SuspendedUnits))
        .col(units(LicenseSkus::WarningUnits))
        .col(units(LicenseSkus::LockedOutUnits))
        .col(units(LicenseSkus::ConsumedUnits))
        .col(json_binary_null(LicenseSkus::ServicePlans))
        .col(boolean(LicenseSkus::Subscribed).default(true))
        .col(string_len_null(LicenseSkus::PriceAmount, 32))
        .col(string_len_null(LicenseSkus::PriceCurrency, 3))
        .col(string_len_null(LicenseSkus::PricePeriod, 8))
        .col(timestamp_with_time_zone_null(LicenseSkus::LastSyncedAt))
        .col(timestamp_with_time_zone(LicenseSkus::CreatedAt))
        .col(timestamp_with_time_zone(LicenseSkus::UpdatedAt))
        .foreign_key(&mut cascade_to_provider(
            LicenseSkus::Table,
            LicenseSkus::ProviderId,
        ))
        .to_owned()
}

fn license_assignments() -> TableCreateStatement {
    Table::create()
        .table(LicenseAssignments::Table)
        .col(big_pk_auto(LicenseAssignments::Id))
        .col(big_integer(LicenseAssignments::ProviderId))
        .col(big_integer(LicenseAssignments::UserId))
        .col(big_integer(LicenseAssignments::LicenseSkuId))
        .col(json_binary(LicenseAssignments::DisabledPlans))
        .col(boolean(LicenseAssignments::AssignedDirectly))
        .col(json_binary(LicenseAssignments::InheritedFromGroupIds))
        .col(string_len_null(LicenseAssignments::State, 32))
        .col(string_len_null(LicenseAssignments::Error, 64))
        .col(timestamp_with_time_zone(LicenseAssignments::UpdatedAt))
        .foreign_key(&mut cascade_to_provider(
            LicenseAssignments::Table,
            LicenseAssignments::ProviderId,
        ))
        .foreign_key(
            ForeignKey::create()
                .from(LicenseAssignments::Table, LicenseAssignments::UserId)
                .to(DirectoryUsers::Table, DirectoryUsers::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .from(LicenseAssignments::Table, LicenseAssignments::LicenseSkuId)
                .to(LicenseSkus::Table, LicenseSkus::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn subscriptions() -> TableCreateStatement {
    Table::create()
        .table(Subscriptions::Table)
        .col(big_pk_auto(Subscriptions::Id))
        .col(big_integer(Subscriptions::ProviderId))
        .col(string_len(Subscriptions::ExternalId, 64))
        .col(string_len_null(Subscriptions::CommerceSubscriptionId, 64))
        .col(string_len(Subscriptions::SkuId, 64))
        .col(string_len(Subscriptions::SkuPartNumber, 255))
        .col(string_len(Subscriptions::Status, 32))
        .col(big_integer(Subscriptions::TotalLicenses))
        .col(boolean(Subscriptions::IsTrial))
        .col(timestamp_with_time_zone_null(
            Subscriptions::CreatedDateTime,
        ))
        .col(timestamp_with_time_zone_null(
            Subscriptions::NextLifecycleDateTime,
        ))
        .col(timestamp_with_time_zone(Subscriptions::LastSyncedAt))
        .foreign_key(&mut cascade_to_provider(
            Subscriptions::Table,
            Subscriptions::ProviderId,
        ))
        .to_owned()
}

fn sync_runs() -> TableCreateStatement {
    Table::create()
        .table(SyncRuns::Table)
        .col(big_pk_auto(SyncRuns::Id))
        .col(big_integer(SyncRuns::ProviderId))
        .col(string_len(SyncRuns::Trigger, 32))
        .col(string_len(SyncRuns::Mode, 16))
        .col(string_len_null(SyncRuns::EffectiveMode, 16))
        .col(string_len(SyncRuns::Status, 16))
        .col(counter(SyncRuns::PagesFetched))
        .col(counter(SyncRuns::UsersSeen))
        .col(counter(SyncRuns::UsersCreated))
        .col(counter(SyncRuns::UsersUpdated))
        .col(counter(SyncRuns::UsersRemoved))
        .col(counter(SyncRuns::SkusSynced))
        .col(json_binary(SyncRuns::Warnings))
        .col(string_len_null(SyncRuns::ErrorCode, 64))
        .col(text_null(SyncRuns::ErrorMessage))
        .col(text_null(SyncRuns::ErrorHint))
        .col(string_len_null(SyncRuns::LeaseOwner, 128))
        .col(timestamp_with_time_zone_null(SyncRuns::LeaseExpiresAt))
        .col(timestamp_with_time_zone_null(SyncRuns::HeartbeatAt))
        .col(integer(SyncRuns::Attempt).default(0))
        .col(boolean(SyncRuns::CancelRequested).default(false))
        .col(timestamp_with_time_zone(SyncRuns::QueuedAt))
        .col(timestamp_with_time_zone_null(SyncRuns::StartedAt))
        .col(timestamp_with_time_zone_null(SyncRuns::FinishedAt))
        .foreign_key(&mut cascade_to_provider(
            SyncRuns::Table,
            SyncRuns::ProviderId,
        ))
        .to_owned()
}

fn license_snapshots() -> TableCreateStatement {
    Table::create()
        .table(LicenseSnapshots::Table)
        .col(big_pk_auto(LicenseSnapshots::Id))
        .col(big_integer(LicenseSnapshots::ProviderId))
        .col(big_integer(LicenseSnapshots::LicenseSkuId))
        .col(date(LicenseSnapshots::Day))
        .col(big_integer(LicenseSnapshots::EnabledUnits))
        .col(big_integer(LicenseSnapshots::ConsumedUnits))
        .col(timestamp_with_time_zone(LicenseSnapshots::CreatedAt))
        .foreign_key(&mut cascade_to_provider(
            LicenseSnapshots::Table,
            LicenseSnapshots::ProviderId,
        ))
        .foreign_key(
            ForeignKey::create()
                .from(LicenseSnapshots::Table, LicenseSnapshots::LicenseSkuId)
                .to(LicenseSkus::Table, LicenseSkus::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn audit_events() -> TableCreateStatement {
    Table::create()
        .table(AuditEvents::Table)
        .col(big_pk_auto(AuditEvents::Id))
        .col(string_len(AuditEvents::Subject, 255))
        .col(string_len(AuditEvents::Role, 16))
        .col(string_len(AuditEvents::Action, 64))
        .col(string_len(AuditEvents::TargetType, 64))
        .col(string_len_null(AuditEvents::TargetId, 64))
        .col(big_integer_null(AuditEvents::ProviderId))
        .col(string_len(AuditEvents::Outcome, 32))
        .col(json_binary_null(AuditEvents::Detail))
        .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        unique(
            Providers::Table,
            "ux_providers_tenant_client",
            &["tenant_id", "client_id"],
        ),
        // Users: one row per Graph object per provider; the list filters and orders of the read API (docs/license-api.md).
        unique(
            DirectoryUsers::Table,
            "ux_directory_users_provider_external",
            &["provider_id", "external_id"],
        ),
        index(
            DirectoryUsers::Table,
            "ix_directory_users_provider_removed",
            &["provider_id", "removed_at", "id"],
        ),
        index(
            DirectoryUsers::Table,
            "ix_directory_users_upn",
            &["user_principal_name", "id"],
        ),
        index(DirectoryUsers::Table, "ix_directory_users_mail", &["mail"]),
        index(
            DirectoryUsers::Table,
            "ix_directory_users_display_name",
            &["display_name", "id"],
        ),
        index(
            DirectoryUsers::Table,
            "ix_directory_users_account_enabled",
            &["provider_id", "account_enabled"],
        ),
        index(
            DirectoryUsers::Table,
            "ix_directory_users_last_sign_in",
            &["last_sign_in_at", "id"],
        ),
        unique(
            LicenseSkus::Table,
            "ux_license_skus_provider_sku",
            &["provider_id", "sku_id"],
        ),
        unique(
            LicenseAssignments::Table,
            "ux_license_assignments_user_sku",
            &["user_id", "license_sku_id"],
        ),
        index(
            LicenseAssignments::Table,
            "ix_license_assignments_sku",
            &["license_sku_id", "user_id"],
        ),
        index(
            LicenseAssignments::Table,
            "ix_license_assignments_provider",
            &["provider_id"],
        ),
        unique(
            Subscriptions::Table,
            "ux_subscriptions_provider_external",
            &["provider_id", "external_id"],
        ),
        index(
            Subscriptions::Table,
            "ix_subscriptions_provider_sku",
            &["provider_id", "sku_id"],
        ),
        index(
            SyncRuns::Table,
            "ix_sync_runs_provider_status",
            &["provider_id", "status", "id"],
        ),
        index(
            SyncRuns::Table,
            "ix_sync_runs_status_lease",
            &["status", "lease_expires_at"],
        ),
        unique(
            LicenseSnapshots::Table,
            "ux_license_snapshots_sku_day",
            &["license_sku_id", "day"],
        ),
        index(
            LicenseSnapshots::Table,
            "ix_license_snapshots_provider_day",
            &["provider_id", "day"],
        ),
        index(
            AuditEvents::Table,
            "ix_audit_events_created",
            &["created_at", "id"],
        ),
        index(
            AuditEvents::Table,
            "ix_audit_events_provider",
            &["provider_id"],
        ),
    ]
}

/// At most one queued or running sync per provider, enforced by the database itself so that any
/// number of API replicas and workers cannot race past it. sea-query has no partial-index builder;
/// this statement reads the same on SQLite and PostgreSQL.
const ONE_ACTIVE_SYNC_PER_PROVIDER: &str = "CREATE UNIQUE INDEX ux_sync_runs_one_active \
     ON sync_runs (provider_id) WHERE status IN ('QUEUED', 'RUNNING')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            providers(),
            directory_users(),
            license_skus(),
            license_assignments(),
            subscriptions(),
            sync_runs(),
            license_snapshots(),
            audit_events(),
        ] {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        manager
            .get_connection()
            .execute_unprepared(ONE_ACTIVE_SYNC_PER_PROVIDER)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            LicenseSnapshots::Table.into_iden(),
            SyncRuns::Table.into_iden(),
            Subscriptions::Table.into_iden(),
            LicenseAssignments::Table.into_iden(),
            LicenseSkus::Table.into_iden(),
            DirectoryUsers::Table.into_iden(),
            Providers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
