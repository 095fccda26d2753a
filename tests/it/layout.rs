//! The integration tests stay one binary: a file in `tests/` outside this folder would become a
//! test binary of its own (another link of the whole application), and a file in this folder
//! that no `mod` line names would never be compiled, so its tests would silently not run.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// The modules a folder holds: `name.rs` files and `name/mod.rs` folders, the root left out.
fn modules_in(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("the test folder is readable")
        .map(|entry| entry.expect("a readable entry").path())
        .filter_map(|path| {
            let name = path.file_stem()?.to_str()?.to_owned();
            let is_module = if path.is_dir() {
                path.join("mod.rs").is_file()
            } else {
                path.extension().is_some_and(|ext| ext == "rs") && name != "main" && name != "mod"
            };
            is_module.then_some(name)
        })
        .collect()
}

/// The names of the `mod name;` lines in `root` (a `main.rs` or `mod.rs`).
fn declared_in(root: &Path) -> BTreeSet<String> {
    fs::read_to_string(root)
        .expect("the module root is readable")
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("pub ").unwrap_or(line);
            line.strip_prefix("mod ")?.strip_suffix(';')
        })
        .map(str::to_owned)
        .collect()
}

/// Checks `dir` (whose root file is `root`) and its module folders; returns what is wrong.
fn undeclared(dir: &Path, root: &str) -> Vec<String> {
    let modules = modules_in(dir);
    let declared = declared_in(&dir.join(root));
    let mut problems: Vec<String> = modules
        .difference(&declared)
        .map(|name| {
            format!(
                "{} does not declare `mod {name};`",
                dir.join(root).display()
            )
        })
        .collect();
    for name in &modules {
        let folder = dir.join(name);
        if folder.is_dir() {
            problems.extend(undeclared(&folder, "mod.rs"));
        }
    }
    problems
}

#[test]
fn every_test_file_is_compiled_into_the_one_test_binary() {
    let problems = undeclared(&tests_dir().join("it"), "main.rs");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_test_file_outside_the_harness_becomes_a_binary_of_its_own() {
    let extra: Vec<String> = fs::read_dir(tests_dir())
        .expect("tests/ is readable")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| {
            let file_binary = path.extension().is_some_and(|ext| ext == "rs");
            let folder_binary = path.is_dir() && path.join("main.rs").is_file();
            (file_binary || folder_binary) && !path.ends_with("it")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        extra.is_empty(),
        "move these into tests/it/ (git mv) and add a `mod` line to tests/it/main.rs: {extra:?}"
    );
}
