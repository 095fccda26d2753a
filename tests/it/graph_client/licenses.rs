//! License writes through the provider-agnostic `LicenseWriter`, as reclaim and undo call it,
//! against graph-sim's planted cases: each outcome with its stable code, the seats they move, and
//! what reaches the simulated tenant.

use std::sync::Arc;
use std::time::Duration;

use crate::common::graph::granted_tenant;
use graph_sim::{FaultOptions, LicenseFixture, Permissions, SimServer};
use license_manager::codes::Code;
use license_manager::providers::microsoft365::graph::SecretString;
use license_manager::providers::microsoft365::{Cloud, Config, Microsoft365Kind};
use license_manager::providers::registry::{ProviderKind, Shared};
use license_manager::providers::{
    LicenseChanged, LicenseProvider, LicenseState, LicenseWriter, RetryPolicy, WriteFailure,
};

use super::common::*;

const USERS: usize = 30;

async fn tenant(permissions: Permissions, faults: FaultOptions) -> SimServer {
    granted_tenant(USERS, 11, permissions, faults).await
}

async fn writable() -> SimServer {
    tenant(
        Permissions::default().with_license_writes(),
        FaultOptions::default(),
    )
    .await
}

/// The provider as the product builds it, with `budget` of retries per request.
fn provider_with(sim: &SimServer, budget: Duration) -> Arc<dyn LicenseProvider> {
    let config = Config::parse(
        &sim.tenant_id().to_string(),
        &sim.client_id().to_string(),
        Cloud::Global,
    )
    .expect("the simulator's ids are valid");
    let shared = Shared {
        http: reqwest::Client::new(),
        retry: RetryPolicy {
            first_wait: Duration::from_millis(10),
            budget,
        },
    };
    Microsoft365Kind::new(overrides(sim))
        .connect(
            &shared,
            &config.config,
            SecretString::from(sim.client_secret()),
        )
        .expect("the provider connects")
}

fn provider(sim: &SimServer) -> Arc<dyn LicenseProvider> {
    provider_with(sim, Duration::from_secs(30))
}

fn license_writer(provider: &Arc<dyn LicenseProvider>) -> &dyn LicenseWriter {
    provider
        .license_writer()
        .expect("Microsoft 365 providers can write licenses")
}

fn ids(fixture: &LicenseFixture) -> (String, String) {
    (fixture.user_id.to_string(), fixture.sku_id.to_string())
}

/// The user as Graph has it now; the user must exist.
async fn state_of(writer: &dyn LicenseWriter, user: &str) -> LicenseState {
    writer
        .license_state(user)
        .await
        .expect("read")
        .expect("the user exists")
}

fn failure<T: std::fmt::Debug>(
    result: Result<T, license_manager::providers::LicenseWriteError>,
) -> WriteFailure {
    result.expect_err("the change is refused").failure
}

#[tokio::test]
async fn a_direct_license_is_removed_freeing_its_seat_and_comes_back_with_its_disabled_plans() {
    let sim = writable().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let (user, sku) = ids(&fixtures.direct);
    let provider = provider(&sim);
    let writer = license_writer(&provider);

    let before = state_of(writer, &user).await;
    assert!(before.account_enabled);
    assert!(
        before.sign_in.last_interactive.is_some(),
        "sign-in dates are re-read"
    );
    let license = before.license(&sku).expect("holds the SKU").clone();
    assert!(license.paths.assigned_directly());
    assert!(license.paths.group_ids().is_empty());
    assert_eq!(
        license.disabled_plans.len(),
        1,
        "the fixture disables one plan"
    );

    let free = sim.free_seats(fixtures.direct.sku_id).expect("sku");
    let removed = writer.remove_license(&user, &sku).await.expect("removed");
    assert_eq!(removed, LicenseChanged::Removed);
    assert_eq!(removed.code(), Code::Removed);
    assert_eq!(
        sim.free_seats(fixtures.direct.sku_id).expect("sku"),
        free + 1
    );
    let after = state_of(writer, &user).await;
    assert!(after.license(&sku).is_none(), "the license is gone");

    let again = writer.remove_license(&user, &sku).await.expect("no error");
    assert_eq!(
        again,
        LicenseChanged::AlreadyRemoved,
        "a repeated removal finds the seat already free"
    );
    assert_eq!(again.code(), Code::AlreadyRemoved);
    assert_eq!(sim.applied_writes_for(fixtures.direct.user_id).len(), 1);

    let added = writer
        .add_license(&user, &sku, &license.disabled_plans)
        .await
        .expect("added");
    assert_eq!(added, LicenseChanged::Added);
    let restored = state_of(writer, &user).await;
    assert_eq!(
        restored.license(&sku).map(|l| &l.disabled_plans),
        Some(&license.disabled_plans),
        "undo restores the plans that were off"
    );
    assert_eq!(sim.free_seats(fixtures.direct.sku_id).expect("sku"), free);
}

#[tokio::test]
async fn licenses_held_only_through_groups_are_refused_and_nothing_changes() {
    let sim = writable().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let provider = provider(&sim);
    let writer = license_writer(&provider);
    for fixture in [
        fixtures.static_group,
        fixtures.dynamic_group,
        fixtures.synced_group,
    ] {
        let (user, sku) = ids(&fixture);
        let state = state_of(writer, &user).await;
        let license = state.license(&sku).expect("held");
        assert!(!license.paths.assigned_directly());
        let group = fixture.group_id.expect("a group").to_string();
        assert_eq!(license.paths.group_ids(), [group]);

        let error = writer
            .remove_license(&user, &sku)
            .await
            .expect_err("refused");
        assert_eq!(error.failure, WriteFailure::InheritedFromGroup);
        assert_eq!(error.code(), Code::InheritedFromGroup);
        assert!(!error.failure.is_retryable());
        assert!(error.hint.contains("group"), "{}", error.hint);
    }
    assert!(sim.applied_writes().is_empty(), "no write was applied");
}

#[tokio::test]
async fn removing_a_direct_copy_of_a_group_license_frees_no_seat() {
    let sim = writable().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let (user, sku) = ids(&fixtures.direct_and_group);
    let provider = provider(&sim);
    let writer = license_writer(&provider);
    let state = state_of(writer, &user).await;
    let license = state.license(&sku).expect("held");
    assert!(license.paths.assigned_directly());
    assert_eq!(license.paths.group_ids().len(), 1, "and through a group");

    let free = sim
        .free_seats(fixtures.direct_and_group.sku_id)
        .expect("sku");
    assert_eq!(
        writer.remove_license(&user, &sku).await.expect("removed"),
        LicenseChanged::Removed
    );
    let state = state_of(writer, &user).await;
    let license = state.license(&sku).expect("still held through the group");
    assert!(!license.paths.assigned_directly());
    assert_eq!(
        sim.free_seats(fixtures.direct_and_group.sku_id)
            .expect("sku"),
        free
    );
}

#[tokio::test]
async fn a_license_in_an_error_state_shows_its_state_and_error() {
    let sim = writable().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let provider = provider(&sim);
    let writer = license_writer(&provider);
    let (user, sku) = ids(&fixtures.direct_error);
    let state = state_of(writer, &user).await;
    let license = state.license(&sku).expect("held");
    assert_eq!(
        license.paths.state().map(|s| s.as_str()),
        Some("ActiveWithError")
    );
    assert_eq!(
        license.paths.error().map(|e| e.as_str()),
        Some("MutuallyExclusiveViolation")
    );

    let (user, sku) = ids(&fixtures.direct_failed_group);
    let state = state_of(writer, &user).await;
    let license = state.license(&sku).expect("held");
    assert!(license.paths.assigned_directly());
    assert_eq!(
        license.paths.error().map(|e| e.as_str()),
        Some("CountViolation"),
        "the failed group path is shown"
    );
}

#[tokio::test]
async fn a_user_gone_from_the_directory_is_not_found() {
    let sim = writable().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let provider = provider(&sim);
    let writer = license_writer(&provider);
    let gone = "00000000-0000-4000-8000-000000000000";
    assert!(writer.license_state(gone).await.expect("read").is_none());
    let sku = fixtures.direct.sku_id.to_string();
    let error = writer
        .remove_license(gone, &sku)
        .await
        .expect_err("refused");
    assert_eq!(error.failure, WriteFailure::UserNotFound);
    assert_eq!(error.code(), Code::UserNotFound);
    assert_eq!(
        failure(writer.add_license(gone, &sku, &[]).await),
        WriteFailure::UserNotFound
    );
}

#[tokio::test]
async fn undo_after_the_seat_went_to_someone_else_is_a_count_violation() {
    let sim = writable().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let (user, sku) = ids(&fixtures.direct);
    let provider = provider(&sim);
    let writer = license_writer(&provider);
    writer.remove_license(&user, &sku).await.expect("removed");
    sim.fill_seats(fixtures.direct.sku_id)
        .expect("others take the seats");

    let error = writer
        .add_license(&user, &sku, &[])
        .await
        .expect_err("no seat left");
    assert_eq!(error.failure, WriteFailure::CountViolation);
    assert_eq!(error.code(), Code::CountViolation);
    assert!(error.hint.contains("seat"), "{}", error.hint);
    let state = state_of(writer, &user).await;
    assert!(state.license(&sku).is_none());
}

#[tokio::test]
async fn undo_for_a_user_without_usage_location_says_so() {
    let sim = writable().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let (user, sku) = ids(&fixtures.direct);
    let provider = provider(&sim);
    let writer = license_writer(&provider);
    writer.remove_license(&user, &sku).await.expect("removed");
    sim.set_usage_location(fixtures.direct.user_id, None)
        .expect("user");

    let error = writer
        .add_license(&user, &sku, &[])
        .await
        .expect_err("refused");
    assert_eq!(error.failure, WriteFailure::UsageLocationMissing);
    assert_eq!(error.code(), Code::UsageLocationMissing);
    assert!(error.hint.contains("usage location"), "{}", error.hint);
}

#[tokio::test]
async fn without_the_write_permission_the_token_says_so_and_writes_are_refused() {
    let sim = writable().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let (user, sku) = ids(&fixtures.direct);
    let provider = provider(&sim);
    let writer = license_writer(&provider);
    let access = writer.write_access().await;
    assert!(access.allowed, "{access:?}");
    assert!(
        access.message.contains("LicenseAssignment.ReadWrite.All"),
        "{access:?}"
    );

    sim.set_permission_names(&[
        "User.Read.All",
        "Organization.Read.All",
        "AuditLog.Read.All",
    ])
    .expect("known names");
    sim.expire_tokens();
    // A token keeps the roles it was issued with: a new client's token shows the change.
    let renewed = provider_with(&sim, Duration::from_secs(30));
    let access = license_writer(&renewed).write_access().await;
    assert!(!access.allowed);
    assert_eq!(access.code, Some(Code::InsufficientPrivileges));
    let hint = access.hint.unwrap_or_default();
    assert!(
        hint.contains("LicenseAssignment.ReadWrite.All") && hint.contains("reclaim stays off"),
        "{hint}"
    );

    let error = writer
        .remove_license(&user, &sku)
        .await
        .expect_err("refused");
    assert_eq!(error.failure, WriteFailure::InsufficientPrivileges);
    assert!(error.hint.contains("LicenseAssignment.ReadWrite.All"));
    assert!(sim.applied_writes().is_empty());
    assert!(
        writer
            .license_state(&user)
            .await
            .expect("reads still work")
            .is_some(),
        "reading needs no write permission"
    );
}

#[tokio::test]
async fn a_broader_permission_allows_writes_too() {
    let sim = tenant(Permissions::default(), FaultOptions::default()).await;
    let provider = provider(&sim);
    let writer = license_writer(&provider);
    assert!(
        !writer.write_access().await.allowed,
        "not granted by default"
    );
    sim.set_permission_names(&[
        "User.Read.All",
        "Organization.Read.All",
        "Directory.ReadWrite.All",
    ])
    .expect("known names");
    sim.expire_tokens();
    let renewed = provider_with(&sim, Duration::from_secs(30));
    let access = license_writer(&renewed).write_access().await;
    assert!(access.allowed, "{access:?}");
}

#[tokio::test]
async fn throttled_writes_are_retried_as_told_then_reported_with_the_wait() {
    let faults = FaultOptions {
        write_throttle_rate: 0.5,
        retry_after_secs: 0.05,
        ..Default::default()
    };
    let sim = tenant(Permissions::default().with_license_writes(), faults).await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let provider = provider(&sim);
    let writer = license_writer(&provider);
    for fixture in [fixtures.direct, fixtures.direct_error] {
        let (user, sku) = ids(&fixture);
        assert_eq!(
            writer.remove_license(&user, &sku).await.expect("removed"),
            LicenseChanged::Removed
        );
    }
    assert_eq!(sim.applied_writes().len(), 2, "each applied once");

    sim.set_faults(FaultOptions {
        write_throttle_rate: 1.0,
        retry_after_secs: 0.2,
        ..Default::default()
    });
    let short = provider_with(&sim, Duration::from_millis(500));
    let (user, sku) = ids(&fixtures.direct_failed_group);
    let error = license_writer(&short)
        .remove_license(&user, &sku)
        .await
        .expect_err("throttled throughout");
    assert_eq!(
        error.failure,
        WriteFailure::Throttled {
            retry_after: Some(Duration::from_millis(200))
        }
    );
    assert_eq!(error.code(), Code::Throttled);
    assert!(error.failure.is_retryable());
    assert_eq!(sim.applied_writes().len(), 2, "nothing more applied");
}

#[tokio::test]
async fn an_unavailable_service_is_retried_then_reported_as_retryable() {
    let faults = FaultOptions {
        write_unavailable_rate: 1.0,
        ..Default::default()
    };
    let sim = tenant(Permissions::default().with_license_writes(), faults).await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let provider = provider_with(&sim, Duration::from_millis(300));
    let write = license_writer(&provider);
    let (user, sku) = ids(&fixtures.direct);
    let error = write
        .remove_license(&user, &sku)
        .await
        .expect_err("unavailable throughout");
    assert_eq!(error.failure, WriteFailure::Unavailable);
    assert_eq!(error.code(), Code::ProviderUnavailable);
    assert!(error.failure.is_retryable());
    let attempts = sim.stats().license_writes["injectedUnavailable"];
    assert!(attempts > 1, "retried before giving up: {attempts}");
    assert!(sim.applied_writes().is_empty());

    sim.set_faults(FaultOptions {
        write_unavailable_rate: 0.5,
        ..Default::default()
    });
    let retried = provider_with(&sim, Duration::from_secs(30));
    assert_eq!(
        license_writer(&retried)
            .remove_license(&user, &sku)
            .await
            .expect("removed"),
        LicenseChanged::Removed,
        "a removal retried after 503s ends removed"
    );
}

#[tokio::test]
async fn licensing_groups_are_named_with_how_their_members_are_decided() {
    let sim = writable().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let group = |fixture: &LicenseFixture| fixture.group_id.expect("a group fixture");
    let gone = "00000000-0000-4000-8000-000000000001".to_owned();
    // Graph's ids in any case, one asked twice, one the directory does not have.
    let ids = vec![
        group(&fixtures.static_group).to_string().to_uppercase(),
        group(&fixtures.dynamic_group).to_string(),
        group(&fixtures.synced_group).to_string(),
        group(&fixtures.static_group).to_string(),
        gone,
    ];
    let provider = provider(&sim);
    let mut named = provider.groups(&ids).await.expect("groups read");
    named.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected: Vec<(String, String, bool, bool)> = [
        (&fixtures.static_group, false, false),
        (&fixtures.dynamic_group, true, false),
        (&fixtures.synced_group, false, true),
    ]
    .into_iter()
    .map(|(fixture, dynamic, synced)| {
        let id = group(fixture);
        let name = sim.group(id).expect("the group").display_name;
        (id.to_string(), name, dynamic, synced)
    })
    .collect();
    expected.sort();
    let got: Vec<(String, String, bool, bool)> = named
        .into_iter()
        .map(|g| (g.id, g.display_name, g.dynamic, g.synced_from_on_premises))
        .collect();
    assert_eq!(got, expected, "each group once; the unknown one left out");

    sim.set_permissions(Permissions::default());
    let error = provider.groups(&ids).await.expect_err("refused");
    assert_eq!(error.code, Code::InsufficientPrivileges, "{error}");
    assert!(
        error.hint.contains("GroupMember.Read.All"),
        "{}",
        error.hint
    );
}
