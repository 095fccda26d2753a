//! `GET /v1.0/users`: $select, $top, @odata.context, @odata.nextLink with an opaque
//! $skiptoken, signInActivity permission/licence rules and the failing-page fault.

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
use crate::token::authorize;

/// Position in a /users listing. Encoded opaquely; only this simulator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SkipToken {
    /// 1-based number of the page this token fetches.
    pub page: u32,
    /// Last ordinal served on the previous page.
    pub after: u64,
}

const SKIP_MAGIC: &str = "RFNwdA";

impl SkipToken {
    pub fn encode(self) -> String {
        format!(
            "{SKIP_MAGIC}{}",
            URL_SAFE_NO_PAD.encode(format!("u1:{}:{}", self.page, self.after))
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
        Some(SkipToken { page, after })
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
        (d.meta.app.permissions.audit_log_read_all, d.meta.premium)
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
    if !state.dir().meta.app.permissions.user_read_all {
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
        None => SkipToken { page: 1, after: u64::MAX },
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
    let next_link = match (more, last) {
        (true, Some(last)) => {
            let token = SkipToken {
                page: position.page + 1,
                after: last,
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
        value: users
            .into_iter()
            .map(|u| UserView {
                user: u,
                props: &selection.props,
            })
            .collect(),
    };
    let body = serde_json::to_vec(&page).map_err(|_| GraphError::internal())?;
    drop(dir);
    Ok(odata_ok(body))
}

/// `GET /v1.0/users/{id | userPrincipalName}`.
pub(crate) async fn get_user(
    State(state): State<Arc<SimState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &headers)?;
    if !state.dir().meta.app.permissions.user_read_all {
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
    if !state.dir().meta.app.permissions.user_read_all {
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
        };
        assert_eq!(SkipToken::decode(&t.encode()), Some(t));
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
