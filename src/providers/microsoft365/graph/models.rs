//! Typed Graph resources, parsed leniently: unknown fields ignored, documented nullables as
//! `Option`, `null` collections and counts as empty/zero, odd timestamps as unknown. Ids stay
//! strings exactly as Graph sends them (GUIDs in practice).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::lenient::{datetime, null_as_default};

/// A user from `GET /users` with the properties license-manager reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    /// `Member` or `Guest`.
    #[serde(default)]
    pub user_type: Option<String>,
    /// Null for some accounts created before June 2018.
    #[serde(default, deserialize_with = "datetime")]
    pub created_date_time: Option<DateTime<Utc>>,
    /// Direct and group-inherited alike; empty for unlicensed users.
    #[serde(default, deserialize_with = "null_as_default")]
    pub assigned_licenses: Vec<AssignedLicense>,
    /// Tells direct from group-inherited assignments.
    #[serde(default, deserialize_with = "null_as_default")]
    pub license_assignment_states: Vec<LicenseAssignmentState>,
    /// Only when selected; absent for users who never signed in (or before April 2020).
    #[serde(default)]
    pub sign_in_activity: Option<SignInActivity>,
}

/// A group from `GET /groups/{id}` with what decides how a user leaves it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `DynamicMembership` for a rule-based group, `Unified` for a Microsoft 365 group.
    #[serde(default, deserialize_with = "null_as_default")]
    pub group_types: Vec<String>,
    #[serde(default)]
    pub membership_rule: Option<String>,
    /// true while its membership is mastered in on-premises Active Directory; false or null
    /// for a cloud group (false: it was synced once).
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
}

impl Group {
    /// A rule decides its members: nobody can be removed from it by hand.
    pub fn is_dynamic(&self) -> bool {
        self.group_types
            .iter()
            .any(|kind| kind.eq_ignore_ascii_case("DynamicMembership"))
            || self
                .membership_rule
                .as_deref()
                .is_some_and(|rule| !rule.trim().is_empty())
    }

    /// Its members are changed in on-premises Active Directory, never through Graph.
    pub fn is_synced_from_on_premises(&self) -> bool {
        self.on_premises_sync_enabled == Some(true)
    }
}

/// One row of the light sign-in listing (`$select=id,signInActivity`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSignIn {
    pub id: String,
    #[serde(default)]
    pub sign_in_activity: Option<SignInActivity>,
}

/// `signInActivity`; any field may be missing or null.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInActivity {
    /// Last interactive sign-in attempt, successful or not.
    #[serde(default, deserialize_with = "datetime")]
    pub last_sign_in_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_sign_in_request_id: Option<String>,
    #[serde(default, deserialize_with = "datetime")]
    pub last_non_interactive_sign_in_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_non_interactive_sign_in_request_id: Option<String>,
    /// Last successful interactive or non-interactive sign-in (since Dec 2023, not backfilled).
    #[serde(default, deserialize_with = "datetime")]
    pub last_successful_sign_in_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_successful_sign_in_request_id: Option<String>,
}

impl SignInActivity {
    /// The latest of the three sign-in dates.
    pub fn latest(&self) -> Option<DateTime<Utc>> {
        [
            self.last_sign_in_date_time,
            self.last_non_interactive_sign_in_date_time,
            self.last_successful_sign_in_date_time,
        ]
        .into_iter()
        .flatten()
        .max()
    }
}

/// `assignedLicense`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedLicense {
    pub sku_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub disabled_plans: Vec<String>,
}

/// `licenseAssignmentState`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseAssignmentState {
    pub sku_id: String,
    /// None = assigned directly; else the group it is inherited through.
    #[serde(default)]
    pub assigned_by_group: Option<String>,
    /// `Active`, `ActiveWithError`, `Disabled` or `Error`.
    #[serde(default)]
    pub state: Option<String>,
    /// As sent: e.g. `CountViolation`. An assignment without error comes as the text `"None"`
    /// from the service (its documentation says null, and some responses are null): a reader
    /// takes null, `""` and `"None"` alike as "no error".
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub disabled_plans: Vec<String>,
    #[serde(default, deserialize_with = "datetime")]
    pub last_updated_date_time: Option<DateTime<Utc>>,
}

impl LicenseAssignmentState {
    /// Directly assigned licenses can be removed from the user; inherited ones only via the group.
    pub fn is_direct(&self) -> bool {
        self.assigned_by_group.is_none()
    }
}

/// `subscribedSku`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedSku {
    /// Observed as `<tenantId>_<skuId>`.
    #[serde(default)]
    pub id: Option<String>,
    pub sku_id: String,
    #[serde(default)]
    pub sku_part_number: Option<String>,
    /// `Enabled`, `Warning`, `Suspended`, `Deleted` or `LockedOut`.
    #[serde(default)]
    pub capability_status: Option<String>,
    /// `User` or `Company`; only `User` SKUs are assignable.
    #[serde(default)]
    pub applies_to: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub consumed_units: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub prepaid_units: PrepaidUnits,
    #[serde(default, deserialize_with = "null_as_default")]
    pub service_plans: Vec<ServicePlanInfo>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub subscription_ids: Vec<String>,
}

/// `licenseUnitsDetail`; older docs omit `lockedOut`, so every count defaults to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepaidUnits {
    #[serde(default, deserialize_with = "null_as_default")]
    pub enabled: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub suspended: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub warning: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub locked_out: i64,
}

/// `servicePlanInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlanInfo {
    #[serde(default)]
    pub service_plan_id: Option<String>,
    #[serde(default)]
    pub service_plan_name: Option<String>,
    #[serde(default)]
    pub provisioning_status: Option<String>,
    #[serde(default)]
    pub applies_to: Option<String>,
}

/// `companySubscription` from `GET /directory/subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommerceSubscription {
    pub id: String,
    #[serde(default)]
    pub commerce_subscription_id: Option<String>,
    #[serde(default)]
    pub sku_id: Option<String>,
    #[serde(default)]
    pub sku_part_number: Option<String>,
    /// `Enabled`, `Deleted`, `Suspended`, `Warning` or `LockedOut`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_licenses: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_trial: bool,
    #[serde(default, deserialize_with = "datetime")]
    pub created_date_time: Option<DateTime<Utc>>,
    /// When it moves to its next state if not renewed.
    #[serde(default, deserialize_with = "datetime")]
    pub next_lifecycle_date_time: Option<DateTime<Utc>>,
}

/// The tenant (`GET /organization`, first entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// The tenant id.
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub verified_domains: Vec<VerifiedDomain>,
}

impl Organization {
    /// The default verified domain, else the initial one, else the first.
    pub fn default_domain(&self) -> Option<&str> {
        let d = &self.verified_domains;
        d.iter()
            .find(|v| v.is_default)
            .or_else(|| d.iter().find(|v| v.is_initial))
            .or(d.first())
            .map(|v| v.name.as_str())
    }
}

/// `verifiedDomain`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedDomain {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_default: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_initial: bool,
    /// `Managed` or `Federated`.
    #[serde(default, rename = "type")]
    pub domain_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_with_nulls_and_partial_sign_in() {
        let u: User = serde_json::from_str(
            r#"{"id":"u1","mail":null,"createdDateTime":null,"assignedLicenses":null,"extra":{"x":1},
                "signInActivity":{"lastSignInDateTime":"2024-12-10T17:38:26Z","lastSuccessfulSignInDateTime":null}}"#,
        )
        .unwrap();
        assert!(u.mail.is_none() && u.assigned_licenses.is_empty());
        let s = u.sign_in_activity.unwrap();
        assert!(
            s.last_sign_in_date_time.is_some()
                && s.last_non_interactive_sign_in_date_time.is_none()
        );
        assert_eq!(s.latest(), s.last_sign_in_date_time);
    }

    #[test]
    fn a_rule_or_its_type_makes_a_group_dynamic_and_only_a_live_sync_makes_it_synced() {
        let group = |json: &str| serde_json::from_str::<Group>(json).unwrap();
        let typed = group(r#"{"id":"g","groupTypes":["dynamicmembership"],"membershipRule":null}"#);
        let ruled = group(
            r#"{"id":"g","groupTypes":null,"membershipRule":"user.department -eq \"Sales\""}"#,
        );
        let once_synced =
            group(r#"{"id":"g","displayName":"Sales","onPremisesSyncEnabled":false}"#);
        let synced = group(r#"{"id":"g","onPremisesSyncEnabled":true}"#);
        assert!(typed.is_dynamic() && ruled.is_dynamic());
        assert!(!once_synced.is_dynamic() && !once_synced.is_synced_from_on_premises());
        assert!(synced.is_synced_from_on_premises() && !synced.is_dynamic());
    }

    #[test]
    fn documented_samples_parse() {
        let sku: SubscribedSku = serde_json::from_str(
            r#"{"accountName":"A","appliesTo":"User","capabilityStatus":"Suspended","consumedUnits":14,
                "id":"t_s","prepaidUnits":{"enabled":0,"suspended":25,"warning":0},
                "servicePlans":[{"servicePlanId":"p","servicePlanName":"CRMSTANDARD","provisioningStatus":"Disabled","appliesTo":"User"}],
                "skuId":"s","skuPartNumber":"CRMSTANDARD","subscriptionIds":["x"]}"#,
        )
        .unwrap();
        assert_eq!(sku.prepaid_units.suspended, 25);
        assert_eq!(sku.prepaid_units.locked_out, 0);
        let sub: CommerceSubscription = serde_json::from_str(
            r#"{"createdDateTime":"2023-01-01T00:00:00Z","commerceSubscriptionId":"c","id":"i","isTrial":false,
                "nextLifecycleDateTime":"2023-02-01T00:00:00Z","skuId":"s","skuPartNumber":"P","status":"Enabled","totalLicenses":25}"#,
        )
        .unwrap();
        assert_eq!(sub.total_licenses, 25);
        let org: Organization = serde_json::from_str(
            r#"{"id":"t","displayName":"Contoso","verifiedDomains":[
                {"name":"contoso.onmicrosoft.com","isDefault":false,"isInitial":true,"type":"Managed"},
                {"name":"contoso.com","isDefault":true,"isInitial":false,"type":"Managed"}]}"#,
        )
        .unwrap();
        assert_eq!(org.default_domain(), Some("contoso.com"));
    }
}
