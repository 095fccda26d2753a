//! The command line: every flag has the environment fallback listed in API.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::auth::Role;
use crate::db;

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
    /// Serve the GraphQL API, GraphiQL and the health endpoints.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(StorageArgs),
    /// Print a signed JWT for a script or a person.
    Token(TokenArgs),
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
}

#[derive(Debug, Clone, Args)]
pub struct SecretKeyArgs {
    /// Base64 of 32 bytes sealing provider secrets; comma-separated to rotate (new key first);
    /// default: generated once into the data folder.
    #[arg(long, env = "LM_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<SecretString>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
    #[command(flatten)]
    pub secret_key: SecretKeyArgs,
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
    #[command(flatten)]
    pub data: DataDirArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
}

/// Everything the server needs to start, resolved from flags and environment. Tests build it
/// directly.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub jwt_secret: Option<SecretString>,
    pub secret_key: Option<SecretString>,
}

impl From<ServeArgs> for Settings {
    fn from(args: ServeArgs) -> Self {
        Self {
            listen: args.listen,
            database_url: args.storage.database_url(),
            data_dir: args.storage.data.data_dir,
            jwt_secret: args.jwt.jwt_secret,
            secret_key: args.secret_key.secret_key,
        }
    }
}
