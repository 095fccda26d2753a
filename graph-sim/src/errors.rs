//! Error types: the library's own (`SimError`), Graph's error envelope (`GraphError`) and
//! Entra's token-endpoint error body (`AadError`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

/// Errors of the library API and the /_sim control endpoints.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind {0}: {1}")]
    Bind(String, #[source] std::io::Error),
    #[error("cannot read {0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("invalid tenant JSON: {0}")]
    TenantFile(#[source] serde_json::Error),
    #[error("user {0} not found")]
    UserNotFound(String),
    #[error("SKU {0} not found")]
    SkuNotFound(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("cryptography failed: {0}")]
    Crypto(String),
}

impl SimError {
    pub fn status(&self) -> StatusCode {
        match self {
            SimError::UserNotFound(_) | SimError::SkuNotFound(_) => StatusCode::NOT_FOUND,
            SimError::Conflict(_) => StatusCode::CONFLICT,
            SimError::InvalidInput(_) | SimError::TenantFile(_) => StatusCode::BAD_REQUEST,
            SimError::Bind(..) | SimError::Io(..) | SimError::Crypto(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// /_sim control endpoints answer library errors as `{"error": "..."}`.
impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        (
            self.status(),
            axum::Json(json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// Which body shape a Graph error uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphErrorKind {
    /// `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`
    Standard,
    /// The throttling sample: innerError carries `code`, `message`, `status` too.
    Throttled,
}

/// A Microsoft Graph error. Handlers return it; the request-id middleware renders the body,
/// because only it knows the request's `request-id` / `client-request-id`.
#[derive(Debug, Clone)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub kind: GraphErrorKind,
    /// Extra response headers (Retry-After, www-authenticate, x-ms-throttle-*).
    pub headers: Vec<(&'static str, String)>,
}

impl GraphError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            kind: GraphErrorKind::Standard,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// 401 with the www-authenticate header Graph sends.
    pub fn unauthenticated(message: &str) -> Self {
        GraphError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message).with_header(
            "www-authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
        )
    }

    pub fn insufficient_privileges() -> Self {
        GraphError::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub fn audit_log_missing() -> Self {
        GraphError::new(
            StatusCode::FORBIDDEN,
            "Authentication_MSGraphPermissionMissing",
            "Calling principal does not have required MSGraph permissions AuditLog.Read.All",
        )
    }

    pub fn non_premium() -> Self {
        GraphError::new(
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        )
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        GraphError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn sync_state_not_found() -> Self {
        GraphError::bad_request(
            "syncStateNotFound",
            "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
        )
    }

    pub fn internal() -> Self {
        GraphError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "General exception while processing.",
        )
    }

    pub fn bad_gateway() -> Self {
        GraphError::new(
            StatusCode::BAD_GATEWAY,
            "BadGateway",
            "The gateway received an invalid response from the upstream server.",
        )
    }

    pub fn gateway_timeout() -> Self {
        GraphError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "UnknownError",
            "The gateway did not receive a timely response from the upstream server.",
        )
    }

    /// Renders the body with the given request ids (called by the request-id middleware).
    pub fn render(&self, request_id: &str, client_request_id: &str) -> Response {
        let date = Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
        let body = match self.kind {
            GraphErrorKind::Standard => json!({
                "error": {
                    "code": self.code,
                    "message": self.message,
                    "innerError": {
                        "date": date,
                        "request-id": request_id,
                        "client-request-id": client_request_id,
                    }
                }
            }),
            GraphErrorKind::Throttled => json!({
                "error": {
                    "code": self.code,
                    "innerError": {
                        "code": self.status.as_u16().to_string(),
                        "date": date,
                        "message": "Please retry after",
                        "request-id": request_id,
                        "status": self.status.as_u16().to_string(),
                    },
                    "message": self.message,
                }
            }),
        };
        let mut resp = (self.status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(*name, v);
            }
        }
        resp
    }
}

/// The handler's response only carries the error; the middleware renders it (see `render`).
impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Marks an answer of the gateway in front of Graph, not of Graph: it carries none of Graph's
/// headers (no `request-id`), and the request-id middleware leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FromGateway;

/// The HTML error page a gateway sends instead of Graph's JSON error (as nginx-based gateways
/// and Azure Application Gateway do for 502 and 504).
pub(crate) fn gateway_page(status: StatusCode) -> Response {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n\
         <center><h1>{code} {reason}</h1></center>\r\n\
         <hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    resp.extensions_mut().insert(FromGateway);
    resp
}

/// An Entra ID (AADSTS) token-endpoint error.
#[derive(Debug, Clone)]
pub struct AadError {
    pub status: StatusCode,
    /// OAuth2 error: invalid_client, invalid_request, unauthorized_client, invalid_scope, ...
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

impl AadError {
    pub fn new(
        status: StatusCode,
        error: &'static str,
        code: u32,
        message: impl Into<String>,
    ) -> Self {
        AadError {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    /// Body as documented: `error_description` = `AADSTSnnn: msg` + CRLF trace lines.
    pub fn render(&self, correlation_id: &str) -> Response {
        let trace_id = Uuid::new_v4().to_string();
        let timestamp = Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            self.code, self.message, trace_id, correlation_id, timestamp
        );
        let body = json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        let mut resp = (self.status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&trace_id) {
            h.insert("x-ms-request-id", v);
        }
        resp
    }
}
