//! The browser-test harness: headless Chromium driven over WebDriver, for the tests that must
//! see a page as a person does (GraphiQL today, the console's pages later).
//!
//! Each `Browser` starts its own chromedriver on a free loopback port, and Chromium with a fresh
//! profile, so browser tests run in parallel and share nothing. Where Chromium or chromedriver is
//! not installed, `Browser::start` says why and returns `None`, and the test passes without
//! looking; with `LM_REQUIRE_BROWSER=1` (CI sets it) a missing browser fails the test instead.
//!
//! A test reaches it as `crate::common::browser`.

#![allow(dead_code)] // each browser test uses its own part of the harness

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Set to 1 where a missing browser must fail the browser tests rather than skip them.
pub const REQUIRE_ENV: &str = "LM_REQUIRE_BROWSER";
/// How long a page may take to show what a test waits for. A bound against hanging, not a
/// measurement: a loaded CI machine renders GraphiQL in a second or two.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
/// Large enough for GraphiQL's editors and docs side by side in a screenshot.
const WINDOW: (u32, u32) = (1400, 900);
/// Where the accessibility checker is looked for when `AXE_ENV` is not set: what .ci/run
/// installs with `npm install --prefix target/browser-tools axe-core@…`.
const AXE_INSTALLED: &str = "browser-tools/node_modules/axe-core/axe.min.js";
/// The path of axe-core's `axe.min.js`, to check pages for accessibility.
pub const AXE_ENV: &str = "LM_AXE_CORE";
/// Set to 1 to write the screenshots the docs show (docs/images) from the browser tests.
pub const UPDATE_SCREENSHOTS_ENV: &str = "LM_UPDATE_SCREENSHOTS";

pub struct Browser {
    client: Client,
    driver: Child,
    /// Chromium's user-data-dir and chromedriver's log.
    profile: TempDir,
    name: String,
}

impl Browser {
    /// A fresh headless Chromium, or `None` (with the reason on stderr) where none is installed
    /// and `LM_REQUIRE_BROWSER` is not 1. `name` names the screenshots of the test.
    pub async fn start(name: &str) -> Option<Self> {
        if let Some(missing) = [CHROMEDRIVER, CHROMIUM]
            .into_iter()
            .find(|path| !Path::new(path).exists())
        {
            let reason = format!("{missing} not found; apt-get install chromium chromium-driver");
            if std::env::var(REQUIRE_ENV).is_ok_and(|value| value == "1") {
                panic!("browser tests cannot run: {reason} ({REQUIRE_ENV}=1 requires them)");
            }
            // Past the test harness's capture, so that a passing run still says it looked at
            // nothing.
            writeln!(
                std::io::stderr(),
                "\n{name}: browser tests skipped: {reason}"
            )
            .ok();
            return None;
        }
        Some(Self::launch(name).await)
    }

    async fn launch(name: &str) -> Self {
        let profile = tempfile::tempdir().expect("a temporary browser profile");
        let port = free_port();
        let log = profile.path().join("chromedriver.log");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that Drop ends Chromium too, even after a panic.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("{CHROMEDRIVER} does not start: {error}"));
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_until_ready(&webdriver, &log).await;

        let user_data = profile.path().join("chromium");
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-dev-shm-usage",
                    format!("--window-size={},{}", WINDOW.0, WINDOW.1),
                    format!("--user-data-dir={}", user_data.display()),
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "chromedriver does not open {CHROMIUM}: {error}; see {}",
                    log.display()
                )
            });
        Self {
            client,
            driver,
            profile,
            name: name.to_owned(),
        }
    }

    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
    }

    /// Runs `script` in the page, as the body of a function (`return` gives a value back;
    /// `arguments` holds `args`).
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("the page refused the script: {error}\n{script}"))
    }

    /// Runs `script` in the page as an asynchronous function: it answers by calling its last
    /// argument.
    pub async fn run_async(&self, script: &str) -> Value {
        self.run_async_with(script, Vec::new()).await
    }

    /// As [`Self::run_async`], with `args` before the callback in `arguments`.
    pub async fn run_async_with(&self, script: &str, args: Vec<Value>) -> Value {
        match tokio::time::timeout(WAIT, self.client.execute_async(script, args)).await {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => panic!("the page refused the script: {error}\n{script}"),
            Err(_) => {
                self.fail(&format!("the script did not answer within {WAIT:?}"))
                    .await
            }
        }
    }

    /// The first element matching `css`, once there is one.
    pub async fn wait_for(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => {
                self.fail(&format!("no element matches {css}: {error}"))
                    .await
            }
        }
    }

    pub async fn click(&self, css: &str) {
        if let Err(error) = self.wait_for(css).await.click().await {
            self.fail(&format!("cannot click {css}: {error}")).await
        }
    }

    /// Polls `script` until it returns something other than `null`, `false` or `undefined`, and
    /// gives that back. `what` says what the test waits for, for the failure message.
    pub async fn wait_until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.run(script, Vec::new()).await;
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            if Instant::now() > deadline {
                self.fail(&format!("waited {WAIT:?} for {what}")).await
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// A PNG of the window, kept under the cargo target folder; returns its path.
    pub async fn screenshot(&self, label: &str) -> PathBuf {
        let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
        std::fs::create_dir_all(&folder).expect("the screenshot folder");
        let path = folder.join(format!("{}-{label}.png", self.name));
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    /// Types `value` into the control labelled `label` inside the first element matching
    /// `scope`, replacing what it held, as a person would (a select is set to the option whose
    /// value or text is `value`).
    pub async fn fill(&self, scope: &str, label: &str, value: &str) {
        let id = self.control_id(scope, label).await;
        let select = self
            .run(
                "const control = document.getElementById(arguments[0]);
                 if (control.tagName !== 'SELECT') return false;
                 const option = [...control.options].find(option => option.value === arguments[1] || option.text.trim() === arguments[1]);
                 if (!option) return null;
                 control.value = option.value;
                 control.dispatchEvent(new Event('change', { bubbles: true }));
                 control.dispatchEvent(new Event('input', { bubbles: true }));
                 return true;",
                vec![json!(id), json!(value)],
            )
            .await;
        match select {
            Value::Bool(true) => return,
            Value::Null => self.fail(&format!("{label}: no option {value}")).await,
            _ => {}
        }
        let control = self.wait_for(&format!("[id='{id}']")).await;
        let typed = async {
            control.clear().await?;
            control.send_keys(value).await
        };
        if let Err(error) = typed.await {
            self.fail(&format!("cannot type into {label}: {error}"))
                .await
        }
    }

    /// The id of the control labelled `label` inside `scope`, once there is one.
    async fn control_id(&self, scope: &str, label: &str) -> String {
        let found = self
            .wait_until(
                &format!("a control labelled {label:?} in {scope}"),
                &format!(
                    "const scope = document.querySelector({scope});
                     if (!scope) return null;
                     const label = [...scope.querySelectorAll('label')]
                         .find(label => label.innerText.trim() === {label});
                     return label && label.htmlFor && document.getElementById(label.htmlFor) ? label.htmlFor : null;",
                    scope = json!(scope),
                    label = json!(label),
                ),
            )
            .await;
        found.as_str().unwrap_or_default().to_owned()
    }

    /// What the control labelled `label` inside `scope` holds.
    pub async fn value_of(&self, scope: &str, label: &str) -> String {
        let id = self.control_id(scope, label).await;
        let value = self
            .run(
                "return document.getElementById(arguments[0]).value",
                vec![json!(id)],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The error shown beside the control labelled `label` inside `scope`, once there is one:
    /// the element its `aria-describedby` names ending in `-error`.
    pub async fn field_error(&self, scope: &str, label: &str) -> String {
        let id = self.control_id(scope, label).await;
        let found = self
            .wait_until(
                &format!("an error beside {label:?}"),
                &format!(
                    "const control = document.getElementById({id});
                     const ids = (control?.getAttribute('aria-describedby') ?? '').split(' ');
                     const error = ids.filter(id => id.endsWith('-error')).map(id => document.getElementById(id))[0];
                     return error ? error.innerText : null;",
                    id = json!(id),
                ),
            )
            .await;
        found.as_str().unwrap_or_default().to_owned()
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> Value {
        self.run(
            "return document.querySelectorAll(arguments[0]).length",
            vec![json!(css)],
        )
        .await
    }

    /// Clicks the first button inside `scope` whose text is `text`.
    pub async fn press(&self, scope: &str, text: &str) {
        let script = format!(
            "const scope = document.querySelector({scope});
             const button = scope && [...scope.querySelectorAll('button')]
                 .find(button => button.innerText.trim() === {text} && !button.disabled);
             if (!button) return false;
             button.click();
             return true;",
            scope = json!(scope),
            text = json!(text),
        );
        self.wait_until(&format!("a button {text:?} in {scope}"), &script)
            .await;
    }

    /// The visible text of the first element matching `css`, once there is one.
    pub async fn text(&self, css: &str) -> String {
        let found = self
            .wait_until(
                &format!("an element {css}"),
                &format!(
                    "const found = document.querySelector({}); return found ? found.innerText : null;",
                    json!(css)
                ),
            )
            .await;
        found.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the visible text of the first element matching `css` satisfies `wanted` (a
    /// JavaScript expression over `text`), and gives the text back.
    pub async fn wait_for_text(&self, css: &str, wanted: &str) -> String {
        let found = self
            .wait_until(
                &format!("{css} to show {wanted}"),
                &format!(
                    "const found = document.querySelector({}); if (!found) return null;
                     const text = found.innerText; return ({wanted}) ? text : null;",
                    json!(css)
                ),
            )
            .await;
        found.as_str().unwrap_or_default().to_owned()
    }

    /// True when the page is no wider than the window: nothing to scroll sideways but the
    /// tables made to.
    pub async fn fits_the_window(&self) -> bool {
        self.run(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            Vec::new(),
        )
        .await
            == json!(true)
    }

    /// Resizes the window, e.g. to a phone's 390 px width.
    pub async fn resize(&self, width: u32, height: u32) {
        if let Err(error) = self.client.set_window_size(width, height).await {
            panic!("cannot resize the window to {width}x{height}: {error}")
        }
    }

    /// With `LM_UPDATE_SCREENSHOTS=1`, writes the window to docs/images/{name}.png, the picture
    /// the docs show; otherwise does nothing.
    pub async fn screenshot_for_docs(&self, name: &str) {
        if !std::env::var(UPDATE_SCREENSHOTS_ENV).is_ok_and(|value| value == "1") {
            return;
        }
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
        std::fs::create_dir_all(&folder).expect("docs/images");
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(folder.join(format!("{name}.png")), png).expect("the screenshot is written");
    }

    /// Runs axe-core in the page and fails the test on any serious or critical violation of
    /// the WCAG A and AA rules. Where axe-core is not installed the check is skipped, saying so,
    /// unless `LM_REQUIRE_BROWSER=1`.
    pub async fn assert_accessible(&self, page: &str) {
        let Some(axe) = axe_source() else { return };
        // WebDriver runs the script outside the page's Content-Security-Policy, which refuses
        // any script but the console's own.
        let script = format!(
            "{axe}\n;const done = arguments[arguments.length - 1];
             axe.run(document, {{ runOnly: {{ type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }} }})
               .then(results => done(results.violations
                   .filter(violation => ['serious', 'critical'].includes(violation.impact))
                   .map(violation => ({{ id: violation.id, impact: violation.impact, help: violation.help,
                       nodes: violation.nodes.slice(0, 5).map(node => node.target.join(' ') + ': ' + node.failureSummary) }}))))
               .catch(error => done([{{ id: 'axe-failed', help: String(error) }}]));"
        );
        let violations = self
            .client
            .execute_async(&script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("axe-core did not run on {page}: {error}"));
        if violations.as_array().is_some_and(|found| !found.is_empty()) {
            let listed = serde_json::to_string_pretty(&violations).unwrap_or_default();
            self.fail(&format!(
                "{page}: serious or critical accessibility violations:\n{listed}"
            ))
            .await
        }
    }

    /// Fails the test with `message`, a screenshot of the page as it is and its visible text.
    pub async fn fail(&self, message: &str) -> ! {
        let screenshot = self.screenshot("failure").await;
        let text = self
            .run(
                "return document.body ? document.body.innerText : ''",
                Vec::new(),
            )
            .await;
        panic!(
            "{message}\nscreenshot: {}\npage text:\n{}",
            screenshot.display(),
            text.as_str().unwrap_or_default()
        )
    }

    /// Ends the WebDriver session, which closes Chromium; chromedriver ends when dropped.
    pub async fn close(self) {
        if let Err(error) = self.client.clone().close().await {
            writeln!(std::io::stderr(), "closing the browser: {error}").ok();
        }
    }
}

impl Drop for Browser {
    /// Ends chromedriver's whole process group: after a failed test the session is still open,
    /// and Chromium must not outlive it.
    fn drop(&mut self) {
        Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status()
            .ok();
        self.driver.wait().ok();
    }
}

/// axe-core's source, from `LM_AXE_CORE` or where .ci/run installs it; `None` (saying why) where
/// it is not installed and not required.
fn axe_source() -> Option<String> {
    let path = std::env::var_os(AXE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join(AXE_INSTALLED)
        });
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(error) => {
            let reason = format!(
                "{}: {error}; npm install --prefix target/browser-tools axe-core (or set {AXE_ENV})",
                path.display()
            );
            if std::env::var(REQUIRE_ENV).is_ok_and(|value| value == "1") {
                panic!("accessibility checks cannot run: {reason} ({REQUIRE_ENV}=1 requires them)");
            }
            writeln!(std::io::stderr(), "\naccessibility check skipped: {reason}").ok();
            None
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("its address").port()
}

/// Waits for chromedriver's `/status` to say it takes sessions.
async fn wait_until_ready(webdriver: &str, log: &Path) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let status = http.get(format!("{webdriver}/status")).send().await;
        if let Ok(response) = status
            && let Ok(body) = response.json::<Value>().await
            && body["value"]["ready"] == json!(true)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start within {WAIT:?}; see {}",
            log.display()
        );
        tokio::time::sleep(POLL).await;
    }
}
