use async_graphql::{Context, Object, Result};
use sea_orm::DatabaseConnection;

use super::errors::{ResultExt, unauthenticated};
use super::types::{Provider, Viewer};
use crate::auth::Claims;
use crate::domain::providers;

pub struct Query;

/// The caller's claims; the HTTP layer attaches them, and an operation that arrives any other
/// way without them is refused.
pub(super) fn claims<'a>(ctx: &Context<'a>) -> Result<&'a Claims> {
    ctx.data_opt::<Claims>().ok_or_else(unauthenticated)
}

pub(super) fn database<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

#[Object(name = "Query")]
impl Query {
    /// Who is calling, as the bearer token says.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        Ok(Viewer::from(claims(ctx)?))
    }

    /// Every configured license provider (Microsoft 365 tenants), oldest first.
    async fn providers(&self, ctx: &Context<'_>) -> Result<Vec<Provider>> {
        claims(ctx)?;
        let providers = providers::list(database(ctx)?).await.api()?;
        Ok(providers.into_iter().map(Provider::from).collect())
    }
}
