//! One user's licenses, re-read and changed: `GET /users/{id}` with what a reclaim must check
//! before acting, and `POST /users/{id}/assignLicense` with one SKU to add or remove.

use serde_json::json;

use super::client::{Call, GraphClient};
use super::error::{ErrorKind, GraphError};
use super::models::User;
use super::response::Api;

/// What is re-checked before a license changes: whether the account is enabled, when it last
/// signed in, and each license with the paths it comes by.
pub const LICENSE_STATE_SELECT: &str =
    "id,accountEnabled,assignedLicenses,licenseAssignmentStates,signInActivity";

/// One change of assignLicense: exactly one SKU, so that an outcome belongs to one license and
/// a repeat after a lost answer cannot touch another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseChange<'a> {
    Remove {
        sku_id: &'a str,
    },
    Add {
        sku_id: &'a str,
        disabled_plans: &'a [String],
    },
}

impl LicenseChange<'_> {
    /// The request body; Graph wants both arrays, even the empty one.
    fn body(&self) -> serde_json::Value {
        match self {
            LicenseChange::Remove { sku_id } => {
                json!({ "addLicenses": [], "removeLicenses": [sku_id] })
            }
            LicenseChange::Add {
                sku_id,
                disabled_plans,
            } => json!({
                "addLicenses": [{ "skuId": sku_id, "disabledPlans": disabled_plans }],
                "removeLicenses": [],
            }),
        }
    }
}

impl GraphClient {
    /// The user as a reclaim re-checks it; None when the directory does not have it (any more).
    /// Needs AuditLog.Read.All for the sign-in dates, as the sync's listing does.
    pub async fn user_license_state(&self, user_id: &str) -> Result<Option<User>, GraphError> {
        let url = self.url(&format!(
            "users/{}?$select={LICENSE_STATE_SELECT}",
            path_segment(user_id)
        ));
        match self.get_json(Api::User, &url).await {
            Ok(user) => Ok(Some(user)),
            Err(error) if *error.kind() == ErrorKind::UserNotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Applies `change` to the user. Throttling and outages are retried as for reads (see
    /// `RawResponse::is_retryable_status` on why a repeated change is safe); each refusal comes
    /// back as its own `ErrorKind`.
    pub async fn assign_license(
        &self,
        user_id: &str,
        change: LicenseChange<'_>,
    ) -> Result<(), GraphError> {
        let url = self.url(&format!("users/{}/assignLicense", path_segment(user_id)));
        let body = change.body();
        self.call(Call {
            api: Api::AssignLicense,
            url: &url,
            minimal: false,
            body: Some(&body),
        })
        .await
        .map(drop)
    }
}

/// `id` as one path segment: an object id passes as it is, a guest's user principal name keeps
/// its `#EXT#` from starting a fragment, and an id from elsewhere cannot add a path or query.
pub(super) fn path_segment(id: &str) -> String {
    let mut segment = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            segment.push(char::from(byte));
        } else {
            segment.push_str(&format!("%{byte:02X}"));
        }
    }
    segment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_both_arrays_and_one_sku() {
        assert_eq!(
            LicenseChange::Remove { sku_id: "s" }.body(),
            json!({ "addLicenses": [], "removeLicenses": ["s"] })
        );
        let plans = vec!["p".to_owned()];
        assert_eq!(
            LicenseChange::Add {
                sku_id: "s",
                disabled_plans: &plans
            }
            .body(),
            json!({ "addLicenses": [{ "skuId": "s", "disabledPlans": ["p"] }], "removeLicenses": [] })
        );
    }

    #[test]
    fn user_ids_stay_one_segment() {
        assert_eq!(
            path_segment("7e1c6a3b-0b1a-4c4e-9d0e-1b2c3d4e5f60"),
            "7e1c6a3b-0b1a-4c4e-9d0e-1b2c3d4e5f60"
        );
        assert_eq!(
            path_segment("jo_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
            "jo_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
        );
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
    }
}
