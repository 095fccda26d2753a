use std::time::Duration;

use async_graphql::{Context, ID, Result, Subscription as GraphQLSubscription};
use futures::Stream;
use futures::stream;

use super::context::{claims, database, row_id};
use super::errors::{ResultExt, graphql_error};
use super::types::SyncRun;
use crate::domain::sync_runs;
use crate::domain::sync_runs::RunStatus;
use crate::error::Error;

/// How often a watched run is read again. The run may be executed by another process, so the
/// database, not an in-process channel, is the source of truth.
const POLL: Duration = Duration::from_millis(500);

pub struct Subscription;

#[GraphQLSubscription(name = "Subscription")]
impl Subscription {
    /// The run now, then again each time its progress or status changes, until it ends.
    async fn sync_run_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = Result<SyncRun>> + use<>> {
        claims(ctx)?;
        let id = row_id("id", &id)?;
        let db = database(ctx)?.clone();
        if sync_runs::get(&db, id).await.api()?.is_none() {
            return Err(graphql_error(&Error::NotFound(format!(
                "no sync run with id {id}"
            ))));
        }
        // State: the last version sent, and whether the run had ended.
        Ok(stream::unfold(
            (db, None::<String>, false),
            move |(db, last_sent, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    let run = match sync_runs::get(&db, id).await {
                        Ok(Some(run)) => run,
                        Ok(None) => return None,
                        Err(error) => {
                            return Some((Err(graphql_error(&error)), (db, last_sent, true)));
                        }
                    };
                    let version = format!("{run:?}");
                    if last_sent.as_deref() != Some(version.as_str()) {
                        let ended = !matches!(run.status, RunStatus::Queued | RunStatus::Running);
                        return Some((Ok(SyncRun::from(run)), (db, Some(version), ended)));
                    }
                    tokio::time::sleep(POLL).await;
                }
            },
        ))
    }
}
