//! `/export/reclaim-plan.csv?planId=N`: a reclaim plan's items, one row each in the plan's
//! order, for the person who checks a plan before approving it (in a spreadsheet, filtered,
//! shared). Read in keyset chunks, so a plan of thousands of items never sits in memory whole.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::stream::{self, Stream};
use sea_orm::DatabaseConnection;
use serde::Deserialize;

use super::AppState;
use super::errors::{domain_error, error};
use super::export::{CHUNK, ExportError, admitted, csv_response, rendered, text_cell};
use crate::codes::Code;
use crate::domain::reclaim_plans::{self, PlanItem};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanParams {
    plan_id: i64,
}

const HEADER: [&str; 15] = [
    "item_id",
    "user_id",
    "user_principal_name",
    "sku_id",
    "sku_display_name",
    "finding_kind",
    "action",
    "manual_reason",
    "manual_explanation",
    "group_ids",
    "group_names",
    "disabled_plans",
    "monthly_saving_amount",
    "monthly_saving_currency",
    "evidence",
];

pub async fn plan_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PlanParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let plan_id = match admitted(&state, &headers, params).await {
        Ok(params) => params.plan_id,
        Err(refused) => return refused,
    };
    // Checked before the first byte goes out: afterwards no status can be sent.
    match reclaim_plans::get(&state.db, plan_id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                Code::NotFound,
                &format!("no reclaim plan {plan_id}"),
            );
        }
        Err(failure) => return domain_error(&failure),
    }
    csv_response(
        &format!("reclaim-plan-{plan_id}.csv"),
        item_rows(state.db.clone(), plan_id),
    )
}

/// The plan's items `CHUNK` at a time; the first chunk starts with the header.
fn item_rows(
    db: DatabaseConnection,
    plan_id: i64,
) -> impl Stream<Item = Result<Bytes, ExportError>> + Send + 'static {
    // Where the next chunk starts, or `None` once the last one is out.
    stream::unfold(Some(None), move |after: Option<Option<i64>>| {
        let db = db.clone();
        async move {
            let after = after?;
            let items = reclaim_plans::items(&db, plan_id, CHUNK, after).await;
            let next = items
                .as_ref()
                .ok()
                .filter(|items| items.len() as u64 == CHUNK)
                .and_then(|items| items.last())
                .map(|last| Some(last.id));
            let chunk = items
                .map_err(ExportError::from)
                .and_then(|items| render(after.is_none(), &items));
            Some((chunk, next))
        }
    })
}

fn render(header: bool, items: &[PlanItem]) -> Result<Bytes, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer.write_record(HEADER)?;
    }
    for item in items {
        writer.write_record(record(item)?)?;
    }
    rendered(writer)
}

fn record(item: &PlanItem) -> Result<Vec<String>, ExportError> {
    // Groups are stored as `[{"id": …}]`, disabled plans as `[…]`: one space-separated cell.
    let ids = |value: &serde_json::Value| -> String {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.get("id").or(Some(entry)).and_then(|id| id.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let explanation = reclaim_plans::manual_explanation(item)?.unwrap_or_default();
    // Names may hold spaces, so they are set apart by semicolons.
    let names = reclaim_plans::item_groups(item)?
        .iter()
        .map(|group| group.name().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    Ok(vec![
        item.id.to_string(),
        item.user_id.to_string(),
        text_cell(&item.user_principal_name),
        item.license_sku_id.to_string(),
        text_cell(&item.sku_display_name),
        item.finding_kind.clone(),
        item.action.clone(),
        item.manual_reason.clone().unwrap_or_default(),
        text_cell(&explanation),
        text_cell(&ids(&item.groups)),
        text_cell(&names),
        ids(&item.disabled_plans),
        item.monthly_cost_amount
            .clone()
            .filter(|_| item.manual_reason.is_none())
            .unwrap_or_default(),
        item.monthly_cost_currency
            .clone()
            .filter(|_| item.manual_reason.is_none())
            .unwrap_or_default(),
        text_cell(&item.evidence),
    ])
}
