use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use license_manager::app::{self, Application};
use license_manager::auth::{AuthError, Role};
use license_manager::config::{
    ApiTokenCommand, ApiTokenCreateArgs, Cli, Command, Settings, StorageArgs, SyncArgs, TokenArgs,
    WorkerArgs,
};
use license_manager::db;
use license_manager::domain::api_tokens::{self, ApiTokenLimits, NewApiToken};
use license_manager::domain::audit::Actor;
use license_manager::sync::queue::RunStatus;
use tokio_util::sync::CancellationToken;

/// Why jemalloc: see its entry in Cargo.toml.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Logs go to stderr, so that `token` prints nothing but the token on stdout.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(args.into()).await,
        Command::Worker(args) => worker(args).await,
        Command::Sync(args) => sync_once(args).await,
        Command::Demo(args) => Ok(license_manager::demo::run(args, shutdown_signal()).await?),
        Command::Migrate(args) => migrate(args).await,
        Command::Token(args) => token(args),
        Command::ApiToken(command) => api_token(command).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let application = Application::build(settings)
        .await
        .context("cannot start the server")?;
    application.run(shutdown_signal()).await?;
    Ok(())
}

async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let (engine, _) = app::open_engine(&args.engine.into())
        .await
        .context("cannot start the workers")?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    app::run_background(engine, args.workers, shutdown).await;
    Ok(())
}

async fn sync_once(args: SyncArgs) -> anyhow::Result<()> {
    let (engine, _) = app::open_engine(&args.engine.into())
        .await
        .context("cannot open the database")?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    let run = engine
        .run_once(args.provider, args.mode.into(), shutdown)
        .await
        .with_context(|| format!("cannot sync provider {}", args.provider))?;
    println!(
        "sync run {}: {} ({} pages, {} users seen, {} created, {} updated, {} removed, {} SKUs)",
        run.id,
        run.status.as_str(),
        run.pages_fetched,
        run.users_seen,
        run.users_created,
        run.users_updated,
        run.users_removed,
        run.skus_synced
    );
    for warning in &run.warnings {
        println!(
            "warning {}: {} — {}",
            warning.code, warning.message, warning.hint
        );
    }
    match (&run.status, &run.error) {
        (RunStatus::Succeeded, _) => Ok(()),
        (_, Some(error)) => anyhow::bail!("{}: {} — {}", error.code, error.message, error.hint),
        (status, None) => anyhow::bail!("the sync ended {}", status.as_str()),
    }
}

async fn migrate(args: StorageArgs) -> anyhow::Result<()> {
    let database = db::connect(&args.database_url())
        .await
        .context("cannot open the database")?;
    db::migrate(&database).await.context("migration failed")?;
    tracing::info!("database schema is up to date");
    Ok(())
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let subject = args.subject.trim();
    anyhow::ensure!(!subject.is_empty(), "--subject must not be empty");
    let (keys, created) = app::load_jwt_keys(
        args.jwt.jwt_secret.as_ref(),
        args.jwt.lifetime.token_max_ttl,
        &args.data.data_dir,
    )?;
    if created {
        eprintln!(
            "note: generated a new signing key in {}; start the server with the same data folder",
            args.data.data_dir.display()
        );
    }
    let token = keys
        .issue(subject, args.role, args.ttl)
        .map_err(|error| match error {
            AuthError::LifetimeTooLong { max } => anyhow::anyhow!(
                "--ttl: a token may live at most {max}; give a shorter --ttl, or raise the \
                 maximum with --token-max-ttl or LM_TOKEN_MAX_TTL (on the servers too: they \
                 refuse tokens that live longer)"
            ),
            other => other.into(),
        })?;
    if args.link {
        let mut link = args.public_url.join("/sign-in")?;
        link.set_fragment(Some(&format!("token={token}")));
        println!("{link}");
    } else {
        println!("{token}");
    }
    Ok(())
}

/// The command line acts as `cli` in the audit log and in the tokens' `creator`: whoever can
/// run it on the server's database is its operator.
fn operator() -> Actor {
    Actor {
        subject: "cli".into(),
        role: Role::Admin.to_string(),
    }
}

async fn api_token(command: ApiTokenCommand) -> anyhow::Result<()> {
    let storage = match &command {
        ApiTokenCommand::Create(args) => &args.storage,
        ApiTokenCommand::List(storage) => storage,
        ApiTokenCommand::Revoke(args) => &args.storage,
    };
    let database = db::connect(&storage.database_url())
        .await
        .context("cannot open the database")?;
    db::migrate(&database).await.context("migration failed")?;
    match command {
        ApiTokenCommand::Create(args) => create_api_token(&database, args).await,
        ApiTokenCommand::List(_) => list_api_tokens(&database).await,
        ApiTokenCommand::Revoke(args) => {
            let token = api_tokens::revoke(&database, &operator(), args.id).await?;
            println!("revoked API token {} ({})", token.id, token.name);
            Ok(())
        }
    }
}

/// Prints the token alone on stdout, for `TOKEN=$(license-manager api-token create …)`.
async fn create_api_token(
    database: &sea_orm::DatabaseConnection,
    args: ApiTokenCreateArgs,
) -> anyhow::Result<()> {
    let limits = ApiTokenLimits {
        max_lifetime: args.lifetime.token_max_ttl,
        max_active: args.limits.max_api_tokens,
    };
    let input = NewApiToken {
        name: args.name,
        role: args.role,
        expires_in_days: args.expires_in_days,
    };
    let created = api_tokens::create(database, limits, &operator(), input).await?;
    eprintln!(
        "API token {} ({}, {}) expires {}; it is not shown again",
        created.token.id,
        created.token.name,
        created.token.role,
        created.token.expires_at.to_rfc3339()
    );
    println!("{}", created.secret.expose());
    Ok(())
}

/// One line per token, tab-separated, after a header line.
async fn list_api_tokens(database: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(|| "-".to_owned(), |at| at.to_rfc3339())
    };
    println!("id\tname\trole\tcreator\tcreated\texpires\tlast used\trevoked");
    let mut before = None;
    loop {
        let page = api_tokens::list(database, 500, before).await?;
        for token in &page {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                token.id,
                token.name,
                token.role,
                token.creator,
                token.created_at.to_rfc3339(),
                token.expires_at.to_rfc3339(),
                time(token.last_used_at),
                time(token.revoked_at)
            );
        }
        match page.last() {
            Some(last) if page.len() == 500 => before = Some(last.id),
            _ => return Ok(()),
        }
    }
}

/// Ctrl-C or SIGTERM (what `docker stop` and systemd send) ends the server gracefully.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
