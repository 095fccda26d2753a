//! Paged collections as a `Stream` of pages, following `@odata.nextLink` verbatim until it is
//! absent. At most two pages are alive: the one the consumer holds and the next one, fetched
//! in the background as soon as the previous page is handed out, so a consumer that writes
//! page k to a database overlaps that with fetching page k+1.

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::client::GraphClient;
use super::error::{ErrorKind, GraphError};
use super::lenient::null_as_default;
use super::response::Api;

/// One page of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present while more pages follow (already being fetched by the stream).
    pub next_link: Option<String>,
    /// users/delta only, on the last page of a round: the link to store for the next round.
    pub delta_link: Option<String>,
}

/// A stream of pages; it ends after the last page or after the first error.
pub type PageStream<T> = BoxStream<'static, Result<Page<T>, GraphError>>;

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct RawPage<T> {
    #[serde(default, deserialize_with = "null_as_default")]
    value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(default, rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

/// How to request each page of one listing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRequest {
    pub api: Api,
    /// `Prefer: return=minimal` (users/delta).
    pub minimal: bool,
}

/// The page after the one just handed out: a URL still to fetch, or a fetch under way.
enum Next<T> {
    Url(String),
    Fetching(Prefetch<T>),
}

/// A page fetched by a task of its own, aborted if the stream is dropped first (a consumer
/// that stops early must not leave requests running).
struct Prefetch<T>(JoinHandle<Result<Page<T>, GraphError>>);

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Prefetch<T> {
    async fn join(mut self) -> Result<Page<T>, GraphError> {
        (&mut self.0).await.unwrap_or_else(|e| {
            Err(GraphError::new(
                ErrorKind::Internal,
                format!("page fetch task failed: {e}"),
            ))
        })
    }
}

/// Streams the pages of the listing at `first_url`.
pub(crate) fn pages<T>(
    client: GraphClient,
    request: PageRequest,
    first_url: String,
) -> PageStream<T>
where
    T: DeserializeOwned + Send + 'static,
{
    stream::unfold(Some(Next::Url(first_url)), move |next| {
        let client = client.clone();
        async move {
            let page = match next? {
                Next::Url(url) => fetch_page(&client, request, &url).await,
                Next::Fetching(task) => task.join().await,
            };
            match page {
                Ok(page) => {
                    let next = page
                        .next_link
                        .clone()
                        .map(|url| start_next(&client, request, url));
                    Some((Ok(page), next))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    })
    .boxed()
}

fn start_next<T>(client: &GraphClient, request: PageRequest, url: String) -> Next<T>
where
    T: DeserializeOwned + Send + 'static,
{
    if !client.config().prefetch_next_page {
        return Next::Url(url);
    }
    let client = client.clone();
    Next::Fetching(Prefetch(tokio::spawn(async move {
        fetch_page(&client, request, &url).await
    })))
}

async fn fetch_page<T: DeserializeOwned>(
    client: &GraphClient,
    request: PageRequest,
    url: &str,
) -> Result<Page<T>, GraphError> {
    if !client.endpoints().is_graph_link(url) {
        return Err(foreign_link(request.api, url));
    }
    let raw = client.get(request.api, url, request.minimal).await?;
    let page: RawPage<T> = raw.json(request.api.name())?;
    tracing::debug!(
        api = request.api.name(),
        items = page.value.len(),
        more = page.next_link.is_some(),
        "page received"
    );
    Ok(Page {
        items: page.value,
        next_link: page.next_link,
        delta_link: page.delta_link,
    })
}

/// A link to another origin is never followed: it would receive our bearer token. A stored
/// delta link can legitimately end up there (the provider's cloud or the Graph URL override
/// changed since it was saved); it is then as useless as an expired one, so the sync engine's
/// fallback to a full sync applies.
fn foreign_link(api: Api, url: &str) -> GraphError {
    let origin = url.split('?').next().unwrap_or(url);
    if api == Api::UsersDelta {
        GraphError::new(
            ErrorKind::DeltaTokenExpired,
            format!("the stored delta link points to another Graph endpoint ({origin})"),
        )
    } else {
        GraphError::new(
            ErrorKind::Internal,
            format!("refusing to follow a link outside Microsoft Graph: {origin}"),
        )
    }
}

/// Every item of a small collection (subscribedSkus, subscriptions), across all its pages.
pub(crate) async fn collect_all<T>(
    client: &GraphClient,
    request: PageRequest,
    url: String,
) -> Result<Vec<T>, GraphError>
where
    T: DeserializeOwned + Send + 'static,
{
    pages::<T>(client.clone(), request, url)
        .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
        .try_flatten()
        .try_collect()
        .await
}
