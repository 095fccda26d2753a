//! The read queries Q1–Q4 (names from the public contract, docs/api.md), and whether this build serves them. The read
//! API lands on its own branch, so each query is built against what the schema actually has:
//! a missing root field makes the scenario "not available on this build" instead of a failure.

use std::collections::HashSet;

use anyhow::Context;
use serde_json::{Value, json};

use crate::api::Api;

pub const Q1: &str = "query { users(first: 100) { edges { node { userPrincipalName \
                      licenses { sku { displayName } } } } } }";
pub const Q2: &str = "query($after: String) { users(first: 100, after: $after) { edges { node { \
                      userPrincipalName licenses { sku { displayName } } } } } }";

/// The seat fields of the contract's LicenseSku, of which Q3 selects those the build has.
const SKU_FIELDS: &[&str] = &[
    "skuPartNumber",
    "displayName",
    "capabilityStatus",
    "enabledUnits",
    "consumedUnits",
    "availableUnits",
    "suspendedUnits",
    "warningUnits",
    "lockedOutUnits",
];

/// How deep Q4 follows the report's object fields.
const REPORT_DEPTH: usize = 3;

/// One read scenario, ready to send, or why it cannot run here.
pub struct ReadQuery {
    pub name: &'static str,
    pub description: &'static str,
    pub query: Result<(String, Value), String>,
}

pub const NOT_AVAILABLE: &str = "not available on this build";

/// Q1–Q4 as this server's schema allows them. `users` is the tenant size, to place Q2's cursor.
pub async fn prepare(api: &Api, users: usize) -> anyhow::Result<Vec<ReadQuery>> {
    let fields = api.query_fields().await?;
    let has = |name: &str| fields.contains(name);
    let types = if has("licenseSkus") || has("licenseReport") {
        Some(api.types().await?)
    } else {
        None
    };
    let q2 = if has("users") {
        deep_cursor(api, users)
            .await
            .map(|cursor| (Q2.to_owned(), json!({ "after": cursor })))
            .map_err(|e| format!("no cursor deep in the table: {e:#}"))
    } else {
        Err(NOT_AVAILABLE.to_owned())
    };
    Ok(vec![
        ReadQuery {
            name: "Q1",
            description: "users(first:100) with licenses and SKU names",
            query: available(has("users"), || Ok(Q1.to_owned())),
        },
        ReadQuery {
            name: "Q2",
            description: "Q1 at 90% of the table, by cursor",
            query: q2,
        },
        ReadQuery {
            name: "Q3",
            description: "licenseSkus with seat math",
            query: available(has("licenseSkus"), || {
                let selection = object_fields(types.as_ref(), "LicenseSku")
                    .map(|present| {
                        SKU_FIELDS
                            .iter()
                            .filter(|f| present.contains(**f))
                            .copied()
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .context("LicenseSku is not in the schema")?;
                Ok(format!("query {{ licenseSkus {{ {selection} }} }}"))
            }),
        },
        ReadQuery {
            name: "Q4",
            description: "licenseReport",
            query: available(has("licenseReport"), || {
                let types = types.as_ref().context("no schema types")?;
                let selection = selection(types, "LicenseReport", REPORT_DEPTH)
                    .context("LicenseReport has no selectable field")?;
                Ok(format!("query {{ licenseReport {{ {selection} }} }}"))
            }),
        },
    ])
}

fn available(
    present: bool,
    build: impl FnOnce() -> anyhow::Result<String>,
) -> Result<(String, Value), String> {
    if !present {
        return Err(NOT_AVAILABLE.to_owned());
    }
    build()
        .map(|query| (query, json!({})))
        .map_err(|e| format!("{e:#}"))
}

/// The endCursor after ~90% of the users, walked page by page (cursors are opaque).
async fn deep_cursor(api: &Api, users: usize) -> anyhow::Result<String> {
    const WALK: &str = "query($first: Int, $after: String) { users(first: $first, after: $after) \
                        { pageInfo { endCursor hasNextPage } } }";
    // Large steps when the server allows them; its clamp may be lower.
    let mut step = 500;
    let target = users * 9 / 10;
    let (mut walked, mut cursor) = (0, Value::Null);
    while walked + step <= target.max(step) {
        let page = match api
            .run(WALK, json!({ "first": step, "after": cursor }))
            .await
        {
            Ok(page) => page,
            Err(_) if step > 100 => {
                step = 100;
                continue;
            }
            Err(e) => return Err(e),
        };
        let info = &page["users"]["pageInfo"];
        cursor = info["endCursor"].clone();
        walked += step;
        if info["hasNextPage"] != json!(true) {
            break;
        }
    }
    cursor
        .as_str()
        .map(str::to_owned)
        .context("the users connection returned no endCursor")
}

/// Introspected type by name.
fn find_type<'a>(types: &'a Value, name: &str) -> Option<&'a Value> {
    types["__schema"]["types"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == name)
}

fn object_fields(types: Option<&Value>, name: &str) -> Option<HashSet<String>> {
    let fields = find_type(types?, name)?["fields"].as_array()?;
    Some(
        fields
            .iter()
            .filter_map(|f| f["name"].as_str().map(str::to_owned))
            .collect(),
    )
}

/// The named type under NON_NULL / LIST wrappers, with its kind.
fn named_type(mut ty: &Value) -> (&str, &str) {
    while matches!(ty["kind"].as_str(), Some("NON_NULL" | "LIST")) {
        ty = &ty["ofType"];
    }
    (
        ty["kind"].as_str().unwrap_or_default(),
        ty["name"].as_str().unwrap_or_default(),
    )
}

/// Every field of `type_name` a report reader would ask for: scalars and enums, object fields
/// down to `depth` levels, and the first page of the type's own connections (a dashboard's
/// first screen). Fields that need an argument, nested connections (paged, with costs of
/// their own) and abstract types are left out.
fn selection(types: &Value, type_name: &str, depth: usize) -> Option<String> {
    selection_of(types, type_name, depth, true)
}

fn selection_of(types: &Value, type_name: &str, depth: usize, with_pages: bool) -> Option<String> {
    let fields = find_type(types, type_name)?["fields"].as_array()?;
    let parts: Vec<String> = fields
        .iter()
        .filter(|f| {
            !f["args"]
                .as_array()
                .is_some_and(|args| args.iter().any(|a| a["type"]["kind"] == "NON_NULL"))
        })
        .filter_map(|f| {
            let name = f["name"].as_str()?;
            let sub = match named_type(&f["type"]) {
                ("SCALAR" | "ENUM", _) => return Some(name.to_owned()),
                _ if depth <= 1 => None,
                ("OBJECT", inner) if inner.ends_with("Connection") => {
                    with_pages.then(|| first_page(types, inner, depth - 1))?
                }
                ("OBJECT", inner) => selection_of(types, inner, depth - 1, false),
                _ => None,
            };
            sub.map(|sub| format!("{name} {{ {sub} }}"))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// A connection's default first page: its count when it has one, and its nodes.
fn first_page(types: &Value, connection: &str, depth: usize) -> Option<String> {
    let fields = find_type(types, connection)?["fields"].as_array()?;
    let field = |name: &str| fields.iter().find(|f| f["name"] == name);
    let (_, node) = named_type(&field("nodes")?["type"]);
    let nodes = selection_of(types, node, depth, false)?;
    let count = if field("totalCount").is_some() {
        "totalCount "
    } else {
        ""
    };
    Some(format!(
        "{count}pageInfo {{ hasNextPage endCursor }} nodes {{ {nodes} }}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_selection_follows_objects_and_pages_and_skips_required_args() {
        let scalar = |name: &str| json!({ "name": name, "args": [], "type": { "kind": "NON_NULL", "ofType": { "kind": "SCALAR", "name": "Int" } } });
        let object = |name: &str, ty: &str| json!({ "name": name, "args": [], "type": { "kind": "LIST", "ofType": { "kind": "OBJECT", "name": ty } } });
        let types = json!({ "__schema": { "types": [
            { "name": "LicenseReport", "fields": [
                scalar("inactiveDays"), object("totals", "Totals"), object("findings", "FindingConnection"),
                { "name": "byKind", "args": [{ "name": "kind", "type": { "kind": "NON_NULL" } }],
                  "type": { "kind": "SCALAR", "name": "Int" } },
            ]},
            { "name": "Totals", "fields": [scalar("seats")] },
            { "name": "FindingConnection", "fields": [
                scalar("totalCount"), object("edges", "FindingEdge"), object("nodes", "Finding"),
            ]},
            { "name": "Finding", "fields": [
                scalar("units"), object("sku", "Sku"), object("holders", "UserConnection"),
            ]},
            { "name": "Sku", "fields": [scalar("seats")] },
        ]}});
        assert_eq!(
            selection(&types, "LicenseReport", 3).as_deref(),
            Some(
                "inactiveDays totals { seats } findings { totalCount pageInfo { hasNextPage \
                 endCursor } nodes { units sku { seats } } }"
            )
        );
    }
}
