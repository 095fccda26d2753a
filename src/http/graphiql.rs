//! GraphiQL, served from the binary itself (see assets/graphiql/SOURCE.md): it works where the
//! server runs, with no script from a third-party CDN.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

/// Part of the asset URLs, so a new GraphiQL version is never served from a stale cache.
const ASSET_VERSION: &str = "3.8.3";

const ASSETS: [(&str, &str, &[u8]); 4] = [
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
];

const TOKEN_HELP: &str = "license-manager token --role admin --subject YOUR-NAME";

const DEFAULT_QUERY: &str = "# Every request needs a token: run\n#   license-manager token --role admin --subject YOUR-NAME\n# and paste it into the Headers tab below as\n#   {\"Authorization\": \"Bearer <token>\"}\n# then press the circular arrow at the bottom left (Re-fetch GraphQL schema)\n# to load the Docs and autocompletion. The token is not stored: a reload\n# forgets it.\n\nquery {\n  viewer { subject role }\n  providers { id name tenantId userCount lastSyncRun { status finishedAt } }\n}\n";

/// What GraphiQL keeps in localStorage (tabs, history, favourites), without any headers: its
/// history stores each query's headers, token included, whatever `shouldPersistHeaders` says.
/// Headers that earlier versions of this page stored are removed when it loads.
const STORAGE_WITHOUT_HEADERS: &str = r#"    const HISTORY_KEYS = ['graphiql:queries', 'graphiql:favorites'];
    const withoutHeaders = (key, value) => {
      if (!HISTORY_KEYS.includes(key) || value === null) return value;
      try {
        const stored = JSON.parse(value);
        for (const items of Object.values(stored)) {
          if (Array.isArray(items)) items.forEach(item => { delete item.headers; });
        }
        return JSON.stringify(stored);
      } catch (notJson) {
        return null;
      }
    };
    const storage = {
      getItem: key => localStorage.getItem(key),
      setItem: (key, value) => {
        const kept = withoutHeaders(key, value);
        if (kept === null) localStorage.removeItem(key); else localStorage.setItem(key, kept);
      },
      removeItem: key => localStorage.removeItem(key),
      clear: () => Object.keys(localStorage)
        .filter(key => key.startsWith('graphiql:'))
        .forEach(key => localStorage.removeItem(key)),
      get length() { return Object.keys(localStorage).filter(key => key.startsWith('graphiql:')).length; },
    };
    localStorage.removeItem('graphiql:headers');
    localStorage.removeItem('graphiql:shouldPersistHeaders');
    HISTORY_KEYS.forEach(key => storage.setItem(key, localStorage.getItem(key)));"#;

/// `GET /graphiql/{version}/{file}`.
pub async fn asset(Path((version, file)): Path<(String, String)>) -> Response {
    let found = ASSETS.iter().find(|(name, _, _)| *name == file);
    match found {
        Some((_, content_type, bytes)) if version == ASSET_VERSION => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The GraphiQL page, with the Headers tab open and pre-filled, since every operation needs a
/// token; subscriptions go over the same `/graphql` path as a websocket.
pub fn page() -> Html<String> {
    let headers = format!(r#"{{"Authorization": "Bearer <paste the output of: {TOKEN_HELP}>"}}"#);
    let base = format!("/graphiql/{ASSET_VERSION}");
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="robots" content="noindex">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>license-manager GraphiQL</title>
  <style>body {{ height: 100%; margin: 0; overflow: hidden; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="{base}/graphiql.min.css">
</head>
<body>
  <div id="graphiql"><p style="font-family: sans-serif; padding: 1em">Loading GraphiQL… Every request needs the header <code>Authorization: Bearer &lt;token&gt;</code>; mint a token with <code>{TOKEN_HELP}</code> and paste it in the Headers tab.</p></div>
  <script src="{base}/react.production.min.js"></script>
  <script src="{base}/react-dom.production.min.js"></script>
  <script src="{base}/graphiql.min.js"></script>
  <script>
{storage}
    const here = new URL('/graphql', window.location.href);
    const sockets = new URL(here);
    sockets.protocol = here.protocol === 'https:' ? 'wss:' : 'ws:';
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {{
        fetcher: GraphiQL.createFetcher({{ url: here.toString(), subscriptionUrl: sockets.toString() }}),
        defaultHeaders: {headers},
        defaultQuery: {query},
        defaultEditorToolsVisibility: 'headers',
        // The token stays in this tab's memory only: nothing in localStorage for another
        // script of this origin, or the next user of the browser, to read.
        shouldPersistHeaders: false,
        storage,
      }})
    );
  </script>
</body>
</html>
"#,
        headers = json!(headers),
        query = json!(DEFAULT_QUERY),
        storage = STORAGE_WITHOUT_HEADERS,
    ))
}
