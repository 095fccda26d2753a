//! The GraphQL schema. GraphQL types live here and only here; resolvers call `domain/`.

mod context;
mod cursor;
mod errors;
mod guard;
mod limits;
mod loaders;
mod mutation;
mod query;
mod subscription;
mod types;

use std::sync::Arc;

use async_graphql::{Data, Executor, Request, Response, Schema};
use futures::StreamExt;
use futures::stream::BoxStream;
use sea_orm::DatabaseConnection;

use crate::auth::Claims;
use crate::config::SubscriptionLimits;
use crate::domain::report_cache::ReportCache;
use crate::domain::user_counts::UserCountCache;
use crate::sync::events::RunFeed;
use crate::sync::worker::SyncEngine;
use loaders::Lifetime;

pub use mutation::Mutation;
pub use query::Query;
use subscription::SubscriptionSlots;
pub use subscription::{Subscription, SubscriptionRefused};

pub type ApiSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query, Mutation, Subscription)
        .limit_depth(limits::MAX_DEPTH)
        .limit_complexity(limits::MAX_COMPLEXITY)
    // No `.extension(…)` or custom directive: each would cost every resolved field a detour, and
    // `limits::name_refusals` relies on errors without a path being the request's own.
}

/// The schema as the HTTP and websocket handlers run it: every response leaves with the
/// refusals of its document named (see [`limits::name_refusals`]).
#[derive(Clone)]
pub struct Api {
    schema: ApiSchema,
    /// Shared by every request: counts are the same for every caller.
    user_counts: Arc<UserCountCache>,
    subscriptions: SubscriptionSlots,
}

impl Api {
    /// What one HTTP request needs: the caller's claims and fresh DataLoaders, so that nothing
    /// a loader cached for one caller is served to another.
    pub fn request_data(&self, claims: Claims, db: &DatabaseConnection) -> Data {
        self.data(claims, db, Lifetime::Request)
    }

    /// What one websocket connection needs: as for a request, with loaders that cache nothing,
    /// and the connection's count of subscriptions.
    pub fn connection_data(&self, claims: Claims, db: &DatabaseConnection) -> Data {
        let mut data = self.data(claims, db, Lifetime::Connection);
        data.insert(self.subscriptions.for_socket());
        data
    }

    fn data(&self, claims: Claims, db: &DatabaseConnection, lifetime: Lifetime) -> Data {
        let mut data = Data::default();
        data.insert(claims);
        loaders::attach(&mut data, db, &self.user_counts, lifetime);
        data
    }
}

impl Executor for Api {
    async fn execute(&self, request: Request) -> Response {
        limits::name_refusals(self.schema.execute(request).await)
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        Executor::execute_stream(&self.schema, request, session_data)
            .map(limits::name_refusals)
            .boxed()
    }
}

pub fn build_api(
    engine: &SyncEngine,
    feed: Arc<RunFeed>,
    subscriptions: SubscriptionLimits,
) -> Api {
    let schema = builder()
        .data(engine.db.clone())
        .data(engine.keyring.clone())
        .data(engine.registry.clone())
        .data(engine.wake.clone())
        .data(engine.events.clone())
        .data(feed)
        .data(ReportCache::default())
        .finish();
    Api {
        schema,
        user_counts: Arc::default(),
        subscriptions: SubscriptionSlots::new(subscriptions),
    }
}

/// The schema with no data attached: enough to print or validate, not to resolve.
pub fn bare_schema() -> ApiSchema {
    builder().finish()
}

/// The SDL checked in as `schema.graphql`; needs no database.
pub fn sdl() -> String {
    bare_schema().sdl()
}
