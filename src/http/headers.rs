//! Response headers every answer carries. GraphQL results, GraphiQL and the CSV exports hold
//! directory data and the GraphiQL page holds a token, so browsers must not guess content types,
//! frame the pages into another site, leak the URL to links followed from them, or keep the
//! answers in a cache.

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use tower_http::set_header::SetResponseHeaderLayer;

pub fn apply<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let fixed = |value| HeaderValue::from_static(value);
    router
        // Defaults a handler may replace: GraphiQL's versioned assets are cached for good, and a
        // page may send a fuller Content-Security-Policy (which must then deny framing itself).
        .layer(SetResponseHeaderLayer::if_not_present(
            CACHE_CONTROL,
            fixed("no-store"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            CONTENT_SECURITY_POLICY,
            fixed("frame-ancestors 'none'"),
        ))
        // Set on every response, whatever the handler said. X-Frame-Options is for browsers
        // that predate frame-ancestors.
        .layer(SetResponseHeaderLayer::overriding(
            X_FRAME_OPTIONS,
            fixed("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            fixed("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            fixed("no-referrer"),
        ))
}
