//! The data folder and the files this product writes into it: the generated keys and the
//! embedded database, which holds directory data (names, mail addresses, sign-in dates). What the
//! product creates is for its owner only; what an admin created is left as it is.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Once;

/// Permission bits for the group and everyone else.
const OTHERS: u32 = 0o077;

/// Makes sure `path` exists. A missing folder is created, with its missing parents, as 0700. An
/// existing one keeps its mode; one that others may enter is reported once per process, as the
/// files written into it are still 0600.
pub fn ensure(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(metadata) => {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & OTHERS != 0 {
                static REPORTED: Once = Once::new();
                REPORTED.call_once(|| {
                    tracing::info!(
                        path = %path.display(),
                        mode = format!("{mode:o}"),
                        "the data folder is open to other users and is left as it is; the keys \
                         and the database written into it are readable by their owner only"
                    );
                });
            }
            Ok(())
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            // Recursive: two processes starting together may both get here.
            DirBuilder::new().recursive(true).mode(0o700).create(path)?;
            tracing::info!(path = %path.display(), "created the data folder (mode 700)");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Creates an empty file at `path`, readable and writable by its owner only, unless something is
/// there already. True when this call created it.
pub fn create_private_file(path: &Path) -> io::Result<bool> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}

/// True when users other than the owner may read or write the file at `path`.
pub fn open_to_others(path: &Path) -> io::Result<bool> {
    Ok(fs::metadata(path)?.permissions().mode() & OTHERS != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("exists").permissions().mode() & 0o777
    }

    #[test]
    fn a_missing_folder_is_created_private_with_its_parents() {
        let root = tempfile::tempdir().expect("temporary folder");
        let data = root.path().join("var").join("license-manager");
        ensure(&data).expect("created");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&root.path().join("var")), 0o700);
        ensure(&data).expect("found again");
    }

    #[test]
    fn an_existing_folder_keeps_its_mode() {
        let root = tempfile::tempdir().expect("temporary folder");
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        ensure(root.path()).expect("exists");
        assert_eq!(mode(root.path()), 0o755);
    }

    #[test]
    fn a_private_file_is_created_once() {
        let root = tempfile::tempdir().expect("temporary folder");
        let file = root.path().join("db");
        assert!(create_private_file(&file).expect("created"));
        assert_eq!(mode(&file), 0o600);
        assert!(!open_to_others(&file).expect("exists"));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(!create_private_file(&file).expect("left alone"));
        assert_eq!(mode(&file), 0o644);
        assert!(open_to_others(&file).expect("exists"));
    }
}
