//! The changes of an incremental round, applied to stored users and their licenses.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::batching::*;
use super::events::Observer;
use super::skus::*;
use super::users::*;
use super::*;
use crate::error::Result;
use crate::providers::records::{AssignedSku, LicensePaths, SignInDates, UserChange, UserPatch};

/// The stored holding of one SKU kept across a delta that only says which SKUs a user holds:
/// how each was assigned is not part of a delta, so a new SKU has no known path (and counts as
/// the user's own) until the next full sync reads them.
pub(super) fn holdings_after_delta(
    assigned: &[AssignedSku],
    stored: &[HeldLicense],
    skus: &SkuIndex,
) -> Vec<HeldLicense> {
    assigned
        .iter()
        .filter_map(|license| {
            let license_sku_id = skus.id(&license.sku_id)?;
            let mut disabled_plans = license.disabled_plans.clone();
            disabled_plans.sort();
            let kept = stored.iter().find(|h| h.license_sku_id == license_sku_id);
            Some(match kept {
                Some(holding) => HeldLicense {
                    disabled_plans,
                    ..holding.clone()
                },
                None => HeldLicense {
                    license_sku_id,
                    disabled_plans,
                    paths: LicensePaths::default(),
                },
            })
        })
        .collect()
}

/// Applies one page of an incremental round: only the properties present change.
pub async fn apply_changes(
    db: &DatabaseConnection,
    provider_id: i64,
    changes: Vec<UserChange>,
    skus: &mut SkuIndex,
    now: DateTime<Utc>,
    observer: Observer,
) -> Result<PageChanges> {
    let changes = dedupe_by(changes, UserChange::external_id);
    let transaction = crate::db::begin_write(db).await?;
    let held: HashSet<String> = changes
        .iter()
        .filter_map(|change| match change {
            UserChange::Upsert(UserPatch {
                licenses: Some(licenses),
                ..
            }) => Some(licenses.iter().map(|license| license.sku_id.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    skus.ensure(&transaction, held, now).await?;
    let stored = stored_users(
        &transaction,
        provider_id,
        changes
            .iter()
            .map(|change| change.external_id().to_owned())
            .collect(),
    )
    .await?;
    let stored_ids: Vec<i64> = stored.values().map(|row| row.id).collect();
    let holdings = stored_holdings(&transaction, &stored_ids).await?;

    let mut writes = UserWrites::new(provider_id, observer, &stored, now);
    let mut removed = Vec::new();
    let mut patches_with_licenses = Vec::new();
    for change in &changes {
        match change {
            UserChange::Removed { external_id, .. } => {
                if let Some(row) = stored
                    .get(external_id)
                    .filter(|row| row.removed_at.is_none())
                {
                    removed.push(row.id);
                }
            }
            UserChange::Upsert(patch) => {
                let row = stored.get(&patch.external_id);
                let fields = match row {
                    Some(row) => UserFields::of(row).patched(patch),
                    // A new user arrives whole; one without a UPN is not usable and waits for
                    // the next full sync.
                    None => match &patch.user_principal_name {
                        Some(upn) => UserFields {
                            user_principal_name: upn.clone(),
                            mail: None,
                            display_name: None,
                            account_enabled: true,
                            user_type: None,
                            created_date_time: None,
                            sign_in: SignInDates::default(),
                        }
                        .patched(patch),
                        None => continue,
                    },
                };
                if patch.licenses.is_some() {
                    patches_with_licenses.push(patch);
                }
                writes.add(&patch.external_id, fields);
            }
        }
    }
    let saved = writes.save(&transaction).await?;
    let ids = &saved.ids;

    let wanted: HashMap<i64, Vec<HeldLicense>> = patches_with_licenses
        .iter()
        .filter_map(|patch| {
            let user_id = *ids.get(&patch.external_id)?;
            let stored = holdings.get(&user_id).map_or(&[][..], Vec::as_slice);
            let assigned = patch.licenses.as_deref().unwrap_or_default();
            Some((user_id, holdings_after_delta(assigned, stored, skus)))
        })
        .collect();
    let page = WrittenUsers {
        stored: &stored,
        saved,
        wanted,
        held: &holdings,
        removed: removed.len() as i64,
    };
    let changes = finish_page(transaction, provider_id, observer, now, page).await?;
    mark_removed(db, provider_id, &removed, now, observer).await?;
    Ok(changes)
}
