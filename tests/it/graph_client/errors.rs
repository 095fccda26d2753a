//! Graph 403s mapped to the permission or licence the admin must add.

use graph_sim::{Permissions, SimOptions, TenantSpec};
use license_manager::providers::microsoft365::graph::{
    DeltaStart, ErrorKind, GraphError, Permission, SignInUnavailableReason, UserQuery,
};

use super::common::*;

async fn first_error<T>(
    stream: license_manager::providers::microsoft365::graph::PageStream<T>,
) -> GraphError {
    all_pages(stream)
        .await
        .err()
        .expect("the listing is refused")
}

#[tokio::test]
async fn missing_user_read_all_names_it() {
    let permissions = Permissions {
        user_read_all: false,
        ..Default::default()
    };
    let sim = start_spec(
        TenantSpec {
            users: 5,
            permissions,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let client = client(&sim);
    let e = first_error(client.users(UserQuery::default())).await;
    assert_eq!(e.code().as_str(), "INSUFFICIENT_PRIVILEGES");
    assert_eq!(
        *e.kind(),
        ErrorKind::InsufficientPrivileges {
            permission: Permission::UserReadAll
        }
    );
    assert_eq!(e.graph_code(), Some("Authorization_RequestDenied"));
    assert_eq!(e.status(), Some(403));
    assert!(e.request_id().is_some());
    assert!(e.hint().contains("User.Read.All") && e.hint().contains("admin consent"));
    let e = first_error(client.users_delta(DeltaStart::Initial, Default::default())).await;
    assert!(e.hint().contains("User.Read.All"));
    assert_eq!(
        sim.stats().count("/v1.0/users", 403),
        1,
        "403 is not retried"
    );
}

#[tokio::test]
async fn missing_organization_read_all_names_it() {
    let permissions = Permissions {
        organization_read_all: false,
        ..Default::default()
    };
    let sim = start_spec(
        TenantSpec {
            users: 5,
            permissions,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let client = client(&sim);
    for e in [
        client.subscribed_skus().await.unwrap_err(),
        client.subscriptions().await.unwrap_err(),
        client.organization().await.unwrap_err(),
    ] {
        assert_eq!(e.code().as_str(), "INSUFFICIENT_PRIVILEGES");
        assert!(
            e.hint().contains("Organization.Read.All") && e.hint().contains("admin consent"),
            "{}",
            e.hint()
        );
    }
}

#[tokio::test]
async fn sign_in_activity_without_audit_log_permission() {
    let permissions = Permissions {
        audit_log_read_all: false,
        ..Default::default()
    };
    let sim = start_spec(
        TenantSpec {
            users: 5,
            permissions,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let client = client(&sim);
    for e in [
        first_error(client.users(UserQuery {
            sign_in_activity: true,
            page_size: None,
        }))
        .await,
        first_error(client.sign_in_activity()).await,
    ] {
        assert_eq!(e.code().as_str(), "SIGN_IN_ACTIVITY_UNAVAILABLE");
        assert_eq!(
            e.sign_in_unavailable(),
            Some(SignInUnavailableReason::MissingAuditLogPermission)
        );
        assert!(e.hint().contains("AuditLog.Read.All"));
    }
    // The same listing without sign-in data still works.
    assert_eq!(
        all_pages(client.users(UserQuery::default())).await.unwrap()[0]
            .items
            .len(),
        5
    );
}

#[tokio::test]
async fn sign_in_activity_on_a_tenant_without_premium() {
    let sim = start_spec(
        TenantSpec {
            users: 5,
            premium: false,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let client = client(&sim);
    let e = first_error(client.users(UserQuery {
        sign_in_activity: true,
        page_size: None,
    }))
    .await;
    assert_eq!(e.code().as_str(), "SIGN_IN_ACTIVITY_UNAVAILABLE");
    assert_eq!(
        e.sign_in_unavailable(),
        Some(SignInUnavailableReason::TenantNotPremium)
    );
    assert!(e.hint().contains("P1 or P2"));
    assert_eq!(
        e.graph_code(),
        Some("Authentication_RequestFromNonPremiumTenantOrB2CTenant")
    );
}

#[tokio::test]
async fn no_error_reveals_the_secret() {
    let permissions = Permissions {
        user_read_all: false,
        audit_log_read_all: false,
        ..Default::default()
    };
    let sim = start_spec(
        TenantSpec {
            users: 5,
            permissions,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let secret = sim.client_secret();
    let client = client(&sim);
    let mut errors = vec![
        first_error(client.users(UserQuery::default())).await,
        first_error(client.sign_in_activity()).await,
    ];
    sim.set_secret_expired(true);
    errors.push(client.verify_credentials().await.unwrap_err());
    for e in &errors {
        assert_secret_hidden(e, &secret);
    }
    assert!(!format!("{:?}", credentials(&sim)).contains(&secret));
}
