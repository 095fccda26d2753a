//! Licensing groups (`GET /groups/{id}`), the planted licence cases, reading a user as a
//! reclaim re-reads it, and the control API a reclaim test drives.

use graph_sim::{FIXTURE_COUNT, Permissions, SimOptions, TenantSpec, generate};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn groups_say_how_their_membership_is_managed() {
    let sim = start(40).await;
    let f = sim.license_fixtures().expect("fixtures");
    let t = token(&sim).await;
    let group = f.static_group.group_id.expect("group");
    let select = "id,displayName,groupTypes,membershipRule,membershipRuleProcessingState,onPremisesSyncEnabled,assignedLicenses";
    let url = format!("/v1.0/groups/{group}?$select={select}");

    // The read permissions of a sync do not cover groups.
    assert_graph_error(
        &get(&sim, &url, &t).await,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );
    sim.set_permissions(Permissions::default().with_license_writes());

    let expect = [
        (f.static_group, json!([]), Value::Null, Value::Null),
        (
            f.dynamic_group,
            json!(["DynamicMembership"]),
            json!("On"),
            Value::Null,
        ),
        (f.synced_group, json!([]), Value::Null, json!(true)),
    ];
    for (fixture, types, processing, synced) in expect {
        let id = fixture.group_id.expect("group");
        let r = get(&sim, &format!("/v1.0/groups/{id}?$select={select}"), &t).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let g = &r.body;
        assert_eq!(g["id"], id.to_string());
        assert_eq!(g["groupTypes"], types);
        assert_eq!(g["membershipRuleProcessingState"], processing);
        assert_eq!(g["membershipRule"].is_string(), processing.is_string());
        assert_eq!(g["onPremisesSyncEnabled"], synced);
        assert_eq!(
            g["assignedLicenses"],
            json!([{ "disabledPlans": [], "skuId": fixture.sku_id }])
        );
        assert_eq!(
            g["@odata.context"],
            format!("{}/v1.0/$metadata#groups({select})/$entity", sim.base_url())
        );
        assert_eq!(g.as_object().unwrap().len(), 8, "only what was selected");
    }

    // Without $select: the default set, which leaves assignedLicenses out.
    let r = get(&sim, &format!("/v1.0/groups/{group}"), &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.get("assignedLicenses").is_none());
    assert_eq!(r.body["securityEnabled"], true);
    assert_graph_error(
        &get(&sim, &format!("/v1.0/groups/{group}?$select=members"), &t).await,
        400,
        "Request_BadRequest",
        "Could not find a property named 'members' on type 'microsoft.graph.group'.",
    );
    let unknown = uuid::Uuid::from_u128(5);
    assert_graph_error(
        &get(&sim, &format!("/v1.0/groups/{unknown}"), &t).await,
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{unknown}' does not exist or one of its queried reference-property objects are not present."
        ),
    );
}

#[test]
fn every_generated_tenant_of_ten_users_or_more_has_each_licence_case() {
    for (users, seed) in [(10, 1), (40, 7), (2000, 13)] {
        let spec = TenantSpec {
            users,
            seed,
            ..Default::default()
        };
        let tenant = generate(&spec);
        assert_eq!(generate(&spec), tenant, "deterministic");
        let f = tenant.license_fixtures.expect("fixtures");
        let tail: Vec<_> = tenant.users[users - FIXTURE_COUNT..].iter().collect();
        let ids = [
            f.direct,
            f.static_group,
            f.dynamic_group,
            f.synced_group,
            f.direct_and_group,
            f.direct_error,
            f.direct_failed_group,
        ];
        for (user, fixture) in tail.iter().zip(ids) {
            assert_eq!(user.id, fixture.user_id);
            assert!(user.account_enabled && user.usage_location.is_some());
            assert_eq!(user.assigned_licenses.len(), 1);
            assert_eq!(user.assigned_licenses[0].sku_id, fixture.sku_id);
        }
        let sources = |user: &graph_sim::User| -> Vec<(bool, String, Option<String>)> {
            user.license_assignment_states
                .iter()
                .map(|s| {
                    (
                        s.assigned_by_group.is_some(),
                        s.state.clone(),
                        s.error.clone(),
                    )
                })
                .collect()
        };
        let active = |group: bool| (group, "Active".to_string(), None);
        assert_eq!(sources(tail[0]), [active(false)]);
        for inherited in &tail[1..4] {
            assert_eq!(sources(inherited), [active(true)]);
        }
        assert_eq!(sources(tail[4]), [active(false), active(true)]);
        assert_eq!(
            sources(tail[5]),
            [(
                false,
                "ActiveWithError".into(),
                Some("MutuallyExclusiveViolation".into())
            )]
        );
        assert_eq!(
            sources(tail[6]),
            [
                active(false),
                (true, "Error".into(), Some("CountViolation".into()))
            ]
        );
        let group = |id| {
            tenant
                .groups
                .iter()
                .find(|g| Some(g.id) == id)
                .expect("group")
        };
        assert!(!group(f.static_group.group_id).is_dynamic());
        assert!(group(f.dynamic_group.group_id).is_dynamic());
        assert_eq!(
            group(f.synced_group.group_id).on_premises_sync_enabled,
            Some(true)
        );
    }
    let small = generate(&TenantSpec {
        users: 9,
        ..Default::default()
    });
    assert!(small.license_fixtures.is_none());
}

#[tokio::test]
async fn a_user_reads_as_a_reclaim_rereads_it_and_signs_in_through_the_control_api() {
    let sim = start(40).await;
    let t = token(&sim).await;
    let f = sim.license_fixtures().expect("fixtures").direct;
    let url = format!(
        "/v1.0/users/{}?$select=assignedLicenses,licenseAssignmentStates,accountEnabled,signInActivity",
        f.user_id
    );
    let r = get(&sim, &url, &t).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "assignedLicenses",
        "licenseAssignmentStates",
        "accountEnabled",
        "signInActivity",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    let before = r.body["signInActivity"]["lastSignInDateTime"].clone();
    assert!(before.is_string());

    let control = |p: &str| format!("{}/_sim{p}", sim.base_url());
    let signed = client()
        .post(control(&format!("/users/{}/sign-in", f.user_id)))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(signed.status(), StatusCode::OK);
    let after = get(&sim, &url, &t).await.body["signInActivity"]["lastSignInDateTime"].clone();
    assert!(after.as_str() > before.as_str(), "{before} → {after}");

    let cleared = client()
        .patch(control(&format!("/users/{}", f.user_id)))
        .json(&json!({ "usageLocation": null }))
        .send()
        .await
        .expect("patch");
    assert_eq!(cleared.status(), StatusCode::OK);
    assert!(sim.user(f.user_id).unwrap().usage_location.is_none());

    let put = client()
        .put(control("/permissions"))
        .json(&json!({ "roles": ["Directory.Read.All", "LicenseAssignment.ReadWrite.All"] }))
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::OK);
    assert!(sim.permissions().can_assign_licenses());
    let typo = client()
        .put(control("/permissions"))
        .json(&json!({ "roles": ["LicenseAssignment.ReadWrite"] }))
        .send()
        .await
        .expect("put");
    assert_eq!(typo.status(), StatusCode::BAD_REQUEST);

    let limits = client()
        .put(control("/limits"))
        .json(&json!({ "perAppAndTenant": { "requests": 5, "windowSecs": 10 } }))
        .send()
        .await
        .expect("limits");
    assert_eq!(limits.status(), StatusCode::OK);
    assert_eq!(sim.write_limits().per_app_and_tenant.unwrap().requests, 5);

    let seat = client()
        .post(control(&format!("/skus/{}/give-seat", f.sku_id)))
        .send()
        .await
        .expect("seat");
    assert_eq!(seat.status(), StatusCode::OK);
    let fill: Value = client()
        .post(control(&format!("/skus/{}/fill", f.sku_id)))
        .send()
        .await
        .expect("fill")
        .json()
        .await
        .expect("json");
    assert!(fill["users"].is_array());
    assert_eq!(sim.free_seats(f.sku_id).unwrap(), 0);

    let fixtures: Value = client()
        .get(control("/fixtures"))
        .send()
        .await
        .expect("fixtures")
        .json()
        .await
        .expect("json");
    assert_eq!(fixtures["direct"]["userId"], f.user_id.to_string());
    let writes: Value = client()
        .get(control(&format!("/writes?user={}", f.user_id)))
        .send()
        .await
        .expect("writes")
        .json()
        .await
        .expect("json");
    assert_eq!(writes, json!([]));
}

#[tokio::test]
async fn a_tenant_file_keeps_groups_and_fixtures() {
    let sim = start_with(
        TenantSpec {
            users: 12,
            seed: 3,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let text = sim.snapshot().to_json().expect("json");
    let back = graph_sim::Tenant::from_json(&text).expect("parsed");
    assert_eq!(back.groups, sim.groups());
    assert_eq!(back.license_fixtures, sim.license_fixtures());
}
