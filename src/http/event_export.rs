//! `/export/license-events.csv`: the change log, newest first, with the filters of
//! `licenseEvents` — for an audit, or a spreadsheet of who got and gave back what. Read in
//! keyset chunks, so a log of millions never sits in memory whole.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, Stream};
use sea_orm::DatabaseConnection;
use serde::Deserialize;

use super::AppState;
use super::errors::domain_error;
use super::export::{CHUNK, ExportError, admitted, csv_response, rendered, text_cell};
use crate::domain::license_events::{self, EVENT_KINDS, EventFilter, LicenseEvent};
use crate::error::Error;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventParams {
    provider_id: Option<i64>,
    user_id: Option<i64>,
    sku_id: Option<i64>,
    /// Comma-separated kinds, e.g. `LICENSE_ADDED,LICENSE_REMOVED`.
    kinds: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl TryFrom<EventParams> for EventFilter {
    type Error = Error;

    fn try_from(params: EventParams) -> Result<Self, Error> {
        let kinds = params
            .kinds
            .iter()
            .flat_map(|kinds| kinds.split(','))
            .map(str::trim)
            .filter(|kind| !kind.is_empty())
            .map(|kind| {
                EVENT_KINDS
                    .into_iter()
                    .find(|known| known.as_str() == kind)
                    .ok_or_else(|| {
                        let names: Vec<&str> = EVENT_KINDS.iter().map(|k| k.as_str()).collect();
                        Error::invalid("kinds", format!("must be among {}", names.join(", ")))
                    })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let filter = EventFilter {
            provider_id: params.provider_id,
            user_id: params.user_id,
            license_sku_id: params.sku_id,
            kinds,
            from: params.from,
            to: params.to,
        };
        filter.check()?;
        Ok(filter)
    }
}

const HEADER: [&str; 12] = [
    "event_id",
    "observed_at",
    "kind",
    "provider_id",
    "user_id",
    "user_principal_name",
    "sku_id",
    "sku_display_name",
    "sync_run_id",
    "reclaim_plan_id",
    "before",
    "after",
];

pub async fn events_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<EventParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = match admitted(&state, &headers, params).await {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    // Checked before the first byte goes out: afterwards no status can be sent.
    match EventFilter::try_from(params) {
        Ok(filter) => csv_response("license-events.csv", event_rows(state.db.clone(), filter)),
        Err(error) => domain_error(&error),
    }
}

/// The events `CHUNK` at a time, newest first; the first chunk starts with the header.
fn event_rows(
    db: DatabaseConnection,
    filter: EventFilter,
) -> impl Stream<Item = Result<Bytes, ExportError>> + Send + 'static {
    // Where the next chunk starts, or `None` once the last one is out.
    stream::unfold(Some(None), move |before: Option<Option<i64>>| {
        let (db, filter) = (db.clone(), filter.clone());
        async move {
            let before = before?;
            let events = license_events::list(&db, &filter, CHUNK, before).await;
            let next = events
                .as_ref()
                .ok()
                .filter(|events| events.len() as u64 == CHUNK)
                .and_then(|events| events.last())
                .map(|last| Some(last.id));
            let chunk = events
                .map_err(ExportError::from)
                .and_then(|events| render(before.is_none(), &events));
            Some((chunk, next))
        }
    })
}

fn render(header: bool, events: &[LicenseEvent]) -> Result<Bytes, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer.write_record(HEADER)?;
    }
    let id = |id: Option<i64>| id.map(|id| id.to_string()).unwrap_or_default();
    let json = |value: &Option<serde_json::Value>| {
        value
            .as_ref()
            .map(|value| value.to_string())
            .unwrap_or_default()
    };
    for event in events {
        writer.write_record([
            event.id.to_string(),
            event.observed_at.to_rfc3339(),
            event.kind.as_str().to_owned(),
            event.provider_id.to_string(),
            event.user_id.to_string(),
            text_cell(event.user_principal_name.as_deref().unwrap_or_default()),
            id(event.license_sku_id),
            text_cell(event.sku_display_name.as_deref().unwrap_or_default()),
            id(event.sync_run_id),
            id(event.reclaim_plan_id),
            text_cell(&json(&event.before)),
            text_cell(&json(&event.after)),
        ])?;
    }
    rendered(writer)
}
