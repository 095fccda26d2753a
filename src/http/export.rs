//! CSV exports for spreadsheets and scripts: `/export/users.csv` and `/export/skus.csv`.
//! Authenticated like `/graphql`, filtered by query parameters named like `UserFilter`'s fields,
//! and streamed: users are read in keyset chunks and written as they arrive, so a 100,000-user
//! export never sits in memory whole.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, Stream};
use sea_orm::DatabaseConnection;
use serde::Deserialize;

use super::AppState;
use super::errors::{domain_error, error};
use super::graphql::{authenticate, unauthenticated};
use crate::codes::Code;
use crate::domain::licenses::{self, Assignment, LicenseSku};
use crate::domain::money;
use crate::domain::users::{self, FilterTexts, User, UserFilter};

/// Users per database round trip and per written chunk.
const CHUNK: u64 = 500;

#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error(transparent)]
    Domain(#[from] crate::Error),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing CSV: {0}")]
    Buffer(#[from] std::io::Error),
}

/// `UserFilter` as query parameters, e.g. `?providerId=1&licensed=true&inactiveSinceDays=90`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserParams {
    provider_id: Option<i64>,
    search: Option<String>,
    account_enabled: Option<bool>,
    licensed: Option<bool>,
    sku_part_number: Option<String>,
    sku_id: Option<String>,
    user_type: Option<String>,
    inactive_since_days: Option<i64>,
    never_signed_in: Option<bool>,
    license_in_error: Option<bool>,
    #[serde(default)]
    include_removed: bool,
}

impl TryFrom<UserParams> for UserFilter {
    type Error = crate::Error;

    fn try_from(params: UserParams) -> Result<Self, Self::Error> {
        let filter = Self {
            provider_id: params.provider_id,
            account_enabled: params.account_enabled,
            licensed: params.licensed,
            inactive_since_days: params.inactive_since_days,
            never_signed_in: params.never_signed_in,
            license_in_error: params.license_in_error,
            include_removed: params.include_removed,
            ..Default::default()
        };
        let texts = FilterTexts {
            search: params.search,
            sku_part_number: params.sku_part_number,
            sku_id: params.sku_id,
            user_type: params.user_type,
        };
        let filter = filter.with_texts(texts)?;
        filter.validate()?;
        Ok(filter)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkuParams {
    provider_id: Option<i64>,
}

const USER_HEADER: [&str; 15] = [
    "id",
    "provider_id",
    "user_principal_name",
    "display_name",
    "mail",
    "account_enabled",
    "user_type",
    "created_at",
    "last_sign_in_at",
    "last_non_interactive_sign_in_at",
    "last_successful_sign_in_at",
    "sign_in_data_available",
    "removed_at",
    "license_count",
    "licenses",
];

const SKU_HEADER: [&str; 17] = [
    "id",
    "provider_id",
    "sku_id",
    "sku_part_number",
    "display_name",
    "capability_status",
    "subscribed",
    "enabled_units",
    "consumed_units",
    "available_units",
    "suspended_units",
    "warning_units",
    "locked_out_units",
    "price_amount",
    "price_currency",
    "price_period",
    "monthly_price",
];

pub async fn users_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<UserParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(error) = authenticate(&state, &headers) {
        return unauthenticated(&error);
    }
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    // Checked before the first byte goes out: afterwards no status can be sent.
    let filter = match UserFilter::try_from(params) {
        Ok(filter) => filter,
        Err(error) => return domain_error(&error),
    };
    csv_response("users.csv", user_rows(state.db.clone(), filter))
}

pub async fn skus_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<SkuParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(error) = authenticate(&state, &headers) {
        return unauthenticated(&error);
    }
    let provider_id = match params {
        Ok(Query(params)) => params.provider_id,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    let db = state.db.clone();
    let body = stream::once(async move {
        let skus = licenses::list_skus(&db, provider_id).await?;
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(SKU_HEADER)?;
        for sku in &skus {
            writer.write_record(sku_record(sku))?;
        }
        rendered(writer)
    });
    csv_response("skus.csv", body)
}

/// Query parameters that do not parse: an unknown name, or a value of the wrong type.
fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, Code::BadUserInput, message)
}

fn csv_response(
    filename: &str,
    body: impl Stream<Item = Result<Bytes, ExportError>> + Send + 'static,
) -> Response {
    let body = futures_util::StreamExt::map(body, |chunk| {
        chunk.map_err(|error| {
            // The status line is gone: the client sees a cut-off download.
            tracing::error!(error = %error, "CSV export failed mid-stream");
            std::io::Error::other("export failed; the server log has the details")
        })
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// Where the users export stands between two chunks.
struct Cursor {
    db: DatabaseConnection,
    filter: UserFilter,
    now: DateTime<Utc>,
    after_id: i64,
    header_written: bool,
    skus: HashMap<i64, LicenseSku>,
    done: bool,
}

fn user_rows(
    db: DatabaseConnection,
    filter: UserFilter,
) -> impl Stream<Item = Result<Bytes, ExportError>> + Send + 'static {
    let start = Cursor {
        db,
        filter,
        now: Utc::now(),
        after_id: 0,
        header_written: false,
        skus: HashMap::new(),
        done: false,
    };
    stream::unfold(start, |mut cursor| async move {
        if cursor.done {
            return None;
        }
        let chunk = next_user_chunk(&mut cursor).await;
        if chunk.is_err() {
            cursor.done = true;
        }
        Some((chunk, cursor))
    })
}

/// Reads the next chunk of users with their licenses and renders it; the last chunk may be the
/// header alone.
async fn next_user_chunk(cursor: &mut Cursor) -> Result<Bytes, ExportError> {
    let users = users::chunk_after(
        &cursor.db,
        &cursor.filter,
        cursor.after_id,
        CHUNK,
        cursor.now,
    )
    .await?;
    cursor.done = (users.len() as u64) < CHUNK;
    let ids: Vec<i64> = users.iter().map(|user| user.id).collect();
    let assignments = licenses::assignments_of_users(&cursor.db, &ids).await?;
    let missing: Vec<i64> = assignments
        .values()
        .flatten()
        .map(|assignment| assignment.license_sku_id)
        .filter(|id| !cursor.skus.contains_key(id))
        .collect();
    if !missing.is_empty() {
        cursor
            .skus
            .extend(licenses::skus_by_ids(&cursor.db, &missing).await?);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    if !cursor.header_written {
        writer.write_record(USER_HEADER)?;
        cursor.header_written = true;
    }
    for user in &users {
        let held = assignments.get(&user.id).map(Vec::as_slice).unwrap_or(&[]);
        writer.write_record(user_record(user, held, &cursor.skus))?;
    }
    if let Some(last) = users.last() {
        cursor.after_id = last.id;
    }
    rendered(writer)
}

fn rendered(writer: csv::Writer<Vec<u8>>) -> Result<Bytes, ExportError> {
    let bytes = writer.into_inner().map_err(|error| error.into_error())?;
    Ok(Bytes::from(bytes))
}

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| at.to_rfc3339()).unwrap_or_default()
}

/// "Microsoft 365 E5; Power BI Pro (group g1); Office 365 E3 (direct and group g2, error
/// CountViolation)": one readable column for all licenses, marking those in error (whose
/// `error` the API shows as not null).
fn license_names(held: &[Assignment], skus: &HashMap<i64, LicenseSku>) -> String {
    held.iter()
        .map(|assignment| {
            let name = skus
                .get(&assignment.license_sku_id)
                .map(|sku| sku.display_name.as_str())
                .unwrap_or("unknown SKU");
            let paths = &assignment.paths;
            let groups = paths.group_ids().join(" ");
            let how = match (paths.assigned_directly(), groups.is_empty()) {
                (_, true) => None,
                (true, false) => Some(format!("direct and group {groups}")),
                (false, false) => Some(format!("group {groups}")),
            };
            let error = paths.error().map(|error| format!("error {error}"));
            let notes: Vec<String> = how.into_iter().chain(error).collect();
            if notes.is_empty() {
                name.to_owned()
            } else {
                format!("{name} ({})", notes.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn user_record(user: &User, held: &[Assignment], skus: &HashMap<i64, LicenseSku>) -> Vec<String> {
    vec![
        user.id.to_string(),
        user.provider_id.to_string(),
        text_cell(&user.user_principal_name),
        text_cell(user.display_name.as_deref().unwrap_or_default()),
        text_cell(user.mail.as_deref().unwrap_or_default()),
        user.account_enabled.to_string(),
        user.user_type.clone().unwrap_or_default(),
        time(user.created_date_time),
        time(user.last_sign_in_at),
        time(user.last_non_interactive_sign_in_at),
        time(user.last_successful_sign_in_at),
        user.sign_in_data_available().to_string(),
        time(user.removed_at),
        held.len().to_string(),
        text_cell(&license_names(held, skus)),
    ]
}

/// Text that came from the directory, made inert for spreadsheets: a cell starting with `=`,
/// `+`, `-` or `@` would run as a formula when the file is opened (CSV injection), so it is
/// prefixed with an apostrophe, which spreadsheets hide.
fn text_cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

fn sku_record(sku: &LicenseSku) -> Vec<String> {
    let price = sku.price.as_ref();
    vec![
        sku.id.to_string(),
        sku.provider_id.to_string(),
        sku.sku_id.clone(),
        text_cell(&sku.sku_part_number),
        text_cell(&sku.display_name),
        sku.capability_status.clone(),
        sku.subscribed.to_string(),
        sku.enabled_units.to_string(),
        sku.consumed_units.to_string(),
        sku.available_units().to_string(),
        sku.suspended_units.to_string(),
        sku.warning_units.to_string(),
        sku.locked_out_units.to_string(),
        price
            .map(|price| price.amount.to_string())
            .unwrap_or_default(),
        price
            .map(|price| price.currency.clone())
            .unwrap_or_default(),
        price
            .map(|price| price.period.as_str().to_owned())
            .unwrap_or_default(),
        price
            .map(|price| money::shown(price.monthly()))
            .unwrap_or_default(),
    ]
}
