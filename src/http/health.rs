use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use crate::codes::Code;
use crate::db;

/// The process is up and answering.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready for traffic: the database answers and this binary's migrations are all applied.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    // The probe's own `status`, beside the one error shape of every route.
    let unavailable = |reason: String| {
        let error =
            json!({ "message": reason, "extensions": { "code": Code::Unavailable.as_str() } });
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "errors": [error] })),
        )
    };
    if let Err(error) = state.db.ping().await {
        tracing::warn!(%error, "readiness: database unreachable");
        return unavailable("database unreachable".into());
    }
    match db::pending_migrations(&state.db).await {
        Ok(0) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(pending) => unavailable(format!("{pending} migrations pending")),
        Err(error) => {
            tracing::warn!(%error, "readiness: cannot read migration state");
            unavailable("cannot read migration state".into())
        }
    }
}
