//! Data flows one way through the server's modules: a provider reads its service, sync writes
//! what it read into the database, the domain reads it back, the API serves the domain, HTTP
//! serves the API, and the application wires them and runs the jobs. A module may use its own
//! layer and the layers below it, never one above: docs/architecture.md explains the rule, and
//! this test holds it by reading every `crate::` path in `src/`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first, and the top-level modules of `src/` each one holds.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation",
        // `Error` and `Result` are the crate root's names for `error::{Error, Result}`.
        &[
            "error", "Error", "Result", "codes", "crypto", "keyfile", "data_dir", "metrics",
            "auth", "entities", "db",
        ],
    ),
    ("providers", &["providers"]),
    ("sync", &["sync"]),
    ("domain", &["domain"]),
    ("api", &["api"]),
    ("http", &["http"]),
    (
        "application",
        &["app", "config", "demo", "jobs", "lib", "main"],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn source_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a readable entry").path();
        if path.is_dir() {
            source_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to: `api` for `src/api/types/user.rs`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("a file under src/");
    let first = relative
        .components()
        .next()
        .expect("a path with a first component");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_owned()
}

/// The code of a file without its comments, where doc links name modules without using them.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules that `crate::` paths in `code` name, `use crate::{a, b::c}` included.
fn modules_named(code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            named.extend(top_level_names(group));
        } else {
            named.insert(identifier_at(rest));
        }
    }
    named.retain(|name| !name.is_empty());
    named
}

/// The first name of each path in a `{…}` group, up to its closing brace.
fn top_level_names(group: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0;
    let mut expecting_name = true;
    for (at, character) in group.char_indices() {
        match character {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expecting_name = true,
            c if expecting_name && depth == 0 && !c.is_whitespace() => {
                names.push(identifier_at(&group[at..]));
                expecting_name = false;
            }
            _ => {}
        }
    }
    names
}

fn identifier_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer_of(&module) else {
            problems.push(format!(
                "src/{module} is in no layer: add it to LAYERS here and to docs/architecture.md"
            ));
            continue;
        };
        let text = fs::read_to_string(file).expect("a readable source file");
        for used in modules_named(&code_of(&text)) {
            match layer_of(&used) {
                Some(layer) if layer > own => problems.push(format!(
                    "{} ({}) uses crate::{used} ({}), a layer above it",
                    file.strip_prefix(&src).expect("under src/").display(),
                    LAYERS[own].0,
                    LAYERS[layer].0,
                )),
                Some(_) => {}
                None => problems.push(format!(
                    "{} uses crate::{used}, which is in no layer",
                    file.strip_prefix(&src).expect("under src/").display()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reader_finds_every_module_a_use_line_names() {
    let code = "use crate::{api::{self, Api}, auth::Claims, db};\nuse crate::http::AppState;\n\
                let x = crate::domain::users::get(); // crate::jobs in a comment";
    let named: Vec<String> = modules_named(&code_of(code)).into_iter().collect();
    assert_eq!(named, ["api", "auth", "db", "domain", "http"]);
}
