//! Eight days of a tenant's life, played against graph-sim with the sync's clock set to each
//! day: licenses added and removed, seats bought, an account disabled and enabled again, a user
//! deleted and restored, a license moved from direct to group and back out, a newcomer — seen
//! by incremental rounds and full listings, two syncs on one day, and days without any. Each
//! day's events are exactly that day's changes, `licenseSkusAsOf` shows each day the seats
//! Graph had after its last sync, and `skuTrend` draws the same seats with gaps for the days
//! nothing ran. Renewals of the tenant's subscriptions then recommend the month's peak plus the
//! buffer.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use common::fixtures::gql;
use common::graph::tenant;
use common::{Engine, Options, TestApp, error_code};
use graph_sim::{Group, NewUser, SimServer, User};
use license_manager::auth::Role;
use license_manager::sync::clock::Clock;
use sea_orm::prelude::Uuid;
use serde_json::{Value, json};

/// Day `n` of the month: day 1 is the Monday three to four weeks ago, so that the first seven
/// days are one week of `skuTrend(interval: WEEK)` and every day is within renewals' look-back.
fn day(n: i64) -> NaiveDate {
    let weeks_ago = Utc::now().date_naive() - Duration::days(21);
    let monday = weeks_ago - Duration::days(i64::from(weeks_ago.weekday().num_days_from_monday()));
    monday + Duration::days(n - 1)
}

/// Seats by SKU part number: (enabled, consumed).
type Seats = BTreeMap<String, (i64, i64)>;

/// (UPN, kind, SKU GUID) of one event.
type Seen = (String, String, Option<Uuid>);

struct Month {
    sim: SimServer,
    app: TestApp,
    provider: String,
    now: Arc<Mutex<DateTime<Utc>>>,
    /// Graph's seats right after each day's last sync.
    synced: BTreeMap<NaiveDate, Seats>,
}

impl Month {
    async fn start(engine: Engine) -> Self {
        let sim = tenant(40, 31).await;
        let now = Arc::new(Mutex::new(Utc::now()));
        let mut options = Options::with_graph(sim.base_url());
        let clock_now = now.clone();
        let sync = options.sync.get_or_insert_with(Default::default);
        sync.clock = Clock::from_fn(move || *clock_now.lock().expect("the test's clock"));
        let app = TestApp::spawn_with(engine, options).await;
        let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
        Self {
            sim,
            app,
            provider,
            now,
            synced: BTreeMap::new(),
        }
    }

    /// Syncs on `day` at `hour` and checks the events it recorded are exactly `expected`.
    async fn sync(&mut self, on: NaiveDate, hour: u32, mode: &str, mut expected: Vec<Seen>) {
        let at = on.and_hms_opt(hour, 0, 0).expect("an hour").and_utc();
        *self.now.lock().expect("the test's clock") = at;
        let run = self.app.sync(&self.provider, mode).await;
        assert_eq!(run["status"], "SUCCEEDED", "{run}");
        self.synced.insert(on, graph_seats(&self.sim));
        let mut seen = self.events_at(at).await;
        seen.sort();
        expected.sort();
        assert_eq!(seen, expected, "the events of {on} {hour}:00 ({mode})");
    }

    async fn events_at(&self, at: DateTime<Utc>) -> Vec<Seen> {
        let found = gql(
            &self.app,
            Role::Viewer,
            "query($at: DateTime!, $next: DateTime!) {
                licenseEvents(first: 100, filter: { from: $at, to: $next }) {
                    nodes { userPrincipalName kind skuId } } }",
            json!({ "at": at, "next": at + Duration::seconds(1) }),
        )
        .await;
        assert!(found.get("errors").is_none(), "{found}");
        let guids = self.app.sku_guids().await;
        found["data"]["licenseEvents"]["nodes"]
            .as_array()
            .expect("events")
            .iter()
            .map(|node| {
                (
                    node["userPrincipalName"]
                        .as_str()
                        .expect("a UPN")
                        .to_owned(),
                    node["kind"].as_str().expect("a kind").to_owned(),
                    node["skuId"].as_str().map(|id| guids[id]),
                )
            })
            .collect()
    }

    async fn as_of(&self, on: NaiveDate) -> (Seats, Vec<String>) {
        let found = gql(
            &self.app,
            Role::Viewer,
            "query($p: ID!, $d: NaiveDate!) { licenseSkusAsOf(providerId: $p, date: $d) {
                sku { skuPartNumber } snapshotDay enabledUnits consumedUnits } }",
            json!({ "p": self.provider, "d": on }),
        )
        .await;
        assert!(found.get("errors").is_none(), "{found}");
        let rows = found["data"]["licenseSkusAsOf"].as_array().expect("SKUs");
        let seats = rows
            .iter()
            .map(|row| {
                let count = |field: &str| row[field].as_i64().expect("a count");
                (
                    part(&row["sku"]["skuPartNumber"]),
                    (count("enabledUnits"), count("consumedUnits")),
                )
            })
            .collect();
        let mut days: Vec<String> = rows.iter().map(|row| part(&row["snapshotDay"])).collect();
        days.dedup();
        (seats, days)
    }

    /// The product's id of the SKU with this part number.
    async fn sku_id(&self, part_number: &str) -> String {
        let found = gql(
            &self.app,
            Role::Viewer,
            "{ licenseSkus { id skuPartNumber } }",
            json!({}),
        )
        .await;
        found["data"]["licenseSkus"]
            .as_array()
            .expect("SKUs")
            .iter()
            .find(|sku| sku["skuPartNumber"] == part_number)
            .map(|sku| part(&sku["id"]))
            .expect("the SKU is synced")
    }

    async fn trend(&self, sku: &str, interval: &str) -> Vec<Value> {
        let found = gql(
            &self.app,
            Role::Viewer,
            "query($s: ID!, $from: NaiveDate!, $to: NaiveDate!, $i: TrendInterval!) {
                skuTrend(skuId: $s, from: $from, to: $to, interval: $i) {
                    points { start end snapshotDay enabledUnits consumedUnits } } }",
            json!({ "s": self.sku_id(sku).await, "from": day(1), "to": day(8), "i": interval }),
        )
        .await;
        assert!(found.get("errors").is_none(), "{found}");
        found["data"]["skuTrend"]["points"]
            .as_array()
            .expect("points")
            .clone()
    }

    fn part_of(&self, sku_id: Uuid) -> String {
        self.sim
            .skus()
            .into_iter()
            .find(|sku| sku.sku_id == sku_id)
            .map(|sku| sku.sku_part_number)
            .expect("a SKU of the tenant")
    }
}

fn event(user: &User, kind: &str, sku: Option<Uuid>) -> Seen {
    (user.user_principal_name.clone(), kind.to_owned(), sku)
}

fn part(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}

/// Graph's seats of each SKU: the subscribed ones, and those users hold without a
/// subscription (none paid for, none counted as used), which the product lists as well.
fn graph_seats(sim: &SimServer) -> Seats {
    let mut seats: Seats = sim
        .users()
        .iter()
        .flat_map(|user| &user.assigned_licenses)
        .filter_map(|license| graph_sim::catalog_sku(license.sku_id))
        .map(|sku| (sku.sku_part_number.clone(), (0, 0)))
        .collect();
    for sku in sim.subscribed_skus() {
        seats.insert(
            sku.sku_part_number,
            (
                i64::from(sku.prepaid_units.enabled),
                i64::from(sku.consumed_units),
            ),
        );
    }
    seats
}

/// The group whose members are set by hand and that assigns a license.
fn licensing_group(sim: &SimServer) -> Group {
    sim.groups()
        .into_iter()
        .find(|group| {
            group.membership_rule.is_none()
                && group.on_premises_sync_enabled != Some(true)
                && !group.assigned_licenses.is_empty()
        })
        .expect("an assigned licensing group")
}

/// Enabled users holding only direct licenses, none of `avoid`.
fn direct_holders(sim: &SimServer, avoid: Uuid) -> Vec<User> {
    sim.users()
        .into_iter()
        .filter(|user| {
            user.account_enabled
                && !user.assigned_licenses.is_empty()
                && user
                    .license_assignment_states
                    .iter()
                    .all(|state| state.assigned_by_group.is_none() && state.state == "Active")
                && !user.holds_sku(avoid)
        })
        .collect()
}

async fn a_month_of_syncs_shows_each_days_seats_and_changes(engine: Engine) {
    let mut month = Month::start(engine).await;
    let group = licensing_group(&month.sim);
    let grouped = group.assigned_licenses[0].sku_id;
    let users = direct_holders(&month.sim, grouped);
    let [added, removed, mover, disabled, deleted, evening, ..] = &users[..] else {
        panic!("six users holding direct licenses: {}", users.len());
    };
    let bought = added.assigned_licenses[0].sku_id;
    let unheld = month
        .sim
        .skus()
        .into_iter()
        .find(|sku| {
            sku.sku_id != grouped && !added.holds_sku(sku.sku_id) && !evening.holds_sku(sku.sku_id)
        })
        .expect("a SKU two users lack")
        .sku_id;

    // Day 1: the first full sync is the baseline.
    month.sync(day(1), 9, "FULL", vec![]).await;

    // Day 2: a license each way, three seats bought, the mover given the group's SKU directly.
    let sim = &month.sim;
    sim.assign_license(added.id, unheld, Vec::new())
        .expect("added");
    let gone = removed.assigned_licenses[0].sku_id;
    sim.remove_license(removed.id, gone).expect("removed");
    sim.assign_license(mover.id, grouped, Vec::new())
        .expect("given");
    let enabled = graph_seats(sim)[&month.part_of(bought)].0;
    sim.set_sku_seats(bought, i32::try_from(enabled + 3).expect("seats"))
        .expect("bought");
    let expected = vec![
        event(added, "LICENSE_ADDED", Some(unheld)),
        event(removed, "LICENSE_REMOVED", Some(gone)),
        event(mover, "LICENSE_ADDED", Some(grouped)),
    ];
    month.sync(day(2), 9, "DELTA", expected).await;

    // Day 3: an account is disabled; nothing syncs until day 4.
    month.sim.disable_user(disabled.id).expect("disabled");

    // Day 4, morning: a full listing sees the disabled account, and learns how the mover's
    // new license is assigned (directly: nothing changed, no event). The mover then joins the
    // group; an evening round sees another license but not the join (a round does not carry
    // how a license is assigned). The day keeps the evening's seats.
    let expected = vec![event(disabled, "USER_DISABLED", None)];
    month.sync(day(4), 8, "FULL", expected).await;
    let morning = month.synced[&day(4)].clone();
    let sim = &month.sim;
    sim.add_group_member(group.id, mover.id).expect("joined");
    sim.assign_license(evening.id, unheld, Vec::new())
        .expect("added in the evening");
    let expected = vec![event(evening, "LICENSE_ADDED", Some(unheld))];
    month.sync(day(4), 18, "DELTA", expected).await;
    assert_ne!(
        month.synced[&day(4)],
        morning,
        "a seat more in use by the evening"
    );

    // Day 5, morning: a user is deleted, the disabled account is enabled again; a round.
    // Evening: a full listing tells the mover's license now comes from the group too. Then
    // the mover's direct copy goes (the group's stays: no license lost).
    let sim = &month.sim;
    sim.soft_delete_user(deleted.id).expect("deleted");
    sim.set_account_enabled(disabled.id, true).expect("enabled");
    let expected = vec![
        event(deleted, "USER_REMOVED", None),
        event(disabled, "USER_ENABLED", None),
    ];
    month.sync(day(5), 9, "DELTA", expected).await;
    let expected = vec![event(mover, "SOURCE_CHANGED", Some(grouped))];
    month.sync(day(5), 18, "FULL", expected).await;
    month
        .sim
        .remove_direct_license(mover.id, grouped)
        .expect("direct copy removed");

    // Day 6: the deleted user is restored with its licenses; a full listing, which also tells
    // that the mover's license comes from the group alone now.
    month.sim.restore_user(deleted.id).expect("restored");
    let mut expected = vec![
        event(deleted, "USER_RESTORED", None),
        event(mover, "SOURCE_CHANGED", Some(grouped)),
    ];
    expected.extend(
        deleted
            .assigned_licenses
            .iter()
            .map(|license| event(deleted, "LICENSE_ADDED", Some(license.sku_id))),
    );
    month.sync(day(6), 9, "FULL", expected).await;

    // Day 7: nothing syncs. Day 8: the mover leaves the group and loses the license; a
    // newcomer arrives licensed.
    let sim = &month.sim;
    sim.remove_group_member(group.id, mover.id).expect("left");
    let newcomer = sim
        .add_user(NewUser {
            usage_location: Some("US".into()),
            assigned_licenses: vec![graph_sim::AssignedLicense {
                disabled_plans: Vec::new(),
                sku_id: bought,
            }],
            ..NewUser::named("Day Eight")
        })
        .expect("created");
    let expected = vec![
        event(mover, "LICENSE_REMOVED", Some(grouped)),
        event(&newcomer, "USER_CREATED", None),
        event(&newcomer, "LICENSE_ADDED", Some(bought)),
    ];
    month.sync(day(8), 9, "DELTA", expected).await;

    // Each day's seats are those of its last sync, or of the last day before it that synced.
    for n in 1..=8 {
        let last_synced = (1..=n)
            .rev()
            .map(day)
            .find(|on| month.synced.contains_key(on))
            .expect("day 1 synced");
        let (seats, days) = month.as_of(day(n)).await;
        assert_eq!(seats, month.synced[&last_synced], "seats as of day {n}");
        assert_eq!(days, [last_synced.to_string()], "snapshot of day {n}");
    }
    let before = gql(
        &month.app,
        Role::Viewer,
        "query($p: ID!, $d: NaiveDate!) { licenseSkusAsOf(providerId: $p, date: $d) { snapshotDay } }",
        json!({ "p": month.provider, "d": day(0) }),
    )
    .await;
    assert_eq!(error_code(&before), "BAD_USER_INPUT", "{before}");

    // The trend of the SKU bought on day 2 and given on day 8: a point per synced day, gaps on
    // days 3 and 7.
    let bought_part = month.part_of(bought);
    let expected_point = |n: i64| {
        let on = day(n);
        match month.synced.get(&on) {
            Some(seats) => {
                let (enabled, consumed) = seats[&bought_part];
                json!({ "start": on, "end": on, "snapshotDay": on,
                        "enabledUnits": enabled, "consumedUnits": consumed })
            }
            None => json!({ "start": on, "end": on, "snapshotDay": null,
                            "enabledUnits": null, "consumedUnits": null }),
        }
    };
    let daily = month.trend(&bought_part, "DAY").await;
    assert_eq!(daily, (1..=8).map(expected_point).collect::<Vec<_>>());
    assert_eq!(daily[2]["enabledUnits"], Value::Null, "no sync on day 3");
    assert_ne!(
        daily[0]["enabledUnits"], daily[1]["enabledUnits"],
        "the seats bought on day 2"
    );
    // By week: the first holds day 6's seats (its last sync), the second day 8's.
    let weekly = month.trend(&bought_part, "WEEK").await;
    let week_point = |start: i64, end: i64, synced: i64| {
        let mut point = expected_point(synced);
        point["start"] = json!(day(start));
        point["end"] = json!(day(end));
        point
    };
    assert_eq!(weekly, [week_point(1, 7, 6), week_point(8, 8, 8)]);

    // Every subscription of the tenant renews within a year: each is recommended its SKU's
    // peak of the month (the snapshots) plus 10 %, never below today's consumption.
    let found = gql(
        &month.app,
        Role::Viewer,
        "{ renewals(withinDays: 365, lookbackDays: 90) {
            subscription { commerceSubscriptionId } sku { skuPartNumber } kind seatsToday
            consumedToday peakConsumed recommendedSeats seatDifference } }",
        json!({}),
    )
    .await;
    assert!(found.get("errors").is_none(), "{found}");
    let mut renewals = found["data"]["renewals"]
        .as_array()
        .expect("renewals")
        .clone();
    renewals.sort_by_key(|renewal| renewal["subscription"]["commerceSubscriptionId"].to_string());
    let mut subscriptions = month.sim.subscriptions();
    subscriptions.sort_by_key(|subscription| subscription.commerce_subscription_id.to_string());
    let expected: Vec<Value> = subscriptions
        .iter()
        .map(|subscription| {
            let part = &subscription.sku_part_number;
            let consumed_today = month.synced[&day(8)][part].1;
            let peak = month
                .synced
                .values()
                .map(|seats| seats[part].1)
                .max()
                .expect("days");
            let recommended = ((peak * 110 + 99) / 100).max(consumed_today);
            let seats = i64::from(subscription.total_licenses);
            json!({
                "subscription": { "commerceSubscriptionId": subscription.commerce_subscription_id },
                "sku": { "skuPartNumber": part },
                "kind": if subscription.status == "Enabled" { "RENEWAL" } else { "EXPIRY" },
                "seatsToday": seats, "consumedToday": consumed_today, "peakConsumed": peak,
                "recommendedSeats": recommended, "seatDifference": recommended - seats,
            })
        })
        .collect();
    assert!(
        expected
            .iter()
            .any(|renewal| renewal["peakConsumed"] != renewal["consumedToday"]),
        "a SKU whose month peaked above today: the license removed on day 2"
    );
    assert_eq!(renewals, expected);

    month.app.finish().await;
}

engine_tests!(a_month_of_syncs_shows_each_days_seats_and_changes);
