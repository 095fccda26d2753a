//! Every schema change of license-manager, applied in order on SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_initial_schema;
mod m20261127_000010_user_list_indexes;
mod m20261127_000020_lean_user_indexes;
mod m20261127_000030_no_descending_user_indexes;
mod m20261128_000040_lean_assignment_writes;
mod m20261129_000050_license_sources;
mod m20261207_000060_provider_config;
mod m20261207_000070_api_tokens;
mod m20261208_000080_accepted_findings;
mod m20261208_000090_reclaim_plans;
mod m20261209_000100_reclaim_execution;
mod m20261209_000110_license_events;
mod m20261210_000120_listing_stamps;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_initial_schema::Migration),
            Box::new(m20261127_000010_user_list_indexes::Migration),
            Box::new(m20261127_000020_lean_user_indexes::Migration),
            Box::new(m20261127_000030_no_descending_user_indexes::Migration),
            Box::new(m20261128_000040_lean_assignment_writes::Migration),
            Box::new(m20261129_000050_license_sources::Migration),
            Box::new(m20261207_000060_provider_config::Migration),
            Box::new(m20261207_000070_api_tokens::Migration),
            Box::new(m20261208_000080_accepted_findings::Migration),
            Box::new(m20261208_000090_reclaim_plans::Migration),
            Box::new(m20261209_000100_reclaim_execution::Migration),
            Box::new(m20261209_000110_license_events::Migration),
            Box::new(m20261210_000120_listing_stamps::Migration),
        ]
    }
}
