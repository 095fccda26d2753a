use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graph_sim::{FaultOptions, SimOptions, SimServer, TenantSpec};
use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
use serde_json::Value;

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

pub async fn start(users: usize) -> SimServer {
    start_with(
        TenantSpec {
            users,
            seed: 7,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await
}

/// A tenant of `users` whose Graph misbehaves as `faults` say.
pub async fn start_faulty(users: usize, faults: FaultOptions) -> SimServer {
    start_with(
        TenantSpec {
            users,
            seed: 7,
            ..Default::default()
        },
        SimOptions {
            faults,
            ..Default::default()
        },
    )
    .await
}

pub async fn start_with(spec: TenantSpec, options: SimOptions) -> SimServer {
    SimServer::start(spec, options)
        .await
        .expect("simulator starts")
}

pub fn client() -> Client {
    Client::new()
}

/// Client-credentials token via the form body.
pub async fn token(sim: &SimServer) -> String {
    let resp = client()
        .post(sim.token_url())
        .form(&[
            ("client_id", sim.client_id().to_string()),
            ("client_secret", sim.client_secret()),
            ("scope", GRAPH_SCOPE.to_string()),
            ("grant_type", "client_credentials".to_string()),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("token json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The JSON body; null when empty or not JSON (see `text`).
    pub body: Value,
    pub text: String,
}

pub async fn get_with(url: &str, token: Option<&str>, extra: &[(&str, &str)]) -> Reply {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let body = if text.is_empty() || !json {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("json body")
    };
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub async fn get(sim: &SimServer, path: &str, token: &str) -> Reply {
    get_with(&format!("{}{}", sim.base_url(), path), Some(token), &[]).await
}

/// A JSON POST with a bearer token (`body` sent as is, so malformed bodies can be sent too).
pub async fn post_raw(sim: &SimServer, path: &str, token: &str, body: &str) -> Reply {
    let resp = client()
        .post(format!("{}{}", sim.base_url(), path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub async fn post_json(sim: &SimServer, path: &str, token: &str, body: &Value) -> Reply {
    post_raw(sim, path, token, &body.to_string()).await
}

/// The JOSE header of a JWT, decoded without verifying anything.
pub fn header_of(token: &str) -> Value {
    jwt_part(token, 0)
}

/// The claims of a JWT, decoded without verifying anything (as a client reads its own token).
pub fn claims_of(token: &str) -> Value {
    jwt_part(token, 1)
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

pub fn is_guid(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 36 && uuid::Uuid::parse_str(s).is_ok())
}

/// `YYYY-MM-DDTHH:MM:SS` (no zone, no fraction), as Graph's innerError.date.
pub fn is_inner_date(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok() && s.len() == 19
    })
}

/// Checks the Graph error envelope and returns the innerError.
pub fn assert_graph_error(r: &Reply, status: u16, code: &str, message: &str) {
    assert_eq!(r.status.as_u16(), status, "status; body {}", r.body);
    let e = &r.body["error"];
    assert_eq!(e["code"], code, "code; body {}", r.body);
    assert_eq!(e["message"], message, "message; body {}", r.body);
    let inner = e["innerError"].as_object().expect("innerError object");
    let mut keys: Vec<_> = inner.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["client-request-id", "date", "request-id"]);
    assert!(is_inner_date(&inner["date"]), "date {:?}", inner["date"]);
    assert!(is_guid(&inner["request-id"]));
    assert_eq!(
        r.headers["request-id"].to_str().unwrap(),
        inner["request-id"].as_str().unwrap()
    );
    assert_eq!(
        r.headers["client-request-id"].to_str().unwrap(),
        inner["client-request-id"].as_str().unwrap()
    );
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

/// Pages through a collection, returning all items and the number of pages.
pub async fn collect_pages(first_url: &str, token: &str) -> (Vec<Value>, usize) {
    let pages = page_by_page(first_url, token).await;
    let count = pages.len();
    (pages.into_iter().flatten().collect(), count)
}

/// Pages through a collection, returning the items of each page.
pub async fn page_by_page(first_url: &str, token: &str) -> Vec<Vec<Value>> {
    let mut url = first_url.to_string();
    let mut pages = Vec::new();
    loop {
        let r = get_with(&url, Some(token), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        pages.push(r.body["value"].as_array().expect("value").clone());
        match r.body.get("@odata.nextLink").and_then(Value::as_str) {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    pages
}
