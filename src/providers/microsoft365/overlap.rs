//! Which SKU already contains another, derived from Microsoft's service-plan table (catalog.rs)
//! rather than from a hand-written list of suites.
//!
//! A strict subset test on plan names fails for real suites: Microsoft ships the same capability
//! in tiers under different names (FORMS_PLAN_E3 / FORMS_PLAN_E5, FLOW_O365_P2 / _P3,
//! BPOS_S_TODO_1 / _2, EXCHANGE_S_STANDARD / EXCHANGE_S_ENTERPRISE, MDE_LITE / WINDEFATP), so
//! Microsoft 365 E5 would not "contain" Office 365 E3. The rule used instead:
//!
//! 1. Each plan name is reduced to a capability family and a tier: a trailing tier suffix
//!    (`_E3`, `_P2`, `_1`, `PLAN2`, `_01`) is stripped and becomes the tier; a few product
//!    lines whose tiers have different names are mapped to one family by name (`TIERED_NAMES`).
//! 2. Plans every SKU carries as plumbing (`EXCHANGE_S_FOUNDATION`, partner/Lighthouse plans)
//!    are ignored (`IGNORED`).
//! 3. A contains B when, for every family of B, A has the same family at the same or a higher
//!    tier, and B has at least one family. Two SKUs with equal families contain each other.
//!
//! It errs towards "not contained": a missed overlap costs a finding, a false one would tell an
//! admin to remove a license somebody needs.

use std::collections::HashMap;

use super::catalog;

/// Plans that say nothing about what a user can do.
const IGNORED: [&str; 3] = [
    "EXCHANGE_S_FOUNDATION",
    "M365_LIGHTHOUSE_CUSTOMER_PLAN1",
    "M365_LIGHTHOUSE_PARTNER_PLAN1",
];

/// Product lines whose tiers are distinct names: (plan, family, tier).
const TIERED_NAMES: [(&str, &str, u32); 10] = [
    ("EXCHANGE_S_STANDARD", "EXCHANGE", 1),
    ("EXCHANGE_S_ENTERPRISE", "EXCHANGE", 2),
    ("SHAREPOINTSTANDARD", "SHAREPOINT", 1),
    ("SHAREPOINTENTERPRISE", "SHAREPOINT", 2),
    ("MDE_LITE", "DEFENDER_ENDPOINT", 1),
    ("WINDEFATP", "DEFENDER_ENDPOINT", 2),
    ("ADALLOM_S_DISCOVERY", "CLOUD_APP_SECURITY", 1),
    ("ADALLOM_S_O365", "CLOUD_APP_SECURITY", 2),
    ("ADALLOM_S_STANDALONE", "CLOUD_APP_SECURITY", 3),
    ("KAIZALA_STANDALONE", "KAIZALA_O365", 9),
];

/// A plan's capability family and tier, or `None` for plumbing.
pub fn family(plan: &str) -> Option<(String, u32)> {
    if IGNORED.contains(&plan) {
        return None;
    }
    if let Some((_, family, tier)) = TIERED_NAMES.iter().find(|(name, _, _)| *name == plan) {
        return Some(((*family).to_owned(), *tier));
    }
    Some(split_tier(plan))
}

/// `FORMS_PLAN_E5` → (`FORMS_PLAN`, 5); `WHITEBOARD_PLAN2` → (`WHITEBOARD`, 2);
/// `BPOS_S_TODO_1` → (`BPOS_S_TODO`, 1); a name without a tier suffix is tier 0.
fn split_tier(plan: &str) -> (String, u32) {
    let digits_start = plan.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let tier: u32 = plan[digits_start..].parse().unwrap_or(0);
    if digits_start == plan.len() {
        return (plan.to_owned(), 0);
    }
    let stem = &plan[..digits_start];
    for marker in ["_PLAN", "PLAN", "_E", "_P", "_"] {
        if let Some(family) = stem.strip_suffix(marker)
            && !family.is_empty()
        {
            return (family.to_owned(), tier);
        }
    }
    (plan.to_owned(), 0)
}

/// The families of a SKU, with the highest tier of each.
fn families(sku_id: &str) -> Option<HashMap<String, u32>> {
    let product = catalog::product(sku_id)?;
    let mut families = HashMap::new();
    for (family, tier) in product
        .service_plans
        .iter()
        .filter_map(|plan| family(plan.name))
    {
        let highest = families.entry(family).or_insert(tier);
        *highest = (*highest).max(tier);
    }
    Some(families)
}

/// Whether the SKU `outer` already includes everything the SKU `inner` gives (Graph skuIds).
/// Unknown SKUs contain nothing and are contained in nothing.
pub fn contains(outer: &str, inner: &str) -> bool {
    let (Some(outer), Some(inner)) = (families(outer), families(inner)) else {
        return false;
    };
    !inner.is_empty()
        && inner.iter().all(|(family, tier)| {
            outer
                .get(family)
                .is_some_and(|outer_tier| outer_tier >= tier)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPE_E5: &str = "06ebc4ee-1bb5-47dd-8120-11324bc54e06";
    const SPE_E3: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";
    const ENTERPRISEPACK: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
    const EXCHANGESTANDARD: &str = "4b9405b0-7788-4568-add1-99614e613b69";
    const POWER_BI_PRO: &str = "f8a1db68-be16-40ed-86d5-cb42ce701560";

    #[test]
    fn tiers_are_split_from_plan_names() {
        assert_eq!(split_tier("FORMS_PLAN_E5"), ("FORMS_PLAN".into(), 5));
        assert_eq!(split_tier("FLOW_O365_P2"), ("FLOW_O365".into(), 2));
        assert_eq!(split_tier("BPOS_S_TODO_1"), ("BPOS_S_TODO".into(), 1));
        assert_eq!(split_tier("WHITEBOARD_PLAN3"), ("WHITEBOARD".into(), 3));
        assert_eq!(
            split_tier("UNIVERSAL_PRINT_01"),
            ("UNIVERSAL_PRINT".into(), 1)
        );
        assert_eq!(split_tier("TEAMS1"), ("TEAMS1".into(), 0));
        assert_eq!(split_tier("SWAY"), ("SWAY".into(), 0));
        assert_eq!(family("EXCHANGE_S_FOUNDATION"), None);
        assert_eq!(
            family("EXCHANGE_S_ENTERPRISE"),
            Some(("EXCHANGE".into(), 2))
        );
    }

    #[test]
    fn suites_contain_what_they_include() {
        assert!(contains(SPE_E5, ENTERPRISEPACK), "E5 ⊇ Office 365 E3");
        assert!(
            contains(SPE_E5, EXCHANGESTANDARD),
            "E5 ⊇ Exchange Online (Plan 1)"
        );
        assert!(contains(SPE_E5, SPE_E3), "E5 ⊇ Microsoft 365 E3");
        assert!(contains(SPE_E5, POWER_BI_PRO), "E5 ⊇ Power BI Pro");
    }

    #[test]
    fn smaller_products_do_not_contain_bigger_ones() {
        assert!(!contains(ENTERPRISEPACK, SPE_E5));
        assert!(!contains(SPE_E3, SPE_E5));
        assert!(!contains(SPE_E3, POWER_BI_PRO));
        assert!(!contains(EXCHANGESTANDARD, ENTERPRISEPACK));
        assert!(!contains("00000000-0000-0000-0000-000000000000", SPE_E3));
    }
}
