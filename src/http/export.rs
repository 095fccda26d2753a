//! CSV exports for spreadsheets and scripts: `/export/users.csv`, `/export/skus.csv` and
//! `/export/findings.csv` (a reclaim plan's is in `plan_export`). Authenticated like `/graphql`, filtered by query parameters named
//! like the GraphQL arguments, and streamed: users are read in keyset chunks and written as they
//! arrive, so a 100,000-user export never sits in memory whole, and findings are rendered a
//! chunk at a time from the (cached) report `licenseReport` serves.

use std::collections::HashMap;
use std::sync::Arc;

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
use super::graphql::authenticate;
use crate::codes::Code;
use crate::domain::licenses::{self, Assignment, LicenseSku};
use crate::domain::money;
use crate::domain::reports::{self, Finding, FindingKey, FindingKind, Report};
use crate::domain::users::{self, FilterTexts, User, UserFilter};

/// Users per database round trip and per written chunk.
pub(super) const CHUNK: u64 = 500;

#[derive(Debug, thiserror::Error)]
pub(super) enum ExportError {
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

/// `licenseReport`'s arguments and `findings`' kind and `accepted` as query parameters, e.g.
/// `?providerId=1&inactiveDays=60&kind=INACTIVE_USER&accepted=false`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindingParams {
    provider_id: Option<i64>,
    inactive_days: Option<i64>,
    kind: Option<String>,
    accepted: Option<bool>,
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

const FINDING_HEADER: [&str; 26] = [
    "kind",
    "provider_id",
    "user_id",
    "user_principal_name",
    "display_name",
    "account_enabled",
    "sku_id",
    "sku_part_number",
    "sku_display_name",
    "units",
    "evidence",
    "assigned_directly",
    "inherited_from_group_ids",
    "removable_directly",
    "removal",
    "license_state",
    "license_error",
    "last_sign_in_field",
    "last_sign_in_at",
    "contained_in_sku_part_number",
    "monthly_cost_amount",
    "monthly_cost_currency",
    "accepted_by",
    "accepted_until",
    "acceptance_reason",
    "acceptance_id",
];

/// An export's caller and query string, or the answer refusing them: the token is checked
/// before the parameters, so that a caller without one learns nothing about them.
pub(super) async fn admitted<P>(
    state: &AppState,
    headers: &HeaderMap,
    params: Result<Query<P>, axum::extract::rejection::QueryRejection>,
) -> Result<P, Response> {
    authenticate(state, headers).await?;
    params
        .map(|Query(params)| params)
        .map_err(|rejection| bad_request(&rejection.body_text()))
}

pub async fn users_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<UserParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = match admitted(&state, &headers, params).await {
        Ok(params) => params,
        Err(refused) => return refused,
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
    let provider_id = match admitted(&state, &headers, params).await {
        Ok(params) => params.provider_id,
        Err(refused) => return refused,
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

pub async fn findings_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<FindingParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = match admitted(&state, &headers, params).await {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    let kind = match params
        .kind
        .as_deref()
        .map(|kind| FindingKind::parse("kind", kind))
    {
        Some(Err(error)) => return domain_error(&error),
        Some(Ok(kind)) => Some(kind),
        None => None,
    };
    let inactive_days = params
        .inactive_days
        .unwrap_or(reports::INACTIVE_DAYS_DEFAULT);
    // Built (or found) before the first byte goes out, so that a bad threshold or a failing
    // database is still a status line and an error body.
    let report = match state
        .api
        .license_report(&state.db, params.provider_id, inactive_days)
        .await
    {
        Ok(report) => report,
        Err(error) => return domain_error(&error),
    };
    csv_response("findings.csv", finding_rows(report, kind, params.accepted))
}

/// The report's findings (of one kind, or all) in its order, `CHUNK` rows per written chunk:
/// the report is shared with other requests, only one chunk's text exists at a time.
fn finding_rows(
    report: Arc<Report>,
    kind: Option<FindingKind>,
    accepted: Option<bool>,
) -> impl Stream<Item = Result<Bytes, ExportError>> + Send + 'static {
    // The state is where the next chunk starts (after the last finding written: the report's
    // order is its keys'), or `None` once the last chunk is out.
    let start: Option<(bool, Option<FindingKey>)> = Some((true, None));
    stream::unfold(start, move |state| {
        let report = report.clone();
        async move {
            let (first, after) = state?;
            let mut writer = csv::Writer::from_writer(Vec::new());
            let mut last = None;
            let written = (|| {
                if first {
                    writer.write_record(FINDING_HEADER)?;
                }
                for finding in report
                    .findings_after(kind, accepted, after)
                    .take(CHUNK as usize)
                {
                    writer.write_record(finding_record(finding))?;
                    last = Some(finding.key());
                }
                Ok::<_, ExportError>(())
            })();
            let full =
                written.is_ok() && report.findings_after(kind, accepted, last).next().is_some();
            let next = last.filter(|_| full).map(|last| (false, Some(last)));
            Some((written.and_then(|()| rendered(writer)), next))
        }
    })
}

/// Query parameters that do not parse: an unknown name, or a value of the wrong type.
fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, Code::BadUserInput, message)
}

pub(super) fn csv_response(
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

pub(super) fn rendered(writer: csv::Writer<Vec<u8>>) -> Result<Bytes, ExportError> {
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
pub(super) fn text_cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

fn finding_record(finding: &Finding) -> Vec<String> {
    let user = finding.user.as_deref();
    let removal = finding.removal.as_ref();
    let acceptance = finding.acceptance.as_deref();
    let optional = |value: Option<String>| value.unwrap_or_default();
    vec![
        finding.kind.as_str().to_owned(),
        finding.sku.provider_id.to_string(),
        optional(user.map(|user| user.id.to_string())),
        text_cell(user.map_or("", |user| user.user_principal_name.as_str())),
        text_cell(
            user.and_then(|user| user.display_name.as_deref())
                .unwrap_or_default(),
        ),
        optional(user.map(|user| user.account_enabled.to_string())),
        finding.sku.id.to_string(),
        text_cell(&finding.sku.sku_part_number),
        text_cell(&finding.sku.display_name),
        finding.units.to_string(),
        text_cell(&finding.evidence),
        optional(removal.map(|removal| removal.assigned_directly.to_string())),
        text_cell(
            &removal
                .map(|removal| removal.via_group_ids.join(" "))
                .unwrap_or_default(),
        ),
        removal
            .is_some_and(reports::Removal::frees_seat)
            .to_string(),
        text_cell(&optional(removal.map(reports::Removal::describe))),
        optional(finding.license_state.as_ref().map(ToString::to_string)),
        optional(finding.license_error.as_ref().map(ToString::to_string)),
        optional(
            finding
                .last_sign_in
                .map(|(field, _)| field.as_str().to_owned()),
        ),
        time(finding.last_sign_in.map(|(_, at)| at)),
        text_cell(
            finding
                .contained_in
                .as_ref()
                .map_or("", |sku| sku.sku_part_number.as_str()),
        ),
        optional(
            finding
                .monthly_cost
                .as_ref()
                .map(|(_, amount)| money::shown(*amount)),
        ),
        optional(
            finding
                .monthly_cost
                .as_ref()
                .map(|(currency, _)| currency.clone()),
        ),
        text_cell(acceptance.map_or("", |accepted| accepted.accepted_by.as_str())),
        optional(acceptance.map(|accepted| accepted.expires_on.to_string())),
        text_cell(acceptance.map_or("", |accepted| accepted.reason.as_str())),
        optional(acceptance.map(|accepted| accepted.id.to_string())),
    ]
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
