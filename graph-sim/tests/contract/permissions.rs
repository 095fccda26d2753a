use graph_sim::{Permissions, SimOptions, TenantSpec};
use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn no_user_read_all_is_403_on_users_and_delta() {
    let sim = start_with(
        TenantSpec {
            users: 10,
            seed: 7,
            permissions: Permissions {
                user_read_all: false,
                ..Default::default()
            },
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let t = token(&sim).await;
    for path in ["/v1.0/users", "/v1.0/users/delta"] {
        let r = get(&sim, path, &t).await;
        assert_graph_error(
            &r,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    assert_eq!(
        get(&sim, "/v1.0/subscribedSkus", &t).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn no_audit_log_is_403_only_with_sign_in_activity() {
    let sim = start(10).await;
    sim.set_permissions(Permissions {
        audit_log_read_all: false,
        ..Default::default()
    });
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users?$select=displayName,signInActivity", &t).await;
    assert_graph_error(
        &r,
        403,
        "Authentication_MSGraphPermissionMissing",
        "Calling principal does not have required MSGraph permissions AuditLog.Read.All",
    );
    assert_eq!(
        get(&sim, "/v1.0/users?$select=displayName", &t)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn non_premium_tenant_is_403_with_sign_in_activity() {
    let sim = start_with(
        TenantSpec {
            users: 10,
            seed: 7,
            premium: false,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users?$select=id,signInActivity&$top=500", &t).await;
    assert_graph_error(
        &r,
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
    );
    assert_eq!(
        get(&sim, "/v1.0/users?$select=id,assignedLicenses", &t)
            .await
            .status,
        StatusCode::OK
    );
    sim.set_premium(true);
    assert_eq!(
        get(&sim, "/v1.0/users?$select=id,signInActivity", &t)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn no_organization_read_is_403_on_org_endpoints() {
    let sim = start(10).await;
    sim.set_permissions(Permissions {
        organization_read_all: false,
        ..Default::default()
    });
    let t = token(&sim).await;
    for path in [
        "/v1.0/subscribedSkus",
        "/v1.0/directory/subscriptions",
        "/v1.0/organization",
    ] {
        let r = get(&sim, path, &t).await;
        assert_graph_error(
            &r,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    assert_eq!(get(&sim, "/v1.0/users", &t).await.status, StatusCode::OK);
}
