mod audit;
mod connection_test;
mod provider;
mod sync_run;
mod viewer;

pub use audit::AuditEvent;
pub use connection_test::ConnectionTest;
pub use provider::{CreateMicrosoftProviderInput, Provider, UpdateMicrosoftProviderInput};
pub use sync_run::{ApiSyncMode, SyncRun};
pub use viewer::Viewer;
