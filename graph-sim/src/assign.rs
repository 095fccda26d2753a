//! `POST /v1.0/users/{id | userPrincipalName}/assignLicense`: adds and removes a user's direct
//! licence assignments, with Graph's checks and error texts.
//!
//! Checks run in this order (Graph documents none; the order a caller can rely on least):
//! token (401) → permission (403) → write limit (429) → user (404) → body → SKUs the tenant
//! owns → each removal (inherited only, then not held) → each addition (usage location, seats,
//! mutually exclusive plans) → apply. A call applies all of its changes or none, in one
//! directory change that users/delta reports.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::errors::GraphError;
use crate::faults::throttled;
use crate::limits::retry_after_secs;
use crate::props::{DEFAULT_PROPS, Prop, UserView};
use crate::server::{SimState, odata_ok};
use crate::stats::AppliedWrite;
use crate::store::Directory;
use crate::tenant::{AssignedLicense, LicenseAssignmentState, User};
use crate::token::authorize;

/// Why a call was refused: the statistics' outcome name and Graph's answer.
struct Refusal {
    outcome: &'static str,
    error: GraphError,
}

impl Refusal {
    fn new(outcome: &'static str, error: GraphError) -> Self {
        Refusal { outcome, error }
    }

    fn bad_request(outcome: &'static str, message: impl Into<String>) -> Self {
        Refusal::new(
            outcome,
            GraphError::bad_request("Request_BadRequest", message),
        )
    }
}

/// The body: licences to add and SKUs to remove.
#[derive(Debug, Clone, PartialEq)]
struct Change {
    add: Vec<AssignedLicense>,
    remove: Vec<Uuid>,
}

pub(crate) async fn assign_license(
    State(state): State<Arc<SimState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GraphError> {
    match apply(&state, &key, &headers, &body) {
        Ok(user) => respond(&state, &user),
        Err(refusal) => {
            state.stats.note_license_write(refusal.outcome);
            Err(refusal.error)
        }
    }
}

fn apply(state: &SimState, key: &str, headers: &HeaderMap, body: &[u8]) -> Result<User, Refusal> {
    authorize(state, headers).map_err(|e| Refusal::new("unauthenticated", e))?;
    if !state.dir().meta.app.permissions.can_assign_licenses() {
        return Err(Refusal::new(
            "forbidden",
            GraphError::insufficient_privileges(),
        ));
    }
    state.limiter().admit().map_err(|refused| {
        state
            .stats
            .write_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let scope = format!("{}/Write", refused.scope.header_prefix());
        Refusal::new(
            "throttled",
            throttled(
                state,
                &scope,
                "WriteLimitExceeded",
                retry_after_secs(refused.retry_after),
            ),
        )
    })?;
    // One lock for checks and change: seats counted are the seats taken.
    let mut dir = state.dir_mut();
    let user = dir
        .find_active(key)
        .ok_or_else(|| Refusal::new("userNotFound", not_found(key)))?
        .clone();
    let change = parse(body)?;
    check(&dir, &user, &change)?;
    let updated = dir
        .modify(user.id, |u| {
            change_licenses(u, &change);
            Ok(())
        })
        .map_err(|_| Refusal::new("userNotFound", not_found(key)))?;
    drop(dir);
    state.stats.note_applied(AppliedWrite {
        at: Utc::now(),
        user_id: updated.id,
        add_licenses: change.add,
        remove_licenses: change.remove,
        client_request_id: headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
    Ok(updated)
}

/// 200 with the user (Graph's examples show the default properties and the new licences).
fn respond(state: &SimState, user: &User) -> Result<Response, GraphError> {
    let mut props = DEFAULT_PROPS.to_vec();
    props.extend([Prop::AccountEnabled, Prop::AssignedLicenses]);
    let no_error_as = state.dir().meta.no_error_as;
    let mut body = serde_json::to_value(UserView {
        user,
        props: &props,
        no_error_as,
    })
    .map_err(|_| GraphError::internal())?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert(
            "@odata.context".into(),
            Value::String(format!("{}/v1.0/$metadata#users/$entity", state.base_url)),
        );
    }
    Ok(odata_ok(
        serde_json::to_vec(&body).map_err(|_| GraphError::internal())?,
    ))
}

fn not_found(key: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn unreadable() -> Refusal {
    Refusal::new(
        "badRequest",
        GraphError::bad_request(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        ),
    )
}

fn not_a_guid() -> Refusal {
    Refusal::bad_request(
        "badRequest",
        "Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details",
    )
}

fn guid(v: &Value) -> Result<Uuid, Refusal> {
    v.as_str()
        .filter(|s| s.len() == 36)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(not_a_guid)
}

/// A member of the body by name; OData matches parameter names case-insensitively. Null is
/// absent.
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn parse(body: &[u8]) -> Result<Change, Refusal> {
    let value: Value = serde_json::from_slice(body).map_err(|_| unreadable())?;
    let obj = value.as_object().ok_or_else(unreadable)?;
    let (add, remove) = (member(obj, "addLicenses"), member(obj, "removeLicenses"));
    let missing: Vec<&str> = [("addLicenses", add), ("removeLicenses", remove)]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| name)
        .collect();
    let (Some(add), Some(remove)) = (add, remove) else {
        return Err(Refusal::bad_request(
            "badRequest",
            format!(
                "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: {}.",
                missing.join(", ")
            ),
        ));
    };
    let add = add
        .as_array()
        .ok_or_else(unreadable)?
        .iter()
        .map(assigned_license)
        .collect::<Result<Vec<_>, _>>()?;
    let remove = remove
        .as_array()
        .ok_or_else(unreadable)?
        .iter()
        .map(guid)
        .collect::<Result<Vec<_>, _>>()?;
    if add.is_empty() && remove.is_empty() {
        return Err(Refusal::bad_request(
            "badRequest",
            "No license changes provided. At least one license to add or remove must be specified.",
        ));
    }
    Ok(Change { add, remove })
}

fn assigned_license(v: &Value) -> Result<AssignedLicense, Refusal> {
    let obj = v.as_object().ok_or_else(unreadable)?;
    let sku_id = guid(member(obj, "skuId").unwrap_or(&Value::Null))?;
    let disabled_plans = match member(obj, "disabledPlans") {
        None => Vec::new(),
        Some(plans) => plans
            .as_array()
            .ok_or_else(unreadable)?
            .iter()
            .map(guid)
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(AssignedLicense {
        disabled_plans,
        sku_id,
    })
}

/// Every check that can refuse the change, before anything changes.
fn check(dir: &Directory, user: &User, change: &Change) -> Result<(), Refusal> {
    let requested = change
        .add
        .iter()
        .map(|l| l.sku_id)
        .chain(change.remove.iter().copied());
    for sku in requested {
        if !dir.meta.skus.iter().any(|s| s.sku_id == sku) {
            return Err(Refusal::bad_request(
                "unknownSku",
                format!("License {sku} does not correspond to a valid company License."),
            ));
        }
    }
    for sku in &change.remove {
        check_removal(user, *sku)?;
    }
    for license in &change.add {
        check_addition(dir, user, license)?;
    }
    Ok(())
}

/// How a user holds one SKU.
struct Sources {
    direct: bool,
    groups: bool,
}

fn sources(user: &User, sku: Uuid) -> Sources {
    let states: Vec<_> = user
        .license_assignment_states
        .iter()
        .filter(|s| s.sku_id == sku)
        .collect();
    Sources {
        // A licence without any assignment state (set up by hand) counts as direct.
        direct: states.iter().any(|s| s.assigned_by_group.is_none())
            || (states.is_empty() && user.holds_sku(sku)),
        groups: states.iter().any(|s| s.assigned_by_group.is_some()),
    }
}

fn check_removal(user: &User, sku: Uuid) -> Result<(), Refusal> {
    match sources(user, sku) {
        Sources { direct: true, .. } => Ok(()),
        Sources { groups: true, .. } => Err(Refusal::bad_request(
            "inheritedFromGroup",
            "User license is inherited from a group membership and it cannot be removed directly from the user.",
        )),
        _ => Err(Refusal::bad_request(
            "notHeld",
            "User does not have a corresponding license.",
        )),
    }
}

/// ISO 3166-1 alpha-2, as Graph stores usageLocation.
fn valid_usage_location(location: Option<&str>) -> bool {
    location.is_some_and(|l| l.len() == 2 && l.chars().all(|c| c.is_ascii_uppercase()))
}

fn check_addition(dir: &Directory, user: &User, license: &AssignedLicense) -> Result<(), Refusal> {
    if !valid_usage_location(user.usage_location.as_deref()) {
        return Err(Refusal::bad_request(
            "noUsageLocation",
            "License assignment cannot be done for user with invalid usage location.",
        ));
    }
    let sku = license.sku_id;
    // A user consumes one seat of a SKU however many sources grant it.
    if !user.holds_sku(sku) && free_seats(dir, sku) <= 0 {
        return Err(Refusal::bad_request(
            "noSeats",
            format!("Subscription with SKU {sku} does not have any available licenses."),
        ));
    }
    if let Some((a, b)) = conflict(dir, user, license) {
        return Err(Refusal::bad_request(
            "mutuallyExclusive",
            format!(
                "License assignment failed because service plans {a}, {b} are mutually exclusive."
            ),
        ));
    }
    Ok(())
}

/// `prepaidUnits.enabled` minus `consumedUnits`.
fn free_seats(dir: &Directory, sku: Uuid) -> i64 {
    let enabled = dir
        .meta
        .skus
        .iter()
        .find(|s| s.sku_id == sku)
        .map_or(0, |s| i64::from(s.prepaid_units.enabled));
    let consumed = dir.active_users().filter(|u| u.holds_sku(sku)).count() as i64;
    enabled - consumed
}

/// The enabled service plans of a licence.
fn enabled_plans(dir: &Directory, license: &AssignedLicense) -> Vec<Uuid> {
    let plans: Vec<Uuid> = match dir.meta.skus.iter().find(|s| s.sku_id == license.sku_id) {
        Some(sku) => sku
            .service_plans
            .iter()
            .map(|p| p.service_plan_id)
            .collect(),
        None => crate::catalog::by_id(license.sku_id)
            .map(|c| c.service_plans.iter().map(|p| p.service_plan_id).collect())
            .unwrap_or_default(),
    };
    plans
        .into_iter()
        .filter(|p| !license.disabled_plans.contains(p))
        .collect()
}

/// A pair of the tenant's mutually exclusive plans the addition would make the user hold.
fn conflict(dir: &Directory, user: &User, license: &AssignedLicense) -> Option<(Uuid, Uuid)> {
    let pairs = &dir.meta.mutually_exclusive_plans;
    if pairs.is_empty() {
        return None;
    }
    let added = enabled_plans(dir, license);
    let held: Vec<Uuid> = user
        .assigned_licenses
        .iter()
        .filter(|l| l.sku_id != license.sku_id)
        .flat_map(|l| enabled_plans(dir, l))
        .collect();
    pairs.iter().copied().find(|(a, b)| {
        (added.contains(a) && held.contains(b)) || (added.contains(b) && held.contains(a))
    })
}

/// Applies a checked change: removals drop the direct assignment only (inherited copies stay),
/// additions add or update it; assignedLicenses then follows the assignments that apply.
fn change_licenses(user: &mut User, change: &Change) {
    let now = Utc::now();
    for sku in &change.remove {
        user.license_assignment_states
            .retain(|s| !(s.sku_id == *sku && s.assigned_by_group.is_none()));
        refresh_assigned(user, *sku);
    }
    for license in &change.add {
        let state = LicenseAssignmentState {
            assigned_by_group: None,
            disabled_plans: license.disabled_plans.clone(),
            error: None,
            last_updated_date_time: Some(now),
            sku_id: license.sku_id,
            state: "Active".into(),
        };
        match user
            .license_assignment_states
            .iter_mut()
            .find(|s| s.sku_id == license.sku_id && s.assigned_by_group.is_none())
        {
            Some(existing) => *existing = state,
            None => user.license_assignment_states.push(state),
        }
        refresh_assigned(user, license.sku_id);
    }
}

/// Removes the user's direct assignment of `sku` only, as assignLicense does: a copy the user
/// inherits from a group stays.
pub(crate) fn remove_direct(user: &mut User, sku: Uuid) {
    change_licenses(
        user,
        &Change {
            add: Vec::new(),
            remove: vec![sku],
        },
    );
}

/// Group-based licensing as Entra applies it to a new member: an assignment of each of the
/// group's licences, by the group, beside any the user holds already.
pub(crate) fn inherit(user: &mut User, group: Uuid, licenses: &[AssignedLicense]) {
    let now = Utc::now();
    for license in licenses {
        user.license_assignment_states
            .retain(|s| !(s.sku_id == license.sku_id && s.assigned_by_group == Some(group)));
        user.license_assignment_states.push(LicenseAssignmentState {
            assigned_by_group: Some(group),
            disabled_plans: license.disabled_plans.clone(),
            error: None,
            last_updated_date_time: Some(now),
            sku_id: license.sku_id,
            state: "Active".into(),
        });
        refresh_assigned(user, license.sku_id);
    }
}

/// A member leaves the group: what it inherited from it goes, what it holds otherwise stays.
pub(crate) fn disinherit(user: &mut User, group: Uuid) {
    let skus: Vec<Uuid> = user
        .license_assignment_states
        .iter()
        .filter(|s| s.assigned_by_group == Some(group))
        .map(|s| s.sku_id)
        .collect();
    user.license_assignment_states
        .retain(|s| s.assigned_by_group != Some(group));
    for sku in skus {
        refresh_assigned(user, sku);
    }
}

/// Sets the user's assignedLicenses entry for `sku` from the assignments that apply: present
/// while any is active, a plan disabled only when every source disables it.
fn refresh_assigned(user: &mut User, sku: Uuid) {
    let applying: Vec<&LicenseAssignmentState> = user
        .license_assignment_states
        .iter()
        .filter(|s| s.sku_id == sku && s.state.starts_with("Active"))
        .collect();
    let Some(first) = applying.first() else {
        user.assigned_licenses.retain(|l| l.sku_id != sku);
        return;
    };
    let disabled_plans: Vec<Uuid> = first
        .disabled_plans
        .iter()
        .filter(|p| applying.iter().all(|s| s.disabled_plans.contains(p)))
        .copied()
        .collect();
    let entry = AssignedLicense {
        disabled_plans,
        sku_id: sku,
    };
    match user.assigned_licenses.iter_mut().find(|l| l.sku_id == sku) {
        Some(existing) => *existing = entry,
        None => user.assigned_licenses.push(entry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> Result<Change, String> {
        parse(body.as_bytes()).map_err(|r| r.error.message)
    }

    #[test]
    fn body_shapes() {
        let sku = "f30db892-07e9-47e9-837c-80727f46fd3d";
        let ok = parsed(&format!(
            r#"{{"addLicenses":[],"removeLicenses":["{sku}"]}}"#
        ))
        .unwrap();
        assert_eq!(ok.remove, [Uuid::parse_str(sku).unwrap()]);
        let missing = parsed(&format!(r#"{{"removeLicenses":["{sku}"]}}"#)).unwrap_err();
        assert!(missing.ends_with("The missing parameters are: addLicenses."));
        assert!(
            parsed(r#"{"addLicenses":[],"removeLicenses":[]}"#)
                .unwrap_err()
                .starts_with("No license changes provided.")
        );
        assert!(
            parsed(r#"{"addLicenses":[],"removeLicenses":["E3"]}"#)
                .unwrap_err()
                .contains("'Edm.Guid'")
        );
        assert!(
            parsed("not json")
                .unwrap_err()
                .starts_with("Unable to read JSON")
        );
    }

    #[test]
    fn removing_the_direct_copy_keeps_the_inherited_one() {
        let sku = Uuid::from_u128(1);
        let group = Uuid::from_u128(2);
        let mut u = User::new(Uuid::from_u128(3), "Zoë", "zoe@x");
        let state = |by, plans: Vec<Uuid>| LicenseAssignmentState {
            assigned_by_group: by,
            disabled_plans: plans,
            error: None,
            last_updated_date_time: None,
            sku_id: sku,
            state: "Active".into(),
        };
        let plan = Uuid::from_u128(9);
        u.license_assignment_states = vec![state(None, vec![plan]), state(Some(group), vec![])];
        u.assigned_licenses = vec![AssignedLicense {
            disabled_plans: vec![],
            sku_id: sku,
        }];
        change_licenses(
            &mut u,
            &Change {
                add: vec![],
                remove: vec![sku],
            },
        );
        assert!(u.holds_sku(sku));
        assert_eq!(u.license_assignment_states, [state(Some(group), vec![])]);
    }
}
