//! Writes what a provider reports into the database.
//!
//! Each page is one short transaction of a few batched statements: read the stored rows of the
//! page's users, insert the new ones, upsert (by primary key) only those that changed, and
//! replace the licenses of only those users whose licenses changed. Unchanged rows are never
//! rewritten, so a repeated full sync costs reads, not writes. Rows are deduplicated by the provider's
//! id within a page (the last one wins: a provider may list a user twice, the later time newer, see
//! `runner::write_listing`): PostgreSQL refuses to touch one row twice in a statement.

mod batching;
mod delta;
pub mod events;
mod order_indexes;
mod sign_ins;
mod skus;
mod snapshots;
mod stamps;
mod users;

pub use delta::apply_changes;
pub use events::{EVENT_KINDS, Event, EventKind, Observer};
pub use order_indexes::{defer_order_indexes, restore_order_indexes};
pub use sign_ins::write_sign_ins;
pub use skus::{SkuIndex, add_held_skus, write_skus, write_subscriptions};
pub use snapshots::snapshot_skus;
pub use stamps::{Counted, remove_unseen};
pub use users::write_user_page;

/// What one write added to its run's counts: users the run had not seen before, users it
/// created, users it updated (not counting those it created), and users it marked removed.
/// Counts, not ids: whether the run counted a user already is stamped on the user's row (see
/// `stamps`), so a user listed on more than one page is counted once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageChanges {
    pub seen: i64,
    pub created: i64,
    pub updated: i64,
    pub removed: i64,
}
