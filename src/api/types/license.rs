use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::Provider;
use super::user::{
    PageArgs, UserConnection, UserFilterInput, UserOrder, user_connection, user_connection_cost,
};
use crate::api::errors::graphql_error;
use crate::api::loaders::load;
use crate::domain::licenses::{self, NewPrice, SkuKey, Subscription};
use crate::domain::money::{self, Period, Price};
use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PricePeriod {
    Month,
    Year,
}

impl From<Period> for PricePeriod {
    fn from(period: Period) -> Self {
        match period {
            Period::Month => PricePeriod::Month,
            Period::Year => PricePeriod::Year,
        }
    }
}

impl From<PricePeriod> for Period {
    fn from(period: PricePeriod) -> Self {
        match period {
            PricePeriod::Month => Period::Month,
            PricePeriod::Year => Period::Year,
        }
    }
}

/// A unit price: what one seat costs per month or per year.
pub struct Money(Price);

#[Object]
impl Money {
    /// A decimal string, e.g. "36.00"; never a float.
    async fn amount(&self) -> String {
        self.0.amount.to_string()
    }

    /// ISO-4217 code, e.g. EUR.
    async fn currency(&self) -> &str {
        &self.0.currency
    }

    async fn period(&self) -> PricePeriod {
        self.0.period.into()
    }

    /// The price per month, rounded to the cent: a yearly price divided by 12.
    async fn monthly_amount(&self) -> String {
        money::shown(self.0.monthly())
    }
}

/// A unit price as an admin enters it.
#[derive(InputObject)]
pub struct MoneyInput {
    /// A decimal string with at most 4 decimal places, e.g. "36" or "12.50".
    pub amount: String,
    /// ISO-4217 code in upper case, e.g. EUR. Never converted into another currency.
    pub currency: String,
    pub period: PricePeriod,
}

impl From<MoneyInput> for NewPrice {
    fn from(input: MoneyInput) -> Self {
        Self {
            amount: input.amount,
            currency: input.currency,
            period: input.period.into(),
        }
    }
}

/// A monthly sum in one currency.
#[derive(SimpleObject)]
pub struct MonthlyCost {
    /// Decimal string, rounded to the cent after summing.
    pub amount: String,
    pub currency: String,
}

impl MonthlyCost {
    pub fn list(costs: &money::Costs) -> Vec<MonthlyCost> {
        costs
            .iter()
            .map(|(currency, amount)| MonthlyCost {
                amount: money::shown(amount),
                currency: currency.to_owned(),
            })
            .collect()
    }
}

/// One path by which a license reaches a user: assigned to the user itself, or inherited
/// through a group. Each path has its own state and error.
#[derive(SimpleObject)]
pub struct LicenseSource {
    /// The group the license comes through; null when it is assigned to the user directly.
    pub group_id: Option<String>,
    /// Active, ActiveWithError, Disabled, Error, or a value the provider sent that this version
    /// does not know.
    pub state: Option<String>,
    /// Why this path failed — CountViolation, MutuallyExclusiveViolation, DependencyViolation,
    /// ProhibitedInUsageLocationViolation, UniquenessViolation, Other, or a value the provider
    /// sent that this version does not know; null when it has no error.
    pub error: Option<String>,
    /// Service plan ids this path switches off.
    pub disabled_plans: Vec<String>,
}

impl From<licenses::LicenseSource> for LicenseSource {
    fn from(source: licenses::LicenseSource) -> Self {
        Self {
            group_id: source.group_id,
            state: source.state.map(|state| state.as_str().to_owned()),
            error: source.error.map(|error| error.as_str().to_owned()),
            disabled_plans: source.disabled_plans,
        }
    }
}

/// A commerce subscription behind a SKU; several may back one SKU.
#[derive(SimpleObject)]
#[graphql(name = "LicenseSubscription")]
pub struct LicenseSubscription {
    pub id: ID,
    /// The subscription's id in Microsoft's commerce system.
    pub commerce_subscription_id: Option<String>,
    /// Enabled, Warning, Suspended, Deleted or LockedOut.
    pub status: String,
    pub total_licenses: i64,
    pub is_trial: bool,
    pub created_at: Option<DateTime<Utc>>,
    /// When it renews, expires or moves to its next state.
    pub next_lifecycle_at: Option<DateTime<Utc>>,
}

impl From<Subscription> for LicenseSubscription {
    fn from(subscription: Subscription) -> Self {
        Self {
            id: ID(subscription.id.to_string()),
            commerce_subscription_id: subscription.commerce_subscription_id,
            status: subscription.status,
            total_licenses: subscription.total_licenses,
            is_trial: subscription.is_trial,
            created_at: subscription.created_at,
            next_lifecycle_at: subscription.next_lifecycle_at,
        }
    }
}

/// A license product of a provider (Graph subscribedSku), with seat counts summed by Graph over
/// every subscription behind it. Shared, so that a report's thousands of findings of one SKU
/// do not each copy it.
#[derive(Clone)]
pub struct LicenseSku(Sku);

/// A SKU as it was read: whole, or only its names (see [`NAME_FIELDS`]).
#[derive(Clone)]
enum Sku {
    Full(Arc<licenses::LicenseSku>),
    Named(Arc<licenses::SkuName>),
}

/// The fields of a SKU that a [`licenses::SkuName`] answers.
pub const NAME_FIELDS: [&str; 8] = [
    "id",
    "skuId",
    "skuPartNumber",
    "displayName",
    "provider",
    "subscriptions",
    "holders",
    "__typename",
];

impl From<licenses::LicenseSku> for LicenseSku {
    fn from(sku: licenses::LicenseSku) -> Self {
        Self(Sku::Full(Arc::new(sku)))
    }
}

impl From<Arc<licenses::LicenseSku>> for LicenseSku {
    fn from(sku: Arc<licenses::LicenseSku>) -> Self {
        Self(Sku::Full(sku))
    }
}

impl From<Arc<licenses::SkuName>> for LicenseSku {
    fn from(sku: Arc<licenses::SkuName>) -> Self {
        Self(Sku::Named(sku))
    }
}

/// Reads one field that both forms of [`Sku`] hold.
macro_rules! named {
    ($sku:expr, $field:ident) => {
        match &$sku.0 {
            Sku::Full(sku) => &sku.$field,
            Sku::Named(sku) => &sku.$field,
        }
    };
}

impl LicenseSku {
    fn row_id(&self) -> i64 {
        *named!(self, id)
    }

    fn provider_id(&self) -> i64 {
        *named!(self, provider_id)
    }

    /// The whole SKU: as it was read, or else through the request's loader. Only names are
    /// read when the selection asks for nothing more, so the loader serves what a look-ahead
    /// cannot see.
    async fn full(&self, ctx: &Context<'_>) -> Result<Arc<licenses::LicenseSku>> {
        if let Sku::Full(sku) = &self.0 {
            return Ok(Arc::clone(sku));
        }
        let sku: Option<licenses::LicenseSku> = Box::pin(load(ctx, self.row_id())).await?;
        sku.map(Arc::new)
            .ok_or_else(|| graphql_error(&Error::NotFound("the SKU was removed".into())))
    }
}

#[Object]
impl LicenseSku {
    async fn id(&self) -> ID {
        ID(self.row_id().to_string())
    }

    /// Graph skuId (a GUID).
    async fn sku_id(&self) -> &str {
        named!(self, sku_id)
    }

    /// e.g. SPE_E5.
    async fn sku_part_number(&self) -> &str {
        named!(self, sku_part_number)
    }

    /// Microsoft's product name, e.g. Microsoft 365 E5; the part number when unknown.
    async fn display_name(&self) -> &str {
        named!(self, display_name)
    }

    /// Enabled, Warning, Suspended, Deleted or LockedOut.
    async fn capability_status(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(self.full(ctx).await?.capability_status.clone())
    }

    /// User or Company.
    async fn applies_to(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.full(ctx).await?.applies_to.clone())
    }

    /// False for a SKU only users' assignments still mention: no seats are paid for.
    async fn subscribed(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.full(ctx).await?.subscribed)
    }

    /// Paid seats that can be assigned.
    async fn enabled_units(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.full(ctx).await?.enabled_units)
    }

    /// Seats assigned to users.
    async fn consumed_units(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.full(ctx).await?.consumed_units)
    }

    /// enabledUnits − consumedUnits; negative when more are assigned than paid for.
    async fn available_units(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.full(ctx).await?.available_units())
    }

    /// Seats of subscriptions that were cancelled or not paid; they go away.
    async fn suspended_units(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.full(ctx).await?.suspended_units)
    }

    /// Seats in their grace period after expiry.
    async fn warning_units(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.full(ctx).await?.warning_units)
    }

    async fn locked_out_units(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.full(ctx).await?.locked_out_units)
    }

    /// The unit price set with setSkuPrice; null when none is set.
    async fn price(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        Ok(self.full(ctx).await?.price.clone().map(Money))
    }

    /// What the enabled seats cost per month: the monthly unit price × `enabledUnits`, rounded
    /// to the cent like the report's figures; null when no price is set.
    async fn monthly_cost(&self, ctx: &Context<'_>) -> Result<Option<MonthlyCost>> {
        let sku = self.full(ctx).await?;
        Ok(sku
            .monthly_cost(sku.enabled_units)
            .map(|(currency, amount)| MonthlyCost {
                amount: money::shown(amount),
                currency,
            }))
    }

    async fn last_synced_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.full(ctx).await?.last_synced_at)
    }

    async fn provider(&self, ctx: &Context<'_>) -> Result<Provider> {
        Box::pin(Provider::of(ctx, self.provider_id())).await
    }

    /// The commerce subscriptions behind this SKU.
    async fn subscriptions(&self, ctx: &Context<'_>) -> Result<Vec<LicenseSubscription>> {
        let key = SkuKey::new(self.provider_id(), named!(self, sku_id));
        let found: Option<Vec<Subscription>> = Box::pin(load(ctx, key)).await?;
        Ok(found
            .unwrap_or_default()
            .into_iter()
            .map(LicenseSubscription::from)
            .collect())
    }

    /// Users holding this SKU, with the same filters and order as `users`.
    #[graphql(complexity = "user_connection_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn holders(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilterInput>,
        order_by: Option<UserOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<UserConnection> {
        let mut filter = filter.unwrap_or_default().into_domain()?;
        filter.license_sku = Some(self.row_id());
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        // Boxed: a page's future is large, and this field's future is the size of the largest
        // field of the type, which every field of every SKU of a page of users would pay.
        Box::pin(user_connection(ctx, filter, order_by, args)).await
    }
}
