//! Keyset pagination of users: a page starts or ends at a (sort key, id) position, so a page
//! stays correct while a sync inserts or removes users between two requests.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, DatabaseConnection, Order, QueryFilter, QueryOrder, Value};
use serde::{Deserialize, Serialize};

use sea_orm::{FromQueryResult, Select};

use super::{
    Direction, OrderField, User, UserFilter, UserOrder, UserSummary, filtered, limited,
    select_summary, select_user,
};
use crate::entities::directory_users::{Column, Entity as Users};
use crate::error::{Error, Result};

/// Tagged, so that a display name that happens to read like a date stays text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    #[serde(rename = "t")]
    Time(DateTime<Utc>),
    #[serde(rename = "s")]
    Text(String),
}

impl From<SortKey> for Value {
    fn from(key: SortKey) -> Self {
        match key {
            SortKey::Time(at) => at.into(),
            SortKey::Text(text) => text.into(),
        }
    }
}

/// Where a page starts or ends: the sort key and the id of one user. The order field travels
/// along so that a cursor of one order is not applied to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    #[serde(rename = "f")]
    pub field: OrderField,
    #[serde(rename = "k")]
    pub key: Option<SortKey>,
    #[serde(rename = "i")]
    pub id: i64,
}

impl Position {
    pub fn of(user: &User, field: OrderField) -> Self {
        Self {
            field,
            key: field.key(user),
            id: user.id,
        }
    }

    /// `None` for an order a summary lacks the key of (see [`OrderField::summarized`]).
    pub fn of_summary(user: &UserSummary, field: OrderField) -> Option<Self> {
        Some(Self {
            field,
            key: field.summary_key(user)?,
            id: user.id,
        })
    }
}

/// What a page may read of each user: its columns, chosen on the base query.
pub trait PageRow: FromQueryResult + Send + Sync {
    fn columns(query: Select<Users>) -> Select<Users>;
}

impl PageRow for User {
    fn columns(query: Select<Users>) -> Select<Users> {
        select_user(query)
    }
}

impl PageRow for UserSummary {
    fn columns(query: Select<Users>) -> Select<Users> {
        select_summary(query)
    }
}

/// One page: `first` after a position, or `last` before one.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Position>,
    pub before: Option<Position>,
    /// True for `last`: the page is taken from the end of the window.
    pub backward: bool,
}

pub struct Page<M = User> {
    pub users: Vec<M>,
    /// Another page follows in the direction of travel.
    pub has_more: bool,
}

/// The two parts of an order: users with a value for the sort key, then users without one.
/// Each part is one index range, so a page is read as one or two range scans that start at the
/// cursor (no OR across parts, which would make both engines scan from the start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Valued,
    Missing,
}

/// `(column, id)` strictly beyond `(key, id)` in `direction`, as a row-value comparison the
/// engines can seek on.
fn past_key(column: Column, key: &SortKey, id: i64, direction: Direction) -> Condition {
    let here = Expr::tuple([Expr::col((Users, column)), Expr::col((Users, Column::Id))]);
    let cursor = Expr::tuple([Expr::val(Value::from(key.clone())), Expr::val(id)]);
    Condition::all().add(match direction {
        Direction::Asc => here.gt(cursor),
        Direction::Desc => here.lt(cursor),
    })
}

fn past_id(id: i64, direction: Direction) -> Condition {
    let column = Expr::col((Users, Column::Id));
    Condition::all().add(match direction {
        Direction::Asc => column.gt(id),
        Direction::Desc => column.lt(id),
    })
}

/// What a bound leaves of a part: `None` when nothing, else the condition on it. The order is
/// valued users by (key, id) in `direction`, then the others by id in `direction`; `after`
/// keeps what follows the position, otherwise what precedes it.
fn bounded(
    part: Part,
    column: Column,
    position: &Position,
    direction: Direction,
    after: bool,
) -> Option<Condition> {
    let toward = if after { direction } else { reverse(direction) };
    match (part, &position.key, after) {
        (Part::Valued, Some(key), _) => Some(past_key(column, key, position.id, toward)),
        (Part::Valued, None, true) | (Part::Missing, Some(_), false) => None,
        (Part::Valued, None, false) | (Part::Missing, Some(_), true) => Some(Condition::all()),
        (Part::Missing, None, _) => Some(past_id(position.id, toward)),
    }
}

fn reverse(direction: Direction) -> Direction {
    match direction {
        Direction::Asc => Direction::Desc,
        Direction::Desc => Direction::Asc,
    }
}

/// A cursor must come from the same order, with a key of the type that order sorts by.
fn check_cursor(position: &Option<Position>, order: UserOrder, name: &'static str) -> Result<()> {
    let Some(position) = position else {
        return Ok(());
    };
    if position.field != order.field {
        return Err(Error::invalid(
            name,
            "this cursor belongs to another orderBy; start again without it",
        ));
    }
    let textual = matches!(
        order.field,
        OrderField::DisplayName | OrderField::UserPrincipalName
    );
    match &position.key {
        None | Some(SortKey::Text(_)) if textual => Ok(()),
        None | Some(SortKey::Time(_)) if !textual => Ok(()),
        _ => Err(Error::invalid(
            name,
            "not a cursor this API returned; pass back an endCursor or startCursor",
        )),
    }
}

fn sql_order(direction: Direction) -> Order {
    match direction {
        Direction::Asc => Order::Asc,
        Direction::Desc => Order::Desc,
    }
}

/// One page of users. Fetches one row more than asked to learn whether another page follows.
pub async fn page<M: PageRow>(
    db: &DatabaseConnection,
    filter: &UserFilter,
    order: UserOrder,
    request: &PageRequest,
    now: DateTime<Utc>,
) -> Result<Page<M>> {
    filter.validate()?;
    check_cursor(&request.after, order, "after")?;
    check_cursor(&request.before, order, "before")?;
    let wanted = request.limit + 1;
    let mut users = in_parts(db, filter, order, request, wanted, now).await?;
    let has_more = users.len() as u64 > request.limit;
    users.truncate(request.limit as usize);
    if request.backward {
        users.reverse();
    }
    Ok(Page { users, has_more })
}

/// The users of a page: the part the cursor (or the start) is in from there on, then, if the
/// page is not full yet, the next part from its start. At most two range scans, each an
/// ascending index walked either way: no engine needs an index per direction, which a single
/// `NULLS LAST` scan would (a backward walk puts the users without a value first).
async fn in_parts<M: PageRow>(
    db: &DatabaseConnection,
    filter: &UserFilter,
    order: UserOrder,
    request: &PageRequest,
    wanted: u64,
    now: DateTime<Utc>,
) -> Result<Vec<M>> {
    let column = order.field.column();
    let (parts, direction) = if request.backward {
        ([Part::Missing, Part::Valued], reverse(order.direction))
    } else {
        ([Part::Valued, Part::Missing], order.direction)
    };
    let mut users: Vec<M> = Vec::new();
    for part in parts {
        if users.len() as u64 >= wanted {
            break;
        }
        if part == Part::Missing && !order.field.nullable() {
            continue;
        }
        let mut condition = Condition::all().add(match part {
            Part::Valued => Expr::col((Users, column)).is_not_null(),
            Part::Missing => Expr::col((Users, column)).is_null(),
        });
        let bounds = [(&request.after, true), (&request.before, false)];
        let mut empty = false;
        for (position, after) in bounds {
            let Some(position) = position else { continue };
            match bounded(part, column, position, order.direction, after) {
                Some(bound) => condition = condition.add(bound),
                None => empty = true,
            }
        }
        if empty {
            continue;
        }
        // Ordered by the column in the missing part too, where it is NULL throughout: the order
        // is the same, and it lets PostgreSQL read it off the (column, id) index.
        let query = M::columns(filtered(filter, now))
            .filter(condition)
            .order_by(Expr::col((Users, column)), sql_order(direction))
            .order_by(Column::Id, sql_order(direction));
        // `wanted`, not what remains of it: one statement text per page size, not one per
        // place where a page meets the users without a value.
        users.extend(limited(db, query, wanted).await?);
    }
    users.truncate(wanted as usize);
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::users::{Direction, OrderField, UserOrder};
    use chrono::Utc;

    #[test]
    fn cursors_name_their_order() {
        let position = Position {
            field: OrderField::LastSignInAt,
            key: None,
            id: 7,
        };
        let order = UserOrder {
            field: OrderField::DisplayName,
            direction: Direction::Asc,
        };
        assert!(check_cursor(&Some(position), order, "after").is_err());
    }

    #[test]
    fn a_name_that_reads_like_a_date_stays_text() {
        let position = Position {
            field: OrderField::DisplayName,
            key: Some(SortKey::Text("2026-01-01T00:00:00Z".into())),
            id: 3,
        };
        let json = serde_json::to_string(&position).expect("serialized");
        let back: Position = serde_json::from_str(&json).expect("deserialized");
        assert_eq!(back, position);
        let order = UserOrder::default();
        assert!(check_cursor(&Some(back), order, "after").is_ok());
        let forged = Position {
            field: OrderField::DisplayName,
            key: Some(SortKey::Time(Utc::now())),
            id: 3,
        };
        assert!(check_cursor(&Some(forged), order, "after").is_err());
    }
}
