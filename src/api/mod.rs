//! The GraphQL schema. GraphQL types live here and only here; resolvers call `domain/`.

mod context;
mod cursor;
mod errors;
mod guard;
mod limits;
mod loaders;
mod mutation;
mod query;
mod types;

use std::sync::Arc;

use async_graphql::{EmptySubscription, Schema};
use sea_orm::DatabaseConnection;

use crate::auth::Claims;
use crate::crypto::SecretKeyring;

pub use mutation::Mutation;
pub use query::Query;

pub type ApiSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
        .limit_depth(limits::MAX_DEPTH)
        .limit_complexity(limits::MAX_COMPLEXITY)
        .extension(limits::NamedLimits)
}

pub fn build_schema(db: DatabaseConnection, keyring: Arc<SecretKeyring>) -> ApiSchema {
    builder().data(db).data(keyring).finish()
}

/// The SDL checked in as `schema.graphql`; needs no database.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// Attaches what one request needs: the caller's claims and fresh DataLoaders, so that nothing
/// cached for one caller is ever served to another.
pub fn with_request_data(
    request: async_graphql::Request,
    claims: Claims,
    db: &DatabaseConnection,
) -> async_graphql::Request {
    loaders::attach(request.data(claims), db)
}
