use async_graphql::Executor;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::AppState;
use super::Timeout;
use super::media::{self, ResponseMedia};
use crate::api::is_refusal;
use crate::auth::{AuthError, Authenticator, Claims, Credential};
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
    if !media::is_json_body(request.headers()) {
        return super::errors::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::UnsupportedMediaType,
            "send the GraphQL request as JSON, with Content-Type: application/json",
        );
    }
    let budget = state.limits.request_timeout;
    // Dropping the operation cancels it where it stands: a statement in flight is abandoned and
    // an open transaction rolls back.
    let media = ResponseMedia::negotiate(request.headers());
    match tokio::time::timeout(budget.get(), run(state, claims, request, media)).await {
        Ok(response) => response,
        Err(_) => overran(&Overran { budget }, media),
    }
}

async fn run(state: AppState, claims: Claims, request: Request, media: ResponseMedia) -> Response {
    let graphql_request =
        match <GraphQLRequest as FromRequest<AppState>>::from_request(request, &state).await {
            Ok(graphql_request) => graphql_request.into_inner(),
            Err(rejection) => return super::errors::unreadable_request(&rejection.0),
        };
    let mut graphql_request = graphql_request;
    graphql_request.data = state.api.request_data(claims, &state.db);
    respond(state.api.execute(graphql_request).await, media)
}

/// A GraphQL response in the type the client asked for. Under
/// `application/graphql-response+json`, a request refused before it ran (a document that does
/// not parse or validate, variables that do not fit, a limit) is a 400 without `data`, as
/// GraphQL over HTTP asks; under `application/json` it stays a 200 with `data: null`, which
/// clients of that type expect.
fn respond(response: async_graphql::Response, media: ResponseMedia) -> Response {
    let answer = if media == ResponseMedia::GraphQLResponseJson && is_refusal(&response) {
        let body = json!({ "errors": response.errors });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    } else {
        GraphQLResponse::from(response).into_response()
    };
    media.label(answer)
}

/// A websocket opened by a page of another origin, not listed.
#[derive(Debug, thiserror::Error)]
#[error(
    "this page's origin may not open the websocket: only this server's own pages and the \
     origins of LM_CORS_ORIGINS may"
)]
struct ForeignOrigin;

/// A GraphQL request that ran past its time budget.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request ran longer than {budget} (LM_REQUEST_TIMEOUT) and was cancelled: ask for less \
     at once, e.g. smaller pages. A mutation may have taken effect before it was stopped"
)]
struct Overran {
    budget: Timeout,
}

/// Answered as GraphQL answers an error met while executing: 200, `data: null` (the operation
/// had started), a coded error, in the type the client asked for.
fn overran(error: &Overran, media: ResponseMedia) -> Response {
    tracing::warn!(budget = %error.budget, "a GraphQL request ran out of time and was cancelled");
    let body = json!({
        "data": null,
        "errors": [{ "message": error.to_string(), "extensions": { "code": Code::Timeout.as_str() } }],
    });
    media.label((StatusCode::OK, Json(body)).into_response())
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
    verify(&state.auth, &state.api_tokens, &state.db, authorization)
        .await
        .map(|(claims, _)| claims)
        .map_err(|refusal| match refusal {
            VerifyError::Refused(error) => refused(&error),
            VerifyError::Failed(error) => cannot_verify(&error),
        })
}

/// Checks `Authorization: Bearer …`, as a header or as the websocket's `connection_init` carries
/// it: a JWT against the server's key or the identity provider's, an API token against the
/// database. With the claims, the API token's id, if it was one.
pub(super) async fn verify(
    auth: &Authenticator,
    api_tokens: &ApiTokenVerifier,
    db: &DatabaseConnection,
    authorization: Option<&str>,
) -> Result<(Claims, Option<i64>), VerifyError> {
    match Credential::from_header(authorization)? {
        Credential::Jwt(token) => Ok((auth.verify(token).await?, None)),
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

/// What every authenticated route answers a refused token: 401 without a valid one, 403 for a
/// valid one granting no role.
fn refused(error: &AuthError) -> Response {
    let code = error.code();
    if code == Code::Forbidden {
        return super::errors::error(StatusCode::FORBIDDEN, code, &error.to_string());
    }
    let refusal = super::errors::error(StatusCode::UNAUTHORIZED, code, &error.to_string());
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
    if !state.cors.admits_websocket(&parts.headers) {
        return super::errors::error(
            StatusCode::FORBIDDEN,
            Code::Forbidden,
            &ForeignOrigin.to_string(),
        );
    }
    let Some(protocol) = super::websocket::protocol(&parts.headers) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    super::websocket::upgrade(state, protocol, upgrade)
}
