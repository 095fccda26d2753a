//! The license report: the waste a license manager pays to find, each finding with its evidence,
//! what removing it takes, and its monthly cost where a price is set.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use super::acceptances::{self, Acceptance};
use super::licenses::{self, AssignmentError, AssignmentState, Holding, LicenseSku};
use super::money::Costs;
use super::users::{self, SIGN_IN_AVAILABLE, SignInField, User, UserFilter};
use crate::entities::providers;
use crate::error::{Error, Result};
use crate::providers::Catalogue;
use crate::providers::registry::ProviderRegistry;

/// Users are read in chunks of this many, so a 100,000-user tenant never sits in memory whole,
/// while a chunk is large enough that the statements stay few (two per chunk).
const USER_CHUNK: u64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// A license held by an account that cannot sign in.
    DisabledAccount,
    /// A licensed user whose latest sign-in is older than the threshold.
    InactiveUser,
    /// A licensed user with sign-in data available and no sign-in at all.
    NeverSignedIn,
    /// Paid seats of a SKU that nobody holds.
    UnassignedSeats,
    /// A license whose capabilities another license of the same user already includes.
    OverlappingAssignment,
}

impl FindingKind {
    /// The name the API gives the kind (`FindingKind` in GraphQL, `kind` in exports).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DisabledAccount => "DISABLED_ACCOUNT",
            Self::InactiveUser => "INACTIVE_USER",
            Self::NeverSignedIn => "NEVER_SIGNED_IN",
            Self::UnassignedSeats => "UNASSIGNED_SEATS",
            Self::OverlappingAssignment => "OVERLAPPING_ASSIGNMENT",
        }
    }

    /// The kind an API name names, or a refusal naming `field` and the names there are.
    pub fn parse(field: &'static str, name: &str) -> Result<Self> {
        KINDS
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = KINDS.iter().map(|kind| kind.as_str()).collect();
                Error::invalid(field, format!("must be one of {}", names.join(", ")))
            })
    }
}

pub const KINDS: [FindingKind; 5] = [
    FindingKind::DisabledAccount,
    FindingKind::InactiveUser,
    FindingKind::NeverSignedIn,
    FindingKind::UnassignedSeats,
    FindingKind::OverlappingAssignment,
];

/// How a license could be taken away from a user.
#[derive(Clone, Debug, Default)]
pub struct Removal {
    /// Assigned to the user itself: an admin can remove it from the user.
    pub assigned_directly: bool,
    /// Groups it (also) comes from: it stays until the user leaves them or they lose it.
    pub via_group_ids: Vec<String>,
    /// Paths that report an error (`None`: the direct one), e.g. a group that cannot assign it:
    /// what else an admin must know before removing it.
    pub errors: Vec<(Option<String>, AssignmentError)>,
}

impl Removal {
    fn of(holding: &Holding) -> Self {
        let paths = &holding.paths;
        Self {
            assigned_directly: paths.assigned_directly(),
            via_group_ids: paths.group_ids(),
            errors: paths
                .sources()
                .iter()
                .filter_map(|source| Some((source.group_id.clone(), source.error.clone()?)))
                .collect(),
        }
    }

    /// Removing the license from the user frees the seat: it is assigned directly and comes
    /// from no group.
    pub fn frees_seat(&self) -> bool {
        self.assigned_directly && self.via_group_ids.is_empty()
    }

    /// In words, for the evidence and for exports.
    pub fn describe(&self) -> String {
        let groups = self.via_group_ids.join(", ");
        let how = match (self.assigned_directly, self.via_group_ids.is_empty()) {
            (true, true) => "remove it from the user".into(),
            (true, false) => format!("remove it from the user and from group(s) {groups}"),
            (false, false) => format!("only through group(s) {groups}"),
            (false, true) => "neither direct nor from a group according to the provider".into(),
        };
        if self.errors.is_empty() {
            return how;
        }
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(group, error)| match group {
                Some(group) => format!("group {group} reports {error}"),
                None => format!("the direct assignment reports {error}"),
            })
            .collect();
        format!("{how} ({})", errors.join("; "))
    }
}

/// Users and SKUs are shared, not copied: a user with three licenses appears in three findings,
/// and a SKU in thousands.
#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: FindingKind,
    pub sku: Arc<LicenseSku>,
    /// Absent for unassigned seats.
    pub user: Option<Arc<User>>,
    pub removal: Option<Removal>,
    /// For inactive users: which sign-in date was the latest, and when.
    pub last_sign_in: Option<(SignInField, DateTime<Utc>)>,
    /// For overlaps: the held SKU that already includes this one.
    pub contained_in: Option<Arc<LicenseSku>>,
    /// Seats concerned: 1 for a user's license, the unused count for unassigned seats.
    pub units: i64,
    /// Per month, in the SKU's price currency; `None` when no price is set.
    pub monthly_cost: Option<(String, Decimal)>,
    /// The license's state and error (of its most severe path), as `LicenseAssignment` shows
    /// them; `None` for unassigned seats.
    pub license_state: Option<AssignmentState>,
    pub license_error: Option<AssignmentError>,
    pub evidence: String,
    /// An admin's decision to keep this license, in force: the finding is listed but counts in
    /// no total.
    pub acceptance: Option<Arc<Acceptance>>,
}

/// Where a finding sits in a report: by user, then SKU, unassigned seats last. A user holds a
/// SKU once and a license is reported once, so the pair names one finding. Made of what the
/// finding is about, not of its place in one build, so a page that starts after a key carries
/// on where the previous page ended even when the report was rebuilt in between — and even
/// when a rebuild changed the finding's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingKey(i64, i64);

impl Finding {
    pub fn key(&self) -> FindingKey {
        let user = self.user.as_ref().map_or(i64::MAX, |user| user.id);
        FindingKey(user, self.sku.id)
    }
}

/// Whether sign-in based findings could be computed for a provider.
#[derive(Clone, Debug)]
pub struct SignInDataQuality {
    pub provider_id: i64,
    pub provider_name: String,
    pub available: bool,
    /// `providers.sign_in_data_status`: AVAILABLE, a reason code, or none before the first sync.
    pub status: Option<String>,
    /// Licensed users whose activity is unknown for that reason (never counted as inactive).
    pub licensed_users_unknown: i64,
    pub message: String,
}

/// The open findings of a kind; accepted ones are only counted.
#[derive(Clone, Debug, Default)]
pub struct KindTotal {
    pub findings: i64,
    pub units: i64,
    pub monthly_cost: Costs,
    pub accepted: i64,
}

/// The open findings; accepted ones are only counted.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub findings: i64,
    pub accepted: i64,
    /// Findings whose SKU has no price, so their cost is not in `monthly_cost`.
    pub unpriced_findings: i64,
    pub monthly_cost: Costs,
    pub by_kind: Vec<(FindingKind, KindTotal)>,
}

/// A built report is read-only and shared, whole or finding by finding, by every request the
/// cache serves it to.
#[derive(Clone, Debug)]
pub struct Report {
    pub generated_at: DateTime<Utc>,
    pub inactive_days: i64,
    pub skus: Vec<Arc<LicenseSku>>,
    pub findings: Vec<Arc<Finding>>,
    pub totals: Totals,
    pub sign_in_data: Vec<SignInDataQuality>,
}

impl Report {
    /// The findings (of one kind, or all; accepted, open, or both) after `after`, in key
    /// order, lazily.
    pub fn findings_after(
        &self,
        kind: Option<FindingKind>,
        accepted: Option<bool>,
        after: Option<FindingKey>,
    ) -> impl Iterator<Item = &Arc<Finding>> {
        let start = after.map_or(0, |after| {
            self.findings
                .partition_point(|finding| finding.key() <= after)
        });
        self.findings[start..].iter().filter(move |finding| {
            kind.is_none_or(|kind| finding.kind == kind)
                && accepted.is_none_or(|accepted| finding.acceptance.is_some() == accepted)
        })
    }

    /// How many findings (of one kind, or all; accepted, open, or both) the report holds.
    pub fn finding_count(&self, kind: Option<FindingKind>, accepted: Option<bool>) -> i64 {
        let (open, accepted_count) = match kind {
            None => (self.totals.findings, self.totals.accepted),
            Some(kind) => self
                .totals
                .by_kind
                .iter()
                .find(|(of, _)| *of == kind)
                .map_or((0, 0), |(_, total)| (total.findings, total.accepted)),
        };
        match accepted {
            None => open + accepted_count,
            Some(true) => accepted_count,
            Some(false) => open,
        }
    }
}

/// The threshold `licenseReport` and the findings export use when none is given.
pub const INACTIVE_DAYS_DEFAULT: i64 = 90;

/// Rejects a threshold no caller can mean, naming the argument.
pub fn check_inactive_days(inactive_days: i64) -> Result<()> {
    if !(1..=users::INACTIVE_DAYS_MAX).contains(&inactive_days) {
        return Err(Error::invalid(
            "inactiveDays",
            format!("must be between 1 and {}", users::INACTIVE_DAYS_MAX),
        ));
    }
    Ok(())
}

/// Builds the report from the database as it is now. Costs two statements per chunk of
/// `USER_CHUNK` licensed users, plus three.
pub async fn build(
    db: &DatabaseConnection,
    registry: &ProviderRegistry,
    provider_id: Option<i64>,
    inactive_days: i64,
    now: DateTime<Utc>,
) -> Result<Report> {
    check_inactive_days(inactive_days)?;
    let providers = provider_rows(db, provider_id).await?;
    let catalogues = providers
        .iter()
        .map(|provider| (provider.id, registry.catalogue(&provider.kind)))
        .collect();
    let mut quality: Vec<SignInDataQuality> = providers.into_iter().map(sign_in_quality).collect();
    let skus: Vec<Arc<LicenseSku>> = licenses::list_skus(db, provider_id)
        .await?
        .into_iter()
        .map(Arc::new)
        .collect();
    let mut judge = Judge {
        skus: skus.iter().map(|sku| (sku.id, sku.clone())).collect(),
        cutoff: now - Duration::days(inactive_days),
        catalogues,
        containment: HashMap::new(),
    };
    let mut findings = Vec::new();
    // Per provider: licensed users whose sign-in activity is unknown.
    let mut unknown: HashMap<i64, i64> = HashMap::new();
    let filter = UserFilter {
        provider_id,
        licensed: Some(true),
        ..Default::default()
    };
    let mut after_id = 0;
    loop {
        let chunk = users::chunk_after(db, &filter, after_id, USER_CHUNK, now).await?;
        let Some(last) = chunk.last() else { break };
        // Every licensed user with an id in the range is in the chunk, so the range holds
        // exactly the chunk's licenses.
        let mut held = licenses::holdings_between(db, provider_id, after_id, last.id).await?;
        after_id = last.id;
        for user in chunk {
            if !user.sign_in_data_available() {
                *unknown.entry(user.provider_id).or_default() += 1;
            }
            let held = held.remove(&user.id).unwrap_or_default();
            judge.user_findings(&Arc::new(user), &held, &mut findings);
        }
    }
    findings.extend(skus.iter().filter_map(unassigned_seats));
    apply_acceptances(db, provider_id, now, &mut findings).await?;
    for provider in &mut quality {
        provider.licensed_users_unknown = unknown.get(&provider.provider_id).copied().unwrap_or(0);
        provider.message = quality_message(provider);
    }
    findings.sort_by_key(Finding::key);
    let totals = totals(&findings);
    Ok(Report {
        generated_at: now,
        inactive_days,
        skus,
        findings: findings.into_iter().map(Arc::new).collect(),
        totals,
        sign_in_data: quality,
    })
}

/// Marks the findings an admin accepted, while the acceptance holds and the finding is of the
/// kind accepted.
async fn apply_acceptances(
    db: &DatabaseConnection,
    provider_id: Option<i64>,
    now: DateTime<Utc>,
    findings: &mut [Finding],
) -> Result<()> {
    let today = now.date_naive();
    let accepted = acceptances::in_force(db, provider_id, today).await?;
    if accepted.is_empty() {
        return Ok(());
    }
    for finding in findings {
        let Some(user) = &finding.user else { continue };
        finding.acceptance = accepted
            .get(&(user.id, finding.sku.id))
            .filter(|acceptance| acceptance.covers(finding.kind, today))
            .cloned();
    }
    Ok(())
}

/// Judges users one by one against the SKUs in scope and the inactivity cutoff.
struct Judge {
    skus: HashMap<i64, Arc<LicenseSku>>,
    cutoff: DateTime<Utc>,
    /// What each provider's kind knows of its products, by provider id.
    catalogues: HashMap<i64, Arc<dyn Catalogue>>,
    /// Whether the SKU row `.0` includes the SKU row `.1`, remembered per pair: a catalogue
    /// may derive it anew on every call, and the users of an account hold the same few pairs
    /// over and over.
    containment: HashMap<(i64, i64), bool>,
}

impl Judge {
    /// A user's findings. A disabled account's licenses are reported as such only; inactivity
    /// and overlaps are judged on accounts that can sign in, so no license is counted twice.
    fn user_findings(&mut self, user: &Arc<User>, held: &[Holding], findings: &mut Vec<Finding>) {
        // Shared handles, not borrows of `self.skus`: judging overlaps updates `self`.
        let held: Vec<(&Holding, Arc<LicenseSku>)> = held
            .iter()
            .filter_map(|holding| Some((holding, self.skus.get(&holding.license_sku_id)?.clone())))
            .collect();
        let per_license = |kind: FindingKind, evidence: String, findings: &mut Vec<Finding>| {
            for (holding, sku) in &held {
                findings.push(user_finding(kind, user, holding, sku, evidence.clone()));
            }
        };
        let cutoff = self.cutoff;
        if !user.account_enabled {
            let evidence = format!(
                "{} is disabled and cannot sign in",
                user.user_principal_name
            );
            per_license(FindingKind::DisabledAccount, evidence, findings);
        } else if user.never_signed_in()
            && user
                .created_date_time
                .is_none_or(|created| created < cutoff)
        {
            let evidence = format!(
                "{} has no interactive, non-interactive or successful sign-in on record",
                user.user_principal_name
            );
            per_license(FindingKind::NeverSignedIn, evidence, findings);
        } else if let Some((field, at)) = user.inactive_since(cutoff) {
            let evidence = format!(
                "{} last signed in on {} ({}), before {}",
                user.user_principal_name,
                at.format("%Y-%m-%d"),
                field_name(field),
                cutoff.format("%Y-%m-%d"),
            );
            let start = findings.len();
            per_license(FindingKind::InactiveUser, evidence, findings);
            for finding in &mut findings[start..] {
                finding.last_sign_in = Some((field, at));
            }
        } else {
            let overlapping = self.overlaps(user, &held);
            findings.extend(overlapping);
        }
    }

    /// Each held license that another held license already includes. When two SKUs give
    /// exactly the same, the one added to the catalog later (higher row id) is the redundant one.
    fn overlaps(&mut self, user: &Arc<User>, held: &[(&Holding, Arc<LicenseSku>)]) -> Vec<Finding> {
        let mut found = Vec::new();
        for (holding, inner) in held {
            let container = held.iter().map(|(_, outer)| outer).find(|outer| {
                outer.id != inner.id
                    && self.contains(outer, inner)
                    && (!self.contains(inner, outer) || outer.id < inner.id)
            });
            if let Some(outer) = container {
                let evidence = format!(
                    "{} holds {} and {}, which already includes it",
                    user.user_principal_name, inner.display_name, outer.display_name
                );
                let mut finding = user_finding(
                    FindingKind::OverlappingAssignment,
                    user,
                    holding,
                    inner,
                    evidence,
                );
                finding.contained_in = Some(outer.clone());
                found.push(finding);
            }
        }
        found
    }

    /// SKUs of different providers never include each other: the same id may name different
    /// products at different kinds of provider.
    fn contains(&mut self, outer: &LicenseSku, inner: &LicenseSku) -> bool {
        let catalogue = self.catalogues.get(&outer.provider_id);
        *self
            .containment
            .entry((outer.id, inner.id))
            .or_insert_with(|| {
                outer.provider_id == inner.provider_id
                    && catalogue
                        .is_some_and(|catalogue| catalogue.contains(&outer.sku_id, &inner.sku_id))
            })
    }
}

fn field_name(field: SignInField) -> &'static str {
    match field {
        SignInField::Interactive => "lastSignInAt",
        SignInField::NonInteractive => "lastNonInteractiveSignInAt",
        SignInField::Successful => "lastSuccessfulSignInAt",
    }
}

fn user_finding(
    kind: FindingKind,
    user: &Arc<User>,
    holding: &Holding,
    sku: &Arc<LicenseSku>,
    evidence: String,
) -> Finding {
    let removal = Removal::of(holding);
    Finding {
        kind,
        sku: sku.clone(),
        user: Some(user.clone()),
        evidence: format!("{evidence}; to free the seat: {}", removal.describe()),
        removal: Some(removal),
        last_sign_in: None,
        contained_in: None,
        units: 1,
        monthly_cost: sku.monthly_cost(1),
        license_state: holding.paths.state().cloned(),
        license_error: holding.paths.error().cloned(),
        acceptance: None,
    }
}

/// Seats paid for (enabled) and held by nobody, for SKUs still subscribed.
fn unassigned_seats(sku: &Arc<LicenseSku>) -> Option<Finding> {
    let unused = sku.available_units();
    (sku.subscribed && unused > 0).then(|| Finding {
        kind: FindingKind::UnassignedSeats,
        sku: sku.clone(),
        user: None,
        removal: None,
        last_sign_in: None,
        contained_in: None,
        units: unused,
        monthly_cost: sku.monthly_cost(unused),
        license_state: None,
        license_error: None,
        acceptance: None,
        evidence: format!(
            "{} has {} enabled seats and {} assigned: {unused} paid and unused",
            sku.display_name, sku.enabled_units, sku.consumed_units
        ),
    })
}

fn totals(findings: &[Finding]) -> Totals {
    let mut totals = Totals::default();
    let mut by_kind: HashMap<FindingKind, KindTotal> = HashMap::new();
    for finding in findings {
        let kind = by_kind.entry(finding.kind).or_default();
        if finding.acceptance.is_some() {
            kind.accepted += 1;
            totals.accepted += 1;
            continue;
        }
        kind.findings += 1;
        kind.units += finding.units;
        totals.findings += 1;
        match &finding.monthly_cost {
            Some((currency, amount)) => {
                kind.monthly_cost.add(currency, *amount);
                totals.monthly_cost.add(currency, *amount);
            }
            None => totals.unpriced_findings += 1,
        }
    }
    totals.by_kind = KINDS
        .iter()
        .map(|kind| (*kind, by_kind.remove(kind).unwrap_or_default()))
        .collect();
    totals
}

/// The providers in the report's scope, oldest first.
async fn provider_rows(
    db: &DatabaseConnection,
    provider_id: Option<i64>,
) -> Result<Vec<providers::Model>> {
    let mut query = providers::Entity::find().order_by_asc(providers::Column::Id);
    if let Some(provider_id) = provider_id {
        query = query.filter(providers::Column::Id.eq(provider_id));
    }
    Ok(query.all(db).await?)
}

fn sign_in_quality(provider: providers::Model) -> SignInDataQuality {
    SignInDataQuality {
        provider_id: provider.id,
        provider_name: provider.name,
        available: provider.sign_in_data_status.as_deref() == Some(SIGN_IN_AVAILABLE),
        status: provider.sign_in_data_status,
        licensed_users_unknown: 0,
        message: String::new(),
    }
}

fn quality_message(quality: &SignInDataQuality) -> String {
    let name = &quality.provider_name;
    match (quality.available, quality.status.as_deref()) {
        (true, _) => format!("{name}: sign-in activity is available"),
        (false, None) => format!(
            "{name}: no sync has read sign-in activity yet; its {} licensed users are not judged inactive or never signed in",
            quality.licensed_users_unknown
        ),
        (false, Some(status)) => format!(
            "{name}: sign-in activity is unavailable ({status}); its {} licensed users are not judged inactive or never signed in — unknown is not inactive",
            quality.licensed_users_unknown
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_says_where_a_license_comes_from() {
        let direct = Removal {
            assigned_directly: true,
            ..Removal::default()
        };
        assert_eq!(direct.describe(), "remove it from the user");
        let group = Removal {
            assigned_directly: false,
            via_group_ids: vec!["g1".into(), "g2".into()],
            ..Removal::default()
        };
        assert_eq!(group.describe(), "only through group(s) g1, g2");
        let failing = Removal {
            assigned_directly: true,
            via_group_ids: vec!["g1".into()],
            errors: vec![(Some("g1".into()), AssignmentError::CountViolation)],
        };
        assert_eq!(
            failing.describe(),
            "remove it from the user and from group(s) g1 (group g1 reports CountViolation)"
        );
    }
}
