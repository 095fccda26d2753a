//! `GraphError`: everything that can go wrong talking to Entra ID or Graph, as a stable code
//! (docs/microsoft-365.md) with a hint an admin can act on, plus the status and request-id for
//! support.
//!
//! Classification branches on the OAuth `error`/`error_codes` and Graph `error.code`, and on
//! message text only where Graph gives nothing else: assignLicense answers most of its refusals
//! with the same `Request_BadRequest`, told apart by stable parts of the message (response.rs).
//! The messages kept here come from Microsoft's responses; none of them ever contains the
//! client secret (token.rs scrubs it defensively).

use crate::codes::Code;
use std::fmt;
use std::time::Duration;

/// An application permission on Microsoft Graph the app registration needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Users and licences (`/users`, `/users/delta`).
    UserReadAll,
    /// Subscribed SKUs, subscriptions, organization.
    OrganizationReadAll,
    /// Sign-in activity.
    AuditLogReadAll,
    /// Adding and removing users' licenses (`assignLicense`).
    LicenseAssignmentReadWriteAll,
    /// Licensing groups (`/groups/{id}`): the least of the permissions that read them.
    GroupMemberReadAll,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::UserReadAll => "User.Read.All",
            Permission::OrganizationReadAll => "Organization.Read.All",
            Permission::AuditLogReadAll => "AuditLog.Read.All",
            Permission::LicenseAssignmentReadWriteAll => "LicenseAssignment.ReadWrite.All",
            Permission::GroupMemberReadAll => "GroupMember.Read.All",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an admin grants for reclaim plans to name groups; the same words wherever it shows.
pub const GROUP_READ_HINT: &str = "Naming the groups licenses come through needs the application \
    permission GroupMember.Read.All (or Group.Read.All) on Microsoft Graph: grant it to the app \
    registration, then grant admin consent. Until then reclaim plans name such groups by id only; \
    syncs work without it.";

/// Why Graph refused `signInActivity` (two different 403s, two different fixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignInUnavailableReason {
    /// `Authentication_MSGraphPermissionMissing`: AuditLog.Read.All is not granted.
    MissingAuditLogPermission,
    /// `Authentication_RequestFromNonPremiumTenantOrB2CTenant`: no Entra ID P1/P2 (or B2C).
    TenantNotPremium,
}

/// What went wrong; decides `code()` and `hint()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// AADSTS7000215.
    InvalidClientSecret,
    /// AADSTS7000222.
    ClientSecretExpired,
    /// AADSTS700016.
    ApplicationNotFound,
    /// AADSTS90002 / 900023.
    TenantNotFound,
    /// Any other token-endpoint refusal (e.g. 7000216, 1002012, 900144), or a Graph 401 that a
    /// fresh token did not cure. Carries the AADSTS number when there is one.
    AuthFailed {
        aadsts: Option<u32>,
    },
    /// Graph 403 on an endpoint; names the permission that endpoint needs.
    InsufficientPrivileges {
        permission: Permission,
    },
    SignInActivityUnavailable(SignInUnavailableReason),
    /// users/delta: 400 `syncStateNotFound`/`resyncRequired` or 410 Gone.
    DeltaTokenExpired,
    /// `/users/{id}`: 404, the user is not (or no longer) in the directory.
    UserNotFound,
    /// `/groups/{id}`: 404, the group is not (or no longer) in the directory.
    GroupNotFound,
    /// assignLicense: removing a license the user does not hold.
    LicenseNotHeld,
    /// assignLicense: removing a license the user holds only through groups.
    LicenseInherited,
    /// assignLicense: adding a license with no seat left.
    NoSeatsLeft,
    /// assignLicense: adding a license to a user without a usage location.
    UsageLocationMissing,
    /// assignLicense: any other refusal (a SKU the tenant does not own, conflicting or missing
    /// service plans); Graph's message says which.
    LicenseRefused,
    /// Still 429 after every allowed retry.
    Throttled,
    /// 5xx, connection failures or timeouts (after retries where they apply).
    Unavailable,
    /// Unexpected status, unparseable body, bad configuration.
    Internal,
}

/// An error from the Microsoft client. `Display` gives code, message, status and request-id.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct GraphError {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    request_id: Option<String>,
    graph_code: Option<String>,
    retry_after: Option<Duration>,
}

impl GraphError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        GraphError {
            kind,
            message: message.into(),
            status: None,
            request_id: None,
            graph_code: None,
            retry_after: None,
        }
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// How long the last answer asked to wait (`Retry-After` of a 429 or 503).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id.or(self.request_id);
        self
    }

    pub(crate) fn with_graph_code(mut self, code: Option<String>) -> Self {
        self.graph_code = code;
        self
    }

    /// A local configuration problem (e.g. an unparseable override URL).
    pub(crate) fn config(message: impl Into<String>) -> Self {
        GraphError::new(ErrorKind::Internal, message)
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Microsoft's message (first line of an AADSTS description, or Graph's `error.message`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// HTTP status of the failing response, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Graph's `request-id` (or Entra's trace id for token errors), for Microsoft support.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Graph's `error.code` (e.g. `Authorization_RequestDenied`) or `AADSTS7000215`.
    pub fn graph_code(&self) -> Option<&str> {
        self.graph_code.as_deref()
    }

    /// Whether the sync engine should fall back to a full sync.
    pub fn is_delta_token_expired(&self) -> bool {
        self.kind == ErrorKind::DeltaTokenExpired
    }

    /// `Some(reason)` when only the sign-in data is unavailable, so a sync can go on without it.
    pub fn sign_in_unavailable(&self) -> Option<SignInUnavailableReason> {
        match self.kind {
            ErrorKind::SignInActivityUnavailable(r) => Some(r),
            _ => None,
        }
    }

    /// The stable code of the troubleshooting table in docs/microsoft-365.md.
    pub fn code(&self) -> Code {
        match self.kind {
            ErrorKind::InvalidClientSecret => Code::InvalidClientSecret,
            ErrorKind::ClientSecretExpired => Code::ClientSecretExpired,
            ErrorKind::ApplicationNotFound => Code::ApplicationNotFound,
            ErrorKind::TenantNotFound => Code::TenantNotFound,
            ErrorKind::AuthFailed { .. } => Code::ProviderAuthFailed,
            ErrorKind::InsufficientPrivileges { .. } => Code::InsufficientPrivileges,
            ErrorKind::SignInActivityUnavailable(_) => Code::SignInActivityUnavailable,
            ErrorKind::DeltaTokenExpired => Code::DeltaTokenExpired,
            ErrorKind::UserNotFound => Code::UserNotFound,
            ErrorKind::GroupNotFound => Code::NotFound,
            ErrorKind::LicenseNotHeld => Code::AlreadyRemoved,
            ErrorKind::LicenseInherited => Code::InheritedFromGroup,
            ErrorKind::NoSeatsLeft => Code::CountViolation,
            ErrorKind::UsageLocationMissing => Code::UsageLocationMissing,
            ErrorKind::LicenseRefused => Code::LicenseWriteRefused,
            ErrorKind::Throttled => Code::Throttled,
            ErrorKind::Unavailable => Code::ProviderUnavailable,
            ErrorKind::Internal => Code::Internal,
        }
    }

    /// What the admin should do, in the words of the setup guide.
    pub fn hint(&self) -> String {
        match &self.kind {
            ErrorKind::InvalidClientSecret => "The client secret was rejected. Use the secret's Value, not its Secret ID; \
                check for extra whitespace when copying."
                .into(),
            ErrorKind::ClientSecretExpired => "The client secret has expired. Create a new secret under Certificates & \
                secrets in the app registration and update the provider."
                .into(),
            ErrorKind::ApplicationNotFound => "Check the Application (client) ID and that the app is registered in this \
                tenant."
                .into(),
            ErrorKind::TenantNotFound => "Check the Directory (tenant) ID and the cloud.".into(),
            ErrorKind::AuthFailed { aadsts: Some(n) } => format!(
                "Microsoft Entra ID refused the sign-in (AADSTS{n}). Check the tenant ID, client ID, client secret and \
                 cloud of the provider; https://login.microsoftonline.com/error?code={n} explains the code."
            ),
            ErrorKind::AuthFailed { aadsts: None } => "Microsoft Graph refused the access token. Check that the provider's \
                cloud matches the tenant's and that the app registration is enabled."
                .into(),
            ErrorKind::InsufficientPrivileges {
                permission: Permission::LicenseAssignmentReadWriteAll,
            } => "Changing licenses needs the application permission LicenseAssignment.ReadWrite.All on Microsoft \
                Graph: grant it to the app registration, then grant admin consent. Until then reclaim stays off; \
                syncs work without it."
                .into(),
            ErrorKind::InsufficientPrivileges {
                permission: Permission::GroupMemberReadAll,
            } => GROUP_READ_HINT.into(),
            ErrorKind::InsufficientPrivileges { permission } => format!(
                "Grant the application permission {permission} (or Directory.Read.All) on Microsoft Graph to the app \
                 registration, then grant admin consent."
            ),
            ErrorKind::SignInActivityUnavailable(SignInUnavailableReason::MissingAuditLogPermission) => {
                "Sign-in dates need the application permission AuditLog.Read.All: grant it to the app registration, \
                 then grant admin consent. Users and licenses sync without it."
                    .into()
            }
            ErrorKind::SignInActivityUnavailable(SignInUnavailableReason::TenantNotPremium) => {
                "Sign-in dates need a Microsoft Entra ID P1 or P2 license in the tenant. Users and licenses sync \
                 without it."
                    .into()
            }
            ErrorKind::DeltaTokenExpired => "The change-tracking token expired (Microsoft keeps them 7 days); a full \
                sync brings the data up to date."
                .into(),
            ErrorKind::UserNotFound => "The user is no longer in the tenant's directory (deleted, or the id is \
                wrong); nothing was changed. The next sync records the departure."
                .into(),
            ErrorKind::GroupNotFound => "The group is no longer in the tenant's directory; the next full sync \
                updates the licenses that came through it."
                .into(),
            ErrorKind::LicenseNotHeld => "The user no longer holds this license: the seat is already free."
                .into(),
            ErrorKind::LicenseInherited => "The user holds this license only through group membership, which \
                assignLicense cannot remove. Remove the user from the group in Microsoft Entra ID (a dynamic group \
                through its rule, a group synced from on-premises in Active Directory)."
                .into(),
            ErrorKind::NoSeatsLeft => "No seat of this license is free: it was given to someone else. Free a seat \
                or buy one in the Microsoft 365 admin center, then try again."
                .into(),
            ErrorKind::UsageLocationMissing => "Microsoft assigns a license directly only to a user with a usage \
                location. Set the user's usage location in Microsoft Entra ID (or the Microsoft 365 admin center), \
                then try again."
                .into(),
            ErrorKind::LicenseRefused => "Microsoft refused the license change; its message says why (a SKU the \
                tenant no longer owns, service plans that conflict or depend on another license). Resolve it in \
                the Microsoft 365 admin center."
                .into(),
            ErrorKind::Throttled => "Microsoft Graph kept throttling the requests. The sync will work again later; \
                avoid running other tools against this tenant with the same app at the same time."
                .into(),
            ErrorKind::Unavailable => "Microsoft Graph could not be reached or was unavailable. Check the network, \
                proxy and the provider's cloud, then try again later."
                .into(),
            ErrorKind::Internal => "An unexpected response or setting. Report it with the request-id shown.".into(),
        }
    }

    fn render(&self) -> String {
        let mut s = format!("{}: {}", self.code(), self.message);
        if let Some(code) = &self.graph_code {
            s.push_str(&format!(" [{code}]"));
        }
        if let Some(status) = self.status {
            s.push_str(&format!(" (HTTP {status}"));
            if let Some(id) = &self.request_id {
                s.push_str(&format!(", request-id {id}"));
            }
            s.push(')');
        } else if let Some(id) = &self.request_id {
            s.push_str(&format!(" (request-id {id})"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_code_status_and_request_id() {
        let e = GraphError::new(
            ErrorKind::InsufficientPrivileges {
                permission: Permission::UserReadAll,
            },
            "nope",
        )
        .with_status(403)
        .with_request_id(Some("rid-1".into()))
        .with_graph_code(Some("Authorization_RequestDenied".into()));
        assert_eq!(
            e.to_string(),
            "INSUFFICIENT_PRIVILEGES: nope [Authorization_RequestDenied] (HTTP 403, request-id rid-1)"
        );
        assert!(e.hint().contains("User.Read.All"));
        assert!(e.hint().contains("admin consent"));
    }

    #[test]
    fn sign_in_reasons_have_distinct_hints() {
        let a = GraphError::new(
            ErrorKind::SignInActivityUnavailable(
                SignInUnavailableReason::MissingAuditLogPermission,
            ),
            "x",
        );
        let b = GraphError::new(
            ErrorKind::SignInActivityUnavailable(SignInUnavailableReason::TenantNotPremium),
            "x",
        );
        assert_eq!(a.code(), b.code());
        assert!(a.hint().contains("AuditLog.Read.All"));
        assert!(b.hint().contains("P1 or P2"));
    }
}
