//! `syncRunUpdated` over graphql-transport-ws, as a dashboard follows a sync live.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::graph::slow_tenant;
use common::{Engine, Options, TestApp};
use futures::{SinkExt, StreamExt};
use license_manager::auth::Role;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn connect(
    app: &TestApp,
    token: Option<&str>,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = format!("ws://{}/graphql", app.addr)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    let payload = token.map_or(
        json!({}),
        |token| json!({ "Authorization": format!("Bearer {token}") }),
    );
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": payload }).to_string(),
        ))
        .await
        .expect("sent");
    socket
}

async fn next_json(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<Value> {
    while let Some(message) = socket.next().await {
        match message.ok()? {
            Message::Text(text) => return serde_json::from_str(&text).ok(),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
    None
}

async fn rename(app: &TestApp, provider: &str, name: &str) {
    let body = app
        .admin(
            &format!(
                r#"mutation {{ updateMicrosoftProvider(id: "{provider}", input: {{ name: "{name}" }}) {{ name }} }}"#
            ),
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

/// The dashboard also shows the provider, renamed while it watches, and its seats as the sync
/// fills them in: each event is read afresh, not from what the connection saw at an earlier one.
async fn a_dashboard_follows_a_sync_to_its_end(engine: Engine) {
    // Latency, so that the sync is still running when the provider is renamed.
    let sim = slow_tenant(2_500, 17, Duration::from_millis(100)).await;
    let app = TestApp::spawn_with(engine, Options::with_graph(sim.base_url())).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    let run = app.start_sync(&provider, "FULL").await;

    let mut socket = connect(&app, Some(&app.token(Role::Viewer, "dashboard"))).await;
    assert_eq!(
        next_json(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": format!(r#"subscription {{ syncRunUpdated(id: "{run}") {{
            status usersSeen provider {{ name licenseSkus {{ skuPartNumber consumedUnits }} }}
        }} }}"#) } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("sent");

    let mut updates = Vec::new();
    loop {
        let message = next_json(&mut socket).await.expect("a message");
        match message["type"].as_str() {
            Some("next") => {
                if updates.is_empty() {
                    rename(&app, &provider, "Contoso (renamed)").await;
                }
                updates.push(message["payload"]["data"]["syncRunUpdated"].clone());
            }
            Some("complete") => break,
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    let last = updates.last().expect("at least one update");
    assert_eq!(last["status"], "SUCCEEDED");
    assert_eq!(last["usersSeen"], 2_500);
    assert_eq!(last["provider"]["name"], "Contoso (renamed)", "{last}");
    let skus = last["provider"]["licenseSkus"].as_array().cloned();
    let consumed: HashMap<String, i64> = skus
        .unwrap_or_default()
        .iter()
        .map(|sku| {
            let name = sku["skuPartNumber"].as_str().unwrap_or_default().to_owned();
            (name, sku["consumedUnits"].as_i64().unwrap_or(-1))
        })
        .collect();
    // The provider also lists SKUs its users hold without a subscription; those have no seats.
    for sku in sim.subscribed_skus() {
        assert_eq!(
            consumed.get(&sku.sku_part_number),
            Some(&i64::from(sku.consumed_units)),
            "the last event shows the synced seats of {}: {consumed:?}",
            sku.sku_part_number
        );
    }
    let seen: Vec<i64> = updates
        .iter()
        .filter_map(|u| u["usersSeen"].as_i64())
        .collect();
    assert!(
        seen.windows(2).all(|pair| pair[0] <= pair[1]),
        "progress only grows: {seen:?}"
    );
    app.finish().await;
}

engine_tests!(a_dashboard_follows_a_sync_to_its_end);

#[tokio::test]
async fn a_websocket_without_a_valid_token_is_closed() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    for token in [None, Some("not-a-jwt")] {
        let mut socket = connect(&app, token).await;
        let reply = next_json(&mut socket).await;
        assert!(
            reply
                .as_ref()
                .is_none_or(|message| message["type"] != "connection_ack"),
            "no ack without a token: {reply:?}"
        );
    }
    app.finish().await;
}

/// A dashboard's mistake in a subscription document gets the same code over the websocket as it
/// would over HTTP, so one error handler serves both.
#[tokio::test]
async fn a_subscription_document_that_fails_validation_is_bad_user_input() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let mut socket = connect(&app, Some(&app.token(Role::Viewer, "dashboard"))).await;
    assert_eq!(
        next_json(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": r#"subscription { syncRunUpdated(id: "1") { noSuchField } }"# } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("sent");
    let message = next_json(&mut socket).await.expect("a message");
    assert_eq!(message["type"], "next", "{message}");
    let error = &message["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{message}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|text| text.contains("noSuchField")),
        "{message}"
    );
    app.finish().await;
}
