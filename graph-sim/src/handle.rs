//! The library API over a running simulator: change the tenant between syncs, read ground
//! truth, tune faults, read statistics. Every change goes through the directory, so
//! users/delta reports exactly these changes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::errors::SimError;
use crate::faults::FaultOptions;
use crate::limits::WriteLimits;
use crate::server::SimState;
use crate::skus::{self, SubscribedSku};
use crate::stats::{AppliedWrite, RequestLogEntry, Stats};
use crate::tenant::{
    AssignedLicense, Group, LicenseAssignmentState, LicenseFixtures, NoErrorAs, Permissions,
    PrepaidUnits, SignInActivity, Sku, Subscription, Tenant, User, UserType,
};

/// A new user. Only `displayName` is required; the UPN defaults to a name at the tenant's
/// default domain, the id to a fresh GUID, createdDateTime to now.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewUser {
    pub id: Option<Uuid>,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub user_principal_name: Option<String>,
    pub mail: Option<String>,
    pub account_enabled: Option<bool>,
    pub user_type: Option<UserType>,
    pub created_date_time: Option<DateTime<Utc>>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub usage_location: Option<String>,
    /// Assigned directly (an Active direct licenseAssignmentState is added for each).
    pub assigned_licenses: Vec<AssignedLicense>,
    pub sign_in_activity: Option<SignInActivity>,
}

impl NewUser {
    pub fn named(display_name: &str) -> Self {
        NewUser {
            display_name: display_name.to_string(),
            ..Default::default()
        }
    }
}

/// Distinguishes "absent" (None) from "set to null" (Some(None)) in JSON patches.
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A change to any user field. `None` leaves a field alone; for nullable fields
/// `Some(None)` sets null.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserPatch {
    #[serde(deserialize_with = "double_option")]
    pub display_name: Option<Option<String>>,
    #[serde(deserialize_with = "double_option")]
    pub given_name: Option<Option<String>>,
    #[serde(deserialize_with = "double_option")]
    pub surname: Option<Option<String>>,
    pub user_principal_name: Option<String>,
    #[serde(deserialize_with = "double_option")]
    pub mail: Option<Option<String>>,
    pub account_enabled: Option<bool>,
    pub user_type: Option<UserType>,
    #[serde(deserialize_with = "double_option")]
    pub created_date_time: Option<Option<DateTime<Utc>>>,
    #[serde(deserialize_with = "double_option")]
    pub job_title: Option<Option<String>>,
    #[serde(deserialize_with = "double_option")]
    pub department: Option<Option<String>>,
    #[serde(deserialize_with = "double_option")]
    pub company_name: Option<Option<String>>,
    #[serde(deserialize_with = "double_option")]
    pub office_location: Option<Option<String>>,
    #[serde(deserialize_with = "double_option")]
    pub mobile_phone: Option<Option<String>>,
    pub business_phones: Option<Vec<String>>,
    #[serde(deserialize_with = "double_option")]
    pub preferred_language: Option<Option<String>>,
    #[serde(deserialize_with = "double_option")]
    pub usage_location: Option<Option<String>>,
    pub assigned_licenses: Option<Vec<AssignedLicense>>,
    pub license_assignment_states: Option<Vec<LicenseAssignmentState>>,
    #[serde(deserialize_with = "double_option")]
    pub sign_in_activity: Option<Option<SignInActivity>>,
}

impl UserPatch {
    pub fn apply(self, u: &mut User) {
        fn set<T>(field: &mut T, v: Option<T>) {
            if let Some(v) = v {
                *field = v;
            }
        }
        set(&mut u.display_name, self.display_name);
        set(&mut u.given_name, self.given_name);
        set(&mut u.surname, self.surname);
        set(&mut u.user_principal_name, self.user_principal_name);
        set(&mut u.mail, self.mail);
        set(&mut u.account_enabled, self.account_enabled);
        set(&mut u.user_type, self.user_type);
        set(&mut u.created_date_time, self.created_date_time);
        set(&mut u.job_title, self.job_title);
        set(&mut u.department, self.department);
        set(&mut u.company_name, self.company_name);
        set(&mut u.office_location, self.office_location);
        set(&mut u.mobile_phone, self.mobile_phone);
        set(&mut u.business_phones, self.business_phones);
        set(&mut u.preferred_language, self.preferred_language);
        set(&mut u.usage_location, self.usage_location);
        set(&mut u.assigned_licenses, self.assigned_licenses);
        set(
            &mut u.license_assignment_states,
            self.license_assignment_states,
        );
        set(&mut u.sign_in_activity, self.sign_in_activity);
    }
}

/// Cloneable handle to a running simulator.
#[derive(Clone)]
pub struct SimHandle {
    state: Arc<SimState>,
}

impl SimHandle {
    pub(crate) fn new(state: Arc<SimState>) -> Self {
        SimHandle { state }
    }

    pub(crate) fn state(&self) -> &SimState {
        &self.state
    }

    /// `http://127.0.0.1:PORT`: the value for LM_MICROSOFT_LOGIN_URL and LM_MICROSOFT_GRAPH_URL.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// `{base}/{tenantId}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.state.base_url,
            self.tenant_id()
        )
    }

    pub fn tenant_id(&self) -> Uuid {
        self.state.dir().meta.tenant_id
    }

    /// The initial verified domain, e.g. `contoso-7.onmicrosoft.com`.
    pub fn domain(&self) -> String {
        self.state.dir().meta.domain().to_string()
    }

    pub fn client_id(&self) -> Uuid {
        self.state.dir().meta.app.client_id
    }

    pub fn client_secret(&self) -> String {
        self.state.dir().meta.app.client_secret.clone()
    }

    // ---- ground truth ----

    /// Active (not soft-deleted) users in listing order.
    pub fn users(&self) -> Vec<User> {
        self.state.dir().active_users().cloned().collect()
    }

    pub fn deleted_users(&self) -> Vec<User> {
        self.state.dir().deleted_users().cloned().collect()
    }

    pub fn user(&self, id: Uuid) -> Option<User> {
        self.state.dir().get(id).cloned()
    }

    pub fn user_count(&self) -> usize {
        self.state.dir().active_count()
    }

    /// subscribedSkus as served (consumedUnits computed from users).
    pub fn subscribed_skus(&self) -> Vec<SubscribedSku> {
        skus::subscribed(&self.state.dir())
    }

    pub fn skus(&self) -> Vec<Sku> {
        self.state.dir().meta.skus.clone()
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.state.dir().meta.subscriptions.clone()
    }

    /// The whole tenant (users incl. soft-deleted), e.g. to save as a tenant file.
    pub fn snapshot(&self) -> Tenant {
        self.state.dir().snapshot()
    }

    // ---- user changes ----

    pub fn add_user(&self, new: NewUser) -> Result<User, SimError> {
        if new.display_name.trim().is_empty() {
            return Err(SimError::InvalidInput("displayName is required".into()));
        }
        let mut dir = self.state.dir_mut();
        let id = new.id.unwrap_or_else(Uuid::new_v4);
        let upn = match new.user_principal_name {
            Some(u) => u,
            None => {
                let local: String = new
                    .display_name
                    .chars()
                    .filter_map(|c| {
                        if c.is_ascii_alphanumeric() {
                            Some(c.to_ascii_lowercase())
                        } else if c == ' ' {
                            Some('.')
                        } else {
                            None
                        }
                    })
                    .collect();
                let local = if local.trim_matches('.').is_empty() {
                    "user".to_string()
                } else {
                    local
                };
                format!(
                    "{local}.{}@{}",
                    &id.simple().to_string()[..6],
                    dir.meta.domain()
                )
            }
        };
        let mut u = User::new(id, &new.display_name, &upn);
        u.given_name = new.given_name;
        u.surname = new.surname;
        u.mail = new.mail;
        u.account_enabled = new.account_enabled.unwrap_or(true);
        u.user_type = new.user_type.unwrap_or_default();
        u.created_date_time = Some(new.created_date_time.unwrap_or_else(now_seconds));
        u.job_title = new.job_title;
        u.department = new.department;
        u.usage_location = new.usage_location;
        u.sign_in_activity = new.sign_in_activity;
        for l in new.assigned_licenses {
            u.license_assignment_states.push(direct_state(&l));
            u.assigned_licenses.push(l);
        }
        dir.add_user(u)
    }

    /// Changes any fields of an active user.
    pub fn update_user(&self, id: Uuid, patch: UserPatch) -> Result<User, SimError> {
        self.state.dir_mut().modify(id, |u| {
            patch.apply(u);
            Ok(())
        })
    }

    /// Renames a user (displayName, and the UPN when given).
    pub fn rename_user(
        &self,
        id: Uuid,
        display_name: &str,
        user_principal_name: Option<&str>,
    ) -> Result<User, SimError> {
        self.state.dir_mut().modify(id, |u| {
            u.display_name = Some(display_name.to_string());
            if let Some(upn) = user_principal_name {
                u.user_principal_name = upn.to_string();
            }
            Ok(())
        })
    }

    /// Assigns a SKU directly (or changes its disabled plans), like Graph's assignLicense.
    pub fn assign_license(
        &self,
        id: Uuid,
        sku_id: Uuid,
        disabled_plans: Vec<Uuid>,
    ) -> Result<User, SimError> {
        self.state.dir_mut().modify(id, |u| {
            let lic = AssignedLicense {
                disabled_plans,
                sku_id,
            };
            match u.assigned_licenses.iter_mut().find(|l| l.sku_id == sku_id) {
                Some(existing) => *existing = lic.clone(),
                None => u.assigned_licenses.push(lic.clone()),
            }
            match u
                .license_assignment_states
                .iter_mut()
                .find(|s| s.sku_id == sku_id && s.assigned_by_group.is_none())
            {
                Some(s) => *s = direct_state(&lic),
                None => u.license_assignment_states.push(direct_state(&lic)),
            }
            Ok(())
        })
    }

    /// Removes a SKU from the user (direct and inherited assignment states alike).
    pub fn remove_license(&self, id: Uuid, sku_id: Uuid) -> Result<User, SimError> {
        self.state.dir_mut().modify(id, |u| {
            if !u.holds_sku(sku_id)
                && !u
                    .license_assignment_states
                    .iter()
                    .any(|s| s.sku_id == sku_id)
            {
                return Err(SimError::InvalidInput(format!(
                    "user does not hold SKU {sku_id}"
                )));
            }
            u.assigned_licenses.retain(|l| l.sku_id != sku_id);
            u.license_assignment_states.retain(|s| s.sku_id != sku_id);
            Ok(())
        })
    }

    pub fn set_account_enabled(&self, id: Uuid, enabled: bool) -> Result<User, SimError> {
        self.state.dir_mut().modify(id, |u| {
            u.account_enabled = enabled;
            Ok(())
        })
    }

    pub fn disable_user(&self, id: Uuid) -> Result<User, SimError> {
        self.set_account_enabled(id, false)
    }

    /// Moves the user to the recycle bin (delta: `@removed: {reason: changed}`).
    pub fn soft_delete_user(&self, id: Uuid) -> Result<User, SimError> {
        self.state.dir_mut().soft_delete(id)
    }

    pub fn restore_user(&self, id: Uuid) -> Result<User, SimError> {
        self.state.dir_mut().restore(id)
    }

    /// Deletes permanently (delta: `@removed: {reason: deleted}`).
    pub fn hard_delete_user(&self, id: Uuid) -> Result<User, SimError> {
        self.state.dir_mut().hard_delete(id)
    }

    // ---- SKUs ----

    pub fn set_sku_units(&self, sku_id: Uuid, units: PrepaidUnits) -> Result<Sku, SimError> {
        self.state.dir_mut().set_sku_units(sku_id, units)
    }

    /// Sets `prepaidUnits.enabled` only.
    pub fn set_sku_seats(&self, sku_id: Uuid, enabled: i32) -> Result<Sku, SimError> {
        let mut dir = self.state.dir_mut();
        let mut units = dir.sku_mut(sku_id)?.prepaid_units;
        units.enabled = enabled;
        dir.set_sku_units(sku_id, units)
    }

    pub fn set_sku_status(&self, sku_id: Uuid, capability_status: &str) -> Result<Sku, SimError> {
        self.state
            .dir_mut()
            .set_sku_status(sku_id, capability_status)
    }

    // ---- tenant / app settings ----

    pub fn set_permissions(&self, permissions: Permissions) {
        self.state.dir_mut().meta.app.permissions = permissions;
    }

    pub fn permissions(&self) -> Permissions {
        self.state.dir().meta.app.permissions
    }

    pub fn set_premium(&self, premium: bool) {
        self.state.dir_mut().meta.premium = premium;
    }

    pub fn set_secret_expired(&self, expired: bool) {
        self.state.dir_mut().meta.app.secret_expired = expired;
    }

    /// How later answers send an assignment without error: `"None"` or null.
    pub fn set_no_error_as(&self, no_error_as: NoErrorAs) {
        self.state.dir_mut().meta.no_error_as = no_error_as;
    }

    /// The app's permissions by name (as its token's `roles` claim lists them); unknown names
    /// are refused. Graph checks the current grant on every call; a token keeps the `roles` it
    /// was issued with, so call [`SimHandle::expire_tokens`] for the client to see the change.
    pub fn set_permission_names(&self, names: &[&str]) -> Result<Permissions, SimError> {
        let permissions = Permissions::from_names(names)?;
        self.set_permissions(permissions);
        Ok(permissions)
    }

    pub fn permission_names(&self) -> Vec<&'static str> {
        self.permissions().names()
    }

    /// Service-plan pairs a user may not hold both of (assignLicense then refuses the addition
    /// with Graph's mutually-exclusive error).
    pub fn set_mutually_exclusive_plans(&self, pairs: Vec<(Uuid, Uuid)>) {
        self.state.dir_mut().meta.mutually_exclusive_plans = pairs;
    }

    // ---- licensing groups and reclaim cases ----

    pub fn groups(&self) -> Vec<Group> {
        self.state.dir().meta.groups.clone()
    }

    pub fn group(&self, id: Uuid) -> Option<Group> {
        self.state
            .dir()
            .meta
            .groups
            .iter()
            .find(|g| g.id == id)
            .cloned()
    }

    /// The user joins an assigned group and inherits the licences it assigns.
    pub fn add_group_member(&self, group_id: Uuid, user_id: Uuid) -> Result<User, SimError> {
        let group = self.assigned_group(group_id)?;
        self.state.dir_mut().modify(user_id, |u| {
            crate::assign::inherit(u, group.id, &group.assigned_licenses);
            Ok(())
        })
    }

    /// The user leaves an assigned group and with it the licences it inherited from it.
    pub fn remove_group_member(&self, group_id: Uuid, user_id: Uuid) -> Result<User, SimError> {
        let group = self.assigned_group(group_id)?;
        self.state.dir_mut().modify(user_id, |u| {
            crate::assign::disinherit(u, group.id);
            Ok(())
        })
    }

    /// Removes the user's direct assignment of a SKU as assignLicense does, keeping a copy it
    /// inherits from a group.
    pub fn remove_direct_license(&self, user_id: Uuid, sku_id: Uuid) -> Result<User, SimError> {
        self.state.dir_mut().modify(user_id, |u| {
            if !u
                .license_assignment_states
                .iter()
                .any(|s| s.sku_id == sku_id && s.assigned_by_group.is_none())
            {
                return Err(SimError::InvalidInput(format!(
                    "user does not hold SKU {sku_id} directly"
                )));
            }
            crate::assign::remove_direct(u, sku_id);
            Ok(())
        })
    }

    /// A group whose members are set by hand in the cloud: only those can be joined or left.
    fn assigned_group(&self, id: Uuid) -> Result<Group, SimError> {
        let group = self
            .group(id)
            .ok_or_else(|| SimError::InvalidInput(format!("no group {id}")))?;
        let managed_elsewhere =
            group.membership_rule.is_some() || group.on_premises_sync_enabled == Some(true);
        if managed_elsewhere {
            return Err(SimError::InvalidInput(format!(
                "the members of group {id} are set by a rule or on-premises"
            )));
        }
        Ok(group)
    }

    /// The users planted with one licence case each (None for tenants under
    /// [`FIXTURE_MIN_USERS`](crate::FIXTURE_MIN_USERS) users and for tenant files without them).
    pub fn license_fixtures(&self) -> Option<LicenseFixtures> {
        self.state.dir().meta.license_fixtures
    }

    /// The user signs in now (interactively and successfully): signInActivity moves, nothing
    /// users/delta reports.
    pub fn sign_in_now(&self, id: Uuid) -> Result<User, SimError> {
        self.set_last_sign_in(id, now_seconds())
    }

    /// Sets the user's last interactive, successful sign-in.
    pub fn set_last_sign_in(&self, id: Uuid, at: DateTime<Utc>) -> Result<User, SimError> {
        self.state.dir_mut().modify(id, |u| {
            let request_id = Some(Uuid::new_v4().to_string());
            let activity = u
                .sign_in_activity
                .get_or_insert_with(SignInActivity::default);
            activity.last_sign_in_date_time = Some(at);
            activity.last_sign_in_request_id = request_id.clone();
            activity.last_successful_sign_in_date_time = Some(at);
            activity.last_successful_sign_in_request_id = request_id;
            Ok(())
        })
    }

    /// Sets or (None) clears the user's usageLocation; assignLicense cannot add licences to a
    /// user without one.
    pub fn set_usage_location(&self, id: Uuid, location: Option<&str>) -> Result<User, SimError> {
        self.state.dir_mut().modify(id, |u| {
            u.usage_location = location.map(str::to_string);
            Ok(())
        })
    }

    /// Seats of `sku_id` not taken (`prepaidUnits.enabled − consumedUnits`).
    pub fn free_seats(&self, sku_id: Uuid) -> Result<i32, SimError> {
        self.subscribed_skus()
            .into_iter()
            .find(|s| s.sku_id == sku_id)
            .map(|s| s.prepaid_units.enabled - s.consumed_units)
            .ok_or_else(|| SimError::SkuNotFound(sku_id.to_string()))
    }

    /// Someone else takes a seat of `sku_id`: the first enabled member with a usage location
    /// who does not hold it gets it directly. Done after a licence was removed, re-adding it
    /// then fails for want of seats once none is left.
    pub fn give_seat_to_someone_else(&self, sku_id: Uuid) -> Result<User, SimError> {
        if !self.skus().iter().any(|s| s.sku_id == sku_id) {
            return Err(SimError::SkuNotFound(sku_id.to_string()));
        }
        let taker = self
            .state
            .dir()
            .active_users()
            .find(|u| {
                u.account_enabled
                    && u.user_type == UserType::Member
                    && u.usage_location.is_some()
                    && !u
                        .license_assignment_states
                        .iter()
                        .any(|s| s.sku_id == sku_id)
                    && !u.holds_sku(sku_id)
            })
            .map(|u| u.id)
            .ok_or_else(|| SimError::Conflict(format!("nobody left to take a seat of {sku_id}")))?;
        self.assign_license(taker, sku_id, Vec::new())
    }

    /// Others take every free seat of `sku_id`; returns who took them.
    pub fn fill_seats(&self, sku_id: Uuid) -> Result<Vec<Uuid>, SimError> {
        let free = self.free_seats(sku_id)?;
        (0..free.max(0))
            .map(|_| self.give_seat_to_someone_else(sku_id).map(|u| u.id))
            .collect()
    }

    // ---- writes ----

    pub fn write_limits(&self) -> WriteLimits {
        self.state.limiter().limits
    }

    /// Changes the write limits; writes already counted stay in their windows.
    pub fn set_write_limits(&self, limits: WriteLimits) {
        self.state.limiter().limits = limits;
    }

    /// Every assignLicense call that changed the tenant since the last statistics reset, in
    /// order.
    pub fn applied_writes(&self) -> Vec<AppliedWrite> {
        self.state.stats.applied_writes()
    }

    /// Those of one user.
    pub fn applied_writes_for(&self, user: Uuid) -> Vec<AppliedWrite> {
        self.applied_writes()
            .into_iter()
            .filter(|w| w.user_id == user)
            .collect()
    }

    // ---- tokens, faults, statistics ----

    pub fn set_token_ttl_secs(&self, secs: u64) {
        self.state.set_token_ttl_secs(secs);
    }

    /// Every issued access token becomes expired.
    pub fn expire_tokens(&self) {
        self.state.tokens().expire_all();
    }

    /// Every outstanding delta token/link becomes unknown (400 syncStateNotFound).
    pub fn invalidate_delta_tokens(&self) {
        self.state.dir_mut().delta_generation += 1;
    }

    pub fn faults(&self) -> FaultOptions {
        self.state.faults()
    }

    pub fn set_faults(&self, faults: FaultOptions) {
        self.state.set_faults(faults);
    }

    pub fn stats(&self) -> Stats {
        self.state.stats.snapshot()
    }

    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        self.state.stats.log()
    }

    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }
}

fn now_seconds() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

fn direct_state(l: &AssignedLicense) -> LicenseAssignmentState {
    LicenseAssignmentState {
        assigned_by_group: None,
        disabled_plans: l.disabled_plans.clone(),
        error: None,
        last_updated_date_time: Some(now_seconds()),
        sku_id: l.sku_id,
        state: "Active".into(),
    }
}
