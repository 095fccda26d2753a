//! Syncs as durable jobs: the queue of runs with leases, and (with the Graph client) the runner
//! that turns a tenant into rows. Knows nothing of GraphQL.

mod bulk_insert;
pub mod events;
pub mod queue;
mod read_ahead;
pub mod runner;
pub mod writer;
