use std::collections::HashSet;

use graph_sim::{NoErrorAs, SimOptions, TenantSpec, UserType};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

const DEFAULT_KEYS: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn default_properties_and_page_size() {
    let sim = start(250).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users", &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/v1.0/$metadata#users", sim.base_url())
    );
    let value = r.body["value"].as_array().unwrap();
    assert_eq!(value.len(), 100, "default page size is 100");
    for u in value {
        assert_eq!(keys(u), DEFAULT_KEYS);
        assert!(u["businessPhones"].is_array());
    }
    let next = r.body["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&format!("{}/v1.0/users?", sim.base_url())));
    assert!(next.contains("$skiptoken="));
}

#[tokio::test]
async fn select_returns_only_selected_plus_id() {
    let sim = start(50).await;
    let t = token(&sim).await;
    let r = get(
        &sim,
        "/v1.0/users?$select=displayName,userPrincipalName,signInActivity",
        &t,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["@odata.context"],
        format!(
            "{}/v1.0/$metadata#users(displayName,userPrincipalName,signInActivity)",
            sim.base_url()
        )
    );
    for u in r.body["value"].as_array().unwrap() {
        let k = keys(u);
        assert!(k.contains(&"id".to_string()) && k.contains(&"displayName".to_string()));
        assert!(k.iter().all(|k| {
            ["id", "displayName", "userPrincipalName", "signInActivity"].contains(&k.as_str())
        }));
    }
    // Unknown property: 400.
    let r = get(&sim, "/v1.0/users?$select=displayName,bogus", &t).await;
    assert_graph_error(
        &r,
        400,
        "Request_BadRequest",
        "Could not find a property named 'bogus' on type 'microsoft.graph.user'.",
    );
}

#[tokio::test]
async fn top_out_of_range_is_documented_400() {
    let sim = start(5).await;
    let t = token(&sim).await;
    for top in ["1000", "0", "-1"] {
        let r = get(&sim, &format!("/v1.0/users?$top={top}"), &t).await;
        assert_graph_error(
            &r,
            400,
            "Request_BadRequest",
            &format!("Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."),
        );
    }
}

#[tokio::test]
async fn paging_returns_every_user_once_with_nextlink_keeping_params() {
    let sim = start(2500).await;
    let t = token(&sim).await;
    let first = format!(
        "{}/v1.0/users?$select=id,userPrincipalName,mail,displayName,accountEnabled,createdDateTime,assignedLicenses,userType&$top=999",
        sim.base_url()
    );
    let mut url = first.clone();
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    loop {
        let r = get_with(&url, Some(&t), &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        let v = r.body["value"].as_array().unwrap();
        sizes.push(v.len());
        ids.extend(v.iter().map(|u| u["id"].as_str().unwrap().to_string()));
        match r.body.get("@odata.nextLink") {
            Some(Value::String(n)) => {
                assert!(n.starts_with(sim.base_url()));
                assert!(n.contains("$select=id,userPrincipalName"), "{n}");
                assert!(n.contains("$top=999"), "{n}");
                assert_eq!(n.matches("$skiptoken=").count(), 1);
                url = n.clone();
            }
            Some(other) => panic!("nextLink must be a string, got {other}"),
            None => break,
        }
    }
    assert_eq!(sizes, vec![999, 999, 502]);
    let truth: Vec<String> = sim.users().iter().map(|u| u.id.to_string()).collect();
    assert_eq!(ids, truth, "every user exactly once, in order");
}

#[tokio::test]
async fn properties_match_ground_truth_and_documented_types() {
    let sim = start(1500).await;
    let t = token(&sim).await;
    let url = format!(
        "{}/v1.0/users?$select=id,userPrincipalName,mail,displayName,accountEnabled,createdDateTime,assignedLicenses,licenseAssignmentStates,userType,signInActivity&$top=500",
        sim.base_url()
    );
    let (items, pages) = collect_pages(&url, &t).await;
    assert_eq!(pages, 3);
    let truth = sim.users();
    assert_eq!(items.len(), truth.len());
    let mut saw = HashSet::new();
    for (u, g) in items.iter().zip(truth.iter()) {
        assert_eq!(u["id"], g.id.to_string());
        assert_eq!(u["userPrincipalName"], g.user_principal_name);
        assert_eq!(u["accountEnabled"], g.account_enabled);
        assert!(u["accountEnabled"].is_boolean());
        assert_eq!(u["userType"], g.user_type.as_str());
        // Nullable properties are present and null.
        assert!(u.get("mail").is_some() && u.get("createdDateTime").is_some());
        if g.mail.is_none() {
            assert!(u["mail"].is_null());
            saw.insert("mail-null");
        }
        if g.created_date_time.is_none() {
            assert!(u["createdDateTime"].is_null());
            saw.insert("created-null");
        } else {
            let s = u["createdDateTime"].as_str().unwrap();
            assert!(s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok());
        }
        if g.user_type == UserType::Guest {
            assert!(u["userPrincipalName"].as_str().unwrap().contains("#EXT#@"));
            saw.insert("guest");
        }
        if !g.account_enabled {
            saw.insert("disabled");
        }
        if !g.display_name.as_deref().unwrap_or("").is_ascii() {
            saw.insert("non-ascii");
        }
        // assignedLicenses: [{skuId, disabledPlans}]
        let lic = u["assignedLicenses"].as_array().unwrap();
        assert_eq!(lic.len(), g.assigned_licenses.len());
        for (l, gl) in lic.iter().zip(&g.assigned_licenses) {
            assert_eq!(keys(l), ["disabledPlans", "skuId"]);
            assert_eq!(l["skuId"], gl.sku_id.to_string());
            assert_eq!(
                l["disabledPlans"].as_array().unwrap().len(),
                gl.disabled_plans.len()
            );
        }
        if lic.is_empty() {
            saw.insert("unlicensed");
        }
        for s in u["licenseAssignmentStates"].as_array().unwrap() {
            assert_eq!(
                keys(s),
                [
                    "assignedByGroup",
                    "disabledPlans",
                    "error",
                    "lastUpdatedDateTime",
                    "skuId",
                    "state"
                ]
            );
            assert!(
                ["Active", "ActiveWithError", "Disabled", "Error"]
                    .contains(&s["state"].as_str().unwrap())
            );
            if s["assignedByGroup"].is_string() {
                saw.insert("group");
            }
            if s["error"] == "CountViolation" {
                saw.insert("count-violation");
            }
        }
        // signInActivity: absent for never-signed-in users, else all six fields.
        match &g.sign_in_activity {
            None => {
                assert!(u.get("signInActivity").is_none());
                saw.insert("never-signed-in");
            }
            Some(_) => {
                let s = &u["signInActivity"];
                assert_eq!(
                    keys(s),
                    [
                        "lastNonInteractiveSignInDateTime",
                        "lastNonInteractiveSignInRequestId",
                        "lastSignInDateTime",
                        "lastSignInRequestId",
                        "lastSuccessfulSignInDateTime",
                        "lastSuccessfulSignInRequestId"
                    ]
                );
                if s["lastSuccessfulSignInDateTime"].is_null() || s["lastSignInDateTime"].is_null()
                {
                    saw.insert("null-sign-in-field");
                }
            }
        }
    }
    for want in [
        "mail-null",
        "created-null",
        "guest",
        "disabled",
        "non-ascii",
        "unlicensed",
        "group",
        "count-violation",
        "never-signed-in",
        "null-sign-in-field",
    ] {
        assert!(saw.contains(want), "tenant should contain {want}");
    }
}

#[tokio::test]
async fn sign_in_activity_caps_page_at_500() {
    let sim = start(1200).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users?$select=id,signInActivity&$top=999", &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 500);
    assert!(r.body["@odata.nextLink"].is_string());
}

#[tokio::test]
async fn page_cap_is_configurable() {
    let sim = start_with(
        TenantSpec {
            users: 300,
            seed: 7,
            ..Default::default()
        },
        SimOptions {
            signin_page_cap: 120,
            ..Default::default()
        },
    )
    .await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users?$select=id,signInActivity&$top=500", &t).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 120);
}

#[tokio::test]
async fn last_page_has_no_nextlink() {
    let sim = start(30).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users?$top=999", &t).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 30);
    assert!(r.body.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn bad_skiptoken_is_400() {
    let sim = start(5).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users?$skiptoken=garbage", &t).await;
    assert_graph_error(
        &r,
        400,
        "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your request.",
    );
}

#[tokio::test]
async fn count_needs_consistency_level() {
    let sim = start(42).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users?$count=true&$top=1", &t).await;
    assert!(r.body.get("@odata.count").is_none());
    let url = format!("{}/v1.0/users?$count=true&$top=1", sim.base_url());
    let r = get_with(&url, Some(&t), &[("ConsistencyLevel", "eventual")]).await;
    assert_eq!(r.body["@odata.count"], 42);
}

#[tokio::test]
async fn authentication_failures_are_401_with_documented_messages() {
    let sim = start(5).await;
    let url = format!("{}/v1.0/users", sim.base_url());
    let www = |r: &Reply| {
        r.headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string())
    };

    let r = get_with(&url, None, &[]).await;
    assert_graph_error(
        &r,
        401,
        "InvalidAuthenticationToken",
        "Access token is empty.",
    );
    assert!(www(&r).unwrap().starts_with("Bearer realm=\"\""));

    let r = get_with(&url, Some("garbage"), &[]).await;
    assert_graph_error(
        &r,
        401,
        "InvalidAuthenticationToken",
        "CompactToken parsing failed with error code: 80049217",
    );
    assert!(www(&r).is_some());

    let t = token(&sim).await;
    sim.expire_tokens();
    let r = get_with(&url, Some(&t), &[]).await;
    assert_graph_error(
        &r,
        401,
        "InvalidAuthenticationToken",
        "Access token has expired or is not yet valid.",
    );
    assert!(www(&r).is_some());

    // A fresh token works again.
    let t = token(&sim).await;
    assert_eq!(get_with(&url, Some(&t), &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn request_ids_and_client_request_id_echo() {
    let sim = start(5).await;
    let t = token(&sim).await;
    let url = format!("{}/v1.0/users", sim.base_url());
    let r = get_with(
        &url,
        Some(&t),
        &[("client-request-id", "5f3a3c7e-1111-2222-3333-444455556666")],
    )
    .await;
    assert_eq!(
        r.headers["client-request-id"],
        "5f3a3c7e-1111-2222-3333-444455556666"
    );
    assert!(is_guid(&Value::String(
        r.headers["request-id"].to_str().unwrap().to_string()
    )));
    // And in error bodies.
    let r = get_with(
        &url,
        Some("bad"),
        &[("client-request-id", "5f3a3c7e-1111-2222-3333-444455556666")],
    )
    .await;
    assert_eq!(
        r.body["error"]["innerError"]["client-request-id"],
        "5f3a3c7e-1111-2222-3333-444455556666"
    );
    // Without one, client-request-id equals request-id.
    let r = get_with(&url, Some(&t), &[]).await;
    assert_eq!(r.headers["client-request-id"], r.headers["request-id"]);
}

#[tokio::test]
async fn unknown_segment_is_400() {
    let sim = start(5).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/nothing", &t).await;
    assert_graph_error(
        &r,
        400,
        "BadRequest",
        "Resource not found for the segment 'nothing'.",
    );
}

#[tokio::test]
async fn filter_subset() {
    let sim = start(800).await;
    let t = token(&sim).await;
    let truth = sim.users();

    let (items, _) = collect_pages(
        &format!(
            "{}/v1.0/users?$filter=accountEnabled eq false&$select=id,accountEnabled&$top=50",
            sim.base_url()
        ),
        &t,
    )
    .await;
    assert_eq!(
        items.len(),
        truth.iter().filter(|u| !u.account_enabled).count()
    );
    assert!(items.iter().all(|u| u["accountEnabled"] == false));

    let (items, _) = collect_pages(
        &format!(
            "{}/v1.0/users?$filter=userType eq 'Guest'&$select=id,userType",
            sim.base_url()
        ),
        &t,
    )
    .await;
    assert_eq!(
        items.len(),
        truth
            .iter()
            .filter(|u| u.user_type == UserType::Guest)
            .count()
    );

    let cutoff = "2026-01-01T00:00:00Z";
    let when = chrono::DateTime::parse_from_rfc3339(cutoff).unwrap();
    let (items, _) = collect_pages(
        &format!(
            "{}/v1.0/users?$filter=signInActivity/lastSignInDateTime le {cutoff}&$select=id,signInActivity&$top=999",
            sim.base_url()
        ),
        &t,
    )
    .await;
    let expected = truth
        .iter()
        .filter(|u| {
            u.sign_in_activity
                .as_ref()
                .and_then(|s| s.last_sign_in_date_time)
                .is_some_and(|d| d <= when)
        })
        .count();
    assert_eq!(items.len(), expected);

    let r = get(&sim, "/v1.0/users?$filter=jobTitle ne 'x'", &t).await;
    assert_graph_error(&r, 400, "Request_UnsupportedQuery", "Unsupported Query.");
    let url = format!(
        "{}/v1.0/users?$count=true&$filter=accountEnabled eq true&$top=1",
        sim.base_url()
    );
    let r = get_with(&url, Some(&t), &[("ConsistencyLevel", "eventual")]).await;
    assert_eq!(
        r.body["@odata.count"],
        truth.iter().filter(|u| u.account_enabled).count()
    );
}

#[tokio::test]
async fn single_user_by_id_or_upn() {
    let sim = start(20).await;
    let t = token(&sim).await;
    let u = sim.users()[3].clone();
    let r = get(
        &sim,
        &format!("/v1.0/users/{}?$select=displayName,signInActivity", u.id),
        &t,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["id"], u.id.to_string());
    assert_eq!(
        r.body["@odata.context"],
        format!(
            "{}/v1.0/$metadata#users(displayName,signInActivity)/$entity",
            sim.base_url()
        )
    );
    let upn = form_urlencoded::byte_serialize(u.user_principal_name.as_bytes()).collect::<String>();
    let r = get(&sim, &format!("/v1.0/users/{upn}"), &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["userPrincipalName"], u.user_principal_name);
    // signInActivity by UPN is refused.
    let r = get(
        &sim,
        &format!("/v1.0/users/{upn}?$select=signInActivity"),
        &t,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let missing = uuid::Uuid::new_v4();
    let r = get(&sim, &format!("/v1.0/users/{missing}"), &t).await;
    assert_graph_error(
        &r,
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{missing}' does not exist or one of its queried reference-property objects are not present."
        ),
    );
}

#[tokio::test]
async fn users_count_endpoint() {
    let sim = start(37).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users/$count", &t).await;
    assert_graph_error(
        &r,
        400,
        "Request_BadRequest",
        "$count is not currently supported.",
    );
    let resp = client()
        .get(format!("{}/v1.0/users/$count", sim.base_url()))
        .bearer_auth(&t)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(resp.text().await.unwrap(), "37");
}

/// Every `licenseAssignmentStates` entry of every user, as one listing sends them, by user id.
async fn states_on_the_wire(sim: &graph_sim::SimServer) -> Vec<(String, Value)> {
    let t = token(sim).await;
    let url = format!(
        "{}/v1.0/users?$select=id,licenseAssignmentStates&$top=999",
        sim.base_url()
    );
    let (items, _) = collect_pages(&url, &t).await;
    items
        .iter()
        .flat_map(|u| {
            let id = u["id"].as_str().expect("id").to_owned();
            u["licenseAssignmentStates"]
                .as_array()
                .expect("states")
                .iter()
                .map(move |s| (id.clone(), s.clone()))
        })
        .collect()
}

#[tokio::test]
async fn an_assignment_without_error_is_sent_as_none_as_the_service_does() {
    let sim = start(800).await;
    let states = states_on_the_wire(&sim).await;
    let truth = sim.users();
    let mut failing = 0;
    for (id, state) in &states {
        let user = truth
            .iter()
            .find(|u| u.id.to_string() == *id)
            .expect("a listed user is in the tenant");
        let entry = user
            .license_assignment_states
            .iter()
            .find(|e| {
                e.sku_id.to_string() == state["skuId"]
                    && e.assigned_by_group.map(|g| g.to_string())
                        == state["assignedByGroup"].as_str().map(str::to_owned)
            })
            .expect("every entry sent is one of the user's");
        match &entry.error {
            None => assert_eq!(state["error"], "None", "{state}"),
            Some(error) => {
                assert_eq!(state["error"], error.as_str());
                failing += 1;
            }
        }
    }
    assert!(failing > 0, "some assignments fail");

    // A user holds a SKU directly (Active, "None") and through a group that failed to assign it.
    let both = states.iter().any(|(id, direct)| {
        direct["assignedByGroup"].is_null()
            && direct["state"] == "Active"
            && direct["error"] == "None"
            && states.iter().any(|(other, group)| {
                other == id
                    && group["skuId"] == direct["skuId"]
                    && group["assignedByGroup"].is_string()
                    && group["state"] == "Error"
                    && ["CountViolation", "MutuallyExclusiveViolation"]
                        .contains(&group["error"].as_str().unwrap_or_default())
            })
    });
    assert!(
        both,
        "a user holds a SKU directly and through a failing group"
    );
}

#[tokio::test]
async fn a_tenant_may_send_null_for_an_assignment_without_error() {
    let sim = start_with(
        TenantSpec {
            users: 300,
            seed: 7,
            no_error_as: NoErrorAs::Null,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let states = states_on_the_wire(&sim).await;
    assert!(states.iter().any(|(_, s)| s["error"].is_null()));
    assert!(states.iter().all(|(_, s)| s["error"] != "None"));

    // The control API switches it for later answers.
    let patched = client()
        .patch(format!("{}/_sim/tenant", sim.base_url()))
        .json(&serde_json::json!({ "noErrorAs": "noneText" }))
        .send()
        .await
        .expect("patched");
    assert_eq!(patched.status(), StatusCode::OK);
    let body: Value = patched.json().await.expect("json");
    assert_eq!(body["noErrorAs"], "noneText");
    let states = states_on_the_wire(&sim).await;
    assert!(states.iter().all(|(_, s)| !s["error"].is_null()));
}
