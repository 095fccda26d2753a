//! Microsoft 365 tenants simulated by graph-sim, providers pointing at them, and the ground
//! truth a sync must reproduce.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use graph_sim::{SimOptions, SimServer, TenantSpec};
use license_manager::auth::Role;
use license_manager::entities::{
    directory_users, license_assignments, license_skus, subscriptions,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::TestApp;

pub async fn tenant(users: usize, seed: u64) -> SimServer {
    faulty_tenant(users, seed, graph_sim::FaultOptions::default()).await
}

/// A tenant whose every Graph request takes `latency`: a sync long enough to act on mid-way.
pub async fn slow_tenant(users: usize, seed: u64, latency: Duration) -> SimServer {
    let faults = graph_sim::FaultOptions {
        latency,
        ..Default::default()
    };
    faulty_tenant(users, seed, faults).await
}

/// A tenant whose Graph misbehaves as `faults` say.
pub async fn faulty_tenant(users: usize, seed: u64, faults: graph_sim::FaultOptions) -> SimServer {
    tenant_with(
        TenantSpec {
            users,
            seed,
            ..Default::default()
        },
        SimOptions {
            faults,
            ..SimOptions::default()
        },
    )
    .await
}

pub async fn tenant_with(spec: TenantSpec, options: SimOptions) -> SimServer {
    SimServer::start(spec, options)
        .await
        .expect("graph-sim starts")
}

impl TestApp {
    pub async fn admin(&self, query: &str, variables: Value) -> Value {
        let response = self
            .http
            .post(self.url("/graphql"))
            .bearer_auth(self.token(Role::Admin, "sync-test"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("answered");
        response.json().await.expect("JSON")
    }

    /// Creates a provider for the simulated tenant; returns its id.
    pub async fn connect_tenant(&self, sim: &SimServer, secret: &str) -> String {
        self.connect_tenant_in(sim, secret, "GLOBAL").await
    }

    /// As [`Self::connect_tenant`], for a tenant of the Microsoft cloud `cloud` (API name).
    pub async fn connect_tenant_in(&self, sim: &SimServer, secret: &str, cloud: &str) -> String {
        let body = self
            .admin(
                "mutation($input: CreateMicrosoftProviderInput!) {
                    createMicrosoftProvider(input: $input) { id } }",
                json!({ "input": {
                    "name": "Simulated tenant", "tenantId": sim.tenant_id().to_string(),
                    "clientId": sim.client_id().to_string(), "clientSecret": secret,
                    "cloud": cloud,
                }}),
            )
            .await;
        body["data"]["createMicrosoftProvider"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("provider created: {body}"))
            .to_owned()
    }

    /// Queues a sync; returns the run's id.
    pub async fn start_sync(&self, provider: &str, mode: &str) -> String {
        let body = self
            .admin(
                &format!(
                    r#"mutation {{ startSync(providerId: "{provider}", mode: {mode}) {{ id }} }}"#
                ),
                json!({}),
            )
            .await;
        body["data"]["startSync"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("sync queued: {body}"))
            .to_owned()
    }

    pub async fn sync_run(&self, run: &str) -> Value {
        let body = self
            .admin(
                &format!(
                    r#"{{ syncRun(id: "{run}") {{ id status mode effectiveMode pagesFetched usersSeen
                        usersCreated usersUpdated usersRemoved skusSynced
                        warnings {{ code message hint }} error {{ code message hint }} }} }}"#
                ),
                json!({}),
            )
            .await;
        body["data"]["syncRun"].clone()
    }

    /// Waits until the run satisfies `reached` (a sync under way, say), for up to 15 s.
    pub async fn wait_for_run(&self, run: &str, reached: impl Fn(&Value) -> bool) {
        for _ in 0..300 {
            if reached(&self.sync_run(run).await) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "sync run {run} never reached the awaited state: {}",
            self.sync_run(run).await
        )
    }

    /// Waits for a run to end and returns it.
    pub async fn finished(&self, run: &str) -> Value {
        for _ in 0..600 {
            let state = self.sync_run(run).await;
            if !matches!(state["status"].as_str(), Some("QUEUED" | "RUNNING")) {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "sync run {run} did not finish in 60 s: {}",
            self.sync_run(run).await
        )
    }

    /// Starts a sync and waits for it.
    pub async fn sync(&self, provider: &str, mode: &str) -> Value {
        let run = self.start_sync(provider, mode).await;
        self.finished(&run).await
    }
}

/// A user as both sides can tell it: the fields a sync stores, sign-in dates to the second.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UserView {
    pub id: String,
    pub upn: String,
    pub mail: Option<String>,
    pub name: Option<String>,
    pub enabled: bool,
    pub user_type: Option<String>,
    pub created: Option<i64>,
    pub sign_ins: [Option<i64>; 3],
    /// sku → (assigned directly, groups)
    pub licenses: BTreeMap<String, (bool, BTreeSet<String>)>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SkuView {
    pub sku_id: String,
    pub part_number: String,
    pub status: String,
    pub units: [i64; 5],
}

/// What the simulated tenant holds now, as a sync should store it.
pub fn truth(
    sim: &SimServer,
    with_sign_ins: bool,
) -> (Vec<UserView>, Vec<SkuView>, BTreeSet<String>) {
    let mut users: Vec<UserView> = sim
        .users()
        .into_iter()
        .map(|user| {
            let mut licenses = BTreeMap::new();
            for license in &user.assigned_licenses {
                let sku = license.sku_id.to_string();
                let states: Vec<_> = user
                    .license_assignment_states
                    .iter()
                    .filter(|state| state.sku_id == license.sku_id)
                    .collect();
                let groups: BTreeSet<String> = states
                    .iter()
                    .filter_map(|state| state.assigned_by_group.map(|g| g.to_string()))
                    .collect();
                let direct =
                    groups.is_empty() || states.iter().any(|s| s.assigned_by_group.is_none());
                licenses.insert(sku, (direct, groups));
            }
            let activity = user.sign_in_activity.clone().filter(|_| with_sign_ins);
            UserView {
                id: user.id.to_string(),
                upn: user.user_principal_name.clone(),
                mail: user.mail.clone(),
                name: user.display_name.clone(),
                enabled: user.account_enabled,
                user_type: Some(user.user_type.as_str().to_owned()),
                created: user.created_date_time.map(|at| at.timestamp()),
                sign_ins: [
                    activity
                        .as_ref()
                        .and_then(|a| a.last_sign_in_date_time)
                        .map(|at| at.timestamp()),
                    activity
                        .as_ref()
                        .and_then(|a| a.last_non_interactive_sign_in_date_time)
                        .map(|at| at.timestamp()),
                    activity
                        .as_ref()
                        .and_then(|a| a.last_successful_sign_in_date_time)
                        .map(|at| at.timestamp()),
                ],
                licenses,
            }
        })
        .collect();
    users.sort();
    let mut skus: Vec<SkuView> = sim
        .subscribed_skus()
        .into_iter()
        .map(|sku| SkuView {
            sku_id: sku.sku_id.to_string(),
            part_number: sku.sku_part_number.clone(),
            status: sku.capability_status.clone(),
            units: [
                sku.prepaid_units.enabled,
                sku.prepaid_units.suspended,
                sku.prepaid_units.warning,
                sku.prepaid_units.locked_out,
                sku.consumed_units,
            ]
            .map(i64::from),
        })
        .collect();
    skus.sort();
    let subscriptions = sim
        .subscriptions()
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    (users, skus, subscriptions)
}

/// What the database holds for the provider, in the same terms.
pub async fn stored(
    db: &DatabaseConnection,
    provider: i64,
) -> (Vec<UserView>, Vec<SkuView>, BTreeSet<String>) {
    let sku_rows = license_skus::Entity::find()
        .filter(license_skus::Column::ProviderId.eq(provider))
        .all(db)
        .await
        .expect("skus");
    let sku_ids: BTreeMap<i64, String> = sku_rows
        .iter()
        .map(|row| (row.id, row.sku_id.clone()))
        .collect();
    let assignments = license_assignments::Entity::find()
        .filter(license_assignments::Column::ProviderId.eq(provider))
        .all(db)
        .await
        .expect("assignments");
    let mut licenses: BTreeMap<i64, BTreeMap<String, (bool, BTreeSet<String>)>> = BTreeMap::new();
    for row in assignments {
        let groups: Vec<String> =
            serde_json::from_value(row.inherited_from_group_ids).expect("groups");
        licenses.entry(row.user_id).or_default().insert(
            sku_ids[&row.license_sku_id].clone(),
            (row.assigned_directly, groups.into_iter().collect()),
        );
    }
    let mut users: Vec<UserView> = directory_users::Entity::find()
        .filter(directory_users::Column::ProviderId.eq(provider))
        .filter(directory_users::Column::RemovedAt.is_null())
        .all(db)
        .await
        .expect("users")
        .into_iter()
        .map(|row| UserView {
            licenses: licenses.remove(&row.id).unwrap_or_default(),
            id: row.external_id,
            upn: row.user_principal_name,
            mail: row.mail,
            name: row.display_name,
            enabled: row.account_enabled,
            user_type: row.user_type,
            created: row.created_date_time.map(|at| at.timestamp()),
            sign_ins: [
                row.last_sign_in_at.map(|at| at.timestamp()),
                row.last_non_interactive_sign_in_at.map(|at| at.timestamp()),
                row.last_successful_sign_in_at.map(|at| at.timestamp()),
            ],
        })
        .collect();
    users.sort();
    let mut skus: Vec<SkuView> = sku_rows
        .into_iter()
        .filter(|row| row.subscribed)
        .map(|row| SkuView {
            sku_id: row.sku_id,
            part_number: row.sku_part_number,
            status: row.capability_status,
            units: [
                row.enabled_units,
                row.suspended_units,
                row.warning_units,
                row.locked_out_units,
                row.consumed_units,
            ],
        })
        .collect();
    skus.sort();
    let subscriptions = subscriptions::Entity::find()
        .filter(subscriptions::Column::ProviderId.eq(provider))
        .all(db)
        .await
        .expect("subscriptions")
        .into_iter()
        .map(|row| row.external_id)
        .collect();
    (users, skus, subscriptions)
}

/// Asserts that the database holds exactly the tenant's users, licenses, SKUs and subscriptions.
pub async fn assert_synced(app: &TestApp, sim: &SimServer, provider: &str, with_sign_ins: bool) {
    let db = app.database.connect().await;
    let (users, skus, subs) = stored(&db, provider.parse().expect("numeric id")).await;
    db.close().await.ok();
    let (want_users, want_skus, want_subs) = truth(sim, with_sign_ins);
    assert_eq!(users.len(), want_users.len(), "number of current users");
    for (got, want) in users.iter().zip(&want_users) {
        assert_eq!(got, want);
    }
    assert_eq!(skus, want_skus);
    assert_eq!(subs, want_subs);
}
