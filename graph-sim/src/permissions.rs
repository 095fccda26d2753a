//! The application permissions (app roles of Microsoft Graph) granted to the simulated app,
//! what each Graph route accepts, and the names the access token's `roles` claim carries.
//!
//! Graph accepts a broader permission wherever a narrower one suffices: the route checks below
//! list every permission Microsoft documents for the calls the simulator serves.

use serde::{Deserialize, Serialize};

use crate::errors::SimError;

pub const USER_READ_ALL: &str = "User.Read.All";
pub const ORGANIZATION_READ_ALL: &str = "Organization.Read.All";
pub const AUDIT_LOG_READ_ALL: &str = "AuditLog.Read.All";
pub const DIRECTORY_READ_ALL: &str = "Directory.Read.All";
pub const GROUP_MEMBER_READ_ALL: &str = "GroupMember.Read.All";
pub const GROUP_READ_ALL: &str = "Group.Read.All";
pub const LICENSE_ASSIGNMENT_READ_WRITE_ALL: &str = "LicenseAssignment.ReadWrite.All";
pub const USER_READ_WRITE_ALL: &str = "User.ReadWrite.All";
pub const DIRECTORY_READ_WRITE_ALL: &str = "Directory.ReadWrite.All";

/// Application permissions granted (with admin consent) to the simulated app. Missing fields of
/// a JSON object take their defaults: the read permissions license-manager asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Permissions {
    /// User.Read.All: /users and /users/delta.
    pub user_read_all: bool,
    /// Organization.Read.All: /subscribedSkus, /directory/subscriptions, /organization.
    pub organization_read_all: bool,
    /// AuditLog.Read.All: selecting signInActivity.
    pub audit_log_read_all: bool,
    /// Directory.Read.All: every read above except signInActivity, and groups.
    pub directory_read_all: bool,
    /// GroupMember.Read.All: the least privileged permission for `GET /groups/{id}`.
    pub group_member_read_all: bool,
    /// Group.Read.All: groups.
    pub group_read_all: bool,
    /// LicenseAssignment.ReadWrite.All: the least privileged permission for assignLicense.
    pub license_assignment_read_write_all: bool,
    /// User.ReadWrite.All: users, and assignLicense.
    pub user_read_write_all: bool,
    /// Directory.ReadWrite.All: everything the simulator serves except signInActivity.
    pub directory_read_write_all: bool,
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions::none().with_reads()
    }
}

impl Permissions {
    /// No permission at all.
    pub fn none() -> Self {
        Permissions {
            user_read_all: false,
            organization_read_all: false,
            audit_log_read_all: false,
            directory_read_all: false,
            group_member_read_all: false,
            group_read_all: false,
            license_assignment_read_write_all: false,
            user_read_write_all: false,
            directory_read_write_all: false,
        }
    }

    /// Adds the read permissions license-manager's sync asks for (the default grant).
    pub fn with_reads(mut self) -> Self {
        self.user_read_all = true;
        self.organization_read_all = true;
        self.audit_log_read_all = true;
        self
    }

    /// Adds what reclaiming licences needs on top of the reads: GroupMember.Read.All (to tell
    /// dynamic and synced groups apart) and LicenseAssignment.ReadWrite.All.
    pub fn with_license_writes(mut self) -> Self {
        self.group_member_read_all = true;
        self.license_assignment_read_write_all = true;
        self
    }

    /// From permission names (case-insensitive); unknown names are refused, so that a typo in
    /// a test does not silently grant nothing.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, SimError> {
        let mut p = Permissions::none();
        for name in names {
            let name = name.as_ref();
            let slot = p
                .slots()
                .into_iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, slot)| slot);
            match slot {
                Some(slot) => *slot = true,
                None => {
                    return Err(SimError::InvalidInput(format!(
                        "unknown permission '{name}'; known: {}",
                        Permissions::known_names().join(", ")
                    )));
                }
            }
        }
        Ok(p)
    }

    /// The names of the granted permissions, as the `roles` claim lists them.
    pub fn names(&self) -> Vec<&'static str> {
        let mut copy = *self;
        copy.slots()
            .into_iter()
            .filter(|(_, granted)| **granted)
            .map(|(name, _)| name)
            .collect()
    }

    /// Every permission the simulator knows.
    pub fn known_names() -> Vec<&'static str> {
        Permissions::none()
            .slots()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// The one list pairing names with fields.
    fn slots(&mut self) -> [(&'static str, &mut bool); 9] {
        [
            (USER_READ_ALL, &mut self.user_read_all),
            (ORGANIZATION_READ_ALL, &mut self.organization_read_all),
            (AUDIT_LOG_READ_ALL, &mut self.audit_log_read_all),
            (DIRECTORY_READ_ALL, &mut self.directory_read_all),
            (GROUP_MEMBER_READ_ALL, &mut self.group_member_read_all),
            (GROUP_READ_ALL, &mut self.group_read_all),
            (
                LICENSE_ASSIGNMENT_READ_WRITE_ALL,
                &mut self.license_assignment_read_write_all,
            ),
            (USER_READ_WRITE_ALL, &mut self.user_read_write_all),
            (DIRECTORY_READ_WRITE_ALL, &mut self.directory_read_write_all),
        ]
    }

    fn directory_reads(&self) -> bool {
        self.directory_read_all || self.directory_read_write_all
    }

    /// `GET /users`, `/users/{id}`, `/users/delta`.
    pub fn can_read_users(&self) -> bool {
        self.user_read_all || self.user_read_write_all || self.directory_reads()
    }

    /// `/subscribedSkus`, `/directory/subscriptions`, `/organization`.
    pub fn can_read_organization(&self) -> bool {
        self.organization_read_all || self.directory_reads()
    }

    /// `$select=signInActivity` (only AuditLog.Read.All; Directory.* does not cover it).
    pub fn can_read_sign_ins(&self) -> bool {
        self.audit_log_read_all
    }

    /// `GET /groups/{id}`.
    pub fn can_read_groups(&self) -> bool {
        self.group_member_read_all || self.group_read_all || self.directory_reads()
    }

    /// `POST /users/{id}/assignLicense`.
    pub fn can_assign_licenses(&self) -> bool {
        self.license_assignment_read_write_all
            || self.user_read_write_all
            || self.directory_read_write_all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let p = Permissions::default().with_license_writes();
        assert_eq!(Permissions::from_names(&p.names()).unwrap(), p);
        assert_eq!(
            Permissions::default().names(),
            [USER_READ_ALL, ORGANIZATION_READ_ALL, AUDIT_LOG_READ_ALL]
        );
        assert!(Permissions::from_names(&["Mail.Read"]).is_err());
    }

    #[test]
    fn broader_permissions_cover_narrower_ones() {
        let write = Permissions::from_names(&[DIRECTORY_READ_WRITE_ALL]).unwrap();
        assert!(write.can_assign_licenses() && write.can_read_users() && write.can_read_groups());
        assert!(!write.can_read_sign_ins());
        assert!(!Permissions::default().can_assign_licenses());
        assert!(!Permissions::default().can_read_groups());
    }
}
