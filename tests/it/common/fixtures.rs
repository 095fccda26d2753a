//! A small builder for tenants as a sync would leave them: providers, users, SKUs, licenses and
//! subscriptions inserted through the entities, so API tests need no Graph simulator.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use license_manager::auth::Role;
use license_manager::crypto::Sealed;
use license_manager::entities::{
    directory_users, license_assignments, license_skus, license_snapshots, providers, subscriptions,
};
use license_manager::providers::microsoft365::catalog;
use reqwest::StatusCode;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use serde_json::{Value, json};

use super::TestApp;

/// Graph skuIds of the SKUs the tests use, as in Microsoft's table.
pub const SPE_E5: &str = "06ebc4ee-1bb5-47dd-8120-11324bc54e06";
pub const SPE_E3: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";
pub const ENTERPRISEPACK: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
pub const EXCHANGESTANDARD: &str = "4b9405b0-7788-4568-add1-99614e613b69";
pub const POWER_BI_PRO: &str = "f8a1db68-be16-40ed-86d5-cb42ce701560";

pub fn days_ago(days: i64) -> DateTime<Utc> {
    Utc::now() - Duration::days(days)
}

/// Runs an operation with variables as a caller of `role`; returns the whole body.
pub async fn gql(app: &TestApp, role: Role, query: &str, variables: Value) -> Value {
    let response = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(app.token(role, "fixture"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("a JSON body")
}

/// Like `gql`, expecting no error; returns `data`.
pub async fn data(app: &TestApp, query: &str, variables: Value) -> Value {
    let body = gql(app, Role::Viewer, query, variables).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"].clone()
}

/// Sets a SKU's price as an admin would.
pub async fn price(app: &TestApp, sku: i64, amount: &str, currency: &str, period: &str) {
    let body = gql(
        app,
        Role::Admin,
        "mutation($id: ID!, $price: MoneyInput) { setSkuPrice(skuId: $id, price: $price) { id } }",
        json!({ "id": sku.to_string(),
                "price": { "amount": amount, "currency": currency, "period": period } }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
}

/// The app registration of every fixture provider.
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

pub async fn provider(db: &DatabaseConnection, name: &str, sign_in: Option<&str>) -> i64 {
    let now = Utc::now();
    let tenant = format!("{}.onmicrosoft.com", name.to_lowercase());
    providers::ActiveModel {
        kind: Set("microsoft365".into()),
        name: Set(name.into()),
        config: Set(
            json!({ "tenantId": tenant, "clientId": CLIENT_ID, "cloud": "GLOBAL" }).to_string(),
        ),
        account_key: Set(format!("{tenant}:{CLIENT_ID}")),
        client_secret_sealed: Set(vec![1, 2, 3]),
        client_secret_key_id: Set("k1".into()),
        client_secret_hint: Set("abcd".into()),
        enabled: Set(true),
        sign_in_data_status: Set(sign_in.map(str::to_owned)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("provider inserted")
    .id
}

/// A user as the sync writes it; fields left `None` are unknown.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub upn: String,
    pub display_name: Option<String>,
    pub mail: Option<String>,
    pub enabled: bool,
    pub user_type: &'static str,
    pub created: Option<DateTime<Utc>>,
    pub interactive: Option<DateTime<Utc>>,
    pub non_interactive: Option<DateTime<Utc>>,
    pub successful: Option<DateTime<Utc>>,
    pub removed: Option<DateTime<Utc>>,
}

impl NewUser {
    /// An enabled member named after its UPN's local part, created a year ago.
    pub fn named(local: &str) -> Self {
        Self {
            upn: format!("{local}@contoso.com"),
            display_name: Some(local.to_owned()),
            mail: Some(format!("{local}@contoso.com")),
            enabled: true,
            user_type: "Member",
            created: Some(days_ago(365)),
            interactive: None,
            non_interactive: None,
            successful: None,
            removed: None,
        }
    }

    pub fn signed_in(mut self, days: i64) -> Self {
        self.interactive = Some(days_ago(days));
        self
    }

    pub async fn insert(self, db: &DatabaseConnection, provider_id: i64) -> i64 {
        let now = Utc::now();
        let search_text = [
            self.display_name.clone().unwrap_or_default(),
            self.upn.clone(),
            self.mail.clone().unwrap_or_default(),
        ]
        .join(" ")
        .to_lowercase();
        // Only the key comes back: a test of an older schema inserts users too, whose table lacks
        // columns the entity has since gained.
        let row = directory_users::ActiveModel {
            provider_id: Set(provider_id),
            external_id: Set(format!("ext-{}", self.upn)),
            user_principal_name: Set(self.upn),
            mail: Set(self.mail),
            display_name: Set(self.display_name),
            search_text: Set(search_text),
            account_enabled: Set(self.enabled),
            user_type: Set(Some(self.user_type.into())),
            created_date_time: Set(self.created),
            last_sign_in_at: Set(self.interactive),
            last_non_interactive_sign_in_at: Set(self.non_interactive),
            last_successful_sign_in_at: Set(self.successful),
            first_seen_at: Set(now),
            last_seen_at: Set(now),
            removed_at: Set(self.removed),
            updated_at: Set(now),
            ..Default::default()
        };
        directory_users::Entity::insert(row)
            .exec(db)
            .await
            .expect("user inserted")
            .last_insert_id
    }
}

/// A provider row as the schema before kind configurations (migration
/// m20261207_000060_provider_config) stored it: tenant, client and cloud in columns of their own.
pub struct LegacyProvider<'a> {
    pub name: &'a str,
    pub tenant_id: String,
    pub client_id: String,
    pub cloud: &'a str,
    /// Sealed to `provider-client-secret:{tenant_id}:{client_id}`, as that version did.
    pub secret: Sealed,
    pub delta_link: Option<String>,
    pub sign_in: Option<&'a str>,
}

impl<'a> LegacyProvider<'a> {
    /// A tenant named after `name` whose secret no key opens.
    pub fn named(name: &'a str) -> Self {
        Self {
            name,
            tenant_id: format!("{}.onmicrosoft.com", name.to_lowercase()),
            client_id: CLIENT_ID.into(),
            cloud: "GLOBAL",
            secret: Sealed {
                key_id: "k1".into(),
                ciphertext: vec![1, 2, 3],
            },
            delta_link: None,
            sign_in: None,
        }
    }

    /// Inserts the row into a database of the earlier schema; returns its id.
    pub async fn insert(&self, db: &DatabaseConnection) -> i64 {
        let now = Utc::now();
        let obtained = self.delta_link.as_ref().map(|_| now);
        let insert = Query::insert()
            .into_table(Alias::new("providers"))
            .columns(
                [
                    "kind",
                    "name",
                    "tenant_id",
                    "client_id",
                    "client_secret_sealed",
                    "client_secret_key_id",
                    "client_secret_hint",
                    "cloud",
                    "enabled",
                    "delta_link",
                    "delta_link_obtained_at",
                    "last_full_sync_at",
                    "sign_in_data_status",
                    "created_at",
                    "updated_at",
                ]
                .map(Alias::new),
            )
            .values_panic([
                "microsoft365".into(),
                self.name.into(),
                self.tenant_id.clone().into(),
                self.client_id.clone().into(),
                self.secret.ciphertext.clone().into(),
                self.secret.key_id.clone().into(),
                "hint".into(),
                self.cloud.into(),
                true.into(),
                self.delta_link.clone().into(),
                obtained.into(),
                obtained.into(),
                self.sign_in.into(),
                now.into(),
                now.into(),
            ])
            .returning_col(Alias::new("id"))
            .to_owned();
        db.query_one(&insert)
            .await
            .expect("legacy provider inserted")
            .expect("its id returned")
            .try_get("", "id")
            .expect("an integer id")
    }
}

/// A subscribed SKU with Graph's summed seat counts: (enabled, consumed, suspended, warning, locked out).
pub async fn sku(
    db: &DatabaseConnection,
    provider_id: i64,
    sku_id: &str,
    units: (i64, i64, i64, i64, i64),
) -> i64 {
    let product = catalog::product(sku_id).expect("a SKU of Microsoft's table");
    let now = Utc::now();
    license_skus::ActiveModel {
        provider_id: Set(provider_id),
        sku_id: Set(sku_id.into()),
        sku_part_number: Set(product.sku_part_number.into()),
        display_name: Set(product.name.into()),
        capability_status: Set("Enabled".into()),
        applies_to: Set(Some("User".into())),
        enabled_units: Set(units.0),
        consumed_units: Set(units.1),
        suspended_units: Set(units.2),
        warning_units: Set(units.3),
        locked_out_units: Set(units.4),
        subscribed: Set(true),
        last_synced_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("SKU inserted")
    .id
}

/// How a license came to a user.
pub enum Via<'a> {
    Direct,
    Groups(&'a [&'a str]),
    Both(&'a [&'a str]),
}

pub async fn assign(db: &DatabaseConnection, provider_id: i64, user: i64, sku: i64, via: Via<'_>) {
    let (direct, groups): (bool, &[&str]) = match via {
        Via::Direct => (true, &[]),
        Via::Groups(groups) => (false, groups),
        Via::Both(groups) => (true, groups),
    };
    license_assignments::ActiveModel {
        provider_id: Set(provider_id),
        user_id: Set(user),
        license_sku_id: Set(sku),
        disabled_plans: Set(json!([])),
        assigned_directly: Set(direct),
        inherited_from_group_ids: Set(json!(groups)),
        state: Set(Some("Active".into())),
        error: Set(None),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("assignment inserted");
}

pub async fn subscription(
    db: &DatabaseConnection,
    provider_id: i64,
    sku_id: &str,
    external_id: &str,
    status: &str,
    total: i64,
    trial: bool,
) -> i64 {
    let product = catalog::product(sku_id).expect("a SKU of Microsoft's table");
    subscriptions::ActiveModel {
        provider_id: Set(provider_id),
        external_id: Set(external_id.into()),
        commerce_subscription_id: Set(Some(format!("commerce-{external_id}"))),
        sku_id: Set(sku_id.into()),
        sku_part_number: Set(product.sku_part_number.into()),
        status: Set(status.into()),
        total_licenses: Set(total),
        is_trial: Set(trial),
        created_date_time: Set(Some(days_ago(100))),
        next_lifecycle_date_time: Set(Some(days_ago(-30))),
        last_synced_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("subscription inserted")
    .id
}

/// Moves a subscription's next lifecycle date (30 days ahead as inserted).
pub async fn renews_at(db: &DatabaseConnection, subscription: i64, at: DateTime<Utc>) {
    subscriptions::Entity::update_many()
        .col_expr(
            subscriptions::Column::NextLifecycleDateTime,
            sea_orm::sea_query::Expr::value(Some(at)),
        )
        .filter(subscriptions::Column::Id.eq(subscription))
        .exec(db)
        .await
        .expect("subscription updated");
}

/// The seats of a SKU on a day, as that day's sync would have snapshotted them.
pub async fn snapshot(
    db: &DatabaseConnection,
    provider_id: i64,
    sku: i64,
    day: NaiveDate,
    (enabled, consumed): (i64, i64),
) {
    license_snapshots::ActiveModel {
        provider_id: Set(provider_id),
        license_sku_id: Set(sku),
        day: Set(day),
        enabled_units: Set(enabled),
        consumed_units: Set(consumed),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("snapshot inserted");
}
