//! SeaORM entities, one file per table. They stay below `domain/`: the API sees domain types only.

pub mod accepted_findings;
pub mod api_tokens;
pub mod audit_events;
pub mod directory_users;
pub mod license_assignments;
pub mod license_events;
pub mod license_skus;
pub mod license_snapshots;
pub mod providers;
pub mod reclaim_items;
pub mod reclaim_plans;
pub mod subscriptions;
pub mod sync_runs;
