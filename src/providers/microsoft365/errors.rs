//! Graph's failures as provider errors: the stable code, and a hint in the words of the
//! Microsoft 365 set-up (docs/microsoft-365.md) an admin can act on.

use super::graph::{GraphError, SignInUnavailableReason};
use crate::providers::{ProviderError, ProviderErrorKind, SignInGap};

impl From<GraphError> for ProviderError {
    fn from(error: GraphError) -> Self {
        let kind = if error.is_delta_token_expired() {
            ProviderErrorKind::DeltaExpired
        } else {
            match error.sign_in_unavailable() {
                Some(SignInUnavailableReason::MissingAuditLogPermission) => {
                    ProviderErrorKind::SignInUnavailable(SignInGap::MissingPermission)
                }
                Some(SignInUnavailableReason::TenantNotPremium) => {
                    ProviderErrorKind::SignInUnavailable(SignInGap::NotPremium)
                }
                None => ProviderErrorKind::Other,
            }
        };
        let hint = match kind {
            ProviderErrorKind::SignInUnavailable(gap) => sign_in_hint(gap).to_owned(),
            _ => error.hint(),
        };
        Self {
            code: error.code(),
            message: error.to_string(),
            hint,
            kind,
        }
    }
}

/// What a sync without sign-in dates tells the admin to do: a sync warns, it does not fail.
fn sign_in_hint(gap: SignInGap) -> &'static str {
    match gap {
        SignInGap::MissingPermission => {
            "Grant the application permission AuditLog.Read.All on Microsoft Graph and press \
             Grant admin consent; sign-in dates appear at the next sync."
        }
        SignInGap::NotPremium => {
            "Sign-in dates need a Microsoft Entra ID P1 or P2 licence in the tenant; without \
             it, users and licenses sync completely but inactivity cannot be judged."
        }
    }
}
