mod audit;
mod provider;
mod viewer;

pub use audit::AuditEvent;
pub use provider::{CreateMicrosoftProviderInput, Provider, UpdateMicrosoftProviderInput};
pub use viewer::Viewer;
