use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Lookahead, Object, OutputType, Result};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::sync::OnceCell;

use super::license::{LicenseSource, NAME_FIELDS};
use super::{LicenseEvent, LicenseSku, Provider, event_page};
use crate::api::context::{database, row_id};
use crate::api::cursor;
use crate::api::errors::{ResultExt, bad_user_input, graphql_error};
use crate::api::limits::SCAN_COST;
use crate::api::loaders::{load, prime, primes};
use crate::api::query::IdConnection;
use crate::domain::license_events::EventFilter;
use crate::domain::licenses::{self, Assignment, HeldLicense, LicenseSku as DomainSku};
use crate::domain::providers;
use crate::domain::users::{self, Direction, OrderField, PageRequest, Position};
use crate::error::Error;

/// Users per page unless `first` or `last` says otherwise, and the most one page may hold.
pub const PAGE_DEFAULT: i32 = 50;
pub const PAGE_MAX: i32 = 500;

/// What a page costs in the complexity budget: its page size times its items.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX) as usize;
    size.saturating_mul(child_complexity).saturating_add(1)
}

/// What a user connection costs: its page, and the scan its count or its filter may make.
pub fn user_connection_cost(
    first: Option<i32>,
    last: Option<i32>,
    child_complexity: usize,
) -> usize {
    page_cost(first, last, child_complexity).saturating_add(SCAN_COST)
}

/// A user of a provider's directory, with the licenses it holds.
pub struct DirectoryUser {
    row: UserRow,
    /// The user's licenses when its page read them ahead (see [`read_ahead`]); without them the
    /// `licenses` field asks the request's loader.
    licenses: Option<Vec<LicenseAssignment>>,
}

/// A user as its page read it: whole, or only what a list of names and licenses shows (see
/// [`SUMMARY_FIELDS`]).
enum UserRow {
    Full(users::User),
    Summary(users::UserSummary),
}

/// The fields of a user that a [`users::UserSummary`] answers.
const SUMMARY_FIELDS: [&str; 7] = [
    "id",
    "userPrincipalName",
    "displayName",
    "licenses",
    "licenseHistory",
    "provider",
    "__typename",
];

impl From<users::User> for DirectoryUser {
    fn from(user: users::User) -> Self {
        Self {
            row: UserRow::Full(user),
            licenses: None,
        }
    }
}

impl From<users::UserSummary> for DirectoryUser {
    fn from(user: users::UserSummary) -> Self {
        Self {
            row: UserRow::Summary(user),
            licenses: None,
        }
    }
}

impl DirectoryUser {
    fn user_id(&self) -> i64 {
        match &self.row {
            UserRow::Full(user) => user.id,
            UserRow::Summary(user) => user.id,
        }
    }

    fn provider_id(&self) -> i64 {
        match &self.row {
            UserRow::Full(user) => user.provider_id,
            UserRow::Summary(user) => user.provider_id,
        }
    }

    /// Where the page starts or ends at this user, for its cursor.
    fn position(&self, field: OrderField) -> Result<Position> {
        match &self.row {
            UserRow::Full(user) => Ok(Position::of(user, field)),
            UserRow::Summary(user) => Position::of_summary(user, field).ok_or_else(|| {
                // Unreachable: a page is read as summaries only in an order they hold the key of.
                graphql_error(&Error::Corrupt(
                    "a page of users was read without the key of its order".into(),
                ))
            }),
        }
    }

    /// The whole user: as its page read it, or else through the request's loader. The page
    /// reads a summary only when its selection asks for nothing more, so the loader serves
    /// what a look-ahead cannot see.
    async fn full(&self, ctx: &Context<'_>) -> Result<Cow<'_, users::User>> {
        if let UserRow::Full(user) = &self.row {
            return Ok(Cow::Borrowed(user));
        }
        let user: Option<users::User> = Box::pin(load(ctx, self.user_id())).await?;
        user.map(Cow::Owned)
            .ok_or_else(|| graphql_error(&Error::NotFound("the user was removed".into())))
    }
}

#[Object]
impl DirectoryUser {
    async fn id(&self) -> ID {
        ID(self.user_id().to_string())
    }

    /// What changed of this user and its licenses, newest first: `licenseEvents` for one user.
    async fn license_history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdConnection<LicenseEvent>> {
        let filter = EventFilter {
            user_id: Some(self.user_id()),
            ..EventFilter::default()
        };
        // Boxed, as `licenses` is: every field of every user on a page would pay its size.
        Box::pin(event_page(ctx, filter, first, after)).await
    }

    /// The Graph object id.
    async fn external_id(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(self.full(ctx).await?.external_id.clone())
    }

    async fn user_principal_name(&self) -> &str {
        match &self.row {
            UserRow::Full(user) => &user.user_principal_name,
            UserRow::Summary(user) => &user.user_principal_name,
        }
    }

    async fn mail(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.full(ctx).await?.mail.clone())
    }

    async fn display_name(&self) -> Option<&str> {
        match &self.row {
            UserRow::Full(user) => user.display_name.as_deref(),
            UserRow::Summary(user) => user.display_name.as_deref(),
        }
    }

    /// False for an account that cannot sign in (blocked or disabled in Entra ID).
    async fn account_enabled(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.full(ctx).await?.account_enabled)
    }

    /// Member or Guest.
    async fn user_type(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.full(ctx).await?.user_type.clone())
    }

    /// When the account was created in the directory.
    async fn created_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.full(ctx).await?.created_date_time)
    }

    /// Last interactive sign-in.
    async fn last_sign_in_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.full(ctx).await?.last_sign_in_at)
    }

    async fn last_non_interactive_sign_in_at(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<DateTime<Utc>>> {
        Ok(self.full(ctx).await?.last_non_interactive_sign_in_at)
    }

    async fn last_successful_sign_in_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.full(ctx).await?.last_successful_sign_in_at)
    }

    /// The latest of the three sign-in dates: what `inactiveSinceDays` judges.
    async fn last_activity_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.full(ctx).await?.latest_sign_in().map(|(_, at)| at))
    }

    /// False when the tenant cannot provide sign-in activity (no Entra ID P1/P2, or the app
    /// lacks AuditLog.Read.All): null dates then mean "unknown", not "never".
    async fn sign_in_data_available(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.full(ctx).await?.sign_in_data_available())
    }

    /// When the user left the directory; null while it is in it.
    async fn removed_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.full(ctx).await?.removed_at)
    }

    async fn licenses(&self, ctx: &Context<'_>) -> Result<Cow<'_, Vec<LicenseAssignment>>> {
        if let Some(read_ahead) = &self.licenses {
            return Ok(Cow::Borrowed(read_ahead));
        }
        // Boxed: the loader's future is large, and this field's future is the size of the
        // largest field of the type, which every field of every user on a page would pay.
        let held: Option<Vec<Assignment>> = Box::pin(load(ctx, self.user_id())).await?;
        Ok(Cow::Owned(
            held.unwrap_or_default()
                .into_iter()
                .map(LicenseAssignment::from)
                .collect(),
        ))
    }

    async fn provider(&self, ctx: &Context<'_>) -> Result<Provider> {
        Box::pin(Provider::of(ctx, self.provider_id())).await
    }
}

/// One license held by one user.
#[derive(Clone)]
pub struct LicenseAssignment {
    held: HeldLicense,
    /// How the license came to the user, when it was read with it. A page reads it only when
    /// its selection asks for one of [`DETAIL_FIELDS`]; without it those fields ask the loader.
    details: Option<Assignment>,
    /// The SKU when the page read it ahead; without it the `sku` field asks the loader.
    sku: Option<LicenseSku>,
}

/// The fields of a license that need more than its user and SKU.
const DETAIL_FIELDS: [&str; 6] = [
    "disabledPlans",
    "assignedDirectly",
    "inheritedFromGroupIds",
    "state",
    "error",
    "sources",
];

impl From<Assignment> for LicenseAssignment {
    fn from(assignment: Assignment) -> Self {
        Self {
            held: HeldLicense {
                user_id: assignment.user_id,
                license_sku_id: assignment.license_sku_id,
            },
            details: Some(assignment),
            sku: None,
        }
    }
}

impl From<HeldLicense> for LicenseAssignment {
    fn from(held: HeldLicense) -> Self {
        Self {
            held,
            details: None,
            sku: None,
        }
    }
}

impl LicenseAssignment {
    /// How the license came to the user: as read with the page, or else through the request's
    /// loader (one statement for all the licenses that ask).
    async fn details(&self, ctx: &Context<'_>) -> Result<Cow<'_, Assignment>> {
        if let Some(details) = &self.details {
            return Ok(Cow::Borrowed(details));
        }
        let held: Option<Vec<Assignment>> = Box::pin(load(ctx, self.held.user_id)).await?;
        held.into_iter()
            .flatten()
            .find(|assignment| assignment.license_sku_id == self.held.license_sku_id)
            .map(Cow::Owned)
            .ok_or_else(|| graphql_error(&Error::NotFound("the license was removed".into())))
    }
}

#[Object]
impl LicenseAssignment {
    async fn sku(&self, ctx: &Context<'_>) -> Result<LicenseSku> {
        if let Some(read_ahead) = &self.sku {
            return Ok(read_ahead.clone());
        }
        let sku: Option<DomainSku> = Box::pin(load(ctx, self.held.license_sku_id)).await?;
        sku.map(LicenseSku::from)
            .ok_or_else(|| graphql_error(&Error::NotFound("the SKU was removed".into())))
    }

    /// Service plan ids switched off for this user.
    async fn disabled_plans(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(self.details(ctx).await?.disabled_plans.clone())
    }

    /// True when the license is assigned to the user itself: an admin can remove it from the user.
    async fn assigned_directly(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.details(ctx).await?.paths.assigned_directly())
    }

    /// Groups the license also (or only) comes from: it stays until removed there.
    async fn inherited_from_group_ids(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(self.details(ctx).await?.paths.group_ids())
    }

    /// Active, ActiveWithError, Disabled, Error, or a value the provider sent that this version
    /// does not know: the state of the most severe of `sources`.
    async fn state(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let details = self.details(ctx).await?;
        Ok(details.paths.state().map(|state| state.as_str().to_owned()))
    }

    /// CountViolation, MutuallyExclusiveViolation, DependencyViolation,
    /// ProhibitedInUsageLocationViolation, UniquenessViolation, Other, or a value the provider sent
    /// that this version does not know: the error of the most severe of `sources`; null when it
    /// has none (Microsoft Graph's "None" is none).
    async fn error(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let details = self.details(ctx).await?;
        Ok(details.paths.error().map(|error| error.as_str().to_owned()))
    }

    /// Every path by which the license reaches the user — directly first, then each group — with
    /// its own state and error: a direct license next to a group that cannot assign it shows
    /// both. Empty when the provider has not said (a license an incremental sync added, until
    /// the next full sync).
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<LicenseSource>> {
        let details = self.details(ctx).await?;
        Ok(details
            .paths
            .sources()
            .iter()
            .cloned()
            .map(LicenseSource::from)
            .collect())
    }
}

/// Every filter combines with AND; an absent field does not filter.
#[derive(InputObject, Default)]
#[graphql(name = "UserFilter")]
pub struct UserFilterInput {
    pub provider_id: Option<ID>,
    /// Case-insensitive substring of display name, user principal name or mail.
    pub search: Option<String>,
    pub account_enabled: Option<bool>,
    /// True: holds at least one license; false: holds none.
    pub licensed: Option<bool>,
    /// Holds a license of this SKU, e.g. SPE_E5.
    pub sku_part_number: Option<String>,
    /// Holds a license of this SKU (Graph skuId GUID).
    pub sku_id: Option<String>,
    /// Member or Guest.
    pub user_type: Option<String>,
    /// No sign-in for this many days, judged on the latest of the interactive, non-interactive
    /// and successful sign-in dates. Users whose sign-in data is unknown never match, and users
    /// who never signed in match `neverSignedIn` instead.
    pub inactive_since_days: Option<i32>,
    /// True: sign-in data is available and no sign-in is recorded; false: signed in at least once.
    pub never_signed_in: Option<bool>,
    /// True: holds at least one license whose `error` is not null; false: holds none.
    pub license_in_error: Option<bool>,
    /// Also list users that have left the directory. Null, like absent, means false.
    #[graphql(default_with = "Some(bool::default())")]
    pub include_removed: Option<bool>,
}

impl UserFilterInput {
    pub fn into_domain(self) -> Result<users::UserFilter> {
        let filter = users::UserFilter {
            provider_id: self
                .provider_id
                .map(|id| row_id("filter.providerId", &id))
                .transpose()?,
            account_enabled: self.account_enabled,
            licensed: self.licensed,
            inactive_since_days: self.inactive_since_days.map(i64::from),
            never_signed_in: self.never_signed_in,
            license_in_error: self.license_in_error,
            include_removed: self.include_removed.unwrap_or_default(),
            ..Default::default()
        };
        let texts = users::FilterTexts {
            search: self.search,
            sku_part_number: self.sku_part_number,
            sku_id: self.sku_id,
            user_type: self.user_type,
        };
        filter.with_texts(texts).api()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum UserOrderField {
    DisplayName,
    UserPrincipalName,
    /// The last interactive sign-in.
    LastSignInAt,
    CreatedAt,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

/// Users without a value for the field (no display name, no sign-in, no creation date) come
/// last in both directions; ties are broken by id.
#[derive(InputObject, Clone, Copy)]
pub struct UserOrder {
    pub field: UserOrderField,
    /// Null, like absent, means ASC.
    #[graphql(default_with = "Some(OrderDirection::default())")]
    pub direction: Option<OrderDirection>,
}

impl From<UserOrder> for users::UserOrder {
    fn from(order: UserOrder) -> Self {
        Self {
            field: match order.field {
                UserOrderField::DisplayName => OrderField::DisplayName,
                UserOrderField::UserPrincipalName => OrderField::UserPrincipalName,
                UserOrderField::LastSignInAt => OrderField::LastSignInAt,
                UserOrderField::CreatedAt => OrderField::CreatedAt,
            },
            direction: match order.direction.unwrap_or_default() {
                OrderDirection::Asc => Direction::Asc,
                OrderDirection::Desc => Direction::Desc,
            },
        }
    }
}

pub struct UserConnectionName;

impl ConnectionNameType for UserConnectionName {
    fn type_name<T: OutputType>() -> String {
        "UserConnection".into()
    }
}

pub struct UserEdgeName;

impl EdgeNameType for UserEdgeName {
    fn type_name<T: OutputType>() -> String {
        "UserEdge".into()
    }
}

/// The connection's own fields; `totalCount` costs a COUNT, so it runs only when selected, and
/// once however many aliases ask for it (the connection's price counts one).
pub struct UserConnectionFields {
    filter: users::UserFilter,
    now: DateTime<Utc>,
    total_count: OnceCell<u64>,
}

#[Object]
impl UserConnectionFields {
    /// How many users match the filter, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let count = self.total_count.get_or_try_init(|| async {
            users::count(database(ctx)?, &self.filter, self.now)
                .await
                .api()
        });
        Ok(*count.await?)
    }
}

pub type UserConnection = Connection<
    cursor::Lazy<Position>,
    DirectoryUser,
    UserConnectionFields,
    EmptyFields,
    UserConnectionName,
    UserEdgeName,
>;

/// The arguments of a user connection, as GraphQL hands them over.
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    fn request(self) -> Result<PageRequest> {
        if self.first.is_some() && self.last.is_some() {
            return Err(bad_user_input("last", "pass first or last, not both"));
        }
        let size = |name: &'static str, value: i32| {
            if (1..=PAGE_MAX).contains(&value) {
                Ok(value as u64)
            } else {
                Err(bad_user_input(
                    name,
                    format!("{name} must be between 1 and {PAGE_MAX}"),
                ))
            }
        };
        let limit = match (self.first, self.last) {
            (_, Some(last)) => size("last", last)?,
            (Some(first), None) => size("first", first)?,
            (None, None) => PAGE_DEFAULT as u64,
        };
        let decode = |name, value: Option<String>| {
            value
                .map(|value| cursor::decode::<Position>(name, &value))
                .transpose()
        };
        Ok(PageRequest {
            limit,
            backward: self.last.is_some(),
            after: decode("after", self.after)?,
            before: decode("before", self.before)?,
        })
    }
}

/// One page of users matching `filter`, as a Relay connection.
pub async fn user_connection(
    ctx: &Context<'_>,
    filter: users::UserFilter,
    order: Option<UserOrder>,
    args: PageArgs,
) -> Result<UserConnection> {
    let order: users::UserOrder = order.map(Into::into).unwrap_or_default();
    let request = args.request()?;
    let now = Utc::now();
    let db = database(ctx)?;
    let (page, has_more) = if order.field.summarized() && summary_suffices(ctx) {
        let page = users::page::<users::UserSummary>(db, &filter, order, &request, now)
            .await
            .api()?;
        (rows(page.users), page.has_more)
    } else {
        let page = users::page::<users::User>(db, &filter, order, &request, now)
            .await
            .api()?;
        (rows(page.users), page.has_more)
    };
    let nodes = read_ahead(ctx, page).await?;
    // Relay allows `false` when the other side was not scanned; a cursor on that side means
    // the caller came from there.
    let (has_previous, has_next) = if request.backward {
        (has_more, request.before.is_some())
    } else {
        (request.after.is_some(), has_more)
    };
    let mut connection = UserConnection::with_additional_fields(
        has_previous,
        has_next,
        UserConnectionFields {
            filter,
            now,
            total_count: OnceCell::new(),
        },
    );
    for node in nodes {
        let position = node.position(order.field)?;
        connection.edges.push(Edge::with_additional_fields(
            cursor::Lazy(position),
            node,
            EmptyFields,
        ));
    }
    Ok(connection)
}

fn rows<T: Into<DirectoryUser>>(users: Vec<T>) -> Vec<DirectoryUser> {
    users.into_iter().map(Into::into).collect()
}

/// Whether every field asked of the page's users (under `edges.node` and `nodes`, fragments
/// followed) is one a [`users::UserSummary`] answers.
fn summary_suffices(ctx: &Context<'_>) -> bool {
    let lookahead = ctx.look_ahead();
    only_asks(
        &[
            lookahead.field("edges").field("node"),
            lookahead.field("nodes"),
        ],
        &SUMMARY_FIELDS,
    )
}

/// Whether every field selected under each of `selections` (fragments followed) is one of
/// `fields`.
fn only_asks(selections: &[Lookahead<'_>], fields: &[&str]) -> bool {
    selections
        .iter()
        .flat_map(|selection| selection.selection_fields())
        .all(|selection| {
            selection
                .selection_set()
                .all(|field| fields.contains(&field.name()))
        })
}

/// Reads what the selection asks of every user of a page (licenses, their SKUs, providers) in
/// one statement each. Licenses and their SKUs go into the page's nodes, so that resolving them
/// costs neither a statement nor a loader lookup per user; providers, shared by most users, prime
/// the request's loader (over HTTP; a websocket connection's loaders keep nothing, and batch
/// them instead). (The loaders do not learn the licenses: a user reached again in the same
/// request, through `user(id)` or a finding, reads them once more.) DataLoader batching alone
/// depends on every row registering its key within the loader's delay, which a large page in a
/// loaded process does not always do; this keeps the cost at one statement per level whatever
/// the page size.
async fn read_ahead(ctx: &Context<'_>, page: Vec<DirectoryUser>) -> Result<Vec<DirectoryUser>> {
    let lookahead = ctx.look_ahead();
    let nodes = [
        lookahead.field("edges").field("node"),
        lookahead.field("nodes"),
    ];
    let selected = |name: &str| nodes.iter().any(|node| node.field(name).exists());
    let skus = nodes
        .each_ref()
        .map(|node| node.field("licenses").field("sku"));
    let skus_selected = skus.iter().any(Lookahead::exists);
    let details_selected = nodes.iter().any(|node| {
        let licenses = node.field("licenses");
        DETAIL_FIELDS
            .iter()
            .any(|name| licenses.field(name).exists())
    });
    if page.is_empty() {
        return Ok(Vec::new());
    }
    let db = database(ctx)?;
    if selected("provider") && primes(ctx) {
        let ids = unique(page.iter().map(DirectoryUser::provider_id));
        prime(ctx, providers::by_ids(db, &ids).await.api()?).await?;
    }
    if !selected("licenses") {
        return Ok(page);
    }
    let ids: Vec<i64> = page.iter().map(DirectoryUser::user_id).collect();
    let mut held = if details_selected {
        as_licenses(licenses::assignments_of_users(db, &ids).await.api()?)
    } else {
        as_licenses(licenses::licenses_held_by(db, &ids).await.api()?)
    };
    let skus = if skus_selected {
        let sku_ids = unique(held.values().flatten().map(|l| l.held.license_sku_id));
        read_skus(db, &sku_ids, only_asks(&skus, &NAME_FIELDS)).await?
    } else {
        HashMap::new()
    };
    let with_sku = |license: LicenseAssignment| LicenseAssignment {
        sku: skus.get(&license.held.license_sku_id).cloned(),
        ..license
    };
    Ok(page
        .into_iter()
        .map(|user| {
            let licenses = held.remove(&user.user_id()).unwrap_or_default();
            DirectoryUser {
                licenses: Some(licenses.into_iter().map(with_sku).collect()),
                ..user
            }
        })
        .collect())
}

/// The SKUs of a page's licenses: only their names when `names_suffice`.
async fn read_skus(
    db: &DatabaseConnection,
    ids: &[i64],
    names_suffice: bool,
) -> Result<HashMap<i64, LicenseSku>> {
    Ok(if names_suffice {
        shared(licenses::sku_names_by_ids(db, ids).await.api()?)
    } else {
        shared(licenses::skus_by_ids(db, ids).await.api()?)
    })
}

/// Each SKU once, however many licenses of the page show it.
fn shared<T>(skus: HashMap<i64, T>) -> HashMap<i64, LicenseSku>
where
    LicenseSku: From<Arc<T>>,
{
    skus.into_iter()
        .map(|(id, sku)| (id, LicenseSku::from(Arc::new(sku))))
        .collect()
}

fn as_licenses<T: Into<LicenseAssignment>>(
    by_user: HashMap<i64, Vec<T>>,
) -> HashMap<i64, Vec<LicenseAssignment>> {
    by_user
        .into_iter()
        .map(|(user, held)| (user, held.into_iter().map(Into::into).collect()))
        .collect()
}

fn unique(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
