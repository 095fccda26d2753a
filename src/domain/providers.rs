//! Providers: the accounts license-manager reads licenses from, each of a kind (see
//! `crate::providers::registry`) with the kind's configuration as JSON and a sealed secret. The
//! services here never look inside a configuration: its kind checks it and reads it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::audit::{self, Actor, Target};
use super::validation::{self as valid, Validator};
use crate::crypto::{Sealed, SecretKeyring};
use crate::db::one_of;
use crate::entities::{directory_users, providers, sync_runs};
use crate::error::FieldError;
use crate::error::{Error, Result};
/// What the API layer names of providers, so that it reaches them through the domain.
pub use crate::providers::ConnectionCheck;
pub use crate::providers::registry::ProviderRegistry;
use crate::providers::registry::StoredProvider;
use crate::providers::{ConfigPatch, Connection, KindConfig, PatchError};
use crate::sync::events::RunEvents;
use crate::sync::queue::RunStatus;

const NAME_MAX: usize = 200;
/// Client secrets are some tens of characters; anything far longer is a paste accident.
const SECRET_MAX: usize = 1024;
/// Below this, a scheduled sync would spend the service's request budget for little news; above
/// it, data goes stale for more than a week.
pub const SYNC_INTERVAL_MINUTES: (i32, i32) = (15, 10_080);
/// A secret expiring within this many days is flagged so an admin can rotate it in time.
pub const SECRET_EXPIRY_WARNING_DAYS: i64 = 30;
/// The hint shows the last characters only when the secret is long enough to keep its strength.
const SECRET_HINT_CHARS: usize = 4;
const SECRET_HINT_MIN_LENGTH: usize = 16;

/// A configured provider as readers see it: no secret, only its hint and expiry.
#[derive(Clone, Debug)]
pub struct Provider {
    pub id: i64,
    /// The kind's name, e.g. `microsoft365`.
    pub kind: String,
    pub name: String,
    /// The kind's configuration; only the kind reads it.
    pub config: serde_json::Value,
    pub client_secret_hint: String,
    pub client_secret_expires_at: Option<DateTime<Utc>>,
    /// Which key sealed the client secret: a process without that key cannot use the provider.
    pub client_secret_key_id: String,
    pub sync_interval_minutes: Option<i32>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether the client secret needs the admin's attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretStatus {
    /// No expiry was entered.
    Unknown,
    Valid,
    ExpiringSoon,
    Expired,
}

impl Provider {
    pub fn secret_status(&self, now: DateTime<Utc>) -> SecretStatus {
        match self.client_secret_expires_at {
            None => SecretStatus::Unknown,
            Some(expiry) if expiry <= now => SecretStatus::Expired,
            Some(expiry) if expiry - now <= Duration::days(SECRET_EXPIRY_WARNING_DAYS) => {
                SecretStatus::ExpiringSoon
            }
            Some(_) => SecretStatus::Valid,
        }
    }
}

fn stored_config(row: &providers::Model) -> Result<serde_json::Value> {
    serde_json::from_str(&row.config)
        .map_err(|error| Error::Corrupt(format!("provider {}: configuration: {error}", row.id)))
}

impl TryFrom<providers::Model> for Provider {
    type Error = Error;

    fn try_from(row: providers::Model) -> Result<Self> {
        Ok(Self {
            id: row.id,
            config: stored_config(&row)?,
            kind: row.kind,
            name: row.name,
            client_secret_hint: row.client_secret_hint,
            client_secret_expires_at: row.client_secret_expires_at,
            client_secret_key_id: row.client_secret_key_id,
            sync_interval_minutes: row.sync_interval_minutes,
            enabled: row.enabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<Provider>> {
    providers::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Provider::try_from)
        .transpose()
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<Provider>> {
    providers::Entity::find()
        .order_by_asc(providers::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Provider::try_from)
        .collect()
}

/// Several providers by id, in one statement.
pub async fn by_ids(db: &DatabaseConnection, ids: &[i64]) -> Result<HashMap<i64, Provider>> {
    providers::Entity::find()
        .filter(one_of(
            db.get_database_backend(),
            providers::Column::Id,
            ids.to_vec(),
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|row| Provider::try_from(row).map(|provider| (provider.id, provider)))
        .collect()
}

#[derive(FromQueryResult)]
struct UserCount {
    provider_id: i64,
    users: i64,
}

/// Users not removed from the directory, per provider, in one statement for all `provider_ids`.
pub async fn current_user_counts(
    db: &DatabaseConnection,
    provider_ids: &[i64],
) -> Result<HashMap<i64, i64>> {
    let counts = directory_users::Entity::find()
        .select_only()
        .column(directory_users::Column::ProviderId)
        .column_as(directory_users::Column::Id.count(), "users")
        .filter(one_of(
            db.get_database_backend(),
            directory_users::Column::ProviderId,
            provider_ids.to_vec(),
        ))
        .filter(directory_users::Column::RemovedAt.is_null())
        .group_by(directory_users::Column::ProviderId)
        .into_model::<UserCount>()
        .all(db)
        .await?;
    Ok(counts
        .into_iter()
        .map(|count| (count.provider_id, count.users))
        .collect())
}

/// A provider to connect, as an admin entered it.
pub struct NewProvider {
    pub name: String,
    /// The kind's configuration as its kind parsed it, or every field it refused.
    pub config: std::result::Result<KindConfig, Vec<FieldError>>,
    pub client_secret: SecretString,
    pub client_secret_expires_at: Option<DateTime<Utc>>,
    pub sync_interval_minutes: Option<i32>,
}

/// A partial update of a provider of `kind`: `None` leaves a field as it is; `Some(None)` clears
/// a nullable one.
pub struct ProviderChanges {
    /// The kind the caller meant to change; a provider of another kind is refused whole.
    pub kind: &'static str,
    pub name: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Fields of the configuration to replace, as the provider's kind built them.
    pub config: Option<ConfigPatch>,
    pub client_secret_expires_at: Option<Option<DateTime<Utc>>>,
    pub sync_interval_minutes: Option<Option<i32>>,
    pub enabled: Option<bool>,
}

/// The associated data that binds a sealed secret to its provider's account. The text has not
/// changed since secrets were first sealed, so every stored secret still opens.
fn secret_context(account_key: &str) -> String {
    format!("provider-client-secret:{account_key}")
}

fn secret(value: &SecretString) -> std::result::Result<SecretString, String> {
    // Copying from the portal often brings a trailing space or newline along.
    let trimmed = valid::control_free(value.expose_secret().trim())?;
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > SECRET_MAX {
        return Err(format!("must be at most {SECRET_MAX} characters"));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

fn secret_hint(secret: &SecretString) -> String {
    let characters: Vec<char> = secret.expose_secret().chars().collect();
    if characters.len() < SECRET_HINT_MIN_LENGTH {
        return String::new();
    }
    characters[characters.len() - SECRET_HINT_CHARS..]
        .iter()
        .collect()
}

fn sync_interval(value: Option<i32>) -> std::result::Result<Option<i32>, String> {
    let (min, max) = SYNC_INTERVAL_MINUTES;
    value
        .map(|minutes| valid::int_in_range(minutes, min, max))
        .transpose()
}

fn conflict_on_unique(error: sea_orm::DbErr) -> Error {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            Error::Conflict("a provider for this account already exists".into())
        }
        _ => Error::Database(error),
    }
}

pub async fn create(
    db: &DatabaseConnection,
    keyring: &SecretKeyring,
    actor: &Actor,
    input: NewProvider,
) -> Result<Provider> {
    let result = create_checked(db, keyring, actor, input).await;
    audit::on_failure(db, actor, "provider.create", Target::provider(None), result).await
}

async fn create_checked(
    db: &DatabaseConnection,
    keyring: &SecretKeyring,
    actor: &Actor,
    input: NewProvider,
) -> Result<Provider> {
    let mut validator = Validator::default();
    let name = validator.check("name", valid::text(&input.name, NAME_MAX));
    let config = validator.check_fields(input.config);
    let client_secret = validator.check("clientSecret", secret(&input.client_secret));
    let interval = validator.check(
        "syncIntervalMinutes",
        sync_interval(input.sync_interval_minutes),
    );
    validator.finish()?;
    let (Some(name), Some(config), Some(client_secret), Some(interval)) =
        (name, config, client_secret, interval)
    else {
        unreachable!("the validator refuses missing fields");
    };

    let sealed = keyring.seal(&client_secret, &secret_context(&config.account_key))?;
    let now = Utc::now();
    let transaction = crate::db::begin_write(db).await?;
    let row = providers::ActiveModel {
        kind: Set(config.kind.into()),
        name: Set(name),
        config: Set(config.config.to_string()),
        account_key: Set(config.account_key),
        client_secret_sealed: Set(sealed.ciphertext),
        client_secret_key_id: Set(sealed.key_id),
        client_secret_hint: Set(secret_hint(&client_secret)),
        client_secret_expires_at: Set(input.client_secret_expires_at),
        sync_interval_minutes: Set(interval),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&transaction)
    .await
    .map_err(conflict_on_unique)?;
    audit::record(
        &transaction,
        actor,
        "provider.create",
        &Target::provider(Some(row.id)),
        audit::SUCCEEDED,
        Some(json!({ "name": row.name, "kind": row.kind, "config": config.config })),
    )
    .await?;
    transaction.commit().await?;
    Provider::try_from(row)
}

pub async fn update(
    db: &DatabaseConnection,
    keyring: &SecretKeyring,
    actor: &Actor,
    id: i64,
    changes: ProviderChanges,
) -> Result<Provider> {
    let result = update_checked(db, keyring, actor, id, changes).await;
    audit::on_failure(
        db,
        actor,
        "provider.update",
        Target::provider(Some(id)),
        result,
    )
    .await
}

async fn update_checked(
    db: &DatabaseConnection,
    keyring: &SecretKeyring,
    actor: &Actor,
    id: i64,
    changes: ProviderChanges,
) -> Result<Provider> {
    let mut validator = Validator::default();
    let name = changes
        .name
        .as_deref()
        .and_then(|name| validator.check("name", valid::text(name, NAME_MAX)));
    let client_secret = changes
        .client_secret
        .as_ref()
        .and_then(|value| validator.check("clientSecret", secret(value)));
    let interval = changes
        .sync_interval_minutes
        .and_then(|minutes| validator.check("syncIntervalMinutes", sync_interval(minutes)));
    validator.finish()?;

    let transaction = crate::db::begin_write(db).await?;
    let current = providers::Entity::find_by_id(id)
        .one(&transaction)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no provider with id {id}")))?;
    if current.kind != changes.kind {
        return Err(refused_patch(PatchError::OtherKind {
            stored: current.kind,
            patch: changes.kind,
        }));
    }
    let mut changed_fields = Vec::new();
    let mut row = current.clone().into_active_model();
    if let Some(name) = name {
        row.name = Set(name);
        changed_fields.push(String::from("name"));
    }
    if let Some(client_secret) = client_secret {
        let Sealed { key_id, ciphertext } =
            keyring.seal(&client_secret, &secret_context(&current.account_key))?;
        row.client_secret_sealed = Set(ciphertext);
        row.client_secret_key_id = Set(key_id);
        row.client_secret_hint = Set(secret_hint(&client_secret));
        changed_fields.push(String::from("clientSecret"));
    }
    if let Some(patch) = changes.config {
        changed_fields.extend(patch.field_names());
        let patched = patch
            .apply(
                &current.kind,
                &current.account_key,
                &stored_config(&current)?,
            )
            .map_err(refused_patch)?;
        row.config = Set(patched.config.to_string());
        // A delta link issued for one configuration (another endpoint, say) means nothing to
        // the next: start over with a full sync.
        row.delta_link = Set(None);
    }
    if let Some(expiry) = changes.client_secret_expires_at {
        row.client_secret_expires_at = Set(expiry);
        changed_fields.push(String::from("clientSecretExpiresAt"));
    }
    if let Some(interval) = interval {
        row.sync_interval_minutes = Set(interval);
        changed_fields.push(String::from("syncIntervalMinutes"));
    }
    if let Some(enabled) = changes.enabled {
        row.enabled = Set(enabled);
        changed_fields.push(String::from("enabled"));
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(&transaction).await?;
    audit::record(
        &transaction,
        actor,
        "provider.update",
        &Target::provider(Some(id)),
        audit::SUCCEEDED,
        Some(json!({ "changed": changed_fields })),
    )
    .await?;
    transaction.commit().await?;
    Provider::try_from(updated)
}

/// A patch the provider's kind refused, named by the field the caller can correct.
fn refused_patch(error: PatchError) -> Error {
    let field = match error {
        PatchError::OtherKind { .. } => "id",
        PatchError::Unreadable(_) | PatchError::AccountChanged => "config",
    };
    Error::invalid(field, error.to_string())
}

/// Deletes the provider and, through the schema's cascades, everything synced from it. The
/// runs it had queued or running vanish with it: their followers hear so through `events` and
/// stop waiting for an end that would never be written.
pub async fn delete(
    db: &DatabaseConnection,
    events: &RunEvents,
    actor: &Actor,
    id: i64,
) -> Result<i64> {
    let result = delete_checked(db, actor, id).await;
    if let Ok((_, unfinished)) = &result {
        for run in unfinished {
            events.publish(db, *run).await;
        }
    }
    let result = result.map(|(id, _)| id);
    audit::on_failure(
        db,
        actor,
        "provider.delete",
        Target::provider(Some(id)),
        result,
    )
    .await
}

/// Deletes provider `id`; returns it with the runs it had queued or running.
async fn delete_checked(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> Result<(i64, Vec<i64>)> {
    let transaction = crate::db::begin_write(db).await?;
    let current = providers::Entity::find_by_id(id)
        .one(&transaction)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no provider with id {id}")))?;
    let unfinished: Vec<i64> = sync_runs::Entity::find()
        .select_only()
        .column(sync_runs::Column::Id)
        .filter(sync_runs::Column::ProviderId.eq(id))
        .filter(
            sync_runs::Column::Status
                .is_in([RunStatus::Queued.as_str(), RunStatus::Running.as_str()]),
        )
        .into_tuple()
        .all(&transaction)
        .await?;
    providers::Entity::delete_by_id(id)
        .exec(&transaction)
        .await?;
    audit::record(
        &transaction,
        actor,
        "provider.delete",
        &Target::provider(Some(id)),
        audit::SUCCEEDED,
        Some(json!({ "name": current.name, "kind": current.kind, "config": stored_config(&current)? })),
    )
    .await?;
    transaction.commit().await?;
    Ok((id, unfinished))
}

/// A client for the provider's service, built by its kind from its stored configuration and its
/// unsealed secret.
pub async fn connect(
    db: &DatabaseConnection,
    keyring: &SecretKeyring,
    registry: &ProviderRegistry,
    id: i64,
) -> Result<Connection> {
    let row = providers::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no provider with id {id}")))?;
    let sealed = Sealed {
        key_id: row.client_secret_key_id.clone(),
        ciphertext: row.client_secret_sealed.clone(),
    };
    let secret = keyring.open(&sealed, &secret_context(&row.account_key))?;
    let config = stored_config(&row)?;
    registry
        .connect(StoredProvider {
            id,
            kind: &row.kind,
            version: row.updated_at,
            config: &config,
            secret,
        })
        .map_err(|error| Error::Corrupt(format!("provider {id}: {error}")))
}

/// Runs every check of the provider's connection and records that it was tested.
pub async fn test_connection(
    db: &DatabaseConnection,
    keyring: &SecretKeyring,
    registry: &ProviderRegistry,
    actor: &Actor,
    id: i64,
) -> Result<Vec<ConnectionCheck>> {
    let result = async {
        let connection = connect(db, keyring, registry, id).await?;
        let checks = connection.client.test_connection().await;
        let failed: Vec<&str> = checks
            .iter()
            .filter(|check| check.failed())
            .map(|check| check.name)
            .collect();
        audit::record(
            db,
            actor,
            "provider.test_connection",
            &Target::provider(Some(id)),
            if failed.is_empty() {
                audit::SUCCEEDED
            } else {
                "FAILED"
            },
            Some(json!({ "failedChecks": failed })),
        )
        .await?;
        Ok(checks)
    }
    .await;
    audit::on_failure(
        db,
        actor,
        "provider.test_connection",
        Target::provider(Some(id)),
        result,
    )
    .await
}
