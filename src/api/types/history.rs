//! Seats back in time, trends and renewals (docs/license-api.md, "History and renewals").

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::Provider;
use super::license::{LicenseSku, LicenseSubscription, MonthlyCost};
use crate::domain::history::{self, Interval, Seats};
use crate::domain::money;
use crate::domain::renewals::{self, RenewalKind as Kind};

fn cost((currency, amount): (String, Decimal)) -> MonthlyCost {
    MonthlyCost {
        amount: money::shown(amount),
        currency,
    }
}

/// A SKU with its seats on an earlier day, from the daily snapshots.
pub struct LicenseSkuSeats(pub history::SkuSeats);

#[Object]
impl LicenseSkuSeats {
    /// The SKU as it is today: names, price, subscriptions.
    async fn sku(&self) -> LicenseSku {
        LicenseSku::from(self.0.sku.clone())
    }

    /// The day of the snapshot the seats come from: the day asked about, or the last day
    /// before it on which a sync ran.
    async fn snapshot_day(&self) -> NaiveDate {
        self.0.seats.day
    }

    async fn enabled_units(&self) -> i64 {
        self.0.seats.enabled_units
    }

    async fn consumed_units(&self) -> i64 {
        self.0.seats.consumed_units
    }

    /// enabledUnits − consumedUnits; negative when more were assigned than paid for.
    async fn available_units(&self) -> i64 {
        self.0.seats.available_units()
    }
}

/// How long one point of a trend is. Weeks start on Monday, months on the 1st (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum TrendInterval {
    Day,
    Week,
    Month,
}

impl From<TrendInterval> for Interval {
    fn from(interval: TrendInterval) -> Self {
        match interval {
            TrendInterval::Day => Interval::Day,
            TrendInterval::Week => Interval::Week,
            TrendInterval::Month => Interval::Month,
        }
    }
}

/// One SKU's seats over a range of days.
pub struct SkuTrend(pub Arc<history::Trend>);

#[Object]
impl SkuTrend {
    async fn sku(&self) -> LicenseSku {
        LicenseSku::from(self.0.sku.clone())
    }

    /// A point per day, week or month of the range, oldest first; gaps included.
    #[graphql(complexity = "history::MAX_TREND_POINTS * child_complexity")]
    async fn points(&self) -> Vec<TrendPoint> {
        (0..self.0.points.len())
            .map(|index| TrendPoint {
                trend: self.0.clone(),
                index,
            })
            .collect()
    }
}

/// The seats of one day, week or month: those of the last snapshot within it. When no sync ran
/// in it, a gap: `snapshotDay` and every figure are null — nothing is known, which is not zero.
pub struct TrendPoint {
    trend: Arc<history::Trend>,
    index: usize,
}

impl TrendPoint {
    fn point(&self) -> &history::TrendPoint {
        &self.trend.points[self.index]
    }

    fn seats(&self) -> Option<&Seats> {
        self.point().seats.as_ref()
    }
}

#[Object]
impl TrendPoint {
    /// The first day of the point within the range: the day, the week's Monday or the month's
    /// 1st, or `from` for the first point.
    async fn start(&self) -> NaiveDate {
        self.point().start
    }

    /// Its last day within the range.
    async fn end(&self) -> NaiveDate {
        self.point().end
    }

    /// The day of the snapshot the figures come from; null for a gap.
    async fn snapshot_day(&self) -> Option<NaiveDate> {
        self.seats().map(|seats| seats.day)
    }

    async fn enabled_units(&self) -> Option<i64> {
        self.seats().map(|seats| seats.enabled_units)
    }

    async fn consumed_units(&self) -> Option<i64> {
        self.seats().map(|seats| seats.consumed_units)
    }

    async fn available_units(&self) -> Option<i64> {
        self.seats().map(Seats::available_units)
    }

    /// consumedUnits × the monthly unit price set today (prices have no history), rounded to
    /// the cent; null for a gap or when the SKU has no price.
    async fn monthly_cost(&self) -> Option<MonthlyCost> {
        self.trend.monthly_cost(self.point()).map(cost)
    }
}

/// What a subscription's next lifecycle date brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum RenewalKind {
    /// An Enabled paid subscription renews.
    Renewal,
    /// A paid subscription in any other status (Warning, Suspended, LockedOut, …) moves further
    /// towards its end.
    Expiry,
    /// A trial ends, whatever its status.
    TrialEnd,
}

impl From<Kind> for RenewalKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Renewal => RenewalKind::Renewal,
            Kind::Expiry => RenewalKind::Expiry,
            Kind::TrialEnd => RenewalKind::TrialEnd,
        }
    }
}

/// What the recommended seat count changes in cost, in the SKU's currency.
#[derive(SimpleObject)]
pub struct CostDifference {
    pub currency: String,
    /// Decimal string, rounded to the cent; negative when fewer seats are recommended.
    pub monthly_amount: String,
    /// Twelve months of it, rounded to the cent.
    pub yearly_amount: String,
}

/// A subscription coming to its next lifecycle date, with how many seats to have after it.
pub struct Renewal(pub renewals::Renewal);

#[Object]
impl Renewal {
    async fn subscription(&self) -> LicenseSubscription {
        LicenseSubscription::from(self.0.subscription.clone())
    }

    async fn provider(&self, ctx: &Context<'_>) -> Result<Provider> {
        Provider::of(ctx, self.0.subscription.provider_id).await
    }

    /// The SKU of the subscription; null when the provider's SKUs do not list it, and then
    /// nothing is recommended.
    async fn sku(&self) -> Option<LicenseSku> {
        self.0.sku.clone().map(LicenseSku::from)
    }

    async fn kind(&self) -> RenewalKind {
        self.0.kind.into()
    }

    /// The next lifecycle date.
    async fn date(&self) -> DateTime<Utc> {
        self.0.date
    }

    /// Enabled, Warning, Suspended, Deleted or LockedOut.
    async fn status(&self) -> &str {
        &self.0.subscription.status
    }

    async fn is_trial(&self) -> bool {
        self.0.subscription.is_trial
    }

    /// The subscription's seats today.
    async fn seats_today(&self) -> i64 {
        self.0.subscription.total_licenses
    }

    /// The SKU's consumed seats today, over all its subscriptions.
    async fn consumed_today(&self) -> Option<i64> {
        self.0.need.map(|need| need.consumed_today)
    }

    /// The SKU's highest consumption in the look-back, from the daily snapshots, today's
    /// included.
    async fn peak_consumed(&self) -> Option<i64> {
        self.0.need.map(|need| need.peak_consumed)
    }

    /// The peak plus LM_RENEWAL_BUFFER_PERCENT, rounded up, never below consumedToday.
    async fn recommended_seats(&self) -> Option<i64> {
        self.0.need.map(|need| need.recommended_seats)
    }

    /// recommendedSeats − seatsToday: positive to buy more, negative to buy fewer.
    async fn seat_difference(&self) -> Option<i64> {
        self.0.seat_difference()
    }

    /// What seatDifference costs or saves; null when the SKU has no price.
    async fn cost_difference(&self) -> Option<CostDifference> {
        self.0
            .monthly_cost_difference()
            .map(|(currency, monthly)| CostDifference {
                currency,
                monthly_amount: money::shown(monthly),
                yearly_amount: money::shown(monthly * Decimal::from(12)),
            })
    }
}
