//! The users of a listed page and their licenses: compared with what is stored, and only
//! what changed is written; users missing from a complete listing are marked removed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, IdenStatic,
    QueryFilter,
};
use serde_json::json;

use super::batching::*;
use super::events::{
    self, Event, EventKind, Observer, PendingUserEvent, license_changes, user_changes,
};
use super::skus::*;
use super::stamps::{self, Counted};
use super::*;
use crate::db::one_of;
use crate::entities::{directory_users as users, license_assignments as assignments};
use crate::error::{Error, Result};
use crate::providers::records::{LicensePaths, LicenseRecord, SignInDates, UserPatch, UserRecord};

pub(super) fn search_text(upn: &str, display_name: Option<&str>, mail: Option<&str>) -> String {
    [
        display_name.unwrap_or_default(),
        upn,
        mail.unwrap_or_default(),
    ]
    .join(" ")
    .to_lowercase()
}

/// The user columns a sync owns; `first_seen_at` and the row id are never changed here.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct UserFields {
    pub(super) user_principal_name: String,
    pub(super) mail: Option<String>,
    pub(super) display_name: Option<String>,
    pub(super) account_enabled: bool,
    pub(super) user_type: Option<String>,
    pub(super) created_date_time: Option<DateTime<Utc>>,
    pub(super) sign_in: SignInDates,
}

impl UserFields {
    pub(super) fn of(row: &users::Model) -> Self {
        Self {
            user_principal_name: row.user_principal_name.clone(),
            mail: row.mail.clone(),
            display_name: row.display_name.clone(),
            account_enabled: row.account_enabled,
            user_type: row.user_type.clone(),
            created_date_time: row.created_date_time,
            sign_in: SignInDates {
                last_interactive: row.last_sign_in_at,
                last_non_interactive: row.last_non_interactive_sign_in_at,
                last_successful: row.last_successful_sign_in_at,
            },
        }
    }

    pub(super) fn from_record(record: &UserRecord, stored_sign_in: SignInDates) -> Self {
        Self {
            user_principal_name: record.user_principal_name.clone(),
            mail: record.mail.clone(),
            display_name: record.display_name.clone(),
            account_enabled: record.account_enabled,
            user_type: record.user_type.clone(),
            created_date_time: record.created_at,
            sign_in: record.sign_in.unwrap_or(stored_sign_in),
        }
    }

    pub(super) fn patched(mut self, patch: &UserPatch) -> Self {
        if let Some(upn) = &patch.user_principal_name {
            self.user_principal_name = upn.clone();
        }
        if let Some(mail) = &patch.mail {
            self.mail = mail.clone();
        }
        if let Some(name) = &patch.display_name {
            self.display_name = name.clone();
        }
        if let Some(enabled) = patch.account_enabled {
            self.account_enabled = enabled;
        }
        if let Some(user_type) = &patch.user_type {
            self.user_type = user_type.clone();
        }
        if let Some(created) = patch.created_at {
            self.created_date_time = created;
        }
        self
    }

    /// A complete row: `id` NotSet inserts, Set upserts over the stored row. `listed` is the
    /// run's stamp (see `stamps`).
    pub(super) fn into_row(
        self,
        provider_id: i64,
        external_id: &str,
        stored: Option<&users::Model>,
        now: DateTime<Utc>,
        listed: (Option<i64>, Counted),
    ) -> users::ActiveModel {
        let (listed_in_run, listed_as) = listed;
        users::ActiveModel {
            id: stored.map_or(NotSet, |row| Set(row.id)),
            provider_id: Set(provider_id),
            external_id: Set(external_id.to_owned()),
            search_text: Set(search_text(
                &self.user_principal_name,
                self.display_name.as_deref(),
                self.mail.as_deref(),
            )),
            user_principal_name: Set(self.user_principal_name),
            mail: Set(self.mail),
            display_name: Set(self.display_name),
            account_enabled: Set(self.account_enabled),
            user_type: Set(self.user_type),
            created_date_time: Set(self.created_date_time),
            last_sign_in_at: Set(self.sign_in.last_interactive),
            last_non_interactive_sign_in_at: Set(self.sign_in.last_non_interactive),
            last_successful_sign_in_at: Set(self.sign_in.last_successful),
            first_seen_at: Set(stored.map_or(now, |row| row.first_seen_at)),
            last_seen_at: Set(now),
            removed_at: Set(None),
            updated_at: Set(now),
            listed_in_run: Set(listed_in_run),
            listed_as: Set(listed_as.stored()),
        }
    }
}

/// How one license is held, as stored: the unit of comparison between syncs. The columns that
/// sum its paths up (direct, groups, state, error) follow from `paths`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct HeldLicense {
    pub(super) license_sku_id: i64,
    pub(super) disabled_plans: Vec<String>,
    pub(super) paths: LicensePaths,
}

impl HeldLicense {
    /// A stored row, its paths read back (from `sources`, or as its columns imply them).
    pub(super) fn of(row: &assignments::Model) -> Result<Self> {
        let strings = |value: &serde_json::Value| -> Vec<String> {
            serde_json::from_value(value.clone()).unwrap_or_default()
        };
        let disabled_plans = strings(&row.disabled_plans);
        let paths = LicensePaths::from_stored(
            row.sources.clone(),
            row.assigned_directly,
            &strings(&row.inherited_from_group_ids),
            row.state.as_deref(),
            row.error.as_deref(),
            &disabled_plans,
        )
        .map_err(|error| {
            Error::Corrupt(format!("license assignment {} sources: {error}", row.id))
        })?;
        Ok(Self {
            license_sku_id: row.license_sku_id,
            disabled_plans,
            paths,
        })
    }

    pub(super) fn from_record(record: &LicenseRecord, license_sku_id: i64) -> Self {
        let mut disabled_plans = record.disabled_plans.clone();
        disabled_plans.sort();
        Self {
            license_sku_id,
            disabled_plans,
            paths: record.paths.clone(),
        }
    }

    pub(super) fn into_row(
        self,
        provider_id: i64,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> assignments::ActiveModel {
        // Nearly every license has one path, which the columns already say: no JSON for it.
        let sources = self.paths.stored(&self.disabled_plans);
        let paths = self.paths;
        assignments::ActiveModel {
            provider_id: Set(provider_id),
            user_id: Set(user_id),
            license_sku_id: Set(self.license_sku_id),
            disabled_plans: Set(json!(self.disabled_plans)),
            assigned_directly: Set(paths.assigned_directly()),
            inherited_from_group_ids: Set(json!(paths.group_ids())),
            state: Set(paths.state().map(|state| state.as_str().to_owned())),
            error: Set(paths.error().map(|error| error.as_str().to_owned())),
            sources: Set(sources),
            updated_at: Set(now),
            ..Default::default()
        }
    }
}

pub(super) async fn stored_users(
    db: &impl ConnectionTrait,
    provider_id: i64,
    external_ids: Vec<String>,
) -> Result<HashMap<String, users::Model>> {
    let mut stored = HashMap::with_capacity(external_ids.len());
    for chunk in external_ids.chunks(MAX_IDS_PER_STATEMENT) {
        for row in users::Entity::find()
            .filter(users::Column::ProviderId.eq(provider_id))
            .filter(one_of(
                db.get_database_backend(),
                users::Column::ExternalId,
                chunk.to_vec(),
            ))
            .all(db)
            .await?
        {
            stored.insert(row.external_id.clone(), row);
        }
    }
    Ok(stored)
}

pub(super) async fn stored_holdings(
    db: &impl ConnectionTrait,
    user_ids: &[i64],
) -> Result<HashMap<i64, Vec<HeldLicense>>> {
    let mut holdings: HashMap<i64, Vec<HeldLicense>> = HashMap::new();
    // `chunks` of an empty list yields nothing: a page of new users costs no statement here.
    for chunk in user_ids.chunks(MAX_IDS_PER_STATEMENT) {
        for row in assignments::Entity::find()
            .filter(one_of(
                db.get_database_backend(),
                assignments::Column::UserId,
                chunk.to_vec(),
            ))
            .all(db)
            .await?
        {
            holdings
                .entry(row.user_id)
                .or_default()
                .push(HeldLicense::of(&row)?);
        }
    }
    for list in holdings.values_mut() {
        list.sort();
    }
    Ok(holdings)
}

/// The users of one page sorted into rows to insert and rows to rewrite; unchanged users need
/// no statement at all.
pub(super) struct UserWrites<'a> {
    pub(super) provider_id: i64,
    /// The run whose stamp the rows get; None leaves the stamps as they are.
    run: Option<i64>,
    /// Whether the change log wants what changed: a baseline records nothing, so its users are
    /// not compared for it (a first sync would build an event per user only to drop it).
    logged: bool,
    pub(super) stored: &'a HashMap<String, users::Model>,
    pub(super) now: DateTime<Utc>,
    pub(super) inserts: Vec<users::ActiveModel>,
    pub(super) updates: Vec<users::ActiveModel>,
    events: Vec<PendingUserEvent>,
}

/// What a page's user rows became: ids by the provider's id (new and stored) and who counts as what.
pub(super) struct SavedUsers {
    pub(super) ids: HashMap<String, i64>,
    pub(super) updated: HashSet<i64>,
    pub(super) new_ids: HashSet<i64>,
    /// What changed of the users themselves, for the change log.
    pub(super) events: Vec<Event>,
}

impl<'a> UserWrites<'a> {
    pub(super) fn new(
        provider_id: i64,
        observer: Observer,
        stored: &'a HashMap<String, users::Model>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            provider_id,
            run: observer.run_id,
            logged: events::logged(observer),
            stored,
            now,
            inserts: Vec::new(),
            updates: Vec::new(),
            events: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, external_id: &str, fields: UserFields) {
        let stored = self.stored.get(external_id);
        if self.logged {
            self.events
                .extend(user_changes(external_id, stored, &fields));
        }
        match stored {
            None => {
                let listed = (self.run, self.stamp(None, Counted::Created));
                self.inserts.push(fields.into_row(
                    self.provider_id,
                    external_id,
                    None,
                    self.now,
                    listed,
                ))
            }
            Some(row) if row.removed_at.is_some() || UserFields::of(row) != fields => {
                let listed = match self.run {
                    Some(_) => (self.run, self.stamp(Some(row), Counted::Updated)),
                    None => Counted::kept(row),
                };
                self.updates.push(fields.into_row(
                    self.provider_id,
                    external_id,
                    Some(row),
                    self.now,
                    listed,
                ))
            }
            Some(_) => {}
        }
    }

    /// What the run counts a user written `now` as; nothing counted without a run.
    fn stamp(&self, row: Option<&users::Model>, now: Counted) -> Counted {
        match self.run {
            Some(_) => Counted::after(row, self.run, now),
            None => Counted::Seen,
        }
    }

    pub(super) async fn save(self, db: &impl ConnectionTrait) -> Result<SavedUsers> {
        let updated: HashSet<i64> = self
            .updates
            .iter()
            .filter_map(|row| match &row.id {
                Set(id) => Some(*id),
                _ => None,
            })
            .collect();
        let new_rows = save_users(db, self.inserts, self.updates).await?;
        let new_ids = new_rows.values().copied().collect();
        let mut ids = new_rows;
        ids.extend(
            self.stored
                .iter()
                .map(|(external_id, row)| (external_id.clone(), row.id)),
        );
        let events = self
            .events
            .into_iter()
            .filter_map(|(external_id, kind, before, after)| {
                Some(Event {
                    before,
                    after,
                    ..Event::of_user(*ids.get(&external_id)?, kind)
                })
            })
            .collect();
        Ok(SavedUsers {
            ids,
            updated,
            new_ids,
            events,
        })
    }
}

/// Inserts new users and upserts changed ones; returns every written user's id by the provider's id.
pub(super) async fn save_users(
    db: &impl ConnectionTrait,
    inserts: Vec<users::ActiveModel>,
    updates: Vec<users::ActiveModel>,
) -> Result<HashMap<String, i64>> {
    let mut ids = HashMap::new();
    // Only the keys come back: returning whole rows sent every inserted value back again.
    let keys = [users::Column::Id, users::Column::ExternalId];
    for row in insert_new(db, inserts, &keys).await? {
        let id: i64 = row.try_get("", users::Column::Id.as_str())?;
        ids.insert(row.try_get("", users::Column::ExternalId.as_str())?, id);
    }
    for chunk in owned_batches(db.get_database_backend(), updates) {
        users::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(users::Column::Id)
                    .update_columns([
                        users::Column::UserPrincipalName,
                        users::Column::Mail,
                        users::Column::DisplayName,
                        users::Column::SearchText,
                        users::Column::AccountEnabled,
                        users::Column::UserType,
                        users::Column::CreatedDateTime,
                        users::Column::LastSignInAt,
                        users::Column::LastNonInteractiveSignInAt,
                        users::Column::LastSuccessfulSignInAt,
                        users::Column::LastSeenAt,
                        users::Column::RemovedAt,
                        users::Column::UpdatedAt,
                        users::Column::ListedInRun,
                        users::Column::ListedAs,
                    ])
                    .to_owned(),
            )
            .exec(db)
            .await?;
    }
    Ok(ids)
}

/// Replaces the licenses of the users whose holdings differ from what is stored; returns those
/// users' ids, and what changed for the change log when `logged`.
pub(super) async fn save_holdings(
    db: &impl ConnectionTrait,
    provider_id: i64,
    wanted: HashMap<i64, Vec<HeldLicense>>,
    stored: &HashMap<i64, Vec<HeldLicense>>,
    now: DateTime<Utc>,
    logged: bool,
) -> Result<(HashSet<i64>, Vec<Event>)> {
    let mut changed = HashSet::new();
    let mut events = Vec::new();
    let mut rows = Vec::new();
    for (user_id, mut holdings) in wanted {
        holdings.sort();
        holdings.dedup_by(|a, b| a.license_sku_id == b.license_sku_id);
        let before = stored.get(&user_id).map_or(&[][..], Vec::as_slice);
        if before == holdings.as_slice() {
            continue;
        }
        if logged {
            events.extend(license_changes(user_id, before, &holdings));
        }
        changed.insert(user_id);
        rows.extend(
            holdings
                .into_iter()
                .map(|h| h.into_row(provider_id, user_id, now)),
        );
    }
    // Only users who held something have rows to delete; a first sync deletes nothing.
    let replaced: Vec<i64> = changed
        .iter()
        .copied()
        .filter(|user_id| stored.contains_key(user_id))
        .collect();
    for chunk in replaced.chunks(MAX_IDS_PER_STATEMENT) {
        assignments::Entity::delete_many()
            .filter(one_of(
                db.get_database_backend(),
                assignments::Column::UserId,
                chunk.to_vec(),
            ))
            .exec(db)
            .await?;
    }
    insert_new(db, rows, &[]).await?;
    Ok((changed, events))
}

/// Writes one page of a complete listing, whose SKUs `add_held_skus` has added, stamped with
/// the observer's run. Returns what the run had not counted yet.
pub async fn write_user_page(
    db: &DatabaseConnection,
    provider_id: i64,
    records: Vec<UserRecord>,
    skus: &SkuIndex,
    now: DateTime<Utc>,
    observer: Observer,
) -> Result<PageChanges> {
    let records = dedupe_by(records, |record| &record.external_id);
    let transaction = crate::db::begin_write(db).await?;
    let stored = stored_users(
        &transaction,
        provider_id,
        records.iter().map(|r| r.external_id.clone()).collect(),
    )
    .await?;

    let mut writes = UserWrites::new(provider_id, observer, &stored, now);
    for record in &records {
        let stored_sign_in = stored
            .get(&record.external_id)
            .map(|row| UserFields::of(row).sign_in)
            .unwrap_or_default();
        writes.add(
            &record.external_id,
            UserFields::from_record(record, stored_sign_in),
        );
    }
    let saved = writes.save(&transaction).await?;
    let ids = &saved.ids;

    let wanted: HashMap<i64, Vec<HeldLicense>> = records
        .iter()
        .filter_map(|record| {
            let user_id = *ids.get(&record.external_id)?;
            let holdings = record
                .licenses
                .iter()
                .filter_map(|license| {
                    Some(HeldLicense::from_record(license, skus.id(&license.sku_id)?))
                })
                .collect();
            Some((user_id, holdings))
        })
        .collect();
    let existing: Vec<i64> = stored.values().map(|row| row.id).collect();
    let held = stored_holdings(&transaction, &existing).await?;
    let page = WrittenUsers {
        stored: &stored,
        saved,
        wanted,
        held: &held,
        removed: 0,
    };
    finish_page(transaction, provider_id, observer, now, page).await
}

/// A page's users once their rows are written, with what their licenses should be.
pub(super) struct WrittenUsers<'a> {
    pub(super) stored: &'a HashMap<String, users::Model>,
    pub(super) saved: SavedUsers,
    pub(super) wanted: HashMap<i64, Vec<HeldLicense>>,
    pub(super) held: &'a HashMap<i64, Vec<HeldLicense>>,
    /// Users the page marks removed, counted with its changes.
    pub(super) removed: i64,
}

/// The end of a page's transaction, the same for a listing and for a delta: the licenses that
/// changed, the run's stamps, the change log, the commit.
pub(super) async fn finish_page(
    transaction: DatabaseTransaction,
    provider_id: i64,
    observer: Observer,
    now: DateTime<Utc>,
    page: WrittenUsers<'_>,
) -> Result<PageChanges> {
    let WrittenUsers {
        stored,
        mut saved,
        wanted,
        held,
        removed,
    } = page;
    let (relicensed, mut events) = save_holdings(
        &transaction,
        provider_id,
        wanted,
        held,
        now,
        events::logged(observer),
    )
    .await?;
    let run = observer.run_id;
    let changes =
        stamps::stamp_page(&transaction, run, stored, &saved, &relicensed, removed).await?;
    events.append(&mut saved.events);
    events::record(&transaction, provider_id, observer, now, events).await?;
    transaction.commit().await?;
    Ok(changes)
}

pub(super) async fn mark_removed(
    db: &DatabaseConnection,
    provider_id: i64,
    user_ids: &[i64],
    now: DateTime<Utc>,
    observer: Observer,
) -> Result<()> {
    let transaction = crate::db::begin_write(db).await?;
    let removals = user_ids
        .iter()
        .map(|id| Event::of_user(*id, EventKind::UserRemoved))
        .collect();
    events::record(&transaction, provider_id, observer, now, removals).await?;
    for chunk in user_ids.chunks(MAX_IDS_PER_STATEMENT) {
        users::Entity::update_many()
            .col_expr(users::Column::RemovedAt, now.into())
            .col_expr(users::Column::UpdatedAt, now.into())
            .filter(one_of(
                db.get_database_backend(),
                users::Column::Id,
                chunk.to_vec(),
            ))
            .exec(&transaction)
            .await?;
        assignments::Entity::delete_many()
            .filter(one_of(
                db.get_database_backend(),
                assignments::Column::UserId,
                chunk.to_vec(),
            ))
            .exec(&transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
