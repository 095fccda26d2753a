//! RSA signing keys and compact JWS encoding.
//!
//! aws-lc-rs (already in the workspace under jsonwebtoken's `aws_lc_rs` backend) generates the
//! RSA keys and signs; JWTs are assembled by hand because the test tokens include ones no JWT
//! library would produce on purpose (`alg: none`, HS256 keyed with the public key).

use std::sync::OnceLock;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::errors::SimError;

/// One RSA-2048 key and what the JWKS publishes about it.
pub(crate) struct SigningKey {
    pub kid: String,
    pair: KeyPair,
    spki_der: Vec<u8>,
    n: Vec<u8>,
    e: Vec<u8>,
}

fn crypto(what: &str) -> SimError {
    SimError::Crypto(what.to_string())
}

impl SigningKey {
    pub fn generate() -> Result<SigningKey, SimError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| crypto("RSA key generation"))?;
        SigningKey::from_pair(pair)
    }

    fn from_pkcs8(der: &[u8]) -> Result<SigningKey, SimError> {
        let pair = KeyPair::from_pkcs8(der).map_err(|_| crypto("RSA key parsing"))?;
        SigningKey::from_pair(pair)
    }

    fn from_pair(pair: KeyPair) -> Result<SigningKey, SimError> {
        let public = pair.public_key();
        let spki_der = public
            .as_der()
            .map_err(|_| crypto("public key encoding"))?
            .as_ref()
            .to_vec();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        // Entra's kid is the base64url SHA-1 thumbprint of the key's certificate (it equals
        // x5t); there is no certificate here, so the thumbprint of the public key stands in.
        let kid = URL_SAFE_NO_PAD
            .encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &spki_der).as_ref());
        Ok(SigningKey {
            kid,
            pair,
            spki_der,
            n,
            e,
        })
    }

    /// The JWKS entry, with Entra's non-standard per-key `issuer`.
    pub fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
            "issuer": issuer,
        })
    }

    /// `-----BEGIN PUBLIC KEY-----` (SPKI), the bytes a confused validator would use as an
    /// HMAC secret.
    pub fn public_key_pem(&self) -> String {
        let b64 = STANDARD.encode(&self.spki_der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// RS256 over `header.claims`; `header` gets `alg`, `typ` and this key's `kid` unless the
    /// caller set them.
    pub fn sign(&self, mut header: Value, claims: &Value) -> Result<String, SimError> {
        if let Some(h) = header.as_object_mut() {
            h.entry("typ").or_insert(json!("JWT"));
            h.entry("alg").or_insert(json!("RS256"));
            h.entry("kid").or_insert(json!(self.kid));
        }
        let input = signing_input(&header, claims);
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| crypto("RS256 signing"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `alg: none`, empty signature (RFC 7519 §6.1 unsecured JWT).
pub(crate) fn unsigned(claims: &Value) -> String {
    format!(
        "{}.",
        signing_input(&json!({"typ": "JWT", "alg": "none"}), claims)
    )
}

/// HS256 with `secret`; with a public key as the secret, the algorithm-confusion attack.
pub(crate) fn sign_hs256(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let input = signing_input(&json!({"typ": "JWT", "alg": "HS256", "kid": kid}), claims);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// base64url(SHA-256(text)): the S256 code challenge, and pairwise subject ids.
pub(crate) fn sha256_b64url(text: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, text).as_ref())
}

/// The first keys of every simulator in this process. RSA generation takes a noticeable
/// fraction of a second in a debug build, and test binaries start many simulators.
fn initial_pkcs8() -> Result<&'static [Vec<u8>], SimError> {
    static POOL: OnceLock<Result<Vec<Vec<u8>>, String>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        (0..3)
            .map(|_| {
                let pair = KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| "RSA key generation".to_string())?;
                let der: Pkcs8V1Der<'static> =
                    pair.as_der().map_err(|_| "PKCS#8 encoding".to_string())?;
                Ok(der.as_ref().to_vec())
            })
            .collect()
    });
    pool.as_deref().map_err(|e| crypto(e))
}

/// Published keys (one of them signs), retired keys, and a key never published (for
/// unknown-`kid` tokens).
pub(crate) struct KeyRing {
    pub published: Vec<SigningKey>,
    pub signing: String,
    pub retired: Vec<SigningKey>,
    pub stray: SigningKey,
}

impl KeyRing {
    /// Two published keys, as Entra always publishes several; the first signs.
    pub fn initial() -> Result<KeyRing, SimError> {
        let pool = initial_pkcs8()?;
        let mut keys = pool
            .iter()
            .map(|der| SigningKey::from_pkcs8(der))
            .collect::<Result<Vec<_>, _>>()?;
        let stray = keys.pop().ok_or_else(|| crypto("key pool"))?;
        let signing = keys.first().map(|k| k.kid.clone()).unwrap_or_default();
        Ok(KeyRing {
            published: keys,
            signing,
            retired: Vec::new(),
            stray,
        })
    }

    pub fn signing_key(&self) -> Result<&SigningKey, SimError> {
        self.find(&self.signing)
            .ok_or_else(|| crypto("no signing key"))
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.published.iter().find(|k| k.kid == kid)
    }

    pub fn use_for_signing(&mut self, kid: &str) -> Result<(), SimError> {
        if self.find(kid).is_none() {
            return Err(SimError::InvalidInput(format!("no published key '{kid}'")));
        }
        self.signing = kid.to_string();
        Ok(())
    }

    /// Stops publishing a key. The signing key cannot be retired (switch first).
    pub fn retire(&mut self, kid: &str) -> Result<(), SimError> {
        if kid == self.signing {
            return Err(SimError::Conflict(format!(
                "key '{kid}' signs tokens; make another key the signing key first"
            )));
        }
        let at = self
            .published
            .iter()
            .position(|k| k.kid == kid)
            .ok_or_else(|| SimError::InvalidInput(format!("no published key '{kid}'")))?;
        let key = self.published.remove(at);
        self.retired.push(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rs256_verifies_with_published_components() {
        let ring = KeyRing::initial().expect("keys");
        let key = ring.signing_key().expect("signing key");
        let jwt = key.sign(json!({}), &json!({"a": 1})).expect("sign");
        let (input, sig) = jwt.rsplit_once('.').expect("three parts");
        let public = signature::RsaPublicKeyComponents {
            n: &key.n,
            e: &key.e,
        };
        let sig = URL_SAFE_NO_PAD.decode(sig).expect("b64");
        public
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &sig,
            )
            .expect("signature verifies");
        assert_ne!(ring.stray.kid, key.kid);
    }

    #[test]
    fn pkce_s256_is_base64url_sha256() {
        assert_eq!(
            sha256_b64url(b"dBjftJeZ4CVP-mJ92q9d3mJ00Ig1i6FQ8Qd5L1x9hFk"),
            "5aX3r6HOH_lh05uXPm8OmcrPjmi93-4PHXPes5I8Up0"
        );
    }
}
