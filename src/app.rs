//! Builds the shared state and the router, and runs the server (and its sync workers) until
//! told to stop.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::auth::{AuthError, Authenticator, JwtKeys, MaxTokenLifetime, OidcVerifier};
use crate::config::{EngineSettings, Settings};
use crate::crypto::{CryptoError, SecretKeyring};
use crate::db;
use crate::domain::api_tokens::{ApiTokenLimits, ApiTokenVerifier};
use crate::domain::run_feed::RunFeed;
use crate::http::{self, AppState};
use crate::jobs::SyncEngine;
use crate::keyfile::{self, KeyFileError};
use crate::metrics::{self, Metrics};
use crate::providers::ProviderError;
use crate::providers::registry::{ProviderKind, ProviderRegistry};
use crate::sync::events::{Relay, RunEvents, Signal};

pub const JWT_SECRET_FILE: &str = "jwt-secret";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("LM_JWT_SECRET: {0}")]
    JwtSecret(#[from] AuthError),
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(transparent)]
    SecretKey(#[from] CryptoError),
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("provider endpoints: {0}")]
    Provider(#[from] ProviderError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// The signing keys for tokens: `LM_JWT_SECRET` when given, otherwise the key generated into the
/// data folder on the first start. The second value is true when that key was just created.
pub fn load_jwt_keys(
    secret: Option<&SecretString>,
    max_lifetime: MaxTokenLifetime,
    data_dir: &Path,
) -> Result<(JwtKeys, bool), StartupError> {
    if let Some(secret) = secret {
        let keys = JwtKeys::new(secret.expose_secret().as_bytes(), max_lifetime)?;
        return Ok((keys, false));
    }
    let file = keyfile::load_or_create(data_dir, JWT_SECRET_FILE)?;
    if file.created {
        tracing::info!(path = %file.path.display(), "generated a new JWT signing key");
    }
    Ok((JwtKeys::new(&file.key, max_lifetime)?, file.created))
}

/// The command that mints an admin token against the same key as this server.
pub fn mint_command(data_dir: &Path) -> String {
    let command = "license-manager token --role admin --subject admin";
    if data_dir == Path::new(".") {
        return command.to_owned();
    }
    let data_dir = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_owned());
    format!("LM_DATA_DIR={} {command}", data_dir.display())
}

/// Opens the database (applying migrations), the secret keyring and the provider registry:
/// what `serve`, `worker` and `sync` share.
/// The returned metrics count the statements of the engine's connections (the shared pool and the
/// sync writer's) and all their clones.
pub async fn open_engine(
    settings: &EngineSettings,
) -> Result<(SyncEngine, Arc<Metrics>), StartupError> {
    open_engine_with_kinds(settings, Vec::new()).await
}

/// As [`open_engine`], with kinds of provider beyond the shipped ones (a test suite's own).
pub async fn open_engine_with_kinds(
    settings: &EngineSettings,
    kinds: Vec<Arc<dyn ProviderKind>>,
) -> Result<(SyncEngine, Arc<Metrics>), StartupError> {
    let keyring = Arc::new(SecretKeyring::load(
        settings.secret_key.as_ref(),
        &settings.data_dir,
    )?);
    let mut db = db::connect(&settings.database_url).await?;
    let metrics = Arc::new(Metrics::default());
    metrics::count_statements(&mut db, metrics.clone());
    db::migrate(&db).await?;
    // A first sync that died before building them left them missing (see the function).
    crate::sync::writer::restore_order_indexes(&db).await?;
    warn_of_unreadable_secrets(&db, &keyring).await;
    let writes = match db::connect_sync_writer(&settings.database_url).await? {
        Some(mut writes) => {
            metrics::count_statements(&mut writes, metrics.clone());
            writes
        }
        None => db.clone(),
    };
    let registry = kinds.into_iter().fold(
        ProviderRegistry::standard(settings.microsoft.clone(), settings.sync.retry)?,
        ProviderRegistry::with_shared_kind,
    );
    let registry = Arc::new(registry);
    let engine = SyncEngine {
        db,
        writes,
        keyring,
        registry,
        settings: settings.sync.clone(),
        wake: Arc::new(Notify::new()),
        events: RunEvents::default(),
        reclaim: settings.reclaim,
        event_retention_days: settings.event_retention_days,
    };
    Ok((engine, metrics))
}

/// Names, at start, the providers whose client secret this process cannot open. With a key that
/// differs between hosts, or was replaced without the old one, each of their syncs would fail:
/// the log says why before the first one does.
async fn warn_of_unreadable_secrets(db: &DatabaseConnection, keyring: &SecretKeyring) {
    let providers = match crate::domain::providers::list(db).await {
        Ok(providers) => providers,
        Err(error) => {
            tracing::warn!(error = ?error, "could not check the providers' secrets against the keys");
            return;
        }
    };
    for provider in providers {
        if !keyring.has_key(&provider.client_secret_key_id) {
            tracing::warn!(
                provider = provider.id,
                name = %provider.name,
                key = %provider.client_secret_key_id,
                "this process cannot open the provider's client secret: it was sealed with another \
                 key. Set the same LM_SECRET_KEY on every host (listing a replaced key after the \
                 new one), or enter the secret again"
            );
        }
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    engine: SyncEngine,
    workers: usize,
    feed: Arc<RunFeed>,
    /// Taken at build time, so that no change is missed before `run` starts the feed.
    signals: broadcast::Receiver<Signal>,
}

impl Application {
    /// Opens the database, applies migrations, loads keys and binds the listening socket, so
    /// that every start-up failure surfaces here, before anything is served.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_kinds(settings, Vec::new()).await
    }

    /// As [`Self::build`], with kinds of provider beyond the shipped ones (a test suite's own).
    pub async fn build_with_kinds(
        settings: Settings,
        kinds: Vec<Arc<dyn ProviderKind>>,
    ) -> Result<Self, StartupError> {
        let (jwt, _) = load_jwt_keys(
            settings.jwt_secret.as_ref(),
            settings.token_max_ttl,
            &settings.engine.data_dir,
        )?;
        if settings.jwt_secret.is_none() {
            tracing::info!(
                "mint an admin token with: {}",
                mint_command(&settings.engine.data_dir)
            );
        }
        let oidc = match settings.oidc.clone() {
            Some(oidc) => Some(OidcVerifier::start(oidc).await),
            None => None,
        };
        let (engine, metrics) = open_engine_with_kinds(&settings.engine, kinds).await?;
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: settings.listen,
                    source,
                })?;
        let feed = Arc::new(RunFeed::new(engine.db.clone()));
        let signals = engine.events.subscribe();
        let api = api::build_api(
            api::Services {
                db: engine.db.clone(),
                keyring: engine.keyring.clone(),
                registry: engine.registry.clone(),
                wake_workers: engine.wake.clone(),
                run_events: engine.events.clone(),
                run_feed: feed.clone(),
                api_tokens: ApiTokenLimits {
                    max_lifetime: settings.token_max_ttl,
                    max_active: settings.max_api_tokens,
                },
                reclaim: settings.reclaim,
                renewals: settings.renewals,
            },
            settings.limits.subscriptions,
            settings.limits.request_timeout.get(),
            api::DocumentCache::new(settings.limits.document_cache),
        );
        Ok(Self {
            listener,
            state: AppState {
                db: engine.db.clone(),
                auth: Authenticator::new(jwt, oidc),
                api_tokens: Arc::new(ApiTokenVerifier::new(settings.token_max_ttl)),
                api,
                metrics,
                limits: settings.limits,
                registry: engine.registry.clone(),
                cors: settings.cors_origins,
            },
            engine,
            workers: settings.workers,
            feed,
            signals,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub fn engine(&self) -> &SyncEngine {
        &self.engine
    }

    /// This server's counters; tests read them to prove that a request stays cheap.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.state.metrics.clone()
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish and stops the
    /// workers (a sync in flight ends as INTERRUPTED at its next page).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let addr = self.listener.local_addr()?;
        let stop_workers = CancellationToken::new();
        let background = (self.workers > 0).then(|| {
            tokio::spawn(run_background(
                self.engine.clone(),
                self.workers,
                stop_workers.clone(),
            ))
        });
        let stop_feed = CancellationToken::new();
        let relay = self.engine.events.listen(&self.state.db).await;
        let feed = tokio::spawn(follow_runs(
            self.feed.clone(),
            relay,
            self.signals,
            stop_feed.clone(),
        ));
        tracing::info!(%addr, workers = self.workers, "serving GraphQL at http://{addr}/graphql");
        let router = http::router(self.state.clone());
        // Syncs are told to stop at the signal, not after the last HTTP response: a container
        // gets a few seconds between SIGTERM and SIGKILL.
        let stop = stop_workers.clone();
        let shutdown = async move {
            shutdown.await;
            stop.cancel();
        };
        http::serve(
            self.listener,
            router,
            self.state.limits.connections,
            self.state.metrics.clone(),
            shutdown,
        )
        .await;
        stop_workers.cancel();
        if let Some(background) = background {
            background.await.ok();
        }
        // Before the pool closes: the relay holds one of its connections.
        stop_feed.cancel();
        feed.await.ok();
        self.state.db.close_by_ref().await.ok();
        tracing::info!("stopped");
        Ok(())
    }
}

/// Hands the runs' changes to the subscriptions that follow them, until `stop`: those this
/// process announces, and on PostgreSQL those of every process sharing the database.
async fn follow_runs(
    feed: Arc<RunFeed>,
    relay: Relay,
    signals: broadcast::Receiver<Signal>,
    stop: CancellationToken,
) {
    tokio::join!(feed.run(signals, stop.clone()), relay.run(stop));
}

/// Sync workers and the scheduler, until `shutdown`.
pub async fn run_background(engine: SyncEngine, workers: usize, shutdown: CancellationToken) {
    tokio::join!(
        engine.clone().run_workers(workers, shutdown.clone()),
        engine.run_scheduler(shutdown),
    );
}
