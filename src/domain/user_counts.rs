//! Users per provider, counted once per data version instead of at every request.
//!
//! Counting is a scan of every current user of a provider: PostgreSQL answers it with a
//! sequential scan of the table (~35 ms for 100,000 users, and it was most of what a
//! dashboard's `licenseReport` with provider names and counts cost there). Users change only
//! when a sync writes or a provider is deleted, both of which change the [`DataVersion`], so a
//! count is reused while the version it was taken at is still current, and for at most
//! [`MAX_AGE`] (the backstop for rows edited by hand).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use sea_orm::DatabaseConnection;

use super::providers;
use super::report_cache::{DataVersion, MAX_AGE};
use crate::error::Result;

/// The counts of one process, taken at one data version. Held beside the GraphQL schema.
#[derive(Default)]
pub struct UserCountCache {
    counts: Mutex<Option<Counted>>,
}

struct Counted {
    version: DataVersion,
    taken: Instant,
    users: HashMap<i64, i64>,
}

impl Counted {
    fn current(&self, version: &DataVersion) -> bool {
        self.version == *version && self.taken.elapsed() < MAX_AGE
    }
}

impl UserCountCache {
    /// Current users of each of `provider_ids` (0 for one without users or unknown): one small
    /// version statement, and one count for those not counted at this version yet.
    pub async fn counts(
        &self,
        db: &DatabaseConnection,
        provider_ids: &[i64],
    ) -> Result<HashMap<i64, i64>> {
        // Read before counting: a write that lands during the count changes the version, so the
        // next request counts again rather than keep a count that missed it.
        let version = DataVersion::read(db, None).await?;
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let counts = self.lock();
            let known = counts.as_ref().filter(|counted| counted.current(&version));
            for &id in provider_ids {
                match known.and_then(|counted| counted.users.get(&id)) {
                    Some(&users) => {
                        found.insert(id, users);
                    }
                    None => missing.push(id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let mut counted = providers::current_user_counts(db, &missing).await?;
        for id in missing {
            counted.entry(id).or_insert(0);
        }
        self.remember(version, &counted);
        found.extend(counted);
        Ok(found)
    }

    fn remember(&self, version: DataVersion, users: &HashMap<i64, i64>) {
        let mut counts = self.lock();
        match counts.as_mut() {
            Some(counted) if counted.current(&version) => counted.users.extend(users),
            _ => {
                *counts = Some(Counted {
                    version,
                    taken: Instant::now(),
                    users: users.clone(),
                })
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Counted>> {
        // Each change leaves the counts whole, so ones that a panic interrupted are fit to use.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
