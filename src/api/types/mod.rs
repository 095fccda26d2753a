mod acceptance;
mod api_token;
mod audit;
mod connection_test;
mod history;
mod license;
mod license_event;
mod provider;
mod provider_kind;
mod reclaim;
mod report;
mod sync_run;
mod user;
mod viewer;

pub use acceptance::{AcceptFindingInput, FindingAcceptance};
pub use api_token::{ApiToken, CreateApiTokenInput, CreatedApiToken};
pub use audit::{AuditEvent, AuditEventFilter};
pub use connection_test::ConnectionTest;
pub use history::{LicenseSkuSeats, Renewal, SkuTrend, TrendInterval};
pub use license::{LicenseSku, MoneyInput};
pub use license_event::{LicenseEvent, LicenseEventFilter, event_page};
pub use provider::{CreateMicrosoftProviderInput, Provider, UpdateMicrosoftProviderInput};
pub use provider_kind::ProviderKindInfo;
pub use reclaim::{CreateReclaimPlanInput, ReclaimItem, ReclaimPlan};
pub use report::LicenseReport;
pub use sync_run::{ApiSyncMode, SyncRun};
pub use user::{
    DirectoryUser, PageArgs, UserConnection, UserFilterInput, UserOrder, user_connection,
    user_connection_cost,
};
pub use viewer::Viewer;
