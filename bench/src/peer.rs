//! A peer measured side by side: PostGraphile 4.14 (the last line that runs on Node 20) serves
//! the PostgreSQL database the server synced into, and Q1's equivalent is measured on it with
//! the same load code. It is installed from npm into the target folder on first use and reused
//! after; without Node.js or npm, or when the install fails, the peer is skipped with its
//! reason and the rest of the run goes on.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::load::Target;
use crate::processes::Process;

/// The npm version range: 4.14 is the last line of PostGraphile that runs on Node 20.
const PACKAGE: &str = "postgraphile@4.14.x";
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Start-up includes introspecting the whole schema.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Q1 in PostGraphile's default schema: the first 100 users that are not removed, in our
/// default order (display name, nulls last as PostgreSQL sorts them ascending, then id), each
/// with its assignments and each assignment's SKU display name. The relations come from the
/// foreign keys `license_assignments.user_id` and `license_assignments.license_sku_id`.
pub const Q1: &str = "query { allDirectoryUsers(first: 100, orderBy: [DISPLAY_NAME_ASC, ID_ASC], \
                      condition: { removedAt: null }) { edges { node { userPrincipalName \
                      licenseAssignmentsByUserId { nodes { licenseSkusByLicenseSkuId { \
                      displayName } } } } } } }";

/// PostGraphile, installed and ready to start.
pub struct Installed {
    cli: PathBuf,
    pub version: String,
}

/// The installed PostGraphile, installing it into `cache` first when it is not there; `Err`
/// says why the peer cannot run here.
pub async fn install(cache: &Path, logs: &Path) -> Result<Installed, String> {
    if !runs("node").await {
        return Err("Node.js not found".to_owned());
    }
    let prefix = cache.join("postgraphile-4.14");
    if let Some(installed) = installed(&prefix) {
        return Ok(installed);
    }
    if !runs("npm").await {
        return Err("npm not found".to_owned());
    }
    let log = logs.join("postgraphile-install.log");
    eprintln!("bench: installing {PACKAGE} into {}", prefix.display());
    let status = npm_install(&prefix, &log).await;
    if !status.as_ref().is_ok_and(|status| status.success()) {
        // A half-installed package would pass for installed next time and fail to start.
        std::fs::remove_dir_all(&prefix).ok();
    }
    let status = status.map_err(|e| format!("npm install {PACKAGE} failed: {e:#}"))?;
    if !status.success() {
        return Err(format!(
            "npm install {PACKAGE} failed ({status}); see {}",
            log.display()
        ));
    }
    installed(&prefix)
        .ok_or_else(|| format!("npm installed no postgraphile in {}", prefix.display()))
}

fn installed(prefix: &Path) -> Option<Installed> {
    let package = prefix.join("node_modules/postgraphile");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(package.join("package.json")).ok()?).ok()?;
    let version = manifest["version"].as_str()?.to_owned();
    version.starts_with("4.14.").then(|| Installed {
        cli: package.join("cli.js"),
        version,
    })
}

async fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}

async fn npm_install(prefix: &Path, log: &Path) -> anyhow::Result<std::process::ExitStatus> {
    std::fs::create_dir_all(prefix)
        .with_context(|| format!("cannot create {}", prefix.display()))?;
    let log = std::fs::File::create(log).context("cannot create the install log")?;
    let mut child = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(prefix)
        .arg(PACKAGE)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("cannot run npm")?;
    tokio::time::timeout(INSTALL_TIMEOUT, child.wait())
        .await
        .context("timed out (no registry?)")?
        .context("npm did not finish")
}

/// A running PostGraphile; killed when dropped.
pub struct Server {
    pub process: Process,
    pub url: String,
}

/// Starts PostGraphile on a free port against `database_url` and waits until it answers.
/// Options: the `public` schema, no mutations (it only reads), no query log (it would write
/// every request to the log and slow it down), the production mode of Node.
pub async fn start(
    installed: &Installed,
    database_url: &str,
    http: &reqwest::Client,
    log: &Path,
) -> anyhow::Result<Server> {
    let port = free_port()?;
    let log_file =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut process = Process::spawn(
        "postgraphile",
        Command::new("node")
            .arg(&installed.cli)
            .args(["--connection", database_url])
            .args(["--schema", "public", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--disable-default-mutations", "--disable-query-log"])
            .env("NODE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file),
    )?;
    let url = format!("http://127.0.0.1:{port}/graphql");
    let started = Instant::now();
    loop {
        process
            .ensure_running()
            .with_context(|| format!("see {}", log.display()))?;
        if query(http, &url, "{ __typename }").await.is_ok() {
            return Ok(Server { process, url });
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            bail!("PostGraphile did not answer in time; see {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A port that was free a moment ago (PostGraphile takes a port number, not a listener).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
    Ok(listener.local_addr()?.port())
}

/// Runs a query without credentials; returns its `data`.
async fn query(http: &reqwest::Client, url: &str, text: &str) -> anyhow::Result<Value> {
    let response = http
        .post(url)
        .json(&json!({ "query": text }))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if !status.is_success() || body.get("errors").is_some() {
        bail!("{status}: {body}");
    }
    Ok(body["data"].clone())
}

impl Server {
    /// Q1 as a load target (no bearer token: PostGraphile without a JWT secret refuses one).
    pub fn target(&self, http: &reqwest::Client) -> anyhow::Result<Target> {
        Target::new(http.clone(), self.url.clone(), None, Q1, json!({}))
    }

    /// Sends Q1 once and fails unless it returns the same users, licenses and SKU names as
    /// ours did (`ours` is the `data` of our Q1), with at least one licensed user: measuring an
    /// empty or different answer would compare nothing.
    pub async fn verify(&self, http: &reqwest::Client, ours: &Value) -> anyhow::Result<()> {
        let theirs = query(http, &self.url, Q1)
            .await
            .context("PostGraphile's Q1 failed")?;
        let theirs = users(
            &theirs["allDirectoryUsers"],
            |node| &node["licenseAssignmentsByUserId"]["nodes"],
            "licenseSkusByLicenseSkuId",
        )
        .context("PostGraphile's Q1 answer has an unexpected shape")?;
        let ours = users(&ours["users"], |node| &node["licenses"], "sku")
            .context("our Q1 answer has an unexpected shape")?;
        compare(&ours, &theirs)
    }
}

/// A user's principal name and the sorted SKU names of its licenses.
type UserLicenses = (String, Vec<String>);

/// The users of a connection's edges, with the SKU names under `licenses(node)[].sku_field`.
fn users(
    connection: &Value,
    licenses: impl Fn(&Value) -> &Value,
    sku_field: &str,
) -> Option<Vec<UserLicenses>> {
    connection["edges"]
        .as_array()?
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            let mut skus = licenses(node)
                .as_array()?
                .iter()
                .map(|license| {
                    license[sku_field]["displayName"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect::<Option<Vec<_>>>()?;
            skus.sort();
            Some((node["userPrincipalName"].as_str()?.to_owned(), skus))
        })
        .collect()
}

fn compare(ours: &[UserLicenses], theirs: &[UserLicenses]) -> anyhow::Result<()> {
    anyhow::ensure!(
        theirs.len() == ours.len(),
        "PostGraphile returned {} users, ours {}",
        theirs.len(),
        ours.len()
    );
    anyhow::ensure!(
        ours.len() == 100,
        "Q1 returned {} users, not 100: the tenant is too small to compare",
        ours.len()
    );
    anyhow::ensure!(
        ours.iter().any(|(_, skus)| !skus.is_empty()),
        "no user of Q1's page has a license: there is nothing to compare"
    );
    if let Some((a, b)) = ours.iter().zip(theirs).find(|(a, b)| a != b) {
        bail!("the answers differ: ours has {a:?} where PostGraphile has {b:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(users: usize, licensed: bool) -> Vec<UserLicenses> {
        (0..users)
            .map(|i| {
                let skus = if licensed {
                    vec!["E3".to_owned()]
                } else {
                    Vec::new()
                };
                (format!("u{i}@x"), skus)
            })
            .collect()
    }

    #[test]
    fn the_peer_must_answer_the_same_licensed_page() {
        assert!(compare(&page(100, true), &page(100, true)).is_ok());
        assert!(compare(&page(100, true), &page(99, true)).is_err());
        assert!(compare(&page(100, false), &page(100, false)).is_err());
        let mut other = page(100, true);
        other[42].1.clear();
        assert!(compare(&page(100, true), &other).is_err());
    }

    #[test]
    fn both_shapes_read_into_users_with_sorted_sku_names() {
        let ours = json!({ "edges": [{ "node": { "userPrincipalName": "a@x",
            "licenses": [{ "sku": { "displayName": "Z" } }, { "sku": { "displayName": "A" } }] } }] });
        let theirs = json!({ "edges": [{ "node": { "userPrincipalName": "a@x",
            "licenseAssignmentsByUserId": { "nodes": [
                { "licenseSkusByLicenseSkuId": { "displayName": "A" } },
                { "licenseSkusByLicenseSkuId": { "displayName": "Z" } }] } } }] });
        let expected = vec![("a@x".to_owned(), vec!["A".to_owned(), "Z".to_owned()])];
        assert_eq!(
            users(&ours, |n| &n["licenses"], "sku"),
            Some(expected.clone())
        );
        assert_eq!(
            users(
                &theirs,
                |n| &n["licenseAssignmentsByUserId"]["nodes"],
                "licenseSkusByLicenseSkuId"
            ),
            Some(expected)
        );
    }
}
