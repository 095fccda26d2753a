//! Keys generated on an embedded first start and kept in the data folder, readable by the owner
//! only, so that a restart finds the same keys and tokens minted earlier stay valid.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;

const KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read or write the key file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the key file {path} is not {KEY_BYTES} bytes of base64; move it away to generate a new one"
    )]
    Corrupt { path: PathBuf },
}

/// A key read from, or just written to, the data folder.
pub struct KeyFile {
    pub key: Vec<u8>,
    pub path: PathBuf,
    /// True when this call generated the key: the first start of a new installation.
    pub created: bool,
}

/// Returns the key stored at `data_dir/name`, creating it with 256 random bits and mode 0600 when
/// absent. Two processes starting together agree on one key: each writes its candidate to a
/// private temporary file and hard-links it into place, which only one can do, so no process
/// ever reads a half-written key.
pub fn load_or_create(data_dir: &Path, name: &str) -> Result<KeyFile, KeyFileError> {
    let path = data_dir.join(name);
    let io_error = |source| KeyFileError::Io {
        path: path.clone(),
        source,
    };
    crate::data_dir::ensure(data_dir).map_err(io_error)?;
    if path.exists() {
        return read(&path);
    }
    let mut key = vec![0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    let candidate = data_dir.join(format!(
        ".{name}.{}.{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    write_private(&candidate, &BASE64.encode(&key)).map_err(io_error)?;
    let linked = fs::hard_link(&candidate, &path);
    fs::remove_file(&candidate).ok();
    match linked {
        Ok(()) => Ok(KeyFile {
            key,
            path,
            created: true,
        }),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => read(&path),
        Err(error) => Err(io_error(error)),
    }
}

fn write_private(path: &Path, text: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(format!("{text}\n").as_bytes())?;
    file.sync_all()
}

fn read(path: &Path) -> Result<KeyFile, KeyFileError> {
    let io_error = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let text = fs::read_to_string(path).map_err(io_error)?;
    let mode = fs::metadata(path).map_err(io_error)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "key file is readable by other users; run chmod 600 on it");
    }
    let key = BASE64
        .decode(text.trim())
        .ok()
        .filter(|key| key.len() == KEY_BYTES)
        .ok_or_else(|| KeyFileError::Corrupt {
            path: path.to_owned(),
        })?;
    Ok(KeyFile {
        key,
        path: path.to_owned(),
        created: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_private_and_found_again() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let first = load_or_create(dir.path(), "jwt-secret").expect("created");
        assert!(first.created);
        assert_eq!(first.key.len(), KEY_BYTES);
        let mode = fs::metadata(&first.path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let again = load_or_create(dir.path(), "jwt-secret").expect("read back");
        assert!(!again.created);
        assert_eq!(again.key, first.key);
    }

    #[test]
    fn processes_starting_together_agree_on_one_key() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let keys: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let starts: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_or_create(dir.path(), "jwt-secret").map(|k| k.key)))
                .collect();
            starts
                .into_iter()
                .map(|start| start.join().expect("no panic").expect("a key"))
                .collect()
        });
        assert!(
            keys.windows(2).all(|pair| pair[0] == pair[1]),
            "one key for all"
        );
        let leftovers = fs::read_dir(dir.path()).expect("listing").count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn a_damaged_key_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("temporary folder");
        fs::write(dir.path().join("jwt-secret"), "not base64!").expect("written");
        assert!(matches!(
            load_or_create(dir.path(), "jwt-secret"),
            Err(KeyFileError::Corrupt { .. })
        ));
    }
}
