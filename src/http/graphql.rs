use async_graphql::Executor;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::Timeout;
use sea_orm::DatabaseConnection;

use crate::auth::{AuthError, Claims, Credential, JwtKeys};
use crate::codes::Code;
use crate::domain::api_tokens::{ApiTokenVerifier, VerifyError};

/// Authenticates first, so that an anonymous caller learns nothing, not even whether its
/// document parses; then runs the operation with the caller's claims attached, within the
/// request's time budget. The budget covers reading the body too, so a body trickled in byte by
/// byte holds a connection no longer than a slow query does.
pub async fn execute(State(state): State<AppState>, request: Request) -> Response {
    let claims = match authenticate(&state, request.headers()).await {
        Ok(claims) => claims,
        Err(refusal) => return refusal,
    };
    let budget = state.limits.request_timeout;
    // Dropping the operation cancels it where it stands: a statement in flight is abandoned and
    // an open transaction rolls back.
    match tokio::time::timeout(budget.get(), run(state, claims, request)).await {
        Ok(response) => response,
        Err(_) => overran(&Overran { budget }),
    }
}

async fn run(state: AppState, claims: Claims, request: Request) -> Response {
    let graphql_request =
        match <GraphQLRequest as FromRequest<AppState>>::from_request(request, &state).await {
            Ok(graphql_request) => graphql_request.into_inner(),
            Err(rejection) => return super::errors::unreadable_request(&rejection.0),
        };
    let mut graphql_request = graphql_request;
    graphql_request.data = state.api.request_data(claims, &state.db);
    GraphQLResponse::from(state.api.execute(graphql_request).await).into_response()
}

/// A GraphQL request that ran past its time budget.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request ran longer than {budget} (LM_REQUEST_TIMEOUT) and was cancelled: ask for less \
     at once, e.g. smaller pages. A mutation may have taken effect before it was stopped"
)]
struct Overran {
    budget: Timeout,
}

/// Answered as GraphQL answers an error met while executing: 200, no data, a coded error.
fn overran(error: &Overran) -> Response {
    tracing::warn!(budget = %error.budget, "a GraphQL request ran out of time and was cancelled");
    let body = json!({
        "data": null,
        "errors": [{ "message": error.to_string(), "extensions": { "code": Code::Timeout.as_str() } }],
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// The bearer-token check of every authenticated route: the claims, or the response that
/// refuses the request.
pub(super) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Claims, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default());
    verify(&state.jwt, &state.api_tokens, &state.db, authorization)
        .await
        .map(|(claims, _)| claims)
        .map_err(|refusal| match refusal {
            VerifyError::Refused(error) => unauthenticated(&error),
            VerifyError::Failed(error) => cannot_verify(&error),
        })
}

/// Checks `Authorization: Bearer …`, as a header or as the websocket's `connection_init` carries
/// it: a JWT against the signing key, an API token against the database. With the claims, the
/// API token's id, if it was one.
pub(super) async fn verify(
    jwt: &JwtKeys,
    api_tokens: &ApiTokenVerifier,
    db: &DatabaseConnection,
    authorization: Option<&str>,
) -> Result<(Claims, Option<i64>), VerifyError> {
    match Credential::from_header(authorization)? {
        Credential::Jwt(token) => Ok((jwt.verify(token)?, None)),
        Credential::ApiToken(secret) => {
            let verified = api_tokens.verify(db, &secret).await?;
            Ok((verified.claims, Some(verified.id)))
        }
    }
}

/// An API token that could not be looked up: the database failed, not the caller.
fn cannot_verify(error: &crate::Error) -> Response {
    tracing::error!(error = ?error, "could not look up an API token");
    super::errors::error(
        StatusCode::SERVICE_UNAVAILABLE,
        Code::Unavailable,
        "the token could not be checked now; try again",
    )
}

/// The 401 every authenticated route answers without a valid token.
fn unauthenticated(error: &AuthError) -> Response {
    let refusal = super::errors::error(
        StatusCode::UNAUTHORIZED,
        Code::Unauthenticated,
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
    let Some(protocol) = super::websocket::protocol(&parts.headers) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    super::websocket::upgrade(state, protocol, upgrade)
}
