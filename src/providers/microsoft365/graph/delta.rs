//! `GET /users/delta`: change tracking between full syncs.
//!
//! A round is a chain of pages ending in an `@odata.deltaLink`, which the caller stores and
//! passes back (verbatim) to get the next round's changes. Items are partial: only changed
//! properties may be present (`Prefer: return=minimal`), so every property is a [`Patch`]
//! telling "absent" (keep the stored value) from "null" (clear it).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::client::GraphClient;
use super::error::GraphError;
use super::lenient::{Patch, patch_datetime};
use super::models::AssignedLicense;
use super::paging::{PageRequest, PageStream, pages};
use super::response::Api;

/// Tracked properties. signInActivity is not selectable in delta (400), and
/// licenseAssignmentStates changes are not tracked, so neither is asked for.
pub const DELTA_SELECT: &str = "id,userPrincipalName,mail,displayName,accountEnabled,userType,createdDateTime,assignedLicenses";

/// Where a delta round starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaStart {
    /// Every user, then a deltaLink (an initial round).
    Initial,
    /// No users, just a deltaLink from now (`$deltatoken=latest`). Taken before a full listing,
    /// it makes the next round replay whatever changed during that listing.
    Latest,
    /// A stored deltaLink, followed verbatim.
    Link(String),
}

/// Options of a delta round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeltaOptions {
    /// `Prefer: return=minimal`: changed users carry only their changed properties.
    pub minimal: bool,
}

/// One entry of a delta page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawDeltaItem")]
pub enum DeltaItem {
    /// Created, restored or changed: merge the present properties.
    User(UserDelta),
    /// `@removed`: soft-deleted (`Changed`) or deleted for good (`Deleted`).
    Removed { id: String, reason: RemovedReason },
}

/// Why a user left the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemovedReason {
    /// Soft-deleted (recycle bin; may be restored within 30 days).
    Changed,
    /// Permanently deleted.
    Deleted,
    /// A reason this client does not know; treat like `Changed`.
    Other(String),
}

impl RemovedReason {
    fn parse(reason: Option<String>) -> RemovedReason {
        match reason {
            Some(r) if r.eq_ignore_ascii_case("changed") => RemovedReason::Changed,
            Some(r) if r.eq_ignore_ascii_case("deleted") => RemovedReason::Deleted,
            other => RemovedReason::Other(other.unwrap_or_default()),
        }
    }
}

/// A user as users/delta reports it: any property may be absent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDelta {
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Patch<String>,
    #[serde(default)]
    pub mail: Patch<String>,
    #[serde(default)]
    pub display_name: Patch<String>,
    #[serde(default)]
    pub account_enabled: Patch<bool>,
    #[serde(default)]
    pub user_type: Patch<String>,
    #[serde(default, deserialize_with = "patch_datetime")]
    pub created_date_time: Patch<DateTime<Utc>>,
    /// Null is read as "no licenses" by the sync engine; Graph documents it as not nullable.
    #[serde(default)]
    pub assigned_licenses: Patch<Vec<AssignedLicense>>,
}

#[derive(Deserialize)]
struct RawDeltaItem {
    #[serde(flatten)]
    user: UserDelta,
    #[serde(default, rename = "@removed")]
    removed: Option<Removed>,
}

#[derive(Deserialize)]
struct Removed {
    #[serde(default)]
    reason: Option<String>,
}

impl From<RawDeltaItem> for DeltaItem {
    fn from(raw: RawDeltaItem) -> Self {
        match raw.removed {
            Some(r) => DeltaItem::Removed {
                id: raw.user.id,
                reason: RemovedReason::parse(r.reason),
            },
            None => DeltaItem::User(raw.user),
        }
    }
}

impl GraphClient {
    /// A delta round as a stream of pages; the last page carries `delta_link`. An expired
    /// link ends the stream with DELTA_TOKEN_EXPIRED (`GraphError::is_delta_token_expired`):
    /// drop the link and run a full sync.
    pub fn users_delta(&self, start: DeltaStart, options: DeltaOptions) -> PageStream<DeltaItem> {
        let url = match start {
            DeltaStart::Initial => self.url(&format!("users/delta?$select={DELTA_SELECT}")),
            DeltaStart::Latest => self.url(&format!(
                "users/delta?$select={DELTA_SELECT}&$deltatoken=latest"
            )),
            DeltaStart::Link(link) => link,
        };
        pages(
            self.clone(),
            PageRequest {
                api: Api::UsersDelta,
                minimal: options.minimal,
            },
            url,
        )
    }

    /// The deltaLink for "changes from now on" (`$deltatoken=latest`).
    pub async fn latest_delta_link(&self) -> Result<String, GraphError> {
        let url = self.url(&format!(
            "users/delta?$select={DELTA_SELECT}&$deltatoken=latest"
        ));
        let page: LinkOnly = self.get_json(Api::UsersDelta, &url).await?;
        page.delta_link.ok_or_else(|| {
            GraphError::new(
                super::error::ErrorKind::Internal,
                "users/delta with $deltatoken=latest returned no deltaLink",
            )
        })
    }
}

#[derive(Deserialize)]
struct LinkOnly {
    #[serde(default, rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_and_minimal_items() {
        let items: Vec<DeltaItem> = serde_json::from_str(
            r#"[{"id":"a","@removed":{"reason":"deleted"}},
                {"id":"b","@removed":{"reason":"changed"}},
                {"id":"c","displayName":"New","mail":null},
                {"id":"d","displayName":"D","userPrincipalName":"d@x","accountEnabled":true,"assignedLicenses":[{"skuId":"s"}]}]"#,
        )
        .unwrap();
        assert_eq!(
            items[0],
            DeltaItem::Removed {
                id: "a".into(),
                reason: RemovedReason::Deleted
            }
        );
        assert_eq!(
            items[1],
            DeltaItem::Removed {
                id: "b".into(),
                reason: RemovedReason::Changed
            }
        );
        let DeltaItem::User(c) = &items[2] else {
            panic!("user expected")
        };
        assert_eq!(c.display_name, Patch::Value("New".into()));
        assert_eq!(c.mail, Patch::Null);
        assert!(c.account_enabled.is_absent() && c.assigned_licenses.is_absent());
        let DeltaItem::User(d) = &items[3] else {
            panic!("user expected")
        };
        assert!(matches!(&d.assigned_licenses, Patch::Value(l) if l.len() == 1));
    }
}
