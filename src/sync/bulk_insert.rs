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
    let mut record_type = Vec::with_capacity(columns.len());
    for column in &columns {
        record_type.push(format!(
            "\"{}\" {}",
            column.as_str(),
            sql_type(column.def().get_column_type(), column.as_str())?
        ));
    }
    let names = columns
        .iter()
        .map(|column| format!("\"{}\"", column.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!(
        "INSERT INTO \"{}\" ({names}) SELECT {names} FROM jsonb_to_recordset($1) AS r({})",
        A::Entity::default().table_name(),
        record_type.join(", "),
    );
    if !returning.is_empty() {
        let returned: Vec<String> = returning
            .iter()
            .map(|column| format!("\"{}\"", column.as_str()))
            .collect();
        sql.push_str(&format!(" RETURNING {}", returned.join(", ")));
    }
    let document: Vec<Json> = rows
        .iter()
        .map(|row| {
            let mut record = Map::with_capacity(columns.len());
            for column in &columns {
                let value = row.get(*column).into_value();
                record.insert(column.as_str().to_owned(), json(value.as_ref()));
            }
            Json::Object(record)
        })
        .collect();
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [Value::Json(Some(Box::new(Json::Array(document))))],
    );
    db.query_all_raw(statement).await
}

/// The PostgreSQL type of a record column, for the column types the sync writes.
fn sql_type(column_type: &ColumnType, name: &str) -> Result<&'static str, DbErr> {
    Ok(match column_type {
        ColumnType::BigInteger => "bigint",
        ColumnType::Integer => "integer",
        ColumnType::Boolean => "boolean",
        ColumnType::String(_) | ColumnType::Text => "text",
        ColumnType::TimestampWithTimeZone => "timestamptz",
        ColumnType::Json | ColumnType::JsonBinary => "jsonb",
        other => {
            return Err(DbErr::Custom(format!(
                "bulk insert: column {name} has type {other:?}, which it does not write"
            )));
        }
    })
}

/// A bound value as JSON that `jsonb_to_recordset` reads back into the same value. Times keep
/// microseconds, as binding them does: PostgreSQL stores no finer.
fn json(value: Option<&Value>) -> Json {
    match value {
        None => Json::Null,
        Some(Value::ChronoDateTimeUtc(Some(at))) => {
            Json::String(at.to_rfc3339_opts(SecondsFormat::Micros, true))
        }
        Some(value) => sea_orm::sea_query::value::sea_value_to_json_value(value),
    }
}
