//! Well-known licence cases planted in every generated tenant large enough, so that a reclaim
//! test finds each way a licence can reach a user whatever the seed: direct, inherited from an
//! assigned, a dynamic or an on-premises-synced group, both direct and inherited, and in an
//! error state. Random generation makes these too, but not in a small tenant and not at
//! positions a test can name.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog;
use crate::tenant::{AssignedLicense, LicenseAssignmentState, SignInActivity, User};

/// Tenants with fewer users get no fixtures (they would be most of the tenant).
pub const FIXTURE_MIN_USERS: usize = 10;
/// How many users at the end of the listing are fixtures.
pub const FIXTURE_COUNT: usize = 7;
/// Fixture users last signed in this many days before the reference time: inactive by any
/// usual threshold, so each is a reclaim finding.
pub const FIXTURE_INACTIVE_DAYS: i64 = 200;

/// One planted case: a user holding one SKU in one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseFixture {
    pub user_id: Uuid,
    pub sku_id: Uuid,
    /// The group the licence is (also) inherited from.
    #[serde(default)]
    pub group_id: Option<Uuid>,
}

/// The planted cases, each an enabled member with a usage location who holds exactly one SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseFixtures {
    /// Office 365 E3 (ENTERPRISEPACK) assigned directly, with one disabled plan: removing it
    /// frees a seat, re-adding must restore the disabled plan.
    pub direct: LicenseFixture,
    /// Microsoft 365 E5 inherited from LIC-M365-E5, an assigned (static) cloud group only.
    pub static_group: LicenseFixture,
    /// Microsoft 365 E3 inherited from LIC-M365-E3, a dynamic group only.
    pub dynamic_group: LicenseFixture,
    /// Power BI Pro inherited from LIC-PowerBI-Pro, a group synced from on-premises, only.
    pub synced_group: LicenseFixture,
    /// Microsoft 365 Copilot assigned directly and inherited from LIC-Copilot (static): removing
    /// the direct copy succeeds and frees no seat.
    pub direct_and_group: LicenseFixture,
    /// Exchange Online (Plan 1) assigned directly, state `ActiveWithError` with
    /// `MutuallyExclusiveViolation`.
    pub direct_error: LicenseFixture,
    /// Microsoft 365 E5 assigned directly (`Active`) while LIC-M365-E5 failed to assign it
    /// (`Error`, `CountViolation`): removing the direct copy leaves the user without E5.
    pub direct_failed_group: LicenseFixture,
}

/// How one fixture holds its SKU.
enum Holding {
    Direct { disabled_plan: bool },
    Group,
    DirectAndGroup,
    DirectInError,
    DirectWithFailedGroup,
}

/// The SKU of a part number and the licensing group that assigns it, if any.
pub(crate) type SkuLookup<'a> = &'a dyn Fn(&str) -> Option<(Uuid, Option<Uuid>)>;

/// Rewrites the licences and sign-ins of the last [`FIXTURE_COUNT`] users (already generated as
/// enabled members). None when the tenant is too small or a SKU is missing from the catalog.
pub(crate) fn plant(
    users: &mut [User],
    sku: SkuLookup<'_>,
    now: DateTime<Utc>,
) -> Option<LicenseFixtures> {
    if users.len() < FIXTURE_MIN_USERS {
        return None;
    }
    let start = users.len() - FIXTURE_COUNT;
    let tail = &mut users[start..];
    let mut next = tail.iter_mut();
    let mut case = |part: &str, holding: Holding| -> Option<LicenseFixture> {
        let user = next.next()?;
        let (sku_id, group) = sku(part)?;
        set_holding(user, part, sku_id, group, holding, now)
    };
    Some(LicenseFixtures {
        direct: case(
            "ENTERPRISEPACK",
            Holding::Direct {
                disabled_plan: true,
            },
        )?,
        static_group: case("SPE_E5", Holding::Group)?,
        dynamic_group: case("SPE_E3", Holding::Group)?,
        synced_group: case("POWER_BI_PRO", Holding::Group)?,
        direct_and_group: case("Microsoft_365_Copilot", Holding::DirectAndGroup)?,
        direct_error: case("EXCHANGESTANDARD", Holding::DirectInError)?,
        direct_failed_group: case("SPE_E5", Holding::DirectWithFailedGroup)?,
    })
}

fn set_holding(
    user: &mut User,
    part: &str,
    sku_id: Uuid,
    group: Option<Uuid>,
    holding: Holding,
    now: DateTime<Utc>,
) -> Option<LicenseFixture> {
    let assigned_at = now - Duration::days(FIXTURE_INACTIVE_DAYS + 100);
    let state = |by: Option<Uuid>, disabled: &[Uuid], error: Option<&str>, state: &str| {
        LicenseAssignmentState {
            assigned_by_group: by,
            disabled_plans: disabled.to_vec(),
            error: error.map(str::to_string),
            last_updated_date_time: Some(assigned_at),
            sku_id,
            state: state.to_string(),
        }
    };
    let disabled: Vec<Uuid> = match holding {
        Holding::Direct {
            disabled_plan: true,
        } => catalog::by_part_number(part)?
            .service_plans
            .first()
            .map(|p| vec![p.service_plan_id])
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let states = match holding {
        Holding::Direct { .. } => vec![state(None, &disabled, None, "Active")],
        Holding::Group => vec![state(Some(group?), &[], None, "Active")],
        Holding::DirectAndGroup => vec![
            state(None, &[], None, "Active"),
            state(Some(group?), &[], None, "Active"),
        ],
        Holding::DirectInError => vec![state(
            None,
            &[],
            Some("MutuallyExclusiveViolation"),
            "ActiveWithError",
        )],
        Holding::DirectWithFailedGroup => vec![
            state(None, &[], None, "Active"),
            state(Some(group?), &[], Some("CountViolation"), "Error"),
        ],
    };
    let group_id = states.iter().find_map(|s| s.assigned_by_group);
    user.assigned_licenses = vec![AssignedLicense {
        disabled_plans: disabled,
        sku_id,
    }];
    user.license_assignment_states = states;
    user.created_date_time = Some(assigned_at);
    let last = Some(now - Duration::days(FIXTURE_INACTIVE_DAYS));
    let request_id = Some(Uuid::from_u128(user.id.as_u128().rotate_left(64)).to_string());
    user.sign_in_activity = Some(SignInActivity {
        last_sign_in_date_time: last,
        last_sign_in_request_id: request_id.clone(),
        last_non_interactive_sign_in_date_time: None,
        last_non_interactive_sign_in_request_id: None,
        last_successful_sign_in_date_time: last,
        last_successful_sign_in_request_id: request_id,
    });
    Some(LicenseFixture {
        user_id: user.id,
        sku_id,
        group_id,
    })
}
