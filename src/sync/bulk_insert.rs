//! Multi-row INSERTs on PostgreSQL as one statement with one parameter: the rows as a JSON
//! array, unpacked by `jsonb_to_recordset`. A VALUES list binds rows × columns parameters,
//! which PostgreSQL parses, type-checks and plans one by one (a 1,024-row page of users is
//! 17,000 of them), and its text changes with the row count. One JSON parameter costs a parse
//! of the document instead, and the statement text is the same for every page: prepared once.
//!
//! The document is written as text straight from the rows' values, which are moved out of the
//! rows, not copied. Built as a `serde_json::Value` it was a tree of a map per row and a string
//! per key, which sea-orm then cloned whole to bind and sqlx serialized: a quarter of the
//! instructions of a full sync went to making, copying, writing and freeing that tree.
//!
//! SQLite, which runs in-process and prepares cheaply, gets a multi-row VALUES list
//! (`insert_values`), written here too: sea-orm's `insert_many` copied every value of every row,
//! cast each through its column definition and built the statement as an expression tree, a
//! fifth of a full sync's instructions on SQLite.

use chrono::SecondsFormat;
use sea_orm::sea_query::{ColumnType, Value};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityName, EntityTrait,
    IdenStatic, Iterable, QueryResult, Statement,
};
use serde::Serialize;

/// Rows per statement: a JSON document of a few megabytes, far below what jsonb takes.
const MAX_ROWS_PER_DOCUMENT: usize = 10_000;

/// Inserts `rows` (each with the same columns set) and returns the `returning` columns of each
/// inserted row.
pub async fn insert<A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<QueryResult>, DbErr>
where
    A: ActiveModelTrait,
{
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = set_columns(first);
    let sql = statement::<A>(&columns, returning)?;
    let mut returned = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let document = document(rows.by_ref().take(MAX_ROWS_PER_DOCUMENT), &columns)?;
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql.clone(),
            [Value::String(Some(document))],
        );
        returned.extend(db.query_all_raw(statement).await?);
    }
    Ok(returned)
}

/// Inserts `rows` (each with the same columns set) on SQLite, `per_statement` rows per VALUES
/// list, and returns the `returning` columns of each inserted row.
pub async fn insert_values<A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    per_statement: usize,
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<QueryResult>, DbErr>
where
    A: ActiveModelTrait,
{
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = set_columns(first);
    let mut returned = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut values = Vec::with_capacity(per_statement * columns.len());
        let mut count = 0;
        for mut row in rows.by_ref().take(per_statement) {
            check_columns(&row, &columns)?;
            for column in &columns {
                values.push(taken(&mut row, *column)?);
            }
            count += 1;
        }
        let sql = values_statement::<A>(&columns, count, returning);
        let statement = Statement::from_sql_and_values(DbBackend::Sqlite, sql, values);
        returned.extend(db.query_all_raw(statement).await?);
    }
    Ok(returned)
}

/// `INSERT … VALUES (?, …), …` for `count` rows.
fn values_statement<A: ActiveModelTrait>(
    columns: &[<A::Entity as EntityTrait>::Column],
    count: usize,
    returning: &[<A::Entity as EntityTrait>::Column],
) -> String {
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    let mut sql = format!(
        "INSERT INTO \"{}\" ({}) VALUES ",
        A::Entity::default().table_name(),
        quoted_list(columns),
    );
    sql.reserve((row.len() + 2) * count);
    for index in 0..count {
        if index > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&row);
    }
    if !returning.is_empty() {
        sql.push_str(&format!(" RETURNING {}", quoted_list(returning)));
    }
    sql
}

/// The columns `row` sets: those every row of one statement must set.
fn set_columns<A: ActiveModelTrait>(row: &A) -> Vec<<A::Entity as EntityTrait>::Column> {
    <A::Entity as EntityTrait>::Column::iter()
        .filter(|column| row.get(*column).is_set())
        .collect()
}

/// One column list serves every row: a column a row leaves out would be NULL here, not its
/// default as in sea-orm's VALUES list, and one only later rows set would be lost.
fn check_columns<A: ActiveModelTrait>(
    row: &A,
    columns: &[<A::Entity as EntityTrait>::Column],
) -> Result<(), DbErr> {
    // `is_not_set`, not `get`: `get` returns a copy of the value.
    let set = <A::Entity as EntityTrait>::Column::iter().filter(|column| !row.is_not_set(*column));
    if set
        .map(|column| column.as_str())
        .eq(columns.iter().map(|column| column.as_str()))
    {
        Ok(())
    } else {
        Err(DbErr::Custom(
            "bulk insert: the rows do not all set the same columns".into(),
        ))
    }
}

/// The value of `column`, moved out of `row`.
fn taken<A: ActiveModelTrait>(
    row: &mut A,
    column: <A::Entity as EntityTrait>::Column,
) -> Result<Value, DbErr> {
    row.take(column)
        .into_value()
        .ok_or_else(|| unsupported(column.as_str(), "is not set"))
}

/// The INSERT, the same text for any number of rows. The document is bound as text and cast:
/// PostgreSQL reads it once either way.
fn statement<A: ActiveModelTrait>(
    columns: &[<A::Entity as EntityTrait>::Column],
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Result<String, DbErr> {
    let mut record_type = Vec::with_capacity(columns.len());
    for column in columns {
        record_type.push(format!(
            "\"{}\" {}",
            column.as_str(),
            sql_type(column.def().get_column_type(), column.as_str())?
        ));
    }
    let names = quoted_list(columns);
    let mut sql = format!(
        "INSERT INTO \"{}\" ({names}) SELECT {names} FROM jsonb_to_recordset($1::jsonb) AS r({})",
        A::Entity::default().table_name(),
        record_type.join(", "),
    );
    if !returning.is_empty() {
        sql.push_str(&format!(" RETURNING {}", quoted_list(returning)));
    }
    Ok(sql)
}

/// `"a", "b", …`: column names as SQL identifiers.
fn quoted_list<C: IdenStatic>(columns: &[C]) -> String {
    columns
        .iter()
        .map(|column| format!("\"{}\"", column.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows as the text of one JSON array of records, keyed by column name.
fn document<A: ActiveModelTrait>(
    rows: impl Iterator<Item = A>,
    columns: &[<A::Entity as EntityTrait>::Column],
) -> Result<String, DbErr> {
    // Each record's keys, written (and escaped) once for every row.
    let mut keys = Vec::with_capacity(columns.len());
    for column in columns {
        let mut key = Vec::new();
        write(&mut key, column.as_str(), column.as_str())?;
        key.push(b':');
        keys.push(key);
    }
    let mut out = Vec::new();
    out.push(b'[');
    for (index, mut row) in rows.enumerate() {
        check_columns(&row, columns)?;
        if index > 0 {
            out.push(b',');
        }
        out.push(b'{');
        for (position, (column, key)) in columns.iter().zip(&keys).enumerate() {
            if position > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            write_value(&mut out, &taken(&mut row, *column)?, column.as_str())?;
        }
        out.push(b'}');
    }
    out.push(b']');
    String::from_utf8(out).map_err(|error| DbErr::Custom(format!("bulk insert: {error}")))
}

/// The PostgreSQL type of a record column, for the column types the sync writes.
fn sql_type(column_type: &ColumnType, name: &str) -> Result<&'static str, DbErr> {
    Ok(match column_type {
        ColumnType::BigInteger => "bigint",
        ColumnType::Integer => "integer",
        ColumnType::SmallInteger => "smallint",
        ColumnType::Boolean => "boolean",
        ColumnType::String(_) | ColumnType::Text => "text",
        ColumnType::TimestampWithTimeZone => "timestamptz",
        ColumnType::Json | ColumnType::JsonBinary => "jsonb",
        other => return Err(unsupported(name, &format!("has type {other:?}"))),
    })
}

/// A bound value as JSON that `jsonb_to_recordset` reads back into the same value. Times keep
/// microseconds, as binding them does: PostgreSQL stores no finer.
fn write_value(out: &mut Vec<u8>, value: &Value, column: &str) -> Result<(), DbErr> {
    match value {
        Value::ChronoDateTimeUtc(Some(at)) => write(
            out,
            &at.to_rfc3339_opts(SecondsFormat::Micros, true),
            column,
        ),
        // A JSON null would read back as SQL NULL.
        Value::Json(Some(inner)) if inner.is_null() => {
            Err(unsupported(column, "holds a JSON null"))
        }
        // Other time types would be written in a text form PostgreSQL does not read back.
        Value::ChronoDateTime(_)
        | Value::ChronoDateTimeLocal(_)
        | Value::ChronoDateTimeWithTimeZone(_)
        | Value::ChronoDate(_)
        | Value::ChronoTime(_) => Err(unsupported(column, "is a time other than DateTime<Utc>")),
        // The values a sync writes, without a detour through a `serde_json::Value` each.
        Value::String(Some(text)) => write(out, text, column),
        Value::Json(Some(json)) => write(out, json, column),
        Value::Bool(Some(flag)) => write(out, flag, column),
        Value::SmallInt(Some(number)) => write(out, number, column),
        Value::Int(Some(number)) => write(out, number, column),
        Value::BigInt(Some(number)) => write(out, number, column),
        value => write(
            out,
            &sea_orm::sea_query::value::sea_value_to_json_value(value),
            column,
        ),
    }
}

fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T, column: &str) -> Result<(), DbErr> {
    serde_json::to_writer(out, value).map_err(|error| unsupported(column, &error.to_string()))
}

fn unsupported(column: &str, why: &str) -> DbErr {
    DbErr::Custom(format!("bulk insert: column {column} {why}"))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use sea_orm::ActiveValue::{NotSet, Set};

    use serde_json::Value as Json;

    use super::*;
    use crate::entities::license_assignments as assignments;

    fn assignment(user_id: i64) -> assignments::ActiveModel {
        assignments::ActiveModel {
            id: NotSet,
            provider_id: Set(1),
            user_id: Set(user_id),
            license_sku_id: Set(7),
            disabled_plans: Set(serde_json::json!(["plan"])),
            assigned_directly: Set(true),
            inherited_from_group_ids: Set(serde_json::json!([])),
            state: Set(None),
            error: Set(None),
            sources: Set(None),
            updated_at: Set(Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap()),
        }
    }

    fn columns_of(row: &assignments::ActiveModel) -> Vec<assignments::Column> {
        assignments::Column::iter()
            .filter(|column| row.get(*column).is_set())
            .collect()
    }

    /// The document of `rows`, read back as JSON.
    fn parsed(rows: Vec<assignments::ActiveModel>) -> Result<Json, DbErr> {
        let columns = columns_of(&rows[0]);
        let text = document(rows.into_iter(), &columns)?;
        Ok(serde_json::from_str(&text).expect("the document is JSON"))
    }

    #[test]
    fn rows_become_records_postgres_reads_back_unchanged() {
        let document = parsed(vec![assignment(1), assignment(2)]).expect("document");
        let first = &document[0];
        assert_eq!(first["user_id"], 1);
        assert_eq!(first["disabled_plans"], serde_json::json!(["plan"]));
        assert_eq!(first["state"], Json::Null);
        assert!(
            first.get("id").is_none(),
            "the key is the database's to assign"
        );
        // Microseconds, as a bound timestamp is stored: no rounding up of the nanoseconds.
        assert_eq!(first["updated_at"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(document[1]["user_id"], 2);
    }

    #[test]
    fn rows_that_set_different_columns_are_refused() {
        let mut other = assignment(2);
        other.state = NotSet;
        assert!(parsed(vec![assignment(1), other]).is_err());
        let mut extra = assignment(2);
        extra.id = Set(5);
        assert!(parsed(vec![assignment(1), extra]).is_err());
    }

    #[test]
    fn a_json_null_is_refused_rather_than_written_as_sql_null() {
        let mut row = assignment(1);
        row.disabled_plans = Set(Json::Null);
        assert!(parsed(vec![row]).is_err());
    }
}
