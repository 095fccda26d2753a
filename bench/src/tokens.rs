//! Token validation per request: the same cheap authenticated request at 1 client, sent with
//! each kind of bearer token the server accepts. The request reads nothing but the caller, so
//! the differences between the credentials are what checking each one costs: the server's own
//! HS256 token (a MAC), an API token (a hash looked up in the database on every request, so
//! that a revocation holds on every replica at once) and an identity provider's RS256 access
//! token (a signature checked with the provider's cached public key).

use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use crate::api::Api;
use crate::cli::Params;
use crate::load::{self, Outcome, Pace, Target};
use crate::sim::SimControl;

/// As cheap as an authenticated request gets: no table is read for it.
pub const QUERY: &str = "{ viewer { role } }";
const JWKS_ROUTE: &str = "/discovery/v2.0/keys";
const DISCOVERY_ROUTE: &str = "/.well-known/openid-configuration";
/// Requests each credential gets before it is measured: connections opened, the first look-up
/// of the API token done.
const WARMUP: Duration = Duration::from_millis(200);

#[derive(Debug, Serialize)]
pub struct TokenValidation {
    pub query: &'static str,
    /// The server's own HS256 token first: the others are compared with it.
    pub credentials: Vec<CredentialCost>,
    /// Reads of the identity provider's discovery document and keys while measuring: 0 when
    /// the keys were cached, as the figure assumes.
    pub provider_reads: u64,
}

#[derive(Debug, Serialize)]
pub struct CredentialCost {
    pub credential: &'static str,
    pub requests: u64,
    pub mean_us: f64,
    pub p99_us: f64,
    pub failed: u64,
    pub graphql_errors: u64,
    pub first_error: Option<String>,
}

impl TokenValidation {
    pub fn baseline(&self) -> Option<&CredentialCost> {
        self.credentials.first()
    }

    /// Every credential but the baseline, with its mean and p99 minus the baseline's.
    pub fn added(&self) -> impl Iterator<Item = (&CredentialCost, f64, f64)> {
        let baseline = self.baseline();
        self.credentials.iter().skip(1).filter_map(move |c| {
            let base = baseline?;
            Some((c, c.mean_us - base.mean_us, c.p99_us - base.p99_us))
        })
    }

    pub fn errors(&self) -> impl Iterator<Item = String> + '_ {
        let failures = self.credentials.iter().filter_map(|c| {
            c.first_error.as_ref().map(|e| {
                format!(
                    "token validation with {}: {} failed, {} GraphQL errors; first: {e}",
                    c.credential, c.failed, c.graphql_errors
                )
            })
        });
        let reads = (self.provider_reads > 0).then(|| {
            format!(
                "token validation: the server read the identity provider {} time(s) while \
                 measuring, so its keys were not cached",
                self.provider_reads
            )
        });
        failures.chain(reads)
    }
}

/// Measures the three credentials in turns, `params.token_rounds` rounds of
/// `params.token_phase` each, one client sending back to back.
pub async fn measure(
    api: &Api,
    control: &SimControl,
    params: &Params,
) -> anyhow::Result<TokenValidation> {
    let credentials = [
        ("own HS256 token", api.token().to_owned()),
        ("API token", api.create_api_token("bench", "VIEWER").await?),
        (
            "identity provider RS256 token",
            control
                .access_token()
                .await
                .context("cannot mint an identity provider token")?,
        ),
    ];
    let targets = credentials
        .iter()
        .map(|(_, token)| {
            Target::new(
                api.http().clone(),
                api.graphql_url(),
                Some(token),
                QUERY,
                json!({}),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for target in &targets {
        load::run(target, 1, Pace::Closed, WARMUP).await;
    }
    control.reset_stats().await?;
    let mut outcomes: Vec<Outcome> = targets.iter().map(|_| Outcome::new()).collect();
    for _ in 0..params.token_rounds {
        for (target, outcome) in targets.iter().zip(&mut outcomes) {
            outcome.merge(load::run(target, 1, Pace::Closed, params.token_phase).await);
        }
    }
    let provider_reads =
        control.answers(JWKS_ROUTE).await? + control.answers(DISCOVERY_ROUTE).await?;
    Ok(TokenValidation {
        query: QUERY,
        credentials: credentials
            .iter()
            .zip(outcomes)
            .map(|((credential, _), outcome)| CredentialCost {
                credential,
                requests: outcome.requests,
                mean_us: outcome.mean_us(),
                p99_us: outcome.percentile_us(0.99),
                failed: outcome.failed,
                graphql_errors: outcome.graphql_errors,
                first_error: outcome.first_error,
            })
            .collect(),
        provider_reads,
    })
}
