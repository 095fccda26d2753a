//! The indexes of `directory_users` that only order the read API's lists (by name, by
//! principal name, by last sign-in, by creation date), built after the first sync of an empty
//! directory instead of row by row during it.
//!
//! Each of them is keyed by a value in no relation to the order in which a listing arrives, so
//! every user inserted lands on a random leaf of each: once the directory outgrows the writer's
//! page cache, a page of 4,000 users dirtied nearly 4,000 distinct leaves per index, written to
//! the WAL at commit and again to the database file at the checkpoint. Per user that grows with
//! the directory: a first sync of 1,000,000 users ran at a third of the rate of 100,000. No
//! write needs these indexes (the sync finds users by their provider's id, with the unique index
//! that stays), and `CREATE INDEX` over the finished table sorts the keys once and writes each
//! leaf once. Later syncs keep them: they write only the users that changed.
//!
//! While they are missing, a list ordered by one of these keys is sorted from the table; only
//! the first sync of a directory that was empty pays that. A run that dies before it rebuilds
//! them leaves its provider without a completed full sync, so the next full sync is a first
//! sync again and builds them at its start, as does every server start.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QuerySelect};

use crate::entities::directory_users as users;

/// (name, key): as the migrations create them, the same on both engines.
const ORDER_INDEXES: [(&str, &str); 4] = [
    ("ix_directory_users_upn", "user_principal_name, id"),
    ("ix_directory_users_display_name", "display_name, id"),
    ("ix_directory_users_last_sign_in", "last_sign_in_at, id"),
    ("ix_directory_users_created", "created_date_time, id"),
];

/// Drops the order indexes when no provider has a single user stored; returns whether it did.
/// Another provider's users would be listed by those indexes meanwhile, so then they stay.
pub async fn defer_order_indexes(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let any_user = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    if any_user.is_some() {
        return Ok(false);
    }
    for (name, _) in ORDER_INDEXES {
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
            .await?;
    }
    Ok(true)
}

/// Builds whichever order index is missing.
pub async fn restore_order_indexes(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    for (name, key) in ORDER_INDEXES {
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS {name} ON directory_users ({key})"
        ))
        .await?;
    }
    Ok(())
}
