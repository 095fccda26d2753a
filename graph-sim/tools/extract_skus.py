#!/usr/bin/env python3
"""Extract the SKUs graph-sim needs from Microsoft's licensing table.

Input: the CSV "Product names and service plan identifiers for licensing"
(shared/data/m365-product-names-and-service-plans.csv, see its SOURCE.md).
Output: data/skus.json (embedded in the crate with include_str!).
Run: python3 tools/extract_skus.py <csv> > data/skus.json
"""
import csv, json, sys

WANTED = [
    "SPE_E5", "SPE_E3", "ENTERPRISEPACK", "ENTERPRISEPREMIUM", "STANDARDPACK", "SPB",
    "O365_BUSINESS_PREMIUM", "O365_BUSINESS_ESSENTIALS", "EXCHANGESTANDARD", "POWER_BI_PRO",
    "FLOW_FREE", "AAD_PREMIUM", "AAD_PREMIUM_P2", "MCOEV", "Microsoft_365_Copilot",
    "DESKLESSPACK", "ENTERPRISEPREMIUM_NOPSTNCONF",
]

def clean(s):
    return s.replace("\u00a0", " ").strip()

path = sys.argv[1]
skus = {}
with open(path, encoding="utf-8-sig", newline="") as f:
    for row in csv.DictReader(f):
        sid = clean(row["String_Id"])
        if sid not in WANTED:
            continue
        guid = clean(row["GUID"]).lower()
        sku = skus.setdefault(guid, {
            "skuId": guid,
            "skuPartNumber": sid,
            "displayName": clean(row["Product_Display_Name"]),
            "servicePlans": [],
        })
        plan = {"servicePlanId": clean(row["Service_Plan_Id"]).lower(),
                "servicePlanName": clean(row["Service_Plan_Name"])}
        if plan not in sku["servicePlans"]:
            sku["servicePlans"].append(plan)

order = {s: i for i, s in enumerate(WANTED)}
out = sorted(skus.values(), key=lambda s: order[s["skuPartNumber"]])
missing = set(WANTED) - {s["skuPartNumber"] for s in out}
if missing:
    sys.exit(f"missing SKUs: {missing}")
json.dump({
    "source": "Microsoft, 'Product names and service plan identifiers for licensing' "
              "(https://learn.microsoft.com/entra/identity/users/licensing-service-plan-reference), "
              "CSV copy in shared/data/m365-product-names-and-service-plans.csv "
              "(sha256 3665b48f640a1359a05d9f263c13000e5e7c8d6fa6447e1b0c999071bdd6f486); "
              "extracted with tools/extract_skus.py",
    "skus": out,
}, sys.stdout, indent=1, ensure_ascii=False)
print()
