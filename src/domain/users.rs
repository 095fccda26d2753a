//! Directory users as readers see them: filtered, ordered and paged with keyset pagination, so a
//! page stays correct while a sync inserts or removes users between two requests.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, JoinType, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait, Select, Value,
};
use serde::{Deserialize, Serialize};

use crate::domain::validation::{Line, Validator};
use crate::entities::directory_users::{self, Column, Entity as Users};
use crate::entities::{license_assignments, license_skus, providers};
use crate::error::{Error, Result};

/// `providers.sign_in_data_status` when the last sync could read sign-in activity.
pub const SIGN_IN_AVAILABLE: &str = "AVAILABLE";
/// Longer than any directory has existed; beyond it a number is a typo.
pub const INACTIVE_DAYS_MAX: i64 = 36_500;
/// The longest search or other text filter: longer than any name, address or SKU part number
/// in a directory, and short enough that a search pattern stays cheap for both engines (SQLite
/// refuses a LIKE pattern of 50,000 bytes).
pub const FILTER_TEXT_MAX: usize = 256;

/// A directory user; `sign_in_data_available` comes from its provider's last sync.
#[derive(Clone, Debug, FromQueryResult)]
pub struct User {
    pub id: i64,
    pub provider_id: i64,
    pub external_id: String,
    pub user_principal_name: String,
    pub mail: Option<String>,
    pub display_name: Option<String>,
    pub account_enabled: bool,
    pub user_type: Option<String>,
    pub created_date_time: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub last_non_interactive_sign_in_at: Option<DateTime<Utc>>,
    pub last_successful_sign_in_at: Option<DateTime<Utc>>,
    pub removed_at: Option<DateTime<Utc>>,
    pub sign_in_data_status: Option<String>,
}

/// Which sign-in date was the most recent one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInField {
    Interactive,
    NonInteractive,
    Successful,
}

impl User {
    pub fn sign_in_data_available(&self) -> bool {
        self.sign_in_data_status.as_deref() == Some(SIGN_IN_AVAILABLE)
    }

    /// The latest of the three sign-in dates, and which one it is.
    pub fn latest_sign_in(&self) -> Option<(SignInField, DateTime<Utc>)> {
        [
            (SignInField::Interactive, self.last_sign_in_at),
            (
                SignInField::NonInteractive,
                self.last_non_interactive_sign_in_at,
            ),
            (SignInField::Successful, self.last_successful_sign_in_at),
        ]
        .into_iter()
        .filter_map(|(field, at)| at.map(|at| (field, at)))
        .max_by_key(|(_, at)| *at)
    }

    /// Never signed in: known only when the tenant provides sign-in data.
    pub fn never_signed_in(&self) -> bool {
        self.sign_in_data_available() && self.latest_sign_in().is_none()
    }

    /// Inactive since `cutoff`: sign-in data is available, the user signed in at least once, and
    /// not since. Unknown is never inactive; never signed in is its own finding.
    pub fn inactive_since(&self, cutoff: DateTime<Utc>) -> Option<(SignInField, DateTime<Utc>)> {
        if !self.sign_in_data_available() {
            return None;
        }
        self.latest_sign_in().filter(|(_, at)| *at < cutoff)
    }
}

/// Every filter of `UserFilter`; `None` means "any".
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub provider_id: Option<i64>,
    /// Case-insensitive substring of display name, UPN or mail.
    pub search: Option<Line>,
    pub account_enabled: Option<bool>,
    pub licensed: Option<bool>,
    pub sku_part_number: Option<Line>,
    pub sku_id: Option<Line>,
    /// Holders of one `license_skus` row (a SKU's `holders`).
    pub license_sku: Option<i64>,
    pub user_type: Option<Line>,
    pub inactive_since_days: Option<i64>,
    pub never_signed_in: Option<bool>,
    /// Holds a license in error (its most severe path has an error), or none.
    pub license_in_error: Option<bool>,
    pub include_removed: bool,
}

/// The texts of a user filter as a caller sent them (GraphQL's `UserFilter`, the CSV export's
/// query parameters), before [`UserFilter::with_texts`] checks them.
#[derive(Debug, Default)]
pub struct FilterTexts {
    pub search: Option<String>,
    pub sku_part_number: Option<String>,
    pub sku_id: Option<String>,
    pub user_type: Option<String>,
}

impl UserFilter {
    /// The filter with `texts` set, each checked as a [`Line`] of at most [`FILTER_TEXT_MAX`]
    /// characters; every refused field is named at once.
    pub fn with_texts(self, texts: FilterTexts) -> Result<Self> {
        let mut validator = Validator::default();
        let mut line = |field: &'static str, value: Option<String>| {
            value.and_then(|value| validator.check(field, Line::parse(&value, FILTER_TEXT_MAX)))
        };
        let search = line("search", texts.search);
        let sku_part_number = line("skuPartNumber", texts.sku_part_number);
        let sku_id = line("skuId", texts.sku_id);
        let user_type = line("userType", texts.user_type);
        validator.finish()?;
        Ok(Self {
            search,
            sku_part_number,
            sku_id,
            user_type,
            ..self
        })
    }

    /// Rejects values no caller can mean, naming the field.
    pub fn validate(&self) -> Result<()> {
        if let Some(days) = self.inactive_since_days
            && !(1..=INACTIVE_DAYS_MAX).contains(&days)
        {
            return Err(Error::invalid(
                "inactiveSinceDays",
                format!("must be between 1 and {INACTIVE_DAYS_MAX}"),
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderField {
    #[serde(rename = "n")]
    DisplayName,
    #[serde(rename = "u")]
    UserPrincipalName,
    #[serde(rename = "s")]
    LastSignInAt,
    #[serde(rename = "c")]
    CreatedAt,
}

impl OrderField {
    fn column(self) -> Column {
        match self {
            OrderField::DisplayName => Column::DisplayName,
            OrderField::UserPrincipalName => Column::UserPrincipalName,
            OrderField::LastSignInAt => Column::LastSignInAt,
            OrderField::CreatedAt => Column::CreatedDateTime,
        }
    }

    /// Whether some users have no value to sort by (the user principal name is required).
    fn nullable(self) -> bool {
        self != OrderField::UserPrincipalName
    }

    fn key(self, user: &User) -> Option<SortKey> {
        match self {
            OrderField::DisplayName => user.display_name.clone().map(SortKey::Text),
            OrderField::UserPrincipalName => Some(SortKey::Text(user.user_principal_name.clone())),
            OrderField::LastSignInAt => user.last_sign_in_at.map(SortKey::Time),
            OrderField::CreatedAt => user.created_date_time.map(SortKey::Time),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// Users without a value for the field (no display name, never signed in) come last in either
/// direction, on both engines: they are read as a part of their own (`in_parts`), not left to
/// each engine's idea of where NULL sorts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserOrder {
    pub field: OrderField,
    pub direction: Direction,
}

impl Default for UserOrder {
    fn default() -> Self {
        Self {
            field: OrderField::DisplayName,
            direction: Direction::Asc,
        }
    }
}

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

pub struct Page {
    pub users: Vec<User>,
    /// Another page follows in the direction of travel.
    pub has_more: bool,
}

/// The base query: users joined to their provider (for the sign-in data status) with every filter.
/// A LEFT JOIN (every user has its provider: the foreign key cascades) keeps SQLite from
/// putting `providers` in the outer loop, which would turn an index walk in the requested order
/// into a full scan and a sort.
fn filtered(filter: &UserFilter, now: DateTime<Utc>) -> Select<Users> {
    let mut query = Users::find()
        .join(
            JoinType::LeftJoin,
            directory_users::Relation::Provider.def(),
        )
        .filter(conditions(filter, now));
    if !filter.include_removed {
        query = query.filter(Column::RemovedAt.is_null());
    }
    query
}

fn conditions(filter: &UserFilter, now: DateTime<Utc>) -> Condition {
    let mut all = Condition::all();
    if let Some(provider_id) = filter.provider_id {
        all = all.add(Column::ProviderId.eq(provider_id));
    }
    if let Some(search) = filter.search.as_ref().map(Line::as_str)
        && !search.is_empty()
    {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        all = all.add(Column::SearchText.like(LikeExpr::new(pattern).escape('\\')));
    }
    if let Some(enabled) = filter.account_enabled {
        all = all.add(Column::AccountEnabled.eq(enabled));
    }
    if let Some(user_type) = &filter.user_type {
        all = all.add(Column::UserType.eq(user_type.as_str()));
    }
    if let Some(licensed) = filter.licensed {
        let any = Expr::exists(assignments_of_user());
        all = all.add(if licensed { any } else { any.not() });
    }
    if let Some(part_number) = &filter.sku_part_number {
        let sku = license_skus::Column::SkuPartNumber.eq(part_number.as_str());
        all = all.add(Expr::exists(holding(sku)));
    }
    if let Some(sku_id) = &filter.sku_id {
        let sku = license_skus::Column::SkuId.eq(sku_id.as_str().to_ascii_lowercase());
        all = all.add(Expr::exists(holding(sku)));
    }
    if let Some(in_error) = filter.license_in_error {
        let mut subquery = assignments_of_user();
        subquery.and_where(license_assignments::Column::Error.is_not_null());
        let any = Expr::exists(subquery);
        all = all.add(if in_error { any } else { any.not() });
    }
    if let Some(sku_row) = filter.license_sku {
        let mut subquery = assignments_of_user();
        subquery.and_where(license_assignments::Column::LicenseSkuId.eq(sku_row));
        all = all.add(Expr::exists(subquery));
    }
    if let Some(days) = filter.inactive_since_days {
        all = all.add(inactive_since(now - Duration::days(days)));
    }
    if let Some(never) = filter.never_signed_in {
        all = all.add(if never {
            never_signed_in()
        } else {
            signed_in_once()
        });
    }
    all
}

/// `%`, `_` and the escape character itself match literally in a search.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn assignments_of_user() -> SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(license_assignments::Entity)
        .and_where(
            Expr::col((
                license_assignments::Entity,
                license_assignments::Column::UserId,
            ))
            .equals((Users, Column::Id)),
        )
        .to_owned()
}

fn holding(sku: Expr) -> SelectStatement {
    let mut subquery = assignments_of_user();
    subquery
        .inner_join(
            license_skus::Entity,
            Expr::col((license_skus::Entity, license_skus::Column::Id)).equals((
                license_assignments::Entity,
                license_assignments::Column::LicenseSkuId,
            )),
        )
        .and_where(sku);
    subquery
}

const SIGN_IN_COLUMNS: [Column; 3] = [
    Column::LastSignInAt,
    Column::LastNonInteractiveSignInAt,
    Column::LastSuccessfulSignInAt,
];

fn sign_in_data_available() -> Expr {
    providers::Column::SignInDataStatus.eq(SIGN_IN_AVAILABLE)
}

fn signed_in_once() -> Condition {
    SIGN_IN_COLUMNS
        .iter()
        .fold(Condition::any(), |any, column| {
            any.add(column.is_not_null())
        })
}

fn never_signed_in() -> Condition {
    SIGN_IN_COLUMNS.iter().fold(
        Condition::all().add(sign_in_data_available()),
        |all, column| all.add(column.is_null()),
    )
}

/// The latest of the three dates is before `cutoff`: each known date is, and one is known.
/// Written without GREATEST, whose NULL handling differs between SQLite and PostgreSQL.
fn inactive_since(cutoff: DateTime<Utc>) -> Condition {
    SIGN_IN_COLUMNS.iter().fold(
        Condition::all()
            .add(sign_in_data_available())
            .add(signed_in_once()),
        |all, column| {
            all.add(
                Condition::any()
                    .add(column.is_null())
                    .add(column.lt(cutoff)),
            )
        },
    )
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
pub async fn page(
    db: &DatabaseConnection,
    filter: &UserFilter,
    order: UserOrder,
    request: &PageRequest,
    now: DateTime<Utc>,
) -> Result<Page> {
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
async fn in_parts(
    db: &DatabaseConnection,
    filter: &UserFilter,
    order: UserOrder,
    request: &PageRequest,
    wanted: u64,
    now: DateTime<Utc>,
) -> Result<Vec<User>> {
    let column = order.field.column();
    let (parts, direction) = if request.backward {
        ([Part::Missing, Part::Valued], reverse(order.direction))
    } else {
        ([Part::Valued, Part::Missing], order.direction)
    };
    let mut users: Vec<User> = Vec::new();
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
        let query = select_user(filtered(filter, now))
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

/// How many users match, for `totalCount`; run only when a caller asks for it.
pub async fn count(
    db: &DatabaseConnection,
    filter: &UserFilter,
    now: DateTime<Utc>,
) -> Result<u64> {
    filter.validate()?;
    Ok(filtered(filter, now).count(db).await?)
}

/// The columns of `User`, leaving out what readers never see (search text, bookkeeping).
fn select_user(query: Select<Users>) -> Select<Users> {
    query
        .select_only()
        .columns([
            Column::Id,
            Column::ProviderId,
            Column::ExternalId,
            Column::UserPrincipalName,
            Column::Mail,
            Column::DisplayName,
            Column::AccountEnabled,
            Column::UserType,
            Column::CreatedDateTime,
            Column::LastSignInAt,
            Column::LastNonInteractiveSignInAt,
            Column::LastSuccessfulSignInAt,
            Column::RemovedAt,
        ])
        .column(providers::Column::SignInDataStatus)
}

/// One user by id, removed or not.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<User>> {
    let filter = UserFilter {
        include_removed: true,
        ..Default::default()
    };
    Ok(select_user(filtered(&filter, Utc::now()))
        .filter(Column::Id.eq(id))
        .into_model::<User>()
        .one(db)
        .await?)
}

/// Every user matching `filter`, in pages of `chunk` by id, for reports and exports.
pub async fn chunk_after(
    db: &DatabaseConnection,
    filter: &UserFilter,
    after_id: i64,
    chunk: u64,
    now: DateTime<Utc>,
) -> Result<Vec<User>> {
    filter.validate()?;
    let query = select_user(filtered(filter, now))
        .filter(Column::Id.gt(after_id))
        .order_by_asc(Column::Id);
    limited(db, query, chunk).await
}

/// Runs `query` (ordered, without a limit of its own) for at most `limit` users, the limit
/// written into the SQL rather than bound. Both engines planned a bound LIMIT at every execution:
/// SQLite's planner reads the value, so binding it again re-prepared the statement (~3% of the
/// server's CPU under concurrent pages), and PostgreSQL kept a custom plan, as a generic one
/// assumes a tenth of the table. Writing it in is safe: it is an integer, not text.
async fn limited(db: &DatabaseConnection, query: Select<Users>, limit: u64) -> Result<Vec<User>> {
    let mut statement = query.build(db.get_database_backend());
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    Ok(User::find_by_statement(statement).all(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_wildcards_match_literally() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }

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
