//! The one catalogue of stable codes: what clients and scripts branch on, wherever a failure
//! arrives — a GraphQL error's `extensions.code`, an HTTP route's error body, a connection check,
//! a sync run's error or warnings. docs/api.md lists each with its meaning, and a test fails
//! when one is missing there. Codes are part of the public contract: add, never rename.

use std::fmt;

macro_rules! catalogue {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)+
        }

        impl Code {
            /// Every code, in the catalogue's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)+
                }
            }
        }
    };
}

catalogue! {
    // The request itself.
    /// A body or query string that is not a request this route reads.
    BadRequest => "BAD_REQUEST",
    /// A method the route does not answer.
    MethodNotAllowed => "METHOD_NOT_ALLOWED",
    /// A body over the size limit.
    PayloadTooLarge => "PAYLOAD_TOO_LARGE",
    /// A body of a type the route does not read.
    UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
    /// Too many requests from this client; `Retry-After` says when to come back.
    TooManyRequests => "TOO_MANY_REQUESTS",
    /// The server cannot serve now (at its connection cap, or its database does not answer).
    Unavailable => "UNAVAILABLE",
    /// No valid bearer token.
    Unauthenticated => "UNAUTHENTICATED",
    /// A valid token whose role may not do this.
    Forbidden => "FORBIDDEN",
    /// An argument, input field or document the server refuses, limits included.
    BadUserInput => "BAD_USER_INPUT",
    /// An id that names nothing, or a path no route serves.
    NotFound => "NOT_FOUND",
    /// The state forbids it now (a sync already active, a provider that exists).
    Conflict => "CONFLICT",
    /// The request ran past its time budget and was cancelled.
    Timeout => "TIMEOUT",
    /// An operation over a websocket (a subscription, or a query or mutation sent there) past
    /// the cap of its socket or of the process.
    TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
    /// The server failed; its log has the details.
    Internal => "INTERNAL",

    // A provider's service, in connection checks and sync runs.
    /// The service refused the client secret.
    InvalidClientSecret => "INVALID_CLIENT_SECRET",
    /// The client secret has expired.
    ClientSecretExpired => "CLIENT_SECRET_EXPIRED",
    /// No application with the client id in the tenant.
    ApplicationNotFound => "APPLICATION_NOT_FOUND",
    /// The tenant does not exist.
    TenantNotFound => "TENANT_NOT_FOUND",
    /// The service refused the sign-in for another reason.
    ProviderAuthFailed => "PROVIDER_AUTH_FAILED",
    /// A permission is missing or not consented.
    InsufficientPrivileges => "INSUFFICIENT_PRIVILEGES",
    /// Sign-in dates cannot be read; the sync goes on without them.
    SignInActivityUnavailable => "SIGN_IN_ACTIVITY_UNAVAILABLE",
    /// The service kept throttling beyond the retry budget.
    Throttled => "THROTTLED",
    /// The service kept failing or could not be reached. Named after Microsoft Graph, the first
    /// provider's service, when the contract was written; it stands for any provider's.
    ProviderUnavailable => "GRAPH_UNAVAILABLE",
    /// The stored change-tracking link was refused; the run fell back to a full sync.
    DeltaTokenExpired => "DELTA_TOKEN_EXPIRED",

    // A license change at a provider's service (reclaim and its undo).
    /// The user's license was removed.
    Removed => "REMOVED",
    /// The license was added (or its disabled plans set) for the user.
    Added => "ADDED",
    /// The user no longer held the license (perhaps removed by an earlier attempt whose answer
    /// was lost): its seat is free, nothing was changed.
    AlreadyRemoved => "ALREADY_REMOVED",
    /// The user holds the license only through groups; it can only be removed through them.
    InheritedFromGroup => "INHERITED_FROM_GROUP",
    /// The user is not in the provider's directory any more.
    UserNotFound => "USER_NOT_FOUND",
    /// No seat of the license is free (on undo: it was given to someone else).
    CountViolation => "COUNT_VIOLATION",
    /// The user has no usage location, which a direct license assignment needs.
    UsageLocationMissing => "USAGE_LOCATION_MISSING",
    /// Reclaim left the license alone: the finding no longer held when its turn came (the user
    /// signed in, the account was enabled again, the license went, …).
    SkippedStale => "SKIPPED_STALE",
    /// The service refused the change for another reason; its message says which.
    LicenseWriteRefused => "LICENSE_WRITE_REFUSED",
    /// This kind of provider cannot change licenses.
    LicenseWriteUnsupported => "LICENSE_WRITE_UNSUPPORTED",
    /// The groups licenses come through could not be read (a permission missing, the service
    /// unavailable): a reclaim plan names them by id only. The message says why.
    GroupsUnavailable => "GROUPS_UNAVAILABLE",

    // How a sync run ended.
    /// The process running the sync stopped before it finished.
    Interrupted => "INTERRUPTED",
    /// `cancelSync` stopped the run.
    Cancelled => "CANCELLED",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Code> for String {
    fn from(code: Code) -> Self {
        code.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::Code;

    #[test]
    fn no_two_codes_share_a_name() {
        let names: HashSet<&str> = Code::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len());
    }
}
