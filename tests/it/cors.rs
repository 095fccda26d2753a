//! Frontends on other origins (`LM_CORS_ORIGINS`): a listed origin's page may call `/graphql`
//! and the exports and open the websocket; any other origin's page gets no CORS header (so its
//! browser hides the answer) and no websocket; and without the setting the server sends no CORS
//! header at all. The last test checks the same in Chromium, from a page of another server.

use crate::common::websocket;
use futures::StreamExt;
use license_manager::auth::Role;
use license_manager::http::CorsOrigins;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::common::{Engine, Options, TestApp};

const LISTED: &str = "https://app.example.com";
const OTHER: &str = "https://evil.example";

async fn spawn_listing(origins: &str) -> TestApp {
    let cors_origins: CorsOrigins = origins.parse().expect("valid origins");
    TestApp::spawn_with(
        Engine::Sqlite,
        Options {
            cors_origins,
            ..Options::default()
        },
    )
    .await
}

/// A browser's preflight before a call with a bearer token (and, for POST, a JSON body).
async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("answered")
}

async fn post_from(app: &TestApp, origin: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/graphql"))
        .header("origin", origin)
        .json(&json!({ "query": "{ viewer { subject } }" }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("answered")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("ASCII"))
}

/// The names of a comma-separated header, lower-cased.
fn listed(response: &reqwest::Response, name: &str) -> Vec<String> {
    header(response, name)
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .collect()
}

fn no_cors_headers(response: &reqwest::Response) -> bool {
    !response
        .headers()
        .keys()
        .any(|name| name.as_str().starts_with("access-control-"))
}

#[tokio::test]
async fn a_listed_origin_passes_preflight_and_reads_graphql_answers() {
    let app = spawn_listing(&format!("{LISTED}, http://localhost:5173")).await;
    let token = app.token(Role::Viewer, "cors");

    let allowed = preflight(&app, "/graphql", LISTED, "POST").await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(LISTED)
    );
    assert!(listed(&allowed, "access-control-allow-methods").contains(&"post".to_owned()));
    let headers = listed(&allowed, "access-control-allow-headers");
    assert!(
        headers.contains(&"authorization".to_owned())
            && headers.contains(&"content-type".to_owned()),
        "{headers:?}"
    );
    assert_eq!(header(&allowed, "access-control-max-age"), Some("600"));
    // No cookies are involved: the token travels in a header the page sets itself.
    assert_eq!(header(&allowed, "access-control-allow-credentials"), None);

    let refused = preflight(&app, "/graphql", OTHER, "POST").await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None);

    let answer = post_from(&app, LISTED, Some(&token)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(header(&answer, "access-control-allow-origin"), Some(LISTED));
    assert!(listed(&answer, "vary").contains(&"origin".to_owned()));
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(body["data"]["viewer"]["subject"], "cors");

    // The page can read why it was refused, too.
    let unauthenticated = post_from(&app, "http://localhost:5173", None).await;
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&unauthenticated, "access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        listed(&unauthenticated, "access-control-expose-headers")
            .contains(&"www-authenticate".to_owned())
    );

    // CORS is the browser's to enforce: the other origin is answered, without the header that
    // would let its page read the answer.
    let foreign = post_from(&app, OTHER, Some(&token)).await;
    assert_eq!(header(&foreign, "access-control-allow-origin"), None);
    app.finish().await;
}

#[tokio::test]
async fn a_listed_origin_downloads_the_exports() {
    let app = spawn_listing(LISTED).await;
    let token = app.token(Role::Viewer, "cors");
    for path in [
        "/export/users.csv",
        "/export/skus.csv",
        "/export/findings.csv",
    ] {
        let allowed = preflight(&app, path, LISTED, "GET").await;
        assert!(
            allowed.status().is_success(),
            "{path}: {}",
            allowed.status()
        );
        assert_eq!(
            header(&allowed, "access-control-allow-origin"),
            Some(LISTED),
            "{path}"
        );
        let refused = preflight(&app, path, OTHER, "GET").await;
        assert_eq!(
            header(&refused, "access-control-allow-origin"),
            None,
            "{path}"
        );

        let download = app
            .http
            .get(app.url(path))
            .header("origin", LISTED)
            .bearer_auth(&token)
            .send()
            .await
            .expect("answered");
        assert_eq!(download.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&download, "access-control-allow-origin"),
            Some(LISTED),
            "{path}"
        );
        // The page names the file it saves as the server does.
        assert!(
            listed(&download, "access-control-expose-headers")
                .contains(&"content-disposition".to_owned()),
            "{path}"
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn without_the_setting_no_cors_header_is_sent() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = app.token(Role::Viewer, "cors");
    let preflight = preflight(&app, "/graphql", LISTED, "POST").await;
    assert!(no_cors_headers(&preflight), "{:?}", preflight.headers());
    assert!(!preflight.status().is_success(), "{}", preflight.status());
    let answer = post_from(&app, LISTED, Some(&token)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(no_cors_headers(&answer), "{:?}", answer.headers());
    let download = app
        .http
        .get(app.url("/export/users.csv"))
        .header("origin", LISTED)
        .bearer_auth(&token)
        .send()
        .await
        .expect("answered");
    assert_eq!(download.status(), StatusCode::OK);
    assert!(no_cors_headers(&download), "{:?}", download.headers());
    app.finish().await;
}

/// Opens the websocket with `origin` (none for a client that is not a browser) and says
/// `connection_init`: `Ok` when it was acknowledged, the status of the refused upgrade otherwise.
async fn open_websocket(app: &TestApp, origin: Option<&str>) -> Result<(), StatusCode> {
    let mut request = websocket::request(app);
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header"));
    }
    let mut socket = match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => socket,
        Err(tungstenite::Error::Http(response)) => return Err(response.status()),
        Err(error) => panic!("the upgrade failed otherwise: {error}"),
    };
    let token = app.token(Role::Viewer, "cors");
    websocket::init(&mut socket, Some(&token)).await;
    let Some(Ok(Message::Text(text))) = socket.next().await else {
        panic!("no answer to connection_init");
    };
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(answer["type"], "connection_ack", "{answer}");
    Ok(())
}

#[tokio::test]
async fn the_websocket_admits_its_own_pages_listed_origins_and_clients_without_origin() {
    let app = spawn_listing(LISTED).await;
    let own = format!("http://{}", app.addr);
    assert_eq!(open_websocket(&app, Some(&own)).await, Ok(()), "own origin");
    assert_eq!(open_websocket(&app, Some(LISTED)).await, Ok(()), "listed");
    assert_eq!(open_websocket(&app, None).await, Ok(()), "no Origin");
    // The same host on another port is another origin.
    let next_port = format!(
        "http://{}:{}",
        app.addr.ip(),
        app.addr.port().wrapping_add(1)
    );
    for origin in [OTHER, "null", &next_port] {
        assert_eq!(
            open_websocket(&app, Some(origin)).await,
            Err(StatusCode::FORBIDDEN),
            "{origin}"
        );
    }
    app.finish().await;

    // Without the setting, only the server's own pages.
    let app = TestApp::spawn(Engine::Sqlite).await;
    let own = format!("http://{}", app.addr);
    assert_eq!(open_websocket(&app, Some(&own)).await, Ok(()), "own origin");
    assert_eq!(
        open_websocket(&app, Some(LISTED)).await,
        Err(StatusCode::FORBIDDEN)
    );
    app.finish().await;
}

#[tokio::test]
async fn a_refused_websocket_says_why_in_the_one_error_shape() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let response = app
        .http
        .get(app.url("/graphql"))
        .header("origin", OTHER)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", "graphql-transport-ws")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(crate::common::error_code(&body), "FORBIDDEN");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("LM_CORS_ORIGINS")),
        "{body}"
    );
    app.finish().await;
}

/// What a page of `origin`'s server gets from the API at `api` in a real browser: the viewer's
/// subject, the export's file name and the websocket's answer to `connection_init`, or
/// `blocked` for each the browser (or the server) refused.
const CALL_THE_API: &str = "const [api, token, done] = arguments;
(async () => {
    const bearer = { authorization: 'Bearer ' + token };
    const out = {};
    try {
        const answer = await fetch(api + '/graphql', {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...bearer },
            body: JSON.stringify({ query: '{ viewer { subject } }' }),
        });
        out.graphql = (await answer.json()).data.viewer.subject;
    } catch (error) { out.graphql = 'blocked'; }
    try {
        const download = await fetch(api + '/export/users.csv', { headers: bearer });
        out.export = download.headers.get('content-disposition');
    } catch (error) { out.export = 'blocked'; }
    out.websocket = await new Promise((resolve) => {
        const socket = new WebSocket(api.replace('http', 'ws') + '/graphql', 'graphql-transport-ws');
        socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: bearer }));
        socket.onmessage = (message) => { resolve(JSON.parse(message.data).type); socket.close(); };
        socket.onerror = () => resolve('blocked');
    });
    done(out);
})();";

#[tokio::test]
async fn a_browser_page_of_a_listed_origin_calls_the_api_and_another_cannot() {
    let Some(browser) = crate::common::browser::Browser::start("cors").await else {
        return;
    };
    // The frontend's origin: another server, on another port.
    let frontend = TestApp::spawn(Engine::Sqlite).await;
    let listing = spawn_listing(&format!("http://{}", frontend.addr)).await;
    let unlisting = TestApp::spawn(Engine::Sqlite).await;
    browser.open(&frontend.url("/healthz")).await;
    for (api, expected) in [
        (
            &listing,
            json!({ "graphql": "cors", "export": "attachment; filename=\"users.csv\"", "websocket": "connection_ack" }),
        ),
        (
            &unlisting,
            json!({ "graphql": "blocked", "export": "blocked", "websocket": "blocked" }),
        ),
    ] {
        let token = api.token(Role::Viewer, "cors");
        let got = browser
            .run_async_with(CALL_THE_API, vec![json!(api.url("")), json!(token)])
            .await;
        assert_eq!(got, expected, "API at {}", api.addr);
    }
    browser.close().await;
    for app in [frontend, listing, unlisting] {
        app.finish().await;
    }
}
