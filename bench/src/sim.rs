//! graph-sim's control endpoints (`/_sim/...`): they bypass its latency and statistics, so
//! driving the tenant does not disturb what is measured.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

/// Control requests in flight at once while changing users.
const CHANGE_CONCURRENCY: usize = 16;

pub struct SimControl {
    http: reqwest::Client,
    base: String,
}

impl SimControl {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.send().await.context("graph-sim did not answer")?;
        let status = response.status();
        if !status.is_success() {
            bail!(
                "graph-sim control request failed ({status}): {}",
                response.text().await.unwrap_or_default()
            );
        }
        response
            .json()
            .await
            .context("graph-sim answered without JSON")
    }

    pub async fn reset_stats(&self) -> anyhow::Result<()> {
        self.send(self.http.post(format!("{}/_sim/stats/reset", self.base)))
            .await
            .map(drop)
    }

    /// Graph requests served since the last reset (the token endpoint included).
    pub async fn requests(&self) -> anyhow::Result<u64> {
        let stats = self
            .send(self.http.get(format!("{}/_sim/stats", self.base)))
            .await?;
        stats["totalRequests"]
            .as_u64()
            .context("graph-sim stats have no totalRequests")
    }

    /// Answers to `route` (a suffix of graph-sim's route keys, e.g. `/discovery/v2.0/keys`)
    /// since the last reset, whatever their status.
    pub async fn answers(&self, route: &str) -> anyhow::Result<u64> {
        let stats = self
            .send(self.http.get(format!("{}/_sim/stats", self.base)))
            .await?;
        let by_route = stats["byRoute"]
            .as_object()
            .context("graph-sim stats have no byRoute")?;
        Ok(by_route
            .iter()
            .filter(|(key, _)| key.ends_with(route))
            .filter_map(|(_, statuses)| statuses.as_object())
            .flat_map(|statuses| statuses.values())
            .filter_map(Value::as_u64)
            .sum())
    }

    /// An access token for the API, signed by the identity provider for a user holding one of
    /// its app roles, as a person's browser would send it.
    pub async fn access_token(&self) -> anyhow::Result<String> {
        let oidc = self
            .send(self.http.get(format!("{}/_sim/oidc", self.base)))
            .await?;
        let user = oidc["roleAssignments"][0]["userId"]
            .as_str()
            .context("graph-sim's identity provider assigns no app role")?
            .to_owned();
        let minted = self
            .send(
                self.http
                    .post(format!("{}/_sim/oidc/tokens", self.base))
                    .json(&json!({ "user": user, "kind": "access" })),
            )
            .await?;
        minted["token"]
            .as_str()
            .map(str::to_owned)
            .context("graph-sim minted no token")
    }

    /// Renames each user in `ids`: a change that users/delta reports and the sync must write.
    pub async fn rename_users(&self, ids: &[String]) -> anyhow::Result<()> {
        futures::stream::iter(ids)
            .map(|id| {
                let request = self
                    .http
                    .patch(format!("{}/_sim/users/{id}", self.base))
                    .json(&json!({ "displayName": format!("Changed {id}") }));
                self.send(request)
            })
            .buffer_unordered(CHANGE_CONCURRENCY)
            .try_for_each(|_| async { Ok(()) })
            .await
    }

    /// Disables each user in `ids`: a change the change log records as one event per user.
    pub async fn disable_users(&self, ids: &[String]) -> anyhow::Result<()> {
        futures::stream::iter(ids)
            .map(|id| {
                self.send(
                    self.http
                        .post(format!("{}/_sim/users/{id}/disable", self.base)),
                )
            })
            .buffer_unordered(CHANGE_CONCURRENCY)
            .try_for_each(|_| async { Ok(()) })
            .await
    }

    /// The ids of the users whose account is enabled: disabling one of the others changes nothing.
    pub async fn enabled_user_ids(&self) -> anyhow::Result<std::collections::HashSet<String>> {
        let users = self
            .send(self.http.get(format!("{}/_sim/users", self.base)))
            .await?;
        Ok(users
            .as_array()
            .context("graph-sim lists no users")?
            .iter()
            .filter(|user| user["accountEnabled"] != json!(false))
            .filter_map(|user| user["id"].as_str().map(str::to_owned))
            .collect())
    }

    /// Sets the latency added to every Graph request (and clears any other fault).
    pub async fn set_latency(&self, latency_ms: u64) -> anyhow::Result<()> {
        self.send(
            self.http
                .put(format!("{}/_sim/faults", self.base))
                .json(&json!({ "latency": latency_ms })),
        )
        .await
        .map(drop)
    }

    /// Seats in use per SKU (Graph's skuId in lower case), as `/subscribedSkus` counts them.
    pub async fn consumed_units(&self) -> anyhow::Result<HashMap<String, i64>> {
        let skus = self
            .send(self.http.get(format!("{}/_sim/skus", self.base)))
            .await?;
        skus["subscribedSkus"]
            .as_array()
            .context("graph-sim lists no subscribedSkus")?
            .iter()
            .map(|sku| {
                let id = sku["skuId"].as_str().context("a SKU without skuId")?;
                let consumed = sku["consumedUnits"]
                    .as_i64()
                    .context("a SKU without consumedUnits")?;
                Ok((id.to_lowercase(), consumed))
            })
            .collect()
    }

    /// Every user's id, by user principal name in lower case.
    pub async fn user_ids(&self) -> anyhow::Result<HashMap<String, String>> {
        let users = self
            .send(self.http.get(format!("{}/_sim/users", self.base)))
            .await?;
        users
            .as_array()
            .context("graph-sim lists no users")?
            .iter()
            .map(|user| {
                let upn = user["userPrincipalName"]
                    .as_str()
                    .context("a user without userPrincipalName")?;
                let id = user["id"].as_str().context("a user without id")?;
                Ok((upn.to_lowercase(), id.to_owned()))
            })
            .collect()
    }

    /// The (user id, skuId) of every license removal applied since the last statistics reset,
    /// once per time it was applied.
    pub async fn removals_applied(&self) -> anyhow::Result<Vec<(String, String)>> {
        let writes = self
            .send(self.http.get(format!("{}/_sim/writes", self.base)))
            .await?;
        let mut removals = Vec::new();
        for write in writes.as_array().context("graph-sim lists no writes")? {
            let user = write["userId"].as_str().context("a write without userId")?;
            for sku in write["removeLicenses"].as_array().into_iter().flatten() {
                let sku = sku
                    .as_str()
                    .context("a removed license that is not an id")?;
                removals.push((user.to_owned(), sku.to_owned()));
            }
        }
        Ok(removals)
    }
}
