//! The results a run's costs are compared with: for each engine, the newest earlier results in
//! the same folder (`latest.json`, then `bench-*.json` newest first) that counted costs with the
//! same tenant size, requests per read and build profile. A run that measured other scenarios only is passed over,
//! so the comparison is always with the last run that counted costs.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::costs::PreviousCost;
use crate::scenarios::EngineResult;

/// Earlier results files looked at, newest first, at most.
const FILES_SEARCHED: usize = 100;

#[derive(Deserialize)]
struct Stored {
    generated_at: String,
    versions: Option<StoredVersions>,
    #[serde(default)]
    engines: Vec<StoredEngine>,
}

#[derive(Deserialize)]
struct StoredVersions {
    git_commit: String,
}

#[derive(Deserialize)]
struct StoredEngine {
    engine: Option<String>,
    costs: Option<StoredCosts>,
}

#[derive(Deserialize)]
struct StoredCosts {
    users: usize,
    requests: usize,
    profile: String,
    #[serde(default)]
    costs: Vec<StoredCost>,
}

#[derive(Deserialize)]
struct StoredCost {
    name: String,
    instructions: f64,
    allocations: f64,
}

/// Sets each measured cost's `previous` from the newest earlier results of the same engine,
/// tenant size, requests per read and profile that have a cost of the same name.
pub fn attach(dir: &Path, engines: &mut [EngineResult]) {
    for file in candidates(dir) {
        let Some(stored) = read(&file) else {
            continue;
        };
        let name = file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        for engine in engines.iter_mut() {
            attach_engine(engine, &stored, &name);
        }
        let all_found = engines.iter().all(|e| {
            e.costs
                .as_ref()
                .is_none_or(|c| c.costs.iter().all(|cost| cost.previous.is_some()))
        });
        if all_found {
            return;
        }
    }
}

fn attach_engine(engine: &mut EngineResult, stored: &Stored, file: &str) {
    let (Some(kind), Some(costs)) = (engine.engine, engine.costs.as_mut()) else {
        return;
    };
    let Some(before) = stored
        .engines
        .iter()
        .filter(|e| e.engine.as_deref() == Some(kind.name()))
        .filter_map(|e| e.costs.as_ref())
        .find(|c| {
            c.users == costs.users && c.requests == costs.requests && c.profile == costs.profile
        })
    else {
        return;
    };
    for cost in costs.costs.iter_mut().filter(|c| c.previous.is_none()) {
        if let Some(old) = before.costs.iter().find(|old| old.name == cost.name) {
            cost.previous = Some(PreviousCost {
                instructions: old.instructions,
                allocations: old.allocations,
                file: file.to_owned(),
                generated_at: stored.generated_at.clone(),
                commit: stored
                    .versions
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), |v| v.git_commit.clone()),
            });
        }
    }
}

/// `latest.json`, then the timestamped results newest first (their names sort by time).
fn candidates(dir: &Path) -> Vec<PathBuf> {
    let mut stamped: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("bench-") && n.ends_with(".json"))
        })
        .collect();
    stamped.sort();
    stamped.reverse();
    stamped.truncate(FILES_SEARCHED);
    std::iter::once(dir.join("latest.json"))
        .chain(stamped)
        .collect()
}

/// A results file, or None (with a note) when it cannot be read as one.
fn read(file: &Path) -> Option<Stored> {
    let text = std::fs::read_to_string(file).ok()?;
    serde_json::from_str(&text)
        .map_err(|e| {
            eprintln!(
                "bench: {} is not results bench can read: {e}",
                file.display()
            )
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Engine;
    use crate::costs::{Cost, CostResult};

    fn measured(users: usize) -> EngineResult {
        let cost = |name: &str| Cost {
            name: name.to_owned(),
            unit: "request",
            units: 10,
            instructions: 1_040_000.0,
            allocations: 100.0,
            polls: None,
            window_secs: 1.0,
            profile: PathBuf::new(),
            previous: None,
        };
        EngineResult {
            engine: Some(Engine::Sqlite),
            costs: Some(CostResult {
                users,
                requests: 10,
                profile: "release".to_owned(),
                costs: vec![cost("Q1"), cost("Q2")],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn results(users: usize, q1: f64) -> String {
        serde_json::json!({
            "generated_at": "2026-01-01T00:00:00Z",
            "versions": { "git_commit": format!("c{users}") },
            "engines": [{ "engine": "sqlite", "costs": { "users": users, "requests": 10, "profile": "release",
                "costs": [{ "name": "Q1", "instructions": q1, "allocations": 100.0 }] } }]
        })
        .to_string()
    }

    #[test]
    fn costs_are_compared_with_the_newest_results_of_the_same_users_and_profile() {
        let dir = std::env::temp_dir().join(format!("bench-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The newest results counted another tenant size: passed over for the older one.
        std::fs::write(dir.join("latest.json"), results(500, 9.0)).unwrap();
        std::fs::write(dir.join("bench-20260102T000000Z.json"), results(1_000, 1e6)).unwrap();
        std::fs::write(dir.join("bench-20260101T000000Z.json"), results(1_000, 2e6)).unwrap();
        let mut engines = vec![measured(1_000)];
        attach(&dir, &mut engines);
        std::fs::remove_dir_all(&dir).ok();

        let costs = &engines[0].costs.as_ref().unwrap().costs;
        let q1 = costs[0].previous.as_ref().expect("Q1 was measured before");
        assert_eq!(q1.file, "bench-20260102T000000Z.json");
        assert_eq!(q1.commit, "c1000");
        assert!(costs[1].previous.is_none(), "no earlier Q2 to compare with");
        let growth = costs[0].growth().unwrap();
        assert!((growth.0 - 0.04).abs() < 1e-9 && growth.1 == 0.0);
        assert_eq!(engines[0].costs.as_ref().unwrap().regressions().count(), 0);

        let costs = engines[0].costs.as_mut().unwrap();
        costs.costs[0].previous.as_mut().unwrap().instructions = 980_000.0;
        assert_eq!(
            costs.regressions().collect::<Vec<_>>(),
            ["Q1 instructions +6.1 %"]
        );
    }
}
