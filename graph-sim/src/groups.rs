//! `GET /v1.0/groups/{id}`: what a reclaim needs to know about a licensing group (whether its
//! membership is dynamic or mastered on-premises, and which licences it assigns).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::errors::GraphError;
use crate::server::{Query, SimState, odata_ok};
use crate::tenant::Group;
use crate::token::authorize;

/// Properties served, in Graph's order. The last two come only with `$select`, as documented.
const PROPERTIES: &[&str] = &[
    "id",
    "createdDateTime",
    "description",
    "displayName",
    "groupTypes",
    "mail",
    "mailEnabled",
    "membershipRule",
    "membershipRuleProcessingState",
    "onPremisesSyncEnabled",
    "securityEnabled",
    "assignedLicenses",
    "licenseProcessingState",
];
const SELECT_ONLY: &[&str] = &["assignedLicenses", "licenseProcessingState"];

fn value_of(g: &Group, property: &str) -> Value {
    match property {
        "id" => json!(g.id),
        "createdDateTime" => json!(g.created_date_time),
        "description" => json!(g.description),
        "displayName" => json!(g.display_name),
        "groupTypes" => json!(g.group_types),
        "mail" => Value::Null,
        "mailEnabled" => json!(g.mail_enabled),
        "membershipRule" => json!(g.membership_rule),
        "membershipRuleProcessingState" => json!(g.membership_rule_processing_state),
        "onPremisesSyncEnabled" => json!(g.on_premises_sync_enabled),
        "securityEnabled" => json!(g.security_enabled),
        "assignedLicenses" => json!(g.assigned_licenses),
        // The object form real payloads use (older docs said a bare string).
        "licenseProcessingState" => json!({ "state": "ProcessingComplete" }),
        _ => Value::Null,
    }
}

/// `$select` as canonical property names; without it the default set.
fn selection(raw: Option<&str>) -> Result<Vec<&'static str>, GraphError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(PROPERTIES
            .iter()
            .copied()
            .filter(|p| !SELECT_ONLY.contains(p))
            .collect());
    };
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let known = PROPERTIES
            .iter()
            .copied()
            .find(|p| p.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                GraphError::bad_request(
                    "Request_BadRequest",
                    format!(
                        "Could not find a property named '{name}' on type 'microsoft.graph.group'."
                    ),
                )
            })?;
        if !out.contains(&known) {
            out.push(known);
        }
    }
    Ok(out)
}

pub(crate) async fn get_group(
    State(state): State<Arc<SimState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &headers)?;
    if !state.dir().meta.app.permissions.can_read_groups() {
        return Err(GraphError::insufficient_privileges());
    }
    let query = Query::parse(raw.as_deref());
    let select = query.get("select");
    let props = selection(select)?;
    let group = Uuid::parse_str(&key)
        .ok()
        .and_then(|id| state.dir().meta.groups.iter().find(|g| g.id == id).cloned())
        .ok_or_else(|| {
            GraphError::new(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
                ),
            )
        })?;
    let context = match select.filter(|s| !s.trim().is_empty()) {
        Some(s) => format!("{}/v1.0/$metadata#groups({s})/$entity", state.base_url),
        None => format!("{}/v1.0/$metadata#groups/$entity", state.base_url),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context));
    for p in props {
        body.insert(p.to_string(), value_of(&group, p));
    }
    Ok(odata_ok(
        serde_json::to_vec(&body).map_err(|_| GraphError::internal())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_names_are_canonical_and_checked() {
        assert_eq!(
            selection(Some("ID,groupTypes,assignedlicenses")).unwrap(),
            ["id", "groupTypes", "assignedLicenses"]
        );
        assert!(!selection(None).unwrap().contains(&"assignedLicenses"));
        assert!(selection(Some("members")).is_err());
    }
}
