//! Connections as a hostile client holds them: half-sent headers, more connections than the cap,
//! idle keep-alive connections, and a GraphQL request that outlives its time budget. The
//! server sheds them and keeps answering.

use crate::common;

use std::num::NonZeroUsize;
use std::time::Duration;

use common::graph::slow_tenant;
use common::{Engine, Options, TestApp, error_code};
use license_manager::auth::Role;
use license_manager::http::{ConnectionLimits, ServerLimits, Timeout};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request whose headers never end.
const HALF_SENT: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";

fn timeout(duration: Duration) -> Timeout {
    Timeout::new(duration).expect("not zero")
}

fn limits(connections: ConnectionLimits) -> Options {
    Options {
        limits: ServerLimits {
            connections,
            ..ServerLimits::default()
        },
        ..Options::default()
    }
}

async fn half_open(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.expect("connected");
    stream.write_all(HALF_SENT).await.expect("sent");
    stream
}

/// Reads until the server closes the connection (a reset counts: it is the server's close of a
/// socket with unread bytes); returns what it sent before.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return received,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

async fn health(app: &TestApp) -> StatusCode {
    app.http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("answered")
        .status()
}

/// Five hundred connections that each send half a request, five times the cap: the server
/// closes every one of them, those over the cap at once and the others when their headers time
/// out, and then answers as if nothing happened.
#[tokio::test]
async fn a_slow_headers_flood_is_shed_and_health_answers_after_it() {
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        limits(ConnectionLimits {
            header_read_timeout: timeout(Duration::from_millis(300)),
            max_connections: NonZeroUsize::new(100).expect("not zero"),
            ..ConnectionLimits::default()
        }),
    )
    .await;
    let mut flood = Vec::new();
    for _ in 0..500 {
        flood.push(half_open(&app).await);
    }
    for stream in &mut flood {
        let answer = until_closed(stream).await;
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 503"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert_eq!(app.metrics.connections_open(), 0, "every place is free");
    assert_eq!(health(&app).await, StatusCode::OK);
    app.finish().await;
}

/// With the cap reached, the next connection is told 503 and closed; once a held connection
/// goes, a new one is served.
#[tokio::test]
async fn connections_over_the_cap_are_refused_until_one_closes() {
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        limits(ConnectionLimits {
            header_read_timeout: timeout(Duration::from_secs(3600)),
            keep_alive_timeout: timeout(Duration::from_secs(3600)),
            max_connections: NonZeroUsize::new(2).expect("not zero"),
        }),
    )
    .await;
    let mut held = [half_open(&app).await, half_open(&app).await];

    // It sends nothing, so that the server's close cannot discard the answer with a reset.
    let mut over = TcpStream::connect(app.addr).await.expect("connected");
    let answer = String::from_utf8(until_closed(&mut over).await).expect("text");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(
        answer.contains("content-type: application/json"),
        "{answer}"
    );
    let (_, body) = answer.split_once("\r\n\r\n").expect("headers end");
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(error_code(&body), "UNAVAILABLE", "{body}");
    assert_eq!(app.metrics.connections_refused(), 1);

    held[0].shutdown().await.expect("half-closed");
    until_closed(&mut held[0]).await;
    assert_eq!(health(&app).await, StatusCode::OK);
    drop(held);
    app.finish().await;
}

/// A kept-alive connection that sends no further request is closed after the keep-alive
/// timeout, though its header-read timeout is far away.
#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        limits(ConnectionLimits {
            header_read_timeout: timeout(Duration::from_secs(3600)),
            keep_alive_timeout: timeout(Duration::from_millis(200)),
            ..ConnectionLimits::default()
        }),
    )
    .await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connected");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("sent");
    let answer = String::from_utf8(until_closed(&mut stream).await).expect("text");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with(r#"{"status":"ok"}"#),
        "answered once: {answer}"
    );
    assert_eq!(app.metrics.connections_open(), 0);
    app.finish().await;
}

/// A query that waits on Microsoft past the request's budget is cancelled with TIMEOUT, and the
/// server goes on serving.
#[tokio::test]
async fn a_graphql_request_past_its_budget_is_cancelled_with_timeout() {
    let sim = slow_tenant(10, 3, Duration::from_secs(3600)).await;
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        Options {
            limits: ServerLimits {
                request_timeout: timeout(Duration::from_millis(500)),
                ..ServerLimits::default()
            },
            ..Options::with_graph(sim.base_url())
        },
    )
    .await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    let body = app
        .admin(
            "mutation($id: ID!) { testProviderConnection(id: $id) { ok } }",
            json!({ "id": provider }),
        )
        .await;
    assert_eq!(error_code(&body), "TIMEOUT", "{body}");
    assert!(body["data"].is_null(), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("LM_REQUEST_TIMEOUT"), "{message}");
    let data = app.query(Role::Viewer, "{ viewer { subject } }").await;
    assert_eq!(data["viewer"]["subject"], "test");
    app.finish().await;
}

/// Waits, on the real clock as the server's sockets do, until `count` connections hold a place.
async fn places_held(app: &TestApp, count: u64) {
    let reached = async {
        while app.metrics.connections_open() != count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), reached)
        .await
        .unwrap_or_else(|_| panic!("{count} connections open"));
}

/// The path of the biggest file GraphiQL loads, read from its page on a connection that closes.
async fn graphiql_script(app: &TestApp) -> String {
    let mut stream = TcpStream::connect(app.addr).await.expect("connected");
    stream
        .write_all(b"GET /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("sent");
    let page = String::from_utf8(until_closed(&mut stream).await).expect("text");
    page.split('"')
        .find(|part| part.starts_with("/graphiql/") && part.ends_with("graphiql.min.js"))
        .unwrap_or_else(|| panic!("a script in {page}"))
        .to_owned()
}

/// A client that asks for megabytes and reads none of them does not keep its place under the
/// cap: its connection is dropped once the server's writes have waited the keep-alive timeout,
/// and with a cap of one the next client is served.
#[tokio::test]
async fn a_client_that_stops_reading_loses_its_connection() {
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        limits(ConnectionLimits {
            header_read_timeout: timeout(Duration::from_secs(3600)),
            keep_alive_timeout: timeout(Duration::from_millis(300)),
            max_connections: NonZeroUsize::new(1).expect("not zero"),
        }),
    )
    .await;
    let script = graphiql_script(&app).await;
    places_held(&app, 0).await;

    let mut hostile = TcpStream::connect(app.addr).await.expect("connected");
    let request = format!("GET {script} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    // Pipelined: tens of megabytes of answers, far more than the sockets' buffers hold.
    hostile
        .write_all(request.repeat(20).as_bytes())
        .await
        .expect("sent");
    places_held(&app, 1).await;
    places_held(&app, 0).await;

    assert_eq!(health(&app).await, StatusCode::OK);
    drop(hostile);
    app.finish().await;
}
