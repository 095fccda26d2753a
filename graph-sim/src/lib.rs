//! graph-sim: a Microsoft Graph v1.0 + Entra ID simulator (client-credentials token endpoint and
//! an OpenID Connect provider for signed-in users).
//!
//! It serves a deterministic tenant (users, licences, SKUs, subscriptions) with the status
//! codes, JSON bodies, paging, delta rounds and failures Microsoft documents and its service is
//! seen to answer, so license-manager can be tested and benchmarked without Microsoft.
//!
//! ```no_run
//! # async fn demo() -> Result<(), graph_sim::SimError> {
//! use graph_sim::{SimOptions, SimServer, TenantSpec};
//! let sim = SimServer::start(TenantSpec { users: 500, seed: 7, ..Default::default() }, SimOptions::default()).await?;
//! println!("{} {} {}", sim.base_url(), sim.tenant_id(), sim.client_id());
//! let someone = sim.users()[0].id;
//! sim.disable_user(someone)?;          // shows up in the next users/delta round
//! println!("{:?}", sim.stats());
//! # Ok(()) }
//! ```

mod assign;
mod catalog;
mod control;
mod delta;
mod errors;
mod faults;
mod filter;
mod fixtures;
mod generate;
mod groups;
mod handle;
mod limits;
mod oidc;
mod permissions;
mod props;
mod rng;
mod server;
mod skus;
mod stats;
mod store;
mod tenant;
mod token;
mod users;

pub use catalog::{CatalogPlan, CatalogSku};
pub use errors::SimError;
pub use faults::FaultOptions;
pub use fixtures::{
    FIXTURE_COUNT, FIXTURE_INACTIVE_DAYS, FIXTURE_MIN_USERS, LicenseFixture, LicenseFixtures,
};
pub use generate::{TenantSpec, generate};
pub use handle::{NewUser, SimHandle, UserPatch};
pub use limits::{Limit, WriteLimits};
pub use oidc::{AudienceForm, GRAPH_APP_ID, OidcOptions, ROLE_ADMIN, ROLE_READER, TestToken};
pub use permissions::{
    AUDIT_LOG_READ_ALL, DIRECTORY_READ_ALL, DIRECTORY_READ_WRITE_ALL, GROUP_MEMBER_READ_ALL,
    GROUP_READ_ALL, LICENSE_ASSIGNMENT_READ_WRITE_ALL, ORGANIZATION_READ_ALL, USER_READ_ALL,
    USER_READ_WRITE_ALL,
};
pub use server::{SimOptions, SimServer};
pub use skus::SubscribedSku;
pub use stats::{AppliedWrite, RequestLogEntry, Stats};
pub use tenant::{
    App, AssignedLicense, Group, LicenseAssignmentState, NoErrorAs, Permissions, PrepaidUnits,
    ServicePlanInfo, SignInActivity, Sku, Subscription, Tenant, User, UserType,
};

/// Microsoft's SKU table as embedded in the crate (skuId, skuPartNumber, product name, plans).
pub fn sku_catalog() -> &'static [CatalogSku] {
    catalog::skus()
}

/// Looks a SKU up in the embedded table by skuId.
pub fn catalog_sku(sku_id: uuid::Uuid) -> Option<&'static CatalogSku> {
    catalog::by_id(sku_id)
}
