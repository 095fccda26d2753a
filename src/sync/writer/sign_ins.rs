//! Sign-in dates refreshed between full listings.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, DatabaseConnection};

use super::batching::*;
use super::stamps::Counted;
use super::users::*;
use crate::entities::directory_users as users;
use crate::error::Result;
use crate::providers::records::SignInRecord;

/// Refreshes sign-in dates from the light listing; returns how many users changed.
pub async fn write_sign_ins(
    db: &DatabaseConnection,
    provider_id: i64,
    records: Vec<SignInRecord>,
    now: DateTime<Utc>,
) -> Result<i64> {
    let records = dedupe_by(records, |record| &record.external_id);
    let transaction = crate::db::begin_write(db).await?;
    let stored = stored_users(
        &transaction,
        provider_id,
        records.iter().map(|r| r.external_id.clone()).collect(),
    )
    .await?;
    let updates: Vec<users::ActiveModel> = records
        .iter()
        .filter_map(|record| {
            let row = stored.get(&record.external_id)?;
            let current = UserFields::of(row);
            if current.sign_in == record.dates {
                return None;
            }
            let fields = UserFields {
                sign_in: record.dates,
                ..current
            };
            let kept = Counted::kept(row);
            let mut model = fields.into_row(provider_id, &record.external_id, Some(row), now, kept);
            // A sign-in refresh does not bring a removed user back.
            model.removed_at = Set(row.removed_at);
            model.last_seen_at = Set(row.last_seen_at);
            Some(model)
        })
        .collect();
    let changed = updates.len() as i64;
    save_users(&transaction, Vec::new(), updates).await?;
    transaction.commit().await?;
    Ok(changed)
}
