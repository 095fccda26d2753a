use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::api;
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
            Err(rejection) => return rejection.into_response(),
        };
    let graphql_request = api::with_request_data(graphql_request, claims, &state.db);
    GraphQLResponse::from(state.schema.execute(graphql_request).await).into_response()
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
    let message = error.to_string();
    let body = json!({
        "data": null,
        "errors": [{ "message": message, "extensions": { "code": "UNAUTHENTICATED" } }],
    });
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(body),
    )
        .into_response()
}

const TOKEN_HELP: &str = "license-manager token --role admin --subject YOUR-NAME";

/// GraphiQL, with the Headers tab open and pre-filled, since every operation needs a token.
pub async fn graphiql() -> Html<String> {
    let page = GraphiQLSource::build()
        .endpoint("/graphql")
        .title("license-manager GraphiQL")
        .finish();
    let default_headers =
        format!(r#"{{"Authorization": "Bearer <paste the output of: {TOKEN_HELP}>"}}"#);
    let page = page
        .replace(
            "React.createElement(GraphiQL, {",
            &format!(
                "React.createElement(GraphiQL, {{ defaultHeaders: {}, defaultQuery: {},",
                json!(default_headers),
                json!(DEFAULT_QUERY)
            ),
        )
        .replace(
            "defaultEditorToolsVisibility: true",
            "defaultEditorToolsVisibility: 'headers'",
        )
        .replace(
            r#"<div id="graphiql">Loading...</div>"#,
            &format!(
                r#"<div id="graphiql"><p style="font-family: sans-serif; padding: 1em">Loading GraphiQL… Every request needs the header <code>Authorization: Bearer &lt;token&gt;</code>; mint a token with <code>{TOKEN_HELP}</code> and paste it in the Headers tab.</p></div>"#
            ),
        );
    Html(page)
}

const DEFAULT_QUERY: &str = "# Every request needs a token: run\n#   license-manager token --role admin --subject YOUR-NAME\n# and paste it into the Headers tab below as\n#   {\"Authorization\": \"Bearer <token>\"}\n\nquery {\n  viewer { subject role }\n  providers { id name tenantId userCount }\n}\n";
