//! `GET /users`: the full listing (with or without sign-in activity) and the light sign-in
//! listing used between full syncs.

use super::client::GraphClient;
use super::models::{User, UserSignIn};
use super::paging::{PageRequest, PageStream, pages};
use super::response::Api;

/// Exactly the properties a sync stores (`$select` also keeps pages small and cheap: -1 RU).
pub const USER_SELECT: &str = "id,userPrincipalName,mail,displayName,accountEnabled,userType,createdDateTime,assignedLicenses,licenseAssignmentStates";
/// Graph's maximum `$top` for `/users`.
pub const MAX_PAGE_SIZE: u32 = 999;
/// Maximum `$top` when `signInActivity` is selected (v1.0 docs; pages may come back shorter).
pub const MAX_SIGN_IN_PAGE_SIZE: u32 = 500;

/// What a user listing asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Also select `signInActivity` (needs AuditLog.Read.All and Entra ID P1/P2).
    pub sign_in_activity: bool,
    /// `$top`; defaults to, and is capped at, the largest size Graph allows for the selection.
    pub page_size: Option<u32>,
}

impl UserQuery {
    fn top(&self) -> u32 {
        let max = if self.sign_in_activity {
            MAX_SIGN_IN_PAGE_SIZE
        } else {
            MAX_PAGE_SIZE
        };
        self.page_size.map_or(max, |n| n.clamp(1, max))
    }

    fn path(&self) -> String {
        let select = if self.sign_in_activity {
            format!("{USER_SELECT},signInActivity")
        } else {
            USER_SELECT.to_string()
        };
        format!("users?$select={select}&$top={}", self.top())
    }
}

impl GraphClient {
    /// Every user, page by page. With `sign_in_activity`, a 403 ends the stream with
    /// SIGN_IN_ACTIVITY_UNAVAILABLE; the caller can list again without it.
    pub fn users(&self, query: UserQuery) -> PageStream<User> {
        let request = PageRequest {
            api: Api::Users {
                sign_in: query.sign_in_activity,
            },
            minimal: false,
        };
        pages(self.clone(), request, self.url(&query.path()))
    }

    /// `$select=id,signInActivity` at 500 per page: refreshes sign-in dates, which users/delta
    /// cannot carry.
    pub fn sign_in_activity(&self) -> PageStream<UserSignIn> {
        let request = PageRequest {
            api: Api::Users { sign_in: true },
            minimal: false,
        };
        pages(
            self.clone(),
            request,
            self.url(&format!(
                "users?$select=id,signInActivity&$top={MAX_SIGN_IN_PAGE_SIZE}"
            )),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_follow_the_selection() {
        assert_eq!(
            UserQuery::default().path(),
            format!("users?$select={USER_SELECT}&$top=999")
        );
        let q = UserQuery {
            sign_in_activity: true,
            page_size: None,
        };
        assert_eq!(
            q.path(),
            format!("users?$select={USER_SELECT},signInActivity&$top=500")
        );
        assert_eq!(
            UserQuery {
                sign_in_activity: true,
                page_size: Some(999)
            }
            .top(),
            500
        );
        assert_eq!(
            UserQuery {
                sign_in_activity: false,
                page_size: Some(0)
            }
            .top(),
            1
        );
    }
}
