//! Contract tests: every documented behaviour over real HTTP, comparing bodies to the shapes in
//! Microsoft documents for Graph v1.0 and Entra ID (see graph-sim/README.md). One test binary (modules below) keeps link
//! time down.

mod common;

mod cli;
mod control;
mod delta;
mod faults;
mod permissions;
mod skus;
mod token;
mod users;
