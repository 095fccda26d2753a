//! What a browser loads the first time it opens the console on the providers page, and how long
//! the list takes to show. The figures are printed for the record (timings are the benchmark's
//! business, not a test's); asserted is what does not move with the host: every request goes to
//! the server itself, and every script and style sheet arrives compressed.

use std::io::Write;

use serde_json::{Value, json};

use crate::common::browser::Browser;
use crate::common::graph::tenant;
use crate::common::{Engine, Options, TestApp};
use license_manager::auth::Role;

/// Resource timings of the page, and the render time of the providers list (the console marks
/// it for the Element Timing API).
const FIRST_LOAD: &str = "const done = arguments[arguments.length - 1];
    new PerformanceObserver(list => {
        const rendered = list.getEntries().find(entry => entry.identifier === 'providers');
        if (!rendered) return;
        const navigation = performance.getEntriesByType('navigation')[0];
        const resources = performance.getEntriesByType('resource').map(entry => ({
            name: entry.name, transferred: entry.transferSize, encoded: entry.encodedBodySize,
            decoded: entry.decodedBodySize, type: entry.initiatorType }));
        done({ rendered: rendered.renderTime || rendered.loadTime, resources,
            navigation: { transferred: navigation.transferSize, encoded: navigation.encodedBodySize } });
    }).observe({ type: 'element', buffered: true });";

#[tokio::test]
async fn the_first_load_comes_compressed_from_the_server_alone() {
    let Some(browser) = Browser::start("console-first-load").await else {
        return;
    };
    let sim = tenant(20, 5).await;
    let app = TestApp::spawn_with(Engine::Sqlite, Options::with_graph(sim.base_url())).await;
    app.connect_tenant(&sim, &sim.client_secret()).await;

    // A fresh browser follows a sign-in link to the providers page: nothing is cached yet.
    let admin = app.token(Role::Admin, "first-load");
    browser
        .open(&app.url(&format!("/sign-in#token={admin}&next=/settings/providers")))
        .await;
    let load = browser.run_async(FIRST_LOAD).await;

    let origin = app.url("/");
    let resources = load["resources"].as_array().cloned().unwrap_or_default();
    let mut transferred = load["navigation"]["transferred"].as_i64().unwrap_or(0);
    for resource in &resources {
        let name = resource["name"].as_str().unwrap_or_default();
        assert!(name.starts_with(&origin), "{name} comes from elsewhere");
        transferred += resource["transferred"].as_i64().unwrap_or(0);
        let static_file = name.contains("/console/");
        if static_file && resource["decoded"].as_i64() > Some(1024) {
            assert!(
                resource["encoded"].as_i64() < resource["decoded"].as_i64(),
                "{name} arrives compressed: {resource}"
            );
        }
    }
    let requests = resources.len() + 1;
    writeln!(
        std::io::stderr(),
        "console first load: {requests} requests, {:.1} KB transferred (compressed, headers included), providers list rendered {:.0} ms after navigation; {}",
        transferred as f64 / 1024.0,
        load["rendered"].as_f64().unwrap_or(f64::NAN),
        serde_json::to_string(&resources.iter().map(|resource| json!([resource["name"], resource["transferred"]])).collect::<Vec<Value>>()).unwrap_or_default()
    )
    .ok();

    browser.close().await;
    app.finish().await;
}
