//! Seats back in time, read from the daily snapshots a sync keeps of every SKU of its provider
//! (`license_snapshots`, one row per SKU and day; a second sync on a day overwrites the first):
//! one provider's SKUs as they were on a day, and one SKU's trend over a range of days.

use chrono::{Datelike, Duration, Months, NaiveDate};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::licenses::{self, LicenseSku};
use super::validation::Validator;
use crate::entities::license_snapshots::{self as snapshots, Column};
use crate::error::{Error, Result};

/// Points one trend may hold: a year and a month of days, or 33 years of months. Beyond it a
/// chart has more points than pixels.
pub const MAX_TREND_POINTS: usize = 400;

/// The seats of one SKU on one day, as that day's sync (or the last one before it) saw them.
#[derive(Clone, Debug)]
pub struct Seats {
    /// The day of the snapshot the figures come from.
    pub day: NaiveDate,
    pub enabled_units: i64,
    pub consumed_units: i64,
}

impl Seats {
    pub fn available_units(&self) -> i64 {
        self.enabled_units - self.consumed_units
    }
}

impl From<&snapshots::Model> for Seats {
    fn from(row: &snapshots::Model) -> Self {
        Self {
            day: row.day,
            enabled_units: row.enabled_units,
            consumed_units: row.consumed_units,
        }
    }
}

/// A SKU (its names and price as they are today) with its seats on an earlier day.
#[derive(Clone, Debug)]
pub struct SkuSeats {
    pub sku: LicenseSku,
    pub seats: Seats,
}

/// A date the caller may ask about: not in the future, which no snapshot can describe yet.
fn not_in_future(date: NaiveDate, today: NaiveDate) -> std::result::Result<NaiveDate, String> {
    if date > today {
        Err(format!("is in the future (today is {today}, UTC)"))
    } else {
        Ok(date)
    }
}

/// The SKUs of one provider with their seats on `as_of`: each SKU's snapshot of that day, or its
/// last one before it. Every sync snapshots every SKU of its provider, so that is the provider's
/// last sync on or before the day; a SKU without any snapshot by then did not exist yet and is
/// left out. A day before the provider's first snapshot is refused, naming that first day.
pub async fn skus_as_of(
    db: &DatabaseConnection,
    provider_id: i64,
    as_of: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<SkuSeats>> {
    not_in_future(as_of, today).map_err(|message| Error::invalid("date", message))?;
    let first = snapshots::Entity::find()
        .filter(Column::ProviderId.eq(provider_id))
        .order_by_asc(Column::Day)
        .one(db)
        .await?;
    match first {
        None => {
            return Err(Error::invalid(
                "date",
                "this provider has no snapshot yet: its first sync takes one",
            ));
        }
        Some(first) if as_of < first.day => {
            return Err(Error::invalid(
                "date",
                format!(
                    "is before this provider's first snapshot, {}; ask about that day or later",
                    first.day
                ),
            ));
        }
        Some(_) => {}
    }
    // Scoped: its `min` and `max` would shadow `Ord`'s for dates elsewhere in this module.
    use sea_orm::sea_query::ExprTrait;
    // Each SKU's last day on or before `as_of`, compared inside the statement: one range scan
    // of the (SKU, day) index per SKU, and no date aggregate for an engine to decode.
    let earlier = Alias::new("earlier");
    let last_day = Query::select()
        .expr(Func::max(Expr::col((earlier.clone(), Column::Day))))
        .from_as(snapshots::Entity, earlier.clone())
        .and_where(
            Expr::col((earlier.clone(), Column::LicenseSkuId))
                .equals((snapshots::Entity, Column::LicenseSkuId)),
        )
        .and_where(Expr::col((earlier, Column::Day)).lte(as_of))
        .to_owned();
    let rows = snapshots::Entity::find()
        .filter(Column::ProviderId.eq(provider_id))
        .filter(Expr::col((snapshots::Entity, Column::Day)).in_subquery(last_day))
        .all(db)
        .await?;
    let sku_ids: Vec<i64> = rows.iter().map(|row| row.license_sku_id).collect();
    let mut skus = licenses::skus_by_ids(db, &sku_ids).await?;
    let mut found: Vec<SkuSeats> = rows
        .iter()
        .filter_map(|row| {
            // A SKU deleted since takes its snapshots with it (cascade); one read between the
            // two statements is simply not there.
            skus.remove(&row.license_sku_id).map(|sku| SkuSeats {
                sku,
                seats: Seats::from(row),
            })
        })
        .collect();
    // The order of `licenseSkus`: by friendly name.
    found.sort_by(|a, b| {
        (a.sku.display_name.as_str(), a.sku.id).cmp(&(b.sku.display_name.as_str(), b.sku.id))
    });
    Ok(found)
}

/// How long one point of a trend is. Weeks start on Monday and months on the 1st (UTC), so
/// that the points of two ranges line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
}

impl Interval {
    /// The first day of the calendar bucket holding `day`.
    fn bucket_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Interval::Day => day,
            Interval::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Interval::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first day of the next bucket; `None` past the end of the calendar.
    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Interval::Day => start.succ_opt(),
            Interval::Week => start.checked_add_signed(Duration::days(7)),
            Interval::Month => start.checked_add_months(Months::new(1)),
        }
    }
}

/// One point of a trend: the days it covers within the range asked for and, when any sync ran
/// in them, the seats of the last of those days. `seats: None` is a gap: nothing is known of
/// those days, which is not the same as zero seats.
#[derive(Clone, Debug)]
pub struct TrendPoint {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub seats: Option<Seats>,
}

pub struct Trend {
    pub sku: LicenseSku,
    pub points: Vec<TrendPoint>,
}

impl Trend {
    /// What the consumed seats of a point cost per month at today's unit price, unrounded;
    /// `None` for a gap or an unpriced SKU. No price history is kept: an old point is priced
    /// as the seat is priced now.
    pub fn monthly_cost(&self, point: &TrendPoint) -> Option<(String, Decimal)> {
        let seats = point.seats.as_ref()?;
        self.sku.monthly_cost(seats.consumed_units)
    }
}

/// The buckets of `from..=to`, clipped to it; refused when there would be more than
/// [`MAX_TREND_POINTS`].
fn buckets(
    from: NaiveDate,
    to: NaiveDate,
    interval: Interval,
) -> std::result::Result<Vec<(NaiveDate, NaiveDate)>, String> {
    let mut buckets = Vec::new();
    let mut start = interval.bucket_of(from);
    while start <= to {
        if buckets.len() == MAX_TREND_POINTS {
            return Err(format!(
                "the range holds more than {MAX_TREND_POINTS} points of this interval; \
                 shorten it or choose a longer interval"
            ));
        }
        let next = interval.next(start);
        let end = next.and_then(|next| next.pred_opt()).unwrap_or(to).min(to);
        buckets.push((start.max(from), end));
        match next {
            Some(next) => start = next,
            None => break,
        }
    }
    Ok(buckets)
}

/// One SKU's seats over `from..=to`, a point per day, week or month: each point holds the last
/// snapshot within it, or nothing (a gap). `None` when there is no SKU with this id.
pub async fn sku_trend(
    db: &DatabaseConnection,
    sku_row_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    interval: Interval,
    today: NaiveDate,
) -> Result<Option<Trend>> {
    let mut validator = Validator::default();
    validator.check("from", not_in_future(from, today));
    let to = validator.check("to", not_in_future(to, today));
    let buckets = match to {
        Some(to) if to < from => {
            validator.check::<()>("to", Err("is before from".into()));
            None
        }
        Some(to) => validator.check("to", buckets(from, to, interval)),
        None => None,
    };
    validator.finish()?;
    let (Some(to), Some(buckets)) = (to, buckets) else {
        unreachable!("the validator refuses missing fields");
    };
    let Some(sku) = licenses::skus_by_ids(db, &[sku_row_id])
        .await?
        .remove(&sku_row_id)
    else {
        return Ok(None);
    };
    let rows = snapshots::Entity::find()
        .filter(Column::LicenseSkuId.eq(sku_row_id))
        .filter(Column::Day.gte(from))
        .filter(Column::Day.lte(to))
        .order_by_asc(Column::Day)
        .all(db)
        .await?;
    let mut rows = rows.iter().peekable();
    let points = buckets
        .into_iter()
        .map(|(start, end)| {
            let mut last = None;
            while let Some(row) = rows.next_if(|row| row.day <= end) {
                last = Some(Seats::from(row));
            }
            TrendPoint {
                start,
                end,
                seats: last,
            }
        })
        .collect();
    Ok(Some(Trend { sku, points }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first_clipped_to_the_range() {
        // 2025-01-01 is a Wednesday.
        let weeks = buckets(day("2025-01-01"), day("2025-01-15"), Interval::Week).expect("ok");
        assert_eq!(
            weeks,
            [
                (day("2025-01-01"), day("2025-01-05")),
                (day("2025-01-06"), day("2025-01-12")),
                (day("2025-01-13"), day("2025-01-15")),
            ]
        );
        let months = buckets(day("2024-01-31"), day("2024-03-02"), Interval::Month).expect("ok");
        assert_eq!(
            months,
            [
                (day("2024-01-31"), day("2024-01-31")),
                (day("2024-02-01"), day("2024-02-29")),
                (day("2024-03-01"), day("2024-03-02")),
            ]
        );
    }

    #[test]
    fn a_range_of_more_points_than_the_limit_is_refused() {
        let from = day("2024-01-01");
        let last = from + Duration::days(MAX_TREND_POINTS as i64 - 1);
        assert_eq!(
            buckets(from, last, Interval::Day).expect("ok").len(),
            MAX_TREND_POINTS
        );
        let refused = buckets(from, last + Duration::days(1), Interval::Day);
        assert!(refused.expect_err("too many").contains("400"));
    }
}
