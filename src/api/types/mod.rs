mod provider;
mod viewer;

pub use provider::Provider;
pub use viewer::Viewer;
