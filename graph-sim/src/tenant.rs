//! The tenant model: the ground truth the simulator serves.
//!
//! Field names follow Microsoft Graph (camelCase on the wire), so a tenant file written by
//! `graph-sim --dump-tenant` reads like Graph output and can be edited by hand.

use chrono::{DateTime, Utc};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use crate::errors::SimError;
pub use crate::fixtures::LicenseFixtures;
pub use crate::permissions::Permissions;

/// `assignedLicense` resource: one SKU a user holds, direct or inherited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedLicense {
    #[serde(default)]
    pub disabled_plans: Vec<Uuid>,
    pub sku_id: Uuid,
}

/// `licenseAssignmentState` resource: how a licence came to the user and whether it applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseAssignmentState {
    /// None = direct assignment; Some(group id) = inherited through that group.
    #[serde(default)]
    pub assigned_by_group: Option<Uuid>,
    #[serde(default)]
    pub disabled_plans: Vec<Uuid>,
    /// None when the assignment has no error (sent as `"None"` or null, see [`NoErrorAs`]), else
    /// `CountViolation`, `MutuallyExclusiveViolation`, ...
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub last_updated_date_time: Option<DateTime<Utc>>,
    pub sku_id: Uuid,
    /// `Active`, `ActiveWithError`, `Disabled` or `Error`.
    pub state: String,
}

/// How `licenseAssignmentStates[].error` reads for an assignment without error. Graph's
/// documentation says null; the service sends the text `"None"` (as Microsoft's own samples
/// show), and some responses null.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NoErrorAs {
    /// `"error": "None"`, as the service answers.
    #[default]
    NoneText,
    /// `"error": null`, as documented.
    Null,
}

/// The wire form of a user's assignment states: the tenant's ground truth, with "no error"
/// written as the tenant sends it.
pub(crate) struct StatesOnWire<'a> {
    pub states: &'a [LicenseAssignmentState],
    pub no_error_as: NoErrorAs,
}

impl Serialize for StatesOnWire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.states.iter().map(|state| StateOnWire {
            state,
            no_error_as: self.no_error_as,
        }))
    }
}

struct StateOnWire<'a> {
    state: &'a LicenseAssignmentState,
    no_error_as: NoErrorAs,
}

impl Serialize for StateOnWire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let s = self.state;
        let error = match (&s.error, self.no_error_as) {
            (Some(error), _) => Some(error.as_str()),
            (None, NoErrorAs::NoneText) => Some("None"),
            (None, NoErrorAs::Null) => None,
        };
        let mut out = serializer.serialize_struct("licenseAssignmentState", 6)?;
        out.serialize_field("assignedByGroup", &s.assigned_by_group)?;
        out.serialize_field("disabledPlans", &s.disabled_plans)?;
        out.serialize_field("error", &error)?;
        out.serialize_field("lastUpdatedDateTime", &s.last_updated_date_time)?;
        out.serialize_field("skuId", &s.sku_id)?;
        out.serialize_field("state", &s.state)?;
        out.end()
    }
}

/// `signInActivity` resource; every field may be null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SignInActivity {
    #[serde(default)]
    pub last_sign_in_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_sign_in_request_id: Option<String>,
    #[serde(default)]
    pub last_non_interactive_sign_in_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_non_interactive_sign_in_request_id: Option<String>,
    #[serde(default)]
    pub last_successful_sign_in_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_successful_sign_in_request_id: Option<String>,
}

/// `user.userType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum UserType {
    #[default]
    Member,
    Guest,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Member => "Member",
            UserType::Guest => "Guest",
        }
    }
}

/// A directory user with the properties license-manager reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    pub user_principal_name: String,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default = "default_true")]
    pub account_enabled: bool,
    #[serde(default)]
    pub user_type: UserType,
    /// Null for some accounts created before June 2018 (documented).
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub office_location: Option<String>,
    #[serde(default)]
    pub mobile_phone: Option<String>,
    #[serde(default)]
    pub business_phones: Vec<String>,
    #[serde(default)]
    pub preferred_language: Option<String>,
    #[serde(default)]
    pub usage_location: Option<String>,
    #[serde(default)]
    pub assigned_licenses: Vec<AssignedLicense>,
    #[serde(default)]
    pub license_assignment_states: Vec<LicenseAssignmentState>,
    /// Absent for users who never signed in.
    #[serde(default)]
    pub sign_in_activity: Option<SignInActivity>,
    /// Set while the user is soft-deleted (in the recycle bin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_date_time: Option<DateTime<Utc>>,
}

fn default_true() -> bool {
    true
}

impl User {
    /// A minimal enabled member; the rest can be filled by the caller.
    pub fn new(id: Uuid, display_name: &str, user_principal_name: &str) -> Self {
        User {
            id,
            display_name: Some(display_name.to_string()),
            given_name: None,
            surname: None,
            user_principal_name: user_principal_name.to_string(),
            mail: None,
            account_enabled: true,
            user_type: UserType::Member,
            created_date_time: None,
            job_title: None,
            department: None,
            company_name: None,
            office_location: None,
            mobile_phone: None,
            business_phones: Vec::new(),
            preferred_language: None,
            usage_location: None,
            assigned_licenses: Vec::new(),
            license_assignment_states: Vec::new(),
            sign_in_activity: None,
            deleted_date_time: None,
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_date_time.is_some()
    }

    pub fn holds_sku(&self, sku_id: Uuid) -> bool {
        self.assigned_licenses.iter().any(|l| l.sku_id == sku_id)
    }
}

/// `prepaidUnits` (licenseUnitsDetail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PrepaidUnits {
    #[serde(default)]
    pub enabled: i32,
    #[serde(default)]
    pub locked_out: i32,
    #[serde(default)]
    pub suspended: i32,
    #[serde(default)]
    pub warning: i32,
}

impl PrepaidUnits {
    pub fn total(&self) -> i32 {
        self.enabled + self.locked_out + self.suspended + self.warning
    }
}

/// `servicePlanInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlanInfo {
    pub service_plan_id: Uuid,
    pub service_plan_name: String,
    #[serde(default = "default_success")]
    pub provisioning_status: String,
    #[serde(default = "default_user")]
    pub applies_to: String,
}

fn default_success() -> String {
    "Success".into()
}
fn default_user() -> String {
    "User".into()
}

/// A SKU the tenant subscribes to (`subscribedSku`, without the derived `consumedUnits`,
/// `id` and `subscriptionIds`, which the server computes from users and subscriptions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    pub sku_id: Uuid,
    pub sku_part_number: String,
    /// Microsoft's product name (not part of Graph's subscribedSku; kept as ground truth).
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default = "default_user")]
    pub applies_to: String,
    /// `Enabled`, `Warning`, `Suspended`, `Deleted` or `LockedOut`.
    pub capability_status: String,
    pub prepaid_units: PrepaidUnits,
    #[serde(default)]
    pub service_plans: Vec<ServicePlanInfo>,
}

/// `companySubscription` (GET /directory/subscriptions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: Uuid,
    pub commerce_subscription_id: Uuid,
    pub sku_id: Uuid,
    pub sku_part_number: String,
    /// `Enabled`, `Deleted`, `Suspended`, `Warning` or `LockedOut`.
    pub status: String,
    pub total_licenses: i32,
    #[serde(default)]
    pub is_trial: bool,
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub next_lifecycle_date_time: Option<DateTime<Utc>>,
}

/// A licensing group (for `licenseAssignmentStates.assignedByGroup` and `GET /groups/{id}`).
/// Members are not listed: a user's membership shows in its inherited assignment states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: Uuid,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `DynamicMembership` for a rule-based group, `Unified` for a Microsoft 365 group.
    #[serde(default)]
    pub group_types: Vec<String>,
    /// The rule of a dynamic group, else null.
    #[serde(default)]
    pub membership_rule: Option<String>,
    /// `On` or `Paused` for a dynamic group, else null.
    #[serde(default)]
    pub membership_rule_processing_state: Option<String>,
    /// true: synced from on-premises AD now (membership mastered there); false: was synced;
    /// null: never synced.
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default = "default_true")]
    pub security_enabled: bool,
    #[serde(default)]
    pub mail_enabled: bool,
    /// The licences every direct member inherits.
    #[serde(default)]
    pub assigned_licenses: Vec<AssignedLicense>,
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
}

impl Group {
    /// A cloud-only security group with assigned (static) membership.
    pub fn assigned(id: Uuid, display_name: &str) -> Self {
        Group {
            id,
            display_name: display_name.to_string(),
            description: None,
            group_types: Vec::new(),
            membership_rule: None,
            membership_rule_processing_state: None,
            on_premises_sync_enabled: None,
            security_enabled: true,
            mail_enabled: false,
            assigned_licenses: Vec::new(),
            created_date_time: None,
        }
    }

    pub fn is_dynamic(&self) -> bool {
        self.group_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case("DynamicMembership"))
    }
}

/// The app registration that may call the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub client_id: Uuid,
    pub client_secret: String,
    /// When true the token endpoint answers AADSTS7000222 (expired secret).
    #[serde(default)]
    pub secret_expired: bool,
    #[serde(default)]
    pub permissions: Permissions,
}

/// A whole tenant: organization facts, app, SKUs, subscriptions, groups and users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub tenant_id: Uuid,
    pub display_name: String,
    /// Verified domains; the first is the initial `*.onmicrosoft.com` domain.
    pub domains: Vec<String>,
    #[serde(default)]
    pub country_letter_code: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    /// Tenant holds Entra ID P1/P2 (needed for signInActivity).
    #[serde(default = "default_true")]
    pub premium: bool,
    /// How an assignment without error is sent (`"None"` unless the tenant says null).
    #[serde(default)]
    pub no_error_as: NoErrorAs,
    pub app: App,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub skus: Vec<Sku>,
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    #[serde(default)]
    pub users: Vec<User>,
    /// Pairs of service plans a user may not hold both of (two Exchange mailbox plans, say):
    /// assignLicense refuses an addition that would make a user hold both enabled. Empty in
    /// generated tenants, whose random licence mixes ignore such rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutually_exclusive_plans: Vec<(Uuid, Uuid)>,
    /// The users planted with one well-known licence case each (generated tenants of at least
    /// `FIXTURE_MIN_USERS` users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_fixtures: Option<LicenseFixtures>,
}

impl Tenant {
    /// Parses a tenant file (the format `to_json` writes).
    pub fn from_json(text: &str) -> Result<Tenant, SimError> {
        let t: Tenant = serde_json::from_str(text).map_err(SimError::TenantFile)?;
        t.validate()?;
        Ok(t)
    }

    pub fn load(path: &std::path::Path) -> Result<Tenant, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::Io(path.display().to_string(), e))?;
        Tenant::from_json(&text)
    }

    pub fn to_json(&self) -> Result<String, SimError> {
        serde_json::to_string_pretty(self).map_err(SimError::TenantFile)
    }

    /// The default (initial) domain.
    pub fn domain(&self) -> &str {
        self.domains.first().map(String::as_str).unwrap_or("")
    }

    /// Rejects files the server could not serve consistently (duplicate ids, no domain).
    pub fn validate(&self) -> Result<(), SimError> {
        if self.domains.is_empty() {
            return Err(SimError::InvalidInput(
                "tenant needs at least one verified domain".into(),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(self.users.len());
        for u in &self.users {
            if !seen.insert(u.id) {
                return Err(SimError::InvalidInput(format!(
                    "duplicate user id {}",
                    u.id
                )));
            }
        }
        Ok(())
    }
}
