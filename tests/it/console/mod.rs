//! The console, as a browser meets it: how the binary serves it (`serving`), signing in and out
//! (`sign_in`), the setup path through its pages against graph-sim (`setup_path`), and the API
//! tokens page (`api_tokens`), and the renewals page (`renewals`).

mod api_tokens;
mod first_load;
mod history;
mod identity_provider;
mod reclaim;
mod renewals;
mod serving;
mod setup_path;
mod sign_in;

/// What the console's shell shows of the signed-in person: subject and role.
pub const SIGNED_IN_AS: &str = "header.top .who";
