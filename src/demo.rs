//! `license-manager demo`: the server with a simulated Microsoft 365 tenant already connected,
//! so a newcomer sees licenses within a minute, without Azure. Everything lives in a temporary
//! folder and is gone when the demo stops.

use std::future::Future;

use graph_sim::{Permissions, SimOptions, SimServer, TenantSpec};
use secrecy::SecretString;

use crate::app::{self, Application, StartupError};
use crate::auth::{MaxTokenLifetime, Role};
use crate::config::{DemoArgs, EngineSettings, Settings};
use crate::domain::api_tokens::ApiTokenLimits;
use crate::domain::audit::Actor;
use crate::domain::reclaim_plans::ReclaimSettings;
use crate::domain::renewals::RenewalSettings;
use crate::domain::{providers, sync_runs};
use crate::providers::microsoft365::{self, Cloud, EndpointOverrides};
use crate::sync::queue::SyncMode;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start the simulated tenant: {0}")]
    Simulator(String),
    #[error("cannot create the demo's data folder: {0}")]
    DataDir(#[from] std::io::Error),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Setup(#[from] crate::Error),
    #[error("cannot mint the demo token: {0}")]
    Token(#[from] crate::auth::AuthError),
}

fn examples(provider_id: i64) -> [(&'static str, String); 4] {
    [
        (
            "the tenant and its first sync",
            "{ providers { name userCount lastSyncRun { status usersSeen skusSynced warnings { code hint } } } }".into(),
        ),
        (
            "seats paid for and used",
            "{ licenseSkus { displayName enabledUnits consumedUnits availableUnits } }".into(),
        ),
        (
            "who holds an E5 and has not signed in for 90 days",
            "{ users(first: 20, filter: { skuPartNumber: \"SPE_E5\", inactiveSinceDays: 90 }) { totalCount edges { node { displayName userPrincipalName lastSignInAt } } } }".into(),
        ),
        (
            "the waste report, with the evidence of each finding",
            format!("{{ licenseReport(providerId: \"{provider_id}\") {{ totals {{ findings }} findings(first: 20) {{ totalCount nodes {{ kind evidence removal }} }} }} }}"),
        ),
    ]
}

pub async fn run(
    args: DemoArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DemoError> {
    let spec = TenantSpec {
        users: args.users,
        seed: args.seed,
        // The demo's tenant lets reclaim change licenses, so that a plan can be executed and
        // undone there without a real tenant at stake.
        permissions: Permissions::default().with_license_writes(),
        ..TenantSpec::default()
    };
    let sim = SimServer::start(spec, SimOptions::default())
        .await
        .map_err(|error| DemoError::Simulator(error.to_string()))?;
    let data_dir = tempfile::Builder::new()
        .prefix("license-manager-demo")
        .tempdir()?;
    let engine = EngineSettings {
        microsoft: EndpointOverrides {
            login_url: Some(sim.base_url().to_owned()),
            graph_url: Some(sim.base_url().to_owned()),
        },
        ..EngineSettings::new(
            crate::db::default_sqlite_url(data_dir.path()),
            data_dir.path().to_owned(),
        )
    };
    let application = Application::build(Settings {
        listen: args.listen,
        jwt_secret: None,
        token_max_ttl: MaxTokenLifetime::DEFAULT,
        max_api_tokens: ApiTokenLimits::MAX_ACTIVE,
        oidc: None,
        reclaim: ReclaimSettings::default(),
        renewals: RenewalSettings::default(),
        workers: 2,
        engine: engine.clone(),
        limits: args.limits.into(),
        cors_origins: args.cors.into(),
    })
    .await?;
    let addr = application.local_addr().map_err(DemoError::DataDir)?;
    let actor = Actor {
        subject: "demo".into(),
        role: Role::Admin.to_string(),
    };
    let provider = providers::create(
        application.db(),
        &application.engine().keyring,
        &actor,
        providers::NewProvider {
            name: format!("Contoso (simulated, {} users)", args.users),
            config: microsoft365::Config::parse(
                &sim.tenant_id().to_string(),
                &sim.client_id().to_string(),
                Cloud::Global,
            ),
            client_secret: SecretString::from(sim.client_secret()),
            client_secret_expires_at: None,
            sync_interval_minutes: Some(60),
        },
    )
    .await?;
    sync_runs::start(
        application.db(),
        &application.engine().events,
        &actor,
        provider.id,
        SyncMode::Full,
    )
    .await?;
    let (keys, _) = app::load_jwt_keys(None, MaxTokenLifetime::DEFAULT, data_dir.path())?;
    let token = keys.issue(
        "demo",
        Role::Admin,
        std::time::Duration::from_secs(24 * 3600),
    )?;
    print_welcome(&addr.to_string(), &token, sim.base_url(), provider.id);
    application.run(shutdown).await?;
    Ok(())
}

fn print_welcome(addr: &str, token: &str, simulator: &str, provider_id: i64) {
    println!(
        "license-manager demo — the Microsoft 365 tenant here is SIMULATED (graph-sim at {simulator})."
    );
    println!("Nothing is read from Microsoft and nothing is kept when you stop the demo.\n");
    // The token rides in the fragment, which the browser never sends to the server.
    println!("Console:      http://{addr}/sign-in#token={token}");
    println!("GraphiQL:     http://{addr}/graphql");
    println!("Admin token:  {token}");
    println!(
        "Paste this into GraphiQL's Headers tab:\n  {{\"Authorization\": \"Bearer {token}\"}}\n"
    );
    println!("Try:");
    for (what, query) in examples(provider_id) {
        println!("  # {what}\n  {query}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The welcome text is the first thing a newcomer pastes into GraphiQL.
    #[tokio::test]
    async fn every_example_query_is_valid_against_the_schema() {
        let schema = crate::api::bare_schema();
        for (what, query) in examples(1) {
            let response = schema.execute(query.as_str()).await;
            // Without a caller every resolver fails, each error at its field's path; an error
            // without a path is the query's own (unknown field, wrong argument).
            let invalid: Vec<_> = response
                .errors
                .iter()
                .filter(|error| error.path.is_empty())
                .map(|error| error.message.clone())
                .collect();
            assert!(invalid.is_empty(), "{what}: {invalid:?}");
        }
    }
}
