//! The processes under test: graph-sim and the license-manager server run as children of the
//! harness, so the server's peak RSS is its own and not the load generator's. Each child is
//! killed when its guard is dropped, which also happens on an error or a panic.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// How long a child may take to say it is listening.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The binaries of the workspace under test.
pub struct Binaries {
    pub server: PathBuf,
    pub sim: PathBuf,
    /// Where bench keeps what it installs for itself (PostGraphile): under the target folder,
    /// so it is never committed and `cargo clean` removes it.
    pub cache: PathBuf,
    /// The cargo profile they were built in (`release`, `debug`): instruction counts of one are
    /// not comparable with the other's.
    pub profile: String,
}

impl Binaries {
    /// The binaries beside this one (`cargo run [--release] -p bench` puts them all in one
    /// target folder), built first with `cargo build` unless `build` is false.
    pub fn locate(build: bool) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the bench binary")?;
        let dir = exe
            .parent()
            .context("the bench binary has no parent folder")?
            .to_owned();
        if build {
            self::build(&dir)?;
        }
        let binaries = Self {
            server: dir.join("license-manager"),
            sim: dir.join("graph-sim"),
            cache: dir.parent().unwrap_or(&dir).join("bench-cache"),
            profile: dir.file_name().map_or_else(
                || "unknown".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            ),
        };
        for path in [&binaries.server, &binaries.sim] {
            anyhow::ensure!(
                path.is_file(),
                "{} is missing; run without --no-build",
                path.display()
            );
        }
        Ok(binaries)
    }
}

/// `cargo build [--release] -p bench -p license-manager -p graph-sim` in the profile this binary
/// was built with (its folder's name), so the server measured is the code of this checkout.
/// Naming bench too keeps the feature set that `cargo run -p bench` resolved: bench stays fresh
/// and nothing is rebuilt twice. CI runs the debug profile, reusing what its tests compiled.
fn build(dir: &Path) -> anyhow::Result<()> {
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("release") => Some("--release"),
        Some("debug") => None,
        _ => bail!(
            "{} is not a cargo profile folder; build the binaries yourself and pass --no-build",
            dir.display()
        ),
    };
    // `cargo run` exports CARGO; CARGO_TARGET_DIR is inherited as is.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "bench: building license-manager and graph-sim ({})",
        dir.display()
    );
    let mut command = std::process::Command::new(cargo);
    // `cargo run` gives this process the package variables of bench (CARGO_PKG_NAME,
    // CARGO_MANIFEST_DIR, …). Build scripts that track them (ring's does) would see them change
    // and rebuild half the tree on every run, so the inner build must not inherit them.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || matches!(
                key.as_ref(),
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            command.env_remove(key.as_ref());
        }
    }
    let status = command
        .arg("build")
        .args(profile)
        .args(["-p", "bench", "-p", "license-manager", "-p", "graph-sim"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .status()
        .context("cannot run cargo build")?;
    anyhow::ensure!(status.success(), "cargo build failed ({status})");
    Ok(())
}

/// A child process that is killed when this guard is dropped.
pub struct Process {
    name: &'static str,
    child: Child,
    pid: u32,
}

impl Process {
    pub fn spawn(name: &'static str, command: &mut Command) -> anyhow::Result<Self> {
        let child = command
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let pid = child
            .id()
            .with_context(|| format!("{name} exited at once"))?;
        Ok(Self { name, child, pid })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Fails if the process has exited (a crash during a scenario must not go unnoticed).
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!("{} exited unexpectedly ({status})", self.name),
            Err(e) => bail!("cannot check on {}: {e}", self.name),
        }
    }

    /// Kills the process and waits for it, so the next scenario starts on a quiet machine.
    pub async fn stop(mut self) {
        if let Err(e) = self.child.kill().await {
            eprintln!("bench: cannot kill {}: {e}", self.name);
        }
    }
}

/// What graph-sim prints once listening.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimInfo {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub base_url: String,
    /// The identity provider's issuer and the audience of its access tokens for the API.
    pub issuer: String,
    pub api_client_id: String,
}

/// Starts a simulated tenant and waits for its JSON line. `grants` are application permissions
/// the app holds beyond graph-sim's default read permissions (e.g. license writes).
pub async fn start_sim(
    binary: &Path,
    users: usize,
    seed: u64,
    latency_ms: u64,
    grants: &[&str],
    log: &Path,
) -> anyhow::Result<(Process, SimInfo)> {
    let log_file =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut process = Process::spawn(
        "graph-sim",
        Command::new(binary)
            .args(["--listen", "127.0.0.1:0"])
            .args(["--users", &users.to_string()])
            .args(["--seed", &seed.to_string()])
            .args(["--latency-ms", &latency_ms.to_string()])
            .args(grants.iter().flat_map(|grant| ["--grant", grant]))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file),
    )?;
    let stdout = process
        .child
        .stdout
        .take()
        .context("graph-sim's stdout is not piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(STARTUP_TIMEOUT, lines.next_line())
        .await
        .context("graph-sim did not start in time")?
        .context("cannot read graph-sim's stdout")?
        .with_context(|| format!("graph-sim exited; see {}", log.display()))?;
    let info = serde_json::from_str(&line)
        .with_context(|| format!("graph-sim printed an unexpected line: {line}"))?;
    Ok((process, info))
}

/// How the server under test is configured.
pub struct ServerConfig<'a> {
    pub database_url: &'a str,
    pub data_dir: &'a Path,
    pub graph_url: &'a str,
    /// `LM_OIDC_ISSUER` and `LM_OIDC_AUDIENCE`: graph-sim's identity provider.
    pub oidc_issuer: &'a str,
    pub oidc_audience: &'a str,
    pub jwt_secret: &'a str,
    /// RUST_LOG; it must keep the info line that says where the server listens.
    pub log_filter: &'a str,
    pub log: &'a Path,
    /// Further settings, e.g. `LM_RECLAIM_PARALLEL_ITEMS`.
    pub env: &'a [(&'static str, String)],
    /// A program and its arguments the server runs under (valgrind for the cost pass); empty
    /// for none. The process keeps the launcher's pid: valgrind executes the server in place.
    pub launcher: &'a [String],
}

/// Starts `license-manager serve` on a free port; returns it with its address once it logs
/// that it serves GraphQL. Its stderr is copied to `config.log`.
pub async fn start_server(
    binary: &Path,
    config: &ServerConfig<'_>,
) -> anyhow::Result<(Process, String)> {
    let mut command = match config.launcher.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    let mut process = Process::spawn(
        "license-manager",
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", config.database_url)
            .env("LM_DATA_DIR", config.data_dir)
            .env("LM_MICROSOFT_LOGIN_URL", config.graph_url)
            .env("LM_MICROSOFT_GRAPH_URL", config.graph_url)
            .env("LM_OIDC_ISSUER", config.oidc_issuer)
            .env("LM_OIDC_AUDIENCE", config.oidc_audience)
            .env("LM_JWT_SECRET", config.jwt_secret)
            .env("RUST_LOG", config.log_filter)
            .envs(config.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )?;
    let stderr = process
        .child
        .stderr
        .take()
        .context("the server's stderr is not piped")?;
    let (tx, rx) = oneshot::channel();
    tokio::spawn(copy_log(stderr, config.log.to_owned(), tx));
    let addr = tokio::time::timeout(STARTUP_TIMEOUT, rx)
        .await
        .context("the server did not start in time")?
        .with_context(|| format!("the server exited; see {}", config.log.display()))?;
    Ok((process, addr))
}

/// Copies the server's log to a file, and hands over the address of its listening line. The
/// pipe must be drained for the whole run, or the server would block on a full pipe.
async fn copy_log(
    stderr: tokio::process::ChildStderr,
    path: PathBuf,
    listening: oneshot::Sender<String>,
) {
    const MARKER: &str = "serving GraphQL at http://";
    let mut listening = Some(listening);
    let mut file = match tokio::fs::File::create(&path).await {
        Ok(file) => Some(file),
        Err(e) => {
            eprintln!("bench: cannot write {}: {e}", path.display());
            None
        }
    };
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(rest) = line.split(MARKER).nth(1) {
            let addr = rest.split('/').next().unwrap_or_default().to_owned();
            if let Some(tx) = listening.take() {
                tx.send(addr).ok();
            }
        }
        if let Some(f) = file.as_mut() {
            // A lost log line must not end the copy: the pipe still has to be drained.
            f.write_all(line.as_bytes()).await.ok();
            f.write_all(b"\n").await.ok();
        }
    }
}

/// Peak resident memory of a process, from /proc (Linux only).
pub struct Memory {
    pid: u32,
}

impl Memory {
    pub fn of(process: &Process) -> Self {
        Self { pid: process.pid() }
    }

    /// Starts a new peak: writing 5 to clear_refs resets VmHWM to the current RSS, so the peak
    /// read later belongs to what ran in between, not to server start-up.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    /// VmHWM in bytes.
    pub fn peak(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("cannot read the server's /proc status")?;
        status_kib(&status, "VmHWM:")
            .map(|kib| kib * 1024)
            .context("no VmHWM in /proc status")
    }
}

/// A `Name:   1234 kB` line of /proc/<pid>/status or /proc/meminfo, in KiB.
pub fn status_kib(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
