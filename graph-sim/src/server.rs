//! The HTTP server: shared state, router, request-id middleware and the `SimServer` handle
//! tests start in-process.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::errors::{FromGateway, GraphError, SimError};
use crate::faults::FaultOptions;
use crate::generate::{TenantSpec, generate};
use crate::handle::SimHandle;
use crate::limits::{WriteLimiter, WriteLimits};
use crate::oidc::{OidcOptions, OidcState};
use crate::rng::SimRng;
use crate::stats::StatsCollector;
use crate::store::Directory;
use crate::tenant::{Tenant, UserType};
use crate::token::TokenStore;
use crate::{assign, control, delta, faults, groups, oidc, skus, stats, token, users};

/// Server options (fault settings can also be changed while running).
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    pub faults: FaultOptions,
    /// Access-token lifetime (`expires_in`).
    pub token_ttl_secs: u64,
    /// /users page size without `$top` (Graph: 100).
    pub default_page_size: usize,
    /// Maximum /users page size when signInActivity is selected (Graph v1.0 docs: 500).
    pub signin_page_cap: usize,
    /// users/delta page size (Graph: about 200).
    pub delta_page_size: usize,
    /// Delta-token lifetime (Graph directory objects: 7 days).
    pub delta_token_ttl_secs: u64,
    /// Request-log entries kept (oldest dropped first); 0 disables the log.
    pub request_log_capacity: usize,
    /// Seed of the fault RNG; None = the tenant seed (or a constant for loaded tenants).
    pub fault_seed: Option<u64>,
    /// The simulated identity provider: API and SPA apps, app-role assignments.
    pub oidc: OidcOptions,
    /// Graph's write limits (default: Graph's documented ones).
    pub write_limits: WriteLimits,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: FaultOptions::default(),
            token_ttl_secs: 3599,
            default_page_size: 100,
            signin_page_cap: 500,
            delta_page_size: 200,
            delta_token_ttl_secs: 7 * 24 * 3600,
            request_log_capacity: 100_000,
            fault_seed: None,
            oidc: OidcOptions::default(),
            write_limits: WriteLimits::default(),
        }
    }
}

/// Immutable paging settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PagingConfig {
    pub default_page_size: usize,
    pub signin_page_cap: usize,
    pub delta_page_size: usize,
    pub delta_token_ttl: Duration,
}

/// State shared by all handlers and the library handle.
pub(crate) struct SimState {
    dir: RwLock<Directory>,
    tokens: Mutex<TokenStore>,
    oidc: Mutex<OidcState>,
    faults: RwLock<FaultOptions>,
    fault_rng: Mutex<SimRng>,
    limiter: Mutex<WriteLimiter>,
    token_ttl_secs: AtomicU64,
    pub stats: StatsCollector,
    pub base_url: String,
    pub paging: PagingConfig,
}

// Locks are never held across an await, and a panicking holder leaves data that is still
// usable for a simulator, so poisoned locks are recovered rather than propagated.
impl SimState {
    pub fn dir(&self) -> RwLockReadGuard<'_, Directory> {
        self.dir.read().unwrap_or_else(|e| e.into_inner())
    }
    pub fn dir_mut(&self) -> RwLockWriteGuard<'_, Directory> {
        self.dir.write().unwrap_or_else(|e| e.into_inner())
    }
    pub fn tokens(&self) -> MutexGuard<'_, TokenStore> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn oidc(&self) -> MutexGuard<'_, OidcState> {
        self.oidc.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn faults(&self) -> FaultOptions {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    pub fn set_faults(&self, f: FaultOptions) {
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = f;
    }
    pub fn limiter(&self) -> MutexGuard<'_, WriteLimiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn fault_rng(&self) -> MutexGuard<'_, SimRng> {
        self.fault_rng.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn token_ttl_secs(&self) -> u64 {
        self.token_ttl_secs.load(Ordering::Relaxed)
    }
    pub fn set_token_ttl_secs(&self, secs: u64) {
        self.token_ttl_secs.store(secs, Ordering::Relaxed);
    }
    /// (client id, tenant id) for throttle-scope headers.
    pub fn app_and_tenant(&self) -> (Uuid, Uuid) {
        let d = self.dir();
        (d.meta.app.client_id, d.meta.tenant_id)
    }
}

/// Gives each request a `request-id`, echoes the client's `client-request-id` (or reuses the
/// request id, as Graph does), and renders `GraphError`s with those ids in `innerError`.
async fn request_meta(req: Request, next: Next) -> Response {
    let request_id = Uuid::new_v4().to_string();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    let mut resp = next.run(req).await;
    if resp.extensions().get::<FromGateway>().is_some() {
        return resp;
    }
    if let Some(err) = resp.extensions_mut().remove::<GraphError>() {
        resp = err.render(&request_id, &client_request_id);
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("request-id", v);
    }
    if !h.contains_key("client-request-id")
        && let Ok(v) = HeaderValue::from_str(&client_request_id)
    {
        h.insert("client-request-id", v);
    }
    h.insert(
        "x-ms-ags-diagnostic",
        HeaderValue::from_static(r#"{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"1","ScaleUnit":"000","RoleInstance":"graph-sim"}}"#),
    );
    resp
}

/// Unknown paths: Graph answers 400 for an unknown segment under /v1.0.
async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/v1.0/") {
        let segment = rest.split('/').find(|s| !s.is_empty()).unwrap_or(rest);
        GraphError::bad_request(
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )
        .into_response()
    } else {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            format!("No route for {path}."),
        )
        .into_response()
    }
}

/// The success content type Graph sends for OData JSON.
pub(crate) const ODATA_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// A 200 response with an already serialised OData body.
pub(crate) fn odata_ok(body: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
    resp
}

pub(crate) fn router(state: Arc<SimState>) -> Router {
    let graph = Router::new()
        .route("/v1.0/users", get(users::list_users))
        .route("/v1.0/users/delta", get(delta::users_delta))
        .route("/v1.0/users/$count", get(users::count_users))
        .route("/v1.0/users/{id}", get(users::get_user))
        .route(
            "/v1.0/users/{id}/assignLicense",
            post(assign::assign_license),
        )
        .route("/v1.0/groups/{id}", get(groups::get_group))
        .route("/v1.0/subscribedSkus", get(skus::subscribed_skus))
        .route("/v1.0/directory/subscriptions", get(skus::subscriptions))
        .route("/v1.0/organization", get(skus::organization))
        .fallback(fallback)
        .layer(from_fn_with_state(state.clone(), faults::inject));
    let login = Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(token::token_endpoint)
                .get(token::token_get)
                .options(oidc::token_preflight),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(oidc::discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(oidc::jwks))
        .route("/{tenant}/oauth2/v2.0/authorize", get(oidc::authorize))
        .route("/{tenant}/oauth2/v2.0/logout", get(oidc::logout));
    graph
        .merge(login)
        .layer(from_fn(request_meta))
        .layer(from_fn_with_state(state.clone(), stats::track))
        .merge(control::router())
        .with_state(state)
}

/// A running simulator. Dereferences to [`SimHandle`] for tenant changes, ground truth and
/// statistics. Stops when dropped or on [`SimServer::shutdown`].
pub struct SimServer {
    handle: SimHandle,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimServer {
    /// Generates a tenant from `spec` and serves it.
    pub async fn start(spec: TenantSpec, mut options: SimOptions) -> Result<SimServer, SimError> {
        options.fault_seed = options.fault_seed.or(Some(spec.seed));
        SimServer::start_with_tenant(generate(&spec), options).await
    }

    /// Serves a given tenant (e.g. loaded with [`Tenant::load`]).
    pub async fn start_with_tenant(
        tenant: Tenant,
        options: SimOptions,
    ) -> Result<SimServer, SimError> {
        tenant.validate()?;
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|e| SimError::Bind(options.listen.to_string(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SimError::Bind(options.listen.to_string(), e))?;
        // An unspecified bind address is not something a client can connect to.
        let host = if addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            addr
        };
        let base_url = format!("http://{host}");
        let first_users: Vec<Uuid> = tenant
            .users
            .iter()
            .filter(|u| !u.is_deleted() && u.account_enabled && u.user_type == UserType::Member)
            .take(2)
            .map(|u| u.id)
            .collect();
        let state = Arc::new(SimState {
            dir: RwLock::new(Directory::new(tenant)),
            tokens: Mutex::new(TokenStore::default()),
            oidc: Mutex::new(OidcState::new(&options.oidc, &first_users)),
            faults: RwLock::new(options.faults.clone()),
            fault_rng: Mutex::new(SimRng::derive(options.fault_seed.unwrap_or(0x5EED), 99)),
            limiter: Mutex::new(WriteLimiter::new(options.write_limits)),
            token_ttl_secs: AtomicU64::new(options.token_ttl_secs),
            stats: StatsCollector::new(options.request_log_capacity),
            base_url,
            paging: PagingConfig {
                default_page_size: options.default_page_size.clamp(1, 999),
                signin_page_cap: options.signin_page_cap.clamp(1, 999),
                delta_page_size: options.delta_page_size.max(1),
                delta_token_ttl: Duration::from_secs(options.delta_token_ttl_secs),
            },
        });
        let app = router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!("graph-sim server stopped: {e}");
            }
        });
        tracing::info!(%addr, "graph-sim listening");
        Ok(SimServer {
            handle: SimHandle::new(state),
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A cloneable handle that outlives borrowing the server (e.g. to move into tasks).
    pub fn handle(&self) -> SimHandle {
        self.handle.clone()
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Runs until the server task ends (the binary uses this with a Ctrl-C shutdown).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Triggers graceful shutdown without waiting.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl std::ops::Deref for SimServer {
    type Target = SimHandle;
    fn deref(&self) -> &SimHandle {
        &self.handle
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The query string as ordered pairs; Graph accepts system options with or without `$`.
pub(crate) struct Query {
    pub raw: String,
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let raw = raw.unwrap_or("").to_string();
        let pairs = form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect();
        Query { raw, pairs }
    }

    /// Value of `$name` (or `name`), case-insensitive.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.strip_prefix('$').unwrap_or(k).eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The raw query without `$skiptoken`, keeping the client's own encoding of the rest.
    pub fn without_skiptoken(&self) -> String {
        self.raw
            .split('&')
            .filter(|piece| !piece.is_empty())
            .filter(|piece| {
                let key = piece.split('=').next().unwrap_or("");
                let key = form_urlencoded::parse(format!("{key}=").as_bytes())
                    .next()
                    .map(|(k, _)| k.into_owned())
                    .unwrap_or_default();
                !key.strip_prefix('$')
                    .unwrap_or(&key)
                    .eq_ignore_ascii_case("skiptoken")
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_helpers() {
        let q = Query::parse(Some("$select=id,mail&%24top=5&$skiptoken=abc"));
        assert_eq!(q.get("select"), Some("id,mail"));
        assert_eq!(q.get("top"), Some("5"));
        assert_eq!(q.without_skiptoken(), "$select=id,mail&%24top=5");
    }
}
