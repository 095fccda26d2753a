//! One HTTP exchange's outcome, read into memory, and the mapping of Graph's error envelope
//! (`{"error":{"code","message","innerError":{...}}}`) and of transport failures to
//! `GraphError` plus a retry decision.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::Deserialize;

use super::error::{ErrorKind, GraphError, Permission, SignInUnavailableReason};
use super::retry::{Failure, parse_retry_after};

/// Which Graph API a request calls: decides the permission named by INSUFFICIENT_PRIVILEGES
/// and whether a 403 is about sign-in activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Users {
        sign_in: bool,
    },
    UsersDelta,
    SubscribedSkus,
    Subscriptions,
    Organization,
    /// One user, re-read before its licenses change.
    User,
    /// `POST /users/{id}/assignLicense`.
    AssignLicense,
    /// One licensing group, named in a reclaim plan.
    Group,
}

impl Api {
    fn permission(self) -> Permission {
        match self {
            Api::Users { .. } | Api::UsersDelta | Api::User => Permission::UserReadAll,
            Api::AssignLicense => Permission::LicenseAssignmentReadWriteAll,
            Api::Group => Permission::GroupMemberReadAll,
            Api::SubscribedSkus | Api::Subscriptions | Api::Organization => {
                Permission::OrganizationReadAll
            }
        }
    }

    /// For logs.
    pub fn name(self) -> &'static str {
        match self {
            Api::Users { sign_in: false } => "GET users",
            Api::Users { sign_in: true } => "GET users (signInActivity)",
            Api::UsersDelta => "GET users/delta",
            Api::SubscribedSkus => "GET subscribedSkus",
            Api::Subscriptions => "GET directory/subscriptions",
            Api::Organization => "GET organization",
            Api::User => "GET users/{id}",
            Api::AssignLicense => "POST users/{id}/assignLicense",
            Api::Group => "GET groups/{id}",
        }
    }
}

/// A response read in full (pages are at most a few MB; the body is parsed right after).
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: StatusCode,
    /// Graph's `request-id` header (Entra sends `x-ms-request-id`).
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
    /// What the body is said to be (`application/json`, `text/html`, …), to describe a body
    /// that is not Graph's.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Reads the body; a connection dropped mid-body is as transient as a failed connect.
    pub async fn read(resp: reqwest::Response) -> Result<RawResponse, Failure> {
        let status = resp.status();
        let headers = resp.headers();
        let request_id =
            header(headers, "request-id").or_else(|| header(headers, "x-ms-request-id"));
        let retry_after = header(headers, RETRY_AFTER.as_str())
            .and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let content_type = header(headers, CONTENT_TYPE.as_str());
        let body = resp.bytes().await.map_err(|e| {
            let mut failure = transport_failure(&e);
            failure.error = failure.error.with_request_id(request_id.clone());
            failure
        })?;
        Ok(RawResponse {
            status,
            request_id,
            retry_after,
            content_type,
            // `Vec::from` reuses the buffer when it is not shared, sparing a copy of each page.
            body: Vec::from(body),
        })
    }

    /// Whether a failed request may be sent again: throttled (429), or a transient failure of
    /// Graph or of the gateway in front of it (500, 502, 503, 504). That is more than the Graph
    /// SDKs' set (429, 503, 504), and what Microsoft's own resilience tests inject: a sync of
    /// hundreds of requests meets them all. Safe for reads (a GET, or a token request, which
    /// changes nothing), and for the one write this client makes, assignLicense of one SKU: a
    /// removal repeated after a lost answer is refused as "not held" (ALREADY_REMOVED, the same
    /// end state), an addition repeated sets the same license with the same disabled plans.
    /// Any other status — a 4xx above all — says the request itself is wrong, and repeating it
    /// would get the same answer.
    pub fn is_retryable_status(&self) -> bool {
        matches!(self.status.as_u16(), 429 | 500 | 502 | 503 | 504)
    }

    /// The status and what came back, for an error body that is not the service's own, e.g.
    /// "HTTP 502 Bad Gateway with an HTML page from the gateway".
    pub fn describe(&self) -> String {
        let status = self.status_line();
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        let content_type = self.content_type.as_deref().unwrap_or_default();
        if text.is_empty() {
            format!("{status} with an empty body")
        } else if content_type.contains("html") || text.starts_with('<') {
            format!("{status} with an HTML page from the gateway")
        } else if serde_json::from_str::<serde_json::Value>(text).is_ok() {
            format!("{status} with a JSON body that is not a Microsoft error")
        } else {
            let kind = match content_type.split(';').next().map(str::trim) {
                Some(kind) if !kind.is_empty() => kind,
                _ => "text",
            };
            format!("{status} with a {kind} body of {} bytes", self.body.len())
        }
    }

    /// "HTTP 502 Bad Gateway".
    fn status_line(&self) -> String {
        let line = format!(
            "HTTP {} {}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or_default()
        );
        line.trim_end().to_owned()
    }

    /// `Failure` for this error response: retryable statuses carry Retry-After.
    pub fn into_failure(self, error: GraphError) -> Failure {
        if self.is_retryable_status() {
            Failure::transient(error.with_retry_after(self.retry_after), self.retry_after)
        } else {
            Failure::permanent(error)
        }
    }

    /// Parses a success body, or INTERNAL naming what did not parse.
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, GraphError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            GraphError::new(
                ErrorKind::Internal,
                format!("cannot parse the {what} response: {e}"),
            )
            .with_status(self.status.as_u16())
            .with_request_id(self.request_id.clone())
        })
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A request that got no HTTP answer. Connect failures, timeouts and broken bodies are
/// transient (GRAPH_UNAVAILABLE, retried); a request we could not even build is a bug.
pub(crate) fn transport_failure(err: &reqwest::Error) -> Failure {
    let message = error_chain(err);
    if err.is_builder() {
        return Failure::permanent(GraphError::new(ErrorKind::Internal, message));
    }
    let message = if err.is_timeout() {
        format!("request timed out: {message}")
    } else {
        message
    };
    Failure::transient(GraphError::new(ErrorKind::Unavailable, message), None)
}

/// `err` and its sources on one line (reqwest's top-level text alone hides the cause).
fn error_chain(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    /// Graph sends `innerError`; the OData text spells it `innererror`.
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner_error: Option<InnerError>,
}

#[derive(Debug, Default, Deserialize)]
struct InnerError {
    #[serde(default, rename = "request-id")]
    request_id: Option<String>,
}

/// The parts of a Graph error response that decide its classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphErrorInfo {
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl GraphErrorInfo {
    /// Lenient: a body that is not Graph's error (a gateway's HTML page, an empty body) is
    /// described instead, so the message says what came back.
    pub fn parse(raw: &RawResponse) -> GraphErrorInfo {
        let body = serde_json::from_slice::<Envelope>(&raw.body)
            .ok()
            .and_then(|e| e.error)
            .unwrap_or_default();
        let message = match body.message.filter(|m| !m.is_empty()) {
            Some(message) => message,
            // Graph's error, with its code (shown beside the message) but no text.
            None if body.code.is_some() => format!("{} without a message", raw.status_line()),
            None => raw.describe(),
        };
        let request_id = raw
            .request_id
            .clone()
            .or(body.inner_error.and_then(|i| i.request_id));
        GraphErrorInfo {
            code: body.code,
            message,
            request_id,
        }
    }

    fn code_is(&self, wanted: &str) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(wanted))
    }

    /// 401 `InvalidAuthenticationToken`: the token expired or was revoked; a new one may help.
    pub fn is_invalid_token(&self, status: StatusCode) -> bool {
        status == StatusCode::UNAUTHORIZED && self.code_is("InvalidAuthenticationToken")
    }
}

/// Maps a Graph error response to a `GraphError`.
pub(crate) fn classify_graph(api: Api, status: StatusCode, info: &GraphErrorInfo) -> GraphError {
    let kind = graph_error_kind(api, status.as_u16(), info);
    GraphError::new(kind, info.message.clone())
        .with_status(status.as_u16())
        .with_request_id(info.request_id.clone())
        .with_graph_code(info.code.clone())
}

fn graph_error_kind(api: Api, status: u16, info: &GraphErrorInfo) -> ErrorKind {
    let delta_expired = info.code_is("syncStateNotFound") || info.code_is("resyncRequired");
    match status {
        401 => ErrorKind::AuthFailed { aadsts: None },
        403 if info.code_is("Authentication_RequestFromNonPremiumTenantOrB2CTenant") => {
            ErrorKind::SignInActivityUnavailable(SignInUnavailableReason::TenantNotPremium)
        }
        403 if info.code_is("Authentication_MSGraphPermissionMissing")
            && matches!(api, Api::Users { sign_in: true } | Api::User) =>
        {
            ErrorKind::SignInActivityUnavailable(SignInUnavailableReason::MissingAuditLogPermission)
        }
        // Authorization_RequestDenied and any other 403: a permission or consent is missing.
        403 => ErrorKind::InsufficientPrivileges {
            permission: api.permission(),
        },
        400 | 410 if delta_expired => ErrorKind::DeltaTokenExpired,
        // Outlook-style 410 Gone on a delta link means the same: resynchronise.
        410 if api == Api::UsersDelta => ErrorKind::DeltaTokenExpired,
        404 if matches!(api, Api::User | Api::AssignLicense) => ErrorKind::UserNotFound,
        404 if api == Api::Group => ErrorKind::GroupNotFound,
        400 if api == Api::AssignLicense => license_refusal(&info.message),
        429 => ErrorKind::Throttled,
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

/// assignLicense's refusals all come as 400 `Request_BadRequest`; only the message tells them
/// apart, so stable parts of it are matched, in any case, and anything else is a refusal whose
/// message the admin reads.
fn license_refusal(message: &str) -> ErrorKind {
    let message = message.to_ascii_lowercase();
    let says = |part: &str| message.contains(part);
    if says("does not have a corresponding license") {
        ErrorKind::LicenseNotHeld
    } else if says("inherited from a group") {
        ErrorKind::LicenseInherited
    } else if says("does not have any available licenses") || says("not enough licenses") {
        ErrorKind::NoSeatsLeft
    } else if says("usage location") {
        ErrorKind::UsageLocationMissing
    } else {
        ErrorKind::LicenseRefused
    }
}

/// A fresh random GUID (v4 layout) for `client-request-id`, so support can trace one request.
pub(crate) fn new_client_request_id() -> String {
    let v: u128 = rand::random();
    // Version 4 and the RFC 4122 variant, so it is a well-formed GUID for Microsoft's logs.
    let v = (v & !(0xF << 76)) | (0x4 << 76);
    let v = (v & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
impl RawResponse {
    /// A response as if from the wire, for the unit tests of the modules that read them.
    pub(crate) fn fake(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status: StatusCode::from_u16(status).expect("a valid status in a test"),
            request_id: None,
            retry_after: None,
            content_type: None,
            body: body.as_bytes().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse::fake(status, body)
    }

    fn kind(api: Api, status: u16, body: &str) -> ErrorKind {
        let r = raw(status, body);
        classify_graph(api, r.status, &GraphErrorInfo::parse(&r))
            .kind()
            .clone()
    }

    #[test]
    fn inner_error_either_spelling() {
        for key in ["innerError", "innererror"] {
            let body = format!(
                r#"{{"error":{{"code":"x","message":"m","{key}":{{"request-id":"rid"}}}}}}"#
            );
            assert_eq!(
                GraphErrorInfo::parse(&raw(400, &body))
                    .request_id
                    .as_deref(),
                Some("rid")
            );
        }
    }

    #[test]
    fn forbidden_mapping() {
        let denied = r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}"#;
        assert_eq!(
            kind(Api::SubscribedSkus, 403, denied),
            ErrorKind::InsufficientPrivileges {
                permission: Permission::OrganizationReadAll
            }
        );
        let audit = r#"{"error":{"code":"Authentication_MSGraphPermissionMissing","message":"m"}}"#;
        assert_eq!(
            kind(Api::Users { sign_in: true }, 403, audit),
            ErrorKind::SignInActivityUnavailable(
                SignInUnavailableReason::MissingAuditLogPermission
            )
        );
        let premium = r#"{"error":{"code":"Authentication_RequestFromNonPremiumTenantOrB2CTenant","message":"m"}}"#;
        assert_eq!(
            kind(Api::Users { sign_in: true }, 403, premium),
            ErrorKind::SignInActivityUnavailable(SignInUnavailableReason::TenantNotPremium)
        );
    }

    #[test]
    fn license_refusals_are_told_apart_by_their_message() {
        let refusal = |message: &str| {
            let body =
                format!(r#"{{"error":{{"code":"Request_BadRequest","message":"{message}"}}}}"#);
            kind(Api::AssignLicense, 400, &body)
        };
        assert_eq!(
            refusal("User does not have a corresponding license."),
            ErrorKind::LicenseNotHeld
        );
        assert_eq!(
            refusal(
                "User license is inherited from a group membership and it cannot be removed directly from the user."
            ),
            ErrorKind::LicenseInherited
        );
        assert_eq!(
            refusal("Subscription with SKU 1 does not have any available licenses."),
            ErrorKind::NoSeatsLeft
        );
        assert_eq!(
            refusal("License assignment cannot be done for user with invalid usage location."),
            ErrorKind::UsageLocationMissing
        );
        assert_eq!(
            refusal("License 1 does not correspond to a valid company License."),
            ErrorKind::LicenseRefused
        );
        assert_eq!(
            kind(
                Api::AssignLicense,
                404,
                r#"{"error":{"code":"Request_ResourceNotFound"}}"#
            ),
            ErrorKind::UserNotFound
        );
        assert_eq!(
            kind(
                Api::AssignLicense,
                403,
                r#"{"error":{"code":"Authorization_RequestDenied"}}"#
            ),
            ErrorKind::InsufficientPrivileges {
                permission: Permission::LicenseAssignmentReadWriteAll
            }
        );
        assert_eq!(
            kind(
                Api::Group,
                404,
                r#"{"error":{"code":"Request_ResourceNotFound"}}"#
            ),
            ErrorKind::GroupNotFound
        );
        assert_eq!(
            kind(
                Api::Group,
                403,
                r#"{"error":{"code":"Authorization_RequestDenied"}}"#
            ),
            ErrorKind::InsufficientPrivileges {
                permission: Permission::GroupMemberReadAll
            }
        );
        assert_eq!(
            kind(Api::Users { sign_in: false }, 404, ""),
            ErrorKind::Internal,
            "only a user's own address answers 404 for a missing user"
        );
    }

    #[test]
    fn delta_expiry_and_statuses() {
        let expired = r#"{"error":{"code":"syncStateNotFound","message":"m"}}"#;
        assert_eq!(
            kind(Api::UsersDelta, 400, expired),
            ErrorKind::DeltaTokenExpired
        );
        assert_eq!(
            kind(Api::UsersDelta, 410, "gone"),
            ErrorKind::DeltaTokenExpired
        );
        assert_eq!(
            kind(Api::UsersDelta, 400, r#"{"error":{"code":"BadRequest"}}"#),
            ErrorKind::Internal
        );
        assert_eq!(
            kind(Api::Organization, 502, "<html>"),
            ErrorKind::Unavailable
        );
        assert_eq!(kind(Api::Organization, 429, ""), ErrorKind::Throttled);
    }

    #[test]
    fn a_body_that_is_not_a_graph_error_is_described() {
        let message = |status, content_type: Option<&str>, body: &str| {
            let mut r = raw(status, body);
            r.content_type = content_type.map(str::to_owned);
            GraphErrorInfo::parse(&r).message
        };
        let page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>";
        assert_eq!(
            message(502, Some("text/html"), page),
            "HTTP 502 Bad Gateway with an HTML page from the gateway"
        );
        assert_eq!(
            message(504, None, page),
            "HTTP 504 Gateway Timeout with an HTML page from the gateway"
        );
        assert_eq!(
            message(500, None, ""),
            "HTTP 500 Internal Server Error with an empty body"
        );
        assert_eq!(
            message(502, Some("application/json"), r#"{"message":"upstream"}"#),
            "HTTP 502 Bad Gateway with a JSON body that is not a Microsoft error"
        );
        assert_eq!(
            message(
                503,
                Some("text/plain; charset=utf-8"),
                "upstream connect error"
            ),
            "HTTP 503 Service Unavailable with a text/plain body of 22 bytes"
        );
        assert_eq!(
            message(
                504,
                None,
                r#"{"error":{"code":"UnknownError","message":""}}"#
            ),
            "HTTP 504 Gateway Timeout without a message"
        );
        assert_eq!(
            message(
                502,
                None,
                r#"{"error":{"code":"x","message":"Graph's words"}}"#
            ),
            "Graph's words"
        );
    }

    #[test]
    fn client_request_ids_are_guids() {
        let id = new_client_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_client_request_id());
    }
}
