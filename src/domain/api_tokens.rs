//! API tokens for scripts: created by an admin (or `license-manager api-token create`), shown
//! once, stored as the SHA-256 of their secret, listed, and revoked for every replica at once.
//!
//! Every request that presents one is one lookup by that hash (a unique index): no cache to
//! invalidate, so a revocation holds from the next request on, wherever it lands. The time of
//! last use is written at most once a minute per token.
//!
//! What a token does is recorded in the audit log under the subject `apitoken:<id>`: ids are
//! never reused, where names may be.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::json;

use super::audit::{self, Actor, Target};
use super::validation::{Validator, int_in_range, text};
use crate::auth::{ApiTokenSecret, AuthError, Claims, MaxTokenLifetime, Role};
use crate::entities::api_tokens;
use crate::error::{Error, Result};

const NAME_MAX: usize = 100;
const SECONDS_PER_DAY: i64 = 24 * 3600;
/// A token's lifetime when its creator names none, unless the server's maximum is shorter.
const DEFAULT_DAYS: i64 = 90;
/// How stale `lastUsedAt` may be: the price of not writing on every request.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Entries of the map of last writes before the stale ones are dropped.
const TOUCHED_TRACKED: usize = 1024;

/// The subject an API token acts under, in `viewer` and the audit log.
pub fn subject(id: i64) -> String {
    format!("apitoken:{id}")
}

/// What the server lets API tokens be: no longer-lived than its JWTs, and no more of them live
/// at once than `max_active`.
#[derive(Clone, Copy, Debug)]
pub struct ApiTokenLimits {
    pub max_lifetime: MaxTokenLifetime,
    pub max_active: NonZeroUsize,
}

impl ApiTokenLimits {
    /// Ample for the scripts of one organization, and a bound on what an admin token, or a
    /// loop in a script, can pile up.
    pub const MAX_ACTIVE: NonZeroUsize = NonZeroUsize::new(100).expect("not zero");

    /// The longest lifetime a token may be given, in whole days.
    fn max_days(self) -> i64 {
        self.max_lifetime.seconds() / SECONDS_PER_DAY
    }
}

impl Default for ApiTokenLimits {
    fn default() -> Self {
        Self {
            max_lifetime: MaxTokenLifetime::DEFAULT,
            max_active: Self::MAX_ACTIVE,
        }
    }
}

/// A token as `apiTokens` lists it; never its secret, nor its hash.
#[derive(Clone, Debug)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The subject that created it.
    pub creator: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<api_tokens::Model> for ApiToken {
    type Error = Error;

    fn try_from(row: api_tokens::Model) -> Result<Self> {
        let role = Role::parse(&row.role).ok_or_else(|| {
            Error::Corrupt(format!("API token {} has the role {:?}", row.id, row.role))
        })?;
        Ok(Self {
            id: row.id,
            name: row.name,
            role,
            creator: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

pub struct NewApiToken {
    pub name: String,
    pub role: Role,
    /// `None`: 90 days, or the server's maximum when shorter.
    pub expires_in_days: Option<i32>,
}

/// A token just created: the one time its secret is at hand.
pub struct CreatedApiToken {
    pub secret: ApiTokenSecret,
    pub token: ApiToken,
}

fn target(id: Option<i64>) -> Target {
    Target {
        kind: "api_token",
        id: id.map(|id| id.to_string()),
        provider_id: None,
    }
}

pub async fn create(
    db: &DatabaseConnection,
    limits: ApiTokenLimits,
    actor: &Actor,
    input: NewApiToken,
) -> Result<CreatedApiToken> {
    let result = create_checked(db, limits, actor, input).await;
    audit::on_failure(db, actor, "api_token.create", target(None), result).await
}

/// The name and lifetime in days, or every field's message.
fn validate(limits: ApiTokenLimits, input: &NewApiToken) -> Result<(String, i64)> {
    let max_days = limits.max_days();
    if max_days < 1 {
        return Err(Error::invalid(
            "expiresInDays",
            format!(
                "the server's maximum token lifetime ({}, LM_TOKEN_MAX_TTL) is under a day: \
                 API tokens live whole days",
                limits.max_lifetime
            ),
        ));
    }
    let mut validator = Validator::default();
    let name = validator.check("name", text(&input.name, NAME_MAX));
    let days = match input.expires_in_days {
        None => Some(DEFAULT_DAYS.min(max_days)),
        Some(days) => {
            let max = i32::try_from(max_days).unwrap_or(i32::MAX);
            validator
                .check("expiresInDays", int_in_range(days, 1, max))
                .map(i64::from)
        }
    };
    validator.finish()?;
    // Both are there once the validator found nothing.
    name.zip(days)
        .ok_or_else(|| Error::invalid("name", "is invalid"))
}

async fn create_checked(
    db: &DatabaseConnection,
    limits: ApiTokenLimits,
    actor: &Actor,
    input: NewApiToken,
) -> Result<CreatedApiToken> {
    let (name, days) = validate(limits, &input)?;
    let now = Utc::now();
    let transaction = db.begin().await?;
    let active = api_tokens::Entity::find()
        .filter(active_at(now))
        .count(&transaction)
        .await?;
    if active >= limits.max_active.get() as u64 {
        return Err(Error::Conflict(format!(
            "active API tokens: {active}, the most this server allows (LM_MAX_API_TOKENS); \
             revoke one first"
        )));
    }
    let secret = ApiTokenSecret::generate()?;
    let expires_at = now + chrono::Duration::days(days);
    let row = api_tokens::ActiveModel {
        name: Set(name),
        role: Set(input.role.to_string()),
        token_hash: Set(secret.hash()),
        created_by: Set(actor.subject.clone()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&transaction)
    .await?;
    let detail = json!({ "name": row.name, "role": row.role, "expiresAt": expires_at });
    audit::record(
        &transaction,
        actor,
        "api_token.create",
        &target(Some(row.id)),
        audit::SUCCEEDED,
        Some(detail),
    )
    .await?;
    transaction.commit().await?;
    Ok(CreatedApiToken {
        secret,
        token: ApiToken::try_from(row)?,
    })
}

/// Neither revoked nor expired at `now`.
fn active_at(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(api_tokens::Column::RevokedAt.is_null())
        .add(api_tokens::Column::ExpiresAt.gt(now))
}

/// Newest first, revoked and expired ones too; `before_id` continues a page.
pub async fn list(
    db: &DatabaseConnection,
    limit: u64,
    before_id: Option<i64>,
) -> Result<Vec<ApiToken>> {
    let mut query = api_tokens::Entity::find().order_by_desc(api_tokens::Column::Id);
    if let Some(id) = before_id {
        query = query.filter(api_tokens::Column::Id.lt(id));
    }
    query
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(ApiToken::try_from)
        .collect()
}

/// Revokes a token; revoking it again changes nothing and says so in the audit log.
pub async fn revoke(db: &DatabaseConnection, actor: &Actor, id: i64) -> Result<ApiToken> {
    let result = revoke_checked(db, actor, id).await;
    audit::on_failure(db, actor, "api_token.revoke", target(Some(id)), result).await
}

async fn revoke_checked(db: &DatabaseConnection, actor: &Actor, id: i64) -> Result<ApiToken> {
    let transaction = db.begin().await?;
    let written = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_tokens::Column::Id.eq(id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(&transaction)
        .await?;
    let row = api_tokens::Entity::find_by_id(id)
        .one(&transaction)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no API token with id {id}")))?;
    let detail = json!({ "name": row.name, "alreadyRevoked": written.rows_affected == 0 });
    audit::record(
        &transaction,
        actor,
        "api_token.revoke",
        &target(Some(id)),
        audit::SUCCEEDED,
        Some(detail),
    )
    .await?;
    transaction.commit().await?;
    ApiToken::try_from(row)
}

/// Why a presented API token was not accepted: the token's fault, or the database's.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Refused(#[from] AuthError),
    #[error(transparent)]
    Failed(#[from] Error),
}

/// A token that was accepted: its id, and the claims it acts with.
#[derive(Clone, Debug)]
pub struct Verified {
    pub id: i64,
    pub claims: Claims,
}

/// Whether the token is still neither revoked nor expired: what every operation on a websocket
/// opened with it asks first, as the websocket outlives the request that checked it.
pub async fn is_active(db: &DatabaseConnection, id: i64) -> Result<bool> {
    let active = api_tokens::Entity::find_by_id(id)
        .filter(active_at(Utc::now()))
        .count(db)
        .await?;
    Ok(active > 0)
}

/// Checks presented API tokens, and remembers when it last wrote each one's time of use.
#[derive(Debug)]
pub struct ApiTokenVerifier {
    max_lifetime: MaxTokenLifetime,
    touched: Mutex<HashMap<i64, Instant>>,
}

impl ApiTokenVerifier {
    pub fn new(max_lifetime: MaxTokenLifetime) -> Self {
        Self {
            max_lifetime,
            touched: Mutex::default(),
        }
    }

    /// The claims a valid token stands for. A revoked or expired one is refused as any bad
    /// token is; one that lives longer than this server's maximum too, as a JWT would be.
    pub async fn verify(
        &self,
        db: &DatabaseConnection,
        secret: &ApiTokenSecret,
    ) -> Result<Verified, VerifyError> {
        let row = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(secret.hash()))
            .one(db)
            .await
            .map_err(Error::from)?
            .ok_or(AuthError::Invalid("unknown API token"))?;
        let now = Utc::now();
        if row.revoked_at.is_some() {
            return Err(AuthError::Revoked.into());
        }
        if row.expires_at <= now {
            return Err(AuthError::Expired.into());
        }
        let lifetime = (row.expires_at - row.created_at).num_seconds();
        if lifetime > self.max_lifetime.seconds() {
            return Err(AuthError::LifetimeTooLong {
                max: self.max_lifetime,
            }
            .into());
        }
        let token = ApiToken::try_from(row)?;
        self.touch(db, token.id, now).await;
        Ok(Verified {
            id: token.id,
            claims: Claims {
                sub: subject(token.id),
                role: token.role,
                iat: token.created_at.timestamp(),
                exp: token.expires_at.timestamp(),
                // What its creator named it: `viewer { displayName }` tells scripts apart.
                name: Some(token.name.clone()),
            },
        })
    }

    /// Records the use, unless this process did within the last minute; the condition on the
    /// stored time keeps the replicas together to one write a minute too.
    async fn touch(&self, db: &DatabaseConnection, id: i64, now: DateTime<Utc>) {
        if !self.due(id) {
            return;
        }
        let stale = now - chrono::Duration::from_std(TOUCH_EVERY).unwrap_or_default();
        let written = api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
            .filter(api_tokens::Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(api_tokens::Column::LastUsedAt.is_null())
                    .add(api_tokens::Column::LastUsedAt.lt(stale)),
            )
            .exec(db)
            .await;
        // The request is authenticated either way: a missed time of use is not worth refusing it.
        if let Err(error) = written {
            tracing::warn!(error = ?error, token = id, "could not record an API token's use");
        }
    }

    fn due(&self, id: i64) -> bool {
        let mut touched = self
            .touched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if touched
            .get(&id)
            .is_some_and(|at| now.duration_since(*at) < TOUCH_EVERY)
        {
            return false;
        }
        if touched.len() >= TOUCHED_TRACKED {
            touched.retain(|_, at| now.duration_since(*at) < TOUCH_EVERY);
        }
        touched.insert(id, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_is_written_at_most_once_a_minute_per_token() {
        let verifier = ApiTokenVerifier::new(MaxTokenLifetime::DEFAULT);
        assert!(verifier.due(1));
        assert!(!verifier.due(1));
        assert!(verifier.due(2));
    }

    #[test]
    fn the_lifetime_defaults_to_90_days_within_the_servers_maximum() {
        let input = |days| NewApiToken {
            name: " ci ".into(),
            role: Role::Viewer,
            expires_in_days: days,
        };
        let limits = ApiTokenLimits::default();
        assert_eq!(validate(limits, &input(None)).ok(), Some(("ci".into(), 90)));
        assert_eq!(
            validate(limits, &input(Some(400))).ok(),
            Some(("ci".into(), 400))
        );
        assert!(validate(limits, &input(Some(401))).is_err());
        assert!(validate(limits, &input(Some(0))).is_err());
        let short = ApiTokenLimits {
            max_lifetime: "30d".parse().expect("a duration"),
            ..limits
        };
        assert_eq!(validate(short, &input(None)).ok(), Some(("ci".into(), 30)));
        let hours = ApiTokenLimits {
            max_lifetime: "12h".parse().expect("a duration"),
            ..limits
        };
        assert!(validate(hours, &input(None)).is_err());
    }
}
