//! What a run has seen, created and updated, kept on the user rows rather than in the process.
//!
//! Each row a sync run writes or lists carries the run's id and what the run counted it as
//! (`listed_in_run`, `listed_as`). A provider may list a user more than once in one run; the
//! stamp says whether this run counted it already, so a run's counters count each user once
//! without a set of every id in memory, and a full sync finds the users its complete listing
//! missed with one statement at its end (`remove_unseen`). A run that dies leaves its stamps;
//! the next run has another id, so they count for nothing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, InsertStatement, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
};

use super::PageChanges;
use super::batching::MAX_IDS_PER_STATEMENT;
use super::events::{EventKind, Observer};
use super::users::SavedUsers;
use crate::db::one_of;
use crate::entities::{
    directory_users as users, license_assignments as assignments, license_events as events,
};
use crate::error::Result;

/// What a run counted a user as. Ordered: a later listing in the same run only raises it, so a
/// user the run created stays created, and one it updated is counted as updated once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counted {
    Seen,
    Updated,
    Created,
}

impl Counted {
    pub(super) fn stored(self) -> i16 {
        match self {
            Self::Seen => 0,
            Self::Updated => 1,
            Self::Created => 2,
        }
    }

    /// An unknown value counts as seen: the stamp is a tally, not a fact about the user.
    pub(super) fn of(stored: i16) -> Self {
        match stored {
            2 => Self::Created,
            1 => Self::Updated,
            _ => Self::Seen,
        }
    }

    /// The stamp `row` has, for a write that leaves it as it is.
    pub(super) fn kept(row: &users::Model) -> (Option<i64>, Self) {
        (row.listed_in_run, Self::of(row.listed_as))
    }

    /// What `run` had counted `row` as before this write; None if it had not met it.
    pub(super) fn before(row: Option<&users::Model>, run: Option<i64>) -> Option<Self> {
        let row = row?;
        (run.is_some() && row.listed_in_run == run).then(|| Self::of(row.listed_as))
    }

    /// What the run counts a user as once this write, which found it `now`, is stored.
    pub(super) fn after(row: Option<&users::Model>, run: Option<i64>, now: Self) -> Self {
        Self::before(row, run).map_or(now, |before| before.max(now))
    }
}

impl PageChanges {
    /// Adds one user: `before` is what the run had counted it as, `after` what it counts now.
    fn add(&mut self, before: Option<Counted>, after: Counted) {
        if before.is_none() {
            self.seen += 1;
        }
        if before != Some(after) {
            match after {
                Counted::Created => self.created += 1,
                Counted::Updated => self.updated += 1,
                Counted::Seen => {}
            }
        }
    }
}

/// Counts the users of a written page that the run had not counted yet, and stamps those
/// whose row the page's statements did not already stamp (unchanged users, and users whose
/// licenses alone changed). `relicensed` are the users whose licenses were replaced.
pub(super) async fn stamp_page(
    db: &impl ConnectionTrait,
    run: Option<i64>,
    stored: &HashMap<String, users::Model>,
    saved: &SavedUsers,
    relicensed: &HashSet<i64>,
    removed: i64,
) -> Result<PageChanges> {
    let mut changes = PageChanges {
        removed,
        ..PageChanges::default()
    };
    let mut restamp: HashMap<Counted, Vec<i64>> = HashMap::new();
    for (external_id, id) in &saved.ids {
        let row = stored.get(external_id);
        let written = saved.new_ids.contains(id) || saved.updated.contains(id);
        let now = if saved.new_ids.contains(id) {
            Counted::Created
        } else if written || relicensed.contains(id) {
            Counted::Updated
        } else {
            Counted::Seen
        };
        let before = Counted::before(row, run);
        let after = Counted::after(row, run, now);
        changes.add(before, after);
        if !written && before != Some(after) {
            restamp.entry(after).or_default().push(*id);
        }
    }
    let Some(run) = run else {
        return Ok(changes);
    };
    for (counted, ids) in restamp {
        for chunk in ids.chunks(MAX_IDS_PER_STATEMENT) {
            users::Entity::update_many()
                .col_expr(users::Column::ListedInRun, Expr::val(run))
                .col_expr(users::Column::ListedAs, Expr::val(counted.stored()))
                .filter(one_of(
                    db.get_database_backend(),
                    users::Column::Id,
                    chunk.to_vec(),
                ))
                .exec(db)
                .await?;
        }
    }
    Ok(changes)
}

/// The provider's current users that `run` did not stamp: after a complete listing, those that
/// left the directory.
fn unseen(provider_id: i64, run: i64) -> Condition {
    Condition::all()
        .add(users::Column::ProviderId.eq(provider_id))
        .add(users::Column::RemovedAt.is_null())
        .add(
            Condition::any()
                .add(users::Column::ListedInRun.is_null())
                .add(users::Column::ListedInRun.ne(run)),
        )
}

/// Marks as removed every current user of the provider that the complete listing of `run`
/// did not return, and drops their licenses (a removed account consumes no seat): one
/// transaction of three set-based statements, whatever the size of the directory. Returns how
/// many were removed.
pub async fn remove_unseen(
    db: &DatabaseConnection,
    provider_id: i64,
    run: i64,
    now: DateTime<Utc>,
    observer: Observer,
) -> Result<i64> {
    let transaction = crate::db::begin_write(db).await?;
    if !observer.baseline {
        transaction
            .execute(&removal_events(provider_id, run, now, observer)?)
            .await?;
    }
    let gone_ids = Query::select()
        .column(users::Column::Id)
        .from(users::Entity)
        .cond_where(unseen(provider_id, run))
        .to_owned();
    assignments::Entity::delete_many()
        .filter(assignments::Column::UserId.in_subquery(gone_ids))
        .exec(&transaction)
        .await?;
    let removed = users::Entity::update_many()
        .col_expr(users::Column::RemovedAt, Expr::val(now))
        .col_expr(users::Column::UpdatedAt, Expr::val(now))
        .filter(unseen(provider_id, run))
        .exec(&transaction)
        .await?
        .rows_affected;
    transaction.commit().await?;
    Ok(i64::try_from(removed).unwrap_or(i64::MAX))
}

/// One USER_REMOVED event per unseen user, written by the database from the rows themselves.
fn removal_events(
    provider_id: i64,
    run: i64,
    now: DateTime<Utc>,
    observer: Observer,
) -> Result<InsertStatement> {
    let removals = Query::select()
        .column(users::Column::ProviderId)
        .column(users::Column::Id)
        .expr(Expr::val(EventKind::UserRemoved.as_str()))
        .expr(Expr::val(now))
        .expr(Expr::val(observer.run_id))
        .from(users::Entity)
        .cond_where(unseen(provider_id, run))
        .to_owned();
    Ok(Query::insert()
        .into_table(events::Entity)
        .columns([
            events::Column::ProviderId,
            events::Column::UserId,
            events::Column::Kind,
            events::Column::ObservedAt,
            events::Column::SyncRunId,
        ])
        .select_from(removals)
        .map_err(|error| DbErr::Custom(format!("the removal events' statement: {error}")))?
        .to_owned())
}
