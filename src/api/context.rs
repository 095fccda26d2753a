//! What resolvers read from the request context, each with the error a caller should see when
//! it is missing or malformed.

use std::sync::Arc;

use async_graphql::{Context, ID, Result};
use sea_orm::DatabaseConnection;

use super::errors::{bad_user_input, unauthenticated};
use crate::auth::Claims;
use crate::crypto::SecretKeyring;
use crate::domain::api_tokens::ApiTokenLimits;
use crate::domain::audit::Actor;
use crate::domain::providers::ProviderRegistry;
use crate::domain::reclaim_plans::ReclaimSettings;
use crate::domain::renewals::RenewalSettings;
use crate::domain::report_cache::ReportCache;
use crate::domain::run_feed::RunFeed;
use crate::sync::events::RunEvents;

/// The caller's claims; the HTTP layer attaches them, and an operation that arrives any other
/// way without them is refused.
pub fn claims<'a>(ctx: &Context<'a>) -> Result<&'a Claims> {
    let claims = ctx.data_opt::<Claims>().ok_or_else(unauthenticated)?;
    // A websocket lives longer than the token it opened with: check the expiry on every
    // operation, not only at connection_init.
    if claims.exp <= chrono::Utc::now().timestamp() {
        return Err(unauthenticated());
    }
    Ok(claims)
}

pub fn actor(ctx: &Context<'_>) -> Result<Actor> {
    let claims = claims(ctx)?;
    Ok(Actor {
        subject: claims.sub.clone(),
        role: claims.role.to_string(),
    })
}

pub fn database<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

/// The reports this process has built, shared by every request it serves.
pub fn report_cache<'a>(ctx: &Context<'a>) -> Result<&'a ReportCache> {
    Ok(ctx.data::<Arc<ReportCache>>()?.as_ref())
}

/// What API tokens the server lets an admin create.
pub fn api_token_limits(ctx: &Context<'_>) -> Result<ApiTokenLimits> {
    Ok(*ctx.data::<ApiTokenLimits>()?)
}

pub fn reclaim_settings(ctx: &Context<'_>) -> Result<ReclaimSettings> {
    Ok(*ctx.data::<ReclaimSettings>()?)
}

pub fn renewal_settings(ctx: &Context<'_>) -> Result<RenewalSettings> {
    Ok(*ctx.data::<RenewalSettings>()?)
}

pub fn keyring<'a>(ctx: &Context<'a>) -> Result<&'a SecretKeyring> {
    Ok(ctx.data::<Arc<SecretKeyring>>()?.as_ref())
}

pub fn registry<'a>(ctx: &Context<'a>) -> Result<&'a ProviderRegistry> {
    Ok(ctx.data::<Arc<ProviderRegistry>>()?.as_ref())
}

/// Where the API announces the runs it changes (started, cancelled).
pub fn run_events<'a>(ctx: &Context<'a>) -> Result<&'a RunEvents> {
    ctx.data::<RunEvents>()
}

/// The runs this process's subscriptions follow.
pub fn run_feed<'a>(ctx: &Context<'a>) -> Result<&'a RunFeed> {
    Ok(ctx.data::<Arc<RunFeed>>()?.as_ref())
}

/// Wakes this process's sync workers, so a queued run starts at once.
pub fn wake_workers(ctx: &Context<'_>) {
    if let Ok(wake) = ctx.data::<Arc<tokio::sync::Notify>>() {
        wake.notify_one();
    }
}

/// Row ids travel as GraphQL `ID`s; anything but a positive integer is the caller's mistake.
/// An optional id argument (a filter), parsed like [`row_id`].
pub fn optional_row_id(field: &'static str, id: Option<&ID>) -> Result<Option<i64>> {
    id.map(|id| row_id(field, id)).transpose()
}

pub fn row_id(field: &'static str, id: &ID) -> Result<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| bad_user_input(field, "is not an id this API returned"))
}
