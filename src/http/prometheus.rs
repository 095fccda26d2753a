//! `GET /metrics` in Prometheus' text format: counters a scrape reads without a token, as
//! monitoring systems expect. It exposes counts only, never tenant data.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::domain::sync_runs;
use crate::domain::sync_runs::RunStatus;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(text, "{name}{labels} {value}");
        }
    };
    metric(
        "license_manager_build_info",
        "gauge",
        "The running version.",
        &[(format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")), 1)],
    );
    metric(
        "license_manager_sql_statements_total",
        "counter",
        "SQL statements sent to the database by this process.",
        &[(String::new(), state.metrics.sql_statements())],
    );
    metric(
        "license_manager_sql_errors_total",
        "counter",
        "SQL statements that failed.",
        &[(String::new(), state.metrics.sql_errors())],
    );
    metric(
        "license_manager_connections_open",
        "gauge",
        "Client connections open, websockets included.",
        &[(String::new(), state.metrics.connections_open())],
    );
    metric(
        "license_manager_connections_refused_total",
        "counter",
        "Connections answered 503 and closed because LM_MAX_CONNECTIONS were open.",
        &[(String::new(), state.metrics.connections_refused())],
    );
    let runs = match sync_runs::count_by_status(&state.db).await {
        Ok(runs) => runs,
        Err(error) => {
            tracing::warn!(error = ?error, "metrics: cannot count sync runs");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
        }
    };
    let statuses = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];
    let samples: Vec<(String, u64)> = statuses
        .iter()
        .map(|status| {
            let count = runs
                .iter()
                .find(|(name, _)| name == status.as_str())
                .map_or(0, |(_, count)| u64::try_from(*count).unwrap_or_default());
            (format!("{{status=\"{}\"}}", status.as_str()), count)
        })
        .collect();
    metric(
        "license_manager_sync_runs",
        "gauge",
        "Sync runs in the database, by status.",
        &samples,
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
