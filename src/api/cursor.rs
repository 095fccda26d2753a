//! Opaque connection cursors: base64 of a small JSON value, so their inside can change without
//! breaking clients that only pass them back.

use async_graphql::connection::CursorType;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::errors::bad_user_input;

pub fn encode(position: &impl Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

/// An edge's cursor kept as its position until a client asks for it: most pages are read
/// without their cursors, and encoding each edge's cost a page of users 2–3 % of its work.
pub struct Lazy<T>(pub T);

impl<T: Serialize + DeserializeOwned> CursorType for Lazy<T> {
    type Error = &'static str;

    fn decode_cursor(cursor: &str) -> Result<Self, Self::Error> {
        parse(cursor).map(Lazy).ok_or(NOT_OURS)
    }

    fn encode_cursor(&self) -> String {
        encode(&self.0)
    }
}

const NOT_OURS: &str = "not a cursor this API returned; pass back an endCursor or startCursor";

/// A cursor is refused unless it is one this API could have made. A NUL in one of its texts
/// cannot be: no stored text holds one, and PostgreSQL would fail the statement it went into.
pub fn decode<T: DeserializeOwned>(field: &'static str, cursor: &str) -> async_graphql::Result<T> {
    parse(cursor).ok_or_else(|| bad_user_input(field, NOT_OURS))
}

fn parse<T: DeserializeOwned>(cursor: &str) -> Option<T> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter(|value| !holds_nul(value))
        .and_then(|value| serde_json::from_value(value).ok())
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(name, value)| name.contains('\0') || holds_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The page size a connection serves: `first` when given, within bounds.
pub fn page_size(first: Option<i32>, default: u64, max: u64) -> async_graphql::Result<u64> {
    match first {
        None => Ok(default),
        Some(first) if first >= 1 && (first as u64) <= max => Ok(first as u64),
        Some(_) => Err(bad_user_input(
            "first",
            format!("first must be between 1 and {max}"),
        )),
    }
}
