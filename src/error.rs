//! The library's error type. Every variant carries a stable code that the API exposes as
//! `extensions.code`; details of internal failures are logged, never sent to a client.

use std::fmt;

use sea_orm::DbErr;

use crate::codes::Code;
use crate::crypto::CryptoError;

/// One rejected input field and why, in words the caller can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input: {}", join(.0))]
    InvalidInput(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The caller's role allows the action, but not in this case (an admin approving their own
    /// plan where a second admin must).
    #[error("{0}")]
    Forbidden(String),
    #[error("database error")]
    Database(#[from] DbErr),
    /// A stored value this binary cannot read: written by a newer version, or edited by hand.
    #[error("unreadable stored data: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidInput(_) => Code::BadUserInput,
            Error::NotFound(_) => Code::NotFound,
            Error::Conflict(_) => Code::Conflict,
            Error::Forbidden(_) => Code::Forbidden,
            Error::Database(_) | Error::Corrupt(_) | Error::Crypto(_) => Code::Internal,
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidInput(vec![FieldError {
            field,
            message: message.into(),
        }])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
