//! The change log. A page's writes already compare each user and each license with what is
//! stored, to write only what changed; the same comparison says what changed, and the page's
//! transaction inserts it as events in one more batched statement. A page that changes nothing
//! writes no event, and the first full sync of a provider (its baseline) writes none at all.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::batching::insert_new;
use super::users::{HeldLicense, UserFields};
use crate::entities::{directory_users as users, license_events};
use crate::error::{Error, Result};

/// What happened to a user, or to one of a user's licenses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    UserCreated,
    UserDisabled,
    UserEnabled,
    UserRemoved,
    UserRestored,
    LicenseAdded,
    LicenseRemoved,
    /// The service plans switched off in the license changed.
    DisabledPlansChanged,
    /// How the license reaches the user changed: directly, through which groups.
    SourceChanged,
    /// The state or error of the license changed.
    StateChanged,
}

pub const EVENT_KINDS: [EventKind; 10] = [
    EventKind::UserCreated,
    EventKind::UserDisabled,
    EventKind::UserEnabled,
    EventKind::UserRemoved,
    EventKind::UserRestored,
    EventKind::LicenseAdded,
    EventKind::LicenseRemoved,
    EventKind::DisabledPlansChanged,
    EventKind::SourceChanged,
    EventKind::StateChanged,
];

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "USER_CREATED",
            Self::UserDisabled => "USER_DISABLED",
            Self::UserEnabled => "USER_ENABLED",
            Self::UserRemoved => "USER_REMOVED",
            Self::UserRestored => "USER_RESTORED",
            Self::LicenseAdded => "LICENSE_ADDED",
            Self::LicenseRemoved => "LICENSE_REMOVED",
            Self::DisabledPlansChanged => "DISABLED_PLANS_CHANGED",
            Self::SourceChanged => "SOURCE_CHANGED",
            Self::StateChanged => "STATE_CHANGED",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        EVENT_KINDS
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| Error::Corrupt(format!("unknown license event kind {text:?}")))
    }
}

/// Who observed the changes of a write, and whether they are news.
#[derive(Clone, Copy, Debug, Default)]
pub struct Observer {
    /// The sync run; None when reclaim made the change.
    pub run_id: Option<i64>,
    pub reclaim_plan_id: Option<i64>,
    /// The first full sync of a provider: what it finds is where the history starts, not a
    /// change, so it records nothing.
    pub baseline: bool,
}

/// One change, before it is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub user_id: i64,
    pub license_sku_id: Option<i64>,
    pub kind: EventKind,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Event {
    pub fn of_user(user_id: i64, kind: EventKind) -> Self {
        Self {
            user_id,
            license_sku_id: None,
            kind,
            before: None,
            after: None,
        }
    }

    pub fn of_license(
        user_id: i64,
        license_sku_id: i64,
        kind: EventKind,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        Self {
            user_id,
            license_sku_id: Some(license_sku_id),
            kind,
            before,
            after,
        }
    }
}

/// A user event without its id yet: a new user gets it when inserted.
pub(super) type PendingUserEvent = (String, EventKind, Option<Value>, Option<Value>);

/// What changed of a user a page lists, against its stored row (None: a new user).
pub(super) fn user_changes(
    external_id: &str,
    stored: Option<&users::Model>,
    fields: &UserFields,
) -> Vec<PendingUserEvent> {
    let event = |kind, before, after| (external_id.to_owned(), kind, before, after);
    let Some(row) = stored else {
        return vec![event(EventKind::UserCreated, None, None)];
    };
    let mut events = Vec::new();
    if row.removed_at.is_some() {
        events.push(event(EventKind::UserRestored, None, None));
    }
    if row.account_enabled != fields.account_enabled {
        let kind = if fields.account_enabled {
            EventKind::UserEnabled
        } else {
            EventKind::UserDisabled
        };
        let enabled = |value: bool| Some(json!({ "accountEnabled": value }));
        events.push(event(
            kind,
            enabled(row.account_enabled),
            enabled(fields.account_enabled),
        ));
    }
    events
}

/// What changed between a user's stored licenses and those listed now, each list sorted by
/// SKU. A license whose paths are not known on one side (added by a delta round, which does
/// not say how a license is assigned) changed no source or state by that alone.
pub(super) fn license_changes(
    user_id: i64,
    before: &[HeldLicense],
    after: &[HeldLicense],
) -> Vec<Event> {
    let mut events = Vec::new();
    for new in after {
        match before
            .iter()
            .find(|old| old.license_sku_id == new.license_sku_id)
        {
            None => events.push(Event::of_license(
                user_id,
                new.license_sku_id,
                EventKind::LicenseAdded,
                None,
                Some(license(new)),
            )),
            Some(old) => events.extend(license_change(user_id, old, new)),
        }
    }
    for old in before {
        if !after
            .iter()
            .any(|new| new.license_sku_id == old.license_sku_id)
        {
            events.push(Event::of_license(
                user_id,
                old.license_sku_id,
                EventKind::LicenseRemoved,
                Some(license(old)),
                None,
            ));
        }
    }
    events
}

fn license_change(user_id: i64, old: &HeldLicense, new: &HeldLicense) -> Vec<Event> {
    let mut events = Vec::new();
    let mut changed = |kind, before, after| {
        events.push(Event::of_license(
            user_id,
            new.license_sku_id,
            kind,
            Some(before),
            Some(after),
        ));
    };
    if old.disabled_plans != new.disabled_plans {
        changed(
            EventKind::DisabledPlansChanged,
            json!({ "disabledPlans": old.disabled_plans }),
            json!({ "disabledPlans": new.disabled_plans }),
        );
    }
    let known = |held: &HeldLicense| !held.paths.sources().is_empty();
    if !known(old) || !known(new) {
        return events;
    }
    let source = |held: &HeldLicense| json!({ "direct": held.paths.assigned_directly(), "groups": held.paths.group_ids() });
    if source(old) != source(new) {
        changed(EventKind::SourceChanged, source(old), source(new));
    }
    let state = |held: &HeldLicense| {
        json!({
            "state": held.paths.state().map(|state| state.as_str().to_owned()),
            "error": held.paths.error().map(|error| error.as_str().to_owned()),
        })
    };
    if state(old) != state(new) {
        changed(EventKind::StateChanged, state(old), state(new));
    }
    events
}

/// A license as an event shows it.
fn license(held: &HeldLicense) -> Value {
    json!({
        "disabledPlans": held.disabled_plans,
        "direct": held.paths.assigned_directly(),
        "groups": held.paths.group_ids(),
        "state": held.paths.state().map(|state| state.as_str().to_owned()),
        "error": held.paths.error().map(|error| error.as_str().to_owned()),
    })
}

/// Whether `record` keeps what `observer` sees: a baseline's changes are not news.
pub(super) fn logged(observer: Observer) -> bool {
    !observer.baseline
}

/// Inserts `events`, observed by `observer` at `now`; nothing for a baseline.
pub async fn record(
    db: &impl ConnectionTrait,
    provider_id: i64,
    observer: Observer,
    now: DateTime<Utc>,
    events: Vec<Event>,
) -> Result<()> {
    if !logged(observer) || events.is_empty() {
        return Ok(());
    }
    let rows: Vec<license_events::ActiveModel> = events
        .into_iter()
        .map(|event| license_events::ActiveModel {
            provider_id: Set(provider_id),
            user_id: Set(event.user_id),
            license_sku_id: Set(event.license_sku_id),
            kind: Set(event.kind.as_str().to_owned()),
            observed_at: Set(now),
            sync_run_id: Set(observer.run_id),
            reclaim_plan_id: Set(observer.reclaim_plan_id),
            before: Set(event.before),
            after: Set(event.after),
            ..Default::default()
        })
        .collect();
    insert_new(db, rows, &[]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::records::{AssignmentState, LicensePaths, LicenseSource};

    fn held(sku: i64, groups: &[&str], direct: bool, state: AssignmentState) -> HeldLicense {
        let direct = direct.then_some(None);
        let groups = groups.iter().map(|group| Some(group.to_string()));
        HeldLicense {
            license_sku_id: sku,
            disabled_plans: Vec::new(),
            paths: LicensePaths::new(
                direct
                    .into_iter()
                    .chain(groups)
                    .map(|group_id| LicenseSource {
                        group_id,
                        state: Some(state.clone()),
                        error: None,
                        disabled_plans: Vec::new(),
                    })
                    .collect(),
            ),
        }
    }

    fn kinds(events: &[Event]) -> Vec<EventKind> {
        events.iter().map(|event| event.kind).collect()
    }

    #[test]
    fn a_license_moving_from_the_user_to_a_group_is_a_source_change_with_both_sides() {
        let before = [held(1, &[], true, AssignmentState::Active)];
        let after = [held(1, &["g1"], false, AssignmentState::Active)];
        let events = license_changes(7, &before, &after);
        assert_eq!(kinds(&events), [EventKind::SourceChanged]);
        assert_eq!(
            events[0].before,
            Some(json!({ "direct": true, "groups": [] }))
        );
        assert_eq!(
            events[0].after,
            Some(json!({ "direct": false, "groups": ["g1"] }))
        );
    }

    #[test]
    fn a_state_change_is_recorded_and_an_unknown_source_is_no_change() {
        let before = [held(1, &[], true, AssignmentState::Active)];
        let after = [held(1, &[], true, AssignmentState::Error)];
        assert_eq!(
            kinds(&license_changes(7, &before, &after)),
            [EventKind::StateChanged]
        );
        // A license an incremental round added has no known paths until a full sync reads
        // them: reading them is no change.
        let unknown = [HeldLicense {
            paths: LicensePaths::default(),
            ..held(1, &[], true, AssignmentState::Active)
        }];
        assert!(license_changes(7, &unknown, &before).is_empty());
        assert!(license_changes(7, &before, &before).is_empty());
    }

    #[test]
    fn licenses_added_and_removed_carry_the_license_on_their_side() {
        let before = [held(1, &[], true, AssignmentState::Active)];
        let after = [held(2, &[], true, AssignmentState::Active)];
        let events = license_changes(7, &before, &after);
        assert_eq!(
            kinds(&events),
            [EventKind::LicenseAdded, EventKind::LicenseRemoved]
        );
        assert_eq!(events[0].license_sku_id, Some(2));
        assert!(events[0].before.is_none() && events[0].after.is_some());
        assert_eq!(events[1].license_sku_id, Some(1));
        assert!(events[1].before.is_some() && events[1].after.is_none());
    }
}
