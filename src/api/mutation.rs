use async_graphql::{Context, ID, Object, Result};

use super::context::{
    actor, api_token_limits, database, keyring, reclaim_settings, registry, report_cache, row_id,
    run_events, wake_workers,
};
use super::errors::ResultExt;
use super::guard::RoleGuard;
use super::types::{
    AcceptFindingInput, ApiSyncMode, ApiToken, ConnectionTest, CreateApiTokenInput,
    CreateMicrosoftProviderInput, CreateReclaimPlanInput, CreatedApiToken, FindingAcceptance,
    LicenseSku, MoneyInput, Provider, ReclaimItem, ReclaimPlan, SyncRun,
    UpdateMicrosoftProviderInput,
};
use crate::domain::reclaim_execution::{self, Start};
use crate::domain::reclaim_plans::{self, GroupSource, PlanFilter};
use crate::domain::reclaim_undo;
use crate::domain::{acceptances, api_tokens, licenses, providers, reports, sync_runs};

pub struct Mutation;

/// Every mutation needs the admin role and leaves an audit event, whether it succeeds, fails or
/// is refused for the caller's role.
#[Object(name = "Mutation")]
impl Mutation {
    /// Connects a Microsoft 365 tenant through an Entra ID app registration.
    #[graphql(guard = r#"RoleGuard::admin_mutation("provider.create", "provider")"#)]
    async fn create_microsoft_provider(
        &self,
        ctx: &Context<'_>,
        input: CreateMicrosoftProviderInput,
    ) -> Result<Provider> {
        let provider = providers::create(database(ctx)?, keyring(ctx)?, &actor(ctx)?, input.into())
            .await
            .api()?;
        Ok(provider.into())
    }

    /// Renames a provider, rotates its client secret, or changes its cloud or sync interval.
    #[graphql(guard = r#"RoleGuard::admin_mutation("provider.update", "provider")"#)]
    async fn update_microsoft_provider(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateMicrosoftProviderInput,
    ) -> Result<Provider> {
        let id = row_id("id", &id)?;
        let provider = providers::update(
            database(ctx)?,
            keyring(ctx)?,
            &actor(ctx)?,
            id,
            input.into(),
        )
        .await
        .api()?;
        Ok(provider.into())
    }

    /// Deletes a provider and everything synced from it; returns its id.
    #[graphql(guard = r#"RoleGuard::admin_mutation("provider.delete", "provider")"#)]
    async fn delete_provider(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let id = row_id("id", &id)?;
        let deleted = providers::delete(database(ctx)?, run_events(ctx)?, &actor(ctx)?, id)
            .await
            .api()?;
        Ok(ID(deleted.to_string()))
    }

    /// Signs in to the tenant and tries each read a sync needs: token, organization, users,
    /// subscriptions, sign-in activity; then says whether the app may change licenses
    /// (`licenseWrite`, a warning only: syncs do not need it). A failing check does not hide the
    /// others.
    #[graphql(
        guard = r#"RoleGuard::admin_mutation("provider.test_connection", "provider")"#,
        complexity = "super::limits::CONNECTION_TEST_COST + child_complexity"
    )]
    async fn test_provider_connection(&self, ctx: &Context<'_>, id: ID) -> Result<ConnectionTest> {
        let id = row_id("id", &id)?;
        let checks = providers::test_connection(
            database(ctx)?,
            keyring(ctx)?,
            registry(ctx)?,
            &actor(ctx)?,
            id,
        )
        .await
        .api()?;
        Ok(ConnectionTest::from(checks))
    }

    /// Queues a sync and returns it at once; follow it with `syncRun` or `syncRunUpdated`.
    /// CONFLICT when the provider already has a sync queued or running.
    #[graphql(guard = r#"RoleGuard::admin_mutation("sync.start", "provider")"#)]
    async fn start_sync(
        &self,
        ctx: &Context<'_>,
        provider_id: ID,
        // Nullable, as the contract has it, so that a script can pass an unset `$mode` variable.
        #[graphql(
            default_with = "Some(ApiSyncMode::default())",
            desc = "Null, like absent, means AUTO."
        )]
        mode: Option<ApiSyncMode>,
    ) -> Result<SyncRun> {
        let provider_id = row_id("providerId", &provider_id)?;
        let run = sync_runs::start(
            database(ctx)?,
            run_events(ctx)?,
            &actor(ctx)?,
            provider_id,
            mode.unwrap_or_default().into(),
        )
        .await
        .api()?;
        wake_workers(ctx);
        Ok(run.into())
    }

    /// Cancels a queued sync at once, or asks a running one to stop: it notices within one
    /// heartbeat (15 s) and keeps what it has written.
    #[graphql(guard = r#"RoleGuard::admin_mutation("sync.cancel", "sync_run")"#)]
    async fn cancel_sync(&self, ctx: &Context<'_>, id: ID) -> Result<SyncRun> {
        let id = row_id("id", &id)?;
        let run = sync_runs::cancel(database(ctx)?, run_events(ctx)?, &actor(ctx)?, id)
            .await
            .api()?;
        Ok(run.into())
    }

    /// Sets the unit price of a SKU (by its `id`), or clears it with `price: null`. Prices turn
    /// the license report's findings into monthly costs; currencies are never converted.
    #[graphql(guard = r#"RoleGuard::admin_mutation("sku.price.set", "license_sku")"#)]
    async fn set_sku_price(
        &self,
        ctx: &Context<'_>,
        sku_id: ID,
        price: Option<MoneyInput>,
    ) -> Result<LicenseSku> {
        let id = row_id("skuId", &sku_id)?;
        let sku = licenses::set_price(database(ctx)?, &actor(ctx)?, id, price.map(Into::into))
            .await
            .api()?;
        Ok(sku.into())
    }

    /// Creates a token for a script and returns it, the only time its secret is shown. CONFLICT
    /// when the server already has its maximum of active tokens (`LM_MAX_API_TOKENS`).
    #[graphql(guard = r#"RoleGuard::admin_mutation("api_token.create", "api_token")"#)]
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> Result<CreatedApiToken> {
        let created = api_tokens::create(
            database(ctx)?,
            api_token_limits(ctx)?,
            &actor(ctx)?,
            input.into(),
        )
        .await
        .api()?;
        Ok(created.into())
    }

    /// Keeps a user's license though a finding names it: the finding stays listed, as accepted,
    /// and leaves the report's totals until `expiresOn` has passed or the finding changes kind.
    /// Accepting it again replaces the acceptance.
    #[graphql(guard = r#"RoleGuard::admin_mutation("finding.accept", "finding_acceptance")"#)]
    async fn accept_finding(
        &self,
        ctx: &Context<'_>,
        input: AcceptFindingInput,
    ) -> Result<FindingAcceptance> {
        let input = acceptances::NewAcceptance {
            user_id: row_id("userId", &input.user_id)?,
            license_sku_id: row_id("skuId", &input.sku_id)?,
            kind: input.kind.into(),
            reason: input.reason,
            expires_on: input.expires_on,
        };
        let accepted = acceptances::accept(database(ctx)?, &actor(ctx)?, input, chrono::Utc::now())
            .await
            .api()?;
        Ok(accepted.into())
    }

    /// Withdraws an acceptance: its finding is open again at once.
    #[graphql(guard = r#"RoleGuard::admin_mutation("finding.reopen", "finding_acceptance")"#)]
    async fn withdraw_finding_acceptance(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<FindingAcceptance> {
        let id = row_id("id", &id)?;
        let withdrawn = acceptances::withdraw(database(ctx)?, &actor(ctx)?, id)
            .await
            .api()?;
        Ok(withdrawn.into())
    }

    /// Makes a reclaim plan from one provider's license report: each finding of a user's
    /// license that the filters keep becomes an item with its action and saving, and the groups
    /// a license comes through are named from the provider (when they cannot be read, by id,
    /// with a warning). Nothing changes at the provider; the plan waits for approval.
    #[graphql(guard = r#"RoleGuard::admin_mutation("reclaim.plan.create", "reclaim_plan")"#)]
    async fn create_reclaim_plan(
        &self,
        ctx: &Context<'_>,
        input: CreateReclaimPlanInput,
    ) -> Result<ReclaimPlan> {
        let ids = |field: &'static str, ids: Option<Vec<ID>>| -> Result<Vec<i64>> {
            ids.unwrap_or_default()
                .iter()
                .map(|id| row_id(field, id))
                .collect()
        };
        let filter = PlanFilter {
            provider_id: row_id("providerId", &input.provider_id)?,
            kinds: input
                .kinds
                .unwrap_or_default()
                .into_iter()
                .map(|kind| reports::FindingKind::from(kind).as_str().to_owned())
                .collect(),
            sku_ids: ids("skuIds", input.sku_ids)?,
            user_ids: ids("userIds", input.user_ids)?,
            inactive_days: i64::from(input.inactive_days),
        };
        let db = database(ctx)?;
        let report = report_cache(ctx)?
            .report(
                db,
                registry(ctx)?,
                Some(filter.provider_id),
                filter.inactive_days,
            )
            .await
            .api()?;
        let groups = GroupSource {
            keyring: keyring(ctx)?,
            registry: registry(ctx)?,
        };
        let plan = reclaim_plans::create(
            db,
            reclaim_settings(ctx)?,
            &actor(ctx)?,
            &report,
            filter,
            groups,
        )
        .await
        .api()?;
        Ok(plan.into())
    }

    /// Approves a plan waiting for approval; with LM_RECLAIM_FOUR_EYES, only an admin other
    /// than its maker may.
    #[graphql(guard = r#"RoleGuard::admin_mutation("reclaim.plan.approve", "reclaim_plan")"#)]
    async fn approve_reclaim_plan(&self, ctx: &Context<'_>, id: ID) -> Result<ReclaimPlan> {
        let id = row_id("id", &id)?;
        let plan = reclaim_plans::approve(database(ctx)?, reclaim_settings(ctx)?, &actor(ctx)?, id)
            .await
            .api()?;
        Ok(plan.into())
    }

    /// Cancels a plan that has not run to its end: it never will. An execution under way stops
    /// at its next item; what it did stays done, and can be undone.
    #[graphql(guard = r#"RoleGuard::admin_mutation("reclaim.plan.cancel", "reclaim_plan")"#)]
    async fn cancel_reclaim_plan(&self, ctx: &Context<'_>, id: ID) -> Result<ReclaimPlan> {
        let id = row_id("id", &id)?;
        let plan = reclaim_plans::cancel(database(ctx)?, run_events(ctx)?, &actor(ctx)?, id)
            .await
            .api()?;
        Ok(plan.into())
    }

    /// Executes an approved plan, or goes on with one whose execution stopped before its end:
    /// a job on the provider's queue (after a sync under way) that re-reads each user before
    /// removing the license, and skips those whose finding no longer holds. Follow it with
    /// `reclaimPlanUpdated`. FORBIDDEN, with nothing queued, when the provider's app may not
    /// change licenses.
    #[graphql(guard = r#"RoleGuard::admin_mutation("reclaim.plan.execute", "reclaim_plan")"#)]
    async fn execute_reclaim_plan(&self, ctx: &Context<'_>, id: ID) -> Result<ReclaimPlan> {
        let id = row_id("id", &id)?;
        let plan = reclaim_execution::execute(start(ctx)?, &actor(ctx)?, id)
            .await
            .api()?;
        wake_workers(ctx);
        Ok(plan.into())
    }

    /// Puts the licenses of executed items back (at most 50 at once), assigned directly with
    /// the service plans they had switched off, within LM_RECLAIM_UNDO_DAYS of their removal.
    /// Each item then carries its `undo` outcome: ADDED, or why not (COUNT_VIOLATION when the
    /// seat went to someone else, USAGE_LOCATION_MISSING, …) with a hint; it may be undone
    /// again once that is fixed.
    #[graphql(guard = r#"RoleGuard::admin_mutation("reclaim.undo", "reclaim_item")"#)]
    async fn undo_reclaim(&self, ctx: &Context<'_>, item_ids: Vec<ID>) -> Result<Vec<ReclaimItem>> {
        let ids = item_ids
            .iter()
            .map(|id| row_id("itemIds", id))
            .collect::<Result<Vec<_>>>()?;
        let items = reclaim_undo::undo(start(ctx)?, reclaim_settings(ctx)?, &actor(ctx)?, &ids)
            .await
            .api()?;
        Ok(items.into_iter().map(ReclaimItem::from).collect())
    }

    /// Revokes a token: every replica refuses it from its next request on. Revoking a revoked
    /// token changes nothing.
    #[graphql(guard = r#"RoleGuard::admin_mutation("api_token.revoke", "api_token")"#)]
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> Result<ApiToken> {
        let id = row_id("id", &id)?;
        let token = api_tokens::revoke(database(ctx)?, &actor(ctx)?, id)
            .await
            .api()?;
        Ok(token.into())
    }
}

/// What starting or undoing a reclaim needs of the context.
fn start<'a>(ctx: &Context<'a>) -> Result<Start<'a>> {
    Ok(Start {
        db: database(ctx)?,
        keyring: keyring(ctx)?,
        registry: registry(ctx)?,
        events: run_events(ctx)?,
    })
}
