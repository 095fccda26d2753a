//! What a provider hands the sync engine: plain records, already normalised, with no trace of
//! the wire format they came in.

use chrono::{DateTime, Utc};

/// A user from a complete listing: every field as the directory has it now.
#[derive(Clone, Debug, PartialEq)]
pub struct UserRecord {
    pub external_id: String,
    pub user_principal_name: String,
    pub mail: Option<String>,
    pub display_name: Option<String>,
    pub account_enabled: bool,
    pub user_type: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// None when this listing did not read sign-in activity: the stored dates stay as they are.
    pub sign_in: Option<SignInDates>,
    pub licenses: Vec<LicenseRecord>,
}

/// The three sign-in dates Graph keeps; any may be unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignInDates {
    pub last_interactive: Option<DateTime<Utc>>,
    pub last_non_interactive: Option<DateTime<Utc>>,
    pub last_successful: Option<DateTime<Utc>>,
}

/// One license a user holds, however many ways it was assigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseRecord {
    /// The SKU's GUID, lower-case.
    pub sku_id: String,
    pub disabled_plans: Vec<String>,
    /// Assigned to the user itself, so an admin can remove it from the user.
    pub assigned_directly: bool,
    /// Groups the license (also) comes from; removable only through them.
    pub inherited_from_group_ids: Vec<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// A change from an incremental round: only the properties present changed.
#[derive(Clone, Debug, PartialEq)]
pub enum UserChange {
    Upsert(UserPatch),
    /// Left the directory: `permanently` when hard-deleted, else soft-deleted (restorable).
    Removed {
        external_id: String,
        permanently: bool,
    },
}

impl UserChange {
    /// The Graph id of the user the change is about.
    pub fn external_id(&self) -> &str {
        match self {
            UserChange::Upsert(patch) => &patch.external_id,
            UserChange::Removed { external_id, .. } => external_id,
        }
    }
}

/// A partial user. `None` = not sent; `Some(None)` = sent as null.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserPatch {
    pub external_id: String,
    pub user_principal_name: Option<String>,
    pub mail: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub account_enabled: Option<bool>,
    pub user_type: Option<Option<String>>,
    pub created_at: Option<Option<DateTime<Utc>>>,
    /// The licenses' SKUs and disabled plans; how each was assigned is not part of a delta.
    pub licenses: Option<Vec<AssignedSku>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignedSku {
    pub sku_id: String,
    pub disabled_plans: Vec<String>,
}

/// Sign-in dates of one user, from the light listing that refreshes them between full syncs.
#[derive(Clone, Debug, PartialEq)]
pub struct SignInRecord {
    pub external_id: String,
    pub dates: SignInDates,
}

/// A SKU the tenant subscribes to, with seats summed over its subscriptions.
#[derive(Clone, Debug, PartialEq)]
pub struct SkuRecord {
    pub sku_id: String,
    pub sku_part_number: String,
    pub capability_status: String,
    pub applies_to: Option<String>,
    pub enabled_units: i64,
    pub suspended_units: i64,
    pub warning_units: i64,
    pub locked_out_units: i64,
    pub consumed_units: i64,
    /// `[{servicePlanId, servicePlanName, provisioningStatus}]` as Graph lists them.
    pub service_plans: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionRecord {
    pub external_id: String,
    pub commerce_subscription_id: Option<String>,
    pub sku_id: String,
    pub sku_part_number: String,
    pub status: String,
    pub total_licenses: i64,
    pub is_trial: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub next_lifecycle_at: Option<DateTime<Utc>>,
}
