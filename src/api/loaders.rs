//! Batch loaders: each turns the per-row lookups of one request into one SQL statement.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, Data};
use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;

use super::errors::graphql_error;
use crate::domain::licenses::{self, Assignment, LicenseSku, SkuKey, Subscription};
use crate::domain::providers::{self, Provider};
use crate::domain::sync_runs::{self, SyncRun};
use crate::domain::user_counts::UserCountCache;
use crate::domain::users::{self, User};
use crate::error::Error;

pub struct ProviderUserCounts {
    db: DatabaseConnection,
    cache: Arc<UserCountCache>,
}

impl Loader<i64> for ProviderUserCounts {
    type Value = i64;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, Self::Error> {
        self.cache.counts(&self.db, keys).await.map_err(Arc::new)
    }
}

pub struct LatestSyncRuns {
    db: DatabaseConnection,
}

impl LatestSyncRuns {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl Loader<i64> for LatestSyncRuns {
    type Value = SyncRun;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, SyncRun>, Self::Error> {
        sync_runs::latest_per_provider(&self.db, keys)
            .await
            .map_err(Arc::new)
    }
}

type Fetch<K, V> =
    for<'a> fn(&'a DatabaseConnection, &'a [K]) -> BoxFuture<'a, crate::Result<HashMap<K, V>>>;

/// A loader over one domain function that takes many keys and answers with one statement.
/// Each (key, value) pair of types is one loader in the request's data.
pub struct Batch<K, V> {
    db: DatabaseConnection,
    fetch: Fetch<K, V>,
}

impl<K, V> Loader<K> for Batch<K, V>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    type Value = V;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[K]) -> Result<HashMap<K, V>, Self::Error> {
        (self.fetch)(&self.db, keys).await.map_err(Arc::new)
    }
}

/// The loaders of one request. They cache (a request never outlives its data), so that a page
/// can prime them: `prime` answers later lookups without another statement. On a websocket
/// connection they cache nothing (see [`Lifetime`]), and priming would be wasted.
type Cached<K, V> = DataLoader<Batch<K, V>, HashMapCache>;

/// How long the loaders' data is used: one HTTP request, or a websocket connection, which
/// lives for hours and resolves a subscription's payload again at every event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    Request,
    /// The loaders still batch, but remember nothing: a value cached at one event (a SKU's
    /// seats, a provider's name) would be served again at every later one.
    Connection,
}

fn batch<K, V>(db: &DatabaseConnection, fetch: Fetch<K, V>, lifetime: Lifetime) -> Cached<K, V>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    let loader = Batch {
        db: db.clone(),
        fetch,
    };
    let loader = DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default());
    loader.enable_all_cache(lifetime == Lifetime::Request);
    loader
}

/// Adds one fresh loader of each kind to a request: providers, SKUs by id and by provider,
/// licenses by user, subscriptions by SKU, users by id; user counts go through the process's `counts`.
pub fn attach(
    data: &mut Data,
    db: &DatabaseConnection,
    counts: &Arc<UserCountCache>,
    lifetime: Lifetime,
) {
    let providers: Fetch<i64, Provider> = |db, ids| Box::pin(providers::by_ids(db, ids));
    let skus: Fetch<i64, LicenseSku> = |db, ids| Box::pin(licenses::skus_by_ids(db, ids));
    let skus_of_providers: Fetch<i64, Vec<LicenseSku>> =
        |db, ids| Box::pin(licenses::skus_of_providers(db, ids));
    let licenses: Fetch<i64, Vec<Assignment>> =
        |db, ids| Box::pin(licenses::assignments_of_users(db, ids));
    let users: Fetch<i64, User> = |db, ids| Box::pin(users::by_ids(db, ids));
    let subscriptions: Fetch<SkuKey, Vec<Subscription>> =
        |db, keys| Box::pin(licenses::subscriptions_of(db, keys));
    data.insert(DataLoader::new(
        ProviderUserCounts {
            db: db.clone(),
            cache: counts.clone(),
        },
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        LatestSyncRuns::new(db.clone()),
        tokio::spawn,
    ));
    data.insert(lifetime);
    data.insert(batch(db, providers, lifetime));
    data.insert(batch(db, skus, lifetime));
    data.insert(batch(db, skus_of_providers, lifetime));
    data.insert(batch(db, licenses, lifetime));
    data.insert(batch(db, subscriptions, lifetime));
    data.insert(batch(db, users, lifetime));
}

/// Loads one value through the request's loader for its types.
pub async fn load<K, V>(ctx: &Context<'_>, key: K) -> async_graphql::Result<Option<V>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    ctx.data::<Cached<K, V>>()?
        .load_one(key)
        .await
        .map_err(|error| graphql_error(&error))
}

/// Whether values handed to [`prime`] are used: only by loaders that cache.
pub fn primes(ctx: &Context<'_>) -> bool {
    ctx.data_opt::<Lifetime>() == Some(&Lifetime::Request)
}

/// Hands values already read (e.g. for a whole page) to the request's loader for their types.
pub async fn prime<K, V>(
    ctx: &Context<'_>,
    values: impl IntoIterator<Item = (K, V)>,
) -> async_graphql::Result<()>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    ctx.data::<Cached<K, V>>()?.feed_many(values).await;
    Ok(())
}
