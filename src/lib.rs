//! license-manager: a self-hosted GraphQL API that tracks the software licenses an organization
//! pays for and who holds them. docs/architecture.md describes the shape of the whole.

pub mod api;
pub mod app;
pub mod auth;
pub mod codes;
pub mod config;
pub mod crypto;
pub mod data_dir;
pub mod db;
pub mod demo;
pub mod domain;
pub mod entities;
pub mod error;
pub mod http;
pub mod jobs;
pub mod keyfile;
pub mod metrics;
pub mod providers;
pub mod sync;

pub use error::{Error, Result};
