//! What every operation sent over a websocket is held to. graphql-transport-ws carries queries
//! and mutations as well as subscriptions, and each runs alongside the others on its socket:
//! without a cap a client could start thousands at once, and without a budget a query would run
//! for as long as over HTTP it may not.

use std::future;
use std::time::Duration;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{ErrorExtensions, Request, Response};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::codes::Code;

/// A query or mutation over a websocket that ran past its time budget.
#[derive(Debug, thiserror::Error)]
#[error(
    "the operation ran longer than {} (LM_REQUEST_TIMEOUT) and was cancelled: ask for less at \
     once, e.g. smaller pages. A mutation may have taken effect before it was stopped",
    humantime::format_duration(*budget)
)]
struct Overran {
    budget: Duration,
}

impl ErrorExtensions for Overran {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string())
            .extend_with(|_, extensions| extensions.set("code", Code::Timeout.as_str()))
    }
}

/// A response that carries only `error`, for an operation that did not run to its end.
pub(super) fn refusal(error: &impl ErrorExtensions) -> Response {
    Response::from_errors(vec![error.extend().into_server_error(Default::default())])
}

/// Whether the operation that would run is a subscription, which lives as long as its client
/// wants. A document that does not parse is not: async-graphql answers it at once.
pub(super) fn is_subscription(request: &mut Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    let subscription = |ty: OperationType| ty == OperationType::Subscription;
    match (&document.operations, name.as_deref()) {
        (DocumentOperations::Single(operation), _) => subscription(operation.node.ty),
        (DocumentOperations::Multiple(named), Some(name)) => named
            .get(name)
            .is_some_and(|operation| subscription(operation.node.ty)),
        // A named operation is kept among `Multiple` even when it is the only one, and
        // async-graphql runs it without `operationName` (as browsers' clients send it);
        // several operations with none named it refuses.
        (DocumentOperations::Multiple(named), None) => {
            named.len() == 1
                && named
                    .values()
                    .all(|operation| subscription(operation.node.ty))
        }
    }
}

/// The one response of a query or mutation, or TIMEOUT once `budget` is spent: dropping the
/// operation cancels it where it stands, as over HTTP.
pub(super) fn within(
    budget: Duration,
    mut responses: BoxStream<'static, Response>,
) -> BoxStream<'static, Response> {
    let first = async move {
        tokio::time::timeout(budget, responses.next())
            .await
            .unwrap_or_else(|_| Some(refusal(&Overran { budget })))
    };
    futures::stream::once(first)
        .filter_map(future::ready)
        .boxed()
}
