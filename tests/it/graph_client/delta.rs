//! users/delta rounds: initial, latest, changes (incl. @removed and minimal objects), expiry.

use std::collections::HashMap;

use graph_sim::{NewUser, SimOptions};
use license_manager::providers::microsoft365::graph::{
    DELTA_SELECT, DeltaItem, DeltaOptions, DeltaStart, GraphClient, Page, Patch, RemovedReason,
    UserDelta,
};

use super::common::*;

async fn round(client: &GraphClient, start: DeltaStart, minimal: bool) -> Vec<Page<DeltaItem>> {
    all_pages(client.users_delta(start, DeltaOptions { minimal }))
        .await
        .expect("delta round")
}

fn final_link(pages: &[Page<DeltaItem>]) -> String {
    let last = pages.last().expect("at least one page");
    assert!(
        pages[..pages.len() - 1]
            .iter()
            .all(|p| p.delta_link.is_none() && p.next_link.is_some())
    );
    assert!(last.next_link.is_none());
    last.delta_link
        .clone()
        .expect("the last page carries the deltaLink")
}

/// Users by id and removals by id, from a round's items.
fn split(
    pages: Vec<Page<DeltaItem>>,
) -> (HashMap<String, UserDelta>, HashMap<String, RemovedReason>) {
    let mut users = HashMap::new();
    let mut removed = HashMap::new();
    for item in pages.into_iter().flat_map(|p| p.items) {
        match item {
            DeltaItem::User(u) => {
                users.insert(u.id.clone(), u);
            }
            DeltaItem::Removed { id, reason } => {
                removed.insert(id, reason);
            }
        }
    }
    (users, removed)
}

#[tokio::test]
async fn initial_round_lists_everyone_then_a_change_round_reports_each_kind() {
    let sim = start(450, SimOptions::default()).await;
    let client = client(&sim);

    let pages = round(&client, DeltaStart::Initial, false).await;
    assert_eq!(pages.len(), 3, "pages of ~200");
    let link = final_link(&pages);
    let (users, removed) = split(pages);
    assert!(removed.is_empty());
    assert_exactly_once(
        users.keys().map(String::as_str),
        sim.users().iter().map(|u| u.id.to_string()),
    );
    let any = users.values().next().unwrap();
    assert!(
        matches!(any.user_principal_name, Patch::Value(_))
            && matches!(any.assigned_licenses, Patch::Value(_))
    );
    let q = sim
        .request_log()
        .into_iter()
        .find(|e| e.path == "/v1.0/users/delta")
        .and_then(|e| e.query)
        .unwrap();
    assert!(q.contains(&format!("$select={DELTA_SELECT}")), "{q}");

    // Enabled users first, so disabling ids[0] is a real change.
    let mut tenant_users = sim.users();
    tenant_users.sort_by_key(|u| !u.account_enabled);
    let ids: Vec<_> = tenant_users.iter().map(|u| u.id).collect();
    sim.disable_user(ids[0]).unwrap();
    sim.rename_user(ids[1], "Renamed Person", None).unwrap();
    sim.soft_delete_user(ids[2]).unwrap();
    sim.hard_delete_user(ids[3]).unwrap();
    let added = sim.add_user(NewUser::named("Brand New")).unwrap();

    let pages = round(&client, DeltaStart::Link(link), true).await;
    let next_link = final_link(&pages);
    let (users, removed) = split(pages);
    assert_eq!(
        removed.get(&ids[2].to_string()),
        Some(&RemovedReason::Changed)
    );
    assert_eq!(
        removed.get(&ids[3].to_string()),
        Some(&RemovedReason::Deleted)
    );

    // Minimal objects: only what changed is present; absent must not read as null.
    let disabled = &users[&ids[0].to_string()];
    assert_eq!(disabled.account_enabled, Patch::Value(false));
    assert!(disabled.display_name.is_absent() && disabled.user_principal_name.is_absent());
    let renamed = &users[&ids[1].to_string()];
    assert_eq!(renamed.display_name, Patch::Value("Renamed Person".into()));
    assert!(renamed.account_enabled.is_absent() && renamed.assigned_licenses.is_absent());

    // A created user comes in full.
    let new = &users[&added.id.to_string()];
    assert_eq!(new.display_name, Patch::Value("Brand New".into()));
    assert!(matches!(new.user_principal_name, Patch::Value(_)));
    assert!(matches!(new.assigned_licenses, Patch::Value(ref l) if l.is_empty()));
    assert_eq!(users.len(), 3);

    // Nothing changed since: an empty round with a new link.
    let pages = round(&client, DeltaStart::Link(next_link), true).await;
    assert_eq!(pages.len(), 1);
    assert!(pages[0].items.is_empty() && pages[0].delta_link.is_some());
}

#[tokio::test]
async fn without_minimal_changed_users_come_with_every_selected_property() {
    let sim = start(30, SimOptions::default()).await;
    let client = client(&sim);
    let link = client.latest_delta_link().await.unwrap();
    let id = sim
        .users()
        .iter()
        .find(|u| u.account_enabled)
        .expect("an enabled user")
        .id;
    sim.disable_user(id).unwrap();
    let (users, _) = split(round(&client, DeltaStart::Link(link), false).await);
    let u = &users[&id.to_string()];
    assert_eq!(u.account_enabled, Patch::Value(false));
    assert!(
        matches!(u.display_name, Patch::Value(_))
            && matches!(u.user_principal_name, Patch::Value(_))
    );
}

#[tokio::test]
async fn latest_gives_just_a_link_that_replays_later_changes() {
    let sim = start(300, SimOptions::default()).await;
    let client = client(&sim);
    let pages = round(&client, DeltaStart::Latest, false).await;
    assert_eq!(pages.len(), 1);
    assert!(pages[0].items.is_empty());
    let link = final_link(&pages);
    let q = sim
        .request_log()
        .into_iter()
        .find(|e| e.path == "/v1.0/users/delta")
        .and_then(|e| e.query)
        .unwrap();
    assert!(q.ends_with("$deltatoken=latest"), "{q}");

    let id = sim.users()[7].id;
    sim.rename_user(id, "Changed During Full Sync", None)
        .unwrap();
    let (users, removed) = split(round(&client, DeltaStart::Link(link), true).await);
    assert!(removed.is_empty());
    assert_eq!(users.len(), 1);
    assert_eq!(
        users[&id.to_string()].display_name,
        Patch::Value("Changed During Full Sync".into())
    );
}

#[tokio::test]
async fn an_expired_delta_link_reports_delta_token_expired() {
    let sim = start(20, SimOptions::default()).await;
    let client = client(&sim);
    let link = client.latest_delta_link().await.unwrap();
    sim.invalidate_delta_tokens();
    let e = all_pages(client.users_delta(DeltaStart::Link(link), DeltaOptions::default()))
        .await
        .expect_err("expired");
    assert_eq!(e.code().as_str(), "DELTA_TOKEN_EXPIRED");
    assert!(e.is_delta_token_expired());
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.graph_code(), Some("syncStateNotFound"));
    assert_eq!(
        sim.stats().count("/v1.0/users/delta", 400),
        1,
        "not retried"
    );
}

#[tokio::test]
async fn a_delta_link_of_another_endpoint_is_not_followed() {
    let sim = start(5, SimOptions::default()).await;
    let client = client(&sim);
    let link = "http://127.0.0.1:1/v1.0/users/delta?$deltatoken=abc".to_string();
    let e = all_pages(client.users_delta(DeltaStart::Link(link), DeltaOptions::default()))
        .await
        .expect_err("refused");
    assert_eq!(e.code().as_str(), "DELTA_TOKEN_EXPIRED");
    assert_eq!(
        sim.stats().total_requests,
        0,
        "the token never went to the other host"
    );
}
