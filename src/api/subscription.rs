use std::num::NonZeroUsize;
use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, ID, Result, Subscription as GraphQLSubscription};
use futures::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::context::{claims, database, row_id, run_events, run_feed};
use super::errors::{ResultExt, graphql_error};
use super::types::{ReclaimPlan, SyncRun};
use crate::codes::Code;
use crate::domain::reclaim_execution;
use crate::error::Error;

pub struct Subscription;

#[GraphQLSubscription(name = "Subscription")]
impl Subscription {
    /// The run now, then again each time its progress or status changes, until it ends.
    async fn sync_run_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = Result<SyncRun>> + use<>> {
        claims(ctx)?;
        let id = row_id("id", &id)?;
        // Changes are pushed by whoever writes them (see `crate::sync::events`): the stream
        // waits without reading the database.
        let Some(updates) = run_feed(ctx)?.follow(id).await.api()? else {
            return Err(graphql_error(&Error::NotFound(format!(
                "no sync run with id {id}"
            ))));
        };
        // Its place under the caps is held by the operation (see `Api::execute_stream`).
        Ok(updates.map(|run| Ok(SyncRun::from(run))))
    }

    /// The reclaim plan now, then again as its execution moves (a few times a second at
    /// most), until the execution ends; at once for a plan executed or cancelled.
    async fn reclaim_plan_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = Result<ReclaimPlan>> + use<>> {
        claims(ctx)?;
        let id = row_id("id", &id)?;
        let db = database(ctx)?.clone();
        // Listening first, so that no change between the read below and the first wait is lost.
        let signals = run_events(ctx)?.subscribe();
        let Some(first) = reclaim_execution::state(&db, id).await.api()? else {
            return Err(graphql_error(&Error::NotFound(format!(
                "no reclaim plan with id {id}"
            ))));
        };
        Ok(reclaim_execution::follow(db, signals, first)
            .map(|(plan, _)| Ok(ReclaimPlan::from(plan))))
    }
}

/// Why an operation over a websocket (a subscription, or a query or mutation sent over it) was
/// refused: one websocket, or the whole process, runs as many as it may.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionRefused {
    #[error(
        "this websocket already runs {max} operations (subscriptions, and queries or mutations \
         in flight), the most one may (LM_MAX_SUBSCRIPTIONS_PER_SOCKET); complete one first"
    )]
    Socket { max: usize },
    #[error(
        "the server already runs {max} operations over websockets, the most it may \
         (LM_MAX_SUBSCRIPTIONS); try again later"
    )]
    Server { max: usize },
}

impl SubscriptionRefused {
    /// Names the limit as the depth and complexity refusals do, for a client that tells them
    /// apart.
    fn limit(&self) -> (&'static str, usize) {
        match self {
            SubscriptionRefused::Socket { max } => ("maxSubscriptionsPerSocket", *max),
            SubscriptionRefused::Server { max } => ("maxSubscriptions", *max),
        }
    }
}

impl ErrorExtensions for SubscriptionRefused {
    fn extend(&self) -> async_graphql::Error {
        let (limit, max) = self.limit();
        async_graphql::Error::new(self.to_string()).extend_with(|_, extensions| {
            extensions.set("code", Code::TooManySubscriptions.as_str());
            extensions.set("limit", limit);
            extensions.set("max", max as u64);
        })
    }
}

/// The process's count of open subscriptions, and the size of each websocket's.
#[derive(Clone)]
pub(super) struct SubscriptionSlots {
    limits: SubscriptionLimits,
    total: Arc<Semaphore>,
}

impl SubscriptionSlots {
    pub(super) fn new(limits: SubscriptionLimits) -> Self {
        Self {
            limits,
            total: Arc::new(Semaphore::new(
                limits.total.get().min(Semaphore::MAX_PERMITS),
            )),
        }
    }

    /// The count of one new websocket, which its connection data carries.
    pub(super) fn for_socket(&self) -> SocketSlots {
        SocketSlots {
            socket: Arc::new(Semaphore::new(
                self.limits.per_socket.get().min(Semaphore::MAX_PERMITS),
            )),
            process: self.clone(),
        }
    }
}

pub(super) struct SocketSlots {
    socket: Arc<Semaphore>,
    process: SubscriptionSlots,
}

impl SocketSlots {
    /// A place for one more operation, held by its stream: async-graphql drops the stream when
    /// the client completes it, it ends or the socket closes.
    pub(super) fn take(&self) -> Result<Slot, SubscriptionRefused> {
        let limits = self.process.limits;
        let socket =
            self.socket
                .clone()
                .try_acquire_owned()
                .map_err(|_| SubscriptionRefused::Socket {
                    max: limits.per_socket.get(),
                })?;
        let total = self
            .process
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| SubscriptionRefused::Server {
                max: limits.total.get(),
            })?;
        Ok(Slot {
            _socket: socket,
            _total: total,
        })
    }
}

pub(super) struct Slot {
    _socket: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

/// How many operations (`syncRunUpdated` streams, and queries or mutations in flight) websockets
/// may run at once.
#[derive(Clone, Copy, Debug)]
pub struct SubscriptionLimits {
    pub per_socket: NonZeroUsize,
    pub total: NonZeroUsize,
}

impl SubscriptionLimits {
    /// A dashboard follows the runs of its providers: a few, or a few dozen.
    pub const PER_SOCKET: NonZeroUsize = nonzero(100);
    /// A subscription costs a channel and no polling, so the cap guards memory, not the
    /// database.
    pub const TOTAL: NonZeroUsize = nonzero(10_000);
}

impl Default for SubscriptionLimits {
    fn default() -> Self {
        Self {
            per_socket: Self::PER_SOCKET,
            total: Self::TOTAL,
        }
    }
}

const fn nonzero(count: usize) -> NonZeroUsize {
    match NonZeroUsize::new(count) {
        Some(count) => count,
        None => panic!("a limit of zero"),
    }
}
