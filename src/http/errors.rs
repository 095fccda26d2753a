//! The one shape of every error the HTTP routes answer: GraphQL's, so that a client reads
//! `errors[0].extensions.code` whether `/graphql`, an export or a probe refused it, and never
//! has to parse Rust debug text or a bare status line.
//!
//! ```json
//! {"errors": [{"message": "…", "extensions": {"code": "BAD_REQUEST"}}]}
//! ```

use async_graphql::ParseRequestError;
use axum::Json;
use axum::body::to_bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::MAX_REQUEST_BYTES;
use crate::codes::Code;

/// An error response with its code and message.
pub fn error(status: StatusCode, code: Code, message: &str) -> Response {
    (status, Json(error_body(code, message))).into_response()
}

/// The one shape of every error body.
pub fn error_body(code: Code, message: &str) -> Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] })
}

/// A refusal of the domain (an invalid filter, say), with the fields it names, as GraphQL
/// answers it.
pub fn domain_error(error: &crate::Error) -> Response {
    let status = match error.code() {
        Code::BadUserInput => StatusCode::BAD_REQUEST,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::Conflict => StatusCode::CONFLICT,
        Code::Forbidden => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = json!({ "errors": [crate::api::error_json(error)] });
    (status, Json(body)).into_response()
}

/// A body `/graphql` could not read as one GraphQL request. async-graphql-axum answers these
/// with the error's Debug text, which may quote the body back.
pub fn unreadable_request(error: &ParseRequestError) -> Response {
    let bad_request = |message: &str| error_response(StatusCode::BAD_REQUEST, message);
    match error {
        ParseRequestError::PayloadTooLarge => too_large(),
        ParseRequestError::UnsupportedBatch => {
            bad_request("batched requests are not supported: send one operation per request")
        }
        ParseRequestError::InvalidRequest(cause) => match cause.downcast_ref::<serde_json::Error>()
        {
            Some(json) => bad_request(&unreadable_json(json)),
            None => bad_request("the body is not a GraphQL request"),
        },
        // A body cut off by the size limit surfaces as a read error.
        ParseRequestError::Io(io) if io.to_string().contains("length limit") => too_large(),
        ParseRequestError::Io(_) => bad_request("the request body could not be read"),
        ParseRequestError::InvalidFilesMap(_)
        | ParseRequestError::InvalidMultipart(_)
        | ParseRequestError::MissingOperatorsPart
        | ParseRequestError::MissingMapPart
        | ParseRequestError::NotUpload
        | ParseRequestError::MissingFiles => {
            bad_request("multipart requests (file uploads) are not supported")
        }
        _ => bad_request("the body is not a GraphQL request"),
    }
}

/// Where and how a JSON body went wrong, without quoting it (serde_json's own messages may).
fn unreadable_json(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Data => {
            "is JSON but not a GraphQL request; send {\"query\": \"…\", \"variables\": {…}}"
        }
        Category::Eof => "ends before its JSON does",
        // serde_json reports nesting beyond its limit (128) as a syntax error too.
        Category::Syntax | Category::Io => "is not valid JSON, or nests deeper than 128 levels",
    };
    format!(
        "the body {what} (line {}, column {})",
        error.line(),
        error.column()
    )
}

fn too_large() -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the request body exceeds {MAX_REQUEST_BYTES} bytes"),
    )
}

fn error_response(status: StatusCode, message: &str) -> Response {
    error(status, code_of(status), message)
}

/// The code of an error answered by status alone.
fn code_of(status: StatusCode) -> Code {
    match status {
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::Forbidden,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
        StatusCode::CONFLICT => Code::Conflict,
        StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => Code::Timeout,
        StatusCode::TOO_MANY_REQUESTS => Code::TooManyRequests,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        status if status.is_server_error() => Code::Internal,
        _ => Code::BadRequest,
    }
}

/// The most of a plain-text error body kept as the message; such bodies are one line.
const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// Reshapes the errors that leave without a JSON body — axum's (no route, wrong method, a
/// query string that does not parse), the body-size limit's, a probe's plain text — keeping
/// their status, headers and text.
pub async fn reshape(response: Response) -> Response {
    let status = response.status();
    let is_json = super::media::is_json_response(response.headers());
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = to_bytes(body, MAX_MESSAGE_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body: Value = json!({
        "errors": [{ "message": message, "extensions": { "code": code_of(status).as_str() } }],
    });
    (parts, Json(body)).into_response()
}

/// Where no route matches.
pub async fn no_route() -> Response {
    error_response(StatusCode::NOT_FOUND, "no such route")
}
