//! The media types of GraphQL over HTTP: what `POST /graphql` reads, and which of its two
//! response types a client gets. `application/graphql-response+json` lets a client tell a
//! refused request (4xx, no `data`) from a GraphQL result, so it is sent only to clients that
//! ask for it; every other client, one that sends no `Accept` included, gets `application/json`
//! and a 200 whatever the errors, as GraphQL over HTTP requires of the older type.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

const JSON: &str = "application/json";
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The type of a GraphQL response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMedia {
    Json,
    GraphQLResponseJson,
}

impl ResponseMedia {
    /// The type the client's `Accept` prefers; `application/graphql-response+json` on a tie, as
    /// the specification recommends clients list both.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let mut graphql_response = 0.0_f32;
        let mut json = 0.0_f32;
        let ranges = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','));
        for range in ranges {
            let (media, quality) = media_range(range);
            if media.eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON) {
                graphql_response = graphql_response.max(quality);
            } else if [JSON, "application/*", "*/*"]
                .iter()
                .any(|accepted| media.eq_ignore_ascii_case(accepted))
            {
                json = json.max(quality);
            }
        }
        if graphql_response > 0.0 && graphql_response >= json {
            Self::GraphQLResponseJson
        } else {
            Self::Json
        }
    }

    /// Gives a JSON answer this type.
    pub fn label(self, mut response: Response) -> Response {
        let media = match self {
            Self::Json => JSON,
            Self::GraphQLResponseJson => GRAPHQL_RESPONSE_JSON,
        };
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
        response
    }
}

/// A range of `Accept` and its quality (`q`, 1 when absent, 0 when unreadable).
fn media_range(range: &str) -> (&str, f32) {
    let mut parts = range.split(';');
    let media = parts.next().unwrap_or_default().trim();
    let quality = parts
        .filter_map(|parameter| parameter.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
        .map_or(1.0, |(_, value)| value.trim().parse().unwrap_or(0.0));
    (media, quality)
}

/// Whether a request body is declared as JSON, the one type `POST /graphql` reads (whatever its
/// charset parameter: GraphQL over HTTP bodies are UTF-8).
pub fn is_json_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(JSON))
}

/// Whether a response's body is JSON, of either GraphQL response type.
pub fn is_json_response(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|value| {
        let value = value.as_bytes();
        value.starts_with(JSON.as_bytes()) || value.starts_with(GRAPHQL_RESPONSE_JSON.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(accept: Option<&str>) -> ResponseMedia {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        ResponseMedia::negotiate(&headers)
    }

    #[test]
    fn the_newer_type_goes_only_to_clients_that_ask_for_it() {
        use ResponseMedia::{GraphQLResponseJson as Newer, Json};
        for (accept, expected) in [
            (None, Json),
            (Some("application/json"), Json),
            (Some("*/*"), Json),
            (Some("text/html"), Json),
            (Some("application/graphql-response+json"), Newer),
            (Some("Application/GraphQL-Response+JSON"), Newer),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                Newer,
            ),
            (
                Some("application/graphql-response+json, application/json, multipart/mixed"),
                Newer,
            ),
            (
                Some("application/graphql-response+json;q=0.5, application/json"),
                Json,
            ),
            (Some("application/graphql-response+json;q=0"), Json),
            (Some("application/graphql-response+json; q=oops"), Json),
        ] {
            assert_eq!(accepting(accept), expected, "Accept: {accept:?}");
        }
    }

    #[test]
    fn a_body_is_json_by_its_declared_type_only() {
        let declared = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            is_json_body(&headers)
        };
        assert!(declared("application/json"));
        assert!(declared("application/json; charset=utf-8"));
        assert!(declared("Application/JSON"));
        assert!(!declared("text/plain;charset=UTF-8"));
        assert!(!declared("multipart/form-data; boundary=x"));
        assert!(!declared("application/jsonp"));
        assert!(!is_json_body(&HeaderMap::new()));
    }
}
