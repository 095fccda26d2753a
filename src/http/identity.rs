//! `GET /auth/identity-provider`: how a browser signs a person in with the organization's
//! identity provider — the console's sign-in page reads it, and so can any frontend.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::errors::error;
use crate::codes::Code;

/// `{"identityProvider": null}` when people sign in with tokens only; otherwise the provider's
/// endpoints and the console's client id and scope (docs/security.md, "Signing in to the
/// console").
pub async fn identity_provider(State(state): State<AppState>) -> Response {
    let found = match state.auth.browser_sign_in() {
        None => None,
        Some(Ok(sign_in)) => Some(sign_in),
        Some(Err(unavailable)) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::Unavailable,
                &unavailable.to_string(),
            );
        }
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "identityProvider": found })),
    )
        .into_response()
}

/// The origin the console's page may connect to besides its own: the identity provider's
/// token endpoint, where the browser redeems its code and renews its token.
pub fn sign_in_origin(state: &AppState) -> Option<String> {
    let sign_in = state.auth.browser_sign_in()?.ok()?;
    let url = reqwest::Url::parse(&sign_in.token_endpoint).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}
