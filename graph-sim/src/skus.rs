//! `GET /v1.0/subscribedSkus`, `GET /v1.0/directory/subscriptions`, `GET /v1.0/organization`.
//! All need Organization.Read.All. consumedUnits is computed from the users at request time,
//! so it always equals the assignments served by /users.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::errors::GraphError;
use crate::server::{SimState, odata_ok};
use crate::store::Directory;
use crate::tenant::{PrepaidUnits, ServicePlanInfo};
use crate::token::authorize;

/// A `subscribedSku` as Graph returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedSku {
    pub account_name: String,
    pub account_id: Uuid,
    pub applies_to: String,
    pub capability_status: String,
    pub consumed_units: i32,
    pub id: String,
    pub prepaid_units: PrepaidUnits,
    pub service_plans: Vec<ServicePlanInfo>,
    pub sku_id: Uuid,
    pub sku_part_number: String,
    pub subscription_ids: Vec<Uuid>,
}

/// The tenant's subscribed SKUs with derived fields filled in.
pub(crate) fn subscribed(dir: &Directory) -> Vec<SubscribedSku> {
    let consumed = dir.consumed_units();
    let t = &dir.meta;
    t.skus
        .iter()
        .map(|s| SubscribedSku {
            account_name: t.display_name.clone(),
            account_id: t.tenant_id,
            applies_to: s.applies_to.clone(),
            capability_status: s.capability_status.clone(),
            consumed_units: consumed.get(&s.sku_id).copied().unwrap_or(0),
            id: format!("{}_{}", t.tenant_id, s.sku_id),
            prepaid_units: s.prepaid_units,
            service_plans: s.service_plans.clone(),
            sku_id: s.sku_id,
            sku_part_number: s.sku_part_number.clone(),
            subscription_ids: t
                .subscriptions
                .iter()
                .filter(|x| x.sku_id == s.sku_id)
                .map(|x| x.commerce_subscription_id)
                .collect(),
        })
        .collect()
}

fn require_org_read(state: &SimState, headers: &HeaderMap) -> Result<(), GraphError> {
    authorize(state, headers)?;
    if !state.dir().meta.app.permissions.can_read_organization() {
        return Err(GraphError::insufficient_privileges());
    }
    Ok(())
}

fn to_body(v: &impl Serialize) -> Result<Response, GraphError> {
    Ok(odata_ok(
        serde_json::to_vec(v).map_err(|_| GraphError::internal())?,
    ))
}

pub(crate) async fn subscribed_skus(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    require_org_read(&state, &headers)?;
    let skus = subscribed(&state.dir());
    to_body(&json!({
        "@odata.context": format!("{}/v1.0/$metadata#subscribedSkus", state.base_url),
        "value": skus,
    }))
}

pub(crate) async fn subscriptions(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    require_org_read(&state, &headers)?;
    let dir = state.dir();
    let t = &dir.meta;
    let value: Vec<Value> = t
        .subscriptions
        .iter()
        .map(|s| {
            let plans: Vec<&ServicePlanInfo> = t
                .skus
                .iter()
                .find(|k| k.sku_id == s.sku_id)
                .map(|k| k.service_plans.iter().collect())
                .unwrap_or_default();
            json!({
                "createdDateTime": s.created_date_time,
                "commerceSubscriptionId": s.commerce_subscription_id,
                "id": s.id,
                "isTrial": s.is_trial,
                "nextLifecycleDateTime": s.next_lifecycle_date_time,
                "serviceStatus": plans,
                "skuId": s.sku_id,
                "skuPartNumber": s.sku_part_number,
                "status": s.status,
                "totalLicenses": s.total_licenses,
                "ownerId": t.tenant_id,
                "ownerTenantId": t.tenant_id,
                "ownerType": "Company",
            })
        })
        .collect();
    to_body(&json!({
        "@odata.context": format!("{}/v1.0/$metadata#directory/subscriptions", state.base_url),
        "value": value,
    }))
}

pub(crate) async fn organization(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    require_org_read(&state, &headers)?;
    let dir = state.dir();
    let t = &dir.meta;
    // assignedPlans: each distinct service plan of the tenant's SKUs.
    let mut plans: BTreeMap<Uuid, (&str, &str)> = BTreeMap::new();
    for s in &t.skus {
        for p in &s.service_plans {
            plans
                .entry(p.service_plan_id)
                .or_insert((p.service_plan_name.as_str(), s.capability_status.as_str()));
        }
    }
    let assigned_at = t.created_date_time;
    let assigned_plans: Vec<Value> = plans
        .iter()
        .map(|(id, (name, status))| {
            json!({
                "assignedDateTime": assigned_at,
                "capabilityStatus": status,
                "service": service_of(name),
                "servicePlanId": id,
            })
        })
        .collect();
    let mut services: Vec<&str> = plans.values().map(|(n, _)| service_of(n)).collect();
    services.sort_unstable();
    services.dedup();
    let provisioned: Vec<Value> = services
        .iter()
        .map(|s| json!({"capabilityStatus": "Enabled", "provisioningStatus": "Success", "service": s}))
        .collect();
    let domains: Vec<Value> = t
        .domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({
                "capabilities": if i == 0 { "Email, OfficeCommunicationsOnline" } else { "Email" },
                "isDefault": i == 0,
                "isInitial": d.ends_with(".onmicrosoft.com") && i == 0,
                "name": d,
                "type": "Managed",
            })
        })
        .collect();
    let org = json!({
        "id": t.tenant_id,
        "deletedDateTime": null,
        "businessPhones": ["+31 20 555 0100"],
        "city": null,
        "country": null,
        "countryLetterCode": t.country_letter_code,
        "createdDateTime": t.created_date_time,
        "displayName": t.display_name,
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": null,
        "onPremisesSyncEnabled": null,
        "partnerTenantType": null,
        "postalCode": null,
        "preferredLanguage": "en",
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": null,
        "street": null,
        "technicalNotificationMails": [format!("admin@{}", t.domain())],
        "tenantType": "AAD",
        "directorySizeQuota": { "used": dir.active_count(), "total": 300000 },
        "privacyProfile": null,
        "assignedPlans": assigned_plans,
        "provisionedPlans": provisioned,
        "verifiedDomains": domains,
    });
    to_body(&json!({
        "@odata.context": format!("{}/v1.0/$metadata#organization", state.base_url),
        "value": [org],
    }))
}

/// The workload a service plan belongs to, for organization.assignedPlans[].service.
fn service_of(plan_name: &str) -> &'static str {
    let n = plan_name.to_ascii_uppercase();
    if n.starts_with("EXCHANGE") {
        "exchange"
    } else if n.starts_with("SHAREPOINT") || n.starts_with("ONEDRIVE") {
        "SharePoint"
    } else if n.starts_with("MCO") || n.starts_with("TEAMS") {
        "MicrosoftCommunicationsOnline"
    } else if n.starts_with("AAD") || n.starts_with("MFA") {
        "AADPremiumService"
    } else if n.starts_with("BI_") || n.contains("POWERBI") {
        "PowerBI"
    } else if n.starts_with("FLOW") || n.contains("POWERAPPS") {
        "ProcessSimplification"
    } else if n.starts_with("INTUNE") {
        "SCO"
    } else {
        "MicrosoftOffice"
    }
}
