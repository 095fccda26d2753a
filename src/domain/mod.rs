//! Plain services that the API and the command line call. No GraphQL types here; SeaORM
//! entities are mapped to domain types before they leave this module.

pub mod audit;
pub mod providers;
pub mod sync_runs;
pub mod validation;
