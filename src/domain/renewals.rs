//! Subscriptions coming to their next lifecycle date — a renewal, an expiry, a trial's end —
//! with how many seats to buy next time: the peak consumption of the SKU over a look-back (from
//! the daily snapshots) plus a buffer, never below what is consumed today.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::licenses::{self, LicenseSku, SkuKey, Subscription};
use super::validation::Validator;
use crate::db::one_of;
use crate::entities::{license_snapshots as snapshots, subscriptions};
use crate::error::Result;

/// How far ahead `renewals` looks, and how far back for the peak: two years at most either way.
pub const MAX_DAYS: i64 = 730;

/// How renewals recommend (`LM_RENEWAL_BUFFER_PERCENT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenewalSettings {
    /// Seats recommended above the peak, in percent of it, rounded up to a whole seat.
    pub buffer_percent: u32,
}

impl Default for RenewalSettings {
    fn default() -> Self {
        Self { buffer_percent: 10 }
    }
}

/// What the next lifecycle date brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenewalKind {
    /// An `Enabled` paid subscription renews.
    Renewal,
    /// Any other status (`Warning`, `Suspended`, `LockedOut`, `Deleted`, or one this version
    /// does not know): it is already on its way out, and the date is when it goes further.
    Expiry,
    /// A trial, whatever its status: it ends unless it is bought.
    TrialEnd,
}

impl RenewalKind {
    pub fn of(status: &str, is_trial: bool) -> Self {
        if is_trial {
            RenewalKind::TrialEnd
        } else if status.eq_ignore_ascii_case("Enabled") {
            RenewalKind::Renewal
        } else {
            RenewalKind::Expiry
        }
    }
}

/// The consumption behind a recommendation, and the recommendation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    pub consumed_today: i64,
    /// The highest consumption of the look-back, today's included.
    pub peak_consumed: i64,
    pub recommended_seats: i64,
}

impl Need {
    fn new(consumed_today: i64, snapshot_peak: Option<i64>, settings: RenewalSettings) -> Self {
        let peak_consumed = snapshot_peak.unwrap_or(0).max(consumed_today).max(0);
        // ceil(peak × (100 + buffer) / 100) in integers: seats are whole.
        let scaled = peak_consumed.saturating_mul(100 + i64::from(settings.buffer_percent));
        let with_buffer = scaled / 100 + i64::from(scaled % 100 != 0);
        Self {
            consumed_today,
            peak_consumed,
            recommended_seats: with_buffer.max(consumed_today),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Renewal {
    pub subscription: Subscription,
    pub kind: RenewalKind,
    pub date: DateTime<Utc>,
    /// The SKU the subscription is of; `None` when the provider's listing of SKUs did not
    /// include it, and then nothing can be recommended.
    pub sku: Option<LicenseSku>,
    pub need: Option<Need>,
}

impl Renewal {
    /// Recommended minus today's seats: positive to buy more, negative to buy fewer.
    pub fn seat_difference(&self) -> Option<i64> {
        self.need
            .map(|need| need.recommended_seats - self.subscription.total_licenses)
    }

    /// What the seat difference changes per month, unrounded, in the SKU's currency; `None`
    /// when the SKU has no price.
    pub fn monthly_cost_difference(&self) -> Option<(String, Decimal)> {
        self.sku.as_ref()?.monthly_cost(self.seat_difference()?)
    }
}

/// The window of a `renewals` request, checked.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub within_days: i64,
    pub lookback_days: i64,
}

impl Window {
    pub fn new(within_days: i64, lookback_days: i64) -> Result<Self> {
        let mut validator = Validator::default();
        let days = |value: i64| {
            if (1..=MAX_DAYS).contains(&value) {
                Ok(value)
            } else {
                Err(format!("must be from 1 to {MAX_DAYS} days"))
            }
        };
        let within_days = validator.check("withinDays", days(within_days));
        let lookback_days = validator.check("lookbackDays", days(lookback_days));
        validator.finish()?;
        let (Some(within_days), Some(lookback_days)) = (within_days, lookback_days) else {
            unreachable!("the validator refuses missing fields");
        };
        Ok(Self {
            within_days,
            lookback_days,
        })
    }
}

/// The subscriptions (of one provider or of all) whose next lifecycle date falls within
/// `window.within_days` from `now`, soonest first, each with its recommendation.
pub async fn renewals(
    db: &DatabaseConnection,
    settings: RenewalSettings,
    provider_id: Option<i64>,
    window: Window,
    now: DateTime<Utc>,
) -> Result<Vec<Renewal>> {
    use subscriptions::Column;
    let mut query = subscriptions::Entity::find()
        .filter(Column::NextLifecycleDateTime.gte(now))
        .filter(Column::NextLifecycleDateTime.lte(now + Duration::days(window.within_days)))
        .order_by_asc(Column::NextLifecycleDateTime)
        .order_by_asc(Column::Id);
    if let Some(provider_id) = provider_id {
        query = query.filter(Column::ProviderId.eq(provider_id));
    }
    let due: Vec<Subscription> = query
        .all(db)
        .await?
        .into_iter()
        .map(Subscription::from)
        .collect();
    let mut provider_ids: Vec<i64> = due.iter().map(|due| due.provider_id).collect();
    provider_ids.sort_unstable();
    provider_ids.dedup();
    let skus: HashMap<SkuKey, LicenseSku> = licenses::skus_of_providers(db, &provider_ids)
        .await?
        .into_values()
        .flatten()
        .map(|sku| (SkuKey::of(&sku), sku))
        .collect();
    let sku_ids: Vec<i64> = skus.values().map(|sku| sku.id).collect();
    let today = now.date_naive();
    let peaks = peaks(
        db,
        &sku_ids,
        today - Duration::days(window.lookback_days),
        today,
    )
    .await?;
    Ok(due
        .into_iter()
        .filter_map(|subscription| {
            let date = subscription.next_lifecycle_at?;
            let sku = skus
                .get(&SkuKey {
                    provider_id: subscription.provider_id,
                    sku_id: subscription.sku_id.to_ascii_lowercase(),
                })
                .cloned();
            let need = sku
                .as_ref()
                .map(|sku| Need::new(sku.consumed_units, peaks.get(&sku.id).copied(), settings));
            Some(Renewal {
                kind: RenewalKind::of(&subscription.status, subscription.is_trial),
                date,
                subscription,
                sku,
                need,
            })
        })
        .collect())
}

/// The highest consumption each SKU's snapshots show between `from` and `to`, in one
/// statement; SKUs without a snapshot then are absent.
async fn peaks(
    db: &DatabaseConnection,
    sku_ids: &[i64],
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<HashMap<i64, i64>> {
    use snapshots::Column;
    if sku_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, Option<i64>)> = snapshots::Entity::find()
        .select_only()
        .column(Column::LicenseSkuId)
        .expr(Func::max(Expr::col(Column::ConsumedUnits)))
        .filter(one_of(
            db.get_database_backend(),
            Column::LicenseSkuId,
            sku_ids.to_vec(),
        ))
        .filter(Column::Day.gte(from))
        .filter(Column::Day.lte(to))
        .group_by(Column::LicenseSkuId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(sku, peak)| Some((sku, peak?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(consumed_today: i64, peak: Option<i64>, buffer_percent: u32) -> Need {
        Need::new(consumed_today, peak, RenewalSettings { buffer_percent })
    }

    #[test]
    fn the_peak_plus_buffer_is_rounded_up_to_a_whole_seat() {
        assert_eq!(need(30, Some(41), 10).recommended_seats, 46); // 45.1
        assert_eq!(need(30, Some(40), 10).recommended_seats, 44); // exactly 44
        assert_eq!(need(0, Some(0), 10).recommended_seats, 0);
        assert_eq!(need(7, None, 0).recommended_seats, 7);
    }

    #[test]
    fn today_counts_towards_the_peak_and_the_floor() {
        let today_highest = need(50, Some(20), 10);
        assert_eq!(today_highest.peak_consumed, 50);
        assert_eq!(today_highest.recommended_seats, 55);
    }

    #[test]
    fn trials_end_whatever_their_status_and_only_enabled_paid_ones_renew() {
        assert_eq!(RenewalKind::of("Enabled", true), RenewalKind::TrialEnd);
        assert_eq!(RenewalKind::of("Warning", true), RenewalKind::TrialEnd);
        assert_eq!(RenewalKind::of("Enabled", false), RenewalKind::Renewal);
        for status in ["Warning", "Suspended", "LockedOut", "Deleted", "Unknown"] {
            assert_eq!(
                RenewalKind::of(status, false),
                RenewalKind::Expiry,
                "{status}"
            );
        }
    }
}
