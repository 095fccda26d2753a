//! The server under valgrind's callgrind, which counts the instructions the process executes:
//! the same work gives nearly the same count on any host, where a timing moves by a third from
//! hour to hour. The server starts with instrumentation off (at a fraction of callgrind's
//! slowdown) and bench turns it on for exactly the work it measures, then dumps the counters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

/// The allocator's entry points: jemalloc's, unprefixed, serve Rust (through `__rust_alloc`) and
/// SQLite alike, so the calls into them are every allocation the process makes.
const ALLOCATORS: [&str; 9] = [
    "malloc",
    "calloc",
    "realloc",
    "mallocx",
    "rallocx",
    "aligned_alloc",
    "posix_memalign",
    "memalign",
    "valloc",
];

/// How long a dump may take to appear on disk after callgrind_control returned.
const DUMP_TIMEOUT: Duration = Duration::from_secs(30);

/// valgrind's version, or why the cost pass cannot run here.
pub async fn available() -> Result<String, String> {
    let version = tool_output("valgrind", &["--version"]).await?;
    tool_output("callgrind_control", &["--version"]).await?;
    tool_output("taskset", &["--version"]).await?;
    Ok(version)
}

async fn tool_output(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|e| format!("{program} not found ({e})"))?;
    if !output.status.success() {
        return Err(format!("{program} {} failed", args.join(" ")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The command the server is started under: its dumps go to `out` (then `out.1`, `out.2`, …).
/// The server is given one CPU: it sizes its worker threads, its SQLite pool and jemalloc its
/// arenas by the CPUs it sees, and each would change the counts from one host to another
/// (callgrind runs one thread at a time anyway).
pub fn launcher(out: &Path) -> Vec<String> {
    vec![
        "taskset".to_owned(),
        "--cpu-list".to_owned(),
        first_allowed_cpu(),
        "valgrind".to_owned(),
        "--tool=callgrind".to_owned(),
        "--instr-atstart=no".to_owned(),
        format!("--callgrind-out-file={}", out.display()),
    ]
}

/// The first CPU this process may run on (a container may not allow CPU 0), from
/// /proc/self/status; 0 where that cannot be read.
fn first_allowed_cpu() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
                .and_then(|list| list.trim().split([',', '-']).next())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "0".to_owned())
}

/// What one measured window counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Count {
    pub instructions: u64,
    pub allocations: u64,
    /// How long the window lasted: the server's timers run in it in proportion.
    pub secs: f64,
}

/// A process running under callgrind, and the dumps taken of it so far.
pub struct Callgrind {
    pid: u32,
    out: PathBuf,
    dumps: u32,
}

impl Callgrind {
    pub fn new(pid: u32, out: PathBuf) -> Self {
        Self { pid, out, dumps: 0 }
    }

    /// Counts what `work` makes the process do; the dump is kept as `keep` for
    /// callgrind_annotate.
    pub async fn count<T>(
        &mut self,
        keep: &Path,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<(T, Count)> {
        self.control(&["--instr=on"]).await?;
        let started = std::time::Instant::now();
        let done = work.await;
        let secs = started.elapsed().as_secs_f64();
        self.control(&["--instr=off"]).await?;
        let count = self.dump(keep).await?;
        Ok((done?, Count { secs, ..count }))
    }

    async fn dump(&mut self, keep: &Path) -> anyhow::Result<Count> {
        self.control(&["--dump"]).await?;
        self.dumps += 1;
        let part = PathBuf::from(format!("{}.{}", self.out.display(), self.dumps));
        let waited = tokio::time::timeout(DUMP_TIMEOUT, async {
            while !part.is_file() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        waited
            .await
            .with_context(|| format!("callgrind wrote no {}", part.display()))?;
        std::fs::rename(&part, keep)
            .with_context(|| format!("cannot move {} to {}", part.display(), keep.display()))?;
        let text = std::fs::read_to_string(keep)
            .with_context(|| format!("cannot read {}", keep.display()))?;
        parse(&text).with_context(|| format!("{} is not a callgrind profile", keep.display()))
    }

    async fn control(&self, args: &[&str]) -> anyhow::Result<()> {
        let output = Command::new("callgrind_control")
            .args(args)
            .arg(self.pid.to_string())
            .output()
            .await
            .context("cannot run callgrind_control")?;
        if !output.status.success() {
            bail!(
                "callgrind_control {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

/// The instructions (the `totals:` line; `Ir` is the only event collected) and the calls into
/// the allocator of one callgrind profile. Function names may be compressed: the first use of
/// an id gives `(id) name`, later ones `(id)` alone; a recursion level is a `'N` suffix.
fn parse(text: &str) -> Option<Count> {
    let mut names = std::collections::HashMap::new();
    let mut callee_allocates = false;
    let mut instructions = None;
    let mut allocations = 0;
    for line in text.lines() {
        // A dump requested from outside writes `summary: 0`; its `totals:` line has the count.
        if let Some(total) = line.strip_prefix("totals:") {
            instructions = total.split_whitespace().next()?.parse().ok();
        } else if let Some(name) = line.strip_prefix("cfn=") {
            let name = function_name(&mut names, name);
            callee_allocates = ALLOCATORS.contains(&name.split('\'').next().unwrap_or_default());
        } else if let Some(name) = line.strip_prefix("fn=") {
            function_name(&mut names, name);
        } else if let Some(calls) = line.strip_prefix("calls=")
            && callee_allocates
        {
            allocations += calls.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(Count {
        instructions: instructions?,
        allocations,
        secs: 0.0,
    })
}

/// Resolves a compressed function name, remembering new ones.
fn function_name(names: &mut std::collections::HashMap<String, String>, text: &str) -> String {
    let Some(rest) = text.strip_prefix('(') else {
        return text.to_owned();
    };
    let Some((id, name)) = rest.split_once(')') else {
        return text.to_owned();
    };
    let name = name.trim();
    if name.is_empty() {
        names.get(id).cloned().unwrap_or_default()
    } else {
        names.insert(id.to_owned(), name.to_owned());
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_instructions_and_calls_into_the_allocator_through_compressed_names() {
        let profile = "events: Ir\nsummary: 0\n\nfn=(1) main\n0 10\ncfn=(2) malloc\ncalls=3 0\n\
                       0 30\ncfn=(3) free\ncalls=5 0\n0 9\nfn=(4) helper\ncfn=(2)\ncalls=4 0\n0 8\n\
                       cfn=(5) realloc'2\ncalls=1 0\n0 2\ncfn=(6) malloc_usable_size\ncalls=7 0\n\
                       0 1\ntotals: 1234\n";
        assert_eq!(
            parse(profile),
            Some(Count {
                instructions: 1234,
                allocations: 8,
                secs: 0.0
            })
        );
        assert_eq!(parse("events: Ir\nfn=(1) main\n"), None);
    }
}
