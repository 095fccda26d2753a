//! The test harness: starts the real server on an ephemeral port, on a fresh database of the
//! engine under test, and talks HTTP to it as a frontend or a script would.

pub mod browser;
pub mod fixtures;
pub mod graph;
pub mod websocket;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use license_manager::app::{self, Application};
use license_manager::auth::{MaxTokenLifetime, OidcSettings, Role};
use license_manager::config::{EngineSettings, Settings};
use license_manager::db;
use license_manager::domain::api_tokens::ApiTokenLimits;
use license_manager::domain::reclaim_plans::ReclaimSettings;
use license_manager::domain::renewals::RenewalSettings;
use license_manager::http::{CorsOrigins, ServerLimits};
use license_manager::metrics::Metrics;
use license_manager::providers::RetryPolicy;
use license_manager::providers::microsoft365::EndpointOverrides;
use license_manager::providers::registry::ProviderKind;
use license_manager::sync::events::RunEvents;
use license_manager::sync::runner::SyncSettings;
use reqwest::{StatusCode, Url};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Runs a test once per engine: `engine_tests!(name, …)` expects `async fn name(engine: Engine)`.
/// The PostgreSQL variant is ignored, with its reason in the report, unless `TEST_DATABASE_URL`
/// was set when the tests were built. `main.rs` brings it into every test module.
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::common::Engine::Sqlite).await
            }

            #[tokio::test]
            #[cfg_attr(
                not(lm_postgres_tests),
                ignore = "PostgreSQL suite skipped: TEST_DATABASE_URL is not set"
            )]
            async fn postgres() {
                super::$name($crate::common::Engine::Postgres).await
            }
        }
    )*};
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database that exists for one test only.
pub struct TestDatabase {
    pub url: String,
    pub engine: Engine,
    /// For PostgreSQL: the server to drop the database from, and its name.
    postgres: Option<(String, String)>,
}

static DATABASE_COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    pub async fn create(engine: Engine, data_dir: &Path) -> Self {
        match engine {
            Engine::Sqlite => Self {
                url: db::default_sqlite_url(data_dir),
                engine,
                postgres: None,
            },
            Engine::Postgres => Self::create_postgres().await,
        }
    }

    async fn create_postgres() -> Self {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .expect("the PostgreSQL suites need TEST_DATABASE_URL at run time too");
        let name = format!(
            "lm_test_{}_{}_{}",
            std::process::id(),
            DATABASE_COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.subsec_nanos())
                .unwrap_or_default()
        );
        let admin = Database::connect(&admin_url)
            .await
            .expect("TEST_DATABASE_URL accepts connections");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("a test database can be created");
        admin.close().await.ok();
        let mut url = Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            url: url.to_string(),
            engine: Engine::Postgres,
            postgres: Some((admin_url, name)),
        }
    }

    /// The same database, for a second server: dropping it drops nothing.
    pub fn shared(&self) -> Self {
        Self {
            url: self.url.clone(),
            engine: self.engine,
            postgres: None,
        }
    }

    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url)
            .await
            .expect("the test database accepts connections")
    }

    pub async fn drop_database(self) {
        if let Some((admin_url, name)) = self.postgres {
            let admin = Database::connect(&admin_url)
                .await
                .expect("TEST_DATABASE_URL accepts connections");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .expect("the test database can be dropped");
        }
    }
}

/// How a test's server differs from the defaults.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Sync workers in the server; 0 (the default) leaves queued runs alone.
    pub workers: usize,
    /// Where Microsoft is: a graph-sim's base URL for both.
    pub microsoft: EndpointOverrides,
    pub sync: Option<SyncSettings>,
    /// Timeouts and caps; the defaults of `serve` unless a test tightens them.
    pub limits: ServerLimits,
    /// Kinds of provider the server knows beside the shipped ones.
    pub kinds: ExtraKinds,
    /// Other origins whose pages may call the API; none by default, as in `serve`.
    pub cors_origins: CorsOrigins,
    /// API tokens active at once; the default of `serve` when `None`.
    pub max_api_tokens: Option<std::num::NonZeroUsize>,
    /// An identity provider whose access tokens the server accepts too.
    pub oidc: Option<OidcSettings>,
    /// How reclaim may act; `serve`'s defaults unless a test changes them.
    pub reclaim: ReclaimSettings,
    /// How renewals recommend; `serve`'s default buffer unless a test changes it.
    pub renewals: RenewalSettings,
}

/// Kinds of provider a test adds to its server's registry.
#[derive(Clone, Default)]
pub struct ExtraKinds(pub Vec<Arc<dyn ProviderKind>>);

impl std::fmt::Debug for ExtraKinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|kind| kind.name()))
            .finish()
    }
}

impl Options {
    /// A server with one worker, reading Microsoft 365 from the simulator at `base_url`.
    pub fn with_graph(base_url: &str) -> Self {
        Self {
            workers: 1,
            microsoft: EndpointOverrides {
                login_url: Some(base_url.to_owned()),
                graph_url: Some(base_url.to_owned()),
            },
            sync: Some(SyncSettings {
                heartbeat_every: Duration::from_millis(200),
                // Retried as in production, at a pace a test can wait for: a transient fault
                // costs milliseconds, one that lasts fails the sync within seconds.
                retry: RetryPolicy {
                    first_wait: Duration::from_millis(20),
                    budget: Duration::from_secs(5),
                },
                ..SyncSettings::default()
            }),
            limits: ServerLimits::default(),
            kinds: ExtraKinds::default(),
            cors_origins: CorsOrigins::default(),
            max_api_tokens: None,
            oidc: None,
            reclaim: ReclaimSettings::default(),
            renewals: RenewalSettings::default(),
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub data_dir: TempDir,
    pub database: TestDatabase,
    pub http: reqwest::Client,
    pub options: Options,
    /// The server's counters, e.g. SQL statements executed.
    pub metrics: Arc<Metrics>,
    /// Where the server hears of runs' changes: a test that writes a run announces it here.
    pub events: RunEvents,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    /// A server on a fresh database of `engine`, with a fresh data folder.
    pub async fn spawn(engine: Engine) -> Self {
        Self::spawn_with(engine, Options::default()).await
    }

    pub async fn spawn_with(engine: Engine, options: Options) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data folder");
        let database = TestDatabase::create(engine, data_dir.path()).await;
        Self::start_with(data_dir, database, options).await
    }

    /// Starts a server on an existing data folder and database, as a restart would.
    pub async fn start(data_dir: TempDir, database: TestDatabase) -> Self {
        Self::start_with(data_dir, database, Options::default()).await
    }

    pub async fn start_with(data_dir: TempDir, database: TestDatabase, options: Options) -> Self {
        init_logging();
        let settings = settings(&database.url, data_dir.path(), &options);
        let application = Application::build_with_kinds(settings, options.kinds.0.clone())
            .await
            .expect("the server starts");
        let addr = application.local_addr().expect("bound address");
        let metrics = application.metrics();
        let events = application.engine().events.clone();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let server = tokio::spawn(application.run(async move { stop.cancelled().await }));
        Self {
            addr,
            data_dir,
            database,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            options,
            metrics,
            events,
            shutdown,
            server,
        }
    }

    /// Another server process on the same database and keys, as a second replica would run.
    pub async fn replica(&self, options: Options) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temporary data folder");
        for key in [
            app::JWT_SECRET_FILE,
            license_manager::crypto::SECRET_KEY_FILE,
        ] {
            std::fs::copy(self.data_dir.path().join(key), data_dir.path().join(key))
                .expect("the key files are shared");
        }
        Self::start_with(data_dir, self.database.shared(), options).await
    }

    /// Stops the server gracefully and hands back its data folder and database.
    pub async fn stop(self) -> (TempDir, TestDatabase) {
        self.shutdown.cancel();
        self.server
            .await
            .expect("the server task ends without panicking")
            .expect("the server stops cleanly");
        (self.data_dir, self.database)
    }

    /// Stops the server and removes its database.
    pub async fn finish(self) {
        let (_data_dir, database) = self.stop().await;
        database.drop_database().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn data_path(&self) -> PathBuf {
        self.data_dir.path().to_owned()
    }

    /// A token signed with the key this server uses, as `license-manager token` would mint it.
    pub fn token(&self, role: Role, subject: &str) -> String {
        let (keys, _) = app::load_jwt_keys(None, MaxTokenLifetime::DEFAULT, self.data_dir.path())
            .expect("the server's signing key");
        keys.issue(subject, role, Duration::from_secs(3600))
            .expect("token signed")
    }

    /// POSTs a GraphQL operation with an optional `Authorization` header value.
    /// POSTs an operation with `token` (any kind the server accepts) as the bearer: the status and
    /// the body, whatever they are.
    pub async fn graphql_as(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    pub async fn graphql_with_header(
        &self,
        authorization: Option<&str>,
        query: &str,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query }));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let body = response.json().await.expect("a JSON body");
        (status, body)
    }

    /// Runs `query` as a caller holding a token of `role`; expects no GraphQL error.
    pub async fn query(&self, role: Role, query: &str) -> Value {
        let token = self.token(role, "test");
        let (status, body) = self
            .graphql_with_header(Some(&format!("Bearer {token}")), query)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }
}

/// What a test server starts with: `options` over the defaults, on an ephemeral port.
pub fn settings(database_url: &str, data_dir: &Path, options: &Options) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        jwt_secret: None,
        token_max_ttl: MaxTokenLifetime::DEFAULT,
        max_api_tokens: options.max_api_tokens.unwrap_or(ApiTokenLimits::MAX_ACTIVE),
        oidc: options.oidc.clone(),
        reclaim: options.reclaim,
        renewals: options.renewals,
        workers: options.workers,
        engine: EngineSettings {
            microsoft: options.microsoft.clone(),
            sync: options.sync.clone().unwrap_or_default(),
            ..EngineSettings::new(database_url.to_owned(), data_dir.to_owned())
        },
        limits: options.limits,
        cors_origins: options.cors_origins.clone(),
    }
}

/// Server logs in the test output, filtered by `RUST_LOG` (shown for failing tests only).
fn init_logging() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init()
            .ok();
    });
}

/// The `extensions.code` of the first GraphQL error in `body`.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a GraphQL error with a code, got {body}"))
}
