//! The Microsoft 365 provider: Microsoft Graph read through `graph`, turned into
//! provider records.

pub mod catalog;
pub mod graph;
pub mod overlap;

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::json;

use super::records::{
    AssignedSku, AssignmentError, AssignmentState, LicensePaths, LicenseRecord, LicenseSource,
    SignInDates, SignInRecord, SkuRecord, SubscriptionRecord, UserChange, UserPatch, UserRecord,
};
use super::{
    ChangePage, ConnectionCheck, LicenseProvider, Pages, ProviderError, ProviderErrorKind,
    SignInGap,
};
use graph::{
    CommerceSubscription, DeltaItem, DeltaOptions, DeltaStart, GraphClient, GraphError,
    RemovedReason, RetryConfig, SignInActivity, SignInUnavailableReason, SubscribedSku, User,
    UserDelta, UserQuery,
};

impl From<GraphError> for ProviderError {
    fn from(error: GraphError) -> Self {
        let kind = if error.is_delta_token_expired() {
            ProviderErrorKind::DeltaExpired
        } else {
            match error.sign_in_unavailable() {
                Some(SignInUnavailableReason::MissingAuditLogPermission) => {
                    ProviderErrorKind::SignInUnavailable(SignInGap::MissingPermission)
                }
                Some(SignInUnavailableReason::TenantNotPremium) => {
                    ProviderErrorKind::SignInUnavailable(SignInGap::NotPremium)
                }
                None => ProviderErrorKind::Other,
            }
        };
        Self {
            code: error.code(),
            message: error.to_string(),
            hint: error.hint(),
            kind,
        }
    }
}

pub struct Microsoft365 {
    graph: GraphClient,
}

impl Microsoft365 {
    pub fn new(graph: GraphClient) -> Self {
        Self { graph }
    }
}

fn lower(id: &str) -> String {
    id.to_ascii_lowercase()
}

fn sign_in_dates(activity: &SignInActivity) -> SignInDates {
    SignInDates {
        last_interactive: activity.last_sign_in_date_time,
        last_non_interactive: activity.last_non_interactive_sign_in_date_time,
        last_successful: activity.last_successful_sign_in_date_time,
    }
}

/// Joins `assignedLicenses` (what the user holds, with its effective disabled plans) with
/// `licenseAssignmentStates` (each path it came by: directly or through a group, and whether
/// that path failed). Graph's "None" for "no error" is read here, once, as no error.
fn licenses(user: &User) -> Vec<LicenseRecord> {
    let mut paths: BTreeMap<String, Vec<LicenseSource>> = BTreeMap::new();
    for state in &user.license_assignment_states {
        let mut disabled_plans: Vec<String> =
            state.disabled_plans.iter().map(|p| lower(p)).collect();
        disabled_plans.sort();
        paths
            .entry(lower(&state.sku_id))
            .or_default()
            .push(LicenseSource {
                group_id: state.assigned_by_group.as_deref().map(lower),
                state: state.state.as_deref().and_then(AssignmentState::parse),
                error: state.error.as_deref().and_then(AssignmentError::parse),
                disabled_plans,
            });
    }
    // A path for a SKU the user does not hold (a group that could not assign it at all) is not
    // a license: only `assignedLicenses` says what is held.
    user.assigned_licenses
        .iter()
        .map(|assigned| {
            let sku_id = lower(&assigned.sku_id);
            LicenseRecord {
                disabled_plans: assigned.disabled_plans.iter().map(|p| lower(p)).collect(),
                paths: LicensePaths::new(paths.remove(&sku_id).unwrap_or_default()),
                sku_id,
            }
        })
        .collect()
}

fn user_record(user: User) -> UserRecord {
    UserRecord {
        licenses: licenses(&user),
        user_principal_name: user
            .user_principal_name
            .clone()
            .unwrap_or_else(|| user.id.clone()),
        external_id: user.id,
        mail: user.mail,
        display_name: user.display_name,
        account_enabled: user.account_enabled.unwrap_or(true),
        user_type: user.user_type,
        created_at: user.created_date_time,
        sign_in: None,
    }
}

fn sku_record(sku: SubscribedSku) -> SkuRecord {
    SkuRecord {
        sku_id: lower(&sku.sku_id),
        sku_part_number: sku.sku_part_number.unwrap_or_else(|| sku.sku_id.clone()),
        capability_status: sku.capability_status.unwrap_or_else(|| "Enabled".into()),
        applies_to: sku.applies_to,
        enabled_units: sku.prepaid_units.enabled,
        suspended_units: sku.prepaid_units.suspended,
        warning_units: sku.prepaid_units.warning,
        locked_out_units: sku.prepaid_units.locked_out,
        consumed_units: sku.consumed_units,
        service_plans: json!(
            sku.service_plans
                .iter()
                .map(|plan| json!({
                    "servicePlanId": plan.service_plan_id,
                    "servicePlanName": plan.service_plan_name,
                    "provisioningStatus": plan.provisioning_status,
                }))
                .collect::<Vec<_>>()
        ),
    }
}

fn subscription_record(subscription: CommerceSubscription) -> SubscriptionRecord {
    SubscriptionRecord {
        external_id: subscription.id,
        commerce_subscription_id: subscription.commerce_subscription_id,
        sku_id: subscription
            .sku_id
            .as_deref()
            .map(lower)
            .unwrap_or_default(),
        sku_part_number: subscription.sku_part_number.unwrap_or_default(),
        status: subscription.status.unwrap_or_else(|| "Enabled".into()),
        total_licenses: subscription.total_licenses,
        is_trial: subscription.is_trial,
        created_at: subscription.created_date_time,
        next_lifecycle_at: subscription.next_lifecycle_date_time,
    }
}

fn user_change(item: DeltaItem) -> UserChange {
    match item {
        DeltaItem::Removed { id, reason } => UserChange::Removed {
            external_id: id,
            permanently: reason == RemovedReason::Deleted,
        },
        DeltaItem::User(delta) => UserChange::Upsert(user_patch(delta)),
    }
}

fn user_patch(delta: UserDelta) -> UserPatch {
    UserPatch {
        external_id: delta.id,
        // A UPN is never null in Graph; a null one is treated as not sent.
        user_principal_name: delta.user_principal_name.into_update().flatten(),
        mail: delta.mail.into_update(),
        display_name: delta.display_name.into_update(),
        account_enabled: delta.account_enabled.into_update().flatten(),
        user_type: delta.user_type.into_update(),
        created_at: delta.created_date_time.into_update(),
        licenses: delta.assigned_licenses.into_update().map(|licenses| {
            licenses
                .unwrap_or_default()
                .into_iter()
                .map(|license| AssignedSku {
                    sku_id: lower(&license.sku_id),
                    disabled_plans: license.disabled_plans.iter().map(|p| lower(p)).collect(),
                })
                .collect()
        }),
    }
}

fn check(name: &'static str, result: Result<String, GraphError>) -> ConnectionCheck {
    match result {
        Ok(message) => ConnectionCheck {
            name,
            ok: true,
            code: None,
            message,
            hint: None,
        },
        Err(error) => ConnectionCheck {
            name,
            ok: false,
            code: Some(error.code().to_owned()),
            message: error.to_string(),
            hint: Some(error.hint()),
        },
    }
}

impl LicenseProvider for Microsoft365 {
    fn users(&self, with_sign_in: bool) -> Pages<Vec<UserRecord>> {
        let query = UserQuery {
            sign_in_activity: with_sign_in,
            page_size: None,
        };
        self.graph
            .users(query)
            .map(move |page| {
                let page = page.map_err(ProviderError::from)?;
                Ok(page
                    .items
                    .into_iter()
                    .map(|user| {
                        let dates = with_sign_in.then(|| {
                            user.sign_in_activity
                                .as_ref()
                                .map(sign_in_dates)
                                .unwrap_or_default()
                        });
                        UserRecord {
                            sign_in: dates,
                            ..user_record(user)
                        }
                    })
                    .collect())
            })
            .boxed()
    }

    fn skus(&self) -> BoxFuture<'_, Result<Vec<SkuRecord>, ProviderError>> {
        async move {
            let skus = self.graph.subscribed_skus().await?;
            Ok(skus.into_iter().map(sku_record).collect())
        }
        .boxed()
    }

    fn subscriptions(&self) -> BoxFuture<'_, Result<Vec<SubscriptionRecord>, ProviderError>> {
        async move {
            let subscriptions = self.graph.subscriptions().await?;
            Ok(subscriptions.into_iter().map(subscription_record).collect())
        }
        .boxed()
    }

    fn start_changes(&self) -> BoxFuture<'_, Result<String, ProviderError>> {
        async move { Ok(self.graph.latest_delta_link().await?) }.boxed()
    }

    fn changes_since(&self, link: String) -> Pages<ChangePage> {
        // Only changed properties: a partial object must never null out what is stored.
        let options = DeltaOptions { minimal: true };
        self.graph
            .users_delta(DeltaStart::Link(link), options)
            .map(|page| {
                let page = page.map_err(ProviderError::from)?;
                Ok(ChangePage {
                    changes: page.items.into_iter().map(user_change).collect(),
                    next_round: page.delta_link,
                })
            })
            .boxed()
    }

    fn sign_ins(&self) -> Pages<Vec<SignInRecord>> {
        self.graph
            .sign_in_activity()
            .map(|page| {
                let page = page.map_err(ProviderError::from)?;
                Ok(page
                    .items
                    .into_iter()
                    .map(|user| SignInRecord {
                        dates: user
                            .sign_in_activity
                            .as_ref()
                            .map(sign_in_dates)
                            .unwrap_or_default(),
                        external_id: user.id,
                    })
                    .collect())
            })
            .boxed()
    }

    fn test_connection(&self) -> BoxFuture<'_, Vec<ConnectionCheck>> {
        async move {
            let token = self.graph.verify_credentials().await;
            let token_check = check(
                "token",
                token
                    .as_ref()
                    .map(|info| {
                        format!(
                            "signed in; the token is valid until {}",
                            info.expires_at
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        )
                    })
                    .map_err(Clone::clone),
            );
            if let Err(error) = token {
                // Without a token nothing else can be tried; say so on each check.
                let skipped = |name| ConnectionCheck {
                    name,
                    ok: false,
                    code: Some(error.code().to_owned()),
                    message: "not checked: signing in failed (see the token check)".into(),
                    hint: Some(error.hint()),
                };
                return vec![
                    token_check,
                    skipped("organization"),
                    skipped("users"),
                    skipped("subscriptions"),
                    skipped("signInActivity"),
                ];
            }
            // Someone is waiting on the answer: a throttled Graph is reported as such, not
            // waited out as a sync would (up to minutes per request).
            let graph = self.graph.with_retry(RetryConfig::interactive());
            let organization = graph.organization().await.map(|org| {
                format!(
                    "tenant {:?}, default domain {}",
                    org.display_name.as_deref().unwrap_or_default(),
                    org.default_domain().unwrap_or("unknown")
                )
            });
            let users = first_page(&graph, false)
                .await
                .map(|count| format!("users can be read ({count} on the first page)"));
            // Both reads of a sync's seats: the SKUs with their counts, and the commerce
            // subscriptions behind them.
            let subscriptions = tokio::try_join!(graph.subscribed_skus(), graph.subscriptions())
                .map(|(skus, subscriptions)| {
                    format!(
                        "{} subscribed SKUs and {} subscriptions can be read",
                        skus.len(),
                        subscriptions.len()
                    )
                });
            let sign_ins = first_page(&graph, true)
                .await
                .map(|_| "sign-in activity can be read".to_owned());
            vec![
                token_check,
                check("organization", organization),
                check("users", users),
                check("subscriptions", subscriptions),
                check("signInActivity", sign_ins),
            ]
        }
        .boxed()
    }
}

/// Reads one small page of users: enough to prove the permission, cheap for a large tenant.
async fn first_page(graph: &GraphClient, sign_in_activity: bool) -> Result<usize, GraphError> {
    let mut pages = graph.users(UserQuery {
        sign_in_activity,
        page_size: Some(1),
    });
    match pages.next().await {
        Some(page) => Ok(page?.items.len()),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: serde_json::Value) -> User {
        serde_json::from_value(json).expect("a Graph user")
    }

    #[test]
    fn graph_none_is_no_error_and_a_failing_group_path_shows() {
        let user = user(json!({
            "id": "u1",
            "assignedLicenses": [
                { "skuId": "SKU-A", "disabledPlans": ["PLAN-1"] },
                { "skuId": "sku-b", "disabledPlans": [] },
                { "skuId": "sku-c", "disabledPlans": [] },
            ],
            "licenseAssignmentStates": [
                { "skuId": "sku-a", "assignedByGroup": null, "state": "Active", "error": "None",
                  "disabledPlans": ["PLAN-1"] },
                { "skuId": "sku-a", "assignedByGroup": "GROUP-1", "state": "Error",
                  "error": "CountViolation", "disabledPlans": [] },
                { "skuId": "sku-b", "assignedByGroup": "group-2", "state": "Active", "error": null },
                { "skuId": "sku-d", "assignedByGroup": "group-3", "state": "Error",
                  "error": "CountViolation" },
            ],
        }));
        let licenses = licenses(&user);
        let skus: Vec<&str> = licenses.iter().map(|l| l.sku_id.as_str()).collect();
        assert_eq!(skus, ["sku-a", "sku-b", "sku-c"], "sku-d is not held");

        let a = &licenses[0].paths;
        assert_eq!(a.sources().len(), 2);
        assert_eq!(a.sources()[0].group_id, None);
        assert_eq!(a.sources()[0].error, None, "\"None\" is no error");
        assert_eq!(a.sources()[0].disabled_plans, ["plan-1"]);
        assert_eq!(a.sources()[1].group_id.as_deref(), Some("group-1"));
        assert_eq!(a.error(), Some(&AssignmentError::CountViolation));
        assert_eq!(a.state(), Some(&AssignmentState::Error));
        assert!(a.assigned_directly());

        let b = &licenses[1].paths;
        assert!(!b.assigned_directly());
        assert_eq!(b.group_ids(), ["group-2"]);
        assert_eq!(
            (b.state(), b.error()),
            (Some(&AssignmentState::Active), None)
        );

        let c = &licenses[2].paths;
        assert!(c.sources().is_empty(), "Graph said nothing about its paths");
        assert!(c.assigned_directly());
    }
}
