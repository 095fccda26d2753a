//! Plain services that the API and the command line call. No GraphQL types here; SeaORM
//! entities are mapped to domain types before they leave this module.

pub mod acceptances;
pub mod api_tokens;
pub mod audit;
pub mod history;
pub mod license_events;
pub mod licenses;
pub mod money;
pub mod providers;
pub mod reclaim_execution;
pub mod reclaim_plans;
pub mod reclaim_undo;
pub mod renewals;
pub mod report_cache;
pub mod reports;
pub mod run_feed;
pub mod sync_runs;
pub mod user_counts;
pub mod users;
pub mod validation;
