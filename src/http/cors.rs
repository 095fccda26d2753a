//! Browser frontends on other origins (`LM_CORS_ORIGINS`): the origins listed may call
//! `POST /graphql` and the CSV exports from a page of theirs, and open the websocket. By default
//! the list is empty and the server sends no CORS header at all, so only its own pages (the
//! console, GraphiQL) can read its answers in a browser.
//!
//! The list is exact: a browser sends the API a bearer token, a credential, so there is no `*`
//! and no pattern. Browsers do not apply CORS to websockets, so the upgrade checks `Origin`
//! itself: a page of another origin, not listed, is refused before the upgrade.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use reqwest::Url;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may reuse a preflight's answer: one preflight per route every ten minutes,
/// and a change of the list reaches open pages as soon.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Set by proxies that replace `Host`, and never by a page's script: browsers forbid it.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// An origin as browsers send it in `Origin`: scheme, host and port (the scheme's default one
/// left out), e.g. `https://app.example.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(HeaderValue);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    #[error(
        "`*` is refused: browsers send this API bearer tokens, which are credentials, so list \
         each origin exactly (e.g. https://app.example.com)"
    )]
    Wildcard,
    #[error("`{origin}` is not an origin: {reason} (e.g. https://app.example.com)")]
    Invalid {
        origin: String,
        reason: &'static str,
    },
}

impl FromStr for Origin {
    type Err = OriginError;

    fn from_str(text: &str) -> Result<Self, OriginError> {
        let invalid = |reason| OriginError::Invalid {
            origin: text.to_owned(),
            reason,
        };
        if text.contains('*') {
            return Err(OriginError::Wildcard);
        }
        let url = Url::parse(text).map_err(|_| invalid("give a scheme and a host"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("only http:// and https:// pages call the API"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("an origin has no user name or password"));
        }
        // `Url` writes `https://host` as `https://host/`: that slash is not a path.
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("an origin has no path, query or fragment"));
        }
        HeaderValue::try_from(url.origin().ascii_serialization())
            .map(Self)
            .map_err(|_| invalid("it cannot be written in a header"))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.to_str().unwrap_or_default())
    }
}

/// The origins allowed to call the API from a browser, besides the server's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsOrigins(Arc<[Origin]>);

impl FromStr for CorsOrigins {
    type Err = OriginError;

    /// Comma-separated origins; blanks around them and empty items are ignored.
    fn from_str(text: &str) -> Result<Self, OriginError> {
        let mut origins: Vec<Origin> = Vec::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let origin = item.parse()?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(Self(origins.into()))
    }
}

impl fmt::Display for CorsOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origins: Vec<String> = self.0.iter().map(Origin::to_string).collect();
        f.write_str(&origins.join(","))
    }
}

impl CorsOrigins {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The CORS answers of the API's routes, or `None` (no CORS header at all) when no origin is
    /// listed. Preflights allow what the routes are called with: GET and POST, a bearer token
    /// and a JSON body.
    pub fn layer(&self) -> Option<CorsLayer> {
        if self.is_empty() {
            return None;
        }
        let origins = self.0.iter().map(|origin| origin.0.clone());
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                // A download's file name, when to come back, and why a token was refused.
                .expose_headers([
                    header::CONTENT_DISPOSITION,
                    header::RETRY_AFTER,
                    header::WWW_AUTHENTICATE,
                ])
                .max_age(PREFLIGHT_MAX_AGE),
        )
    }

    /// Whether a websocket upgrade may proceed: from a client that is no browser (no `Origin`),
    /// from a page of this server (`Origin` names the host the request was sent to), or from a
    /// listed origin.
    pub fn admits_websocket(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        self.0.iter().any(|listed| listed.0 == origin) || is_own_origin(origin, headers)
    }
}

/// Whether `origin` is the scheme-less address the request was sent to: its `Host`, or the
/// `X-Forwarded-Host` of a proxy that rewrote it. A port left out is the origin's scheme's.
fn is_own_origin(origin: &HeaderValue, headers: &HeaderMap) -> bool {
    let Some(origin) = origin.to_str().ok().and_then(|text| Url::parse(text).ok()) else {
        // `null` (a sandboxed frame, a file) or garbage: no page of this server.
        return false;
    };
    let (Some(host), Some(port)) = (origin.host_str(), origin.port_or_known_default()) else {
        return false;
    };
    [header::HOST, X_FORWARDED_HOST]
        .iter()
        .filter_map(|name| headers.get(name)?.to_str().ok())
        .filter_map(|value| value.split(',').next()?.trim().parse::<Authority>().ok())
        .any(|authority| {
            authority.host().eq_ignore_ascii_case(host)
                && authority.port_u16().unwrap_or(port) == port
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_never_a_wildcard() {
        let origins: CorsOrigins =
            " https://app.example.com, http://LOCALHOST:5173 ,,https://app.example.com:443/"
                .parse()
                .unwrap();
        assert_eq!(
            origins.to_string(),
            "https://app.example.com,http://localhost:5173"
        );
        assert_eq!("".parse::<CorsOrigins>().unwrap(), CorsOrigins::default());
        for (text, error) in [
            ("*", OriginError::Wildcard),
            ("https://*.example.com", OriginError::Wildcard),
        ] {
            assert_eq!(text.parse::<CorsOrigins>(), Err(error));
        }
        for text in [
            "app.example.com",
            "https://app.example.com/console",
            "https://app.example.com?x=1",
            "https://user@app.example.com",
            "ftp://app.example.com",
            "null",
        ] {
            assert!(
                matches!(text.parse::<Origin>(), Err(OriginError::Invalid { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn a_websocket_needs_no_origin_its_own_or_a_listed_one() {
        let origins: CorsOrigins = "https://app.example.com".parse().unwrap();
        let upgrade = |origin: Option<&str>, host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            if let Some(origin) = origin {
                headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            }
            origins.admits_websocket(&headers)
        };
        assert!(upgrade(None, "licenses.example.com"));
        assert!(upgrade(
            Some("https://app.example.com"),
            "licenses.example.com"
        ));
        assert!(upgrade(
            Some("https://licenses.example.com"),
            "licenses.example.com"
        ));
        assert!(upgrade(
            Some("https://licenses.example.com"),
            "Licenses.Example.com:443"
        ));
        assert!(upgrade(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"));
        assert!(upgrade(Some("http://[::1]:8080"), "[::1]:8080"));
        assert!(!upgrade(Some("http://127.0.0.1:8081"), "127.0.0.1:8080"));
        assert!(!upgrade(
            Some("https://licenses.example.com"),
            "licenses.example.com:8443"
        ));
        assert!(!upgrade(
            Some("https://evil.example"),
            "licenses.example.com"
        ));
        assert!(!upgrade(Some("null"), "licenses.example.com"));
    }
}
