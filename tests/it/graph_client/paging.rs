//! Paging over /users: every user exactly once, page sizes, typed contents.

use std::collections::HashMap;

use futures::StreamExt;
use graph_sim::SimOptions;
use license_manager::providers::microsoft365::graph::{USER_SELECT, UserQuery};

use super::common::*;

fn users_queries(sim: &graph_sim::SimServer) -> Vec<String> {
    sim.request_log()
        .into_iter()
        .filter(|e| e.path == "/v1.0/users" && e.status == 200)
        .filter_map(|e| e.query)
        .collect()
}

#[tokio::test]
async fn full_listing_pages_at_999_and_returns_every_user_once() {
    let sim = start(2_345, SimOptions::default()).await;
    let client = client(&sim);
    let pages = all_pages(client.users(UserQuery::default())).await.unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, vec![999, 999, 347]);
    assert!(pages[..2].iter().all(|p| p.next_link.is_some()));
    assert!(pages[2].next_link.is_none() && pages[2].delta_link.is_none());
    let ids = pages.iter().flat_map(|p| &p.items).map(|u| u.id.as_str());
    assert_exactly_once(ids, sim.users().iter().map(|u| u.id.to_string()));

    let first = &users_queries(&sim)[0];
    assert!(first.contains(&format!("$select={USER_SELECT}")), "{first}");
    assert!(first.contains("$top=999"));
    assert!(!first.contains("signInActivity"));
}

#[tokio::test]
async fn listing_with_sign_in_activity_pages_at_500() {
    let sim = start(1_234, SimOptions::default()).await;
    let client = client(&sim);
    let pages = all_pages(client.users(UserQuery {
        sign_in_activity: true,
        page_size: None,
    }))
    .await
    .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, vec![500, 500, 234]);
    assert!(users_queries(&sim)[0].contains("$top=500"));
    assert!(users_queries(&sim)[0].contains("signInActivity"));

    // Sign-in data parsed: same dates as the tenant's ground truth.
    let truth: HashMap<String, _> = sim
        .users()
        .into_iter()
        .map(|u| (u.id.to_string(), u.sign_in_activity))
        .collect();
    let mut with_dates = 0;
    for u in pages.iter().flat_map(|p| &p.items) {
        let expected = truth[&u.id].as_ref().and_then(|s| s.last_sign_in_date_time);
        let got = u
            .sign_in_activity
            .as_ref()
            .and_then(|s| s.last_sign_in_date_time);
        assert_eq!(got, expected, "user {}", u.id);
        with_dates += usize::from(got.is_some());
    }
    assert!(with_dates > 0);
}

#[tokio::test]
async fn shorter_pages_than_asked_are_followed_to_the_end() {
    // A tenant capping sign-in pages at 120 (as Graph did in 2023).
    let sim = start(
        700,
        SimOptions {
            signin_page_cap: 120,
            ..Default::default()
        },
    )
    .await;
    let client = client(&sim);
    let pages = all_pages(client.sign_in_activity()).await.unwrap();
    assert_eq!(pages.len(), 6);
    assert!(pages.iter().all(|p| p.items.len() <= 120));
    assert!(users_queries(&sim)[0].contains("$select=id,signInActivity&$top=500"));
    let ids = pages.iter().flat_map(|p| &p.items).map(|u| u.id.as_str());
    assert_exactly_once(ids, sim.users().iter().map(|u| u.id.to_string()));
}

#[tokio::test]
async fn users_carry_licenses_and_assignment_states() {
    let sim = start(300, SimOptions::default()).await;
    let client = client(&sim);
    let pages = all_pages(client.users(UserQuery::default())).await.unwrap();
    let truth: HashMap<String, graph_sim::User> = sim
        .users()
        .into_iter()
        .map(|u| (u.id.to_string(), u))
        .collect();
    let mut inherited = 0;
    for u in pages.iter().flat_map(|p| &p.items) {
        let t = &truth[&u.id];
        assert_eq!(
            u.user_principal_name.as_deref(),
            Some(t.user_principal_name.as_str())
        );
        assert_eq!(u.display_name, t.display_name);
        assert_eq!(u.mail, t.mail);
        assert_eq!(u.account_enabled, Some(t.account_enabled));
        assert_eq!(u.user_type.as_deref(), Some(t.user_type.as_str()));
        assert_eq!(u.created_date_time, t.created_date_time);
        let skus: Vec<String> = u
            .assigned_licenses
            .iter()
            .map(|l| l.sku_id.clone())
            .collect();
        let want: Vec<String> = t
            .assigned_licenses
            .iter()
            .map(|l| l.sku_id.to_string())
            .collect();
        assert_eq!(skus, want);
        assert_eq!(
            u.license_assignment_states.len(),
            t.license_assignment_states.len()
        );
        inherited += u
            .license_assignment_states
            .iter()
            .filter(|s| !s.is_direct())
            .count();
        assert!(u.sign_in_activity.is_none(), "not selected");
    }
    assert!(inherited > 0, "group-inherited assignments are told apart");
}

#[tokio::test]
async fn requests_carry_a_fresh_client_request_id() {
    let sim = start(250, SimOptions::default()).await;
    let client = client(&sim);
    let pages: Vec<_> = client
        .users(UserQuery {
            page_size: Some(100),
            ..Default::default()
        })
        .collect()
        .await;
    assert_eq!(pages.len(), 3);
    let log: Vec<_> = sim
        .request_log()
        .into_iter()
        .filter(|e| e.path == "/v1.0/users")
        .collect();
    let ids: std::collections::HashSet<_> = log
        .iter()
        .filter_map(|e| e.client_request_id.clone())
        .collect();
    assert_eq!(ids.len(), log.len(), "one client-request-id per request");
    for e in &log {
        assert_ne!(
            e.client_request_id, e.request_id,
            "ours, not echoed from Graph's"
        );
    }
}

#[tokio::test]
async fn dropping_the_stream_stops_paging() {
    let sim = start(1_000, SimOptions::default()).await;
    let client = client(&sim);
    let mut stream = client.users(UserQuery {
        page_size: Some(100),
        ..Default::default()
    });
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.items.len(), 100);
    drop(stream);
    // Rather than a pause on the clock: the same client then lists the whole tenant, ten
    // requests one after another, while a fetch the dropped stream left running would go on.
    let listing = all_pages(client.users(UserQuery {
        page_size: Some(100),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(listing.len(), 10);
    // Those ten, the first page and at most the one prefetched after it.
    assert!(sim.stats().count("/v1.0/users", 200) <= 10 + 2);
}
