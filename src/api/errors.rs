//! Turns library errors into GraphQL errors with a stable `extensions.code`.

use async_graphql::ErrorExtensions;

use crate::codes::Code;
use crate::error::Error;

pub fn graphql_error(error: &Error) -> async_graphql::Error {
    let message = match error {
        // The cause may name tables or hosts: it goes to the log, not to the caller.
        Error::Database(_) | Error::Corrupt(_) => {
            tracing::error!(error = ?error, "internal error while serving a request");
            "internal error; the server log has the details".to_owned()
        }
        other => other.to_string(),
    };
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", error.code().as_str());
        if let Error::InvalidInput(fields) = error {
            // A form shows each message beside its field.
            let fields: Vec<async_graphql::Value> = fields
                .iter()
                .map(|field| {
                    async_graphql::Value::from_json(serde_json::json!({
                        "field": field.field,
                        "message": field.message,
                    }))
                    .unwrap_or_default()
                })
                .collect();
            extensions.set("fields", fields);
        }
    })
}

/// An error as an entry of a response's `errors`, for the routes outside GraphQL: the same
/// message, code and fields GraphQL would answer.
pub fn error_json(error: &Error) -> serde_json::Value {
    let error = graphql_error(error);
    serde_json::json!({ "message": error.message, "extensions": error.extensions })
}

pub fn forbidden(message: &str) -> async_graphql::Error {
    coded(message, Code::Forbidden)
}

pub fn bad_user_input(field: &'static str, message: impl Into<String>) -> async_graphql::Error {
    graphql_error(&Error::invalid(field, message))
}

pub fn unauthenticated() -> async_graphql::Error {
    coded("missing or invalid bearer token", Code::Unauthenticated)
}

pub fn coded(message: &str, code: Code) -> async_graphql::Error {
    async_graphql::Error::new(message)
        .extend_with(|_, extensions| extensions.set("code", code.as_str()))
}

/// `result.api()?` in a resolver.
pub trait ResultExt<T> {
    fn api(self) -> async_graphql::Result<T>;
}

impl<T> ResultExt<T> for Result<T, Error> {
    fn api(self) -> async_graphql::Result<T> {
        self.map_err(|error| graphql_error(&error))
    }
}
