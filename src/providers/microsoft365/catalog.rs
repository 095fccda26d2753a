//! Microsoft's licensing table (data/microsoft-365-skus.tsv, see data/SOURCE.md), embedded at
//! build time: friendly product names and the service plans each SKU includes.

use std::collections::HashMap;
use std::sync::LazyLock;

const TABLE: &str = include_str!("../../../data/microsoft-365-skus.tsv");

#[derive(Debug)]
pub struct Product {
    /// Graph `skuId`, lower-case.
    pub sku_id: &'static str,
    /// Graph `skuPartNumber`.
    pub sku_part_number: &'static str,
    pub name: &'static str,
    pub service_plans: Vec<ServicePlan>,
}

#[derive(Debug)]
pub struct ServicePlan {
    /// Graph `servicePlanId`, lower-case.
    pub id: &'static str,
    /// e.g. EXCHANGE_S_ENTERPRISE.
    pub name: &'static str,
}

struct Catalog {
    products: HashMap<&'static str, Product>,
    plan_names: HashMap<&'static str, &'static str>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let mut products = HashMap::new();
    let mut plan_names = HashMap::new();
    // The file is generated and checked by the tests below; a malformed line is skipped.
    for line in TABLE.lines().skip(1) {
        let mut cells = line.split('\t');
        let (Some(sku_id), Some(sku_part_number), Some(name), Some(plans)) =
            (cells.next(), cells.next(), cells.next(), cells.next())
        else {
            continue;
        };
        let service_plans: Vec<ServicePlan> = plans
            .split(';')
            .filter_map(|plan| plan.split_once(':'))
            .map(|(id, name)| ServicePlan { id, name })
            .collect();
        for plan in &service_plans {
            plan_names.insert(plan.id, plan.name);
        }
        products.insert(
            sku_id,
            Product {
                sku_id,
                sku_part_number,
                name,
                service_plans,
            },
        );
    }
    Catalog {
        products,
        plan_names,
    }
});

/// The product with this `skuId` (any case), if Microsoft's table knows it.
pub fn product(sku_id: &str) -> Option<&'static Product> {
    CATALOG.products.get(sku_id.to_ascii_lowercase().as_str())
}

/// The friendly name of a SKU; unknown SKUs fall back to their part number.
pub fn product_name<'a>(sku_id: &str, sku_part_number: &'a str) -> std::borrow::Cow<'a, str> {
    match product(sku_id) {
        Some(product) => product.name.into(),
        None => sku_part_number.into(),
    }
}

/// The name of a service plan (e.g. for `disabledPlans`), if the table knows it.
pub fn service_plan_name(plan_id: &str) -> Option<&'static str> {
    CATALOG
        .plan_names
        .get(plan_id.to_ascii_lowercase().as_str())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_product_of_microsofts_table_is_loaded() {
        assert_eq!(CATALOG.products.len(), TABLE.lines().count() - 1);
        assert_eq!(CATALOG.products.len(), 569);
    }

    #[test]
    fn names_come_from_microsofts_table_by_sku_id() {
        let e5 = product("06EBC4EE-1BB5-47DD-8120-11324BC54E06").expect("Microsoft 365 E5");
        assert_eq!(e5.sku_part_number, "SPE_E5");
        assert_eq!(e5.name, "Microsoft 365 E5");
        assert!(
            e5.service_plans
                .iter()
                .any(|plan| plan.name == "EXCHANGE_S_ENTERPRISE")
        );
        assert_eq!(
            product_name("18181a46-0d4e-45cd-891e-60aabd171b4e", "STANDARDPACK"),
            "Office 365 E1"
        );
        assert_eq!(
            product_name("00000000-0000-0000-0000-000000000000", "CONTOSO_CUSTOM"),
            "CONTOSO_CUSTOM"
        );
        assert_eq!(
            service_plan_name("9aaf7827-d63c-4b61-89c3-182f06f82e5c"),
            Some("EXCHANGE_S_STANDARD")
        );
    }
}
