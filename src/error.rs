//! The library's error type. Every variant carries a stable code that the API exposes as
//! `extensions.code`; details of internal failures are logged, never sent to a client.

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    BadUserInput {
        field: Option<&'static str>,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database error")]
    Database(#[from] DbErr),
    /// A stored value this binary cannot read: written by a newer version, or edited by hand.
    #[error("unreadable stored data: {0}")]
    Corrupt(String),
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadUserInput { .. } => "BAD_USER_INPUT",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Conflict(_) => "CONFLICT",
            Error::Database(_) | Error::Corrupt(_) => "INTERNAL",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
