//! Directory users as readers see them: filtered and ordered here, paged in `keyset`.

mod keyset;

pub use keyset::{Page, PageRequest, PageRow, Position, SortKey, page};

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait, Select,
};
use serde::{Deserialize, Serialize};

use crate::db::one_of;
use crate::domain::validation::{Line, Validator};
use crate::entities::directory_users::{self, Column, Entity as Users};
use crate::entities::{license_assignments, license_skus, providers};
use crate::error::{Error, Result};

pub use crate::providers::SIGN_IN_AVAILABLE;
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

/// What a list of users needs of each when it shows names, licenses and providers only: a
/// [`User`] without its dates and other texts, whose reading (a date parsed, a NULL turned
/// into an error and back for each) cost a page of 100 users with their SKU names a sixth of
/// its instructions.
#[derive(Clone, Debug, FromQueryResult)]
pub struct UserSummary {
    pub id: i64,
    pub provider_id: i64,
    pub user_principal_name: String,
    pub display_name: Option<String>,
}

/// Which sign-in date was the most recent one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInField {
    Interactive,
    NonInteractive,
    Successful,
}

impl SignInField {
    /// The name the API gives the field (`SignInField` in GraphQL, exports).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interactive => "INTERACTIVE",
            Self::NonInteractive => "NON_INTERACTIVE",
            Self::Successful => "SUCCESSFUL",
        }
    }
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

    /// The key of a summary, which holds the texts it sorts by but not the dates: `None` for an
    /// order by date.
    fn summary_key(self, user: &UserSummary) -> Option<Option<SortKey>> {
        match self {
            OrderField::DisplayName => Some(user.display_name.clone().map(SortKey::Text)),
            OrderField::UserPrincipalName => {
                Some(Some(SortKey::Text(user.user_principal_name.clone())))
            }
            OrderField::LastSignInAt | OrderField::CreatedAt => None,
        }
    }

    /// Whether a page in this order can be read as [`UserSummary`]s and still give cursors.
    pub fn summarized(self) -> bool {
        matches!(
            self,
            OrderField::DisplayName | OrderField::UserPrincipalName
        )
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

/// The columns of `UserSummary`.
fn select_summary(query: Select<Users>) -> Select<Users> {
    query.select_only().columns([
        Column::Id,
        Column::ProviderId,
        Column::UserPrincipalName,
        Column::DisplayName,
    ])
}

/// Users by id, removed or not, in one statement; ids without a user are absent.
pub async fn by_ids(db: &DatabaseConnection, ids: &[i64]) -> Result<HashMap<i64, User>> {
    let filter = UserFilter {
        include_removed: true,
        ..Default::default()
    };
    let users = select_user(filtered(&filter, Utc::now()))
        .filter(one_of(db.get_database_backend(), Column::Id, ids.to_vec()))
        .into_model::<User>()
        .all(db)
        .await?;
    Ok(users.into_iter().map(|user| (user.id, user)).collect())
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
async fn limited<M: FromQueryResult + Send + Sync>(
    db: &DatabaseConnection,
    query: Select<Users>,
    limit: u64,
) -> Result<Vec<M>> {
    let mut statement = query.build(db.get_database_backend());
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    Ok(M::find_by_statement(statement).all(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_wildcards_match_literally() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }
}
