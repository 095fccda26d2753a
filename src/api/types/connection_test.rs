use async_graphql::SimpleObject;

use crate::domain::providers;

/// The result of `testProviderConnection`.
#[derive(SimpleObject)]
pub struct ConnectionTest {
    /// True when every check passed, warnings aside.
    pub ok: bool,
    pub checks: Vec<ConnectionCheck>,
}

/// One check: `token`, `organization`, `users`, `subscriptions`, `signInActivity` or
/// `licenseWrite` (whether the app may change licenses, which reclaim needs).
#[derive(SimpleObject)]
pub struct ConnectionCheck {
    pub name: String,
    pub ok: bool,
    /// True for a check of something optional (syncs work without it): when it does not pass,
    /// it warns and leaves the test's `ok` alone.
    pub warning: bool,
    /// A stable code when the check failed, e.g. INVALID_CLIENT_SECRET.
    pub code: Option<String>,
    /// What was found, or what went wrong (with Microsoft's request id when there is one).
    pub message: String,
    /// What to do about a failure, in the words of the setup guide.
    pub hint: Option<String>,
}

impl From<Vec<providers::ConnectionCheck>> for ConnectionTest {
    fn from(checks: Vec<providers::ConnectionCheck>) -> Self {
        Self {
            ok: !checks.iter().any(providers::ConnectionCheck::failed),
            checks: checks
                .into_iter()
                .map(|check| ConnectionCheck {
                    name: check.name.to_owned(),
                    ok: check.ok,
                    warning: check.warning,
                    code: check.code,
                    message: check.message,
                    hint: check.hint,
                })
                .collect(),
        }
    }
}
