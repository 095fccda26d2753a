//! The GraphQL schema. GraphQL types live here and only here; resolvers call `domain/`.

mod context;
mod cursor;
mod errors;
mod guard;
mod limits;
mod loaders;
mod mutation;
mod query;
mod shape;
mod subscription;
mod types;

use std::sync::Arc;

use async_graphql::{Data, Executor, Request, Response, Schema};
use futures::StreamExt;
use futures::stream::BoxStream;
use sea_orm::DatabaseConnection;

use crate::auth::Claims;
use crate::domain::report_cache::ReportCache;
use crate::domain::user_counts::UserCountCache;
use crate::sync::worker::SyncEngine;
use loaders::Lifetime;

pub use errors::error_json;
pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

pub type ApiSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    // Depth (without introspection's `ofType` chains, which async-graphql's `limit_depth` would
    // count), root fields and connection tests are limited by `limits::refuse_before_running`.
    Schema::build(Query, Mutation, Subscription).limit_complexity(limits::MAX_COMPLEXITY)
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
}

impl Api {
    /// What one HTTP request needs: the caller's claims and fresh DataLoaders, so that nothing
    /// a loader cached for one caller is served to another.
    pub fn request_data(&self, claims: Claims, db: &DatabaseConnection) -> Data {
        self.data(claims, db, Lifetime::Request)
    }

    /// What one websocket connection needs: as for a request, with loaders that cache nothing.
    pub fn connection_data(&self, claims: Claims, db: &DatabaseConnection) -> Data {
        self.data(claims, db, Lifetime::Connection)
    }

    fn data(&self, claims: Claims, db: &DatabaseConnection, lifetime: Lifetime) -> Data {
        let mut data = Data::default();
        data.insert(claims);
        loaders::attach(&mut data, db, &self.user_counts, lifetime);
        data
    }
}

impl Executor for Api {
    async fn execute(&self, mut request: Request) -> Response {
        let response = match limits::refuse_before_running(&mut request) {
            Some(refusal) => refusal,
            None => self.schema.execute(request).await,
        };
        limits::name_refusals(response)
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let responses = match limits::refuse_before_running(&mut request) {
            Some(refusal) => futures::stream::once(async { refusal }).boxed(),
            None => Executor::execute_stream(&self.schema, request, session_data),
        };
        responses.map(limits::name_refusals).boxed()
    }
}

pub fn build_api(engine: &SyncEngine) -> Api {
    let schema = builder()
        .data(engine.db.clone())
        .data(engine.keyring.clone())
        .data(engine.registry.clone())
        .data(engine.wake.clone())
        .data(ReportCache::default())
        .finish();
    Api {
        schema,
        user_counts: Arc::default(),
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
