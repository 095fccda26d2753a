//! Microsoft's SKU table (the part the simulator uses), embedded from data/skus.json.
//!
//! Source: Microsoft's "Product names and service plan identifiers for licensing" table; see
//! data/README.md. Real skuIds and servicePlanIds matter because license-manager maps them to
//! product names with the same table.

use std::sync::OnceLock;

use serde::Deserialize;
use uuid::Uuid;

const SKUS_JSON: &str = include_str!("../data/skus.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPlan {
    pub service_plan_id: Uuid,
    pub service_plan_name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogSku {
    pub sku_id: Uuid,
    pub sku_part_number: String,
    pub display_name: String,
    pub service_plans: Vec<CatalogPlan>,
}

#[derive(Deserialize)]
struct CatalogFile {
    skus: Vec<CatalogSku>,
}

/// All SKUs in the embedded table.
pub fn skus() -> &'static [CatalogSku] {
    static CATALOG: OnceLock<Vec<CatalogSku>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // The file is part of the crate and checked by a unit test, so a parse failure is a
        // build defect, not a runtime condition; an empty catalog keeps the server alive anyway.
        serde_json::from_str::<CatalogFile>(SKUS_JSON)
            .map(|f| f.skus)
            .unwrap_or_default()
    })
}

/// Looks a SKU up by its skuPartNumber (Microsoft's String_Id).
pub fn by_part_number(part: &str) -> Option<&'static CatalogSku> {
    skus().iter().find(|s| s.sku_part_number == part)
}

/// Looks a SKU up by skuId.
pub fn by_id(id: Uuid) -> Option<&'static CatalogSku> {
    skus().iter().find(|s| s.sku_id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_real_guids() {
        assert!(skus().len() >= 15);
        let e5 = by_part_number("SPE_E5").expect("SPE_E5");
        assert_eq!(
            e5.sku_id.to_string(),
            "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
        );
        assert!(!e5.service_plans.is_empty());
        let e3 = by_part_number("ENTERPRISEPACK").expect("ENTERPRISEPACK");
        assert_eq!(
            e3.sku_id.to_string(),
            "6fd2c87f-b296-42f0-b197-1e91e994b900"
        );
        assert_eq!(
            by_id(e3.sku_id).map(|s| s.display_name.as_str()),
            Some("Office 365 E3")
        );
        for part in [
            "Microsoft_365_Copilot",
            "MCOEV",
            "AAD_PREMIUM_P2",
            "FLOW_FREE",
            "POWER_BI_PRO",
        ] {
            assert!(by_part_number(part).is_some(), "{part}");
        }
    }
}
