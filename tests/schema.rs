//! `schema.graphql` is the contract frontends build on; it must be exactly what the code serves.

#[test]
fn checked_in_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let generated = license_manager::api::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).expect("schema.graphql written");
        return;
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "schema.graphql differs from the schema the code serves; regenerate it with\n\n    UPDATE_SCHEMA=1 cargo test --test schema\n\nand review the diff"
    );
}
