//! JSON Web Tokens: minting for the `token` command, verifying for every GraphQL request.

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

/// 256 bits: HS256 is only as strong as its key, and RFC 7518 §3.2 asks for at least this much.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock skew tolerated between the process that minted a token and the one verifying it.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything but secrets.
    Viewer,
    /// Also configures providers and starts syncs.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error(
        "missing bearer token: send `Authorization: Bearer <token>` (mint one with `license-manager token --role viewer --subject NAME`)"
    )]
    MissingToken,
    #[error("the Authorization header must read `Bearer <token>`")]
    MalformedHeader,
    #[error("the token has expired; mint a new one")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    #[error(
        "the JWT secret must be at least {MIN_SECRET_BYTES} bytes; generate one with `openssl rand -base64 32`"
    )]
    WeakSecret,
    #[error("could not sign the token")]
    Signing,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthError::WeakSecret);
        }
        // Only HS256 is accepted, so `alg: none` and algorithm-confusion tokens fail here.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    pub fn issue(&self, subject: &str, role: Role, ttl: Duration) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).map_err(|_| AuthError::Signing)?;
        let claims = Claims {
            sub: subject.to_owned(),
            role,
            iat: now,
            exp: now.saturating_add(ttl),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| AuthError::Signing)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature"),
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    AuthError::Invalid("only HS256 tokens are accepted")
                }
                ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => {
                    AuthError::Invalid("claims must be sub, role (viewer or admin), iat and exp")
                }
                _ => AuthError::Invalid("not a well-formed JWT"),
            })?;
        if data.claims.sub.trim().is_empty() {
            return Err(AuthError::Invalid("the subject is empty"));
        }
        Ok(data.claims)
    }

    /// Reads `Authorization: Bearer <token>`. A missing header is refused like a bad token:
    /// nothing in this API is public.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Claims, AuthError> {
        let header = header.ok_or(AuthError::MissingToken)?;
        let (scheme, token) = header
            .trim()
            .split_once(' ')
            .ok_or(AuthError::MalformedHeader)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::MalformedHeader);
        }
        self.verify(token.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(secret.as_bytes()).expect("a 32-byte secret is accepted")
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_minted_token_round_trips_with_its_claims() {
        let keys = keys(SECRET);
        let token = keys
            .issue("ci-bot", Role::Admin, Duration::from_secs(60))
            .expect("signing works with the aws_lc_rs backend");
        let claims = keys.verify(&token).expect("own token verifies");
        assert_eq!(claims.sub, "ci-bot");
        assert_eq!(claims.role, Role::Admin);
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let token = keys("another-secret-of-at-least-32-bytes!")
            .issue("me", Role::Viewer, Duration::from_secs(60))
            .expect("signing works");
        assert_eq!(
            keys(SECRET).verify(&token),
            Err(AuthError::Invalid("bad signature"))
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(
            JwtKeys::new(b"password").map(|_| ()),
            Err(AuthError::WeakSecret)
        );
    }

    #[test]
    fn header_parsing_tells_missing_from_malformed() {
        let keys = keys(SECRET);
        assert_eq!(keys.verify_header(None), Err(AuthError::MissingToken));
        assert_eq!(
            keys.verify_header(Some("Basic abc")),
            Err(AuthError::MalformedHeader)
        );
        assert_eq!(
            keys.verify_header(Some("Bearer ")),
            Err(AuthError::MalformedHeader)
        );
    }
}
