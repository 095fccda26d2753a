//! Seats back in time and renewals, from daily snapshots inserted for known days: a provider's
//! SKUs as of a day, a SKU's trend with its gaps, and the seats recommended for subscriptions
//! coming to their next lifecycle date. A viewer reads all of it.

use crate::common;

use chrono::{Duration, NaiveDate, Utc};
use common::fixtures::{self, ENTERPRISEPACK, POWER_BI_PRO, SPE_E3, SPE_E5, data, gql};
use common::{Engine, Options, TestApp, error_code};
use license_manager::auth::Role;
use license_manager::domain::renewals::RenewalSettings;
use serde_json::{Value, json};

fn ago(days: i64) -> NaiveDate {
    Utc::now().date_naive() - Duration::days(days)
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

const AS_OF: &str = "query($provider: ID!, $date: NaiveDate!) {
    licenseSkusAsOf(providerId: $provider, date: $date) {
        sku { skuPartNumber enabledUnits } snapshotDay enabledUnits consumedUnits availableUnits
    } }";

/// Each SKU as `licenseSkusAsOf` shows it: part number, snapshot day, enabled, consumed.
async fn as_of(app: &TestApp, provider: i64, day: NaiveDate) -> Vec<(String, String, i64, i64)> {
    let found = data(
        app,
        AS_OF,
        json!({ "provider": provider.to_string(), "date": day }),
    )
    .await;
    found["licenseSkusAsOf"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|seats| {
            assert_eq!(
                seats["availableUnits"],
                json!(
                    seats["enabledUnits"].as_i64().expect("a count")
                        - seats["consumedUnits"].as_i64().expect("a count")
                )
            );
            (
                seats["sku"]["skuPartNumber"]
                    .as_str()
                    .expect("a name")
                    .to_owned(),
                seats["snapshotDay"].as_str().expect("a day").to_owned(),
                seats["enabledUnits"].as_i64().expect("a count"),
                seats["consumedUnits"].as_i64().expect("a count"),
            )
        })
        .collect()
}

fn row(part: &str, day: NaiveDate, enabled: i64, consumed: i64) -> (String, String, i64, i64) {
    (part.to_owned(), day.to_string(), enabled, consumed)
}

async fn skus_as_of_a_day_show_that_days_seats_or_the_last_before(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", None).await;
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (30, 25, 0, 0, 0)).await;
    let e3 = fixtures::sku(&db, contoso, SPE_E3, (10, 8, 0, 0, 0)).await;
    for (day, seats) in [(10, (20, 15)), (7, (22, 18)), (5, (25, 20))] {
        fixtures::snapshot(&db, contoso, e5, ago(day), seats).await;
    }
    // E3 was bought later: it has no snapshot before day 7.
    for (day, seats) in [(7, (10, 5)), (5, (10, 6))] {
        fixtures::snapshot(&db, contoso, e3, ago(day), seats).await;
    }
    // Another provider's longer history moves nothing of Contoso's.
    let other = fixtures::provider(&db, "Fabrikam", None).await;
    let other_sku = fixtures::sku(&db, other, ENTERPRISEPACK, (5, 5, 0, 0, 0)).await;
    fixtures::snapshot(&db, other, other_sku, ago(30), (5, 5)).await;

    assert_eq!(
        as_of(&app, contoso, ago(10)).await,
        [row("SPE_E5", ago(10), 20, 15)]
    );
    // No sync on days 9 and 8: the seats of day 10; E3 did not exist yet.
    assert_eq!(
        as_of(&app, contoso, ago(8)).await,
        [row("SPE_E5", ago(10), 20, 15)]
    );
    assert_eq!(
        as_of(&app, contoso, ago(6)).await,
        [row("SPE_E3", ago(7), 10, 5), row("SPE_E5", ago(7), 22, 18)]
    );
    // Today, without a sync since day 5: day 5's seats, not the SKUs' current counts.
    assert_eq!(
        as_of(&app, contoso, ago(0)).await,
        [row("SPE_E3", ago(5), 10, 6), row("SPE_E5", ago(5), 25, 20)]
    );

    let refused = |day: NaiveDate, provider: i64| {
        let app = &app;
        async move {
            gql(
                app,
                Role::Viewer,
                AS_OF,
                json!({ "provider": provider.to_string(), "date": day }),
            )
            .await
        }
    };
    let before = refused(ago(11), contoso).await;
    assert_eq!(error_code(&before), "BAD_USER_INPUT", "{before}");
    let message = before["errors"][0]["message"].as_str().expect("a message");
    assert!(
        message.contains(&ago(10).to_string()),
        "names the first day: {message}"
    );
    let future = refused(ago(-1), contoso).await;
    assert_eq!(error_code(&future), "BAD_USER_INPUT", "{future}");
    let without_history = fixtures::provider(&db, "Tailspin", None).await;
    let none = refused(ago(0), without_history).await;
    assert_eq!(error_code(&none), "BAD_USER_INPUT", "{none}");

    // Without a date, licenseSkus shows today's counts as before.
    let today = data(
        &app,
        "query($p: ID) { licenseSkus(providerId: $p) { skuPartNumber enabledUnits consumedUnits } }",
        json!({ "p": contoso.to_string() }),
    )
    .await;
    assert_eq!(
        today["licenseSkus"],
        json!([
            { "skuPartNumber": "SPE_E3", "enabledUnits": 10, "consumedUnits": 8 },
            { "skuPartNumber": "SPE_E5", "enabledUnits": 30, "consumedUnits": 25 },
        ])
    );
}

const TREND: &str =
    "query($sku: ID!, $from: NaiveDate!, $to: NaiveDate!, $interval: TrendInterval!) {
    skuTrend(skuId: $sku, from: $from, to: $to, interval: $interval) {
        sku { skuPartNumber }
        points { start end snapshotDay enabledUnits consumedUnits availableUnits
                 monthlyCost { amount currency } }
    } }";

async fn trend(app: &TestApp, sku: i64, from: &str, to: &str, interval: &str) -> Value {
    gql(
        app,
        Role::Viewer,
        TREND,
        json!({ "sku": sku.to_string(), "from": from, "to": to, "interval": interval }),
    )
    .await
}

/// A point holding a snapshot, at 12 EUR a seat a month.
fn point(start: &str, end: &str, day: &str, enabled: i64, consumed: i64) -> Value {
    json!({ "start": start, "end": end, "snapshotDay": day,
            "enabledUnits": enabled, "consumedUnits": consumed,
            "availableUnits": enabled - consumed,
            "monthlyCost": { "amount": format!("{}.00", consumed * 12), "currency": "EUR" } })
}

fn gap(start: &str, end: &str) -> Value {
    json!({ "start": start, "end": end, "snapshotDay": null, "enabledUnits": null,
            "consumedUnits": null, "availableUnits": null, "monthlyCost": null })
}

async fn a_trend_has_a_point_per_interval_and_gaps_where_no_sync_ran(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", None).await;
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (30, 25, 0, 0, 0)).await;
    fixtures::price(&app, e5, "12", "EUR", "MONTH").await;
    // Wednesday 8 January 2025 onwards; no sync from the 12th to the 19th, nor in February.
    for (day, seats) in [
        ("2025-01-08", (10, 4)),
        ("2025-01-10", (10, 5)),
        ("2025-01-11", (12, 6)),
        ("2025-01-20", (12, 7)),
        ("2025-03-05", (15, 9)),
    ] {
        fixtures::snapshot(&db, contoso, e5, date(day), seats).await;
    }

    let days = trend(&app, e5, "2025-01-09", "2025-01-12", "DAY").await;
    assert!(days.get("errors").is_none(), "{days}");
    assert_eq!(days["data"]["skuTrend"]["sku"]["skuPartNumber"], "SPE_E5");
    assert_eq!(
        days["data"]["skuTrend"]["points"],
        json!([
            gap("2025-01-09", "2025-01-09"),
            point("2025-01-10", "2025-01-10", "2025-01-10", 10, 5),
            point("2025-01-11", "2025-01-11", "2025-01-11", 12, 6),
            gap("2025-01-12", "2025-01-12"),
        ])
    );

    // Weeks from Monday, clipped to the range; each holds its last snapshot.
    let weeks = trend(&app, e5, "2025-01-08", "2025-01-21", "WEEK").await;
    assert_eq!(
        weeks["data"]["skuTrend"]["points"],
        json!([
            point("2025-01-08", "2025-01-12", "2025-01-11", 12, 6),
            gap("2025-01-13", "2025-01-19"),
            point("2025-01-20", "2025-01-21", "2025-01-20", 12, 7),
        ])
    );

    let months = trend(&app, e5, "2025-01-01", "2025-03-31", "MONTH").await;
    assert_eq!(
        months["data"]["skuTrend"]["points"],
        json!([
            point("2025-01-01", "2025-01-31", "2025-01-20", 12, 7),
            gap("2025-02-01", "2025-02-28"),
            point("2025-03-01", "2025-03-31", "2025-03-05", 15, 9),
        ])
    );

    // An unpriced SKU's points have seats but no cost.
    let e3 = fixtures::sku(&db, contoso, SPE_E3, (10, 5, 0, 0, 0)).await;
    fixtures::snapshot(&db, contoso, e3, date("2025-01-10"), (10, 5)).await;
    let unpriced = trend(&app, e3, "2025-01-10", "2025-01-10", "DAY").await;
    let unpriced = &unpriced["data"]["skuTrend"]["points"][0];
    assert_eq!(unpriced["consumedUnits"], 5);
    assert_eq!(unpriced["monthlyCost"], Value::Null);

    for (from, to, interval, says) in [
        ("2025-01-12", "2025-01-10", "DAY", "before from"),
        ("2024-01-01", "2025-02-04", "DAY", "400"),
    ] {
        let body = trend(&app, e5, from, to, interval).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(body.to_string().contains(says), "{body}");
    }
    // 400 days is the most a daily trend holds.
    let longest = trend(&app, e5, "2024-01-01", "2025-02-03", "DAY").await;
    assert_eq!(
        longest["data"]["skuTrend"]["points"]
            .as_array()
            .expect("points")
            .len(),
        400
    );
    let tomorrow = ago(-1).to_string();
    let future = trend(&app, e5, "2025-01-01", &tomorrow, "MONTH").await;
    assert_eq!(error_code(&future), "BAD_USER_INPUT", "{future}");
    let unknown = trend(&app, e5 + 1000, "2025-01-01", "2025-01-02", "DAY").await;
    assert_eq!(unknown["data"]["skuTrend"], Value::Null, "{unknown}");
}

const RENEWALS: &str = "query($within: Int!, $lookback: Int!) {
    renewals(withinDays: $within, lookbackDays: $lookback) {
        subscription { commerceSubscriptionId }
        provider { name } sku { skuPartNumber } kind status isTrial date seatsToday
        consumedToday peakConsumed recommendedSeats seatDifference
        costDifference { currency monthlyAmount yearlyAmount }
    } }";

async fn renewals(app: &TestApp, within: i64, lookback: i64) -> Vec<Value> {
    let found = data(
        app,
        RENEWALS,
        json!({ "within": within, "lookback": lookback }),
    )
    .await;
    found["renewals"].as_array().expect("a list").clone()
}

/// What a test reads of a renewal: the subscription, its kind, and the recommendation.
fn summary(renewal: &Value) -> Value {
    json!([
        renewal["subscription"]["commerceSubscriptionId"],
        renewal["kind"],
        renewal["seatsToday"],
        renewal["consumedToday"],
        renewal["peakConsumed"],
        renewal["recommendedSeats"],
        renewal["seatDifference"],
        renewal["costDifference"],
    ])
}

async fn renewals_recommend_the_peak_plus_the_buffer_never_below_today(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", None).await;
    let now = Utc::now();

    // E5: 40 consumed today, 45 at the peak of the last 90 days, 60 before them.
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (55, 40, 0, 0, 0)).await;
    fixtures::price(&app, e5, "10", "EUR", "MONTH").await;
    for (day, consumed) in [(100, 60), (30, 45), (1, 42)] {
        fixtures::snapshot(&db, contoso, e5, ago(day), (55, consumed)).await;
    }
    let paid = fixtures::subscription(&db, contoso, SPE_E5, "e5", "Enabled", 55, false).await;
    fixtures::renews_at(&db, paid, now + Duration::days(30)).await;

    // E3: 30 consumed today, more than any snapshot: today is the peak.
    let e3 = fixtures::sku(&db, contoso, SPE_E3, (40, 30, 0, 0, 0)).await;
    fixtures::price(&app, e3, "120", "USD", "YEAR").await;
    fixtures::snapshot(&db, contoso, e3, ago(10), (40, 20)).await;
    let warning = fixtures::subscription(&db, contoso, SPE_E3, "e3", "Warning", 40, false).await;
    fixtures::renews_at(&db, warning, now + Duration::days(60)).await;

    // A trial of Power BI Pro, unpriced, ending soonest.
    fixtures::sku(&db, contoso, POWER_BI_PRO, (25, 3, 0, 0, 0)).await;
    let trial =
        fixtures::subscription(&db, contoso, POWER_BI_PRO, "pbi", "Enabled", 25, true).await;
    fixtures::renews_at(&db, trial, now + Duration::days(10)).await;

    // Outside a 90-day window: one past, one too far ahead.
    let past = fixtures::subscription(&db, contoso, SPE_E5, "past", "Enabled", 5, false).await;
    fixtures::renews_at(&db, past, now - Duration::days(1)).await;
    let later = fixtures::subscription(&db, contoso, SPE_E5, "later", "Enabled", 5, false).await;
    fixtures::renews_at(&db, later, now + Duration::days(120)).await;

    let found = renewals(&app, 90, 90).await;
    assert_eq!(
        found.iter().map(summary).collect::<Vec<_>>(),
        [
            // 3 × 1.1 = 3.3 → 4; no price, no cost.
            json!(["commerce-pbi", "TRIAL_END", 25, 3, 3, 4, -21, null]),
            // 45 × 1.1 = 49.5 → 50: 5 seats fewer, 50 EUR a month, 600 a year.
            json!(["commerce-e5", "RENEWAL", 55, 40, 45, 50, -5,
                   { "currency": "EUR", "monthlyAmount": "-50.00", "yearlyAmount": "-600.00" }]),
            // Today's 30 is the peak: 33, 7 fewer at 10 USD a month.
            json!(["commerce-e3", "EXPIRY", 40, 30, 30, 33, -7,
                   { "currency": "USD", "monthlyAmount": "-70.00", "yearlyAmount": "-840.00" }]),
        ]
    );
    assert_eq!(found[0]["isTrial"], true);
    assert_eq!(found[0]["provider"]["name"], "Contoso");
    assert_eq!(found[1]["sku"]["skuPartNumber"], "SPE_E5");
    assert_eq!(found[2]["status"], "Warning");

    // A longer look-back reaches the old peak of 60: 66 seats, 11 more.
    let longer = renewals(&app, 90, 120).await;
    assert_eq!(
        summary(&longer[1]),
        json!(["commerce-e5", "RENEWAL", 55, 40, 60, 66, 11,
               { "currency": "EUR", "monthlyAmount": "110.00", "yearlyAmount": "1320.00" }])
    );
    // A longer window reaches the later subscription too, last.
    let wider = renewals(&app, 200, 90).await;
    assert_eq!(wider.len(), 4);
    assert_eq!(
        wider[3]["subscription"]["commerceSubscriptionId"],
        "commerce-later"
    );

    let refused = gql(
        &app,
        Role::Viewer,
        RENEWALS,
        json!({ "within": 0, "lookback": 731 }),
    )
    .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    let fields: Vec<&str> = refused["errors"][0]["extensions"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|field| field["field"].as_str())
        .collect();
    assert_eq!(fields, ["withinDays", "lookbackDays"]);
}

async fn the_buffer_is_configurable(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        Options {
            renewals: RenewalSettings { buffer_percent: 0 },
            ..Options::default()
        },
    )
    .await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", None).await;
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (55, 40, 0, 0, 0)).await;
    fixtures::snapshot(&db, contoso, e5, ago(30), (55, 45)).await;
    fixtures::subscription(&db, contoso, SPE_E5, "e5", "Enabled", 55, false).await;

    let found = renewals(&app, 90, 90).await;
    assert_eq!(
        summary(&found[0]),
        json!(["commerce-e5", "RENEWAL", 55, 40, 45, 45, -10, null])
    );
}

engine_tests!(
    skus_as_of_a_day_show_that_days_seats_or_the_last_before,
    a_trend_has_a_point_per_interval_and_gaps_where_no_sync_ran,
    renewals_recommend_the_peak_plus_the_buffer_never_below_today,
    the_buffer_is_configurable,
);
