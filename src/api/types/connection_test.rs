use async_graphql::SimpleObject;

use crate::domain::providers;

/// The result of `testProviderConnection`.
#[derive(SimpleObject)]
pub struct ConnectionTest {
    /// True when every check passed.
    pub ok: bool,
    pub checks: Vec<ConnectionCheck>,
}

/// One check: `token`, `organization`, `users`, `subscriptions` or `signInActivity`.
#[derive(SimpleObject)]
pub struct ConnectionCheck {
    pub name: String,
    pub ok: bool,
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
            ok: checks.iter().all(|check| check.ok),
            checks: checks
                .into_iter()
                .map(|check| ConnectionCheck {
                    name: check.name.to_owned(),
                    ok: check.ok,
                    code: check.code,
                    message: check.message,
                    hint: check.hint,
                })
                .collect(),
        }
    }
}
