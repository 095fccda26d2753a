//! Sealing provider client secrets at rest with AES-256-GCM (aws-lc-rs).
//!
//! The key comes from `LM_SECRET_KEY` or, on an embedded first start, from a key file generated
//! into the data folder. Each ciphertext is stored with the id of the key that sealed it, so keys
//! can be rotated: `LM_SECRET_KEY` may list several keys, comma-separated, the first sealing new
//! secrets and all of them opening old ones. A database copied without the key reveals nothing.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::keyfile::{self, KeyFileError};

pub const SECRET_KEY_FILE: &str = "secret-key";
const KEY_BYTES: usize = 32;
/// First byte of every ciphertext, so the format can change without guessing.
const FORMAT_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "LM_SECRET_KEY must be base64 of exactly {KEY_BYTES} bytes (e.g. `openssl rand -base64 32`), comma-separated when rotating"
    )]
    InvalidKey,
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(
        "the secret was sealed with key {0}, which is not configured; restore that key in LM_SECRET_KEY (after the current one)"
    )]
    UnknownKey(String),
    #[error(
        "the sealed secret does not open with key {0}: the data or the key is not the one it was sealed with"
    )]
    Corrupt(String),
    #[error("sealing failed")]
    Seal,
    #[error("the system's random number generator failed")]
    Random,
}

/// Ciphertext and the id of the key that made it, as stored in `providers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub ciphertext: Vec<u8>,
}

struct SealingKey {
    id: String,
    key: LessSafeKey,
}

impl SealingKey {
    fn new(bytes: &[u8]) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError::InvalidKey)?;
        // The id names the key without revealing it: a short prefix of its SHA-256.
        let id = digest(&SHA256, bytes).as_ref()[..6]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(Self {
            id,
            key: LessSafeKey::new(unbound),
        })
    }
}

pub struct SecretKeyring {
    keys: Vec<SealingKey>,
}

impl std::fmt::Debug for SecretKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKeyring(current key {})", self.current().id)
    }
}

impl SecretKeyring {
    /// `configured` is `LM_SECRET_KEY`; without it the key file in `data_dir` is used (and made
    /// on the first start).
    pub fn load(configured: Option<&SecretString>, data_dir: &Path) -> Result<Self, CryptoError> {
        let keys = match configured {
            Some(list) => list
                .expose_secret()
                .split(',')
                .map(|encoded| {
                    BASE64
                        .decode(encoded.trim())
                        .ok()
                        .filter(|bytes| bytes.len() == KEY_BYTES)
                        .ok_or(CryptoError::InvalidKey)
                        .and_then(|bytes| SealingKey::new(&bytes))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![SealingKey::new(
                &keyfile::load_or_create(data_dir, SECRET_KEY_FILE)?.key,
            )?],
        };
        if keys.is_empty() {
            return Err(CryptoError::InvalidKey);
        }
        Ok(Self { keys })
    }

    fn current(&self) -> &SealingKey {
        &self.keys[0]
    }

    /// `context` binds the ciphertext to its owner (e.g. tenant and client), so a ciphertext
    /// copied onto another row does not open.
    pub fn seal(&self, plaintext: &SecretString, context: &str) -> Result<Sealed, CryptoError> {
        let key = self.current();
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buffer = plaintext.expose_secret().as_bytes().to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| CryptoError::Seal)?;
        let mut ciphertext = Vec::with_capacity(1 + NONCE_LEN + buffer.len());
        ciphertext.push(FORMAT_V1);
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&buffer);
        Ok(Sealed {
            key_id: key.id.clone(),
            ciphertext,
        })
    }

    /// Whether this keyring holds the key `key_id` names, i.e. can open what it sealed.
    pub fn has_key(&self, key_id: &str) -> bool {
        self.keys.iter().any(|key| key.id == key_id)
    }

    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<SecretString, CryptoError> {
        let key = self
            .keys
            .iter()
            .find(|key| key.id == sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let corrupt = || CryptoError::Corrupt(key.id.clone());
        let (version, rest) = sealed.ciphertext.split_first().ok_or_else(corrupt)?;
        if *version != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, encrypted) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut buffer = encrypted.to_vec();
        let plaintext = key
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| corrupt())?;
        let text = String::from_utf8(plaintext.to_vec()).map_err(|_| corrupt())?;
        Ok(SecretString::from(text))
    }

    /// Whether a secret is sealed with an older key and should be sealed again.
    pub fn is_current(&self, sealed: &Sealed) -> bool {
        sealed.key_id == self.current().id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        BASE64.encode([byte; KEY_BYTES])
    }

    fn keyring(list: &str) -> SecretKeyring {
        SecretKeyring::load(Some(&SecretString::from(list)), Path::new("/nonexistent"))
            .expect("valid keys")
    }

    #[test]
    fn a_sealed_secret_opens_only_in_its_context_and_hides_the_plaintext() {
        let keys = keyring(&key(1));
        let secret = SecretString::from("Abc~secret-value-1234");
        let sealed = keys.seal(&secret, "tenant:client").expect("sealed");
        assert!(
            !sealed
                .ciphertext
                .windows(6)
                .any(|window| window == b"secret"),
            "no plaintext in the ciphertext"
        );
        let opened = keys.open(&sealed, "tenant:client").expect("opened");
        assert_eq!(opened.expose_secret(), "Abc~secret-value-1234");
        assert!(matches!(
            keys.open(&sealed, "other-tenant:client"),
            Err(CryptoError::Corrupt(_))
        ));
    }

    #[test]
    fn rotation_opens_old_secrets_and_seals_with_the_new_key() {
        let old = keyring(&key(1));
        let sealed = old
            .seal(&SecretString::from("s3cret"), "ctx")
            .expect("sealed");
        let rotated = keyring(&format!("{},{}", key(2), key(1)));
        assert!(!rotated.is_current(&sealed));
        assert_eq!(
            rotated
                .open(&sealed, "ctx")
                .expect("opened")
                .expose_secret(),
            "s3cret"
        );
        let resealed = rotated
            .seal(&SecretString::from("s3cret"), "ctx")
            .expect("sealed");
        assert!(rotated.is_current(&resealed));
        assert!(matches!(
            old.open(&resealed, "ctx"),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in ["", "not base64", &BASE64.encode([0u8; 16])] {
            assert!(matches!(
                SecretKeyring::load(Some(&SecretString::from(bad)), Path::new("/nonexistent")),
                Err(CryptoError::InvalidKey)
            ));
        }
    }
}
