use async_graphql::{Context, Enum, ID, InputObject, Json, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::api::context::{database, optional_row_id};
use crate::api::query::{IdConnection, id_page};
use crate::domain::license_events::{self, EventFilter, EventKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "EventKind")]
pub enum LicenseEventKind {
    /// The user appeared in the directory (after the provider's first full sync).
    UserCreated,
    /// The account can no longer sign in.
    UserDisabled,
    /// The account can sign in again.
    UserEnabled,
    /// The user left the directory (deleted there, or no longer listed).
    UserRemoved,
    /// A user who had left is back.
    UserRestored,
    /// The user holds the license now.
    LicenseAdded,
    /// The user no longer holds the license (a user who left loses their licenses with
    /// USER_REMOVED alone).
    LicenseRemoved,
    /// The service plans switched off in the license changed.
    DisabledPlansChanged,
    /// How the license reaches the user changed: directly, through which groups.
    SourceChanged,
    /// The license's state or error changed.
    StateChanged,
}

/// One change of a user or of a user's license, as a sync (or reclaim) observed it.
#[derive(SimpleObject)]
pub struct LicenseEvent {
    pub id: ID,
    pub kind: LicenseEventKind,
    /// When the sync (or reclaim) saw it: the change happened at the provider before.
    pub observed_at: DateTime<Utc>,
    pub provider_id: ID,
    pub user_id: ID,
    /// The user's UPN as it is now.
    pub user_principal_name: Option<String>,
    /// The SKU of a license event; null for the user's own.
    pub sku_id: Option<ID>,
    pub sku_display_name: Option<String>,
    /// The sync run that saw it.
    pub sync_run_id: Option<ID>,
    /// The reclaim plan that made it: a removal, or its undo.
    pub reclaim_plan_id: Option<ID>,
    /// What changed, before and after: `{disabledPlans, direct, groups, state, error}` for a
    /// license, `{accountEnabled}` for a user; only the fields of the change where it is one.
    pub before: Option<Json<serde_json::Value>>,
    pub after: Option<Json<serde_json::Value>>,
}

fn id(value: i64) -> ID {
    ID(value.to_string())
}

impl From<license_events::LicenseEvent> for LicenseEvent {
    fn from(event: license_events::LicenseEvent) -> Self {
        Self {
            id: id(event.id),
            kind: event.kind.into(),
            observed_at: event.observed_at,
            provider_id: id(event.provider_id),
            user_id: id(event.user_id),
            user_principal_name: event.user_principal_name,
            sku_id: event.license_sku_id.map(id),
            sku_display_name: event.sku_display_name,
            sync_run_id: event.sync_run_id.map(id),
            reclaim_plan_id: event.reclaim_plan_id.map(id),
            before: event.before.map(Json),
            after: event.after.map(Json),
        }
    }
}

/// Which events `licenseEvents` lists; every field given must match.
#[derive(InputObject, Default)]
pub struct LicenseEventFilter {
    pub provider_id: Option<ID>,
    pub user_id: Option<ID>,
    /// A license SKU's `id`.
    pub sku_id: Option<ID>,
    /// Empty or absent: every kind.
    pub kinds: Option<Vec<LicenseEventKind>>,
    /// Observed at or after.
    pub from: Option<DateTime<Utc>>,
    /// Observed before.
    pub to: Option<DateTime<Utc>>,
}

impl LicenseEventFilter {
    pub fn into_domain(self) -> Result<EventFilter> {
        Ok(EventFilter {
            provider_id: optional_row_id("filter.providerId", self.provider_id.as_ref())?,
            user_id: optional_row_id("filter.userId", self.user_id.as_ref())?,
            license_sku_id: optional_row_id("filter.skuId", self.sku_id.as_ref())?,
            kinds: self
                .kinds
                .unwrap_or_default()
                .into_iter()
                .map(EventKind::from)
                .collect(),
            from: self.from,
            to: self.to,
        })
    }
}

/// A page of the events `filter` keeps, newest first: `licenseEvents`, and one user's history.
pub async fn event_page(
    ctx: &Context<'_>,
    filter: EventFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<IdConnection<LicenseEvent>> {
    let db = database(ctx)?;
    id_page(
        first,
        after,
        |limit, before| license_events::list(db, &filter, limit, before),
        |event| event.id,
    )
    .await
}
