use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Enum, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::acceptance::FindingAcceptance;
use super::license::{LicenseSku, MonthlyCost};
use super::user::{DirectoryUser, PAGE_DEFAULT, PAGE_MAX, page_cost};
use crate::api::cursor;
use crate::domain::money;
use crate::domain::reports::{self, FindingKey, FindingKind as Kind, KindTotal};
use crate::domain::users::SignInField as Field;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "Kind")]
pub enum FindingKind {
    /// A license held by a disabled account.
    DisabledAccount,
    /// A licensed user whose latest sign-in is older than inactiveDays.
    InactiveUser,
    /// A licensed user with no sign-in on record (sign-in data available), created before
    /// the inactivity threshold.
    NeverSignedIn,
    /// Paid seats of a SKU that nobody holds.
    UnassignedSeats,
    /// A license another license of the same user already includes (e.g. Office 365 E3
    /// next to Microsoft 365 E5).
    OverlappingAssignment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "Field")]
pub enum SignInField {
    /// lastSignInAt
    Interactive,
    /// lastNonInteractiveSignInAt
    NonInteractive,
    /// lastSuccessfulSignInAt
    Successful,
}

/// One piece of waste, with its evidence and what removing it takes.
pub struct LicenseFinding(Arc<reports::Finding>);

#[Object]
impl LicenseFinding {
    async fn kind(&self) -> FindingKind {
        self.0.kind.into()
    }

    /// The user concerned; null for unassigned seats.
    async fn user(&self) -> Option<DirectoryUser> {
        // `DirectoryUser` owns its user: the copy is made only for findings a query selects.
        self.0
            .user
            .as_deref()
            .map(|user| DirectoryUser::from(user.clone()))
    }

    async fn sku(&self) -> LicenseSku {
        self.0.sku.clone().into()
    }

    /// Seats concerned: 1 for a user's license, the unused count for unassigned seats.
    async fn units(&self) -> i64 {
        self.0.units
    }

    /// What was found, in words.
    async fn evidence(&self) -> &str {
        &self.0.evidence
    }

    /// The license is assigned to the user itself.
    async fn assigned_directly(&self) -> Option<bool> {
        self.0
            .removal
            .as_ref()
            .map(|removal| removal.assigned_directly)
    }

    /// Groups the license comes from; it stays until removed there.
    async fn inherited_from_group_ids(&self) -> Vec<String> {
        self.0
            .removal
            .as_ref()
            .map(|removal| removal.via_group_ids.clone())
            .unwrap_or_default()
    }

    /// True when removing the license from the user frees the seat (assigned directly, from
    /// no group).
    async fn removable_directly(&self) -> bool {
        self.0
            .removal
            .as_ref()
            .is_some_and(reports::Removal::frees_seat)
    }

    /// What freeing the seat takes, in words, with any path that reports an error; null for
    /// unassigned seats.
    async fn removal(&self) -> Option<String> {
        self.0.removal.as_ref().map(reports::Removal::describe)
    }

    /// The license's `state`, as `LicenseAssignment.state` shows it; null for unassigned seats.
    async fn license_state(&self) -> Option<&str> {
        self.0.license_state.as_ref().map(|state| state.as_str())
    }

    /// The license's `error`, as `LicenseAssignment.error` shows it: null when it has none, and
    /// for unassigned seats.
    async fn license_error(&self) -> Option<&str> {
        self.0.license_error.as_ref().map(|error| error.as_str())
    }

    /// For inactive users: which sign-in date was the latest.
    async fn last_sign_in_field(&self) -> Option<SignInField> {
        self.0.last_sign_in.map(|(field, _)| field.into())
    }

    async fn last_sign_in_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_sign_in.map(|(_, at)| at)
    }

    /// For overlaps: the held SKU that already includes this one.
    async fn contained_in(&self) -> Option<LicenseSku> {
        self.0.contained_in.clone().map(LicenseSku::from)
    }

    /// An admin's decision to keep this license, while it holds: the finding then counts in no
    /// total.
    async fn acceptance(&self) -> Option<FindingAcceptance> {
        self.0
            .acceptance
            .as_deref()
            .map(|acceptance| FindingAcceptance(acceptance.clone()))
    }

    /// Per month, in the SKU's price currency; null when no price is set.
    async fn monthly_cost(&self) -> Option<MonthlyCost> {
        self.0
            .monthly_cost
            .as_ref()
            .map(|(currency, amount)| MonthlyCost {
                amount: money::shown(*amount),
                currency: currency.clone(),
            })
    }
}

/// Open findings of one kind, summed; accepted ones only counted.
#[derive(SimpleObject)]
pub struct FindingTotal {
    pub kind: FindingKind,
    pub findings: i64,
    pub units: i64,
    /// One entry per currency; currencies are never converted.
    pub monthly_cost: Vec<MonthlyCost>,
    /// Findings of this kind an admin accepted (in none of the sums above).
    pub accepted: i64,
}

impl FindingTotal {
    fn new(kind: Kind, total: &KindTotal) -> Self {
        Self {
            kind: kind.into(),
            findings: total.findings,
            units: total.units,
            monthly_cost: MonthlyCost::list(&total.monthly_cost),
            accepted: total.accepted,
        }
    }
}

/// The open findings: accepted ones are only counted, in `acceptedFindings`.
#[derive(SimpleObject)]
pub struct ReportTotals {
    pub findings: i64,
    pub accepted_findings: i64,
    /// Findings whose SKU has no price: their cost is not in monthlyCost.
    pub unpriced_findings: i64,
    /// One entry per currency; currencies are never converted.
    pub monthly_cost: Vec<MonthlyCost>,
    pub by_kind: Vec<FindingTotal>,
}

/// Whether sign-in based findings could be computed for a provider.
#[derive(SimpleObject)]
pub struct SignInDataQuality {
    pub provider_id: async_graphql::ID,
    pub provider_name: String,
    pub available: bool,
    /// AVAILABLE, or why not (e.g. MISSING_PERMISSION, NOT_PREMIUM); null before the first sync.
    pub status: Option<String>,
    /// Licensed users whose activity is unknown: never reported inactive.
    pub licensed_users_unknown: i64,
    pub message: String,
}

impl From<reports::SignInDataQuality> for SignInDataQuality {
    fn from(quality: reports::SignInDataQuality) -> Self {
        Self {
            provider_id: async_graphql::ID(quality.provider_id.to_string()),
            provider_name: quality.provider_name,
            available: quality.available,
            status: quality.status,
            licensed_users_unknown: quality.licensed_users_unknown,
            message: quality.message,
        }
    }
}

/// The connection's own field.
pub struct FindingCount(i64);

#[Object]
impl FindingCount {
    /// How many findings (of the kind asked) the report holds, across all pages.
    async fn total_count(&self) -> i64 {
        self.0
    }
}

type FindingConnection = Connection<String, LicenseFinding, FindingCount, EmptyFields>;

/// Waste and its cost: findings with evidence, totals, and how far sign-in data can be trusted.
/// Shared with every other request the same cached report is served to.
pub struct LicenseReport(Arc<reports::Report>);

impl From<Arc<reports::Report>> for LicenseReport {
    fn from(report: Arc<reports::Report>) -> Self {
        Self(report)
    }
}

#[Object]
impl LicenseReport {
    /// When this report was built: a cached report keeps the time it was built at.
    async fn generated_at(&self) -> DateTime<Utc> {
        self.0.generated_at
    }

    async fn inactive_days(&self) -> i64 {
        self.0.inactive_days
    }

    /// Seat utilization of every SKU in scope.
    #[graphql(complexity = "crate::api::limits::SKUS_PER_LIST * child_complexity")]
    async fn skus(&self) -> Vec<LicenseSku> {
        self.0.skus.iter().cloned().map(LicenseSku::from).collect()
    }

    /// Every finding, or those of one kind, a page at a time: by user, then SKU, unassigned
    /// seats last. `accepted`: true for the accepted ones only, false for the open ones only,
    /// null (default) for both. `first` at most 500; default 50. A cursor stays valid when the
    /// report is rebuilt: the next page starts after the finding it names.
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn findings(
        &self,
        kind: Option<FindingKind>,
        accepted: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<FindingConnection> {
        let limit = cursor::page_size(first, PAGE_DEFAULT as u64, PAGE_MAX as u64)? as usize;
        let after = after
            .as_deref()
            .map(|after| cursor::decode::<FindingKey>("after", after))
            .transpose()?;
        let kind = kind.map(Kind::from);
        let mut page: Vec<_> = self
            .0
            .findings_after(kind, accepted, after)
            .take(limit + 1)
            .collect();
        let has_next = page.len() > limit;
        page.truncate(limit);
        let mut connection = FindingConnection::with_additional_fields(
            after.is_some(),
            has_next,
            FindingCount(self.0.finding_count(kind, accepted)),
        );
        connection.edges.extend(page.into_iter().map(|finding| {
            Edge::new(
                cursor::encode(&finding.key()),
                LicenseFinding(finding.clone()),
            )
        }));
        Ok(connection)
    }

    async fn totals(&self) -> ReportTotals {
        let totals = &self.0.totals;
        ReportTotals {
            findings: totals.findings,
            accepted_findings: totals.accepted,
            unpriced_findings: totals.unpriced_findings,
            monthly_cost: MonthlyCost::list(&totals.monthly_cost),
            by_kind: totals
                .by_kind
                .iter()
                .map(|(kind, total)| FindingTotal::new(*kind, total))
                .collect(),
        }
    }

    /// Per provider: whether sign-in activity is available. Where it is not, nobody is
    /// reported inactive or never signed in: unknown is not inactive.
    async fn sign_in_data(&self) -> Vec<SignInDataQuality> {
        self.0
            .sign_in_data
            .iter()
            .cloned()
            .map(SignInDataQuality::from)
            .collect()
    }
}
