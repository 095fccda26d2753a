use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{directory_users, providers};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    Microsoft365,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Microsoft365 => "microsoft365",
        }
    }

    fn parse(value: &str) -> Result<Self> {
        match value {
            "microsoft365" => Ok(ProviderKind::Microsoft365),
            other => Err(Error::Corrupt(format!("unknown provider kind {other:?}"))),
        }
    }
}

/// The national cloud of a Microsoft 365 tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    Global,
    UsGov,
    UsGovDod,
    China,
}

impl Cloud {
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Global => "GLOBAL",
            Cloud::UsGov => "US_GOV",
            Cloud::UsGovDod => "US_GOV_DOD",
            Cloud::China => "CHINA",
        }
    }

    fn parse(value: &str) -> Result<Self> {
        match value {
            "GLOBAL" => Ok(Cloud::Global),
            "US_GOV" => Ok(Cloud::UsGov),
            "US_GOV_DOD" => Ok(Cloud::UsGovDod),
            "CHINA" => Ok(Cloud::China),
            other => Err(Error::Corrupt(format!("unknown cloud {other:?}"))),
        }
    }
}

/// A configured provider as readers see it: no secret, only its hint and expiry.
#[derive(Clone, Debug)]
pub struct Provider {
    pub id: i64,
    pub kind: ProviderKind,
    pub name: String,
    pub tenant_id: String,
    pub client_id: String,
    pub cloud: Cloud,
    pub client_secret_hint: String,
    pub client_secret_expires_at: Option<DateTime<Utc>>,
    pub sync_interval_minutes: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<providers::Model> for Provider {
    type Error = Error;

    fn try_from(row: providers::Model) -> Result<Self> {
        Ok(Self {
            id: row.id,
            kind: ProviderKind::parse(&row.kind)?,
            name: row.name,
            tenant_id: row.tenant_id,
            client_id: row.client_id,
            cloud: Cloud::parse(&row.cloud)?,
            client_secret_hint: row.client_secret_hint,
            client_secret_expires_at: row.client_secret_expires_at,
            sync_interval_minutes: row.sync_interval_minutes,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
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
        .filter(directory_users::Column::ProviderId.is_in(provider_ids.iter().copied()))
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
