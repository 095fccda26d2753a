//! Contract tests: every documented behaviour over real HTTP, comparing bodies to the shapes
//! Microsoft documents (see the README). One test binary (modules below) keeps link time down.

mod common;

mod cli;
mod control;
mod delta;
mod faults;
mod groups;
mod oidc;
mod permissions;
mod skus;
mod token;
mod users;
mod writes;
