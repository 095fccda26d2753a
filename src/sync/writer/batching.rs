//! Statements sized for each engine: rows per multi-row INSERT, ids per `IN (…)` list.

use std::collections::HashMap;

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, QueryResult};

use crate::error::Result;
use crate::sync::bulk_insert;

/// Rows per statement, so that rows × columns stays under SQLite's 32,766 bind parameters (and
/// PostgreSQL's 65,535) for the widest table written here. A power of two: see `batches`.
pub(super) const MAX_ROWS_PER_STATEMENT: usize = 1_024;

/// Ids per `IN (…)` list.
pub(super) const MAX_IDS_PER_STATEMENT: usize = 10_000;

/// Splits rows into batches for multi-row INSERTs. A statement of n rows is a different text for
/// every n, and PostgreSQL parses and plans each new text anew — thousands of parameters — so
/// there the sizes are powers of two, largest first: a handful of statements, prepared once,
/// serve every page. SQLite prepares cheaply but pays per statement, so it gets the largest
/// batches (measured on 100,000 users: powers of two made its sync 40% slower).
pub(super) fn batches<T>(backend: DbBackend, rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = match backend {
            DbBackend::Postgres => MAX_ROWS_PER_STATEMENT.min(1 << rest.len().ilog2()),
            _ => MAX_ROWS_PER_STATEMENT.min(rest.len()),
        };
        let (batch, tail) = rest.split_at(size);
        rest = tail;
        Some(batch)
    })
}

/// `rows` split as `batches` splits them, each batch owning its rows: a statement built from
/// them takes their values rather than copies.
pub(super) fn owned_batches<T>(backend: DbBackend, rows: Vec<T>) -> Vec<Vec<T>> {
    let sizes: Vec<usize> = batches(backend, &rows).map(<[T]>::len).collect();
    let mut rows = rows.into_iter();
    sizes
        .into_iter()
        .map(|size| rows.by_ref().take(size).collect())
        .collect()
}

/// The last entry per key, in first-seen order.
pub(super) fn dedupe_by<T>(items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut unique: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        match position.get(key(&item)) {
            Some(&index) => unique[index] = item,
            None => {
                position.insert(key(&item).to_owned(), unique.len());
                unique.push(item);
            }
        }
    }
    unique
}

/// Inserts new rows the fastest way each engine has, returning the `returning` columns of each:
/// on PostgreSQL one JSON document per statement, on SQLite multi-row VALUES (`bulk_insert`).
pub(super) async fn insert_new<A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<QueryResult>>
where
    A: ActiveModelTrait,
{
    Ok(match db.get_database_backend() {
        DbBackend::Postgres => bulk_insert::insert(db, rows, returning).await?,
        _ => bulk_insert::insert_values(db, rows, MAX_ROWS_PER_STATEMENT, returning).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_powers_of_two_and_cover_every_row() {
        let rows: Vec<usize> = (0..3_000).collect();
        let sizes =
            |backend| -> Vec<usize> { batches(backend, &rows).map(<[usize]>::len).collect() };
        assert_eq!(
            sizes(DbBackend::Postgres),
            [1024, 1024, 512, 256, 128, 32, 16, 8]
        );
        assert_eq!(sizes(DbBackend::Sqlite), [1024, 1024, 952]);
        let again: Vec<usize> = batches(DbBackend::Postgres, &rows)
            .flatten()
            .copied()
            .collect();
        assert_eq!(again, rows);
        assert_eq!(batches(DbBackend::Sqlite, &rows[..0]).count(), 0);
    }
}
