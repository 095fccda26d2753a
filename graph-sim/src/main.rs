//! `graph-sim` binary: serve a simulated tenant until Ctrl-C / SIGTERM.
//!
//! Prints exactly one JSON line on stdout once listening (tenantId, domain, clientId,
//! clientSecret, baseUrl); everything else goes to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use graph_sim::{
    FaultOptions, Limit, NoErrorAs, OidcOptions, Permissions, SimOptions, SimServer, Tenant,
    TenantSpec, WriteLimits, generate,
};

#[derive(Parser, Debug)]
#[command(
    name = "graph-sim",
    version,
    about = "Microsoft Graph + Entra ID token endpoint simulator"
)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "GRAPH_SIM_LISTEN", default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Number of users to generate.
    #[arg(long, env = "GRAPH_SIM_USERS", default_value_t = 10_000)]
    users: usize,
    /// Seed for tenant generation and the fault RNG.
    #[arg(long, env = "GRAPH_SIM_SEED", default_value_t = 7)]
    seed: u64,
    /// Load the tenant from this JSON file instead of generating it.
    #[arg(long, env = "GRAPH_SIM_TENANT_FILE")]
    tenant_file: Option<PathBuf>,
    /// Write the (generated or loaded) tenant as JSON to this file and exit.
    #[arg(long)]
    dump_tenant: Option<PathBuf>,
    /// Fixed latency added to every request, in milliseconds.
    #[arg(long, env = "GRAPH_SIM_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// Fraction (0..1) of Graph requests answered 429.
    #[arg(long, env = "GRAPH_SIM_THROTTLE_RATE", default_value_t = 0.0)]
    throttle_rate: f64,
    /// Retry-After of injected 429s in seconds (fractional allowed, e.g. 2.128).
    #[arg(long, env = "GRAPH_SIM_RETRY_AFTER_SECS", default_value_t = 1.0)]
    retry_after_secs: f64,
    /// Fraction (0..1) of Graph requests answered 503/504 without Retry-After.
    #[arg(long, env = "GRAPH_SIM_UNAVAILABLE_RATE", default_value_t = 0.0)]
    unavailable_rate: f64,
    /// Fraction (0..1) of Graph writes (assignLicense) answered 429 before they apply.
    #[arg(long, env = "GRAPH_SIM_WRITE_THROTTLE_RATE", default_value_t = 0.0)]
    write_throttle_rate: f64,
    /// Fraction (0..1) of Graph writes answered 503/504 before they apply.
    #[arg(long, env = "GRAPH_SIM_WRITE_UNAVAILABLE_RATE", default_value_t = 0.0)]
    write_unavailable_rate: f64,
    /// Writes the app may make per window (Graph: 3000); 0 = unlimited.
    #[arg(long, env = "GRAPH_SIM_WRITE_LIMIT", default_value_t = 3000)]
    write_limit: u32,
    /// The write limit's window in seconds (Graph: 150).
    #[arg(long, env = "GRAPH_SIM_WRITE_WINDOW_SECS", default_value_t = 150.0)]
    write_window_secs: f64,
    /// Grant the app another application permission (repeatable), e.g.
    /// LicenseAssignment.ReadWrite.All or GroupMember.Read.All.
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// Fraction (0..1) of Graph requests answered 500, 502 or 504, half with Graph's JSON
    /// error and half with a gateway's HTML page.
    #[arg(long, env = "GRAPH_SIM_SERVER_ERROR_RATE", default_value_t = 0.0)]
    server_error_rate: f64,
    /// 1-based page of GET /v1.0/users that always fails with 500.
    #[arg(long, env = "GRAPH_SIM_FAIL_USERS_PAGE")]
    fail_users_page: Option<u32>,
    /// Fraction (0..1) of signInActivity requests answered with the non-premium 403.
    #[arg(long, env = "GRAPH_SIM_NON_PREMIUM_RATE", default_value_t = 0.0)]
    non_premium_rate: f64,
    /// GET /v1.0/users lists some users twice, the earlier time in an older state; a delta
    /// round lists the last change of each page again on the next.
    #[arg(long, env = "GRAPH_SIM_REPEAT_USERS", value_parser = clap::builder::BoolishValueParser::new())]
    repeat_users: bool,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "GRAPH_SIM_TOKEN_TTL_SECS", default_value_t = 3599)]
    token_ttl_secs: u64,
    /// users/delta page size.
    #[arg(long, default_value_t = 200)]
    delta_page_size: usize,
    /// Maximum /users page size when signInActivity is selected.
    #[arg(long, default_value_t = 500)]
    signin_page_cap: usize,
    /// Tenant without Entra ID P1/P2 (signInActivity → 403).
    #[arg(long)]
    no_premium: bool,
    /// App lacks AuditLog.Read.All.
    #[arg(long)]
    no_audit_log_permission: bool,
    /// App lacks User.Read.All.
    #[arg(long)]
    no_user_read_permission: bool,
    /// App lacks Organization.Read.All.
    #[arg(long)]
    no_organization_read_permission: bool,
    /// The app's client secret is expired (AADSTS7000222).
    #[arg(long)]
    secret_expired: bool,
    /// Send `"error": null` for a licence assignment without error, as Graph's documentation
    /// says, instead of `"None"`, as the service does.
    #[arg(long)]
    null_license_errors: bool,
    /// Client id of the simulated protected API (OIDC access tokens' `aud`); default random.
    #[arg(long, env = "GRAPH_SIM_API_CLIENT_ID")]
    api_client_id: Option<uuid::Uuid>,
    /// Client id of the simulated SPA (public client); default random.
    #[arg(long, env = "GRAPH_SIM_SPA_CLIENT_ID")]
    spa_client_id: Option<uuid::Uuid>,
    /// A redirect URI registered for the SPA (repeatable); none = any http(s) URI.
    #[arg(long = "spa-redirect-uri")]
    spa_redirect_uris: Vec<String>,
    /// /authorize with a login_hint signs that user in at once, without the picker page.
    #[arg(long, env = "GRAPH_SIM_OIDC_AUTO_APPROVE", value_parser = clap::builder::BoolishValueParser::new())]
    oidc_auto_approve: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("graph-sim: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graph-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn build_tenant(cli: &Cli) -> Result<Tenant, graph_sim::SimError> {
    let started = Instant::now();
    let mut tenant = match &cli.tenant_file {
        Some(path) => Tenant::load(path)?,
        None => generate(&TenantSpec {
            users: cli.users,
            seed: cli.seed,
            premium: true,
            permissions: Permissions::default(),
            secret_expired: false,
            reference_time: None,
            no_error_as: NoErrorAs::default(),
        }),
    };
    // Flags override the file/generated defaults only when given.
    if cli.no_premium {
        tenant.premium = false;
    }
    if cli.no_audit_log_permission {
        tenant.app.permissions.audit_log_read_all = false;
    }
    if cli.no_user_read_permission {
        tenant.app.permissions.user_read_all = false;
    }
    if cli.no_organization_read_permission {
        tenant.app.permissions.organization_read_all = false;
    }
    if !cli.grants.is_empty() {
        let mut names: Vec<&str> = tenant.app.permissions.names();
        names.extend(cli.grants.iter().map(String::as_str));
        tenant.app.permissions = Permissions::from_names(&names)?;
    }
    if cli.secret_expired {
        tenant.app.secret_expired = true;
    }
    if cli.null_license_errors {
        tenant.no_error_as = NoErrorAs::Null;
    }
    tracing::info!(
        users = tenant.users.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "tenant ready"
    );
    Ok(tenant)
}

/// The one stdout line, in this field order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadyLine {
    tenant_id: String,
    domain: String,
    client_id: String,
    client_secret: String,
    base_url: String,
    /// The OIDC issuer (`{baseUrl}/{tenantId}/v2.0`).
    issuer: String,
    api_client_id: String,
    spa_client_id: String,
}

async fn run(cli: Cli) -> Result<(), graph_sim::SimError> {
    let tenant = build_tenant(&cli)?;
    if let Some(path) = &cli.dump_tenant {
        let text = tenant.to_json()?;
        std::fs::write(path, text)
            .map_err(|e| graph_sim::SimError::Io(path.display().to_string(), e))?;
        tracing::info!(path = %path.display(), "tenant written");
        return Ok(());
    }
    let options = SimOptions {
        listen: cli.listen,
        faults: FaultOptions {
            latency: Duration::from_millis(cli.latency_ms),
            throttle_rate: cli.throttle_rate,
            retry_after_secs: cli.retry_after_secs,
            unavailable_rate: cli.unavailable_rate,
            write_throttle_rate: cli.write_throttle_rate,
            write_unavailable_rate: cli.write_unavailable_rate,
            server_error_rate: cli.server_error_rate,
            fail_users_page: cli.fail_users_page,
            non_premium_rate: cli.non_premium_rate,
            repeat_users: cli.repeat_users,
        },
        token_ttl_secs: cli.token_ttl_secs,
        delta_page_size: cli.delta_page_size,
        signin_page_cap: cli.signin_page_cap,
        fault_seed: Some(cli.seed),
        write_limits: WriteLimits {
            per_app_and_tenant: (cli.write_limit > 0).then_some(Limit {
                requests: cli.write_limit,
                window_secs: cli.write_window_secs,
            }),
            ..WriteLimits::default()
        },
        oidc: OidcOptions {
            api_client_id: cli.api_client_id,
            spa_client_id: cli.spa_client_id,
            spa_redirect_uris: cli.spa_redirect_uris.clone(),
            auto_approve: cli.oidc_auto_approve,
            ..OidcOptions::default()
        },
        ..SimOptions::default()
    };
    let mut server = SimServer::start_with_tenant(tenant, options).await?;
    let line = ReadyLine {
        tenant_id: server.tenant_id().to_string(),
        domain: server.domain(),
        client_id: server.client_id().to_string(),
        client_secret: server.client_secret(),
        base_url: server.base_url().to_string(),
        issuer: server.oidc_issuer(),
        api_client_id: server.api_client_id().to_string(),
        spa_client_id: server.spa_client_id().to_string(),
    };
    let line = serde_json::to_string(&line).map_err(graph_sim::SimError::TenantFile)?;
    {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the server; the same facts are in GET /_sim/tenant.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop();
    server.wait().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
