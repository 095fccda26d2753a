//! Subscriptions over a websocket, graphql-transport-ws (or the older subscriptions-transport-ws),
//! with the limits of graphql-transport-ws: a socket that sends no `connection_init` in time is
//! closed with 4408, one whose token is refused or expires with 4403. async-graphql-axum's
//! `GraphQLWebSocket` runs the protocol but has no clock, so this loop, a copy of its `serve`,
//! adds one.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as Protocol, WebSocketProtocols, WsMessage,
};
use axum::extract::WebSocketUpgrade;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use chrono::Utc;
use futures::{SinkExt, StreamExt, future};
use serde_json::Value;
use tokio::time::Instant;

use super::AppState;
use super::MAX_REQUEST_BYTES;
use super::Timeout;
use sea_orm::DatabaseConnection;

use crate::auth::{Authenticator, Claims};
use crate::domain::api_tokens::{self, ApiTokenVerifier};

/// graphql-transport-ws: no `connection_init` within the allowed time.
const INIT_TIMEOUT: u16 = 4408;
/// graphql-transport-ws: the server refuses the connection; here, its token.
const FORBIDDEN: u16 = 4403;
/// What async-graphql closes with when `connection_init` fails.
const PROTOCOL_ERROR: u16 = 1002;
/// A close frame's reason must fit in a control frame (125 bytes, 2 of them the code).
const MAX_REASON_BYTES: usize = 123;

/// The first subprotocol the client offers that this server speaks.
pub fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    let offered = headers.get(header::SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    offered
        .split(',')
        .find_map(|protocol| protocol.trim().parse().ok())
}

pub fn upgrade(
    state: AppState,
    protocol: WebSocketProtocols,
    upgrade: WebSocketUpgrade,
) -> Response {
    // tungstenite's defaults (64 MiB messages, 16 MiB frames) would let a client that has not
    // even authenticated make the server buffer that much; a GraphQL message is never bigger
    // than an HTTP request may be.
    upgrade
        .max_message_size(MAX_REQUEST_BYTES)
        .max_frame_size(MAX_REQUEST_BYTES)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| session(socket, state, protocol))
}

/// What `connection_init` decided, for the loop that enforces it.
#[derive(Default)]
struct Admission {
    /// When the token expires, once one was accepted.
    expires: OnceLock<Instant>,
    /// The id of the API token accepted, if it was one.
    api_token: OnceLock<i64>,
    refused: AtomicBool,
}

impl Admission {
    fn admit(&self, claims: &Claims, api_token: Option<i64>) {
        if let Some(id) = api_token {
            let _ = self.api_token.set(id);
        }
        let left_ms = claims
            .exp
            .saturating_mul(1000)
            .saturating_sub(Utc::now().timestamp_millis());
        let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or_default());
        // Set once: async-graphql refuses a second `connection_init` before calling back.
        let _ = self.expires.set(Instant::now() + left);
    }

    fn refuse(&self) {
        self.refused.store(true, Ordering::Relaxed);
    }

    /// async-graphql closes a refused `connection_init` as a protocol error; graphql-transport-ws
    /// says 4403.
    fn close_code(&self, code: u16) -> u16 {
        if code == PROTOCOL_ERROR && self.refused.load(Ordering::Relaxed) {
            FORBIDDEN
        } else {
            code
        }
    }
}

async fn session(socket: WebSocket, state: AppState, protocol: WebSocketProtocols) {
    let AppState {
        db,
        auth,
        api_tokens,
        api,
        limits,
        ..
    } = state;
    let admission = Arc::new(Admission::default());
    let (mut sink, incoming) = socket.split();
    let incoming = incoming
        .take_while(|message| future::ready(message.is_ok()))
        .filter_map(|message| {
            future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        });
    let admitted = admission.clone();
    let connection_api = api.clone();
    let recheck_db = db.clone();
    // The token comes in the connection_init payload, as browsers cannot set headers on a
    // websocket.
    let messages = Protocol::new(api, incoming, protocol).on_connection_init(
        move |payload: Value| async move {
            match authorize(&auth, &api_tokens, &db, &payload).await {
                Ok((claims, api_token)) => {
                    admitted.admit(&claims, api_token);
                    Ok(connection_api.connection_data(claims, api_token, &db))
                }
                Err(error) => {
                    admitted.refuse();
                    Err(error)
                }
            }
        },
    );
    let mut messages = pin!(messages);
    let init_deadline = Instant::now() + limits.websocket_init_timeout.get();
    let recheck_every = limits.api_token_recheck.get();
    let mut recheck = Instant::now() + recheck_every;
    loop {
        let deadline = admission.expires.get().copied().unwrap_or(init_deadline);
        let api_token = admission.api_token.get().copied();
        let outgoing = tokio::select! {
            message = messages.next() => match message {
                Some(message) => to_frame(message, &admission),
                None => break,
            },
            () = tokio::time::sleep_until(deadline) => {
                let _ = sink.send(ran_out(&admission, limits.websocket_init_timeout)).await;
                break;
            }
            () = tokio::time::sleep_until(recheck), if api_token.is_some() => {
                recheck = Instant::now() + recheck_every;
                if still_active(&recheck_db, api_token).await {
                    continue;
                }
                let _ = sink.send(close(FORBIDDEN, "the API token has been revoked")).await;
                break;
            }
        };
        if sink.send(outgoing).await.is_err() {
            break;
        }
    }
}

/// Whether the socket's API token may go on; a database that does not answer is no reason to
/// close it (the next operation checks again).
async fn still_active(db: &DatabaseConnection, api_token: Option<i64>) -> bool {
    let Some(id) = api_token else {
        return true;
    };
    match api_tokens::is_active(db, id).await {
        Ok(active) => active,
        Err(error) => {
            tracing::warn!(error = ?error, token = id, "could not check a websocket's API token");
            true
        }
    }
}

async fn authorize(
    auth: &Authenticator,
    api_tokens: &ApiTokenVerifier,
    db: &DatabaseConnection,
    payload: &Value,
) -> async_graphql::Result<(Claims, Option<i64>)> {
    let authorization = ["Authorization", "authorization"]
        .iter()
        .find_map(|key| payload.get(*key).and_then(Value::as_str));
    super::graphql::verify(auth, api_tokens, db, authorization)
        .await
        .map_err(|error| async_graphql::Error::new(error.to_string()))
}

/// The close that ends a socket whose time is up: its token's, or the wait for connection_init.
fn ran_out(admission: &Admission, init_timeout: Timeout) -> Message {
    if admission.expires.get().is_some() {
        close(
            FORBIDDEN,
            "the token has expired; connect again with a new one",
        )
    } else {
        close(
            INIT_TIMEOUT,
            &format!("Connection initialisation timeout: no connection_init within {init_timeout}"),
        )
    }
}

fn to_frame(message: WsMessage, admission: &Admission) -> Message {
    match message {
        WsMessage::Text(text) => Message::Text(text.into()),
        WsMessage::Close(code, reason) => close(admission.close_code(code), &reason),
    }
}

fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_reason_is_cut_to_fit_a_control_frame_on_a_character_boundary() {
        let reason = "é".repeat(100);
        let Message::Close(Some(frame)) = close(FORBIDDEN, &reason) else {
            panic!("a close frame");
        };
        assert_eq!(frame.code, FORBIDDEN);
        assert_eq!(frame.reason.as_str(), "é".repeat(61));
    }
}
