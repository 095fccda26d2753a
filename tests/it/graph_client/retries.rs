//! Throttling and outages: Retry-After honoured, backoff, bounded attempts, timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use graph_sim::{FaultOptions, SimOptions};
use license_manager::providers::microsoft365::graph::{
    ClientConfig, EndpointOverrides, GraphClient, RetryConfig, UserQuery,
};
use tokio::io::AsyncReadExt;

use super::common::*;

fn faulty(faults: FaultOptions) -> SimOptions {
    SimOptions {
        faults,
        fault_seed: Some(7),
        ..Default::default()
    }
}

/// 30 % of Graph requests answered 429 with this Retry-After.
fn throttling(retry_after_secs: f64) -> SimOptions {
    faulty(FaultOptions {
        throttle_rate: 0.3,
        retry_after_secs,
        ..Default::default()
    })
}

/// Some requests were throttled, and none was sent while the client was told to wait.
fn assert_throttled_and_waited(sim: &graph_sim::SimServer) {
    let stats = sim.stats();
    assert!(
        stats.throttled > 0,
        "the fault injection throttled some requests"
    );
    assert_eq!(
        stats.early_retries, 0,
        "no request came before a Retry-After elapsed"
    );
}

fn with_attempts(max_attempts: u32) -> ClientConfig {
    let mut config = fast_config();
    config.retry.max_attempts = max_attempts;
    config
}

async fn list_all_ids(client: &GraphClient, page_size: u32) -> Vec<String> {
    let pages = all_pages(client.users(UserQuery {
        page_size: Some(page_size),
        ..Default::default()
    }))
    .await
    .unwrap();
    pages
        .into_iter()
        .flat_map(|p| p.items)
        .map(|u| u.id)
        .collect()
}

#[tokio::test]
async fn throttled_listing_waits_for_retry_after_and_returns_every_user() {
    // Fractional Retry-After ("0.25"), as Graph has sent.
    let sim = start(600, throttling(0.25)).await;
    let client = client(&sim);
    let ids = list_all_ids(&client, 50).await;
    assert_exactly_once(
        ids.iter().map(String::as_str),
        sim.users().iter().map(|u| u.id.to_string()),
    );
    assert_throttled_and_waited(&sim);
}

#[tokio::test]
async fn a_throttled_client_holds_its_other_requests_too() {
    // Graph throttles the application in the tenant: a request sent while another one waits out
    // its Retry-After counts against the same limit, so it has to wait as well.
    let sim = start(400, throttling(0.3)).await;
    let client = client(&sim);
    let (users, skus, subscriptions) = tokio::join!(
        list_all_ids(&client, 40),
        client.subscribed_skus(),
        client.subscriptions(),
    );
    assert_eq!(users.len(), 400);
    skus.unwrap();
    subscriptions.unwrap();
    assert_throttled_and_waited(&sim);
}

#[tokio::test]
async fn whole_second_retry_after_is_honoured() {
    let sim = start(
        20,
        faulty(FaultOptions {
            throttle_rate: 0.5,
            retry_after_secs: 1.0,
            ..Default::default()
        }),
    )
    .await;
    let client = client(&sim);
    for _ in 0..3 {
        client.organization().await.unwrap();
    }
    let stats = sim.stats();
    assert!(stats.throttled > 0);
    assert_eq!(stats.early_retries, 0);
}

#[tokio::test]
async fn unavailable_answers_are_retried_with_backoff() {
    let sim = start(
        400,
        faulty(FaultOptions {
            unavailable_rate: 0.3,
            ..Default::default()
        }),
    )
    .await;
    let client = client(&sim);
    let ids = list_all_ids(&client, 40).await;
    assert_exactly_once(
        ids.iter().map(String::as_str),
        sim.users().iter().map(|u| u.id.to_string()),
    );
    let stats = sim.stats();
    assert!(stats.unavailable > 0, "503/504 were injected");
    assert!(stats.count("/v1.0/users", 503) + stats.count("/v1.0/users", 504) > 0);
}

#[tokio::test]
async fn exhausted_retries_on_429_give_throttled() {
    let sim = start(
        5,
        faulty(FaultOptions {
            throttle_rate: 1.0,
            retry_after_secs: 0.05,
            ..Default::default()
        }),
    )
    .await;
    let client = client_with(&sim, credentials(&sim), with_attempts(3));
    let e = client
        .subscribed_skus()
        .await
        .expect_err("always throttled");
    assert_eq!(e.code().as_str(), "THROTTLED");
    assert_eq!(e.status(), Some(429));
    assert!(e.request_id().is_some(), "Graph's request-id is reported");
    assert_eq!(
        sim.stats().count("/v1.0/subscribedSkus", 429),
        3,
        "bounded attempts"
    );
    assert_eq!(sim.stats().early_retries, 0);
}

#[tokio::test]
async fn exhausted_retries_on_503_504_give_graph_unavailable() {
    let sim = start(
        5,
        faulty(FaultOptions {
            unavailable_rate: 1.0,
            ..Default::default()
        }),
    )
    .await;
    let client = client_with(&sim, credentials(&sim), with_attempts(4));
    let e = client.organization().await.expect_err("always down");
    assert_eq!(e.code().as_str(), "GRAPH_UNAVAILABLE");
    assert!(matches!(e.status(), Some(503 | 504)));
    let stats = sim.stats();
    assert_eq!(
        stats.count("/v1.0/organization", 503) + stats.count("/v1.0/organization", 504),
        4
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_the_budget_gives_up_at_once() {
    let sim = start(
        5,
        faulty(FaultOptions {
            throttle_rate: 1.0,
            retry_after_secs: 30.0,
            ..Default::default()
        }),
    )
    .await;
    let mut config = fast_config();
    config.retry = RetryConfig {
        max_wait: Duration::from_secs(60),
        total_budget: Duration::from_secs(5),
        ..config.retry
    };
    let client = client_with(&sim, credentials(&sim), config);
    let e = client
        .organization()
        .await
        .expect_err("throttled beyond the budget");
    assert_eq!(e.code().as_str(), "THROTTLED");
    assert_eq!(
        sim.stats().count("/v1.0/organization", 429),
        1,
        "no early retry, no pointless wait"
    );
}

/// The connection test's handle shares the client's throttle: once Graph has asked the app to
/// wait longer than that handle may spend, its next request is refused without being sent,
/// while the sync's handle (a larger budget) would still wait the hold out.
#[tokio::test]
async fn an_interactive_handle_does_not_wait_out_a_throttle_beyond_its_budget() {
    let sim = start(
        5,
        faulty(FaultOptions {
            throttle_rate: 1.0,
            retry_after_secs: 45.0,
            ..Default::default()
        }),
    )
    .await;
    let mut config = fast_config();
    config.retry.max_wait = Duration::from_secs(60);
    let client = client_with(&sim, credentials(&sim), config);
    let interactive = client.with_retry(RetryConfig::interactive());

    let answered = interactive
        .organization()
        .await
        .expect_err("Graph throttles every request");
    assert_eq!(answered.code().as_str(), "THROTTLED");
    let refused = interactive
        .subscribed_skus()
        .await
        .expect_err("the client is held for 45 s");
    assert_eq!(refused.code().as_str(), "THROTTLED");
    assert!(
        refused.message().contains("wait 4") && refused.message().contains("s more"),
        "names how long requests are held: {}",
        refused.message()
    );
    let stats = sim.stats();
    assert_eq!(stats.count("/v1.0/organization", 429), 1, "no early retry");
    assert_eq!(
        stats.count("/v1.0/subscribedSkus", 429),
        0,
        "nothing sent while held"
    );
}

/// Graph's edge answers 500, 502 and 504, half of them with a gateway's HTML page: each is
/// retried, and the listing returns every user once.
#[tokio::test]
async fn server_errors_in_json_and_html_are_retried_and_lose_no_user() {
    let sim = start(
        600,
        faulty(FaultOptions {
            server_error_rate: 0.3,
            ..Default::default()
        }),
    )
    .await;
    let client = client(&sim);
    let ids = list_all_ids(&client, 40).await;
    assert_exactly_once(
        ids.iter().map(String::as_str),
        sim.users().iter().map(|u| u.id.to_string()),
    );
    let stats = sim.stats();
    assert!(stats.html_errors > 0, "some came as an HTML page");
    assert!(
        stats.server_errors > stats.html_errors,
        "some as Graph's JSON"
    );
    for status in [500, 502, 504] {
        assert!(stats.count("/v1.0/users", status) > 0, "{status} was met");
    }
}

#[tokio::test]
async fn an_edge_that_stays_down_names_what_it_answered() {
    let sim = start(
        5,
        faulty(FaultOptions {
            server_error_rate: 1.0,
            ..Default::default()
        }),
    )
    .await;
    let client = client_with(&sim, credentials(&sim), with_attempts(12));
    let e = client.organization().await.expect_err("always down");
    assert_eq!(e.code().as_str(), "GRAPH_UNAVAILABLE");
    let status = e.status().expect("an HTTP status");
    assert!([500, 502, 504].contains(&status), "{e}");
    let stats = sim.stats();
    assert_eq!(stats.server_errors, 12, "every attempt was used: {e}");
    // The last answer was Graph's JSON (its message, and its request-id) or the gateway's page.
    let page = "with an HTML page from the gateway";
    if e.message().ends_with(page) {
        assert!(e.message().starts_with(&format!("HTTP {status} ")), "{e}");
        assert!(
            e.request_id().is_none(),
            "a gateway page carries no request-id"
        );
    } else {
        assert!(e.request_id().is_some(), "{e}");
    }
}

/// A TCP proxy in front of `target` (`http://host:port`) that resets the first `resets`
/// connections once their request has arrived (the client sees "connection reset by peer"
/// while it waits for the answer), and relays every later one. Returns its base URL and how
/// many connections it accepted.
async fn resetting_proxy(target: &str, resets: usize) -> (String, Arc<AtomicUsize>) {
    let upstream = target
        .strip_prefix("http://")
        .expect("an http:// base URL")
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bound");
    let address = listener.local_addr().expect("address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if n < resets {
                    let mut request = [0u8; 1024];
                    let _ = inbound.read(&mut request).await;
                    let _ = inbound.set_zero_linger();
                    return;
                }
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{address}"), accepted)
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let sim = start(5, SimOptions::default()).await;
    let (proxy, accepted) = resetting_proxy(sim.base_url(), 2).await;
    let overrides = EndpointOverrides {
        login_url: Some(sim.base_url().to_string()),
        graph_url: Some(proxy),
    };
    let client = GraphClient::new(credentials(&sim), &overrides, fast_config()).unwrap();
    let organization = client
        .organization()
        .await
        .expect("answered at the third try");
    assert_eq!(organization.id, sim.tenant_id().to_string());
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "two resets, then one relay"
    );
    assert_eq!(
        sim.stats().count("/v1.0/organization", 200),
        1,
        "the reset requests never reached Graph"
    );
}

#[tokio::test]
async fn a_page_that_keeps_failing_ends_the_stream_after_the_pages_before_it() {
    let sim = start(
        300,
        faulty(FaultOptions {
            fail_users_page: Some(3),
            ..Default::default()
        }),
    )
    .await;
    let client = client(&sim);
    let mut stream = client.users(UserQuery {
        page_size: Some(100),
        ..Default::default()
    });
    use futures::StreamExt;
    let mut got = Vec::new();
    while let Some(page) = stream.next().await {
        got.push(page);
    }
    assert_eq!(got.len(), 3);
    assert!(got[0].is_ok() && got[1].is_ok());
    let e = got[2].as_ref().expect_err("page 3 fails");
    assert_eq!(e.code().as_str(), "GRAPH_UNAVAILABLE");
    assert_eq!(e.status(), Some(500));
    assert_eq!(
        sim.stats().count("/v1.0/users", 500),
        u64::from(fast_config().retry.max_attempts),
        "retried until the attempts were used up"
    );
}

#[tokio::test]
async fn slow_responses_time_out_and_report_graph_unavailable() {
    let sim = start(5, SimOptions::default()).await;
    let client = client(&sim);
    client.verify_credentials().await.unwrap();
    sim.set_faults(FaultOptions {
        latency: Duration::from_millis(400),
        ..Default::default()
    });
    let mut config = with_attempts(2);
    config.request_timeout = Duration::from_millis(100);
    let slow_client = client_with(&sim, credentials(&sim), config);
    let e = slow_client.organization().await.expect_err("times out");
    assert_eq!(e.code().as_str(), "GRAPH_UNAVAILABLE");
    assert!(e.message().contains("timed out"), "{e}");
}

#[tokio::test]
async fn an_unreachable_endpoint_reports_graph_unavailable() {
    let sim = start(5, SimOptions::default()).await;
    // A port that was free a moment ago: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let overrides = EndpointOverrides {
        login_url: Some(format!("http://127.0.0.1:{port}")),
        graph_url: Some(sim.base_url().to_string()),
    };
    let client = GraphClient::new(credentials(&sim), &overrides, with_attempts(2)).unwrap();
    let e = client
        .verify_credentials()
        .await
        .expect_err("nothing listens");
    assert_eq!(e.code().as_str(), "GRAPH_UNAVAILABLE");
    assert_eq!(e.status(), None);
}
