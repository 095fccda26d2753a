use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object, Result};

use super::context::{claims, database, row_id};
use super::cursor;
use super::errors::ResultExt;
use super::guard::RoleGuard;
use super::types::{AuditEvent, Provider, Viewer};
use crate::domain::{audit, providers};

const AUDIT_PAGE_DEFAULT: u64 = 50;
const AUDIT_PAGE_MAX: u64 = 500;

pub struct Query;

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

    /// One provider, or null when there is none with this id.
    async fn provider(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Provider>> {
        claims(ctx)?;
        let id = row_id("id", &id)?;
        Ok(providers::get(database(ctx)?, id)
            .await
            .api()?
            .map(Provider::from))
    }

    /// Who changed what, newest first. Admins only.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AuditEvent, EmptyFields, EmptyFields>> {
        let limit = cursor::page_size(first, AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX)?;
        let before_id = after
            .as_deref()
            .map(|after| cursor::decode::<i64>("after", after))
            .transpose()?;
        let mut events = audit::list(database(ctx)?, limit + 1, before_id)
            .await
            .api()?;
        let has_next = events.len() as u64 > limit;
        events.truncate(limit as usize);
        let mut connection = Connection::new(before_id.is_some(), has_next);
        connection.edges.extend(
            events
                .into_iter()
                .map(|event| Edge::new(cursor::encode(&event.id), AuditEvent::from(event))),
        );
        Ok(connection)
    }
}
