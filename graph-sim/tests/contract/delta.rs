use graph_sim::{NewUser, SimOptions, TenantSpec, UserPatch};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

struct Round {
    items: Vec<Value>,
    pages: usize,
    delta_link: String,
    contexts: Vec<String>,
}

/// Follows nextLinks until a deltaLink; checks that each page has exactly one of them.
async fn round(first_url: &str, token: &str, headers: &[(&str, &str)]) -> Round {
    let mut url = first_url.to_string();
    let mut items = Vec::new();
    let mut pages = 0;
    let mut contexts = Vec::new();
    loop {
        let r = get_with(&url, Some(token), headers).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        pages += 1;
        contexts.push(r.body["@odata.context"].as_str().unwrap().to_string());
        items.extend(r.body["value"].as_array().unwrap().iter().cloned());
        let next = r.body.get("@odata.nextLink").and_then(Value::as_str);
        let delta = r.body.get("@odata.deltaLink").and_then(Value::as_str);
        match (next, delta) {
            (Some(n), None) => {
                assert!(n.contains("/v1.0/users/delta?$skiptoken="), "{n}");
                url = n.to_string();
            }
            (None, Some(d)) => {
                assert!(d.contains("/v1.0/users/delta?$deltatoken="), "{d}");
                return Round {
                    items,
                    pages,
                    delta_link: d.to_string(),
                    contexts,
                };
            }
            other => panic!("a page must carry exactly one of nextLink/deltaLink, got {other:?}"),
        }
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn initial_round_pages_of_200_then_delta_link() {
    let sim = start(1000).await;
    let t = token(&sim).await;
    let url = format!(
        "{}/v1.0/users/delta?$select=displayName,userPrincipalName,assignedLicenses",
        sim.base_url()
    );
    let r = round(&url, &t, &[]).await;
    assert_eq!(r.pages, 5);
    assert_eq!(r.items.len(), 1000);
    assert_eq!(
        r.contexts[0],
        format!(
            "{}/v1.0/$metadata#users(displayName,userPrincipalName,assignedLicenses)",
            sim.base_url()
        )
    );
    let truth: Vec<String> = sim.users().iter().map(|u| u.id.to_string()).collect();
    assert_eq!(r.items.iter().map(id_of).collect::<Vec<_>>(), truth);
    for u in &r.items {
        let mut k: Vec<_> = u.as_object().unwrap().keys().cloned().collect();
        k.sort();
        assert_eq!(
            k,
            ["assignedLicenses", "displayName", "id", "userPrincipalName"]
        );
    }
    // No changes: empty value and a new deltaLink.
    let again = round(&r.delta_link, &t, &[]).await;
    assert_eq!(again.pages, 1);
    assert!(again.items.is_empty());
}

#[tokio::test]
async fn later_round_reports_exactly_the_changes() {
    let sim = start(300).await;
    let t = token(&sim).await;
    let url = format!(
        "{}/v1.0/users/delta?$select=displayName,accountEnabled,assignedLicenses,userPrincipalName",
        sim.base_url()
    );
    let first = round(&url, &t, &[]).await;
    let users = sim.users();
    let sku = sim
        .skus()
        .iter()
        .map(|k| k.sku_id)
        .find(|k| !users[2].holds_sku(*k))
        .unwrap();

    let added = sim.add_user(NewUser::named("Zoë Ångström")).unwrap();
    let renamed = sim.rename_user(users[0].id, "José Núñez", None).unwrap();
    let disabled = sim
        .set_account_enabled(users[1].id, !users[1].account_enabled)
        .unwrap();
    let licensed = sim.assign_license(users[2].id, sku, vec![]).unwrap();
    let soft = sim.soft_delete_user(users[3].id).unwrap();
    let hard = sim.hard_delete_user(users[4].id).unwrap();
    sim.soft_delete_user(users[5].id).unwrap();
    let restored = sim.restore_user(users[5].id).unwrap();
    // Not tracked by delta (signInActivity) or not selected (jobTitle): not reported.
    sim.update_user(
        users[6].id,
        UserPatch {
            sign_in_activity: Some(None),
            ..Default::default()
        },
    )
    .unwrap();
    sim.update_user(
        users[7].id,
        UserPatch {
            job_title: Some(Some("CEO".into())),
            ..Default::default()
        },
    )
    .unwrap();

    let r = round(&first.delta_link, &t, &[]).await;
    assert_eq!(r.items.len(), 7, "{:#?}", r.items);
    let find = |id: uuid::Uuid| {
        r.items
            .iter()
            .find(|v| v["id"] == id.to_string())
            .cloned()
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    let a = find(added.id);
    assert_eq!(a["displayName"], "Zoë Ångström");
    assert!(a.get("@removed").is_none());
    assert_eq!(find(renamed.id)["displayName"], "José Núñez");
    assert_eq!(
        find(disabled.id)["accountEnabled"],
        disabled.account_enabled
    );
    assert!(
        find(licensed.id)["assignedLicenses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["skuId"] == sku.to_string())
    );
    let s = find(soft.id);
    assert_eq!(s["@removed"], serde_json::json!({"reason": "changed"}));
    assert_eq!(s.as_object().unwrap().len(), 2);
    assert_eq!(
        find(hard.id)["@removed"],
        serde_json::json!({"reason": "deleted"})
    );
    let back = find(restored.id);
    assert!(back.get("@removed").is_none());
    assert_eq!(back["userPrincipalName"], restored.user_principal_name);
    // Later pages' context may drop the select list; the deltaLink moves on.
    let after = round(&r.delta_link, &t, &[]).await;
    assert!(after.items.is_empty());
}

#[tokio::test]
async fn prefer_return_minimal_returns_only_changed_properties() {
    let sim = start(50).await;
    let t = token(&sim).await;
    let url = format!(
        "{}/v1.0/users/delta?$select=displayName,accountEnabled,mail",
        sim.base_url()
    );
    let first = round(&url, &t, &[]).await;
    let u = sim.users()[0].clone();
    sim.rename_user(u.id, "Łukasz Wójcik", None).unwrap();
    let added = sim.add_user(NewUser::named("New Person")).unwrap();

    let resp = client()
        .get(&first.delta_link)
        .bearer_auth(&t)
        .header("Prefer", "return=minimal")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["preference-applied"], "return=minimal");
    let body: Value = resp.json().await.unwrap();
    let items = body["value"].as_array().unwrap();
    let changed = items.iter().find(|v| v["id"] == u.id.to_string()).unwrap();
    assert_eq!(
        changed,
        &serde_json::json!({"id": u.id.to_string(), "displayName": "Łukasz Wójcik"})
    );
    // A created user comes with all selected properties.
    let new = items
        .iter()
        .find(|v| v["id"] == added.id.to_string())
        .unwrap();
    assert_eq!(new.as_object().unwrap().len(), 4);
}

#[tokio::test]
async fn deltatoken_latest_returns_only_a_delta_link() {
    let sim = start(400).await;
    let t = token(&sim).await;
    let url = format!(
        "{}/v1.0/users/delta?$deltatoken=latest&$select=displayName",
        sim.base_url()
    );
    let r = round(&url, &t, &[]).await;
    assert_eq!(r.pages, 1);
    assert!(r.items.is_empty());
    let u = sim.users()[10].clone();
    sim.rename_user(u.id, "Renamed", None).unwrap();
    let next = round(&r.delta_link, &t, &[]).await;
    assert_eq!(next.items.len(), 1);
    assert_eq!(next.items[0]["displayName"], "Renamed");
}

#[tokio::test]
async fn sign_in_activity_select_is_documented_400() {
    let sim = start(10).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users/delta?$select=id,signInActivity", &t).await;
    assert_graph_error(
        &r,
        400,
        "BadRequest",
        "Invalid request for delta query: for this entity set, $expand/$select is not supported for the following properties: signInActivity",
    );
}

#[tokio::test]
async fn unknown_or_invalidated_token_is_sync_state_not_found() {
    let sim = start(10).await;
    let t = token(&sim).await;
    let msg = "The sync state generation is not found. The delta token is expired and data must be synchronized again.";
    let r = get(&sim, "/v1.0/users/delta?$deltatoken=bm9wZQ", &t).await;
    assert_graph_error(&r, 400, "syncStateNotFound", msg);

    let url = format!("{}/v1.0/users/delta", sim.base_url());
    let first = round(&url, &t, &[]).await;
    sim.invalidate_delta_tokens();
    let r = get_with(&first.delta_link, Some(&t), &[]).await;
    assert_graph_error(&r, 400, "syncStateNotFound", msg);
}

#[tokio::test]
async fn expired_delta_token_is_sync_state_not_found() {
    let sim = start_with(
        TenantSpec {
            users: 10,
            seed: 7,
            ..Default::default()
        },
        SimOptions {
            delta_token_ttl_secs: 0,
            ..Default::default()
        },
    )
    .await;
    let t = token(&sim).await;
    let first = round(&format!("{}/v1.0/users/delta", sim.base_url()), &t, &[]).await;
    // Token age is measured in whole seconds; wait past one second so age > ttl (0).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = get_with(&first.delta_link, Some(&t), &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "syncStateNotFound");
}

#[tokio::test]
async fn many_changes_are_paged() {
    let sim = start(600).await;
    let t = token(&sim).await;
    let first = round(
        &format!("{}/v1.0/users/delta?$select=accountEnabled", sim.base_url()),
        &t,
        &[],
    )
    .await;
    let users = sim.users();
    for u in users.iter().take(450) {
        sim.set_account_enabled(u.id, !u.account_enabled).unwrap();
    }
    let r = round(&first.delta_link, &t, &[]).await;
    assert_eq!(r.pages, 3);
    assert_eq!(r.items.len(), 450);
    assert!(r.contexts[1].ends_with("$metadata#users"));
}

#[tokio::test]
async fn no_select_tracks_all_properties() {
    let sim = start(20).await;
    let t = token(&sim).await;
    let first = round(&format!("{}/v1.0/users/delta", sim.base_url()), &t, &[]).await;
    assert_eq!(
        first.contexts[0],
        format!("{}/v1.0/$metadata#users", sim.base_url())
    );
    let u = sim.users()[0].clone();
    sim.update_user(
        u.id,
        UserPatch {
            department: Some(Some("Legal".into())),
            ..Default::default()
        },
    )
    .unwrap();
    let r = round(&first.delta_link, &t, &[]).await;
    assert_eq!(r.items.len(), 1);
}
