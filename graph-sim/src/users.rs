//! `GET /v1.0/users`: $select, $top, @odata.context, @odata.nextLink with an opaque
//! $skiptoken, signInActivity permission/licence rules, the failing-page fault and the fault
//! that lists users twice.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::errors::GraphError;
use crate::filter::Filter;
use crate::props::{Prop, Selection, UserView};
use crate::server::{Query, SimState, odata_ok};
use crate::store::Directory;
use crate::tenant::User;
use crate::token::authorize;

/// Position in a /users listing. Encoded opaquely; only this simulator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SkipToken {
    /// 1-based number of the page this token fetches.
    pub page: u32,
    /// Last ordinal served on the previous page.
    pub after: u64,
    /// The user the previous page listed in an older state, for this page to list again
    /// (`FaultOptions::repeat_users`).
    pub relisted: Option<Uuid>,
}

const SKIP_MAGIC: &str = "RFNwdA";

impl SkipToken {
    pub fn encode(self) -> String {
        let relisted = self
            .relisted
            .map_or_else(String::new, |id| format!(":{id}"));
        format!(
            "{SKIP_MAGIC}{}",
            URL_SAFE_NO_PAD.encode(format!("u1:{}:{}{relisted}", self.page, self.after))
        )
    }

    pub fn decode(s: &str) -> Option<SkipToken> {
        let body = s.strip_prefix(SKIP_MAGIC)?;
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        let mut parts = text.split(':');
        if parts.next()? != "u1" {
            return None;
        }
        let page = parts.next()?.parse().ok()?;
        let after = parts.next()?.parse().ok()?;
        let relisted = match parts.next() {
            Some(id) => Some(Uuid::parse_str(id).ok()?),
            None => None,
        };
        Some(SkipToken {
            page,
            after,
            relisted,
        })
    }
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "@odata.count", skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
    value: Vec<UserView<'a>>,
}

/// Checks signInActivity access in the order Graph reports problems: permission, then licence
/// (and the intermittent non-premium fault).
pub(crate) fn check_sign_in_access(state: &SimState) -> Result<(), GraphError> {
    let (audit, premium) = {
        let d = state.dir();
        (d.meta.app.permissions.can_read_sign_ins(), d.meta.premium)
    };
    if !audit {
        return Err(GraphError::audit_log_missing());
    }
    if !premium {
        return Err(GraphError::non_premium());
    }
    let rate = state.faults().non_premium_rate;
    if rate > 0.0 && state.fault_rng().chance(rate) {
        state
            .stats
            .non_premium_injected
            .fetch_add(1, Ordering::Relaxed);
        return Err(GraphError::non_premium());
    }
    Ok(())
}

/// Parses `$top`: 1..=999, else the documented 400.
fn parse_top(raw: Option<&str>) -> Result<Option<usize>, GraphError> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=999).contains(&n) => Ok(Some(n as usize)),
        _ => Err(GraphError::bad_request(
            "Request_BadRequest",
            format!("Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."),
        )),
    }
}

pub(crate) async fn list_users(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &headers)?;
    if !state.dir().meta.app.permissions.can_read_users() {
        return Err(GraphError::insufficient_privileges());
    }
    let query = Query::parse(raw.as_deref());
    let selection = Selection::parse(query.get("select"))?;
    let top = parse_top(query.get("top"))?;
    let filter = Filter::parse(query.get("filter"))?;
    let sign_in = selection.contains(Prop::SignInActivity) || filter.uses_sign_in();
    if sign_in {
        check_sign_in_access(&state)?;
    }
    let mut size = top.unwrap_or(state.paging.default_page_size);
    if sign_in {
        // Pages may come back shorter than asked; Graph caps them when signInActivity is
        // selected or filtered.
        size = size.min(state.paging.signin_page_cap);
    }
    let position = match query.get("skiptoken") {
        None => SkipToken {
            page: 1,
            after: u64::MAX,
            relisted: None,
        },
        Some(t) => SkipToken::decode(t).ok_or_else(|| {
            GraphError::bad_request(
                "Directory_ExpiredPageToken",
                "The specified page token value has expired and can no longer be included in your request.",
            )
        })?,
    };
    if state.faults().fail_users_page == Some(position.page) {
        state.stats.failed_pages.fetch_add(1, Ordering::Relaxed);
        return Err(GraphError::internal());
    }
    // $count=true is honoured only with ConsistencyLevel: eventual (otherwise ignored).
    let want_count = query
        .get("count")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"))
        && headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));

    let dir = state.dir();
    let after = if position.page == 1 {
        None
    } else {
        Some(position.after)
    };
    let (users, last, more) = dir.page_where(after, size, |u| filter.matches(u));
    let repeat = state.faults().repeat_users;
    let relisting = relist(&dir, users, position.relisted, more && repeat, repeat);
    state
        .stats
        .repeated_users
        .fetch_add(relisting.repeats, Ordering::Relaxed);
    let next_link = match (more, last) {
        (true, Some(last)) => {
            let token = SkipToken {
                page: position.page + 1,
                after: last,
                relisted: relisting.carried,
            }
            .encode();
            let rest = query.without_skiptoken();
            let sep = if rest.is_empty() { "" } else { "&" };
            Some(format!(
                "{}/v1.0/users?{rest}{sep}$skiptoken={token}",
                state.base_url
            ))
        }
        _ => None,
    };
    let page = Page {
        context: selection.context(&state.base_url),
        count: want_count.then(|| dir.active_users().filter(|u| filter.matches(u)).count()),
        next_link,
        value: relisting
            .users
            .iter()
            .map(|listed| UserView {
                user: listed.user(),
                props: &selection.props,
                no_error_as: dir.meta.no_error_as,
            })
            .collect(),
    };
    let body = serde_json::to_vec(&page).map_err(|_| GraphError::internal())?;
    drop(dir);
    Ok(odata_ok(body))
}

/// A user as one page lists it.
enum Listed<'a> {
    Current(&'a User),
    /// The state it had before a change made while the listing was paged through.
    Earlier(Box<User>),
}

impl Listed<'_> {
    fn user(&self) -> &User {
        match self {
            Listed::Current(user) => user,
            Listed::Earlier(user) => user,
        }
    }
}

/// One page's users, with any listed twice.
struct Relisting<'a> {
    users: Vec<Listed<'a>>,
    /// The user this page lists in an older state, for the next page to list again.
    carried: Option<Uuid>,
    /// Users listed a second time on this page.
    repeats: u64,
}

/// The `repeat_users` fault: users changed while a listing is paged through show up twice,
/// first as they were, then as they are. Microsoft warns of it for delta rounds: "It's possible
/// that a single entity will be contained multiple times in the response, if that entity was
/// changed multiple times and under certain conditions" and "Assume that the same item can show
/// up anywhere in the @odata.nextLink sequence and handle that in your merge logic"
/// (learn.microsoft.com/graph/delta-query-overview). The simulator shows it on /users, the
/// listing license-manager's full sync reads.
///
/// With `carry_to_next`, a page lists its last licensed user in an older state and the next
/// page starts with that user as it is; with `repeat_on_page`, a page lists its first other
/// licensed user in an older state and ends with that user as it is. Licensed users, so that
/// the older state can hold a license fewer. The choice depends on the page alone: the same
/// listing repeats the same users. A user carried in from the previous page is listed again
/// whatever the flags, so that a listing begun with the fault still ends with every user as
/// it is.
fn relist<'a>(
    dir: &'a Directory,
    users: Vec<&'a User>,
    carried_in: Option<Uuid>,
    carry_to_next: bool,
    repeat_on_page: bool,
) -> Relisting<'a> {
    let licensed = |user: &&&User| !user.assigned_licenses.is_empty();
    let carried = carry_to_next
        .then(|| users.iter().rev().find(licensed))
        .flatten()
        .map(|user| user.id);
    let twice = repeat_on_page
        .then(|| {
            users
                .iter()
                .find(|user| licensed(user) && Some(user.id) != carried)
        })
        .flatten()
        .copied();
    let earlier = |user: &User| [carried, twice.map(|u| u.id)].contains(&Some(user.id));
    // A user deleted since the previous page is not listed again.
    let relisted = carried_in
        .and_then(|id| dir.get(id))
        .filter(|u| !u.is_deleted());
    let mut listed: Vec<Listed<'a>> = relisted.into_iter().map(Listed::Current).collect();
    listed.extend(users.into_iter().map(|user| {
        if earlier(user) {
            Listed::Earlier(Box::new(earlier_state(user)))
        } else {
            Listed::Current(user)
        }
    }));
    listed.extend(twice.map(Listed::Current));
    Relisting {
        users: listed,
        carried,
        repeats: u64::from(relisted.is_some()) + u64::from(twice.is_some()),
    }
}

/// What `user` looked like before "a change during the listing": another display name and one
/// license fewer, so that whichever occurrence a client keeps shows.
fn earlier_state(user: &User) -> User {
    let mut earlier = user.clone();
    let name = user
        .display_name
        .as_deref()
        .unwrap_or(&user.user_principal_name);
    earlier.display_name = Some(format!("{name} (before a change)"));
    if let Some(dropped) = earlier.assigned_licenses.pop() {
        earlier
            .license_assignment_states
            .retain(|state| state.sku_id != dropped.sku_id);
    }
    earlier
}

/// `GET /v1.0/users/{id | userPrincipalName}`.
pub(crate) async fn get_user(
    State(state): State<Arc<SimState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &headers)?;
    if !state.dir().meta.app.permissions.can_read_users() {
        return Err(GraphError::insufficient_privileges());
    }
    let query = Query::parse(raw.as_deref());
    let selection = Selection::parse(query.get("select"))?;
    if selection.contains(Prop::SignInActivity) {
        // signInActivity of a single user works only with the GUID key (Q&A 1311910).
        if Uuid::parse_str(&key).is_err() {
            return Err(GraphError::bad_request(
                "Request_BadRequest",
                "Get By Key only supports UserId and the key has to be a valid Guid",
            ));
        }
        check_sign_in_access(&state)?;
    }
    let dir = state.dir();
    let user = dir.find_active(&key).ok_or_else(|| {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    })?;
    let mut body = serde_json::to_value(UserView {
        user,
        props: &selection.props,
        no_error_as: dir.meta.no_error_as,
    })
    .map_err(|_| GraphError::internal())?;
    drop(dir);
    let context = match &selection.raw {
        Some(raw) => format!("{}/v1.0/$metadata#users({raw})/$entity", state.base_url),
        None => format!("{}/v1.0/$metadata#users/$entity", state.base_url),
    };
    if let Some(obj) = body.as_object_mut() {
        obj.insert("@odata.context".into(), Value::String(context));
    }
    Ok(odata_ok(
        serde_json::to_vec(&body).map_err(|_| GraphError::internal())?,
    ))
}

/// `GET /v1.0/users/$count`: an advanced query, so it needs `ConsistencyLevel: eventual`.
pub(crate) async fn count_users(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    authorize(&state, &headers)?;
    if !state.dir().meta.app.permissions.can_read_users() {
        return Err(GraphError::insufficient_privileges());
    }
    let eventual = headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
    if !eventual {
        return Err(GraphError::bad_request(
            "Request_BadRequest",
            "$count is not currently supported.",
        ));
    }
    let n = state.dir().active_count();
    let mut resp = (StatusCode::OK, n.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptoken_roundtrip() {
        let t = SkipToken {
            page: 3,
            after: 12345,
            relisted: None,
        };
        assert_eq!(SkipToken::decode(&t.encode()), Some(t));
        let relisting = SkipToken {
            relisted: Some(Uuid::from_u128(7)),
            ..t
        };
        assert_eq!(SkipToken::decode(&relisting.encode()), Some(relisting));
        assert_eq!(SkipToken::decode("garbage"), None);
    }

    #[test]
    fn top_range() {
        assert_eq!(parse_top(Some("999")).unwrap(), Some(999));
        assert!(parse_top(Some("1000")).is_err());
        assert!(parse_top(Some("0")).is_err());
        assert!(parse_top(Some("x")).is_err());
    }
}
