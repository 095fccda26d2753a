//! Multi-row INSERTs on PostgreSQL as one statement with one parameter: the rows as a JSON
//! array, unpacked by `jsonb_to_recordset`. A VALUES list binds rows × columns parameters,
//! which PostgreSQL parses, type-checks and plans one by one (a 1,024-row page of users is
//! 17,000 of them), and its text changes with the row count. One JSON parameter costs a parse
//! of the document instead, and the statement text is the same for every page: prepared once.

use chrono::SecondsFormat;
use sea_orm::sea_query::{ColumnType, Value};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityName, EntityTrait,
    IdenStatic, Iterable, QueryResult, Statement,
};
use serde_json::{Map, Value as Json};

/// Rows per statement: a JSON document of a few megabytes, far below what jsonb takes.
const MAX_ROWS_PER_DOCUMENT: usize = 10_000;

/// Inserts `rows` (each with the same columns set) and returns the `returning` columns of each
/// inserted row.
pub async fn insert<A>(
    db: &impl ConnectionTrait,
    rows: &[A],
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<QueryResult>, DbErr>
where
    A: ActiveModelTrait,
{
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
        .filter(|column| first.get(*column).is_set())
        .collect();
    let mut returned = Vec::new();
    for chunk in rows.chunks(MAX_ROWS_PER_DOCUMENT) {
        returned.extend(insert_chunk(db, chunk, &columns, returning).await?);
    }
    Ok(returned)
}

async fn insert_chunk<A>(
    db: &impl ConnectionTrait,
    rows: &[A],
    columns: &[<A::Entity as EntityTrait>::Column],
    returning: &[<A::Entity as EntityTrait>::Column],
) -> Result<Vec<QueryResult>, DbErr>
where
    A: ActiveModelTrait,
{
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
        "INSERT INTO \"{}\" ({names}) SELECT {names} FROM jsonb_to_recordset($1) AS r({})",
        A::Entity::default().table_name(),
        record_type.join(", "),
    );
    if !returning.is_empty() {
        sql.push_str(&format!(" RETURNING {}", quoted_list(returning)));
    }
    let document = document(rows, columns)?;
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [Value::Json(Some(Box::new(document)))],
    );
    db.query_all_raw(statement).await
}

/// `"a", "b", …`: column names as SQL identifiers.
fn quoted_list<C: IdenStatic>(columns: &[C]) -> String {
    columns
        .iter()
        .map(|column| format!("\"{}\"", column.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows as one JSON array of records, keyed by column name.
fn document<A: ActiveModelTrait>(
    rows: &[A],
    columns: &[<A::Entity as EntityTrait>::Column],
) -> Result<Json, DbErr> {
    let mut document = Vec::with_capacity(rows.len());
    for row in rows {
        // One column list serves every row: a column a row leaves out would be NULL here, not
        // its default as in a VALUES list, and one only later rows set would be lost.
        let set =
            <A::Entity as EntityTrait>::Column::iter().filter(|column| row.get(*column).is_set());
        if !set
            .map(|column| column.as_str())
            .eq(columns.iter().map(|column| column.as_str()))
        {
            return Err(DbErr::Custom(
                "bulk insert: the rows do not all set the same columns".into(),
            ));
        }
        let mut record = Map::with_capacity(columns.len());
        for column in columns {
            if let Some(value) = row.get(*column).into_value() {
                record.insert(column.as_str().to_owned(), json(&value, column.as_str())?);
            }
        }
        document.push(Json::Object(record));
    }
    Ok(Json::Array(document))
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
fn json(value: &Value, column: &str) -> Result<Json, DbErr> {
    match value {
        Value::ChronoDateTimeUtc(Some(at)) => Ok(Json::String(
            at.to_rfc3339_opts(SecondsFormat::Micros, true),
        )),
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
        value => Ok(sea_orm::sea_query::value::sea_value_to_json_value(value)),
    }
}

fn unsupported(column: &str, why: &str) -> DbErr {
    DbErr::Custom(format!("bulk insert: column {column} {why}"))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use sea_orm::ActiveValue::{NotSet, Set};

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

    #[test]
    fn rows_become_records_postgres_reads_back_unchanged() {
        let rows = [assignment(1), assignment(2)];
        let document = document(&rows, &columns_of(&rows[0])).expect("document");
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
        let rows = [assignment(1), other];
        assert!(document(&rows, &columns_of(&rows[0])).is_err());
        let mut extra = assignment(2);
        extra.id = Set(5);
        let rows = [assignment(1), extra];
        assert!(document(&rows, &columns_of(&rows[0])).is_err());
    }

    #[test]
    fn a_json_null_is_refused_rather_than_written_as_sql_null() {
        let mut row = assignment(1);
        row.disabled_plans = Set(Json::Null);
        let rows = [row];
        assert!(document(&rows, &columns_of(&rows[0])).is_err());
    }
}
