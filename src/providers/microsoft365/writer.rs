//! Licenses changed through Graph's assignLicense, one user and one SKU at a time, and whether
//! the app may: read from its access token's `roles`, so nothing is written to find out.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::graph::{ErrorKind, GraphError, LicenseChange, Permission, TokenInfo};
use super::mapping::{licenses, sign_in_dates};
use super::provider::Microsoft365;
use crate::codes::Code;
use crate::providers::{
    LicenseChanged, LicenseState, LicenseWriteError, LicenseWriter, WriteAccess, WriteFailure,
};

/// Application permissions that allow assignLicense: the least one first, then the broader
/// ones Graph also accepts.
const WRITE_PERMISSIONS: [&str; 3] = [
    "LicenseAssignment.ReadWrite.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// What an admin must do for reclaim to work; the same words in the connection test.
const GRANT_HINT: &str = "Grant the application permission LicenseAssignment.ReadWrite.All on \
    Microsoft Graph to the app registration, grant admin consent, then test the connection \
    again. Until then reclaim stays off for this provider; syncs work without it.";

/// Whether a token (or the failure to get one) allows license writes.
pub(super) fn access(token: Result<TokenInfo, GraphError>) -> WriteAccess {
    let roles = match token {
        Ok(TokenInfo {
            roles: Some(roles), ..
        }) => roles,
        Ok(TokenInfo { roles: None, .. }) => {
            return WriteAccess {
                allowed: false,
                code: Some(Code::Internal),
                message: "the access token does not say which permissions the app holds".into(),
                hint: Some(
                    "Check that LM_MICROSOFT_LOGIN_URL reaches Microsoft Entra ID itself, \
                     not a proxy that replaces its tokens."
                        .into(),
                ),
            };
        }
        Err(error) => {
            return WriteAccess {
                allowed: false,
                code: Some(error.code()),
                message: format!("not checked: signing in failed ({error})"),
                hint: Some(error.hint()),
            };
        }
    };
    let granted = WRITE_PERMISSIONS
        .into_iter()
        .find(|wanted| roles.iter().any(|role| role.eq_ignore_ascii_case(wanted)));
    match granted {
        Some(permission) => WriteAccess {
            allowed: true,
            code: None,
            message: format!("the app may change licenses ({permission})"),
            hint: None,
        },
        None => WriteAccess {
            allowed: false,
            code: Some(Code::InsufficientPrivileges),
            message: format!(
                "the app holds none of {}: licenses can be read, not changed",
                WRITE_PERMISSIONS.join(", ")
            ),
            hint: Some(GRANT_HINT.into()),
        },
    }
}

/// A Graph failure as the outcome a reclaim records.
fn write_error(error: GraphError) -> LicenseWriteError {
    let failure = match error.kind() {
        ErrorKind::LicenseInherited => WriteFailure::InheritedFromGroup,
        ErrorKind::UserNotFound => WriteFailure::UserNotFound,
        ErrorKind::NoSeatsLeft => WriteFailure::CountViolation,
        ErrorKind::UsageLocationMissing => WriteFailure::UsageLocationMissing,
        ErrorKind::InsufficientPrivileges { .. } => WriteFailure::InsufficientPrivileges,
        ErrorKind::Throttled => WriteFailure::Throttled {
            retry_after: error.retry_after(),
        },
        ErrorKind::Unavailable => WriteFailure::Unavailable,
        _ => WriteFailure::Other(error.code()),
    };
    let hint = match failure {
        WriteFailure::InsufficientPrivileges
            if *error.kind()
                == (ErrorKind::InsufficientPrivileges {
                    permission: Permission::LicenseAssignmentReadWriteAll,
                }) =>
        {
            GRANT_HINT.to_owned()
        }
        _ => error.hint(),
    };
    LicenseWriteError {
        failure,
        message: error.to_string(),
        hint,
    }
}

impl Microsoft365 {
    async fn change(
        &self,
        user_id: &str,
        change: LicenseChange<'_>,
    ) -> Result<LicenseChanged, LicenseWriteError> {
        let done = match change {
            LicenseChange::Remove { .. } => LicenseChanged::Removed,
            LicenseChange::Add { .. } => LicenseChanged::Added,
        };
        match self.graph.assign_license(user_id, change).await {
            Ok(()) => Ok(done),
            Err(error) if *error.kind() == ErrorKind::LicenseNotHeld => {
                Ok(LicenseChanged::AlreadyRemoved)
            }
            Err(error) => Err(write_error(error)),
        }
    }
}

impl LicenseWriter for Microsoft365 {
    fn write_access(&self) -> BoxFuture<'_, WriteAccess> {
        async move { access(self.graph.current_token().await) }.boxed()
    }

    fn license_state<'a>(
        &'a self,
        user_external_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<LicenseState>, LicenseWriteError>> {
        async move {
            let user = self
                .graph
                .user_license_state(user_external_id)
                .await
                .map_err(write_error)?;
            Ok(user.map(|user| LicenseState {
                licenses: licenses(&user),
                sign_in: user
                    .sign_in_activity
                    .as_ref()
                    .map(sign_in_dates)
                    .unwrap_or_default(),
                // Graph leaves it out only for objects that cannot sign in at all.
                account_enabled: user.account_enabled.unwrap_or(true),
                external_id: user.id,
            }))
        }
        .boxed()
    }

    fn remove_license<'a>(
        &'a self,
        user_external_id: &'a str,
        sku_external_id: &'a str,
    ) -> BoxFuture<'a, Result<LicenseChanged, LicenseWriteError>> {
        let change = LicenseChange::Remove {
            sku_id: sku_external_id,
        };
        self.change(user_external_id, change).boxed()
    }

    fn add_license<'a>(
        &'a self,
        user_external_id: &'a str,
        sku_external_id: &'a str,
        disabled_plans: &'a [String],
    ) -> BoxFuture<'a, Result<LicenseChanged, LicenseWriteError>> {
        let change = LicenseChange::Add {
            sku_id: sku_external_id,
            disabled_plans,
        };
        self.change(user_external_id, change).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(roles: &[&str]) -> Result<TokenInfo, GraphError> {
        Ok(TokenInfo {
            expires_at: chrono::Utc::now(),
            roles: Some(roles.iter().map(|r| (*r).to_owned()).collect()),
        })
    }

    #[test]
    fn the_least_or_a_broader_permission_allows_writes() {
        for role in WRITE_PERMISSIONS {
            assert!(access(token(&["User.Read.All", role])).allowed, "{role}");
        }
        assert!(access(token(&["licenseassignment.readwrite.all"])).allowed);
        let denied = access(token(&["User.Read.All", "Directory.Read.All"]));
        assert!(!denied.allowed);
        assert_eq!(denied.code, Some(Code::InsufficientPrivileges));
        assert!(
            denied
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("LicenseAssignment.ReadWrite.All")
                    && h.contains("reclaim stays off"))
        );
    }
}
