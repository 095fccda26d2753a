mod audit;
mod provider;
mod sync_run;
mod viewer;

pub use audit::AuditEvent;
pub use provider::{CreateMicrosoftProviderInput, Provider, UpdateMicrosoftProviderInput};
pub use sync_run::{ApiSyncMode, SyncRun};
pub use viewer::Viewer;
