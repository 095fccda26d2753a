//! Marks the PostgreSQL test suites as ignored, with the reason shown in the test report, when
//! `TEST_DATABASE_URL` is not set; a runtime skip would be silent under `cargo test`.

fn main() {
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(lm_postgres_tests)");
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=lm_postgres_tests");
    }
}
