use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object, Result};
use chrono::{NaiveDate, Utc};

use super::context::{
    claims, database, optional_row_id, registry, renewal_settings, report_cache, row_id,
};
use super::cursor;
use super::errors::{ResultExt, bad_user_input};
use super::guard::RoleGuard;
use super::types::{
    ApiToken, AuditEvent, AuditEventFilter, DirectoryUser, FindingAcceptance, LicenseEvent,
    LicenseEventFilter, LicenseReport, LicenseSku, LicenseSkuSeats, PageArgs, Provider,
    ProviderKindInfo, ReclaimPlan, Renewal, SkuTrend, SyncRun, TrendInterval, UserConnection,
    UserFilterInput, UserOrder, Viewer, event_page, user_connection, user_connection_cost,
};
use crate::domain::{
    acceptances, api_tokens, audit, history, licenses, providers, reclaim_plans, renewals, reports,
    sync_runs, users,
};

const PAGE_DEFAULT: u64 = 50;
const PAGE_MAX: u64 = 500;

pub(crate) type IdConnection<T> = Connection<String, T, EmptyFields, EmptyFields>;

/// A newest-first page keyed by row id: fetches one row more than asked to learn whether
/// another page follows.
pub(crate) async fn id_page<T, N, F, Fut>(
    first: Option<i32>,
    after: Option<String>,
    fetch: F,
    id_of: fn(&T) -> i64,
) -> Result<IdConnection<N>>
where
    N: async_graphql::OutputType,
    T: Into<N>,
    F: FnOnce(u64, Option<i64>) -> Fut,
    Fut: std::future::Future<Output = crate::Result<Vec<T>>>,
{
    let limit = cursor::page_size(first, PAGE_DEFAULT, PAGE_MAX)?;
    let before_id = after
        .as_deref()
        .map(|after| cursor::decode::<i64>("after", after))
        .transpose()?;
    let mut rows = fetch(limit + 1, before_id).await.api()?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let mut connection = Connection::new(before_id.is_some(), has_next);
    connection.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(cursor::encode(&id_of(&row)), row.into())),
    );
    Ok(connection)
}

pub struct Query;

#[Object(name = "Query")]
impl Query {
    /// Who is calling, as the bearer token says.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        Ok(Viewer::from(claims(ctx)?))
    }

    /// Every configured license provider (Microsoft 365 tenants), oldest first.
    async fn providers(&self, ctx: &Context<'_>) -> Result<Vec<Provider>> {
        claims(ctx)?;
        let providers = providers::list(database(ctx)?).await.api()?;
        Ok(providers.into_iter().map(Provider::from).collect())
    }

    /// The kinds of provider this server can connect, with what to grant each before adding
    /// one and where its setup guide is.
    async fn provider_kinds(&self, ctx: &Context<'_>) -> Result<Vec<ProviderKindInfo>> {
        claims(ctx)?;
        Ok(registry(ctx)?
            .kinds()
            .into_iter()
            .filter_map(|(name, setup)| ProviderKindInfo::new(name, setup))
            .collect())
    }

    /// One provider, or null when there is none with this id.
    async fn provider(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Provider>> {
        claims(ctx)?;
        let id = row_id("id", &id)?;
        Ok(providers::get(database(ctx)?, id)
            .await
            .api()?
            .map(Provider::from))
    }

    /// Directory users, one page at a time (keyset pagination: pages stay consistent while a
    /// sync adds or removes users). `first`/`last` at most 500; default 50.
    #[graphql(complexity = "user_connection_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        provider_id: Option<ID>,
        filter: Option<UserFilterInput>,
        order_by: Option<UserOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<UserConnection> {
        claims(ctx)?;
        let mut filter = filter.unwrap_or_default().into_domain()?;
        if let Some(id) = provider_id {
            let id = row_id("providerId", &id)?;
            if filter.provider_id.is_some_and(|other| other != id) {
                return Err(bad_user_input(
                    "filter.providerId",
                    "differs from providerId; pass one of them",
                ));
            }
            filter.provider_id = Some(id);
        }
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        user_connection(ctx, filter, order_by, args).await
    }

    /// One directory user, removed or not; null when there is none with this id.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<DirectoryUser>> {
        claims(ctx)?;
        let id = row_id("id", &id)?;
        Ok(users::get(database(ctx)?, id)
            .await
            .api()?
            .map(DirectoryUser::from))
    }

    /// License SKUs of one provider or of all, with seat counts and prices.
    #[graphql(complexity = "super::limits::SKUS_PER_LIST * child_complexity")]
    async fn license_skus(
        &self,
        ctx: &Context<'_>,
        provider_id: Option<ID>,
    ) -> Result<Vec<LicenseSku>> {
        claims(ctx)?;
        let provider_id = optional_row_id("providerId", provider_id.as_ref())?;
        let skus = licenses::list_skus(database(ctx)?, provider_id)
            .await
            .api()?;
        Ok(skus.into_iter().map(LicenseSku::from).collect())
    }

    /// One license SKU by its `id`, with its seat counts and price; null when there is none
    /// with this id.
    async fn license_sku(&self, ctx: &Context<'_>, id: ID) -> Result<Option<LicenseSku>> {
        claims(ctx)?;
        let id = row_id("id", &id)?;
        let mut found = licenses::skus_by_ids(database(ctx)?, &[id]).await.api()?;
        Ok(found.remove(&id).map(LicenseSku::from))
    }

    /// One provider's SKUs with their seats as the daily snapshots had them on `date`: that
    /// day's, or the last one before it. SKUs without a snapshot by then are left out; a date
    /// before the provider's first snapshot, or in the future, is refused.
    #[graphql(complexity = "super::limits::SKUS_PER_LIST * child_complexity")]
    async fn license_skus_as_of(
        &self,
        ctx: &Context<'_>,
        provider_id: ID,
        date: NaiveDate,
    ) -> Result<Vec<LicenseSkuSeats>> {
        claims(ctx)?;
        let provider_id = row_id("providerId", &provider_id)?;
        let today = Utc::now().date_naive();
        let skus = history::skus_as_of(database(ctx)?, provider_id, date, today)
            .await
            .api()?;
        Ok(skus.into_iter().map(LicenseSkuSeats).collect())
    }

    /// One SKU's seats from `from` to `to` (both included, not in the future), a point per
    /// day, week or month holding the last snapshot within it; points without one are gaps.
    /// At most 400 points. Null when there is no SKU with this id.
    async fn sku_trend(
        &self,
        ctx: &Context<'_>,
        sku_id: ID,
        from: NaiveDate,
        to: NaiveDate,
        #[graphql(default_with = "TrendInterval::Day")] interval: TrendInterval,
    ) -> Result<Option<SkuTrend>> {
        claims(ctx)?;
        let sku_id = row_id("skuId", &sku_id)?;
        let today = Utc::now().date_naive();
        let trend = history::sku_trend(database(ctx)?, sku_id, from, to, interval.into(), today)
            .await
            .api()?;
        Ok(trend.map(|trend| SkuTrend(Arc::new(trend))))
    }

    /// Subscriptions (of one provider or of all) whose next lifecycle date falls within
    /// `withinDays` from now, soonest first, each with the seats to have after it: the peak
    /// consumption over `lookbackDays` plus LM_RENEWAL_BUFFER_PERCENT. Both 1 to 730 days.
    #[graphql(complexity = "super::limits::SKUS_PER_LIST * child_complexity")]
    async fn renewals(
        &self,
        ctx: &Context<'_>,
        provider_id: Option<ID>,
        #[graphql(default = 90)] within_days: i32,
        #[graphql(default = 90)] lookback_days: i32,
    ) -> Result<Vec<Renewal>> {
        claims(ctx)?;
        let provider_id = optional_row_id("providerId", provider_id.as_ref())?;
        let window =
            renewals::Window::new(i64::from(within_days), i64::from(lookback_days)).api()?;
        let found = renewals::renewals(
            database(ctx)?,
            renewal_settings(ctx)?,
            provider_id,
            window,
            Utc::now(),
        )
        .await
        .api()?;
        Ok(found.into_iter().map(Renewal).collect())
    }

    /// Waste and its monthly cost: disabled and inactive licensed users, users who never
    /// signed in, unassigned seats and overlapping licenses, each with its evidence. A built
    /// report is served again until a sync, a price or a provider changes, for 60 seconds at
    /// most; `generatedAt` says when it was built.
    #[graphql(complexity = "super::limits::REPORT_COST + child_complexity")]
    async fn license_report(
        &self,
        ctx: &Context<'_>,
        provider_id: Option<ID>,
        #[graphql(default = 90)] inactive_days: Option<i32>,
    ) -> Result<LicenseReport> {
        claims(ctx)?;
        let provider_id = optional_row_id("providerId", provider_id.as_ref())?;
        let report = report_cache(ctx)?
            .report(
                database(ctx)?,
                registry(ctx)?,
                provider_id,
                inactive_days.map_or(reports::INACTIVE_DAYS_DEFAULT, i64::from),
            )
            .await
            .api()?;
        Ok(report.into())
    }

    /// Who changed what, newest first, all events or those `filter` keeps. Admins only.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdConnection<AuditEvent>> {
        let db = database(ctx)?;
        let filter = filter.unwrap_or_default().into_domain().api()?;
        id_page(
            first,
            after,
            |limit, before| audit::list(db, &filter, limit, before),
            |event| event.id,
        )
        .await
    }

    /// What changed of users and their licenses, newest first, as syncs observed it (and
    /// reclaim made it): every event, or those `filter` keeps. `first` at most 500; default 50.
    async fn license_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<LicenseEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdConnection<LicenseEvent>> {
        claims(ctx)?;
        event_page(ctx, filter.unwrap_or_default().into_domain()?, first, after).await
    }

    /// The API tokens for scripts, newest first, revoked and expired ones too. Admins only.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn api_tokens(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdConnection<ApiToken>> {
        let db = database(ctx)?;
        id_page(
            first,
            after,
            |limit, before| api_tokens::list(db, limit, before),
            |token| token.id,
        )
        .await
    }

    /// The findings admins accepted, newest first, of one provider or of all: those in force,
    /// or with `includeExpired` those past their last day too.
    async fn accepted_findings(
        &self,
        ctx: &Context<'_>,
        provider_id: Option<ID>,
        #[graphql(default = false)] include_expired: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdConnection<FindingAcceptance>> {
        claims(ctx)?;
        let db = database(ctx)?;
        let provider_id = optional_row_id("providerId", provider_id.as_ref())?;
        let today = chrono::Utc::now().date_naive();
        id_page(
            first,
            after,
            |limit, before| {
                acceptances::list(db, provider_id, include_expired, today, limit, before)
            },
            |acceptance| acceptance.id,
        )
        .await
    }

    /// A reclaim plan, with its items.
    async fn reclaim_plan(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ReclaimPlan>> {
        claims(ctx)?;
        let id = row_id("id", &id)?;
        let plan = reclaim_plans::get(database(ctx)?, id).await.api()?;
        Ok(plan.map(ReclaimPlan::from))
    }

    /// Reclaim plans, newest first, of one provider or of all.
    async fn reclaim_plans(
        &self,
        ctx: &Context<'_>,
        provider_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdConnection<ReclaimPlan>> {
        claims(ctx)?;
        let db = database(ctx)?;
        let provider_id = optional_row_id("providerId", provider_id.as_ref())?;
        id_page(
            first,
            after,
            |limit, before| reclaim_plans::list(db, provider_id, limit, before),
            |plan| plan.id,
        )
        .await
    }

    /// Sync history, newest first, of one provider or of all.
    async fn sync_runs(
        &self,
        ctx: &Context<'_>,
        provider_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdConnection<SyncRun>> {
        claims(ctx)?;
        let db = database(ctx)?;
        let provider_id = optional_row_id("providerId", provider_id.as_ref())?;
        id_page(
            first,
            after,
            |limit, before| sync_runs::list(db, provider_id, limit, before),
            |run| run.id,
        )
        .await
    }

    async fn sync_run(&self, ctx: &Context<'_>, id: ID) -> Result<Option<SyncRun>> {
        claims(ctx)?;
        let id = row_id("id", &id)?;
        Ok(sync_runs::get(database(ctx)?, id)
            .await
            .api()?
            .map(SyncRun::from))
    }
}
