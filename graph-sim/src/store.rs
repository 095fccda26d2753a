//! The live directory: users in a stable order, indexes, and the change log that users/delta
//! reads. All mutations go through here so every change is logged exactly once.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use uuid::Uuid;

use crate::errors::SimError;
use crate::props::{self, PropSet};
use crate::tenant::{PrepaidUnits, Sku, Tenant, User};

/// What happened to a user at one sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated(PropSet),
    SoftDeleted,
    Restored,
    HardDeleted,
}

#[derive(Debug, Clone)]
struct Change {
    user_id: Uuid,
    kind: ChangeKind,
}

/// All changes to one user within a delta window.
#[derive(Debug, Clone, Copy)]
pub struct ChangeSummary {
    pub id: Uuid,
    /// Properties updated in the window.
    pub props: PropSet,
    /// Created or restored in the window: report every selected property.
    pub full: bool,
}

/// The tenant as served. `meta` holds everything but the users (its `users` is empty).
#[derive(Debug)]
pub struct Directory {
    pub meta: Tenant,
    /// Keyed by an insertion ordinal that never changes, so `$skiptoken` positions stay valid
    /// while users are added or removed between pages.
    users: BTreeMap<u64, User>,
    by_id: HashMap<Uuid, u64>,
    next_ordinal: u64,
    /// Sequence number of entry i is i + 1.
    log: Vec<Change>,
    /// Bumped to invalidate every outstanding delta token.
    pub delta_generation: u64,
}

impl Directory {
    pub fn new(mut tenant: Tenant) -> Directory {
        let list = std::mem::take(&mut tenant.users);
        let mut users = BTreeMap::new();
        let mut by_id = HashMap::with_capacity(list.len());
        for (i, u) in list.into_iter().enumerate() {
            by_id.insert(u.id, i as u64);
            users.insert(i as u64, u);
        }
        let next_ordinal = users.len() as u64;
        Directory {
            meta: tenant,
            users,
            by_id,
            next_ordinal,
            log: Vec::new(),
            delta_generation: 0,
        }
    }

    /// A full copy of the tenant including soft-deleted users (ground truth / tenant file).
    pub fn snapshot(&self) -> Tenant {
        let mut t = self.meta.clone();
        t.users = self.users.values().cloned().collect();
        t
    }

    pub fn current_seq(&self) -> u64 {
        self.log.len() as u64
    }

    pub fn get(&self, id: Uuid) -> Option<&User> {
        self.by_id.get(&id).and_then(|o| self.users.get(o))
    }

    pub fn active_users(&self) -> impl Iterator<Item = &User> {
        self.users.values().filter(|u| !u.is_deleted())
    }

    pub fn deleted_users(&self) -> impl Iterator<Item = &User> {
        self.users.values().filter(|u| u.is_deleted())
    }

    /// Finds an active user by id or (case-insensitively) by userPrincipalName.
    pub fn find_active(&self, key: &str) -> Option<&User> {
        let found = match Uuid::parse_str(key) {
            Ok(id) => self.get(id),
            Err(_) => self
                .users
                .values()
                .find(|u| u.user_principal_name.eq_ignore_ascii_case(key)),
        };
        found.filter(|u| !u.is_deleted())
    }

    pub fn active_count(&self) -> usize {
        self.active_users().count()
    }

    /// Up to `n` active users after ordinal `after` (exclusive), with the last ordinal returned
    /// and whether more active users follow.
    pub fn page(&self, after: Option<u64>, n: usize) -> (Vec<&User>, Option<u64>, bool) {
        self.page_where(after, n, |_| true)
    }

    /// Like `page`, restricted to users matching `pred` (for `$filter`).
    pub fn page_where(
        &self,
        after: Option<u64>,
        n: usize,
        pred: impl Fn(&User) -> bool,
    ) -> (Vec<&User>, Option<u64>, bool) {
        let start = after.map_or(0, |a| a + 1);
        let mut out = Vec::with_capacity(n.min(1000));
        let mut last = None;
        let mut iter = self
            .users
            .range(start..)
            .filter(|(_, u)| !u.is_deleted() && pred(u));
        for (ord, u) in iter.by_ref() {
            out.push(u);
            last = Some(*ord);
            if out.len() == n {
                break;
            }
        }
        let more = out.len() == n && iter.next().is_some();
        (out, last, more)
    }

    fn record(&mut self, user_id: Uuid, kind: ChangeKind) {
        self.log.push(Change { user_id, kind });
    }

    fn upn_taken(&self, upn: &str, except: Option<Uuid>) -> bool {
        self.users
            .values()
            .any(|u| Some(u.id) != except && u.user_principal_name.eq_ignore_ascii_case(upn))
    }

    pub fn add_user(&mut self, user: User) -> Result<User, SimError> {
        if self.by_id.contains_key(&user.id) {
            return Err(SimError::Conflict(format!(
                "user id {} already exists",
                user.id
            )));
        }
        if user.user_principal_name.is_empty() {
            return Err(SimError::InvalidInput(
                "userPrincipalName is required".into(),
            ));
        }
        if self.upn_taken(&user.user_principal_name, None) {
            return Err(SimError::Conflict(format!(
                "userPrincipalName {} already exists",
                user.user_principal_name
            )));
        }
        let ord = self.next_ordinal;
        self.next_ordinal += 1;
        self.by_id.insert(user.id, ord);
        self.users.insert(ord, user.clone());
        self.record(user.id, ChangeKind::Created);
        Ok(user)
    }

    /// Applies `f` to an active user and logs the properties that changed. Changes to
    /// properties users/delta does not track (signInActivity, licenseAssignmentStates) are
    /// applied but not logged, as in Graph.
    pub fn modify(
        &mut self,
        id: Uuid,
        f: impl FnOnce(&mut User) -> Result<(), SimError>,
    ) -> Result<User, SimError> {
        let ord = self.ord_of(id)?;
        let current = self
            .users
            .get(&ord)
            .ok_or_else(|| SimError::UserNotFound(id.to_string()))?;
        if current.is_deleted() {
            return Err(SimError::UserNotFound(format!(
                "{id} (soft-deleted; restore it first)"
            )));
        }
        let mut updated = current.clone();
        f(&mut updated)?;
        // The id is the key; a callback must not change it.
        updated.id = id;
        updated.deleted_date_time = None;
        if updated.user_principal_name != current.user_principal_name
            && self.upn_taken(&updated.user_principal_name, Some(id))
        {
            return Err(SimError::Conflict(format!(
                "userPrincipalName {} already exists",
                updated.user_principal_name
            )));
        }
        let changed = props::diff(current, &updated);
        let mut tracked = PropSet::default();
        for p in props::ALL_PROPS {
            if changed.contains(*p) && p.delta_tracked() {
                tracked.insert(*p);
            }
        }
        self.users.insert(ord, updated.clone());
        if !tracked.is_empty() {
            self.record(id, ChangeKind::Updated(tracked));
        }
        Ok(updated)
    }

    pub fn soft_delete(&mut self, id: Uuid) -> Result<User, SimError> {
        self.set_recycled(id, true)
    }

    pub fn restore(&mut self, id: Uuid) -> Result<User, SimError> {
        self.set_recycled(id, false)
    }

    fn ord_of(&self, id: Uuid) -> Result<u64, SimError> {
        self.by_id
            .get(&id)
            .copied()
            .ok_or_else(|| SimError::UserNotFound(id.to_string()))
    }

    /// Moves a user into the recycle bin (soft delete) or back out of it (restore).
    fn set_recycled(&mut self, id: Uuid, recycled: bool) -> Result<User, SimError> {
        let ord = self.ord_of(id)?;
        let user = self
            .users
            .get_mut(&ord)
            .ok_or_else(|| SimError::UserNotFound(id.to_string()))?;
        if user.is_deleted() == recycled {
            let state = if recycled {
                "already soft-deleted"
            } else {
                "not deleted"
            };
            return Err(SimError::Conflict(format!("user {id} is {state}")));
        }
        user.deleted_date_time = recycled.then(Utc::now);
        let out = user.clone();
        let kind = if recycled {
            ChangeKind::SoftDeleted
        } else {
            ChangeKind::Restored
        };
        self.record(id, kind);
        Ok(out)
    }

    /// Permanent deletion (from the recycle bin, or directly).
    pub fn hard_delete(&mut self, id: Uuid) -> Result<User, SimError> {
        let ord = self
            .by_id
            .remove(&id)
            .ok_or_else(|| SimError::UserNotFound(id.to_string()))?;
        let user = self
            .users
            .remove(&ord)
            .ok_or_else(|| SimError::UserNotFound(id.to_string()))?;
        self.record(id, ChangeKind::HardDeleted);
        Ok(user)
    }

    /// Per-user summaries of changes with sequence number in (since, upto], in order of first
    /// change.
    pub fn changes(&self, since: u64, upto: u64) -> Vec<ChangeSummary> {
        let lo = (since as usize).min(self.log.len());
        let hi = (upto as usize).min(self.log.len()).max(lo);
        let mut out: Vec<ChangeSummary> = Vec::new();
        let mut index: HashMap<Uuid, usize> = HashMap::new();
        for c in &self.log[lo..hi] {
            let i = *index.entry(c.user_id).or_insert_with(|| {
                out.push(ChangeSummary {
                    id: c.user_id,
                    props: PropSet::default(),
                    full: false,
                });
                out.len() - 1
            });
            let s = &mut out[i];
            match c.kind {
                ChangeKind::Created | ChangeKind::Restored => s.full = true,
                ChangeKind::Updated(p) => s.props = s.props.union(p),
                ChangeKind::SoftDeleted | ChangeKind::HardDeleted => {}
            }
        }
        out
    }

    /// consumedUnits per SKU: active users holding it in assignedLicenses.
    pub fn consumed_units(&self) -> HashMap<Uuid, i32> {
        let mut m = HashMap::new();
        for u in self.active_users() {
            for l in &u.assigned_licenses {
                *m.entry(l.sku_id).or_insert(0) += 1;
            }
        }
        m
    }

    pub fn sku_mut(&mut self, sku_id: Uuid) -> Result<&mut Sku, SimError> {
        self.meta
            .skus
            .iter_mut()
            .find(|s| s.sku_id == sku_id)
            .ok_or_else(|| SimError::SkuNotFound(sku_id.to_string()))
    }

    /// Sets a SKU's seat counts; the first backing subscription absorbs the difference so
    /// subscriptions' totalLicenses keep summing to the SKU's prepaid total.
    pub fn set_sku_units(&mut self, sku_id: Uuid, units: PrepaidUnits) -> Result<Sku, SimError> {
        let sku = self.sku_mut(sku_id)?;
        sku.prepaid_units = units;
        let sku = sku.clone();
        let total = units.total();
        let mut subs: Vec<_> = self
            .meta
            .subscriptions
            .iter_mut()
            .filter(|s| s.sku_id == sku_id)
            .collect();
        let others: i32 = subs.iter().skip(1).map(|s| s.total_licenses).sum();
        if let Some(first) = subs.first_mut() {
            first.total_licenses = (total - others).max(0);
        }
        Ok(sku)
    }

    pub fn set_sku_status(&mut self, sku_id: Uuid, status: &str) -> Result<Sku, SimError> {
        const ALLOWED: &[&str] = &["Enabled", "Warning", "Suspended", "Deleted", "LockedOut"];
        if !ALLOWED.contains(&status) {
            return Err(SimError::InvalidInput(format!(
                "capabilityStatus must be one of {ALLOWED:?}"
            )));
        }
        let sku = self.sku_mut(sku_id)?;
        sku.capability_status = status.to_string();
        let sku = sku.clone();
        for s in self
            .meta
            .subscriptions
            .iter_mut()
            .filter(|s| s.sku_id == sku_id)
        {
            s.status = status.to_string();
        }
        Ok(sku)
    }
}
