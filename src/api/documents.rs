//! Parsed documents kept by their text. Clients send the same few documents again and again (a
//! page of users, a dashboard's screen, a poll), and parsing one was about 4 % of the
//! instructions of a page of 100 users with their SKU names. Each request still validates its
//! document: validation depends on the request's variables (complexity, `@skip`) and is not
//! kept.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::Request;
use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

/// Documents kept by their whole text, so that two documents share an entry only when they are
/// the same text; the least recently used one makes room for a new one.
pub struct DocumentCache {
    /// None when the cache is off (no entries).
    kept: Option<Mutex<LruCache<String, Arc<ExecutableDocument>>>>,
}

impl DocumentCache {
    /// Documents kept by default: far more than the distinct documents of the console and a
    /// few scripts, few enough to bound memory (see [`Self::MAX_TEXT`]).
    pub const ENTRIES: usize = 256;
    /// Longer documents are parsed every time, so that the cache holds at most
    /// `entries` × this much text (and its parsed form). The console's largest document is
    /// a few KiB; a 1 MiB body kept 256 times would not be bounded at all.
    pub const MAX_TEXT: usize = 16 * 1024;

    /// A cache of `entries` documents; 0 keeps none.
    pub fn new(entries: usize) -> Self {
        Self {
            kept: NonZeroUsize::new(entries).map(|entries| Mutex::new(LruCache::new(entries))),
        }
    }

    /// Gives the request its parsed document: a copy of the one kept for its text, or the one
    /// parsed now, which is then kept. Each request gets a copy because async-graphql edits
    /// the document it runs (it removes the selections `@skip` and `@include` leave out for
    /// the request's variables). A document that does not parse is not kept, and is left to
    /// async-graphql, which answers with the parser's error.
    pub fn prepare(&self, request: &mut Request) {
        let Some(kept) = &self.kept else {
            return;
        };
        if request.query.len() > Self::MAX_TEXT {
            return;
        }
        let found = lock(kept).get(request.query.as_str()).cloned();
        if let Some(document) = found {
            request.set_parsed_query(ExecutableDocument::clone(&document));
            return;
        }
        let text = request.query.clone();
        if let Ok(document) = request.parsed_query() {
            let document = Arc::new(document.clone());
            lock(kept).put(text, document);
        }
    }
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self::new(Self::ENTRIES)
    }
}

/// The cache even if a thread panicked while holding it: each of its operations leaves it
/// whole, so what it holds is still right.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
