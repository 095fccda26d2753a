use std::collections::{HashMap, HashSet};

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn subscribed_skus_shape_and_consumed_units() {
    let sim = start(2000).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/subscribedSkus", &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/v1.0/$metadata#subscribedSkus", sim.base_url())
    );
    let skus = r.body["value"].as_array().unwrap();
    assert!(skus.len() >= 10);

    let mut consumed: HashMap<String, i64> = HashMap::new();
    for u in sim.users() {
        for l in &u.assigned_licenses {
            *consumed.entry(l.sku_id.to_string()).or_default() += 1;
        }
    }
    let subs = get(&sim, "/v1.0/directory/subscriptions", &t).await;
    let commerce: HashSet<String> = subs.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["commerceSubscriptionId"].as_str().unwrap().to_string())
        .collect();

    let mut statuses = HashSet::new();
    let mut two_subs = false;
    for s in skus {
        assert_eq!(
            sorted_keys(s),
            [
                "accountId",
                "accountName",
                "appliesTo",
                "capabilityStatus",
                "consumedUnits",
                "id",
                "prepaidUnits",
                "servicePlans",
                "skuId",
                "skuPartNumber",
                "subscriptionIds"
            ]
        );
        let sku_id = s["skuId"].as_str().unwrap();
        assert_eq!(s["id"], format!("{}_{}", sim.tenant_id(), sku_id));
        assert_eq!(s["appliesTo"], "User");
        assert_eq!(
            s["consumedUnits"].as_i64().unwrap(),
            consumed.get(sku_id).copied().unwrap_or(0),
            "{sku_id}"
        );
        assert_eq!(
            sorted_keys(&s["prepaidUnits"]),
            ["enabled", "lockedOut", "suspended", "warning"]
        );
        for k in ["enabled", "lockedOut", "suspended", "warning"] {
            assert!(s["prepaidUnits"][k].is_i64());
        }
        for p in s["servicePlans"].as_array().unwrap() {
            assert_eq!(
                sorted_keys(p),
                [
                    "appliesTo",
                    "provisioningStatus",
                    "servicePlanId",
                    "servicePlanName"
                ]
            );
            assert!(is_guid(&p["servicePlanId"]));
        }
        let ids = s["subscriptionIds"].as_array().unwrap();
        assert!(!ids.is_empty());
        for id in ids {
            assert!(commerce.contains(id.as_str().unwrap()));
        }
        two_subs |= ids.len() == 2;
        statuses.insert(s["capabilityStatus"].as_str().unwrap().to_string());
    }
    assert!(two_subs, "one SKU is backed by two subscriptions");
    for st in ["Enabled", "Warning", "Suspended"] {
        assert!(statuses.contains(st), "{st}");
    }
    // Real skuIds / part numbers from Microsoft's table.
    let e5 = skus
        .iter()
        .find(|s| s["skuPartNumber"] == "SPE_E5")
        .unwrap();
    assert_eq!(e5["skuId"], "06ebc4ee-1bb5-47dd-8120-11324bc54e06");
    // Some users hold a SKU the tenant no longer subscribes to.
    let listed: HashSet<&str> = skus.iter().map(|s| s["skuId"].as_str().unwrap()).collect();
    assert!(consumed.keys().any(|k| !listed.contains(k.as_str())));
}

#[tokio::test]
async fn consumed_units_follow_license_changes_and_seats_follow_control() {
    let sim = start(100).await;
    let t = token(&sim).await;
    let sku = sim
        .skus()
        .into_iter()
        .find(|s| s.sku_part_number == "SPE_E3")
        .unwrap();
    let before = sim
        .subscribed_skus()
        .into_iter()
        .find(|s| s.sku_id == sku.sku_id)
        .unwrap()
        .consumed_units;
    let user = sim
        .users()
        .into_iter()
        .find(|u| !u.holds_sku(sku.sku_id))
        .unwrap();
    sim.assign_license(user.id, sku.sku_id, vec![]).unwrap();
    sim.set_sku_seats(sku.sku_id, 777).unwrap();
    let r = get(&sim, "/v1.0/subscribedSkus", &t).await;
    let s = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == sku.sku_id.to_string())
        .unwrap()
        .clone();
    assert_eq!(s["consumedUnits"].as_i64().unwrap(), before as i64 + 1);
    assert_eq!(s["prepaidUnits"]["enabled"], 777);
    let subs = get(&sim, "/v1.0/directory/subscriptions", &t).await;
    let total: i64 = subs.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["skuId"] == sku.sku_id.to_string())
        .map(|x| x["totalLicenses"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 777);
}

#[tokio::test]
async fn directory_subscriptions_shape() {
    let sim = start(100).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/directory/subscriptions", &t).await;
    assert_eq!(r.status, StatusCode::OK);
    for s in r.body["value"].as_array().unwrap() {
        assert_eq!(
            sorted_keys(s),
            [
                "commerceSubscriptionId",
                "createdDateTime",
                "id",
                "isTrial",
                "nextLifecycleDateTime",
                "ownerId",
                "ownerTenantId",
                "ownerType",
                "serviceStatus",
                "skuId",
                "skuPartNumber",
                "status",
                "totalLicenses"
            ]
        );
        assert!(is_guid(&s["id"]) && is_guid(&s["commerceSubscriptionId"]) && is_guid(&s["skuId"]));
        assert!(s["isTrial"].is_boolean());
        assert!(s["totalLicenses"].is_i64());
        assert!(
            ["Enabled", "Deleted", "Suspended", "Warning", "LockedOut"]
                .contains(&s["status"].as_str().unwrap())
        );
        assert!(
            chrono::DateTime::parse_from_rfc3339(s["createdDateTime"].as_str().unwrap()).is_ok()
        );
        for p in s["serviceStatus"].as_array().unwrap() {
            assert_eq!(
                sorted_keys(p),
                [
                    "appliesTo",
                    "provisioningStatus",
                    "servicePlanId",
                    "servicePlanName"
                ]
            );
        }
    }
}

#[tokio::test]
async fn organization_shape() {
    let sim = start(100).await;
    let t = token(&sim).await;
    let r = get(&sim, "/v1.0/organization", &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/v1.0/$metadata#organization", sim.base_url())
    );
    let orgs = r.body["value"].as_array().unwrap();
    assert_eq!(orgs.len(), 1);
    let o = &orgs[0];
    assert_eq!(o["id"], sim.tenant_id().to_string());
    assert!(o["displayName"].is_string());
    assert!(o["deletedDateTime"].is_null());
    assert_eq!(o["tenantType"], "AAD");
    assert!(
        o["assignedPlans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| is_guid(&p["servicePlanId"]) && p["service"].is_string())
    );
    let domains = o["verifiedDomains"].as_array().unwrap();
    let initial = domains.iter().find(|d| d["isInitial"] == true).unwrap();
    assert_eq!(initial["name"], sim.domain());
    for d in domains {
        assert_eq!(
            sorted_keys(d),
            ["capabilities", "isDefault", "isInitial", "name", "type"]
        );
    }
}
