//! The GraphQL schema. GraphQL types live here and only here; resolvers call `domain/`.

mod context;
mod cursor;
mod errors;
mod guard;
mod loaders;
mod mutation;
mod query;
mod subscription;
mod types;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Data, Schema};
use sea_orm::DatabaseConnection;

use crate::auth::Claims;
use crate::sync::worker::SyncEngine;

pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

pub type ApiSchema = Schema<Query, Mutation, Subscription>;

/// Deep enough for every query API.md describes, shallow enough to stop abusive nesting.
const MAX_DEPTH: usize = 12;
const MAX_COMPLEXITY: usize = 50_000;

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query, Mutation, Subscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

pub fn build_schema(engine: &SyncEngine) -> ApiSchema {
    builder()
        .data(engine.db.clone())
        .data(engine.keyring.clone())
        .data(engine.registry.clone())
        .data(engine.wake.clone())
        .finish()
}

/// The SDL checked in as `schema.graphql`; needs no database.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// What one request (or one websocket connection) needs: the caller's claims and fresh
/// DataLoaders, so that nothing cached for one caller is ever served to another.
pub fn request_data(claims: Claims, db: &DatabaseConnection) -> Data {
    let mut data = Data::default();
    data.insert(claims);
    data.insert(DataLoader::new(
        loaders::ProviderUserCounts::new(db.clone()),
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        loaders::LatestSyncRuns::new(db.clone()),
        tokio::spawn,
    ));
    data
}
