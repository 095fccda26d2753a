//! A kind of provider that exists only in this test suite: a ledger of users and seats kept in
//! memory. It registers into the server's registry from outside the crate and syncs through the
//! same engine, queue and API as Microsoft 365: a new kind needs no engine code.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{Duration, Utc};
use common::{Engine, ExtraKinds, Options, TestApp};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, stream};
use license_manager::auth::Role;
use license_manager::codes::Code;
use license_manager::crypto::SecretKeyring;
use license_manager::domain::audit::Actor;
use license_manager::domain::providers::{self, NewProvider};
use license_manager::providers::records::{
    AssignedSku, AssignmentState, LicensePaths, LicenseRecord, LicenseSource, SignInDates,
    SignInRecord, SkuRecord, SubscriptionRecord, UserChange, UserPatch, UserRecord,
};
use license_manager::providers::registry::{ProviderKind, Shared};
use license_manager::providers::{
    Catalogue, ChangePage, ConnectionCheck, KindConfig, LicenseProvider, Pages, ProductName,
    ProviderError, ProviderErrorKind,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

const KIND: &str = "ledger";
const SECRET: &str = "ledger-secret-0123456789";
/// Users per page: a listing of a few users still takes several pages.
const PAGE_SIZE: usize = 2;

/// One organisation's ledger: its users as they are now, its SKUs, and every change in order.
#[derive(Default)]
struct Book {
    users: BTreeMap<String, UserRecord>,
    skus: Vec<SkuRecord>,
    /// A round's link is the number of changes it has seen.
    changes: Vec<UserChange>,
}

#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<Book>>);

impl Ledger {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hire(&self, user: UserRecord) {
        self.book().users.insert(user.external_id.clone(), user);
    }

    fn leave(&self, id: &str) {
        let mut book = self.book();
        book.users.remove(id);
        book.changes.push(UserChange::Removed {
            external_id: id.into(),
            permanently: true,
        });
    }

    /// Gives `id` a license of `sku`, assigned to the user itself.
    fn assign(&self, id: &str, sku: &str) {
        let mut book = self.book();
        let Some(user) = book.users.get_mut(id) else {
            panic!("no user {id} in the ledger");
        };
        user.licenses.push(license(sku, None));
        let licenses = user
            .licenses
            .iter()
            .map(|license| AssignedSku {
                sku_id: license.sku_id.clone(),
                disabled_plans: Vec::new(),
            })
            .collect();
        book.changes.push(UserChange::Upsert(UserPatch {
            external_id: id.into(),
            licenses: Some(licenses),
            ..UserPatch::default()
        }));
    }
}

/// A license of `sku`, directly or through `group`, in good standing.
fn license(sku: &str, group: Option<&str>) -> LicenseRecord {
    LicenseRecord {
        sku_id: sku.into(),
        disabled_plans: Vec::new(),
        paths: LicensePaths::new(vec![LicenseSource {
            group_id: group.map(str::to_owned),
            state: AssignmentState::parse("Active"),
            error: None,
            disabled_plans: Vec::new(),
        }]),
    }
}

fn user(id: &str, enabled: bool, licenses: Vec<LicenseRecord>) -> UserRecord {
    let yesterday = Some(Utc::now() - Duration::days(1));
    UserRecord {
        external_id: id.into(),
        user_principal_name: format!("{id}@acme.test"),
        mail: None,
        display_name: Some(id.to_uppercase()),
        account_enabled: enabled,
        user_type: Some("Member".into()),
        created_at: Some(Utc::now() - Duration::days(400)),
        sign_in: Some(SignInDates {
            last_interactive: yesterday,
            last_non_interactive: yesterday,
            last_successful: yesterday,
        }),
        licenses,
    }
}

fn sku(id: &str, part_number: &str, name: &str, enabled: i64, consumed: i64) -> SkuRecord {
    SkuRecord {
        sku_id: id.into(),
        sku_part_number: part_number.into(),
        display_name: name.into(),
        capability_status: "Enabled".into(),
        applies_to: Some("User".into()),
        enabled_units: enabled,
        suspended_units: 0,
        warning_units: 0,
        locked_out_units: 0,
        consumed_units: consumed,
        service_plans: json!([]),
    }
}

/// The ledger kind: `{"book": name}` picks one of its books, and the secret must be `SECRET`.
struct LedgerKind {
    books: BTreeMap<String, Ledger>,
}

impl ProviderKind for LedgerKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn connect(
        &self,
        _shared: &Shared,
        config: &Value,
        secret: SecretString,
    ) -> Result<Arc<dyn LicenseProvider>, ProviderError> {
        let refused =
            |code, message: &str| ProviderError::other(code, message, "check the ledger's set-up");
        if secret.expose_secret() != SECRET {
            return Err(refused(
                Code::InvalidClientSecret,
                "the ledger refused the secret",
            ));
        }
        let book = config["book"]
            .as_str()
            .and_then(|name| self.books.get(name))
            .ok_or_else(|| refused(Code::Internal, "no such book"))?;
        Ok(Arc::new(LedgerClient(book.clone())))
    }

    fn catalogue(&self) -> Arc<dyn Catalogue> {
        Arc::new(LedgerCatalogue)
    }
}

/// The suite includes mail; the fax line is a product no longer sold.
struct LedgerCatalogue;

impl Catalogue for LedgerCatalogue {
    fn product(&self, sku_id: &str) -> Option<ProductName> {
        (sku_id == "fax").then(|| ProductName {
            part_number: "FAX_LINE".into(),
            name: "Legacy fax line".into(),
        })
    }

    fn contains(&self, outer: &str, inner: &str) -> bool {
        (outer, inner) == ("suite", "mail")
    }
}

struct LedgerClient(Ledger);

impl LedgerClient {
    fn pages<T: Send + 'static>(items: Vec<T>) -> Pages<Vec<T>> {
        let mut pages = Vec::new();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            pages.push(Ok(items.by_ref().take(PAGE_SIZE).collect()));
        }
        stream::iter(pages).boxed()
    }
}

impl LicenseProvider for LedgerClient {
    fn users(&self, with_sign_in: bool) -> Pages<Vec<UserRecord>> {
        let users: Vec<UserRecord> = self
            .0
            .book()
            .users
            .values()
            .cloned()
            .map(|user| UserRecord {
                sign_in: user.sign_in.filter(|_| with_sign_in),
                ..user
            })
            .collect();
        Self::pages(users)
    }

    fn skus(&self) -> BoxFuture<'_, Result<Vec<SkuRecord>, ProviderError>> {
        let skus = self.0.book().skus.clone();
        async move { Ok(skus) }.boxed()
    }

    fn subscriptions(&self) -> BoxFuture<'_, Result<Vec<SubscriptionRecord>, ProviderError>> {
        let subscriptions = self
            .0
            .book()
            .skus
            .iter()
            .map(|sku| SubscriptionRecord {
                external_id: format!("subscription-{}", sku.sku_id),
                commerce_subscription_id: None,
                sku_id: sku.sku_id.clone(),
                sku_part_number: sku.sku_part_number.clone(),
                status: "Enabled".into(),
                total_licenses: sku.enabled_units,
                is_trial: false,
                created_at: None,
                next_lifecycle_at: None,
            })
            .collect();
        async move { Ok(subscriptions) }.boxed()
    }

    fn start_changes(&self) -> BoxFuture<'_, Result<String, ProviderError>> {
        let seen = self.0.book().changes.len();
        async move { Ok(seen.to_string()) }.boxed()
    }

    fn changes_since(&self, link: String) -> Pages<ChangePage> {
        let book = self.0.book();
        let page = link
            .parse::<usize>()
            .ok()
            .and_then(|seen| book.changes.get(seen..))
            .map(|changes| ChangePage {
                changes: changes.to_vec(),
                next_round: Some(book.changes.len().to_string()),
            })
            .ok_or_else(|| ProviderError {
                code: Code::DeltaTokenExpired,
                message: format!("the ledger issued no link {link:?}"),
                hint: "a full sync follows".into(),
                kind: ProviderErrorKind::DeltaExpired,
            });
        stream::iter([page]).boxed()
    }

    fn sign_ins(&self) -> Pages<Vec<SignInRecord>> {
        let dates: Vec<SignInRecord> = self
            .0
            .book()
            .users
            .values()
            .map(|user| SignInRecord {
                external_id: user.external_id.clone(),
                dates: user.sign_in.unwrap_or_default(),
            })
            .collect();
        Self::pages(dates)
    }

    fn test_connection(&self) -> BoxFuture<'_, Vec<ConnectionCheck>> {
        let users = self.0.book().users.len();
        async move {
            vec![ConnectionCheck {
                name: "book",
                ok: true,
                warning: false,
                code: None,
                message: format!("{users} users can be read"),
                hint: None,
            }]
        }
        .boxed()
    }
}

/// Acme's ledger: Alice holds the suite and, through the sales group, mail (which the suite
/// includes); Bob holds mail and a fax line nobody sells any more; Carol's account is disabled.
/// A server with one worker that knows the ledger kind, its only book `acme` being `ledger`.
async fn spawn_with_book(engine: Engine, ledger: Ledger) -> TestApp {
    let kind = LedgerKind {
        books: BTreeMap::from([("acme".to_owned(), ledger)]),
    };
    TestApp::spawn_with(
        engine,
        Options {
            workers: 1,
            kinds: ExtraKinds(vec![Arc::new(kind)]),
            ..Options::default()
        },
    )
    .await
}

fn acme() -> Ledger {
    let ledger = Ledger::default();
    ledger.book().skus = vec![
        sku("suite", "SUITE", "Office suite", 10, 2),
        sku("mail", "MAIL", "Mail", 5, 2),
    ];
    ledger.hire(user(
        "alice",
        true,
        vec![license("suite", None), license("mail", Some("sales"))],
    ));
    ledger.hire(user(
        "bob",
        true,
        vec![license("mail", None), license("fax", None)],
    ));
    ledger.hire(user("carol", false, vec![license("suite", None)]));
    ledger
}

/// Connects the ledger `book` as the admin would, through the domain's one way to create any
/// provider; returns its id.
async fn connect_book(app: &TestApp, book: &str) -> String {
    let db = app.database.connect().await;
    let keyring = SecretKeyring::load(None, app.data_dir.path()).expect("the server's keyring");
    let actor = Actor {
        subject: "ledger-test".into(),
        role: Role::Admin.to_string(),
    };
    let config = KindConfig {
        kind: KIND,
        account_key: book.into(),
        config: json!({ "book": book }),
    };
    let provider = providers::create(
        &db,
        &keyring,
        &actor,
        NewProvider {
            name: format!("{book} ledger"),
            config: Ok(config),
            client_secret: SecretString::from(SECRET),
            client_secret_expires_at: None,
            sync_interval_minutes: None,
        },
    )
    .await
    .expect("provider created");
    db.close().await.ok();
    provider.id.to_string()
}

const SEEN: &str = r#"query($id: ID!) {
    users(providerId: $id, orderBy: { field: USER_PRINCIPAL_NAME }) { nodes {
        userPrincipalName accountEnabled signInDataAvailable
        licenses { sku { skuId } assignedDirectly inheritedFromGroupIds }
    } }
    licenseSkus(providerId: $id) {
        skuId skuPartNumber displayName subscribed enabledUnits consumedUnits availableUnits
    }
}"#;

fn held(sku: &str, direct: bool, groups: &[&str]) -> Value {
    json!({ "sku": { "skuId": sku }, "assignedDirectly": direct, "inheritedFromGroupIds": groups })
}

fn listed(upn: &str, enabled: bool, licenses: Vec<Value>) -> Value {
    json!({
        "userPrincipalName": upn, "accountEnabled": enabled, "signInDataAvailable": true,
        "licenses": licenses,
    })
}

async fn a_kind_from_the_test_suite_syncs_through_the_engine(engine: Engine) {
    let ledger = acme();
    let app = spawn_with_book(engine, ledger.clone()).await;
    let provider = connect_book(&app, "acme").await;

    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(
        (run["usersSeen"].clone(), run["pagesFetched"].clone()),
        (json!(3), json!(2))
    );
    let seen = app.admin(SEEN, json!({ "id": provider })).await;
    assert_eq!(
        seen["data"]["users"]["nodes"],
        json!([
            listed(
                "alice@acme.test",
                true,
                vec![held("suite", true, &[]), held("mail", false, &["sales"])]
            ),
            listed(
                "bob@acme.test",
                true,
                vec![held("mail", true, &[]), held("fax", true, &[])]
            ),
            listed("carol@acme.test", false, vec![held("suite", true, &[])]),
        ]),
        "{seen}"
    );
    assert_eq!(
        seen["data"]["licenseSkus"],
        json!([
            { "skuId": "fax", "skuPartNumber": "FAX_LINE", "displayName": "Legacy fax line",
              "subscribed": false, "enabledUnits": 0, "consumedUnits": 0, "availableUnits": 0 },
            { "skuId": "mail", "skuPartNumber": "MAIL", "displayName": "Mail",
              "subscribed": true, "enabledUnits": 5, "consumedUnits": 2, "availableUnits": 3 },
            { "skuId": "suite", "skuPartNumber": "SUITE", "displayName": "Office suite",
              "subscribed": true, "enabledUnits": 10, "consumedUnits": 2, "availableUnits": 8 },
        ]),
        "{seen}"
    );

    // The report judges the ledger with its own catalogue: Alice's mail is in her suite.
    let report = app
        .admin(
            r#"query($id: ID!) { licenseReport(providerId: $id) { findings(first: 50) { nodes {
                kind user { userPrincipalName } sku { skuId } } } } }"#,
            json!({ "id": provider }),
        )
        .await;
    let findings: Vec<(String, String, String)> =
        report["data"]["licenseReport"]["findings"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("findings: {report}"))
            .iter()
            .filter(|finding| !finding["user"].is_null())
            .map(|finding| {
                let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
                (
                    text(&finding["kind"]),
                    text(&finding["user"]["userPrincipalName"]),
                    text(&finding["sku"]["skuId"]),
                )
            })
            .collect();
    assert_eq!(
        findings,
        [
            (
                "OVERLAPPING_ASSIGNMENT".into(),
                "alice@acme.test".into(),
                "mail".into()
            ),
            (
                "DISABLED_ACCOUNT".into(),
                "carol@acme.test".into(),
                "suite".into()
            ),
        ]
    );

    // Bob leaves and Carol gets mail: an incremental round from the ledger's own link.
    ledger.leave("bob");
    ledger.assign("carol", "mail");
    let run = app.sync(&provider, "DELTA").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["effectiveMode"], "DELTA", "{run}");
    assert_eq!(run["usersRemoved"], 1, "{run}");
    let seen = app.admin(SEEN, json!({ "id": provider })).await;
    let upns: Vec<(&str, usize)> = seen["data"]["users"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("users: {seen}"))
        .iter()
        .map(|user| {
            (
                user["userPrincipalName"].as_str().unwrap_or_default(),
                user["licenses"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(upns, [("alice@acme.test", 2), ("carol@acme.test", 2)]);

    let tested = app
        .admin(
            "mutation($id: ID!) { testProviderConnection(id: $id) { ok checks { name message } } }",
            json!({ "id": provider }),
        )
        .await;
    assert_eq!(
        tested["data"]["testProviderConnection"],
        json!({ "ok": true, "checks": [{ "name": "book", "message": "2 users can be read" }] })
    );
    app.finish().await;
}

/// A server without the kind keeps the provider and says why it cannot sync it.
async fn a_server_without_the_kind_fails_its_syncs_with_the_reason(engine: Engine) {
    let app = spawn_with_book(engine, acme()).await;
    let provider = connect_book(&app, "acme").await;
    let (data_dir, database) = app.stop().await;

    let app = TestApp::start_with(
        data_dir,
        database,
        Options {
            workers: 1,
            ..Options::default()
        },
    )
    .await;
    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "FAILED", "{run}");
    assert!(
        run["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("ledger")),
        "{run}"
    );
    let listed = app.query(Role::Viewer, "{ providers { name } }").await;
    assert_eq!(listed, json!({ "providers": [{ "name": "acme ledger" }] }));
    app.finish().await;
}

/// The stored configuration and delta link of provider `id`.
async fn stored(app: &TestApp, id: &str) -> (String, Option<String>) {
    use license_manager::entities::providers as rows;
    use sea_orm::EntityTrait;
    let db = app.database.connect().await;
    let id: i64 = id.parse().expect("a numeric id");
    let row = rows::Entity::find_by_id(id)
        .one(&db)
        .await
        .expect("read")
        .expect("the provider is still there");
    db.close().await.ok();
    (row.config, row.delta_link)
}

/// The Microsoft mutation names a Microsoft field ("cloud"); on a ledger it would write that
/// field into the ledger's configuration and throw away its delta link.
async fn the_microsoft_update_refuses_a_provider_of_another_kind(engine: Engine) {
    let app = spawn_with_book(engine, acme()).await;
    let provider = connect_book(&app, "acme").await;
    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let before = stored(&app, &provider).await;
    assert!(before.1.is_some(), "the full sync left a delta link");

    let body = app
        .admin(
            r#"mutation($id: ID!) {
                updateMicrosoftProvider(id: $id, input: { cloud: US_GOV, name: "Renamed" }) { id }
            }"#,
            json!({ "id": provider }),
        )
        .await;
    assert_eq!(common::error_code(&body), "BAD_USER_INPUT", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("ledger"), "names the kind: {body}");
    assert!(
        !message.contains("Renamed"),
        "never a submitted value: {body}"
    );
    assert_eq!(stored(&app, &provider).await, before);
    let listed = app.query(Role::Viewer, "{ providers { name } }").await;
    assert_eq!(listed, json!({ "providers": [{ "name": "acme ledger" }] }));
    app.finish().await;
}

engine_tests!(
    a_kind_from_the_test_suite_syncs_through_the_engine,
    a_server_without_the_kind_fails_its_syncs_with_the_reason,
    the_microsoft_update_refuses_a_provider_of_another_kind,
);
