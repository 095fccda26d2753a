//! `GET /v1.0/users/delta`: an initial round in pages of ~200 ending in a deltaLink, then
//! rounds with only what changed since the token, read from the directory's change log.
//!
//! Tokens are opaque (base64 of a small JSON state) and carry the `$select` of the initial
//! request, as Graph encodes the query into the token.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::errors::GraphError;
use crate::props::{ALL_PROPS, Prop, PropSet, Selection, UserView};
use crate::server::{Query, SimState, odata_ok};
use crate::store::Directory;
use crate::token::authorize;

/// Where a delta round stands. Serialised into `$skiptoken` / `$deltatoken`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct DeltaState {
    /// Tenant id (a token of another tenant is unknown here).
    t: Uuid,
    /// Directory delta generation; bumping it invalidates all tokens.
    g: u64,
    /// Issued at (unix seconds), for the delta-token lifetime.
    i: i64,
    /// `$select` of the initial request.
    s: Option<String>,
    p: Phase,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
enum Phase {
    /// Initial round: active users after ordinal `after`; ends with a deltaLink at `snapshot`.
    Initial { after: Option<u64>, snapshot: u64 },
    /// Later round: changes in (since, upto], from item `offset`.
    Changes {
        since: u64,
        upto: u64,
        offset: usize,
    },
    /// A deltaLink: next round starts after `since`.
    Link { since: u64 },
}

impl DeltaState {
    fn encode(&self) -> String {
        // Serialising this plain struct cannot fail; an empty token would just be rejected.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(s: &str) -> Option<DeltaState> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()
    }
}

enum Item<'a> {
    User(UserView<'a>),
    Removed(Uuid, &'static str),
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Item::User(v) => v.serialize(serializer),
            Item::Removed(id, reason) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("id", id)?;
                map.serialize_entry("@removed", &serde_json::json!({ "reason": reason }))?;
                map.end()
            }
        }
    }
}

#[derive(Serialize)]
struct DeltaPage<'a> {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", skip_serializing_if = "Option::is_none")]
    delta_link: Option<String>,
    value: Vec<Item<'a>>,
}

fn parse_delta_select(raw: Option<&str>) -> Result<Selection, GraphError> {
    let sel = Selection::parse(raw)?;
    if sel.contains(Prop::SignInActivity) {
        return Err(GraphError::bad_request(
            "BadRequest",
            "Invalid request for delta query: for this entity set, $expand/$select is not supported for the following properties: signInActivity",
        ));
    }
    Ok(sel)
}

pub(crate) async fn users_delta(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &headers)?;
    if !state.dir().meta.app.permissions.can_read_users() {
        return Err(GraphError::insufficient_privileges());
    }
    let query = Query::parse(raw.as_deref());
    // Graph's users/delta only filters on `id eq`; the simulator does not implement that.
    if query.get("filter").is_some() {
        return Err(GraphError::bad_request(
            "Request_UnsupportedQuery",
            "Unsupported Query.",
        ));
    }
    let minimal = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
        });

    let dir = state.dir();
    let fresh = |select: Option<String>, phase: Phase| DeltaState {
        t: dir.meta.tenant_id,
        g: dir.delta_generation,
        i: Utc::now().timestamp(),
        s: select,
        p: phase,
    };
    let validate = |token: &str, check_age: bool| -> Result<DeltaState, GraphError> {
        let st = DeltaState::decode(token).ok_or_else(GraphError::sync_state_not_found)?;
        let age = Utc::now().timestamp() - st.i;
        if st.t != dir.meta.tenant_id
            || st.g != dir.delta_generation
            || (check_age && age > state.paging.delta_token_ttl.as_secs() as i64)
        {
            return Err(GraphError::sync_state_not_found());
        }
        Ok(st)
    };

    let (st, first_page) = if let Some(tok) = query.get("skiptoken") {
        (validate(tok, false)?, false)
    } else if let Some(tok) = query.get("deltatoken") {
        if tok.eq_ignore_ascii_case("latest") {
            // "Sync from now": no data, just a deltaLink.
            let sel = parse_delta_select(query.get("select"))?;
            let link = fresh(
                sel.raw.clone(),
                Phase::Link {
                    since: dir.current_seq(),
                },
            );
            let page = DeltaPage {
                context: sel.context(&state.base_url),
                next_link: None,
                delta_link: Some(link_url(&state, "deltatoken", &link)),
                value: Vec::new(),
            };
            return respond(&page, false);
        }
        let st = validate(tok, true)?;
        match st.p {
            Phase::Link { since } => {
                let upto = dir.current_seq();
                (
                    DeltaState {
                        i: Utc::now().timestamp(),
                        p: Phase::Changes {
                            since,
                            upto,
                            offset: 0,
                        },
                        ..st
                    },
                    true,
                )
            }
            _ => return Err(GraphError::sync_state_not_found()),
        }
    } else {
        let sel = parse_delta_select(query.get("select"))?;
        (
            fresh(
                sel.raw,
                Phase::Initial {
                    after: None,
                    snapshot: dir.current_seq(),
                },
            ),
            true,
        )
    };

    let selection = parse_delta_select(st.s.as_deref())?;
    let size = state.paging.delta_page_size;
    let context = if first_page {
        selection.context(&state.base_url)
    } else {
        format!("{}/v1.0/$metadata#users", state.base_url)
    };

    let mut minimal_props: Vec<Vec<Prop>> = Vec::new();
    let (value, next) = match st.p.clone() {
        Phase::Initial { after, snapshot } => {
            let (users, last, more) = dir.page(after, size);
            let value: Vec<Item<'_>> = users
                .into_iter()
                .map(|u| {
                    Item::User(UserView {
                        user: u,
                        props: &selection.props,
                        no_error_as: dir.meta.no_error_as,
                    })
                })
                .collect();
            let next = match (more, last) {
                (true, Some(last)) => Phase::Initial {
                    after: Some(last),
                    snapshot,
                },
                _ => Phase::Link { since: snapshot },
            };
            (value, next)
        }
        Phase::Changes {
            since,
            upto,
            offset,
        } => {
            let items = changed_items(&dir, since, upto, &selection);
            let end = (offset + size).min(items.len());
            // `repeat_users`: each later page of a round starts with the last change of the
            // page before, again: "Assume that the same item can show up anywhere in the
            // @odata.nextLink sequence" (learn.microsoft.com/graph/delta-query-overview).
            let start = match offset {
                0 => 0,
                _ if state.faults().repeat_users && offset < items.len() => {
                    state.stats.repeated_users.fetch_add(1, Ordering::Relaxed);
                    offset - 1
                }
                _ => offset,
            };
            let slice = items.get(start..end).unwrap_or(&[]);
            // Minimal responses list only changed (and selected) properties.
            for c in slice {
                if let Change::Present { props, full, .. } = c {
                    let listed: Vec<Prop> = if *full || !minimal {
                        selection.props.clone()
                    } else {
                        ALL_PROPS
                            .iter()
                            .copied()
                            .filter(|p| props.contains(*p))
                            .collect()
                    };
                    minimal_props.push(listed);
                }
            }
            let mut k = 0;
            let mut value = Vec::with_capacity(slice.len());
            for c in slice {
                match c {
                    Change::Present { id, .. } => {
                        if let Some(u) = dir.get(*id) {
                            value.push(Item::User(UserView {
                                user: u,
                                props: &minimal_props[k],
                                no_error_as: dir.meta.no_error_as,
                            }));
                        }
                        k += 1;
                    }
                    Change::Removed(id, reason) => value.push(Item::Removed(*id, reason)),
                }
            }
            let next = if end < items.len() {
                Phase::Changes {
                    since,
                    upto,
                    offset: end,
                }
            } else {
                Phase::Link { since: upto }
            };
            (value, next)
        }
        Phase::Link { .. } => return Err(GraphError::sync_state_not_found()),
    };

    let next_state = DeltaState { p: next, ..st };
    let (next_link, delta_link) = match next_state.p {
        Phase::Link { .. } => (None, Some(link_url(&state, "deltatoken", &next_state))),
        _ => (Some(link_url(&state, "skiptoken", &next_state)), None),
    };
    let page = DeltaPage {
        context,
        next_link,
        delta_link,
        value,
    };
    let resp = respond(&page, minimal);
    drop(dir);
    resp
}

fn link_url(state: &SimState, param: &str, st: &DeltaState) -> String {
    format!(
        "{}/v1.0/users/delta?${param}={}",
        state.base_url,
        st.encode()
    )
}

fn respond(page: &DeltaPage<'_>, minimal: bool) -> Result<Response, GraphError> {
    let body = serde_json::to_vec(page).map_err(|_| GraphError::internal())?;
    let mut resp = odata_ok(body);
    if minimal {
        resp.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_static("return=minimal"),
        );
    }
    Ok(resp)
}

enum Change {
    Present {
        id: Uuid,
        props: PropSet,
        full: bool,
    },
    Removed(Uuid, &'static str),
}

/// What a later round reports: created/restored users in full, updated users whose changes
/// touch a tracked (selected) property, soft-deleted as "changed", hard-deleted as "deleted".
fn changed_items(dir: &Directory, since: u64, upto: u64, selection: &Selection) -> Vec<Change> {
    // Without $select every property is tracked.
    let tracked = if selection.raw.is_some() {
        PropSet::from_props(&selection.props)
    } else {
        PropSet::all()
    };
    dir.changes(since, upto)
        .into_iter()
        .filter_map(|c| match dir.get(c.id) {
            None => Some(Change::Removed(c.id, "deleted")),
            Some(u) if u.is_deleted() => Some(Change::Removed(c.id, "changed")),
            Some(_) if c.full => Some(Change::Present {
                id: c.id,
                props: c.props,
                full: true,
            }),
            Some(_) => {
                let relevant = c.props.intersect(tracked);
                (!relevant.is_empty()).then_some(Change::Present {
                    id: c.id,
                    props: relevant,
                    full: false,
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_roundtrip() {
        let st = DeltaState {
            t: Uuid::nil(),
            g: 1,
            i: 5,
            s: Some("displayName".into()),
            p: Phase::Changes {
                since: 1,
                upto: 9,
                offset: 200,
            },
        };
        assert_eq!(DeltaState::decode(&st.encode()), Some(st));
        assert_eq!(DeltaState::decode("not-a-token"), None);
    }
}
