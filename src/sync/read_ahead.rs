//! Pages fetched ahead of the writer, and written together when they pile up.
//!
//! A commit pays for every database page it dirties, and a user insert dirties a leaf of each
//! index at a random place: 500 users per commit rewrite nearly as many index pages as 5,000
//! do. So the fetch never waits for the writer (up to `CAPACITY` pages ahead), and whenever the
//! writer is slower than the provider, it takes every page that arrived meanwhile into one transaction
//! (group commit). When the writer keeps up, each page is still written as soon as it arrives.

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use crate::providers::{Pages, ProviderError};

/// Pages held in memory ahead of the writer: 8 pages of 500 users are a few megabytes.
const CAPACITY: usize = 8;

pub struct ReadAhead<T> {
    pages: mpsc::Receiver<Result<T, ProviderError>>,
    /// Dropping the reader (the run ended or failed) stops the fetching.
    _pump: AbortOnDropHandle<()>,
}

/// Pages taken together for one write.
pub struct Batch<T> {
    pub items: T,
    /// Provider pages in `items`.
    pub pages: i64,
    /// The page after the batch failed: the batch is complete and should be written before the
    /// failure is reported, as it would have been page by page.
    pub failure: Option<ProviderError>,
}

impl<T: Send + 'static> ReadAhead<T> {
    pub fn start(mut stream: Pages<T>) -> Self {
        let (sender, pages) = mpsc::channel(CAPACITY);
        let pump = tokio::spawn(async move {
            while let Some(page) = stream.next().await {
                let failed = page.is_err();
                if sender.send(page).await.is_err() || failed {
                    break;
                }
            }
        });
        Self {
            pages,
            _pump: AbortOnDropHandle::new(pump),
        }
    }

    /// The next page, waiting for it; `None` after the last one.
    pub async fn next(&mut self) -> Option<Result<T, ProviderError>> {
        self.pages.recv().await
    }
}

impl<I: Send + 'static> ReadAhead<Vec<I>> {
    /// `first` and the pages that have already arrived behind it, without waiting, up to about
    /// `limit` items.
    pub fn gather(&mut self, first: Vec<I>, limit: usize) -> Batch<Vec<I>> {
        let mut batch = Batch {
            items: first,
            pages: 1,
            failure: None,
        };
        while batch.items.len() < limit {
            match self.pages.try_recv() {
                Ok(Ok(page)) => {
                    batch.items.extend(page);
                    batch.pages += 1;
                }
                Ok(Err(error)) => {
                    batch.failure = Some(error);
                    break;
                }
                Err(_) => break,
            }
        }
        batch
    }
}
