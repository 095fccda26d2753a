//! Organization, subscribed SKUs and subscriptions against the tenant's ground truth.

use std::collections::HashMap;

use graph_sim::SimOptions;

use super::common::*;

#[tokio::test]
async fn organization_names_the_tenant_and_its_default_domain() {
    let sim = start(10, SimOptions::default()).await;
    let org = client(&sim).organization().await.unwrap();
    assert_eq!(org.id, sim.tenant_id().to_string());
    assert!(org.display_name.as_deref().is_some_and(|n| !n.is_empty()));
    let domain = org.default_domain().expect("a default domain");
    assert!(sim.snapshot().domains.iter().any(|d| d == domain));
}

#[tokio::test]
async fn subscribed_skus_carry_seat_counts() {
    let sim = start(200, SimOptions::default()).await;
    let skus = client(&sim).subscribed_skus().await.unwrap();
    let truth: HashMap<String, graph_sim::SubscribedSku> = sim
        .subscribed_skus()
        .into_iter()
        .map(|s| (s.sku_id.to_string(), s))
        .collect();
    assert_eq!(skus.len(), truth.len());
    for s in &skus {
        let t = &truth[&s.sku_id];
        assert_eq!(
            s.sku_part_number.as_deref(),
            Some(t.sku_part_number.as_str())
        );
        assert_eq!(s.consumed_units, i64::from(t.consumed_units));
        assert_eq!(s.prepaid_units.enabled, i64::from(t.prepaid_units.enabled));
        assert_eq!(
            s.capability_status.as_deref(),
            Some(t.capability_status.as_str())
        );
        assert_eq!(s.service_plans.len(), t.service_plans.len());
    }
}

#[tokio::test]
async fn subscriptions_are_listed() {
    let sim = start(50, SimOptions::default()).await;
    let subs = client(&sim).subscriptions().await.unwrap();
    let truth = sim.subscriptions();
    assert_eq!(subs.len(), truth.len());
    for t in &truth {
        let s = subs
            .iter()
            .find(|s| s.id == t.id.to_string())
            .expect("listed");
        assert_eq!(
            s.commerce_subscription_id,
            Some(t.commerce_subscription_id.to_string())
        );
        assert_eq!(s.total_licenses, i64::from(t.total_licenses));
        assert_eq!(s.is_trial, t.is_trial);
        assert_eq!(s.status.as_deref(), Some(t.status.as_str()));
        assert_eq!(s.next_lifecycle_date_time, t.next_lifecycle_date_time);
    }
}
