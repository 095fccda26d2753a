//! The binary as an operator runs it: `serve` with full tracing never prints a secret, `sync`
//! runs one sync in the foreground for cron, and `demo` shows a working tenant.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::graph::tenant;
use serde_json::{Value, json};

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_license-manager");

/// A child process whose output is collected as it comes, killed when dropped.
pub(crate) struct Process {
    child: Child,
    pub(crate) stdout: Arc<Mutex<String>>,
    pub(crate) stderr: Arc<Mutex<String>>,
}

impl Process {
    pub(crate) fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let collect = |stream: Box<dyn std::io::Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let sink = text.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(mut sink) = sink.lock() {
                        sink.push_str(&line);
                        sink.push('\n');
                    }
                }
            });
            text
        };
        let stdout = collect(Box::new(child.stdout.take().expect("stdout")));
        let stderr = collect(Box::new(child.stderr.take().expect("stderr")));
        Self {
            child,
            stdout,
            stderr,
        }
    }

    pub(crate) fn text(stream: &Arc<Mutex<String>>) -> String {
        stream.lock().map(|text| text.clone()).unwrap_or_default()
    }

    /// Waits until `find` extracts something from stdout or stderr.
    pub(crate) async fn wait_for<T>(&self, find: impl Fn(&str) -> Option<T>) -> T {
        for _ in 0..300 {
            let all = Self::text(&self.stdout) + &Self::text(&self.stderr);
            if let Some(found) = find(&all) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "not found in the output:\n{}\n{}",
            Self::text(&self.stdout),
            Self::text(&self.stderr)
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub(crate) fn serving_address(output: &str) -> Option<String> {
    let start = output.find("serving GraphQL at http://")? + "serving GraphQL at http://".len();
    let end = output[start..].find('/')?;
    Some(output[start..start + end].to_owned())
}

async fn graphql(address: &str, token: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON")
}

fn mint(data_dir: &std::path::Path) -> String {
    let output = Command::new(BINARY)
        .args(["token", "--role", "admin", "--subject", "operator"])
        .env("LM_DATA_DIR", data_dir)
        .env_remove("LM_JWT_SECRET")
        .output()
        .expect("token minted");
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

async fn wait_for_sync(address: &str, token: &str, run: &str) -> Value {
    for _ in 0..300 {
        let body = graphql(
            address,
            token,
            &format!(r#"{{ syncRun(id: "{run}") {{ status usersSeen }} }}"#),
            json!({}),
        )
        .await;
        let status = &body["data"]["syncRun"]["status"];
        if status != "QUEUED" && status != "RUNNING" {
            return body["data"]["syncRun"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sync did not end");
}

#[tokio::test]
async fn serve_never_logs_a_secret_even_at_trace_level() {
    let sim = tenant(100, 31).await;
    let data_dir = tempfile::tempdir().expect("temporary folder");
    let server = Process::start(
        Command::new(BINARY)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("LM_DATA_DIR", data_dir.path())
            .env("LM_MICROSOFT_LOGIN_URL", sim.base_url())
            .env("LM_MICROSOFT_GRAPH_URL", sim.base_url())
            .env("RUST_LOG", "trace")
            .env_remove("DATABASE_URL")
            .env_remove("LM_JWT_SECRET")
            .env_remove("LM_SECRET_KEY"),
    );
    let address = server.wait_for(serving_address).await;
    let token = mint(data_dir.path());
    let secret = sim.client_secret();
    let created = graphql(
        &address,
        &token,
        "mutation($input: CreateMicrosoftProviderInput!) { createMicrosoftProvider(input: $input) { id } }",
        json!({ "input": { "name": "Contoso", "tenantId": sim.tenant_id().to_string(),
                           "clientId": sim.client_id().to_string(), "clientSecret": secret } }),
    )
    .await;
    let id = created["data"]["createMicrosoftProvider"]["id"]
        .as_str()
        .expect("created")
        .to_owned();
    let test = graphql(
        &address,
        &token,
        &format!(r#"mutation {{ testProviderConnection(id: "{id}") {{ ok }} }}"#),
        json!({}),
    )
    .await;
    assert_eq!(test["data"]["testProviderConnection"]["ok"], true, "{test}");
    let run = graphql(
        &address,
        &token,
        &format!(r#"mutation {{ startSync(providerId: "{id}") {{ id }} }}"#),
        json!({}),
    )
    .await;
    let run = run["data"]["startSync"]["id"]
        .as_str()
        .expect("queued")
        .to_owned();
    assert_eq!(
        wait_for_sync(&address, &token, &run).await["status"],
        "SUCCEEDED"
    );

    let logs = Process::text(&server.stdout) + &Process::text(&server.stderr);
    assert!(logs.len() > 10_000, "trace logging was on");
    assert!(
        !logs.contains(&secret),
        "the client secret appears in the logs"
    );
    assert!(!logs.contains(&token), "a bearer token appears in the logs");
}

// Multi-threaded: the sync command is awaited with a blocking call while the simulated tenant
// must keep serving on this runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_command_runs_one_sync_for_cron() {
    let sim = tenant(150, 33).await;
    let data_dir = tempfile::tempdir().expect("temporary folder");
    let mut setup = Process::start(
        Command::new(BINARY)
            .args(["serve", "--listen", "127.0.0.1:0", "--workers", "0"])
            .env("LM_DATA_DIR", data_dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("LM_JWT_SECRET")
            .env_remove("LM_SECRET_KEY"),
    );
    let address = setup.wait_for(serving_address).await;
    let token = mint(data_dir.path());
    let create = |secret: String| {
        json!({ "input": { "name": "Contoso", "tenantId": sim.tenant_id().to_string(),
                           "clientId": sim.client_id().to_string(), "clientSecret": secret } })
    };
    let created = graphql(
        &address,
        &token,
        "mutation($input: CreateMicrosoftProviderInput!) { createMicrosoftProvider(input: $input) { id } }",
        create(sim.client_secret()),
    )
    .await;
    let id = created["data"]["createMicrosoftProvider"]["id"]
        .as_str()
        .expect("created")
        .to_owned();
    setup.child.kill().ok();
    setup.child.wait().ok();

    let sync = |provider: &str| {
        Command::new(BINARY)
            .args(["sync", "--provider", provider, "--mode", "full"])
            .env("LM_DATA_DIR", data_dir.path())
            .env("LM_MICROSOFT_LOGIN_URL", sim.base_url())
            .env("LM_MICROSOFT_GRAPH_URL", sim.base_url())
            .env_remove("DATABASE_URL")
            .env_remove("LM_SECRET_KEY")
            .output()
            .expect("the sync command runs")
    };
    let ok = sync(&id);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.contains("SUCCEEDED") && stdout.contains("150 users seen"),
        "{stdout}"
    );

    sim.set_secret_expired(true);
    let failed = sync(&id);
    assert!(!failed.status.success(), "a failed sync exits non-zero");
    assert!(String::from_utf8_lossy(&failed.stderr).contains("CLIENT_SECRET_EXPIRED"));

    let unknown = sync("999");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success(),
        "an unknown provider exits non-zero"
    );
    assert!(stderr.contains("no provider with id 999"), "{stderr}");
}

/// `token --link` prints a console sign-in address whose fragment (never sent to a server)
/// carries a token the server accepts; a malformed public address is refused before a token is
/// minted.
#[tokio::test]
async fn token_link_prints_a_sign_in_address_carrying_a_working_token() {
    let app = common::TestApp::spawn(common::Engine::Sqlite).await;
    let output = Command::new(BINARY)
        .args(["token", "--role", "viewer", "--subject", "vera", "--link"])
        .args(["--public-url", "https://licenses.example.com"])
        .env("LM_DATA_DIR", app.data_path())
        .env_remove("LM_JWT_SECRET")
        .output()
        .expect("the token command runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let link = String::from_utf8(output.stdout).expect("UTF-8");
    let token = link
        .trim()
        .strip_prefix("https://licenses.example.com/sign-in#token=")
        .unwrap_or_else(|| panic!("a sign-in link: {link}"));
    let address = app.url("");
    let address = address.trim_start_matches("http://");
    let answer = graphql(address, token, "{ viewer { subject role } }", json!({})).await;
    assert_eq!(
        answer["data"]["viewer"],
        json!({ "subject": "vera", "role": "VIEWER" })
    );

    let refused = Command::new(BINARY)
        .args(["token", "--role", "viewer", "--subject", "vera", "--link"])
        .args(["--public-url", "licenses.example.com/?next=x"])
        .env("LM_DATA_DIR", app.data_path())
        .output()
        .expect("the token command runs");
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty(), "no token is printed");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--public-url"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    app.finish().await;
}

/// A worker process without workers would sit idle while syncs queue up: refused at the start.
#[test]
fn a_worker_process_needs_at_least_one_worker() {
    let output = Command::new(BINARY)
        .args(["worker", "--workers", "0"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("the worker command runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("at least 1 worker"), "{stderr}");
}

#[tokio::test]
async fn the_demo_serves_a_synced_simulated_tenant() {
    let demo = Process::start(Command::new(BINARY).args([
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--users",
        "120",
    ]));
    let address = demo
        .wait_for(|output| {
            let start = output.find("GraphiQL:     http://")? + "GraphiQL:     http://".len();
            let end = output[start..].find('/')?;
            Some(output[start..start + end].to_owned())
        })
        .await;
    let token = demo
        .wait_for(|output| {
            let line = output
                .lines()
                .find(|line| line.starts_with("Admin token:"))?;
            Some(line.trim_start_matches("Admin token:").trim().to_owned())
        })
        .await;
    assert!(Process::text(&demo.stdout).contains("SIMULATED"));
    // The console is what a newcomer opens first: its sign-in link carries the same token.
    assert!(
        Process::text(&demo.stdout).contains(&format!(
            "Console:      http://{address}/sign-in#token={token}"
        )),
        "{}",
        Process::text(&demo.stdout)
    );
    for _ in 0..300 {
        let body = graphql(
            &address,
            &token,
            "{ providers { userCount lastSyncRun { status } } }",
            json!({}),
        )
        .await;
        if body["data"]["providers"][0]["lastSyncRun"]["status"] == "SUCCEEDED" {
            assert_eq!(body["data"]["providers"][0]["userCount"], 120);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the demo's first sync did not succeed");
}
