//! `/_sim/...`: JSON control endpoints for changing the tenant between syncs, tuning faults
//! and reading statistics from outside the process (CLI mode). Not part of Graph, so these
//! routes bypass latency, faults and statistics.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::errors::SimError;
use crate::faults::FaultOptions;
use crate::handle::{NewUser, SimHandle, UserPatch};
use crate::limits::WriteLimits;
use crate::oidc::{AudienceForm, TestToken};
use crate::server::SimState;
use crate::tenant::{AssignedLicense, NoErrorAs, Permissions};

type Shared = State<Arc<SimState>>;

fn handle(state: Arc<SimState>) -> SimHandle {
    SimHandle::new(state)
}

fn parse_id(id: &str) -> Result<Uuid, SimError> {
    Uuid::parse_str(id).map_err(|_| SimError::InvalidInput(format!("'{id}' is not a GUID")))
}

type Reply = Result<Response, SimError>;

fn ok(v: impl serde::Serialize) -> Reply {
    Ok(Json(v).into_response())
}

pub(crate) fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route("/_sim/tenant", get(tenant_info).patch(patch_tenant))
        .route("/_sim/tenant/export", get(export))
        .route("/_sim/users", get(list_users).post(add_user))
        .route(
            "/_sim/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/_sim/users/{id}/rename", post(rename_user))
        .route("/_sim/users/{id}/licenses", post(licenses))
        .route("/_sim/users/{id}/disable", post(disable_user))
        .route("/_sim/users/{id}/enable", post(enable_user))
        .route("/_sim/users/{id}/sign-in", post(sign_in))
        .route("/_sim/users/{id}/restore", post(restore_user))
        .route("/_sim/users/{id}/purge", post(purge_user))
        .route("/_sim/skus", get(list_skus))
        .route("/_sim/skus/{sku_id}", patch(patch_sku))
        .route("/_sim/skus/{sku_id}/give-seat", post(give_seat))
        .route("/_sim/skus/{sku_id}/fill", post(fill_seats))
        .route(
            "/_sim/permissions",
            get(get_permissions).put(put_permissions),
        )
        .route("/_sim/limits", get(get_limits).put(put_limits))
        .route("/_sim/writes", get(writes))
        .route("/_sim/groups", get(groups))
        .route("/_sim/fixtures", get(fixtures))
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route("/_sim/tokens/expire", post(expire_tokens))
        .route("/_sim/delta/invalidate", post(invalidate_delta))
        .route("/_sim/stats", get(stats))
        .route("/_sim/stats/reset", post(reset_stats))
        .route("/_sim/requests", get(requests))
        .route("/_sim/oidc", get(oidc_info).patch(patch_oidc))
        .route("/_sim/oidc/keys", post(add_key))
        .route("/_sim/oidc/keys/rotate", post(rotate_key))
        .route("/_sim/oidc/keys/{kid}", delete(retire_key))
        .route("/_sim/oidc/keys/{kid}/signing", post(use_key))
        .route("/_sim/oidc/roles/{user}", put(set_roles))
        .route("/_sim/oidc/tokens", post(mint_token))
}

async fn oidc_info(State(s): Shared) -> Reply {
    let h = handle(s);
    let assignments: Vec<_> = h
        .app_role_assignments()
        .into_iter()
        .map(|(user, roles)| json!({ "userId": user, "roles": roles }))
        .collect();
    ok(json!({
        "issuer": h.oidc_issuer(),
        "discoveryUrl": h.oidc_discovery_url(),
        "jwksUri": h.oidc_jwks_url(),
        "authorizationEndpoint": h.oidc_authorize_url(),
        "tokenEndpoint": h.token_url(),
        "apiClientId": h.api_client_id(),
        "apiAppIdUri": h.api_app_id_uri(),
        "apiScope": h.api_scope(),
        "apiAudience": h.api_audience(),
        "spaClientId": h.spa_client_id(),
        "spaRedirectUris": h.spa_redirect_uris(),
        "autoApprove": h.auto_approve(),
        "available": h.oidc_available(),
        "signingKid": h.signing_kid()?,
        "publishedKids": h.published_kids()?,
        "roleAssignments": assignments,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OidcPatch {
    spa_redirect_uris: Option<Vec<String>>,
    auto_approve: Option<bool>,
    access_token_ttl_secs: Option<u64>,
    audience: Option<AudienceForm>,
    available: Option<bool>,
}

async fn patch_oidc(State(s): Shared, Json(p): Json<OidcPatch>) -> Reply {
    let h = handle(s.clone());
    if let Some(v) = p.spa_redirect_uris {
        h.set_spa_redirect_uris(v);
    }
    if let Some(v) = p.auto_approve {
        h.set_auto_approve(v);
    }
    if let Some(v) = p.access_token_ttl_secs {
        h.set_access_token_ttl_secs(v);
    }
    if let Some(v) = p.audience {
        h.set_api_audience_form(v);
    }
    if let Some(v) = p.available {
        h.set_oidc_available(v);
    }
    oidc_info(State(s)).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct NewKey {
    /// Make the new key the signing key at once.
    signing: bool,
}

async fn add_key(State(s): Shared, body: Option<Json<NewKey>>) -> Reply {
    let h = handle(s);
    let signing = body.map(|Json(b)| b.signing).unwrap_or(false);
    let kid = h.add_signing_key()?;
    if signing {
        h.use_signing_key(&kid)?;
    }
    Ok((StatusCode::CREATED, Json(json!({ "kid": kid }))).into_response())
}

async fn rotate_key(State(s): Shared) -> Reply {
    let kid = handle(s).rotate_signing_key()?;
    ok(json!({ "kid": kid }))
}

async fn use_key(State(s): Shared, Path(kid): Path<String>) -> Reply {
    handle(s.clone()).use_signing_key(&kid)?;
    oidc_info(State(s)).await
}

async fn retire_key(State(s): Shared, Path(kid): Path<String>) -> Reply {
    handle(s.clone()).retire_key(&kid)?;
    oidc_info(State(s)).await
}

#[derive(Deserialize)]
struct RolesBody {
    roles: Vec<String>,
}

async fn set_roles(State(s): Shared, Path(user): Path<String>, Json(b): Json<RolesBody>) -> Reply {
    let h = handle(s);
    let id = find_user(&h, &user)?;
    let roles: Vec<&str> = b.roles.iter().map(String::as_str).collect();
    h.set_app_roles(id, &roles)?;
    ok(json!({ "userId": id, "roles": h.app_roles(id) }))
}

/// A user by id or UPN.
fn find_user(h: &SimHandle, key: &str) -> Result<Uuid, SimError> {
    match Uuid::parse_str(key) {
        Ok(id) => Ok(id),
        Err(_) => h
            .users()
            .into_iter()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(key))
            .map(|u| u.id)
            .ok_or_else(|| SimError::UserNotFound(key.to_string())),
    }
}

#[derive(Deserialize)]
struct MintBody {
    user: String,
    kind: TestToken,
}

async fn mint_token(State(s): Shared, Json(b): Json<MintBody>) -> Reply {
    let h = handle(s);
    let id = find_user(&h, &b.user)?;
    ok(json!({ "token": h.mint_token(id, b.kind)? }))
}

async fn tenant_info(State(s): Shared) -> Reply {
    let (domains, premium, permissions, secret_expired, no_error_as) = {
        let d = s.dir();
        (
            d.meta.domains.clone(),
            d.meta.premium,
            d.meta.app.permissions,
            d.meta.app.secret_expired,
            d.meta.no_error_as,
        )
    };
    let h = handle(s.clone());
    ok(json!({
        "tenantId": h.tenant_id(),
        "domain": h.domain(),
        "domains": domains,
        "clientId": h.client_id(),
        "clientSecret": h.client_secret(),
        "secretExpired": secret_expired,
        "baseUrl": h.base_url(),
        "premium": premium,
        "permissions": permissions,
        "roles": permissions.names(),
        "noErrorAs": no_error_as,
        "tokenTtlSecs": s.token_ttl_secs(),
        "userCount": h.user_count(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TenantPatch {
    premium: Option<bool>,
    permissions: Option<Permissions>,
    secret_expired: Option<bool>,
    token_ttl_secs: Option<u64>,
    no_error_as: Option<NoErrorAs>,
    mutually_exclusive_plans: Option<Vec<(Uuid, Uuid)>>,
}

async fn patch_tenant(State(s): Shared, Json(p): Json<TenantPatch>) -> Reply {
    let h = handle(s.clone());
    if let Some(v) = p.premium {
        h.set_premium(v);
    }
    if let Some(v) = p.permissions {
        h.set_permissions(v);
    }
    if let Some(v) = p.secret_expired {
        h.set_secret_expired(v);
    }
    if let Some(v) = p.token_ttl_secs {
        h.set_token_ttl_secs(v);
    }
    if let Some(v) = p.no_error_as {
        h.set_no_error_as(v);
    }
    if let Some(v) = p.mutually_exclusive_plans {
        h.set_mutually_exclusive_plans(v);
    }
    tenant_info(State(s)).await
}

async fn export(State(s): Shared) -> Reply {
    ok(handle(s).snapshot())
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(default)]
    deleted: bool,
}

async fn list_users(State(s): Shared, Query(q): Query<ListParams>) -> Reply {
    let h = handle(s);
    ok(if q.deleted {
        h.deleted_users()
    } else {
        h.users()
    })
}

async fn add_user(State(s): Shared, Json(new): Json<NewUser>) -> Reply {
    let user = handle(s).add_user(new)?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn get_user(State(s): Shared, Path(id): Path<String>) -> Reply {
    let id = parse_id(&id)?;
    ok(handle(s)
        .user(id)
        .ok_or_else(|| SimError::UserNotFound(id.to_string()))?)
}

async fn update_user(State(s): Shared, Path(id): Path<String>, Json(p): Json<UserPatch>) -> Reply {
    ok(handle(s).update_user(parse_id(&id)?, p)?)
}

#[derive(Deserialize)]
struct DeleteParams {
    #[serde(default)]
    permanent: bool,
}

async fn delete_user(
    State(s): Shared,
    Path(id): Path<String>,
    Query(q): Query<DeleteParams>,
) -> Reply {
    let id = parse_id(&id)?;
    let h = handle(s);
    ok(if q.permanent {
        h.hard_delete_user(id)?
    } else {
        h.soft_delete_user(id)?
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rename {
    display_name: String,
    user_principal_name: Option<String>,
}

async fn rename_user(State(s): Shared, Path(id): Path<String>, Json(r): Json<Rename>) -> Reply {
    ok(handle(s).rename_user(
        parse_id(&id)?,
        &r.display_name,
        r.user_principal_name.as_deref(),
    )?)
}

/// Mirrors Graph's assignLicense body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LicenseChange {
    #[serde(default)]
    add_licenses: Vec<AssignedLicense>,
    #[serde(default)]
    remove_licenses: Vec<Uuid>,
}

async fn licenses(State(s): Shared, Path(id): Path<String>, Json(c): Json<LicenseChange>) -> Reply {
    let id = parse_id(&id)?;
    let h = handle(s);
    let mut user = h
        .user(id)
        .ok_or_else(|| SimError::UserNotFound(id.to_string()))?;
    for sku in c.remove_licenses {
        user = h.remove_license(id, sku)?;
    }
    for l in c.add_licenses {
        user = h.assign_license(id, l.sku_id, l.disabled_plans)?;
    }
    ok(user)
}

#[derive(Deserialize, Default)]
struct SignIn {
    /// When; default now.
    at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn sign_in(State(s): Shared, Path(id): Path<String>, body: Option<Json<SignIn>>) -> Reply {
    let h = handle(s);
    let id = find_user(&h, &id)?;
    ok(match body.and_then(|Json(b)| b.at) {
        Some(at) => h.set_last_sign_in(id, at)?,
        None => h.sign_in_now(id)?,
    })
}

async fn give_seat(State(s): Shared, Path(sku_id): Path<String>) -> Reply {
    ok(handle(s).give_seat_to_someone_else(parse_id(&sku_id)?)?)
}

async fn fill_seats(State(s): Shared, Path(sku_id): Path<String>) -> Reply {
    ok(json!({ "users": handle(s).fill_seats(parse_id(&sku_id)?)? }))
}

#[derive(Deserialize)]
struct Roles {
    roles: Vec<String>,
}

async fn get_permissions(State(s): Shared) -> Reply {
    ok(json!({ "roles": handle(s).permission_names() }))
}

async fn put_permissions(State(s): Shared, Json(b): Json<Roles>) -> Reply {
    let h = handle(s);
    let names: Vec<&str> = b.roles.iter().map(String::as_str).collect();
    h.set_permission_names(&names)?;
    ok(json!({ "roles": h.permission_names() }))
}

async fn get_limits(State(s): Shared) -> Reply {
    ok(handle(s).write_limits())
}

async fn put_limits(State(s): Shared, Json(limits): Json<WriteLimits>) -> Reply {
    let h = handle(s);
    h.set_write_limits(limits);
    ok(h.write_limits())
}

#[derive(Deserialize)]
struct WritesParams {
    user: Option<String>,
}

async fn writes(State(s): Shared, Query(q): Query<WritesParams>) -> Reply {
    let h = handle(s);
    ok(match q.user {
        Some(user) => h.applied_writes_for(find_user(&h, &user)?),
        None => h.applied_writes(),
    })
}

async fn groups(State(s): Shared) -> Reply {
    ok(handle(s).groups())
}

async fn fixtures(State(s): Shared) -> Reply {
    ok(handle(s).license_fixtures())
}

async fn disable_user(State(s): Shared, Path(id): Path<String>) -> Reply {
    ok(handle(s).set_account_enabled(parse_id(&id)?, false)?)
}

async fn enable_user(State(s): Shared, Path(id): Path<String>) -> Reply {
    ok(handle(s).set_account_enabled(parse_id(&id)?, true)?)
}

async fn restore_user(State(s): Shared, Path(id): Path<String>) -> Reply {
    ok(handle(s).restore_user(parse_id(&id)?)?)
}

async fn purge_user(State(s): Shared, Path(id): Path<String>) -> Reply {
    ok(handle(s).hard_delete_user(parse_id(&id)?)?)
}

async fn list_skus(State(s): Shared) -> Reply {
    let h = handle(s);
    ok(json!({ "subscribedSkus": h.subscribed_skus(), "subscriptions": h.subscriptions() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SkuPatch {
    enabled: Option<i32>,
    suspended: Option<i32>,
    warning: Option<i32>,
    locked_out: Option<i32>,
    capability_status: Option<String>,
}

async fn patch_sku(State(s): Shared, Path(sku_id): Path<String>, Json(p): Json<SkuPatch>) -> Reply {
    let sku_id = parse_id(&sku_id)?;
    let h = handle(s);
    let current = h
        .skus()
        .into_iter()
        .find(|k| k.sku_id == sku_id)
        .ok_or_else(|| SimError::SkuNotFound(sku_id.to_string()))?;
    let mut units = current.prepaid_units;
    units.enabled = p.enabled.unwrap_or(units.enabled);
    units.suspended = p.suspended.unwrap_or(units.suspended);
    units.warning = p.warning.unwrap_or(units.warning);
    units.locked_out = p.locked_out.unwrap_or(units.locked_out);
    let mut sku = h.set_sku_units(sku_id, units)?;
    if let Some(status) = p.capability_status {
        sku = h.set_sku_status(sku_id, &status)?;
    }
    ok(sku)
}

async fn get_faults(State(s): Shared) -> Reply {
    ok(s.faults())
}

async fn put_faults(State(s): Shared, Json(f): Json<FaultOptions>) -> Reply {
    s.set_faults(f.clone());
    ok(f)
}

async fn expire_tokens(State(s): Shared) -> Reply {
    handle(s).expire_tokens();
    ok(json!({ "expired": true }))
}

async fn invalidate_delta(State(s): Shared) -> Reply {
    handle(s).invalidate_delta_tokens();
    ok(json!({ "invalidated": true }))
}

async fn stats(State(s): Shared) -> Reply {
    ok(s.stats.snapshot())
}

async fn reset_stats(State(s): Shared) -> Reply {
    s.stats.reset();
    ok(s.stats.snapshot())
}

async fn requests(State(s): Shared) -> Reply {
    ok(s.stats.log())
}
