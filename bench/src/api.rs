//! The server's HTTP API as an admin script uses it: providers, syncs, schema introspection and
//! the Prometheus metrics.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::load::Target;
use crate::processes::SimInfo;

/// How often a running sync is polled; its resolution bounds the wall-time error.
const POLL_EVERY: Duration = Duration::from_millis(10);
/// What a poll of a sync asks for; variables `{ "id": … }`.
pub const SYNC_RUN: &str = "query($id: ID!) { syncRun(id: $id) { id status pagesFetched \
                            usersSeen usersCreated usersUpdated usersRemoved queuedAt startedAt \
                            finishedAt warnings { code message } error { code message } } }";
/// A sync that takes longer than this is reported as failed.
const SYNC_TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A finished sync run, as `syncRun` shows it, with the harness's own wall clock.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    pub id: String,
    pub status: String,
    pub pages_fetched: u64,
    pub users_seen: u64,
    pub users_created: u64,
    pub users_updated: u64,
    pub users_removed: u64,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<Value>,
    pub warnings: Value,
    /// From the startSync request to the first poll that saw the run finished.
    #[serde(skip_deserializing)]
    pub wall_secs: f64,
}

impl SyncRun {
    pub fn succeeded(&self) -> bool {
        self.status == "SUCCEEDED"
    }

    pub fn in_progress(&self) -> bool {
        matches!(self.status.as_str(), "QUEUED" | "RUNNING")
    }

    /// startedAt → finishedAt as the server recorded it (no queueing, no polling).
    pub fn server_secs(&self) -> Option<f64> {
        let (start, end) = (self.started_at?, self.finished_at?);
        Some((end - start).num_microseconds()? as f64 / 1e6)
    }
}

/// A sync the server accepted, and when it was asked for.
pub struct StartedSync {
    pub id: String,
    started: Instant,
}

impl Api {
    pub fn new(addr: &str, token: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            base: format!("http://{addr}"),
            token,
        })
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.base)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Runs an operation that must succeed; returns its `data`.
    pub async fn run(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(self.graphql_url())
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .context("the server did not answer")?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .with_context(|| format!("the server answered {status} without JSON"))?;
        if !status.is_success() || body.get("errors").is_some() {
            bail!("GraphQL request failed ({status}): {body}");
        }
        Ok(body["data"].clone())
    }

    pub async fn create_provider(&self, sim: &SimInfo) -> anyhow::Result<String> {
        let data = self
            .run(
                "mutation($input: CreateMicrosoftProviderInput!) {
                    createMicrosoftProvider(input: $input) { id } }",
                json!({ "input": {
                    "name": "bench tenant", "tenantId": sim.tenant_id,
                    "clientId": sim.client_id, "clientSecret": sim.client_secret,
                }}),
            )
            .await
            .context("cannot create the provider")?;
        data["createMicrosoftProvider"]["id"]
            .as_str()
            .map(str::to_owned)
            .context("createMicrosoftProvider returned no id")
    }

    /// Creates an API token (`lmat_…`) through the API, as an admin gives one to a script.
    pub async fn create_api_token(&self, name: &str, role: &str) -> anyhow::Result<String> {
        let data = self
            .run(
                "mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token } }",
                json!({ "input": { "name": name, "role": role, "expiresInDays": 1 } }),
            )
            .await
            .context("cannot create an API token")?;
        data["createApiToken"]["token"]
            .as_str()
            .map(str::to_owned)
            .context("createApiToken returned no token")
    }

    /// Starts a sync and polls it to its end; the wall time runs from the request.
    pub async fn sync(&self, provider: &str, mode: &str) -> anyhow::Result<SyncRun> {
        let started = self.start_sync(provider, mode).await?;
        self.finish_sync(&started).await
    }

    /// Starts a sync without waiting for it: a scenario measures something else while it runs.
    pub async fn start_sync(&self, provider: &str, mode: &str) -> anyhow::Result<StartedSync> {
        let started = Instant::now();
        let data = self
            .run(
                "mutation($p: ID!, $m: SyncMode!) { startSync(providerId: $p, mode: $m) { id } }",
                json!({ "p": provider, "m": mode }),
            )
            .await
            .context("cannot start the sync")?;
        let id = data["startSync"]["id"]
            .as_str()
            .context("startSync returned no id")?
            .to_owned();
        Ok(StartedSync { id, started })
    }

    /// The run as `syncRun` shows it now; its wall time is left at zero.
    pub async fn sync_run(&self, id: &str) -> anyhow::Result<SyncRun> {
        let data = self.run(SYNC_RUN, json!({ "id": id })).await?;
        serde_json::from_value(data["syncRun"].clone()).context("unexpected syncRun shape")
    }

    /// Polls a started sync to its end; the wall time runs from its startSync request.
    pub async fn finish_sync(&self, sync: &StartedSync) -> anyhow::Result<SyncRun> {
        Ok(self.finish_sync_every(sync, POLL_EVERY).await?.0)
    }

    /// Polls a started sync every `every` to its end; returns it with the number of polls it
    /// took, whose own cost a measure of the sync's may take out.
    pub async fn finish_sync_every(
        &self,
        sync: &StartedSync,
        every: Duration,
    ) -> anyhow::Result<(SyncRun, u64)> {
        let mut polls = 0;
        loop {
            polls += 1;
            let mut run = self.sync_run(&sync.id).await?;
            if !run.in_progress() {
                run.wall_secs = sync.started.elapsed().as_secs_f64();
                return Ok((run, polls));
            }
            if sync.started.elapsed() > SYNC_TIMEOUT {
                bail!(
                    "sync {} still {} after {SYNC_TIMEOUT:?}",
                    sync.id,
                    run.status
                );
            }
            tokio::time::sleep(every).await;
        }
    }

    /// One request of `query` as this admin, for the load generator to send.
    pub fn target(&self, query: &str, variables: Value) -> anyhow::Result<Target> {
        Target::new(
            self.http.clone(),
            self.graphql_url(),
            Some(&self.token),
            query,
            variables,
        )
    }

    /// The names of `Query`'s fields, to tell which read scenarios this build can serve.
    pub async fn query_fields(&self) -> anyhow::Result<HashSet<String>> {
        let data = self
            .run("{ __schema { queryType { fields { name } } } }", json!({}))
            .await
            .context("schema introspection failed")?;
        Ok(data["__schema"]["queryType"]["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["name"].as_str().map(str::to_owned))
            .collect())
    }

    /// Every type's fields as introspection describes them (name, args, type), by type name.
    pub async fn types(&self) -> anyhow::Result<Value> {
        self.run(
            "{ __schema { types { name kind fields { name
                args { name type { kind } }
                type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }",
            json!({}),
        )
        .await
        .context("type introspection failed")
    }

    /// SQL statements the server has run so far, from `GET /metrics`; None when this build has
    /// no such endpoint or counter.
    pub async fn sql_statements(&self) -> Option<f64> {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        statement_count(&response.text().await.ok()?)
    }
}

/// Sums the samples of every Prometheus metric that counts SQL statements (the counter's exact
/// name is the server's choice: anything with "statements" in it, errors excluded).
fn statement_count(text: &str) -> Option<f64> {
    let samples: Vec<f64> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            let metric = name.split('{').next()?;
            (metric.contains("statements") && !metric.contains("error"))
                .then(|| value.parse().ok())
                .flatten()
        })
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::statement_count;

    #[test]
    fn statement_counters_are_found_by_name() {
        let text = "# TYPE lm_sql_statements_total counter\nlm_sql_statements_total 42\n\
                    lm_sql_statement_errors_total 1\nhttp_requests_total{code=\"200\"} 9\n";
        assert_eq!(statement_count(text), Some(42.0));
        assert_eq!(statement_count("up 1\n"), None);
    }
}
