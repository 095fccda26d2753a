//! What a provider hands the sync engine: plain records, already normalised, with no trace of
//! the wire format they came in.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A user from a complete listing: every field as the directory has it now.
#[derive(Clone, Debug, PartialEq)]
pub struct UserRecord {
    pub external_id: String,
    pub user_principal_name: String,
    pub mail: Option<String>,
    pub display_name: Option<String>,
    pub account_enabled: bool,
    pub user_type: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// None when this listing did not read sign-in activity: the stored dates stay as they are.
    pub sign_in: Option<SignInDates>,
    pub licenses: Vec<LicenseRecord>,
}

/// The three sign-in dates a directory keeps; any may be unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignInDates {
    pub last_interactive: Option<DateTime<Utc>>,
    pub last_non_interactive: Option<DateTime<Utc>>,
    pub last_successful: Option<DateTime<Utc>>,
}

/// One license a user holds, however many ways it was assigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseRecord {
    /// The SKU's GUID, lower-case.
    pub sku_id: String,
    /// Service plans switched off for the user (what the paths add up to), lower-case.
    pub disabled_plans: Vec<String>,
    pub paths: LicensePaths,
}

/// How one path of a license stands.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AssignmentState {
    Active,
    ActiveWithError,
    Disabled,
    Error,
    /// A state this version does not know, kept as sent.
    Unrecognized(String),
}

impl AssignmentState {
    const KNOWN: [AssignmentState; 4] = [
        AssignmentState::Active,
        AssignmentState::ActiveWithError,
        AssignmentState::Disabled,
        AssignmentState::Error,
    ];

    /// A state as the provider or the database has it, in any case; `None` when blank.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let known = Self::KNOWN
            .into_iter()
            .find(|known| known.as_str().eq_ignore_ascii_case(text));
        Some(known.unwrap_or_else(|| AssignmentState::Unrecognized(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        match self {
            AssignmentState::Active => "Active",
            AssignmentState::ActiveWithError => "ActiveWithError",
            AssignmentState::Disabled => "Disabled",
            AssignmentState::Error => "Error",
            AssignmentState::Unrecognized(text) => text,
        }
    }

    /// How urgently an admin must see a path in this state: Error, then ActiveWithError, then a
    /// state this version does not know (shown rather than hidden behind a healthy path), then
    /// Disabled, then Active.
    fn severity(&self) -> u8 {
        match self {
            AssignmentState::Error => 5,
            AssignmentState::ActiveWithError => 4,
            AssignmentState::Unrecognized(_) => 3,
            AssignmentState::Disabled => 2,
            AssignmentState::Active => 1,
        }
    }
}

/// Why a path failed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AssignmentError {
    /// Not enough seats.
    CountViolation,
    /// The user holds a license that excludes this one.
    MutuallyExclusiveViolation,
    /// A license this one depends on is missing.
    DependencyViolation,
    /// Not available in the user's usage location.
    ProhibitedInUsageLocationViolation,
    UniquenessViolation,
    /// The provider's own catch-all.
    Other,
    /// An error this version does not know, kept as sent.
    Unrecognized(String),
}

impl AssignmentError {
    const KNOWN: [AssignmentError; 6] = [
        AssignmentError::CountViolation,
        AssignmentError::MutuallyExclusiveViolation,
        AssignmentError::DependencyViolation,
        AssignmentError::ProhibitedInUsageLocationViolation,
        AssignmentError::UniquenessViolation,
        AssignmentError::Other,
    ];

    /// An error as the provider or the database has it, in any case. Blank and `None` mean no
    /// error: a provider may send the text "None" for an assignment without one.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("none") {
            return None;
        }
        let known = Self::KNOWN
            .into_iter()
            .find(|known| known.as_str().eq_ignore_ascii_case(text));
        Some(known.unwrap_or_else(|| AssignmentError::Unrecognized(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        match self {
            AssignmentError::CountViolation => "CountViolation",
            AssignmentError::MutuallyExclusiveViolation => "MutuallyExclusiveViolation",
            AssignmentError::DependencyViolation => "DependencyViolation",
            AssignmentError::ProhibitedInUsageLocationViolation => {
                "ProhibitedInUsageLocationViolation"
            }
            AssignmentError::UniquenessViolation => "UniquenessViolation",
            AssignmentError::Other => "Other",
            AssignmentError::Unrecognized(text) => text,
        }
    }
}

impl fmt::Display for AssignmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for AssignmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way a license reaches a user: assigned to the user itself, or inherited through a group.
/// Stored as JSON (see `license_assignments.sources`), absent values left out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseSource {
    /// `None`: assigned directly; else the group's id, lower-case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_text",
        deserialize_with = "state_text"
    )]
    pub state: Option<AssignmentState>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_text",
        deserialize_with = "error_text"
    )]
    pub error: Option<AssignmentError>,
    /// Service plans this path switches off, lower-case and sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_plans: Vec<String>,
}

fn as_text<T: fmt::Display, S: Serializer>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => s.collect_str(value),
        None => s.serialize_none(),
    }
}

fn state_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AssignmentState>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.and_then(|text| AssignmentState::parse(&text)))
}

fn error_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AssignmentError>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.and_then(|text| AssignmentError::parse(&text)))
}

/// Every path by which one license reaches a user — directly first, then groups by id — and
/// what they add up to. Empty when the provider has not said how the license was assigned (a
/// license an incremental sync added, until a full sync reads its paths).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LicensePaths(Vec<LicenseSource>);

impl LicensePaths {
    pub fn new(mut sources: Vec<LicenseSource>) -> Self {
        sources.sort();
        sources.dedup();
        Self(sources)
    }

    /// The paths a license's summary stands for when nothing more is known: one per path the
    /// summary names, each in the summary's state, with its error and disabled plans. Storage
    /// keeps a license's paths only when they differ from these (see [`Self::stored`]), and
    /// licenses stored before paths were kept read as these.
    pub fn implied(
        assigned_directly: bool,
        group_ids: &[String],
        state: Option<AssignmentState>,
        error: Option<AssignmentError>,
        disabled_plans: &[String],
    ) -> Self {
        let direct = assigned_directly.then_some(None);
        let groups = group_ids.iter().cloned().map(Some);
        Self::new(
            direct
                .into_iter()
                .chain(groups)
                .map(|group_id| LicenseSource {
                    group_id,
                    state: state.clone(),
                    error: error.clone(),
                    disabled_plans: disabled_plans.to_vec(),
                })
                .collect(),
        )
    }

    /// The `sources` column of a license holding these paths and `disabled_plans`: nothing
    /// when the summary columns imply them (one path, or several alike — nearly every license),
    /// else the paths as JSON.
    pub fn stored(&self, disabled_plans: &[String]) -> Option<serde_json::Value> {
        let implied = Self::implied(
            self.assigned_directly(),
            &self.group_ids(),
            self.state().cloned(),
            self.error().cloned(),
            disabled_plans,
        );
        (*self != implied).then(|| serde_json::json!(self.0))
    }

    /// The paths of a stored license: its `sources` column, or, where that is empty, the paths
    /// its summary columns imply. Fails on `sources` that are not paths.
    pub fn from_stored(
        sources: Option<serde_json::Value>,
        assigned_directly: bool,
        group_ids: &[String],
        state: Option<&str>,
        error: Option<&str>,
        disabled_plans: &[String],
    ) -> Result<Self, serde_json::Error> {
        Ok(match sources {
            Some(sources) => Self::new(serde_json::from_value(sources)?),
            None => Self::implied(
                assigned_directly,
                group_ids,
                state.and_then(AssignmentState::parse),
                error.and_then(AssignmentError::parse),
                disabled_plans,
            ),
        })
    }

    pub fn sources(&self) -> &[LicenseSource] {
        &self.0
    }

    pub fn into_sources(self) -> Vec<LicenseSource> {
        self.0
    }

    /// Assigned to the user itself, so an admin can remove it from the user. Without any path
    /// known, nothing says a group is involved: the license is the user's own.
    pub fn assigned_directly(&self) -> bool {
        self.0.is_empty() || self.0.iter().any(|source| source.group_id.is_none())
    }

    /// Groups the license (also) comes from, by id; removable only through them.
    pub fn group_ids(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|source| source.group_id.clone())
            .collect()
    }

    /// The path an admin must see: the most severe state (see `AssignmentState::severity`), one
    /// with an error before one without, the first in order among equals.
    pub fn most_severe(&self) -> Option<&LicenseSource> {
        let rank = |source: &LicenseSource| {
            (
                source.state.as_ref().map_or(0, AssignmentState::severity),
                source.error.is_some(),
            )
        };
        self.0.iter().reduce(|worst, source| {
            if rank(source) > rank(worst) {
                source
            } else {
                worst
            }
        })
    }

    /// The state of the most severe path.
    pub fn state(&self) -> Option<&AssignmentState> {
        self.most_severe()?.state.as_ref()
    }

    /// The error of the most severe path; `None` when it has none.
    pub fn error(&self) -> Option<&AssignmentError> {
        self.most_severe()?.error.as_ref()
    }
}

/// A change from an incremental round: only the properties present changed.
#[derive(Clone, Debug, PartialEq)]
pub enum UserChange {
    Upsert(UserPatch),
    /// Left the directory: `permanently` when hard-deleted, else soft-deleted (restorable).
    Removed {
        external_id: String,
        permanently: bool,
    },
}

impl UserChange {
    /// The provider's id of the user the change is about.
    pub fn external_id(&self) -> &str {
        match self {
            UserChange::Upsert(patch) => &patch.external_id,
            UserChange::Removed { external_id, .. } => external_id,
        }
    }
}

/// A partial user. `None` = not sent; `Some(None)` = sent as null.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserPatch {
    pub external_id: String,
    pub user_principal_name: Option<String>,
    pub mail: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub account_enabled: Option<bool>,
    pub user_type: Option<Option<String>>,
    pub created_at: Option<Option<DateTime<Utc>>>,
    /// The licenses' SKUs and disabled plans; how each was assigned is not part of a delta.
    pub licenses: Option<Vec<AssignedSku>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignedSku {
    pub sku_id: String,
    pub disabled_plans: Vec<String>,
}

/// Sign-in dates of one user, from the light listing that refreshes them between full syncs.
#[derive(Clone, Debug, PartialEq)]
pub struct SignInRecord {
    pub external_id: String,
    pub dates: SignInDates,
}

/// A SKU the tenant subscribes to, with seats summed over its subscriptions.
#[derive(Clone, Debug, PartialEq)]
pub struct SkuRecord {
    pub sku_id: String,
    pub sku_part_number: String,
    /// The name admins know the product by; the part number when the provider has no other.
    pub display_name: String,
    pub capability_status: String,
    pub applies_to: Option<String>,
    pub enabled_units: i64,
    pub suspended_units: i64,
    pub warning_units: i64,
    pub locked_out_units: i64,
    pub consumed_units: i64,
    /// `[{servicePlanId, servicePlanName, provisioningStatus}]`, the plans the SKU includes.
    pub service_plans: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionRecord {
    pub external_id: String,
    pub commerce_subscription_id: Option<String>,
    pub sku_id: String,
    pub sku_part_number: String,
    pub status: String,
    pub total_licenses: i64,
    pub is_trial: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub next_lifecycle_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(group: Option<&str>, state: &str, error: Option<&str>) -> LicenseSource {
        LicenseSource {
            group_id: group.map(str::to_owned),
            state: AssignmentState::parse(state),
            error: error.and_then(AssignmentError::parse),
            disabled_plans: Vec::new(),
        }
    }

    #[test]
    fn none_and_blank_are_no_error_and_unknown_values_are_kept() {
        for none in ["None", "none", "NONE", " None ", "", "  "] {
            assert_eq!(AssignmentError::parse(none), None, "{none:?}");
        }
        assert_eq!(
            AssignmentError::parse("countviolation"),
            Some(AssignmentError::CountViolation)
        );
        assert_eq!(
            AssignmentError::parse("Other"),
            Some(AssignmentError::Other)
        );
        let unknown = AssignmentError::parse("TenantQuotaViolation").expect("kept");
        assert_eq!(unknown.as_str(), "TenantQuotaViolation");
        assert_eq!(
            AssignmentState::parse("activewitherror"),
            Some(AssignmentState::ActiveWithError)
        );
        assert_eq!(AssignmentState::parse(""), None);
        assert_eq!(
            AssignmentState::parse("Pending").map(|s| s.as_str().to_owned()),
            Some("Pending".into())
        );
    }

    #[test]
    fn the_most_severe_path_speaks_for_the_license() {
        let direct = path(None, "Active", Some("None"));
        let failing = path(Some("g2"), "Error", Some("CountViolation"));
        let paths = LicensePaths::new(vec![failing.clone(), direct.clone()]);
        assert_eq!(
            paths.sources(),
            [direct.clone(), failing.clone()],
            "direct first"
        );
        assert!(paths.assigned_directly());
        assert_eq!(paths.group_ids(), ["g2"]);
        assert_eq!(paths.state(), Some(&AssignmentState::Error));
        assert_eq!(paths.error(), Some(&AssignmentError::CountViolation));

        let order = [
            path(Some("a"), "Active", None),
            path(Some("b"), "Disabled", None),
            path(Some("c"), "Pending", None),
            path(
                Some("d"),
                "ActiveWithError",
                Some("MutuallyExclusiveViolation"),
            ),
            path(Some("e"), "Error", None),
            path(Some("f"), "Error", Some("DependencyViolation")),
        ];
        for worst in 1..order.len() {
            let paths = LicensePaths::new(order[..=worst].to_vec());
            assert_eq!(paths.most_severe(), Some(&order[worst]), "{worst}");
        }
        let healthy = LicensePaths::new(vec![direct, path(Some("g"), "Active", None)]);
        assert_eq!(healthy.error(), None);
        assert_eq!(
            healthy.most_severe(),
            Some(&healthy.sources()[0]),
            "first among equals"
        );
    }

    #[test]
    fn without_paths_a_license_is_the_users_own() {
        let unknown = LicensePaths::default();
        assert!(unknown.assigned_directly());
        assert!(unknown.group_ids().is_empty());
        assert_eq!((unknown.state(), unknown.error()), (None, None));
    }

    #[test]
    fn storage_keeps_only_the_paths_the_columns_cannot_say() {
        let plans = vec!["p".to_owned()];
        let read = |sources, direct, groups: &[String], state, error, plans: &[String]| {
            LicensePaths::from_stored(sources, direct, groups, state, error, plans)
        };
        let one = LicensePaths::new(vec![LicenseSource {
            disabled_plans: plans.clone(),
            ..path(None, "Active", None)
        }]);
        assert_eq!(one.stored(&plans), None, "one path: the columns say it");
        let back = read(None, true, &[], Some("Active"), Some("None"), &plans);
        assert_eq!(back.expect("read"), one);

        let two = LicensePaths::new(vec![
            path(None, "Active", None),
            path(Some("g"), "Error", Some("CountViolation")),
        ]);
        let stored = two.stored(&[]).expect("paths that differ are kept");
        let groups = ["g".to_owned()];
        let back = read(
            Some(stored),
            true,
            &groups,
            Some("Error"),
            Some("CountViolation"),
            &[],
        );
        assert_eq!(back.expect("read"), two);

        let unknown = LicensePaths::default();
        let stored = unknown.stored(&[]);
        assert_eq!(
            stored,
            Some(serde_json::json!([])),
            "no known path is not one direct path"
        );
        assert_eq!(
            read(stored, true, &[], None, None, &[]).expect("read"),
            unknown
        );
        let corrupt = read(Some(serde_json::json!({})), true, &[], None, None, &[]);
        assert!(corrupt.is_err());
    }

    #[test]
    fn paths_are_stored_as_compact_json_and_read_back() {
        let paths = vec![
            path(None, "Active", None),
            LicenseSource {
                disabled_plans: vec!["p1".into()],
                ..path(Some("g"), "Error", Some("CountViolation"))
            },
        ];
        let json = serde_json::to_value(&paths).expect("serialised");
        assert_eq!(
            json,
            serde_json::json!([
                { "state": "Active" },
                { "groupId": "g", "state": "Error", "error": "CountViolation", "disabledPlans": ["p1"] },
            ])
        );
        let back: Vec<LicenseSource> = serde_json::from_value(json).expect("read back");
        assert_eq!(back, paths);
        let sent: LicenseSource =
            serde_json::from_value(serde_json::json!({ "state": "Active", "error": "None" }))
                .expect("read");
        assert_eq!(sent.error, None);
    }
}

/// A group through which licenses reach users, as a reclaim plan names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRecord {
    /// Lower-cased, as in [`LicenseSource::group_id`].
    pub id: String,
    pub display_name: String,
    /// A rule decides its members: a user leaves it when the rule stops matching, never by hand.
    pub dynamic: bool,
    /// Its members are managed in an on-premises directory: it cannot be changed through the
    /// provider's service at all.
    pub synced_from_on_premises: bool,
}
