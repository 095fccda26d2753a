//! The command line. The settings of docs/api.md ("Configuration") have environment fallbacks;
//! the arguments of one command (`--workers`, `token`'s and `sync`'s) do not.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

use crate::api::{DocumentCache, SubscriptionLimits};
use crate::auth::{ConsoleClient, MaxTokenLifetime, OidcSettings, Role};
use crate::db;
use crate::domain::api_tokens::ApiTokenLimits;
use crate::domain::license_events::RETENTION_DAYS_DEFAULT;
use crate::domain::reclaim_plans::ReclaimSettings;
use crate::domain::renewals::RenewalSettings;
use crate::http::{ConnectionLimits, CorsOrigins, ServerLimits, Timeout};
use crate::jobs::reclaim::ExecutionSettings;
use crate::providers::microsoft365::EndpointOverrides;
use crate::sync::queue::SyncMode;
use crate::sync::runner::SyncSettings;

#[derive(Debug, Parser)]
#[command(
    name = "license-manager",
    version,
    about = "Tracks the software licenses an organization pays for and who holds them."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API, GraphiQL and the health endpoints, with sync workers and the
    /// scheduler.
    Serve(ServeArgs),
    /// Run sync workers and the scheduler only, without HTTP.
    Worker(WorkerArgs),
    /// Apply pending database migrations and exit.
    Migrate(StorageArgs),
    /// Print a signed JWT for a script or a person.
    Token(TokenArgs),
    /// Create, list or revoke the API tokens of scripts, in the server's database.
    #[command(subcommand)]
    ApiToken(ApiTokenCommand),
    /// Run one sync of one provider in the foreground; exit non-zero if it fails (for cron).
    Sync(SyncArgs),
    /// Serve with a simulated Microsoft 365 tenant, already connected and syncing: a first look
    /// without Azure. Nothing is kept.
    Demo(DemoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[arg(long, env = "LM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Users in the simulated tenant.
    #[arg(long, default_value_t = 300)]
    pub users: usize,
    /// Seed of the simulated tenant: the same seed gives the same people and licenses.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub cors: CorsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DataDirArgs {
    /// Folder for the embedded database and the generated keys.
    #[arg(long, env = "LM_DATA_DIR", default_value = ".")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// `postgres://…` or `sqlite://…`; default: license-manager.db in the data folder.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub data: DataDirArgs,
}

impl StorageArgs {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| db::default_sqlite_url(&self.data.data_dir))
    }
}

#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// HS256 signing key, at least 32 bytes; default: generated once into the data folder.
    #[arg(long, env = "LM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,
    #[command(flatten)]
    pub lifetime: TokenLifetimeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TokenLifetimeArgs {
    /// The longest lifetime of a token (e.g. 400d, 90d): `token` mints none longer, API tokens
    /// get none longer, and the server accepts none longer.
    #[arg(long, env = "LM_TOKEN_MAX_TTL", default_value_t = MaxTokenLifetime::DEFAULT)]
    pub token_max_ttl: MaxTokenLifetime,
}

/// How reclaim may act (docs/microsoft-365.md, "Reclaiming seats").
#[derive(Debug, Clone, Args)]
pub struct ReclaimArgs {
    /// A reclaim plan must be approved by an admin other than the one who made it.
    #[arg(long, env = "LM_RECLAIM_FOUR_EYES", default_value_t = false)]
    pub reclaim_four_eyes: bool,
    /// Items one reclaim plan may hold.
    #[arg(long, env = "LM_RECLAIM_MAX_PLAN_ITEMS", default_value_t = ReclaimSettings::default().max_plan_items)]
    pub reclaim_max_plan_items: usize,
    /// Plans per provider waiting for approval or execution at once.
    #[arg(long, env = "LM_RECLAIM_MAX_OPEN_PLANS", default_value_t = ReclaimSettings::default().max_open_plans)]
    pub reclaim_max_open_plans: u64,
    /// Days after a license was removed that undo may put it back.
    #[arg(long, env = "LM_RECLAIM_UNDO_DAYS", default_value_t = ReclaimSettings::default().undo_days, value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub reclaim_undo_days: i64,
}

impl From<ReclaimArgs> for ReclaimSettings {
    fn from(args: ReclaimArgs) -> Self {
        Self {
            four_eyes: args.reclaim_four_eyes,
            max_plan_items: args.reclaim_max_plan_items,
            max_open_plans: args.reclaim_max_open_plans,
            undo_days: args.reclaim_undo_days,
        }
    }
}

/// How `renewals` recommends seats (docs/license-api.md, "History and renewals").
#[derive(Debug, Clone, Args)]
pub struct RenewalArgs {
    /// Seats recommended above the look-back's peak consumption, in percent of it.
    #[arg(long, env = "LM_RENEWAL_BUFFER_PERCENT", default_value_t = RenewalSettings::default().buffer_percent, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub renewal_buffer_percent: u32,
}

impl From<RenewalArgs> for RenewalSettings {
    fn from(args: RenewalArgs) -> Self {
        Self {
            buffer_percent: args.renewal_buffer_percent,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ApiTokenLimitArgs {
    /// API tokens that may be active (neither revoked nor expired) at once.
    #[arg(long, env = "LM_MAX_API_TOKENS", default_value_t = ApiTokenLimits::MAX_ACTIVE)]
    pub max_api_tokens: NonZeroUsize,
}

/// Everything that reads providers and syncs them: storage, the key for their secrets, where
/// Microsoft is, and how syncs behave.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Base64 of 32 bytes sealing provider secrets; comma-separated to rotate (new key first);
    /// default: generated once into the data folder.
    #[arg(long, env = "LM_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<SecretString>,
    /// Replaces the Entra ID sign-in authority of every provider (a proxy, or graph-sim).
    #[arg(long, env = "LM_MICROSOFT_LOGIN_URL")]
    pub microsoft_login_url: Option<String>,
    /// Replaces the Microsoft Graph root of every provider (a proxy, or graph-sim).
    #[arg(long, env = "LM_MICROSOFT_GRAPH_URL")]
    pub microsoft_graph_url: Option<String>,
    /// AUTO runs a full sync when the last one is older than this (e.g. 24h, 7d).
    #[arg(long, env = "LM_FULL_SYNC_MAX_AGE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub full_sync_max_age: Duration,
    /// Incremental syncs refresh sign-in dates at most this often.
    #[arg(long, env = "LM_SIGN_IN_REFRESH_INTERVAL", default_value = "12h", value_parser = humantime::parse_duration)]
    pub sign_in_refresh_interval: Duration,
    /// Items of a reclaim plan in flight at once (each a read and a write at the provider).
    #[arg(long, env = "LM_RECLAIM_PARALLEL_ITEMS", default_value_t = ExecutionSettings::default().parallel_items)]
    pub reclaim_parallel_items: NonZeroUsize,
    /// Days the change log keeps what syncs observed; older events are deleted hourly.
    #[arg(long, env = "LM_EVENT_RETENTION_DAYS", default_value_t = RETENTION_DAYS_DEFAULT, value_parser = clap::value_parser!(i64).range(1..=36500))]
    pub event_retention_days: i64,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Syncs this process runs at once; 0 makes an API-only replica.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Boxed: a command's arguments are kept in an enum, and these are many.
    #[command(flatten)]
    pub oidc: Box<OidcArgs>,
    #[command(flatten)]
    pub api_tokens: ApiTokenLimitArgs,
    #[command(flatten)]
    pub reclaim: ReclaimArgs,
    #[command(flatten)]
    pub renewals: RenewalArgs,
    /// Boxed, as `oidc` is.
    #[command(flatten)]
    pub limits: Box<LimitArgs>,
    #[command(flatten)]
    pub cors: CorsArgs,
}

/// Browser frontends served from other origins.
#[derive(Debug, Clone, Args)]
pub struct CorsArgs {
    /// Origins whose pages may call the API, comma-separated and exact (scheme, host, port:
    /// https://app.example.com); no `*`. Default: none, only this server's own pages.
    #[arg(long, env = "LM_CORS_ORIGINS")]
    pub cors_origins: Option<CorsOrigins>,
}

impl From<CorsArgs> for CorsOrigins {
    fn from(args: CorsArgs) -> Self {
        args.cors_origins.unwrap_or_default()
    }
}

/// Access tokens of an OpenID Connect identity provider, accepted besides the
/// server's own tokens. docs/microsoft-365.md says how to register the apps.
#[derive(Debug, Clone, Args)]
pub struct OidcArgs {
    /// The issuer whose access tokens are accepted, exactly as tokens carry it, e.g.
    /// https://login.microsoftonline.com/{tenant-id}/v2.0; its discovery document is read at
    /// start.
    #[arg(long, env = "LM_OIDC_ISSUER", requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,
    /// The audiences (`aud`) that name this API, comma-separated: its client id, its App ID URI.
    #[arg(long, env = "LM_OIDC_AUDIENCE", value_delimiter = ',')]
    pub oidc_audience: Vec<String>,
    /// The tenants (`tid`) whose users may call, comma-separated; default: any the issuer signs
    /// for.
    #[arg(long, env = "LM_OIDC_TENANTS", value_delimiter = ',')]
    pub oidc_tenants: Vec<String>,
    /// The claim holding the caller's roles (a dotted path reaches into objects).
    #[arg(long, env = "LM_OIDC_ROLE_CLAIM", default_value = OidcSettings::DEFAULT_ROLE_CLAIM)]
    pub oidc_role_claim: String,
    /// Roles that make an admin, comma-separated.
    #[arg(long, env = "LM_OIDC_ADMIN_ROLES", value_delimiter = ',', default_value = OidcSettings::DEFAULT_ADMIN_ROLE)]
    pub oidc_admin_roles: Vec<String>,
    /// Roles that make a viewer, comma-separated.
    #[arg(long, env = "LM_OIDC_VIEWER_ROLES", value_delimiter = ',', default_value = OidcSettings::DEFAULT_VIEWER_ROLE)]
    pub oidc_viewer_roles: Vec<String>,
    /// The shortest time between two reads of the provider's keys caused by tokens naming an
    /// unknown key (`kid`).
    #[arg(long, env = "LM_OIDC_KEY_REFETCH_INTERVAL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub oidc_key_refetch_interval: Duration,
    /// The console's app registration at the identity provider (a public client, redirect URI
    /// `{public URL}/sign-in`): with it, the console signs people in with the provider.
    #[arg(long, env = "LM_OIDC_CONSOLE_CLIENT_ID", requires = "oidc_issuer")]
    pub oidc_console_client_id: Option<String>,
    /// The scopes the console asks for, space-separated; default: `openid profile
    /// offline_access api://{first audience}/access_as_user` (an audience that is a URI is used
    /// as it is).
    #[arg(
        long,
        env = "LM_OIDC_CONSOLE_SCOPE",
        requires = "oidc_console_client_id"
    )]
    pub oidc_console_scope: Option<String>,
}

impl OidcArgs {
    /// The settings, when an issuer is configured.
    pub fn settings(self) -> Option<OidcSettings> {
        let list = |values: Vec<String>| -> Vec<String> {
            values
                .into_iter()
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .collect()
        };
        let issuer = self
            .oidc_issuer
            .filter(|issuer| !issuer.trim().is_empty())?;
        let audiences = list(self.oidc_audience);
        let console = self
            .oidc_console_client_id
            .map(|client_id| client_id.trim().to_owned())
            .filter(|client_id| !client_id.is_empty())
            .and_then(|client_id| {
                let scope = self
                    .oidc_console_scope
                    .filter(|scope| !scope.trim().is_empty())
                    .or_else(|| ConsoleClient::default_scope(&audiences))?;
                Some(ConsoleClient { client_id, scope })
            });
        Some(OidcSettings {
            console,
            tenants: list(self.oidc_tenants),
            role_claim: self.oidc_role_claim,
            admin_roles: list(self.oidc_admin_roles),
            viewer_roles: list(self.oidc_viewer_roles),
            key_refetch_interval: self.oidc_key_refetch_interval,
            ..OidcSettings::new(issuer.trim().to_owned(), audiences)
        })
    }
}

/// What one client may hold of a server: its time and its connections. docs/security.md says
/// why each default is what it is.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// How long a client may take to send a request's headers, counted from when the server
    /// waits for them: from the connection, or on a kept-alive one from the previous response.
    #[arg(long, env = "LM_HEADER_READ_TIMEOUT", default_value_t = Timeout::HEADER_READ)]
    pub header_read_timeout: Timeout,
    /// A connection on which nothing moves for this long is closed once its response, if any,
    /// is sent: the idle time a kept-alive connection is kept.
    #[arg(long, env = "LM_KEEP_ALIVE_TIMEOUT", default_value_t = Timeout::KEEP_ALIVE)]
    pub keep_alive_timeout: Timeout,
    /// How long a GraphQL request may run, its body's upload included, and a query or mutation
    /// sent over a websocket; past it, it is cancelled and answered with the code TIMEOUT.
    #[arg(long, env = "LM_REQUEST_TIMEOUT", default_value_t = Timeout::REQUEST)]
    pub request_timeout: Timeout,
    /// Connections served at once, websockets included; the next ones are answered 503.
    #[arg(long, env = "LM_MAX_CONNECTIONS", default_value_t = ConnectionLimits::MAX_CONNECTIONS)]
    pub max_connections: NonZeroUsize,
    /// How long a websocket may take to send `connection_init`; past it, it is closed (4408).
    #[arg(long, env = "LM_WEBSOCKET_INIT_TIMEOUT", default_value_t = Timeout::WEBSOCKET_INIT)]
    pub websocket_init_timeout: Timeout,
    /// Operations one websocket may run at once: subscriptions, and queries or mutations in
    /// flight.
    #[arg(long, env = "LM_MAX_SUBSCRIPTIONS_PER_SOCKET", default_value_t = SubscriptionLimits::PER_SOCKET)]
    pub max_subscriptions_per_socket: NonZeroUsize,
    /// Operations over websockets this process runs at once, all websockets together.
    #[arg(long, env = "LM_MAX_SUBSCRIPTIONS", default_value_t = SubscriptionLimits::TOTAL)]
    pub max_subscriptions: NonZeroUsize,
    /// Parsed GraphQL documents kept by their text, so that a document sent again is not parsed
    /// again; 0 keeps none. Documents over 16 KiB are never kept.
    #[arg(long, env = "LM_DOCUMENT_CACHE", default_value_t = DocumentCache::ENTRIES)]
    pub document_cache: usize,
}

impl From<LimitArgs> for ServerLimits {
    fn from(args: LimitArgs) -> Self {
        Self {
            connections: ConnectionLimits {
                header_read_timeout: args.header_read_timeout,
                keep_alive_timeout: args.keep_alive_timeout,
                max_connections: args.max_connections,
            },
            request_timeout: args.request_timeout,
            websocket_init_timeout: args.websocket_init_timeout,
            api_token_recheck: Timeout::API_TOKEN_RECHECK,
            subscriptions: SubscriptionLimits {
                per_socket: args.max_subscriptions_per_socket,
                total: args.max_subscriptions,
            },
            document_cache: args.document_cache,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Syncs this process runs at once; at least 1, as a worker process exists to run them.
    #[arg(long, default_value_t = 2, value_parser = at_least_one)]
    pub workers: usize,
    #[command(flatten)]
    pub engine: EngineArgs,
}

fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("a worker process needs at least 1 worker".into()),
        Ok(count) => Ok(count),
        Err(error) => Err(error.to_string()),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Auto,
    Full,
    Delta,
}

impl From<ModeArg> for SyncMode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Auto => SyncMode::Auto,
            ModeArg::Full => SyncMode::Full,
            ModeArg::Delta => SyncMode::Delta,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// The provider's id, as `providers { id }` shows it.
    #[arg(long)]
    pub provider: i64,
    #[arg(long, value_enum, default_value = "auto")]
    pub mode: ModeArg,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[arg(long, value_enum)]
    pub role: Role,
    /// Who the token stands for; it is recorded in the audit log.
    #[arg(long)]
    pub subject: String,
    /// Lifetime, e.g. 12h, 30d.
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// Print a sign-in link to the console rather than the bare token. The token rides in the
    /// link's fragment, which browsers never send to a server: it reaches no log.
    #[arg(long)]
    pub link: bool,
    /// Where people reach the console, for --link.
    #[arg(long, env = "LM_PUBLIC_URL", default_value = "http://127.0.0.1:8080", value_parser = parse_public_url)]
    pub public_url: reqwest::Url,
    #[command(flatten)]
    pub data: DataDirArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ApiTokenCommand {
    /// Create a token and print it (only this once; the database keeps a hash).
    Create(ApiTokenCreateArgs),
    /// List every token, newest first, revoked and expired ones too.
    List(StorageArgs),
    /// Revoke a token by its id: every server refuses it from its next request on.
    Revoke(ApiTokenRevokeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ApiTokenCreateArgs {
    /// What the token is for, e.g. nightly-export.
    #[arg(long)]
    pub name: String,
    #[arg(long, value_enum)]
    pub role: Role,
    /// Days until it expires; default 90, or the maximum token lifetime when shorter.
    #[arg(long)]
    pub expires_in_days: Option<i32>,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub lifetime: TokenLifetimeArgs,
    #[command(flatten)]
    pub limits: ApiTokenLimitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ApiTokenRevokeArgs {
    /// The token's id, as `api-token list` shows it.
    pub id: i64,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// What the sync engine needs, resolved from flags and environment. Tests build it directly.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub secret_key: Option<SecretString>,
    pub microsoft: EndpointOverrides,
    pub sync: SyncSettings,
    pub reclaim: ExecutionSettings,
    pub event_retention_days: i64,
}

impl EngineSettings {
    /// Defaults for everything but where the data lives.
    pub fn new(database_url: String, data_dir: PathBuf) -> Self {
        Self {
            database_url,
            data_dir,
            secret_key: None,
            microsoft: EndpointOverrides::default(),
            sync: SyncSettings::default(),
            reclaim: ExecutionSettings::default(),
            event_retention_days: RETENTION_DAYS_DEFAULT,
        }
    }
}

impl From<EngineArgs> for EngineSettings {
    fn from(args: EngineArgs) -> Self {
        let to_chrono = |duration: Duration| {
            chrono::Duration::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
        };
        Self {
            database_url: args.storage.database_url(),
            data_dir: args.storage.data.data_dir,
            secret_key: args.secret_key,
            microsoft: EndpointOverrides {
                login_url: args.microsoft_login_url,
                graph_url: args.microsoft_graph_url,
            },
            sync: SyncSettings {
                full_sync_max_age: to_chrono(args.full_sync_max_age),
                sign_in_refresh_interval: to_chrono(args.sign_in_refresh_interval),
                ..SyncSettings::default()
            },
            reclaim: ExecutionSettings {
                parallel_items: args.reclaim_parallel_items,
                ..ExecutionSettings::default()
            },
            event_retention_days: args.event_retention_days,
        }
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub jwt_secret: Option<SecretString>,
    pub token_max_ttl: MaxTokenLifetime,
    /// API tokens that may be active at once.
    pub max_api_tokens: NonZeroUsize,
    /// An identity provider whose access tokens are accepted too.
    pub oidc: Option<OidcSettings>,
    pub reclaim: ReclaimSettings,
    pub renewals: RenewalSettings,
    pub workers: usize,
    pub engine: EngineSettings,
    pub limits: ServerLimits,
    pub cors_origins: CorsOrigins,
}

impl From<ServeArgs> for Settings {
    fn from(args: ServeArgs) -> Self {
        Self {
            listen: args.listen,
            jwt_secret: args.jwt.jwt_secret,
            token_max_ttl: args.jwt.lifetime.token_max_ttl,
            max_api_tokens: args.api_tokens.max_api_tokens,
            oidc: (*args.oidc).settings(),
            reclaim: args.reclaim.into(),
            renewals: args.renewals.into(),
            workers: args.workers,
            engine: args.engine.into(),
            limits: (*args.limits).into(),
            cors_origins: args.cors.into(),
        }
    }
}

/// An http(s) address with no query or fragment, e.g. `https://licenses.example.com`.
fn parse_public_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|error| format!("not an address: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err("give an http:// or https:// address".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("give the address without a query or fragment".to_owned());
    }
    Ok(url)
}
