//! Microsoft Graph + Entra ID client for license-manager.
//!
//! Tokens by client credentials per provider and national cloud, paged and delta listings of
//! users, subscribed SKUs, subscriptions and the organization, with retries that honour
//! Retry-After, and errors mapped to the stable codes of docs/microsoft-365.md with hints an
//! admin can act on. This module never touches the database: the sync engine and the connection
//! test call it.
//!
//! How the app uses it (`GraphClient` is cheap to clone; keep one per provider so its token
//! cache lives as long as the provider's configuration):
//!
//! ```text
//! let overrides = EndpointOverrides { login_url: env LM_MICROSOFT_LOGIN_URL, graph_url: env LM_MICROSOFT_GRAPH_URL };
//! let client = GraphClient::new(Credentials::new(tenant, client_id, secret, cloud), &overrides, ClientConfig::default())?;
//! client.verify_credentials().await?;                     // connection test: "token"
//! client.organization().await?;                           // display name + default_domain()
//! let link = client.latest_delta_link().await?;           // before a full listing
//! let mut pages = client.users(UserQuery { sign_in_activity: true, page_size: None });
//! while let Some(page) = pages.next().await { ... }       // page k+1 is fetched meanwhile
//!   // Err(e) with e.sign_in_unavailable().is_some() on the first page: list again without it
//! client.subscribed_skus().await?; client.subscriptions().await?;
//! client.users_delta(DeltaStart::Link(link), DeltaOptions { minimal: true })   // later rounds
//!   // Err(e) with e.is_delta_token_expired(): drop the link, run a full sync
//! client.sign_in_activity()                               // light sign-in refresh
//! client.user_license_state(id).await?;                   // reclaim: re-check one user
//! client.assign_license(id, LicenseChange::Remove { sku_id }).await?;   // needs LicenseAssignment.ReadWrite.All
//! client.current_token().await?.roles;                    // what the app may do
//! client.groups(&ids).await?;                             // reclaim plans: name licensing groups
//! ```

mod client;
mod cloud;
mod credentials;
mod delta;
mod directory;
mod error;
mod groups;
mod lenient;
mod licenses;
mod models;
mod paging;
mod response;
mod retry;
mod throttle;
mod token;
mod users;
mod write_budget;

pub use client::{ClientConfig, GraphClient};
pub use cloud::{Cloud, EndpointOverrides, Endpoints};
pub use credentials::Credentials;
pub use delta::{DELTA_SELECT, DeltaItem, DeltaOptions, DeltaStart, RemovedReason, UserDelta};
pub use error::{ErrorKind, GROUP_READ_HINT, GraphError, Permission, SignInUnavailableReason};
pub use groups::{GROUP_READS_AT_ONCE, GROUP_SELECT};
pub use lenient::Patch;
pub use licenses::{LICENSE_STATE_SELECT, LicenseChange};
pub use models::{
    AssignedLicense, CommerceSubscription, Group, LicenseAssignmentState, Organization,
    PrepaidUnits, ServicePlanInfo, SignInActivity, SubscribedSku, User, UserSignIn, VerifiedDomain,
};
pub use paging::{Page, PageStream};
pub use retry::RetryConfig;
pub use secrecy::SecretString;
pub use token::TokenInfo;
pub use users::{MAX_PAGE_SIZE, MAX_SIGN_IN_PAGE_SIZE, USER_SELECT, UserQuery};
