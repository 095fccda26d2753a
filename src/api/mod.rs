//! The GraphQL schema. GraphQL types live here and only here; resolvers call `domain/`.

mod context;
mod cursor;
mod documents;
mod errors;
mod guard;
mod limits;
mod loaders;
mod mutation;
mod query;
mod shape;
mod socket;
mod subscription;
mod types;

use std::any::TypeId;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Data, Executor, Request, Response, Schema};
use futures::StreamExt;
use futures::stream::BoxStream;
use sea_orm::DatabaseConnection;

use tokio::sync::Notify;

use crate::auth::Claims;
use crate::crypto::SecretKeyring;
use crate::domain::api_tokens::{self, ApiTokenLimits};
use crate::domain::providers::ProviderRegistry;
use crate::domain::reclaim_plans::ReclaimSettings;
use crate::domain::renewals::RenewalSettings;
use crate::domain::report_cache::ReportCache;
use crate::domain::reports::Report;
use crate::domain::run_feed::RunFeed;
use crate::domain::user_counts::UserCountCache;
use crate::sync::events::RunEvents;
use loaders::Lifetime;

pub use documents::DocumentCache;
pub use errors::error_json;
pub use limits::is_refusal;
pub use mutation::Mutation;
pub use query::Query;
use subscription::{SocketSlots, SubscriptionSlots};
pub use subscription::{Subscription, SubscriptionLimits, SubscriptionRefused};

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
    subscriptions: SubscriptionSlots,
    /// How long a query or mutation over a websocket may run.
    operation_budget: Duration,
    /// The schema's own, shared with the exports so that a download and the page it was
    /// started from show the same built report.
    reports: Arc<ReportCache>,
    registry: Arc<ProviderRegistry>,
    /// For the check of a websocket's API token before each of its operations.
    db: DatabaseConnection,
    documents: Arc<DocumentCache>,
}

impl Api {
    /// What one HTTP request needs: the caller's claims and fresh DataLoaders, so that nothing
    /// a loader cached for one caller is served to another.
    pub fn request_data(&self, claims: Claims, db: &DatabaseConnection) -> Data {
        self.data(claims, db, Lifetime::Request)
    }

    /// What one websocket connection needs: as for a request, with loaders that cache nothing,
    /// and the connection's count of operations. `api_token`: the id of the API token it was
    /// opened with, which each of its operations checks again.
    pub fn connection_data(
        &self,
        claims: Claims,
        api_token: Option<i64>,
        db: &DatabaseConnection,
    ) -> Data {
        let mut data = self.data(claims, db, Lifetime::Connection);
        data.insert(self.subscriptions.for_socket());
        if let Some(id) = api_token {
            data.insert(SocketApiToken(id));
        }
        data
    }

    /// The license report as `licenseReport` serves it: cached, or built now.
    pub async fn license_report(
        &self,
        db: &DatabaseConnection,
        provider_id: Option<i64>,
        inactive_days: i64,
    ) -> crate::Result<Arc<Report>> {
        self.reports
            .report(db, &self.registry, provider_id, inactive_days)
            .await
    }

    fn data(&self, claims: Claims, db: &DatabaseConnection, lifetime: Lifetime) -> Data {
        let mut data = Data::default();
        data.insert(claims);
        loaders::attach(&mut data, db, &self.user_counts, lifetime);
        data
    }
}

/// The id of the API token a websocket was opened with.
struct SocketApiToken(i64);

impl Api {
    /// Runs a websocket's operation once its API token is found still active: a revocation
    /// holds for the next operation of a socket opened before it, as for the next request.
    fn unless_revoked(
        &self,
        id: i64,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let schema = self.schema.clone();
        let db = self.db.clone();
        futures::stream::once(async move {
            match api_tokens::is_active(&db, id).await {
                Ok(true) => Executor::execute_stream(&schema, request, session_data),
                Ok(false) => once(socket::refusal(&errors::unauthenticated())),
                Err(error) => once(socket::refusal(&errors::graphql_error(&error))),
            }
        })
        .flatten()
        .boxed()
    }
}

impl Executor for Api {
    async fn execute(&self, mut request: Request) -> Response {
        request.data.insert(guard::RefusalRecorded::default());
        self.documents.prepare(&mut request);
        let response = match limits::refuse_before_running(&mut request) {
            Some(refusal) => refusal,
            None => self.schema.execute(request).await,
        };
        limits::name_refusals(response)
    }

    /// Every operation of a websocket, whatever its type, holds a place under the caps of
    /// subscriptions while it runs; a query or mutation also keeps to the time budget of one
    /// sent over HTTP.
    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        request.data.insert(guard::RefusalRecorded::default());
        self.documents.prepare(&mut request);
        if let Some(refusal) = limits::refuse_before_running(&mut request) {
            return once(limits::name_refusals(refusal));
        }
        let slots = session_data
            .as_ref()
            .and_then(|data| data.get(&TypeId::of::<SocketSlots>()))
            .and_then(|slots| slots.downcast_ref::<SocketSlots>());
        let slot = match slots.map(SocketSlots::take) {
            Some(Ok(slot)) => Some(slot),
            Some(Err(refused)) => return once(socket::refusal(&refused)),
            // Not a websocket's operation: HTTP refuses subscriptions and has its own budget.
            None => None,
        };
        let subscription = socket::is_subscription(&mut request);
        let api_token = session_data
            .as_ref()
            .and_then(|data| data.get(&TypeId::of::<SocketApiToken>()))
            .and_then(|token| token.downcast_ref::<SocketApiToken>())
            .map(|token| token.0);
        let mut responses = match api_token {
            Some(id) => self.unless_revoked(id, request, session_data),
            None => Executor::execute_stream(&self.schema, request, session_data),
        };
        if !subscription {
            responses = socket::within(self.operation_budget, responses);
        }
        responses
            .map(move |response| {
                // The stream owns the operation's place until async-graphql drops it: when it
                // ends, the client completes it, or the socket closes.
                let _held = &slot;
                limits::name_refusals(response)
            })
            .boxed()
    }
}

/// What resolvers reach besides the caller: the database, the keys of sealed secrets, the kinds
/// of provider, a way to wake this process's workers when a mutation queues a run, where runs'
/// changes are announced and the feed subscriptions follow them by. The application hands them
/// over; the API never sees the jobs that share them.
pub struct Services {
    pub db: DatabaseConnection,
    pub keyring: Arc<SecretKeyring>,
    pub registry: Arc<ProviderRegistry>,
    pub wake_workers: Arc<Notify>,
    pub run_events: RunEvents,
    pub run_feed: Arc<RunFeed>,
    pub api_tokens: ApiTokenLimits,
    pub reclaim: ReclaimSettings,
    pub renewals: RenewalSettings,
}

/// `operation_budget` bounds a query or mutation sent over a websocket, as the HTTP layer
/// bounds one sent over HTTP; `documents` keeps parsed documents for both.
pub fn build_api(
    services: Services,
    subscriptions: SubscriptionLimits,
    operation_budget: Duration,
    documents: DocumentCache,
) -> Api {
    let reports = Arc::new(ReportCache::default());
    let registry = services.registry;
    let db = services.db.clone();
    let schema = builder()
        .data(services.db)
        .data(services.keyring)
        .data(registry.clone())
        .data(services.wake_workers)
        .data(services.run_events)
        .data(services.run_feed)
        .data(services.api_tokens)
        .data(services.reclaim)
        .data(services.renewals)
        .data(reports.clone())
        .finish();
    Api {
        schema,
        db,
        reports,
        registry,
        user_counts: Arc::default(),
        subscriptions: SubscriptionSlots::new(subscriptions),
        operation_budget,
        documents: Arc::new(documents),
    }
}

fn once(response: Response) -> BoxStream<'static, Response> {
    futures::stream::once(async { response }).boxed()
}

/// The schema with no data attached: enough to print or validate, not to resolve.
pub fn bare_schema() -> ApiSchema {
    builder().finish()
}

/// The SDL checked in as `schema.graphql`; needs no database.
pub fn sdl() -> String {
    bare_schema().sdl()
}
