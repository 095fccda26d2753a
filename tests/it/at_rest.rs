//! What the product leaves on disk: the data folder it creates is its owner's only (0700), and so
//! are the generated keys and the SQLite database with its -wal and -shm files (0600), which hold
//! the directory's personal data. A folder the admin made keeps the mode the admin gave it.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Engine, Options, TestDatabase};
use license_manager::app::{self, Application};
use license_manager::crypto::SECRET_KEY_FILE;

/// The permission bits as `ls` and `chmod` write them, e.g. "600".
fn mode(path: &Path) -> String {
    let metadata = fs::metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    format!("{:o}", metadata.permissions().mode() & 0o777)
}

/// Starts the server on `data_dir` and checks the files it wrote there while it runs.
async fn assert_private_files(engine: Engine, data_dir: &Path) {
    let database = TestDatabase::create(engine, data_dir).await;
    let application = Application::build(common::settings(
        &database.url,
        data_dir,
        &Options::default(),
    ))
    .await
    .expect("the server starts");
    let mut files = vec![app::JWT_SECRET_FILE.to_owned(), SECRET_KEY_FILE.to_owned()];
    if engine == Engine::Sqlite {
        // WAL mode: the log and the shared-memory index exist while the database is open.
        files.extend(["", "-wal", "-shm"].map(|suffix| format!("license-manager.db{suffix}")));
    }
    for file in files {
        assert_eq!(mode(&data_dir.join(&file)), "600", "{file}");
    }
    drop(application);
    database.drop_database().await;
}

async fn a_data_folder_the_product_creates_is_private(engine: Engine) {
    let root = tempfile::tempdir().expect("temporary folder");
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let data_dir = root.path().join("license-manager");
    assert_private_files(engine, &data_dir).await;
    assert_eq!(mode(&data_dir), "700");
}

async fn an_existing_data_folder_keeps_its_mode(engine: Engine) {
    let root = tempfile::tempdir().expect("temporary folder");
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_private_files(engine, root.path()).await;
    assert_eq!(mode(root.path()), "755");
}

engine_tests!(
    a_data_folder_the_product_creates_is_private,
    an_existing_data_folder_keeps_its_mode,
);
