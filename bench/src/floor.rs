//! The fetch-only floor: the app's own Graph client paging through the same simulator with the
//! same `$select` and page size as a full sync (signInActivity included, 500 per page), storing
//! nothing. It includes the simulator's service time and the client's JSON parsing, so
//! "wall ÷ floor" isolates what the sync adds: database writes that are not hidden behind the
//! next page's fetch, and bookkeeping.

use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use license_manager::providers::microsoft365::graph::{
    ClientConfig, Cloud, Credentials, EndpointOverrides, GraphClient, SecretString, UserQuery,
};

use crate::processes::SimInfo;

pub struct Floor {
    pub secs: f64,
    pub pages: u64,
    pub users: u64,
    /// The id of every user listed, to pick the ones the incremental scenario changes.
    pub user_ids: Vec<String>,
}

/// Pages through every user once. The token is fetched before the clock starts, as the server
/// holds one before its first page too (it asks for the delta link first).
pub async fn measure(sim: &SimInfo) -> anyhow::Result<Floor> {
    let overrides = EndpointOverrides {
        login_url: Some(sim.base_url.clone()),
        graph_url: Some(sim.base_url.clone()),
    };
    let credentials = Credentials::new(
        sim.tenant_id.clone(),
        sim.client_id.clone(),
        SecretString::from(sim.client_secret.clone()),
        Cloud::Global,
    );
    let client = GraphClient::new(credentials, &overrides, ClientConfig::default())
        .context("cannot build the Graph client")?;
    client
        .verify_credentials()
        .await
        .context("the simulator refused the bench's credentials")?;
    let started = Instant::now();
    let mut stream = client.users(UserQuery {
        sign_in_activity: true,
        page_size: None,
    });
    let (mut pages, mut users, mut user_ids) = (0, 0, Vec::new());
    while let Some(page) = stream.next().await {
        let page = page.context("the fetch-only listing failed")?;
        pages += 1;
        users += page.items.len() as u64;
        // Keeping the ids is a few MB of moves; everything else is dropped unread.
        user_ids.extend(page.items.into_iter().map(|user| user.id));
    }
    Ok(Floor {
        secs: started.elapsed().as_secs_f64(),
        pages,
        users,
        user_ids,
    })
}
