use std::collections::{HashMap, HashSet};
use std::time::Duration;

use graph_sim::{FaultOptions, SimOptions, TenantSpec};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn throttling_body_headers_and_early_retry_tracking() {
    let sim = start(10).await;
    let t = token(&sim).await;
    sim.set_faults(FaultOptions {
        throttle_rate: 1.0,
        retry_after_secs: 2.128,
        ..Default::default()
    });
    let r = get(&sim, "/v1.0/users", &t).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "2.128");
    assert_eq!(
        r.headers["x-ms-throttle-scope"].to_str().unwrap(),
        format!(
            "Tenant_Application/Read/{}/{}",
            sim.client_id(),
            sim.tenant_id()
        )
    );
    assert_eq!(
        r.headers["x-ms-throttle-information"],
        "ResourceUnitLimitExceeded"
    );
    let e = &r.body["error"];
    assert_eq!(e["code"], "TooManyRequests");
    assert_eq!(e["message"], "Please retry again later.");
    let inner = &e["innerError"];
    assert_eq!(inner["code"], "429");
    assert_eq!(inner["status"], "429");
    assert_eq!(inner["message"], "Please retry after");
    assert!(is_inner_date(&inner["date"]) && is_guid(&inner["request-id"]));

    // Retrying at once (well inside 2.128 s) counts as an early retry.
    let _ = get(&sim, "/v1.0/users", &t).await;
    let stats = sim.stats();
    assert_eq!(stats.throttled, 2);
    assert!(stats.early_retries >= 1);
    assert_eq!(stats.count("/v1.0/users", 429), 2);

    // Integer Retry-After.
    sim.set_faults(FaultOptions {
        throttle_rate: 1.0,
        retry_after_secs: 3.0,
        ..Default::default()
    });
    let r = get(&sim, "/v1.0/subscribedSkus", &t).await;
    assert_eq!(r.headers["retry-after"], "3");
}

#[tokio::test]
async fn retry_after_waiting_is_not_early() {
    let sim = start(10).await;
    let t = token(&sim).await;
    sim.set_faults(FaultOptions {
        throttle_rate: 1.0,
        retry_after_secs: 0.2,
        ..Default::default()
    });
    let _ = get(&sim, "/v1.0/users", &t).await;
    sim.set_faults(FaultOptions::default());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = get(&sim, "/v1.0/users", &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(sim.stats().early_retries, 0);
}

#[tokio::test]
async fn unavailable_is_503_or_504_without_retry_after() {
    let sim = start(10).await;
    let t = token(&sim).await;
    sim.set_faults(FaultOptions {
        unavailable_rate: 1.0,
        ..Default::default()
    });
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let r = get(&sim, "/v1.0/users", &t).await;
        assert!(
            r.status == StatusCode::SERVICE_UNAVAILABLE || r.status == StatusCode::GATEWAY_TIMEOUT
        );
        assert!(r.headers.get("retry-after").is_none());
        assert!(
            r.body["error"]["code"].is_string()
                && r.body["error"]["innerError"]["request-id"].is_string()
        );
        seen.insert(r.status);
    }
    assert_eq!(seen.len(), 2, "both 503 and 504 occur");
    assert_eq!(sim.stats().unavailable, 20);
}

#[tokio::test]
async fn server_errors_are_500_502_504_with_graph_json_or_a_gateway_page() {
    let sim = start(10).await;
    let t = token(&sim).await;
    sim.set_faults(FaultOptions {
        server_error_rate: 1.0,
        ..Default::default()
    });
    let mut seen = HashSet::new();
    for _ in 0..60 {
        let r = get(&sim, "/v1.0/users", &t).await;
        assert!([500, 502, 504].contains(&r.status.as_u16()), "{}", r.status);
        assert!(r.headers.get("retry-after").is_none());
        let content_type = r.headers["content-type"].to_str().expect("ascii");
        let html = content_type.starts_with("text/html");
        if html {
            // The gateway answered, not Graph: a page, and none of Graph's ids.
            assert!(r.text.starts_with("<html>"), "{}", r.text);
            assert!(r.text.contains(&r.status.as_u16().to_string()));
            assert!(r.headers.get("request-id").is_none());
        } else {
            assert!(content_type.starts_with("application/json"));
            assert!(r.body["error"]["code"].is_string(), "{}", r.text);
            assert!(is_guid(&r.body["error"]["innerError"]["request-id"]));
            assert!(r.headers.get("request-id").is_some());
        }
        seen.insert((r.status.as_u16(), html));
    }
    assert_eq!(seen.len(), 6, "each status, in JSON and in HTML: {seen:?}");
    let stats = sim.stats();
    assert_eq!(stats.server_errors, 60);
    assert!(stats.html_errors > 0 && stats.html_errors < 60);
    assert_eq!(stats.unavailable, 0);
}

#[tokio::test]
async fn failing_page_always_500() {
    let sim = start_faulty(
        350,
        FaultOptions {
            fail_users_page: Some(2),
            ..Default::default()
        },
    )
    .await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/users?$top=100", &t).await;
    assert_eq!(r.status, StatusCode::OK);
    let next = r.body["@odata.nextLink"].as_str().unwrap().to_string();
    for _ in 0..3 {
        let r = get_with(&next, Some(&t), &[]).await;
        assert_graph_error(
            &r,
            500,
            "generalException",
            "General exception while processing.",
        );
    }
    assert_eq!(sim.stats().failed_pages, 3);
}

/// A user's name and SKUs as one listing entry shows them.
fn name_and_skus(item: &Value) -> (String, Vec<String>) {
    let mut skus: Vec<String> = item["assignedLicenses"]
        .as_array()
        .expect("assignedLicenses")
        .iter()
        .map(|license| license["skuId"].as_str().expect("skuId").to_owned())
        .collect();
    skus.sort();
    (
        item["displayName"].as_str().unwrap_or_default().to_owned(),
        skus,
    )
}

#[tokio::test]
async fn repeated_users_are_listed_last_as_they_are() {
    let sim = start_faulty(
        350,
        FaultOptions {
            repeat_users: true,
            ..Default::default()
        },
    )
    .await;
    let t = token(&sim).await;
    let url = format!(
        "{}/v1.0/users?$select=displayName,assignedLicenses&$top=100",
        sim.base_url()
    );
    let pages = page_by_page(&url, &t).await;
    assert_eq!(pages.len(), 4);
    let id = |item: &Value| item["id"].as_str().expect("id").to_owned();
    for (n, page) in pages.iter().enumerate() {
        let ids: Vec<String> = page.iter().map(id).collect();
        let once: HashSet<&String> = ids.iter().collect();
        assert_eq!(once.len(), ids.len() - 1, "page {n} lists one user twice");
        if n > 0 {
            let previous: HashSet<String> = pages[n - 1].iter().map(id).collect();
            assert!(
                previous.contains(&ids[0]),
                "page {n} starts with a user of the previous page"
            );
        }
    }

    // Every user is listed, the last time as the tenant holds it, any earlier time not.
    let listed: Vec<&Value> = pages.iter().flatten().collect();
    let users = sim.users();
    let truth: HashMap<String, &graph_sim::User> = users
        .iter()
        .map(|user| (user.id.to_string(), user))
        .collect();
    let mut last_seen = HashMap::new();
    for (position, item) in listed.iter().enumerate() {
        last_seen.insert(id(item), position);
    }
    assert_eq!(last_seen.len(), 350);
    let repeats = listed.len() - 350;
    assert_eq!(
        repeats,
        3 + 4,
        "pages 2-4 repeat one of the previous page, each page one"
    );
    assert_eq!(sim.stats().repeated_users, repeats as u64);
    for (position, item) in listed.iter().enumerate() {
        let user = truth[&id(item)];
        let mut skus: Vec<String> = user
            .assigned_licenses
            .iter()
            .map(|license| license.sku_id.to_string())
            .collect();
        skus.sort();
        let current = (user.display_name.clone().unwrap_or_default(), skus);
        if last_seen[&id(item)] == position {
            assert_eq!(name_and_skus(item), current);
        } else {
            let (name, held) = name_and_skus(item);
            assert_eq!(name, format!("{} (before a change)", current.0));
            assert_eq!(held.len() + 1, current.1.len(), "one license fewer");
        }
    }

    // The same listing repeats the same users.
    assert_eq!(page_by_page(&url, &t).await, pages);
}

#[tokio::test]
async fn intermittent_non_premium_403() {
    let sim = start(10).await;
    let t = token(&sim).await;
    sim.set_faults(FaultOptions {
        non_premium_rate: 1.0,
        ..Default::default()
    });
    let r = get(&sim, "/v1.0/users?$select=id,signInActivity", &t).await;
    assert_graph_error(
        &r,
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
    );
    assert_eq!(
        get(&sim, "/v1.0/users?$select=id", &t).await.status,
        StatusCode::OK
    );
    sim.set_faults(FaultOptions {
        non_premium_rate: 0.5,
        ..Default::default()
    });
    let mut statuses = std::collections::HashSet::new();
    for _ in 0..40 {
        statuses.insert(
            get(&sim, "/v1.0/users?$select=id,signInActivity", &t)
                .await
                .status,
        );
    }
    assert_eq!(statuses.len(), 2, "intermittent: both 200 and 403");
}

/// The same seed and request sequence gives the same faults.
#[tokio::test]
async fn faults_are_reproducible() {
    async fn run() -> Vec<u16> {
        let sim = start_with(
            TenantSpec {
                users: 20,
                seed: 11,
                ..Default::default()
            },
            SimOptions {
                faults: FaultOptions {
                    throttle_rate: 0.3,
                    unavailable_rate: 0.2,
                    retry_after_secs: 0.0,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await;
        let t = token(&sim).await;
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(get(&sim, "/v1.0/users?$top=5", &t).await.status.as_u16());
        }
        out
    }
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&429) && a.contains(&200));
}

#[tokio::test]
async fn latency_stats_and_peak_concurrency() {
    let sim = start(10).await;
    let t = token(&sim).await;
    sim.set_faults(FaultOptions {
        latency: Duration::from_millis(300),
        ..Default::default()
    });
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let url = format!("{}/v1.0/users", sim.base_url());
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            get_with(&url, Some(&t), &[]).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let stats = sim.stats();
    assert!(stats.peak_concurrency >= 2, "{stats:?}");
    assert_eq!(stats.count("/v1.0/users", 200), 6);
    assert_eq!(stats.in_flight, 0);
    let log = sim.request_log();
    assert_eq!(log.iter().filter(|e| e.path == "/v1.0/users").count(), 6);
    assert!(log.iter().all(|e| e.request_id.is_some()));

    // Same numbers over HTTP.
    let r = get_with(&format!("{}/_sim/stats", sim.base_url()), None, &[]).await;
    assert_eq!(r.body["byRoute"]["GET /v1.0/users"]["200"], 6);
    assert_eq!(r.body["tokensIssued"], 1);
    assert!(r.body["peakConcurrency"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn a_request_already_on_its_way_when_the_429_went_out_is_not_early() {
    let sim = start(10).await;
    let t = token(&sim).await;
    sim.set_faults(FaultOptions {
        throttle_rate: 1.0,
        retry_after_secs: 5.0,
        latency: Duration::from_millis(200),
        ..Default::default()
    });
    // The second request leaves before the first one's 429 comes back.
    let second = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        get(&sim, "/v1.0/subscribedSkus", &t).await
    };
    let (first, second) = tokio::join!(get(&sim, "/v1.0/users", &t), second);
    assert_eq!(first.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sim.stats().early_retries, 0);

    // One sent after a 429 came back, inside its Retry-After, is.
    let _ = get(&sim, "/v1.0/users", &t).await;
    assert_eq!(sim.stats().early_retries, 1);
}
