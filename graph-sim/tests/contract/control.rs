use graph_sim::User;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = client().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn http_control_changes_show_in_graph_and_delta() {
    let sim = start(60).await;
    let base = sim.base_url().to_string();
    let t = token(&sim).await;
    let (s, info) = call(reqwest::Method::GET, format!("{base}/_sim/tenant"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(info["tenantId"], sim.tenant_id().to_string());
    assert_eq!(info["clientSecret"], sim.client_secret());
    assert_eq!(info["userCount"], 60);

    let first = get(
        &sim,
        "/v1.0/users/delta?$select=displayName,accountEnabled,assignedLicenses,userPrincipalName",
        &t,
    )
    .await;
    let mut link = first.body["@odata.deltaLink"].as_str().unwrap().to_string();
    assert!(!link.is_empty());

    // Add.
    let (s, added) = call(
        reqwest::Method::POST,
        format!("{base}/_sim/users"),
        Some(json!({"displayName": "Zoë Ångström", "userPrincipalName": "zoe@contoso-7.com"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let added: User = serde_json::from_value(added).unwrap();
    // Update, rename, license, disable.
    let users = sim.users();
    let (u1, u2, u3, u4, u5) = (
        users[0].id,
        users[1].id,
        users[2].id,
        users[3].id,
        users[4].id,
    );
    let (s, _) = call(
        reqwest::Method::PATCH,
        format!("{base}/_sim/users/{u1}"),
        Some(json!({"mail": null, "displayName": "Patched"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(sim.user(u1).unwrap().mail.is_none());
    let (s, _) = call(
        reqwest::Method::POST,
        format!("{base}/_sim/users/{u2}/rename"),
        Some(json!({"displayName": "Renamed", "userPrincipalName": "renamed@contoso-7.com"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let sku = sim
        .skus()
        .iter()
        .map(|k| k.sku_id)
        .find(|k| !users[2].holds_sku(*k))
        .unwrap();
    let (s, body) = call(
        reqwest::Method::POST,
        format!("{base}/_sim/users/{u3}/licenses"),
        Some(json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _) = call(
        reqwest::Method::POST,
        format!(
            "{base}/_sim/users/{u4}/{}",
            if users[3].account_enabled {
                "disable"
            } else {
                "enable"
            }
        ),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Soft delete, restore, soft delete again, purge.
    let (s, _) = call(
        reqwest::Method::DELETE,
        format!("{base}/_sim/users/{u5}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, deleted) = call(
        reqwest::Method::GET,
        format!("{base}/_sim/users?deleted=true"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(deleted.as_array().unwrap().len(), 1);
    let (s, _) = call(
        reqwest::Method::POST,
        format!("{base}/_sim/users/{u5}/restore"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        reqwest::Method::DELETE,
        format!("{base}/_sim/users/{u5}?permanent=true"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, err) = call(
        reqwest::Method::GET,
        format!("{base}/_sim/users/{u5}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(err["error"].as_str().unwrap().contains("not found"));

    let r = get_with(&link, Some(&t), &[]).await;
    let items = r.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 6, "{items:#?}");
    let by = |id: uuid::Uuid| {
        items
            .iter()
            .find(|v| v["id"] == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(by(added.id)["displayName"], "Zoë Ångström");
    assert_eq!(by(u1)["displayName"], "Patched");
    assert_eq!(by(u2)["userPrincipalName"], "renamed@contoso-7.com");
    assert_eq!(by(u5)["@removed"]["reason"], "deleted");
    link = r.body["@odata.deltaLink"].as_str().unwrap().to_string();

    // SKU seats, faults, token expiry, delta invalidation.
    let (s, sku_body) = call(
        reqwest::Method::PATCH,
        format!("{base}/_sim/skus/{sku}"),
        Some(json!({"enabled": 5, "capabilityStatus": "Warning"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{sku_body}");
    let skus = get(&sim, "/v1.0/subscribedSkus", &t).await;
    let k = skus.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["skuId"] == sku.to_string())
        .unwrap()
        .clone();
    assert_eq!(k["prepaidUnits"]["enabled"], 5);
    assert_eq!(k["capabilityStatus"], "Warning");

    let (s, f) = call(
        reqwest::Method::PUT,
        format!("{base}/_sim/faults"),
        Some(json!({"throttleRate": 1.0, "retryAfterSecs": 5})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f["throttleRate"], 1.0);
    assert_eq!(
        get(&sim, "/v1.0/users", &t).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    call(
        reqwest::Method::PUT,
        format!("{base}/_sim/faults"),
        Some(json!({})),
    )
    .await;

    call(
        reqwest::Method::POST,
        format!("{base}/_sim/tokens/expire"),
        None,
    )
    .await;
    let r = get(&sim, "/v1.0/users", &t).await;
    assert_eq!(
        r.body["error"]["message"],
        "Access token has expired or is not yet valid."
    );
    let t = token(&sim).await;

    call(
        reqwest::Method::POST,
        format!("{base}/_sim/delta/invalidate"),
        None,
    )
    .await;
    let r = get_with(&link, Some(&t), &[]).await;
    assert_eq!(r.body["error"]["code"], "syncStateNotFound");

    let (s, tenant) = call(
        reqwest::Method::PATCH,
        format!("{base}/_sim/tenant"),
        Some(json!({"premium": false})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(tenant["premium"], false);
    let r = get(&sim, "/v1.0/users?$select=signInActivity", &t).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let (s, log) = call(reqwest::Method::GET, format!("{base}/_sim/requests"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|e| !e["path"].as_str().unwrap().starts_with("/_sim"))
    );
    let (s, _) = call(
        reqwest::Method::POST,
        format!("{base}/_sim/users/not-a-guid/disable"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tenant_file_roundtrip() {
    let sim = start(40).await;
    let u = sim.users()[0].id;
    sim.rename_user(u, "Ólafur Jónsdóttir", None).unwrap();
    let snapshot = sim.snapshot();
    let dir = std::env::temp_dir().join(format!("graph-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tenant.json");
    std::fs::write(&path, snapshot.to_json().unwrap()).unwrap();
    let loaded = graph_sim::Tenant::load(&path).unwrap();
    assert_eq!(loaded, snapshot);
    let sim2 = graph_sim::SimServer::start_with_tenant(loaded, graph_sim::SimOptions::default())
        .await
        .unwrap();
    assert_eq!(sim2.tenant_id(), sim.tenant_id());
    assert_eq!(
        sim2.user(u).unwrap().display_name.as_deref(),
        Some("Ólafur Jónsdóttir")
    );
    let t = token(&sim2).await;
    let (items, _) = collect_pages(&format!("{}/v1.0/users?$top=999", sim2.base_url()), &t).await;
    assert_eq!(items.len(), 40);
    let _ = std::fs::remove_dir_all(&dir);
}
