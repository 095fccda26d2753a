//! Shared set-up: an in-process graph-sim tenant and a client pointed at it.

use std::collections::HashSet;
use std::time::Duration;

use futures::TryStreamExt;
use graph_sim::{SimOptions, SimServer, TenantSpec};
use license_manager::providers::microsoft365::graph::{
    ClientConfig, Cloud, Credentials, EndpointOverrides, GraphClient, GraphError, Page, PageStream,
    RetryConfig, SecretString,
};

pub async fn start(users: usize, options: SimOptions) -> SimServer {
    start_spec(
        TenantSpec {
            users,
            seed: 42,
            ..Default::default()
        },
        options,
    )
    .await
}

pub async fn start_spec(spec: TenantSpec, options: SimOptions) -> SimServer {
    SimServer::start(spec, options)
        .await
        .expect("graph-sim starts")
}

/// Small waits so retries and backoff stay fast in tests.
pub fn fast_config() -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
        retry: RetryConfig {
            max_attempts: 8,
            base_delay: Duration::from_millis(10),
            max_wait: Duration::from_secs(3),
            total_budget: Duration::from_secs(60),
        },
        prefetch_next_page: true,
    }
}

pub fn overrides(sim: &SimServer) -> EndpointOverrides {
    EndpointOverrides {
        login_url: Some(sim.base_url().to_string()),
        graph_url: Some(sim.base_url().to_string()),
    }
}

pub fn credentials(sim: &SimServer) -> Credentials {
    Credentials::new(
        sim.tenant_id().to_string(),
        sim.client_id().to_string(),
        SecretString::from(sim.client_secret()),
        Cloud::Global,
    )
}

pub fn client_with(sim: &SimServer, credentials: Credentials, config: ClientConfig) -> GraphClient {
    GraphClient::new(credentials, &overrides(sim), config).expect("client builds")
}

pub fn client(sim: &SimServer) -> GraphClient {
    client_with(sim, credentials(sim), fast_config())
}

/// Drains a page stream.
pub async fn all_pages<T>(stream: PageStream<T>) -> Result<Vec<Page<T>>, GraphError> {
    stream.try_collect().await
}

/// Asserts that `ids` holds each of `expected` exactly once and nothing else.
pub fn assert_exactly_once<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    expected: impl IntoIterator<Item = String>,
) {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(id.to_string()), "user {id} listed twice");
    }
    let expected: HashSet<String> = expected.into_iter().collect();
    assert_eq!(seen, expected, "listed users differ from the tenant's");
}

/// No error text may reveal the secret, in Display or Debug form.
pub fn assert_secret_hidden(err: &GraphError, secret: &str) {
    if secret.is_empty() {
        return;
    }
    let shown = format!("{err} | {err:?} | {}", err.hint());
    assert!(
        !shown.contains(secret),
        "the secret leaked into an error: {shown}"
    );
}
