//! `GraphClient`: authenticated requests to Microsoft Graph — GETs, and the one POST of
//! licenses.rs — with per-request timeout, retries (retry.rs), one token refresh on a 401, and
//! request ids for support. The typed endpoints live in users.rs, directory.rs, delta.rs,
//! licenses.rs and groups.rs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};

use super::cloud::{EndpointOverrides, Endpoints};
use super::credentials::Credentials;
use super::error::{ErrorKind, GraphError};
use super::response::{
    Api, GraphErrorInfo, RawResponse, classify_graph, new_client_request_id, transport_failure,
};
use super::retry::{self, Failure, RetryConfig, RetryHint};
use super::throttle::ThrottleGate;
use super::token::{AccessToken, TokenInfo, TokenSource};
use super::write_budget::WriteBudget;

/// Client settings; `Default` suits production, tests shrink the waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Whole request, body included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryConfig,
    /// Fetch page k+1 while the consumer works on page k.
    pub prefetch_next_page: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
            prefetch_next_page: true,
        }
    }
}

/// A client for one provider (tenant + app registration). Cheap to clone; clones share the
/// connection pool and the token cache.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
    /// This handle's retry limits; [`GraphClient::with_retry`] makes one with others.
    retry: RetryConfig,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Endpoints,
    tokens: TokenSource,
    config: ClientConfig,
    throttle: ThrottleGate,
    writes: WriteBudget,
}

/// One request as sent (again, on each retry).
#[derive(Clone, Copy)]
pub(crate) struct Call<'a> {
    pub api: Api,
    pub url: &'a str,
    /// `Prefer: return=minimal` (delta rounds).
    pub minimal: bool,
    /// A JSON body, POSTed; without one the request is a GET.
    pub body: Option<&'a serde_json::Value>,
}

/// A non-success answer, and whether it was Graph refusing our token.
struct Rejected {
    /// Boxed: an error response is the rare path, and keeps the success path's result small.
    failure: Box<Failure>,
    token_refused: bool,
}

impl GraphClient {
    /// A client with its own connection pool.
    pub fn new(
        credentials: Credentials,
        overrides: &EndpointOverrides,
        config: ClientConfig,
    ) -> Result<Self, GraphError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("license-manager/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::config(format!("cannot build the HTTP client: {e}")))?;
        Self::with_http_client(http, credentials, overrides, config)
    }

    /// A client on a shared `reqwest::Client` (one pool for all providers). Timeouts are set
    /// per request, so the shared client's own settings do not matter here.
    pub fn with_http_client(
        http: reqwest::Client,
        credentials: Credentials,
        overrides: &EndpointOverrides,
        config: ClientConfig,
    ) -> Result<Self, GraphError> {
        let endpoints = Endpoints::resolve(credentials.cloud, overrides)?;
        let token_url = endpoints.token_url(&credentials.tenant_id);
        let tokens = TokenSource::new(
            http.clone(),
            credentials,
            token_url,
            endpoints.scope().to_string(),
            config.request_timeout,
            config.retry.clone(),
        );
        Ok(GraphClient {
            retry: config.retry.clone(),
            inner: Arc::new(Inner {
                http,
                endpoints,
                tokens,
                config,
                throttle: ThrottleGate::default(),
                writes: WriteBudget::default(),
            }),
        })
    }

    /// The same client (connections, token cache, throttle) with other retry limits.
    pub fn with_retry(&self, retry: RetryConfig) -> Self {
        GraphClient {
            inner: self.inner.clone(),
            retry,
        }
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Requests a new token now, bypassing the cache: proves the current credentials work
    /// (the connection test's "token" check). The token is then cached for later calls.
    pub async fn verify_credentials(&self) -> Result<TokenInfo, GraphError> {
        let token = self.inner.tokens.refresh().await?;
        Ok(TokenSource::info(&token))
    }

    /// The token the client uses now (the cached one, or a new one): what it may do.
    pub async fn current_token(&self) -> Result<TokenInfo, GraphError> {
        let token = self.inner.tokens.get().await?;
        Ok(TokenSource::info(&token))
    }

    /// GET `url` and return the successful response, after retries and at most one token
    /// refresh (a 401 `InvalidAuthenticationToken` means the cached token went stale).
    pub(crate) async fn get(
        &self,
        api: Api,
        url: &str,
        minimal: bool,
    ) -> Result<RawResponse, GraphError> {
        self.call(Call {
            api,
            url,
            minimal,
            body: None,
        })
        .await
    }

    /// Sends `call` and returns the successful response, with the retries and the token
    /// refresh of [`Self::get`].
    pub(crate) async fn call(&self, call: Call<'_>) -> Result<RawResponse, GraphError> {
        if call.body.is_some() {
            // A POST changes something: it counts against the write limit, once however often
            // it is retried (a retry waits out the throttle first).
            self.inner.writes.acquire().await;
        }
        let refreshed = AtomicBool::new(false);
        retry::run(&self.retry, call.api.name(), || {
            self.attempt(call, &refreshed)
        })
        .await
    }

    /// GET and parse a JSON body.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        api: Api,
        url: &str,
    ) -> Result<T, GraphError> {
        self.get(api, url, false).await?.json(api.name())
    }

    /// `{graph}/v1.0/{path_and_query}`.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        self.inner.endpoints.graph_url(path_and_query)
    }

    async fn attempt(
        &self,
        call: Call<'_>,
        refreshed: &AtomicBool,
    ) -> Result<RawResponse, Failure> {
        let result = self.attempt_once(call, refreshed).await;
        if let Err(Failure {
            retry: RetryHint::After(wait),
            ..
        }) = &result
        {
            let cap = self.inner.config.retry.max_wait;
            self.inner.throttle.hold((*wait).min(cap));
        }
        result
    }

    async fn attempt_once(
        &self,
        call: Call<'_>,
        refreshed: &AtomicBool,
    ) -> Result<RawResponse, Failure> {
        let api = call.api;
        let token = self.inner.tokens.get().await?;
        let raw = self.send(call, &token).await?;
        match check(api, raw) {
            Err(rejected) if rejected.token_refused && !refreshed.swap(true, Ordering::SeqCst) => {
                tracing::info!(
                    api = api.name(),
                    request_id = rejected.failure.error.request_id(),
                    "access token refused; refreshing it once"
                );
                self.inner.tokens.invalidate(&token).await;
                let token = self.inner.tokens.get().await?;
                let raw = self.send(call, &token).await?;
                check(api, raw).map_err(|r| *r.failure)
            }
            other => other.map_err(|r| *r.failure),
        }
    }

    async fn send(&self, call: Call<'_>, token: &AccessToken) -> Result<RawResponse, Failure> {
        let url = call.url;
        let client_request_id = new_client_request_id();
        let mut bearer = HeaderValue::from_str(&token.bearer()).map_err(|_| {
            GraphError::new(
                ErrorKind::Internal,
                "the access token is not a valid header value",
            )
        })?;
        bearer.set_sensitive(true);
        let mut request = match call.body {
            // Writes come from background work, never from someone waiting: Graph throttles
            // low-priority requests first, sparing the tenant's interactive tools.
            Some(body) => self
                .inner
                .http
                .post(url)
                .json(body)
                .header("x-ms-throttle-priority", "Low"),
            None => self.inner.http.get(url),
        }
        .timeout(self.inner.config.request_timeout)
        .header(AUTHORIZATION, bearer)
        .header(ACCEPT, "application/json")
        .header("client-request-id", &client_request_id);
        if call.minimal {
            request = request.header("Prefer", "return=minimal");
        }
        // The sync's holds are capped below its budget, so only a handle with a smaller one (the
        // connection test's) is ever refused here.
        self.inner
            .throttle
            .wait_within(self.retry.total_budget)
            .await
            .map_err(held_too_long)?;
        let response = request.send().await.map_err(|e| {
            tracing::debug!(url, client_request_id, error = %e, "Graph request failed without a response");
            transport_failure(&e)
        })?;
        let raw = RawResponse::read(response).await?;
        tracing::debug!(
            url,
            status = raw.status.as_u16(),
            request_id = raw.request_id.as_deref(),
            client_request_id,
            "Graph response"
        );
        Ok(raw)
    }
}

/// Success passes through; anything else becomes a classified `Failure`.
fn check(api: Api, raw: RawResponse) -> Result<RawResponse, Rejected> {
    if raw.status.is_success() {
        return Ok(raw);
    }
    let info = GraphErrorInfo::parse(&raw);
    let token_refused = info.is_invalid_token(raw.status);
    let error = classify_graph(api, raw.status, &info);
    Err(Rejected {
        failure: Box::new(raw.into_failure(error)),
        token_refused,
    })
}

/// A request not sent because an earlier Retry-After holds the client longer than it may wait.
fn held_too_long(left: Duration) -> Failure {
    Failure::permanent(GraphError::new(
        ErrorKind::Throttled,
        format!(
            "Microsoft Graph is throttling this app: its requests wait {} s more, as an earlier \
             response's Retry-After asked",
            left.as_secs().max(1)
        ),
    ))
}
