//! Microsoft 365 tenants simulated by graph-sim, providers pointing at them, and the ground
//! truth a sync must reproduce.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use graph_sim::{SimOptions, SimServer, TenantSpec};
use license_manager::auth::Role;
use license_manager::domain::licenses;
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
    granted_tenant(users, seed, graph_sim::Permissions::default(), faults).await
}

/// A tenant whose app holds `permissions` and whose Graph misbehaves as `faults` say.
pub async fn granted_tenant(
    users: usize,
    seed: u64,
    permissions: graph_sim::Permissions,
    faults: graph_sim::FaultOptions,
) -> SimServer {
    tenant_with(
        TenantSpec {
            users,
            seed,
            permissions,
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
    /// The SKUs' Graph ids by their `LicenseSku.id`.
    pub async fn sku_guids(&self) -> std::collections::HashMap<String, sea_orm::prelude::Uuid> {
        let data = self.admin("{ licenseSkus { id skuId } }", json!({})).await;
        data["data"]["licenseSkus"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|sku| {
                Some((
                    sku["id"].as_str()?.to_owned(),
                    sku["skuId"].as_str()?.parse().ok()?,
                ))
            })
            .collect()
    }

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
    /// By SKU id.
    pub licenses: BTreeMap<String, LicenseView>,
}

/// One license: how it reaches the user, and the state and error the API shows for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LicenseView {
    pub direct: bool,
    pub groups: BTreeSet<String>,
    /// Every path, directly first, then by group id.
    pub paths: Vec<PathView>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// One path by which a license reaches a user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PathView {
    /// None: assigned directly.
    pub group: Option<String>,
    pub state: Option<String>,
    /// None: no error.
    pub error: Option<String>,
    pub disabled_plans: Vec<String>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SkuView {
    pub sku_id: String,
    pub part_number: String,
    pub status: String,
    pub units: [i64; 5],
}

/// What the last sync could read. A full listing reads how each license is assigned; an
/// incremental round cannot (Graph's users/delta does not track it), so after one only which
/// licenses a user holds, and whether directly, can be exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastSync {
    Full,
    Incremental,
}

impl LicenseView {
    /// What an incremental round can know of a license.
    fn placement(&self) -> (bool, &BTreeSet<String>) {
        (self.direct, &self.groups)
    }
}

/// The documented order in which a license's paths speak for it: Error › ActiveWithError ›
/// Disabled › Active, one with an error before one without, the first among equals.
fn most_severe(paths: &[PathView]) -> Option<&PathView> {
    let rank = |path: &PathView| {
        let state = match path.state.as_deref() {
            Some("Error") => 4,
            Some("ActiveWithError") => 3,
            Some("Disabled") => 1,
            Some("Active") => 0,
            _ => 2,
        };
        (state, path.error.is_some())
    };
    paths.iter().reduce(|worst, path| {
        if rank(path) > rank(worst) {
            path
        } else {
            worst
        }
    })
}

/// A license as its paths in the tenant make it: direct when one path is the user's own.
fn license_view(paths: Vec<PathView>) -> LicenseView {
    let worst = most_severe(&paths).cloned();
    LicenseView {
        direct: paths.iter().any(|path| path.group.is_none()),
        groups: paths.iter().filter_map(|path| path.group.clone()).collect(),
        state: worst.as_ref().and_then(|path| path.state.clone()),
        error: worst.and_then(|path| path.error),
        paths,
    }
}

/// What the simulated tenant holds now, as a sync should store it. Each license's paths are
/// graph-sim's own assignment states for it — its ground truth, where "no error" is none
/// whatever the wire says (`"None"` or null).
pub fn truth(sim: &SimServer) -> (Vec<UserView>, Vec<SkuView>, BTreeSet<String>) {
    let mut users: Vec<UserView> = sim
        .users()
        .into_iter()
        .map(|user| {
            let mut licenses = BTreeMap::new();
            for license in &user.assigned_licenses {
                let mut paths: Vec<PathView> = user
                    .license_assignment_states
                    .iter()
                    .filter(|state| state.sku_id == license.sku_id)
                    .map(|state| {
                        let mut disabled_plans: Vec<String> =
                            state.disabled_plans.iter().map(|p| p.to_string()).collect();
                        disabled_plans.sort();
                        PathView {
                            group: state.assigned_by_group.map(|g| g.to_string()),
                            state: Some(state.state.clone()),
                            error: state.error.clone(),
                            disabled_plans,
                        }
                    })
                    .collect();
                paths.sort();
                licenses.insert(license.sku_id.to_string(), license_view(paths));
            }
            let activity = user.sign_in_activity.clone();
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
    // The paths as the API reads them back: stored, or implied by the columns.
    let user_ids: Vec<i64> = assignments.iter().map(|row| row.user_id).collect();
    let mut read_back = licenses::assignments_of_users(db, &user_ids)
        .await
        .expect("licenses read back");
    let mut licenses: BTreeMap<i64, BTreeMap<String, LicenseView>> = BTreeMap::new();
    for row in assignments {
        let groups: Vec<String> =
            serde_json::from_value(row.inherited_from_group_ids).expect("groups");
        let paths = read_back
            .get_mut(&row.user_id)
            .and_then(|held| {
                let at = held
                    .iter()
                    .position(|a| a.license_sku_id == row.license_sku_id)?;
                Some(held.swap_remove(at).paths)
            })
            .expect("every stored license is read back");
        let paths = paths
            .sources()
            .iter()
            .map(|source| PathView {
                group: source.group_id.clone(),
                state: source.state.as_ref().map(|s| s.as_str().to_owned()),
                error: source.error.as_ref().map(|e| e.as_str().to_owned()),
                disabled_plans: source.disabled_plans.clone(),
            })
            .collect();
        licenses.entry(row.user_id).or_default().insert(
            sku_ids[&row.license_sku_id].clone(),
            LicenseView {
                direct: row.assigned_directly,
                groups: groups.into_iter().collect(),
                paths,
                state: row.state,
                error: row.error,
            },
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

/// Asserts that the database holds exactly the tenant's users, licenses, SKUs and subscriptions,
/// as far as the last sync could read them.
pub async fn assert_synced(app: &TestApp, sim: &SimServer, provider: &str, last: LastSync) {
    let db = app.database.connect().await;
    let (users, skus, subs) = stored(&db, provider.parse().expect("numeric id")).await;
    db.close().await.ok();
    let (want_users, want_skus, want_subs) = truth(sim);
    assert_eq!(users.len(), want_users.len(), "number of current users");
    for (got, want) in users.iter().zip(&want_users) {
        match last {
            LastSync::Full => assert_eq!(got, want),
            LastSync::Incremental => {
                let placed = |user: &UserView| -> Vec<(String, bool, BTreeSet<String>)> {
                    user.licenses
                        .iter()
                        .map(|(sku, license)| {
                            let (direct, groups) = license.placement();
                            (sku.clone(), direct, groups.clone())
                        })
                        .collect()
                };
                assert_eq!(placed(got), placed(want), "{}", want.upn);
                let without_licenses = |user: &UserView| UserView {
                    licenses: BTreeMap::new(),
                    id: user.id.clone(),
                    upn: user.upn.clone(),
                    mail: user.mail.clone(),
                    name: user.name.clone(),
                    enabled: user.enabled,
                    user_type: user.user_type.clone(),
                    created: user.created,
                    sign_ins: user.sign_ins,
                };
                assert_eq!(without_licenses(got), without_licenses(want));
            }
        }
    }
    assert_eq!(skus, want_skus);
    assert_eq!(subs, want_subs);
}
