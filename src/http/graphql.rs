use async_graphql::Executor;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::{FromRequest, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::app::AppState;
use crate::auth::{AuthError, Claims};

/// Authenticates first, so that an anonymous caller learns nothing, not even whether its
/// document parses; then runs the operation with the caller's claims attached.
pub async fn execute(State(state): State<AppState>, request: Request) -> Response {
    let claims = match authenticate(&state, request.headers()) {
        Ok(claims) => claims,
        Err(error) => return unauthenticated(&error),
    };
    let graphql_request =
        match <GraphQLRequest as FromRequest<AppState>>::from_request(request, &state).await {
            Ok(graphql_request) => graphql_request.into_inner(),
            Err(rejection) => return super::errors::unreadable_request(&rejection.0),
        };
    let mut graphql_request = graphql_request;
    graphql_request.data = state.api.request_data(claims, &state.db);
    GraphQLResponse::from(state.api.execute(graphql_request).await).into_response()
}

/// The bearer-token check of every authenticated route.
pub(super) fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Claims, AuthError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default());
    state.jwt.verify_header(authorization)
}

/// The 401 every authenticated route answers without a valid token.
pub(super) fn unauthenticated(error: &AuthError) -> Response {
    let refusal = super::errors::error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        &error.to_string(),
    );
    ([(header::WWW_AUTHENTICATE, "Bearer")], refusal).into_response()
}

/// `GET /graphql`: a websocket upgrade (graphql-transport-ws, for subscriptions) or GraphiQL.
pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    let upgrade_requested = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !upgrade_requested {
        return super::graphiql::page().into_response();
    }
    let (mut parts, _body) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let AppState { db, jwt, api, .. } = state;
            let request_api = api.clone();
            GraphQLWebSocket::new(socket, api, protocol)
                // The token comes in the connection_init payload, as browsers cannot set
                // headers on a websocket; a connection without a valid one is closed.
                .on_connection_init(move |payload: Value| async move {
                    let authorization = ["Authorization", "authorization"]
                        .iter()
                        .find_map(|key| payload.get(*key).and_then(Value::as_str));
                    let claims = jwt
                        .verify_header(authorization)
                        .map_err(|error| async_graphql::Error::new(error.to_string()))?;
                    Ok(request_api.connection_data(claims, &db))
                })
                .serve()
        })
}
