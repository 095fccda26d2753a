mod audit;
mod connection_test;
mod license;
mod provider;
mod report;
mod sync_run;
mod user;
mod viewer;

pub use audit::AuditEvent;
pub use connection_test::ConnectionTest;
pub use license::{LicenseSku, MoneyInput};
pub use provider::{CreateMicrosoftProviderInput, Provider, UpdateMicrosoftProviderInput};
pub use report::LicenseReport;
pub use sync_run::{ApiSyncMode, SyncRun};
pub use user::{
    DirectoryUser, PageArgs, UserConnection, UserFilterInput, UserOrder, page_cost, user_connection,
};
pub use viewer::Viewer;
