//! The Microsoft 365 client as the engine sees it: Graph's listings as pages of records.

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use super::checks;
use super::graph::{DeltaOptions, DeltaStart, GraphClient, RetryConfig, UserQuery};
use super::mapping::{
    group_record, sign_in_dates, sku_record, subscription_record, user_change, user_record,
};
use crate::providers::records::{
    GroupRecord, SignInRecord, SkuRecord, SubscriptionRecord, UserRecord,
};
use crate::providers::{
    ChangePage, ConnectionCheck, LicenseProvider, LicenseWriter, Pages, ProviderError,
};

pub struct Microsoft365 {
    pub(super) graph: GraphClient,
}

impl Microsoft365 {
    pub fn new(graph: GraphClient) -> Self {
        Self { graph }
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
        checks::run(&self.graph).boxed()
    }

    fn groups<'a>(
        &'a self,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<GroupRecord>, ProviderError>> {
        async move {
            let mut distinct: Vec<String> = ids.iter().map(|id| id.to_ascii_lowercase()).collect();
            distinct.sort();
            distinct.dedup();
            // Someone waits for the plan: a throttled or failing Graph is reported, not waited
            // out as a sync would.
            let graph = self.graph.with_retry(RetryConfig::interactive());
            let groups = graph.groups(&distinct).await?;
            Ok(groups.into_iter().map(group_record).collect())
        }
        .boxed()
    }

    fn license_writer(&self) -> Option<&dyn LicenseWriter> {
        Some(self)
    }
}
