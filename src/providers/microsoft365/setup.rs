//! What an admin grants the app registration in Entra ID, and the guide that walks through it
//! (docs/microsoft-365.md, served by the binary). The list follows what the client reads: a new
//! read that needs another permission adds it here.

use super::graph::Permission as GraphPermission;
use crate::providers::{Guide, KindSetup, Permission};

pub const GUIDE: Guide = Guide {
    slug: "microsoft-365",
    title: "Connecting a Microsoft 365 tenant",
    markdown: include_str!("../../../docs/microsoft-365.md"),
};

/// Application permissions on Microsoft Graph, each needing admin consent.
pub fn setup() -> KindSetup {
    KindSetup {
        display_name: "Microsoft 365",
        permissions: vec![
            Permission {
                name: GraphPermission::UserReadAll.as_str(),
                reason: "Lists the users with their assigned licenses, account state and \
                         creation date.",
                required: true,
            },
            Permission {
                name: GraphPermission::OrganizationReadAll.as_str(),
                reason: "Reads the subscribed SKUs (seat counts) and the commerce subscriptions \
                         behind them.",
                required: true,
            },
            Permission {
                name: GraphPermission::AuditLogReadAll.as_str(),
                reason: "Reads each user's last sign-in dates, for the inactivity findings; also \
                         needs Microsoft Entra ID P1 or P2 in the tenant. Without it syncs \
                         succeed, without sign-in dates.",
                required: false,
            },
            Permission {
                name: "Directory.Read.All",
                reason: "Only if your organization prefers one broad read grant over \
                         User.Read.All and Organization.Read.All.",
                required: false,
            },
            Permission {
                name: GraphPermission::LicenseAssignmentReadWriteAll.as_str(),
                reason: "Only for reclaim: adds and removes users' licenses. Without it \
                         reclaim stays off; syncs and reports do not need it.",
                required: false,
            },
            Permission {
                name: GraphPermission::GroupMemberReadAll.as_str(),
                reason: "Only for reclaim plans: names the groups a license comes through and \
                         says whether a rule or on-premises Active Directory decides their \
                         members (Group.Read.All or Directory.Read.All also do). Without it \
                         plans name those groups by id only.",
                required: false,
            },
        ],
        guide: Some(GUIDE),
    }
}
