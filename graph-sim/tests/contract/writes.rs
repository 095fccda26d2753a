//! `POST /users/{id}/assignLicense`: effects (licences, assignment states, seats, delta), the
//! error catalogue, the permission check, write limits and write faults.

use graph_sim::{
    FaultOptions, LICENSE_ASSIGNMENT_READ_WRITE_ALL, LicenseFixture, Limit, Permissions,
    SimOptions, SimServer, TenantSpec, WriteLimits,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::*;

const BAD_REQUEST: &str = "Request_BadRequest";

/// A tenant whose app may write licences (and read groups).
async fn writable(users: usize) -> SimServer {
    start_with(
        TenantSpec {
            users,
            seed: 7,
            permissions: Permissions::default().with_license_writes(),
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await
}

fn path(user: impl std::fmt::Display) -> String {
    format!("/v1.0/users/{user}/assignLicense")
}

fn remove(sku: Uuid) -> Value {
    json!({ "addLicenses": [], "removeLicenses": [sku] })
}

fn add(sku: Uuid, disabled: &[Uuid]) -> Value {
    json!({ "addLicenses": [{ "skuId": sku, "disabledPlans": disabled }], "removeLicenses": [] })
}

async fn consumed(sim: &SimServer, t: &str, sku: Uuid) -> i64 {
    let r = get(sim, "/v1.0/subscribedSkus", t).await;
    r.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|s| s["skuId"] == sku.to_string())
        .and_then(|s| s["consumedUnits"].as_i64())
        .expect("SKU listed")
}

async fn licences(sim: &SimServer, t: &str, user: Uuid) -> Value {
    let r = get(
        sim,
        &format!("/v1.0/users/{user}?$select=assignedLicenses,licenseAssignmentStates"),
        t,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// Follows a delta round to its deltaLink, returning the users it listed and the link.
async fn delta_round(url: &str, t: &str) -> (Vec<Value>, String) {
    let mut url = url.to_string();
    let mut users = Vec::new();
    loop {
        let r = get_with(&url, Some(t), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        users.extend(r.body["value"].as_array().expect("value").iter().cloned());
        if let Some(next) = r.body["@odata.nextLink"].as_str() {
            url = next.to_string();
        } else {
            let link = r.body["@odata.deltaLink"].as_str().expect("deltaLink");
            return (users, link.to_string());
        }
    }
}

#[tokio::test]
async fn removing_a_direct_licence_frees_its_seat_and_undo_restores_the_disabled_plans() {
    let sim = writable(40).await;
    let t = token(&sim).await;
    let LicenseFixture {
        user_id, sku_id, ..
    } = sim.license_fixtures().expect("fixtures").direct;
    let before = sim.user(user_id).expect("user");
    let disabled = before.assigned_licenses[0].disabled_plans.clone();
    assert_eq!(disabled.len(), 1, "the direct fixture disables one plan");
    let seats = consumed(&sim, &t, sku_id).await;
    let (_, link) = delta_round(
        &format!(
            "{}/v1.0/users/delta?$select=displayName,assignedLicenses",
            sim.base_url()
        ),
        &t,
    )
    .await;

    let r = post_json(&sim, &path(user_id), &t, &remove(sku_id)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"], user_id.to_string());
    assert_eq!(r.body["assignedLicenses"], json!([]));
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#users/$entity")
    );
    assert_eq!(r.headers["x-ms-resource-unit"], "1");
    assert_eq!(consumed(&sim, &t, sku_id).await, seats - 1);
    let now = licences(&sim, &t, user_id).await;
    assert_eq!(now["assignedLicenses"], json!([]));
    assert_eq!(now["licenseAssignmentStates"], json!([]));
    let (changed, link) = delta_round(&link, &t).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["id"], user_id.to_string());
    assert_eq!(changed[0]["assignedLicenses"], json!([]));

    // Removing it again: Graph says the user does not hold it, and nothing moves.
    let again = post_json(&sim, &path(user_id), &t, &remove(sku_id)).await;
    assert_graph_error(
        &again,
        400,
        BAD_REQUEST,
        "User does not have a corresponding license.",
    );

    // Undo by userPrincipalName, with the disabled plan it had.
    let r = post_json(
        &sim,
        &path(&before.user_principal_name),
        &t,
        &add(sku_id, &disabled),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(consumed(&sim, &t, sku_id).await, seats);
    let now = licences(&sim, &t, user_id).await;
    assert_eq!(
        now["assignedLicenses"],
        json!([{ "disabledPlans": disabled, "skuId": sku_id }])
    );
    let state = &now["licenseAssignmentStates"][0];
    assert_eq!(state["assignedByGroup"], Value::Null);
    assert_eq!(state["state"], "Active");
    assert_eq!(state["error"], "None");
    assert_eq!(state["disabledPlans"], json!(disabled));
    let (changed, _) = delta_round(&link, &t).await;
    assert_eq!(changed.len(), 1);

    let applied = sim.applied_writes_for(user_id);
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[0].remove_licenses, [sku_id]);
    assert_eq!(applied[1].add_licenses[0].disabled_plans, disabled);
    assert_eq!(sim.applied_writes().len(), 2, "nobody else was touched");
    let stats = sim.stats();
    assert_eq!(stats.license_writes["applied"], 2);
    assert_eq!(stats.license_writes["notHeld"], 1);
}

#[tokio::test]
async fn inherited_copies_stay_and_only_a_last_copy_frees_a_seat() {
    let sim = writable(40).await;
    let t = token(&sim).await;
    let f = sim.license_fixtures().expect("fixtures");

    // Direct and inherited: the direct copy goes, the user keeps the licence and the seat.
    let both = f.direct_and_group;
    let seats = consumed(&sim, &t, both.sku_id).await;
    let r = post_json(&sim, &path(both.user_id), &t, &remove(both.sku_id)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(consumed(&sim, &t, both.sku_id).await, seats);
    let now = licences(&sim, &t, both.user_id).await;
    assert_eq!(now["assignedLicenses"][0]["skuId"], both.sku_id.to_string());
    let states = now["licenseAssignmentStates"].as_array().unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["assignedByGroup"], json!(both.group_id));

    // Inherited only: refused, whatever kind of group.
    for inherited in [f.static_group, f.dynamic_group, f.synced_group] {
        let r = post_json(
            &sim,
            &path(inherited.user_id),
            &t,
            &remove(inherited.sku_id),
        )
        .await;
        assert_graph_error(
            &r,
            400,
            BAD_REQUEST,
            "User license is inherited from a group membership and it cannot be removed directly from the user.",
        );
        assert!(
            sim.user(inherited.user_id)
                .unwrap()
                .holds_sku(inherited.sku_id)
        );
    }

    // Direct while the group failed to assign it: removing the direct copy leaves nothing.
    let failed = f.direct_failed_group;
    let seats = consumed(&sim, &t, failed.sku_id).await;
    let r = post_json(&sim, &path(failed.user_id), &t, &remove(failed.sku_id)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(consumed(&sim, &t, failed.sku_id).await, seats - 1);
    assert!(!sim.user(failed.user_id).unwrap().holds_sku(failed.sku_id));
    assert_eq!(sim.stats().license_writes["inheritedFromGroup"], 3);
}

/// Sends `body` for `user` and checks Graph's 400, and that nothing changed.
async fn refused(sim: &SimServer, t: &str, user: &str, body: &str, code: &str, message: &str) {
    let users = sim.users();
    let writes = sim.applied_writes().len();
    let r = post_raw(sim, &path(user), t, body).await;
    assert_graph_error(&r, 400, code, message);
    assert_eq!(sim.users(), users, "nothing changed");
    assert_eq!(sim.applied_writes().len(), writes);
}

#[tokio::test]
async fn malformed_bodies_and_unknown_skus_are_refused_as_graph_does() {
    let sim = writable(40).await;
    let t = token(&sim).await;
    let f = sim.license_fixtures().expect("fixtures").direct;
    let user = f.user_id.to_string();
    let sku = f.sku_id;
    refused(
        &sim,
        &t,
        &user,
        &json!({ "removeLicenses": [sku] }).to_string(),
        BAD_REQUEST,
        "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: addLicenses.",
    )
    .await;
    refused(
        &sim,
        &t,
        &user,
        r#"{"addLicenses": []}"#,
        BAD_REQUEST,
        "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: removeLicenses.",
    )
    .await;
    refused(
        &sim,
        &t,
        &user,
        r#"{"addLicenses": [], "removeLicenses": []}"#,
        BAD_REQUEST,
        "No license changes provided. At least one license to add or remove must be specified.",
    )
    .await;
    refused(
        &sim,
        &t,
        &user,
        r#"{"addLicenses": [], "removeLicenses": ["ENTERPRISEPACK"]}"#,
        BAD_REQUEST,
        "Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details",
    )
    .await;
    refused(
        &sim,
        &t,
        &user,
        "{addLicenses: ",
        "BadRequest",
        "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
    )
    .await;
    let unknown = Uuid::from_u128(0x90d8b3f8_0000_4000_8000_000000000001);
    let message = format!("License {unknown} does not correspond to a valid company License.");
    for body in [remove(unknown), add(unknown, &[])] {
        refused(&sim, &t, &user, &body.to_string(), BAD_REQUEST, &message).await;
    }
    // All or nothing: a valid removal next to an unknown SKU is not applied either.
    let mixed = json!({ "addLicenses": [{ "skuId": unknown }], "removeLicenses": [sku] });
    refused(&sim, &t, &user, &mixed.to_string(), BAD_REQUEST, &message).await;

    let nobody = "nobody@contoso-7.com";
    let r = post_json(&sim, &path(nobody), &t, &remove(sku)).await;
    assert_graph_error(
        &r,
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{nobody}' does not exist or one of its queried reference-property objects are not present."
        ),
    );
    let stats = sim.stats().license_writes;
    assert_eq!(stats["badRequest"], 5);
    assert_eq!(stats["unknownSku"], 3);
    assert_eq!(stats["userNotFound"], 1);
    assert!(!stats.contains_key("applied"));
}

#[tokio::test]
async fn additions_need_a_usage_location_a_free_seat_and_no_conflicting_plan() {
    let sim = writable(40).await;
    let t = token(&sim).await;
    let f = sim.license_fixtures().expect("fixtures").direct;
    let user = f.user_id.to_string();
    assert_eq!(
        post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id))
            .await
            .status,
        StatusCode::OK
    );
    let readd = add(f.sku_id, &[]).to_string();

    // Someone else takes the freed seat, and the last free ones.
    let taker = sim.give_seat_to_someone_else(f.sku_id).expect("taker");
    assert!(taker.holds_sku(f.sku_id) && taker.id != f.user_id);
    sim.fill_seats(f.sku_id).expect("filled");
    assert_eq!(sim.free_seats(f.sku_id).unwrap(), 0);
    let no_seat = format!(
        "Subscription with SKU {} does not have any available licenses.",
        f.sku_id
    );
    refused(&sim, &t, &user, &readd, BAD_REQUEST, &no_seat).await;
    // Updating the disabled plans of a licence already held needs no seat.
    let holder = taker.id;
    let update = post_json(&sim, &path(holder), &t, &add(f.sku_id, &[])).await;
    assert_eq!(update.status, StatusCode::OK, "{}", update.body);

    sim.set_sku_seats(
        f.sku_id,
        sim.skus()
            .iter()
            .find(|s| s.sku_id == f.sku_id)
            .unwrap()
            .prepaid_units
            .enabled
            + 1,
    )
    .expect("one more seat");
    sim.set_usage_location(f.user_id, None).expect("cleared");
    refused(
        &sim,
        &t,
        &user,
        &readd,
        BAD_REQUEST,
        "License assignment cannot be done for user with invalid usage location.",
    )
    .await;
    sim.set_usage_location(f.user_id, Some("NL")).expect("set");

    // A plan of the SKU excludes one of a licence the user holds.
    let other = sim
        .skus()
        .into_iter()
        .find(|s| s.sku_part_number == "EXCHANGESTANDARD")
        .expect("Exchange Online (Plan 1)");
    sim.assign_license(f.user_id, other.sku_id, Vec::new())
        .expect("holds Exchange");
    let ours = sim
        .skus()
        .into_iter()
        .find(|s| s.sku_id == f.sku_id)
        .unwrap();
    let (a, b) = (
        ours.service_plans[1].service_plan_id,
        other.service_plans[0].service_plan_id,
    );
    sim.set_mutually_exclusive_plans(vec![(b, a)]);
    refused(
        &sim,
        &t,
        &user,
        &readd,
        BAD_REQUEST,
        &format!(
            "License assignment failed because service plans {b}, {a} are mutually exclusive."
        ),
    )
    .await;
    // With the conflicting plan disabled the licence is added.
    let r = post_json(&sim, &path(f.user_id), &t, &add(f.sku_id, &[a])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let stats = sim.stats().license_writes;
    assert_eq!(stats["noSeats"], 1);
    assert_eq!(stats["noUsageLocation"], 1);
    assert_eq!(stats["mutuallyExclusive"], 1);
    assert_eq!(stats["applied"], 3);
}

#[tokio::test]
async fn the_token_names_the_permissions_and_writes_need_one_that_allows_them() {
    let sim = start(40).await;
    let t = token(&sim).await;
    let claims = claims_of(&t);
    assert_eq!(
        claims["roles"],
        json!([
            "User.Read.All",
            "Organization.Read.All",
            "AuditLog.Read.All"
        ])
    );
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["appid"], sim.client_id().to_string());
    assert_eq!(claims["tid"], sim.tenant_id().to_string());
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{}/", sim.tenant_id())
    );
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["oid"], claims["sub"]);
    assert!(header_of(&t)["nonce"].is_string(), "a Graph token");

    let f = sim.license_fixtures().expect("fixtures").direct;
    let r = post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id)).await;
    assert_graph_error(
        &r,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );
    assert!(sim.user(f.user_id).unwrap().holds_sku(f.sku_id));
    assert!(sim.applied_writes().is_empty());

    // Graph checks the grant of the moment; a new token shows it in its roles.
    sim.set_permission_names(&["User.Read.All", LICENSE_ASSIGNMENT_READ_WRITE_ALL])
        .expect("known names");
    let fresh = token(&sim).await;
    assert_eq!(
        claims_of(&fresh)["roles"],
        json!(["User.Read.All", "LicenseAssignment.ReadWrite.All"])
    );
    let r = post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // A broader permission allows it too; a read-only one does not.
    for (names, allowed) in [
        (&["Directory.ReadWrite.All"][..], true),
        (&["User.ReadWrite.All"][..], true),
        (&["Directory.Read.All"][..], false),
    ] {
        sim.set_permission_names(names).expect("known names");
        let r = post_json(&sim, &path(f.user_id), &t, &add(f.sku_id, &[])).await;
        assert_eq!(r.status == StatusCode::OK, allowed, "{names:?}: {}", r.body);
        if allowed {
            post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id)).await;
        }
    }
    let r = post_raw(&sim, &path(f.user_id), "", &remove(f.sku_id).to_string()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let stats = sim.stats().license_writes;
    assert_eq!(stats["forbidden"], 2);
    assert_eq!(stats["unauthenticated"], 1);
}

#[tokio::test]
async fn past_the_write_limit_writes_get_429_with_retry_after_and_reads_do_not() {
    let sim = writable(40).await;
    let t = token(&sim).await;
    sim.set_write_limits(WriteLimits {
        per_app_and_tenant: Some(Limit {
            requests: 2,
            window_secs: 3600.0,
        }),
        per_tenant: None,
    });
    let f = sim.license_fixtures().expect("fixtures").direct;
    // Refused writes count too: every write costs one.
    let first = post_json(&sim, &path(Uuid::nil()), &t, &remove(f.sku_id)).await;
    assert_eq!(first.status, StatusCode::NOT_FOUND);
    let second = post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id)).await;
    assert_eq!(second.status, StatusCode::OK);
    let third = post_json(&sim, &path(f.user_id), &t, &add(f.sku_id, &[])).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = third.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("whole seconds");
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_eq!(
        third.headers["x-ms-throttle-scope"].to_str().unwrap(),
        format!(
            "Tenant_Application/Write/{}/{}",
            sim.client_id(),
            sim.tenant_id()
        )
    );
    assert_eq!(
        third.headers["x-ms-throttle-information"],
        "WriteLimitExceeded"
    );
    assert_eq!(third.body["error"]["code"], "TooManyRequests");
    assert!(
        !sim.user(f.user_id).unwrap().holds_sku(f.sku_id),
        "not applied"
    );
    assert_eq!(get(&sim, "/v1.0/users", &t).await.status, StatusCode::OK);

    sim.set_write_limits(WriteLimits {
        per_app_and_tenant: None,
        per_tenant: Some(Limit {
            requests: 1,
            window_secs: 300.0,
        }),
    });
    assert_eq!(
        post_json(&sim, &path(f.user_id), &t, &add(f.sku_id, &[]))
            .await
            .status,
        StatusCode::OK
    );
    let r = post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.headers["x-ms-throttle-scope"]
            .to_str()
            .unwrap()
            .starts_with("Tenant/Write/")
    );
    let stats = sim.stats();
    assert_eq!(stats.write_limited, 2);
    assert_eq!(stats.license_writes["throttled"], 2);

    sim.set_write_limits(WriteLimits::unlimited());
    assert_eq!(
        post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn injected_write_faults_apply_nothing_and_leave_reads_alone() {
    let sim = writable(40).await;
    let t = token(&sim).await;
    let f = sim.license_fixtures().expect("fixtures").direct;
    sim.set_faults(FaultOptions {
        write_throttle_rate: 1.0,
        retry_after_secs: 3.0,
        ..Default::default()
    });
    let r = post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "3");
    assert!(
        r.headers["x-ms-throttle-scope"]
            .to_str()
            .unwrap()
            .starts_with("Tenant_Application/Write/")
    );
    assert_eq!(get(&sim, "/v1.0/users", &t).await.status, StatusCode::OK);
    sim.set_faults(FaultOptions {
        write_unavailable_rate: 1.0,
        throttle_rate: 0.0,
        ..Default::default()
    });
    let r = post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id)).await;
    assert!(
        [StatusCode::SERVICE_UNAVAILABLE, StatusCode::GATEWAY_TIMEOUT].contains(&r.status),
        "{}",
        r.status
    );
    assert!(sim.user(f.user_id).unwrap().holds_sku(f.sku_id));

    // Read faults leave writes alone.
    sim.set_faults(FaultOptions {
        throttle_rate: 1.0,
        ..Default::default()
    });
    let r = post_json(&sim, &path(f.user_id), &t, &remove(f.sku_id)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // A share of writes: every write is either throttled or applied, once.
    sim.set_faults(FaultOptions {
        write_throttle_rate: 0.15,
        retry_after_secs: 0.0,
        ..Default::default()
    });
    let mut applied = 0;
    for _ in 0..40 {
        let body = if applied % 2 == 0 {
            add(f.sku_id, &[])
        } else {
            remove(f.sku_id)
        };
        if post_json(&sim, &path(f.user_id), &t, &body).await.status == StatusCode::OK {
            applied += 1;
        }
    }
    let stats = sim.stats().license_writes;
    assert_eq!(stats["applied"], 1 + applied);
    assert_eq!(stats["injectedThrottle"], 1 + 40 - applied);
    assert!(applied < 40, "some writes were throttled");
    assert_eq!(stats["injectedUnavailable"], 1);
}
