//! Writes what a provider reports into the database.
//!
//! Each page is one short transaction of a few batched statements: read the stored rows of the
//! page's users, insert the new ones, upsert (by primary key) only those that changed, and
//! replace the licenses of only those users whose licenses changed. Unchanged rows are never
//! rewritten, so a repeated full sync costs reads, not writes. Rows are deduplicated by the provider's
//! id within a page (the last one wins: a provider may list a user twice, the later time newer, see
//! `runner::write_listing`): PostgreSQL refuses to touch one row twice in a statement.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IdenStatic,
    QueryFilter, QueryResult, QuerySelect, QueryTrait,
};
use serde_json::json;

use super::bulk_insert;
use crate::db::one_of;
use crate::entities::{
    directory_users as users, license_assignments as assignments, license_skus as skus,
    license_snapshots as snapshots, subscriptions,
};
use crate::error::{Error, Result};
use crate::providers::Catalogue;
use crate::providers::records::{
    AssignedSku, LicensePaths, LicenseRecord, SignInDates, SignInRecord, SkuRecord,
    SubscriptionRecord, UserChange, UserPatch, UserRecord,
};

/// Rows per statement, so that rows × columns stays under SQLite's 32,766 bind parameters (and
/// PostgreSQL's 65,535) for the widest table written here. A power of two: see `batches`.
const MAX_ROWS_PER_STATEMENT: usize = 1_024;
/// Ids per `IN (…)` list.
const MAX_IDS_PER_STATEMENT: usize = 10_000;

/// Splits rows into batches for multi-row INSERTs. A statement of n rows is a different text for
/// every n, and PostgreSQL parses and plans each new text anew — thousands of parameters — so
/// there the sizes are powers of two, largest first: a handful of statements, prepared once,
/// serve every page. SQLite prepares cheaply but pays per statement, so it gets the largest
/// batches (measured on 100,000 users: powers of two made its sync 40% slower).
fn batches<T>(backend: DbBackend, rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = match backend {
            DbBackend::Postgres => MAX_ROWS_PER_STATEMENT.min(1 << rest.len().ilog2()),
            _ => MAX_ROWS_PER_STATEMENT.min(rest.len()),
        };
        let (batch, tail) = rest.split_at(size);
        rest = tail;
        Some(batch)
    })
}

/// What one page changed: the row ids of the users it created and of those it updated, and how
/// many it marked removed. Ids, not counts: a provider may list a user on more than one page, and a
/// run counts each user once (see `runner::Tally`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageChanges {
    pub created: Vec<i64>,
    pub updated: Vec<i64>,
    pub removed: i64,
}

/// The provider's SKUs by their id, so assignments can point at their rows.
#[derive(Clone)]
pub struct SkuIndex {
    provider_id: i64,
    ids: HashMap<String, i64>,
    /// Names the SKUs users hold that the provider does not list.
    catalogue: Arc<dyn Catalogue>,
}

impl SkuIndex {
    pub async fn load(
        db: &impl ConnectionTrait,
        provider_id: i64,
        catalogue: Arc<dyn Catalogue>,
    ) -> Result<Self> {
        let rows: Vec<(i64, String)> = skus::Entity::find()
            .select_only()
            .column(skus::Column::Id)
            .column(skus::Column::SkuId)
            .filter(skus::Column::ProviderId.eq(provider_id))
            .into_tuple()
            .all(db)
            .await?;
        Ok(Self {
            provider_id,
            ids: rows.into_iter().map(|(id, sku)| (sku, id)).collect(),
            catalogue,
        })
    }

    /// An index of no SKUs yet.
    #[cfg(test)]
    pub(crate) fn empty(provider_id: i64) -> Self {
        Self {
            provider_id,
            ids: HashMap::new(),
            catalogue: Arc::new(crate::providers::NoCatalogue),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Creates rows for SKUs users hold but the tenant no longer subscribes to: they keep their
    /// name from the kind's catalogue (or their id when it does not know them), with no seats.
    async fn ensure(
        &mut self,
        db: &impl ConnectionTrait,
        sku_ids: HashSet<String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let missing: Vec<&str> = sku_ids
            .iter()
            .map(String::as_str)
            .filter(|id| !self.ids.contains_key(*id))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let rows: Vec<skus::ActiveModel> = missing
            .iter()
            .map(|sku_id| {
                let product = self.catalogue.product(sku_id);
                let (part_number, name) = product.map_or_else(
                    || ((*sku_id).to_owned(), (*sku_id).to_owned()),
                    |product| (product.part_number, product.name),
                );
                skus::ActiveModel {
                    provider_id: Set(self.provider_id),
                    sku_id: Set((*sku_id).to_owned()),
                    sku_part_number: Set(part_number),
                    display_name: Set(name),
                    capability_status: Set("Unsubscribed".to_owned()),
                    subscribed: Set(false),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
            })
            .collect();
        for chunk in batches(db.get_database_backend(), &rows) {
            for row in skus::Entity::insert_many(chunk.to_vec())
                .exec_with_returning(db)
                .await?
            {
                self.ids.insert(row.sku_id, row.id);
            }
        }
        Ok(())
    }

    fn id(&self, sku_id: &str) -> Option<i64> {
        self.ids.get(sku_id).copied()
    }
}

/// Upserts the tenant's SKUs; SKUs it no longer lists stay (users may still hold them) but
/// lose their seats.
pub async fn write_skus(
    db: &DatabaseConnection,
    provider_id: i64,
    records: &[SkuRecord],
    catalogue: Arc<dyn Catalogue>,
    now: DateTime<Utc>,
) -> Result<SkuIndex> {
    let transaction = crate::db::begin_write(db).await?;
    let rows: Vec<skus::ActiveModel> = records
        .iter()
        .map(|record| skus::ActiveModel {
            provider_id: Set(provider_id),
            sku_id: Set(record.sku_id.clone()),
            sku_part_number: Set(record.sku_part_number.clone()),
            display_name: Set(record.display_name.clone()),
            capability_status: Set(record.capability_status.clone()),
            applies_to: Set(record.applies_to.clone()),
            enabled_units: Set(record.enabled_units),
            suspended_units: Set(record.suspended_units),
            warning_units: Set(record.warning_units),
            locked_out_units: Set(record.locked_out_units),
            consumed_units: Set(record.consumed_units),
            service_plans: Set(Some(record.service_plans.clone())),
            subscribed: Set(true),
            last_synced_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    if !rows.is_empty() {
        skus::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([skus::Column::ProviderId, skus::Column::SkuId])
                    .update_columns([
                        skus::Column::SkuPartNumber,
                        skus::Column::DisplayName,
                        skus::Column::CapabilityStatus,
                        skus::Column::AppliesTo,
                        skus::Column::EnabledUnits,
                        skus::Column::SuspendedUnits,
                        skus::Column::WarningUnits,
                        skus::Column::LockedOutUnits,
                        skus::Column::ConsumedUnits,
                        skus::Column::ServicePlans,
                        skus::Column::Subscribed,
                        skus::Column::LastSyncedAt,
                        skus::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&transaction)
            .await?;
    }
    let listed: Vec<&str> = records
        .iter()
        .map(|record| record.sku_id.as_str())
        .collect();
    skus::Entity::update_many()
        .col_expr(skus::Column::Subscribed, false.into())
        .col_expr(skus::Column::EnabledUnits, 0.into())
        .col_expr(skus::Column::SuspendedUnits, 0.into())
        .col_expr(skus::Column::WarningUnits, 0.into())
        .col_expr(skus::Column::LockedOutUnits, 0.into())
        .col_expr(skus::Column::ConsumedUnits, 0.into())
        .col_expr(skus::Column::UpdatedAt, now.into())
        .filter(skus::Column::ProviderId.eq(provider_id))
        .filter(skus::Column::Subscribed.eq(true))
        .filter(skus::Column::SkuId.is_not_in(listed))
        .exec(&transaction)
        .await?;
    let index = SkuIndex::load(&transaction, provider_id, catalogue).await?;
    transaction.commit().await?;
    Ok(index)
}

/// Replaces the tenant's commerce subscriptions with a complete listing.
pub async fn write_subscriptions(
    db: &DatabaseConnection,
    provider_id: i64,
    records: &[SubscriptionRecord],
    now: DateTime<Utc>,
) -> Result<()> {
    let transaction = crate::db::begin_write(db).await?;
    let listed: Vec<&str> = records.iter().map(|r| r.external_id.as_str()).collect();
    subscriptions::Entity::delete_many()
        .filter(subscriptions::Column::ProviderId.eq(provider_id))
        .filter(subscriptions::Column::ExternalId.is_not_in(listed))
        .exec(&transaction)
        .await?;
    let rows: Vec<subscriptions::ActiveModel> = records
        .iter()
        .map(|record| subscriptions::ActiveModel {
            provider_id: Set(provider_id),
            external_id: Set(record.external_id.clone()),
            commerce_subscription_id: Set(record.commerce_subscription_id.clone()),
            sku_id: Set(record.sku_id.clone()),
            sku_part_number: Set(record.sku_part_number.clone()),
            status: Set(record.status.clone()),
            total_licenses: Set(record.total_licenses),
            is_trial: Set(record.is_trial),
            created_date_time: Set(record.created_at),
            next_lifecycle_date_time: Set(record.next_lifecycle_at),
            last_synced_at: Set(now),
            ..Default::default()
        })
        .collect();
    if !rows.is_empty() {
        subscriptions::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    subscriptions::Column::ProviderId,
                    subscriptions::Column::ExternalId,
                ])
                .update_columns([
                    subscriptions::Column::CommerceSubscriptionId,
                    subscriptions::Column::SkuId,
                    subscriptions::Column::SkuPartNumber,
                    subscriptions::Column::Status,
                    subscriptions::Column::TotalLicenses,
                    subscriptions::Column::IsTrial,
                    subscriptions::Column::CreatedDateTime,
                    subscriptions::Column::NextLifecycleDateTime,
                    subscriptions::Column::LastSyncedAt,
                ])
                .to_owned(),
            )
            .exec(&transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}

fn search_text(upn: &str, display_name: Option<&str>, mail: Option<&str>) -> String {
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
struct UserFields {
    user_principal_name: String,
    mail: Option<String>,
    display_name: Option<String>,
    account_enabled: bool,
    user_type: Option<String>,
    created_date_time: Option<DateTime<Utc>>,
    sign_in: SignInDates,
}

impl UserFields {
    fn of(row: &users::Model) -> Self {
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

    fn from_record(record: &UserRecord, stored_sign_in: SignInDates) -> Self {
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

    fn patched(mut self, patch: &UserPatch) -> Self {
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

    /// A complete row: `id` NotSet inserts, Set upserts over the stored row.
    fn into_row(
        self,
        provider_id: i64,
        external_id: &str,
        stored: Option<&users::Model>,
        now: DateTime<Utc>,
    ) -> users::ActiveModel {
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
        }
    }
}

/// How one license is held, as stored: the unit of comparison between syncs. The columns that
/// sum its paths up (direct, groups, state, error) follow from `paths`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct HeldLicense {
    license_sku_id: i64,
    disabled_plans: Vec<String>,
    paths: LicensePaths,
}

impl HeldLicense {
    /// A stored row, its paths read back (from `sources`, or as its columns imply them).
    fn of(row: &assignments::Model) -> Result<Self> {
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

    fn from_record(record: &LicenseRecord, license_sku_id: i64) -> Self {
        let mut disabled_plans = record.disabled_plans.clone();
        disabled_plans.sort();
        Self {
            license_sku_id,
            disabled_plans,
            paths: record.paths.clone(),
        }
    }

    fn into_row(
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

/// The last entry per key, in first-seen order.
fn dedupe_by<T>(items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut unique: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        match position.get(key(&item)) {
            Some(&index) => unique[index] = item,
            None => {
                position.insert(key(&item).to_owned(), unique.len());
                unique.push(item);
            }
        }
    }
    unique
}

async fn stored_users(
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

async fn stored_holdings(
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
struct UserWrites<'a> {
    provider_id: i64,
    stored: &'a HashMap<String, users::Model>,
    now: DateTime<Utc>,
    inserts: Vec<users::ActiveModel>,
    updates: Vec<users::ActiveModel>,
}

/// What a page's user rows became: ids by the provider's id (new and stored) and who counts as what.
struct SavedUsers {
    ids: HashMap<String, i64>,
    updated: HashSet<i64>,
    new_ids: HashSet<i64>,
}

impl<'a> UserWrites<'a> {
    fn new(
        provider_id: i64,
        stored: &'a HashMap<String, users::Model>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            provider_id,
            stored,
            now,
            inserts: Vec::new(),
            updates: Vec::new(),
        }
    }

    fn add(&mut self, external_id: &str, fields: UserFields) {
        match self.stored.get(external_id) {
            None => {
                self.inserts
                    .push(fields.into_row(self.provider_id, external_id, None, self.now))
            }
            Some(row) if row.removed_at.is_some() || UserFields::of(row) != fields => self
                .updates
                .push(fields.into_row(self.provider_id, external_id, Some(row), self.now)),
            Some(_) => {}
        }
    }

    async fn save(self, db: &impl ConnectionTrait) -> Result<SavedUsers> {
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
        Ok(SavedUsers {
            ids,
            updated,
            new_ids,
        })
    }
}

impl SavedUsers {
    /// A user whose licenses changed counts as updated, unless it is new.
    fn changes(mut self, relicensed: HashSet<i64>, removed: i64) -> PageChanges {
        self.updated.extend(relicensed.difference(&self.new_ids));
        PageChanges {
            created: self.new_ids.into_iter().collect(),
            updated: self.updated.into_iter().collect(),
            removed,
        }
    }
}

/// Inserts new users and upserts changed ones; returns every written user's id by the provider's id.
async fn save_users(
    db: &impl ConnectionTrait,
    inserts: Vec<users::ActiveModel>,
    updates: Vec<users::ActiveModel>,
) -> Result<HashMap<String, i64>> {
    let mut ids = HashMap::new();
    // Only the keys come back: returning whole rows sent every inserted value back again.
    let keys = [users::Column::Id, users::Column::ExternalId];
    for row in insert_new(db, &inserts, &keys).await? {
        let id: i64 = row.try_get("", users::Column::Id.as_str())?;
        ids.insert(row.try_get("", users::Column::ExternalId.as_str())?, id);
    }
    for chunk in batches(db.get_database_backend(), &updates) {
        users::Entity::insert_many(chunk.to_vec())
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
                    ])
                    .to_owned(),
            )
            .exec(db)
            .await?;
    }
    Ok(ids)
}

/// Replaces the licenses of the users whose holdings differ from what is stored; returns those
/// users' ids.
async fn save_holdings(
    db: &impl ConnectionTrait,
    provider_id: i64,
    wanted: HashMap<i64, Vec<HeldLicense>>,
    stored: &HashMap<i64, Vec<HeldLicense>>,
    now: DateTime<Utc>,
) -> Result<HashSet<i64>> {
    let mut changed = HashSet::new();
    let mut rows = Vec::new();
    for (user_id, mut holdings) in wanted {
        holdings.sort();
        holdings.dedup_by(|a, b| a.license_sku_id == b.license_sku_id);
        if stored.get(&user_id).map_or(&[][..], Vec::as_slice) == holdings.as_slice() {
            continue;
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
    insert_new(db, &rows, &[]).await?;
    Ok(changed)
}

/// Inserts new rows the fastest way each engine has, returning the `returning` columns of each:
/// on PostgreSQL one JSON document per statement (`bulk_insert`), on SQLite multi-row VALUES.
async fn insert_new<A>(
    db: &impl ConnectionTrait,
    rows: &[A],
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<QueryResult>>
where
    A: ActiveModelTrait + Clone,
{
    if db.get_database_backend() == DbBackend::Postgres {
        return Ok(bulk_insert::insert(db, rows, returning).await?);
    }
    let mut inserted = Vec::new();
    for chunk in batches(DbBackend::Sqlite, rows) {
        let mut insert = A::Entity::insert_many(chunk.to_vec()).into_query();
        if !returning.is_empty() {
            insert.returning(Query::returning().columns(returning.iter().copied()));
        }
        inserted.extend(db.query_all(&insert).await?);
    }
    Ok(inserted)
}

/// Creates the rows of SKUs that `records` hold and `skus` does not know yet (see
/// `SkuIndex::ensure`), in a transaction of their own, so that pages can then be written
/// concurrently against the same index. Usually every SKU is known and nothing is written.
pub async fn add_held_skus(
    db: &DatabaseConnection,
    skus: &mut Arc<SkuIndex>,
    records: &[UserRecord],
    now: DateTime<Utc>,
) -> Result<()> {
    let held: HashSet<String> = records
        .iter()
        .flat_map(|record| record.licenses.iter())
        .filter(|license| skus.id(&license.sku_id).is_none())
        .map(|license| license.sku_id.clone())
        .collect();
    if held.is_empty() {
        return Ok(());
    }
    let transaction = crate::db::begin_write(db).await?;
    // Writes in flight keep the index they started with; this one gets a copy to extend.
    Arc::make_mut(skus).ensure(&transaction, held, now).await?;
    transaction.commit().await?;
    Ok(())
}

/// Writes one page of a complete listing, whose SKUs `add_held_skus` has added. Returns the
/// counts and the row ids of the page's users, which the caller collects to find who left the
/// directory.
pub async fn write_user_page(
    db: &DatabaseConnection,
    provider_id: i64,
    records: Vec<UserRecord>,
    skus: &SkuIndex,
    now: DateTime<Utc>,
) -> Result<(PageChanges, Vec<i64>)> {
    let records = dedupe_by(records, |record| &record.external_id);
    let transaction = crate::db::begin_write(db).await?;
    let stored = stored_users(
        &transaction,
        provider_id,
        records.iter().map(|r| r.external_id.clone()).collect(),
    )
    .await?;

    let mut writes = UserWrites::new(provider_id, &stored, now);
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
    let relicensed = save_holdings(&transaction, provider_id, wanted, &held, now).await?;
    transaction.commit().await?;
    let page_ids = saved.ids.values().copied().collect();
    let counts = saved.changes(relicensed, 0);
    Ok((counts, page_ids))
}

/// Marks as removed every current user of the provider that a complete listing did not return,
/// and drops their licenses (a removed account consumes no seat).
pub async fn remove_unseen(
    db: &DatabaseConnection,
    provider_id: i64,
    seen: &HashSet<i64>,
    now: DateTime<Utc>,
) -> Result<i64> {
    let current: Vec<i64> = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::ProviderId.eq(provider_id))
        .filter(users::Column::RemovedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let gone: Vec<i64> = current
        .into_iter()
        .filter(|id| !seen.contains(id))
        .collect();
    mark_removed(db, &gone, now).await?;
    Ok(gone.len() as i64)
}

async fn mark_removed(db: &DatabaseConnection, user_ids: &[i64], now: DateTime<Utc>) -> Result<()> {
    let transaction = crate::db::begin_write(db).await?;
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

/// The stored holding of one SKU kept across a delta that only says which SKUs a user holds:
/// how each was assigned is not part of a delta, so a new SKU has no known path (and counts as
/// the user's own) until the next full sync reads them.
fn holdings_after_delta(
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

    let mut writes = UserWrites::new(provider_id, &stored, now);
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
    let relicensed = save_holdings(&transaction, provider_id, wanted, &holdings, now).await?;
    transaction.commit().await?;
    mark_removed(db, &removed, now).await?;
    Ok(saved.changes(relicensed, removed.len() as i64))
}

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
            let mut model = fields.into_row(provider_id, &record.external_id, Some(row), now);
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

/// Today's seats of every SKU of the provider, for trends; a second sync on the same day
/// overwrites the first.
pub async fn snapshot_skus(
    db: &DatabaseConnection,
    provider_id: i64,
    day: NaiveDate,
) -> Result<()> {
    let current = skus::Entity::find()
        .filter(skus::Column::ProviderId.eq(provider_id))
        .all(db)
        .await?;
    let now = Utc::now();
    let rows: Vec<snapshots::ActiveModel> = current
        .iter()
        .map(|sku| snapshots::ActiveModel {
            provider_id: Set(provider_id),
            license_sku_id: Set(sku.id),
            day: Set(day),
            enabled_units: Set(sku.enabled_units),
            consumed_units: Set(sku.consumed_units),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in batches(db.get_database_backend(), &rows) {
        snapshots::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([snapshots::Column::LicenseSkuId, snapshots::Column::Day])
                    .update_columns([
                        snapshots::Column::EnabledUnits,
                        snapshots::Column::ConsumedUnits,
                        snapshots::Column::CreatedAt,
                    ])
                    .to_owned(),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_powers_of_two_and_cover_every_row() {
        let rows: Vec<usize> = (0..3_000).collect();
        let sizes =
            |backend| -> Vec<usize> { batches(backend, &rows).map(<[usize]>::len).collect() };
        assert_eq!(
            sizes(DbBackend::Postgres),
            [1024, 1024, 512, 256, 128, 32, 16, 8]
        );
        assert_eq!(sizes(DbBackend::Sqlite), [1024, 1024, 952]);
        let again: Vec<usize> = batches(DbBackend::Postgres, &rows)
            .flatten()
            .copied()
            .collect();
        assert_eq!(again, rows);
        assert_eq!(batches(DbBackend::Sqlite, &rows[..0]).count(), 0);
    }
}
