//! The connection test: each read a sync needs, tried once, every failure with its hint; and
//! whether the app may change licenses, judged from its token, which writes nothing.

use futures::StreamExt;

use super::graph::{GraphClient, GraphError, RetryConfig, UserQuery};
use super::writer;
use crate::providers::{ConnectionCheck, WriteAccess};

/// Each check of what a sync needs; without a token, the others say they were not tried.
pub async fn run(graph: &GraphClient) -> Vec<ConnectionCheck> {
    let token = graph.verify_credentials().await;
    let token_check = check(
        "token",
        token
            .as_ref()
            .map(|info| {
                format!(
                    "signed in; the token is valid until {}",
                    info.expires_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            })
            .map_err(Clone::clone),
    );
    let license_write = license_write(writer::access(token.clone()));
    if let Err(error) = token {
        // Without a token nothing else can be tried; say so on each check.
        let skipped = |name| ConnectionCheck {
            name,
            ok: false,
            warning: false,
            code: Some(error.code().into()),
            message: "not checked: signing in failed (see the token check)".into(),
            hint: Some(error.hint()),
        };
        return vec![
            token_check,
            skipped("organization"),
            skipped("users"),
            skipped("subscriptions"),
            skipped("signInActivity"),
            license_write,
        ];
    }
    // Someone is waiting on the answer: a throttled Graph is reported as such, not
    // waited out as a sync would (up to minutes per request).
    let graph = graph.with_retry(RetryConfig::interactive());
    let organization = graph.organization().await.map(|org| {
        format!(
            "tenant {:?}, default domain {}",
            org.display_name.as_deref().unwrap_or_default(),
            org.default_domain().unwrap_or("unknown")
        )
    });
    let users = first_page(&graph, false)
        .await
        .map(|count| format!("users can be read ({count} on the first page)"));
    // Both reads of a sync's seats: the SKUs with their counts, and the commerce
    // subscriptions behind them.
    let subscriptions = tokio::try_join!(graph.subscribed_skus(), graph.subscriptions()).map(
        |(skus, subscriptions)| {
            format!(
                "{} subscribed SKUs and {} subscriptions can be read",
                skus.len(),
                subscriptions.len()
            )
        },
    );
    let sign_ins = first_page(&graph, true)
        .await
        .map(|_| "sign-in activity can be read".to_owned());
    vec![
        token_check,
        check("organization", organization),
        check("users", users),
        check("subscriptions", subscriptions),
        check("signInActivity", sign_ins),
        license_write,
    ]
}

/// Optional: syncs work without the permission, so a missing one warns.
fn license_write(access: WriteAccess) -> ConnectionCheck {
    ConnectionCheck {
        name: "licenseWrite",
        ok: access.allowed,
        warning: true,
        code: access.code.map(Into::into),
        message: access.message,
        hint: access.hint,
    }
}

fn check(name: &'static str, result: Result<String, GraphError>) -> ConnectionCheck {
    match result {
        Ok(message) => ConnectionCheck {
            name,
            ok: true,
            warning: false,
            code: None,
            message,
            hint: None,
        },
        Err(error) => ConnectionCheck {
            name,
            ok: false,
            warning: false,
            code: Some(error.code().into()),
            message: error.to_string(),
            hint: Some(error.hint()),
        },
    }
}

/// Reads one small page of users: enough to prove the permission, cheap for a large tenant.
async fn first_page(graph: &GraphClient, sign_in_activity: bool) -> Result<usize, GraphError> {
    let mut pages = graph.users(UserQuery {
        sign_in_activity,
        page_size: Some(1),
    });
    match pages.next().await {
        Some(page) => Ok(page?.items.len()),
        None => Ok(0),
    }
}
