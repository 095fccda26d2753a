//! The integration tests, as one test binary: each module here was a binary of its own, and
//! linking the whole application (and graph-sim) once instead of once per module is what keeps
//! an edit-compile-test cycle short as the suite grows. A new test file goes in this folder and
//! gets a `mod` line below; `layout` fails when one is forgotten.
//!
//! The modules share one process: a test must not set process-wide state (environment
//! variables, the current directory, a global subscriber other than `common`'s) that another
//! test running at the same time could see. Pass settings to the app under test or to a child
//! process (`Command::env`) instead.

#[macro_use]
mod common;

mod acceptances;
mod api_tokens;
mod at_rest;
mod auth;
mod cli;
mod codes;
mod conformance;
mod connections;
mod console;
mod cors;
mod database;
mod documents;
mod export;
mod graph_client;
mod graphiql;
mod history;
mod history_month;
mod http_headers;
mod layers;
mod layout;
mod license_events;
mod licenses;
mod limits;
mod migrations;
mod oidc;
mod provider_kinds;
mod providers;
mod reclaim_execution;
mod reclaim_plans;
mod report;
mod schema;
mod second_kind;
mod server;
mod subscriptions;
mod sync;
mod sync_queue;
mod users;
