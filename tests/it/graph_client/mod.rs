//! Integration tests of the Microsoft client against in-process graph-sim tenants: every
//! behaviour is observed through real HTTP exchanges and the simulator's statistics.

mod common;

mod auth;
mod delta;
mod directory;
mod errors;
mod licenses;
mod paging;
mod retries;
