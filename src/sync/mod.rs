//! Syncs as durable jobs: the queue of runs with leases (which reclaim executions share), and
//! (with a provider's client) the runner that turns an account into rows. Knows nothing of
//! GraphQL.

mod bulk_insert;
pub mod clock;
pub mod events;
pub mod lease;
pub mod queue;
mod read_ahead;
pub mod runner;
pub mod writer;
