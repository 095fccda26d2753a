//! The HTTP surface: the console and the setup guides, GraphQL, GraphiQL, CSV exports and the health probes.

mod console;
mod cors;
mod errors;
mod event_export;
mod export;
mod graphiql;
mod graphql;
mod guide;
mod headers;
mod health;
mod identity;
mod limits;
mod media;
mod plan_export;
mod prometheus;
mod serve;
mod state;
mod websocket;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::map_response;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use cors::{CorsOrigins, Origin, OriginError};
pub use limits::{ConnectionLimits, ServerLimits, Timeout};
pub use state::AppState;

pub use serve::serve;

/// GraphQL documents are small; anything bigger is a mistake or an attack.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let others = Router::new()
        .merge(console_routes())
        .route("/graphiql/{version}/{file}", get(graphiql::asset))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(prometheus::metrics))
        .fallback(errors::no_route);
    let routes = bounded(others).merge(api_routes(&state.cors));
    headers::apply(routes)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The routes a frontend on another origin may call, with CORS outermost, so that even the
/// refusals of the layers below (a body too large) reach its page readably.
fn api_routes(cors: &CorsOrigins) -> Router<AppState> {
    let routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::execute))
        .route("/export/users.csv", get(export::users_csv))
        .route("/export/skus.csv", get(export::skus_csv))
        .route("/export/findings.csv", get(export::findings_csv))
        .route("/export/reclaim-plan.csv", get(plan_export::plan_csv))
        .route("/export/license-events.csv", get(event_export::events_csv))
        .route("/auth/identity-provider", get(identity::identity_provider));
    let routes = bounded(routes);
    match cors.layer() {
        Some(cors) => routes.layer(cors),
        None => routes,
    }
}

/// The body limits and the one error shape, on every route.
fn bounded(routes: Router<AppState>) -> Router<AppState> {
    routes
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        // async-graphql-axum reads the body as a stream, which DefaultBodyLimit does not
        // cover; this layer caps every body, answering 413 before reading an oversized one.
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
        .layer(map_response(errors::reshape))
}

/// The console's pages and files, compressed: they are what a browser loads first.
fn console_routes() -> Router<AppState> {
    console::PAGES
        .into_iter()
        .fold(Router::new(), |routes, path| {
            routes.route(path, get(console::page))
        })
        .route("/console/{version}/{*file}", get(console::asset))
        // The kinds' setup guides, which the console's Settings page links to.
        .route("/docs/{slug}", get(guide::page))
        .layer(CompressionLayer::new())
}
