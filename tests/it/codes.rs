//! Every stable code a client can meet is documented: docs/api.md's table of error codes names
//! each code of the catalogue, so a code added in the source without a line there fails here.

use std::fs;
use std::path::Path;

use license_manager::codes::Code;

#[test]
fn every_code_of_the_catalogue_is_in_the_docs() {
    let docs = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api.md"))
        .expect("docs/api.md is readable");
    let table = docs
        .split("## Error codes")
        .nth(1)
        .expect("docs/api.md has a section \"Error codes\"");
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|code| code.as_str())
        .filter(|code| !table.contains(&format!("| `{code}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes missing from the table of docs/api.md: {missing:?}"
    );
}
