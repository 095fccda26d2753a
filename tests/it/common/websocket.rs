//! graphql-transport-ws sockets on the server under test, as a browser or a script opens them.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use super::TestApp;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The upgrade request for `/graphql`, asking for graphql-transport-ws; a test may add headers.
pub fn request(app: &TestApp) -> Request {
    let mut request = format!("ws://{}/graphql", app.addr)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    request
}

/// A socket that has not said `connection_init` yet.
pub async fn open(app: &TestApp) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(request(app))
        .await
        .expect("websocket");
    socket
}

/// Says `connection_init` with `token` as a bearer, or with an empty payload.
pub async fn init(socket: &mut Socket, token: Option<&str>) {
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
}

/// A socket that said `connection_init` with `token`.
pub async fn connect(app: &TestApp, token: Option<&str>) -> Socket {
    let mut socket = open(app).await;
    init(&mut socket, token).await;
    socket
}

/// The next text message as JSON; None when the socket closes.
pub async fn next_json(socket: &mut Socket) -> Option<Value> {
    while let Some(message) = socket.next().await {
        match message.ok()? {
            Message::Text(text) => return serde_json::from_str(&text).ok(),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
    None
}
