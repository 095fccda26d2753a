//! JSON Web Tokens: minting for the `token` command, verifying for every GraphQL request. Every
//! credential a request may present is told apart here ([`Authenticator`]): the server's own
//! HS256 tokens, and an identity provider's access tokens ([`oidc`]).

mod oidc;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::crypto::CryptoError;

pub use oidc::{
    BrowserSignIn, ConsoleClient, FetchError, OidcSettings, OidcVerifier, SignInUnavailable,
};

/// 256 bits: HS256 is only as strong as its key, and RFC 7518 §3.2 asks for at least this much.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock skew tolerated between the process that minted a token and the one verifying it, for
/// the times a token starts at (`iat`, `nbf`). None is granted past `exp`: a token one second
/// expired is expired, so the HTTP layer and the per-operation check in the API agree on it.
const LEEWAY_SECONDS: u64 = 5;
const SECONDS_PER_DAY: u64 = 24 * 3600;

/// The longest a token may live (`exp - iat`): `token --ttl` refuses to mint a longer one and
/// every server refuses to accept one, so a leaked token is not a key for life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxTokenLifetime(Duration);

impl MaxTokenLifetime {
    /// 400 days: a yearly rotation with a month to spare.
    pub const DEFAULT: Self = Self(Duration::from_secs(400 * SECONDS_PER_DAY));

    pub fn new(lifetime: Duration) -> Result<Self, String> {
        if lifetime.as_secs() == 0 {
            return Err("the maximum token lifetime must be at least one second".into());
        }
        Ok(Self(lifetime))
    }

    pub fn seconds(self) -> i64 {
        i64::try_from(self.0.as_secs()).unwrap_or(i64::MAX)
    }

    fn allows(self, lifetime: Duration) -> bool {
        lifetime <= self.0
    }
}

impl Default for MaxTokenLifetime {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `400d`, `12h`, … as `--ttl` takes them.
impl FromStr for MaxTokenLifetime {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let lifetime = humantime::parse_duration(text).map_err(|error| error.to_string())?;
        Self::new(lifetime)
    }
}

/// In the largest whole unit, as a person would write it for `--ttl`.
impl fmt::Display for MaxTokenLifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        let (size, unit) = [(SECONDS_PER_DAY, "d"), (3600, "h"), (60, "m")]
            .into_iter()
            .find(|(size, _)| seconds.is_multiple_of(*size))
            .unwrap_or((1, "s"));
        write!(f, "{}{unit}", seconds / size)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything but secrets.
    Viewer,
    /// Also configures providers and starts syncs.
    Admin,
}

impl Role {
    /// The stored name, as `Display` writes it.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
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
    /// Who the subject is, for people to read (an identity provider's `name`); never
    /// authorizes anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error(
        "missing bearer token: send `Authorization: Bearer <token>` (mint one with `license-manager token --role viewer --subject NAME`)"
    )]
    MissingToken,
    #[error("the Authorization header must read `Bearer <token>`")]
    MalformedHeader,
    #[error("the token has expired; mint a new one")]
    Expired,
    #[error("the token is not valid yet (its nbf or iat is in the future); check the clocks")]
    NotYetValid,
    #[error(
        "the token lives longer than the maximum token lifetime of {max}; mint one with a shorter --ttl"
    )]
    LifetimeTooLong { max: MaxTokenLifetime },
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    #[error("the API token has been revoked")]
    Revoked,
    #[error(
        "the token is valid but its `{claim}` claim holds no role of this API (LM_OIDC_ADMIN_ROLES, LM_OIDC_VIEWER_ROLES): ask for one to be assigned"
    )]
    NoMappedRole { claim: String },
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
    max_lifetime: MaxTokenLifetime,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8], max_lifetime: MaxTokenLifetime) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthError::WeakSecret);
        }
        // Only HS256 is accepted, so `alg: none` and algorithm-confusion tokens fail here.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        // jsonwebtoken grants the leeway to `exp` too, and counts a token as expired only after
        // its `exp` second: taking back the leeway and one second more makes it expired from
        // `exp` on (RFC 7519 §4.1.4), as the API's per-operation check counts it. Otherwise a
        // token in its last seconds passed here and failed there, a 200 with a field error.
        validation.reject_tokens_expiring_in_less_than = LEEWAY_SECONDS + 1;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            max_lifetime,
        })
    }

    pub fn issue(&self, subject: &str, role: Role, ttl: Duration) -> Result<String, AuthError> {
        if !self.max_lifetime.allows(ttl) {
            return Err(AuthError::LifetimeTooLong {
                max: self.max_lifetime,
            });
        }
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).map_err(|_| AuthError::Signing)?;
        let claims = Claims {
            sub: subject.to_owned(),
            role,
            iat: now,
            exp: now.saturating_add(ttl),
            name: None,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| AuthError::Signing)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature"),
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    AuthError::Invalid("only HS256 tokens are accepted")
                }
                ErrorKind::Json(_)
                | ErrorKind::MissingRequiredClaim(_)
                | ErrorKind::InvalidClaimFormat(_) => {
                    AuthError::Invalid("claims must be sub, role (viewer or admin), iat and exp")
                }
                _ => AuthError::Invalid("not a well-formed JWT"),
            })?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() {
            return Err(AuthError::Invalid("the subject is empty"));
        }
        self.check_times(&claims, Utc::now().timestamp())?;
        Ok(claims)
    }

    /// What jsonwebtoken's `Validation` has no setting for: `iat` in the future and the lifetime.
    fn check_times(&self, claims: &Claims, now: i64) -> Result<(), AuthError> {
        let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(0);
        if claims.iat > now.saturating_add(leeway) {
            return Err(AuthError::NotYetValid);
        }
        if claims.exp.saturating_sub(claims.iat) > self.max_lifetime.seconds() {
            return Err(AuthError::LifetimeTooLong {
                max: self.max_lifetime,
            });
        }
        Ok(())
    }

    /// Reads `Authorization: Bearer <token>` holding a JWT.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Claims, AuthError> {
        match Credential::from_header(header)? {
            Credential::Jwt(token) => self.verify(token),
            Credential::ApiToken(_) => Err(AuthError::Invalid("an API token, not a JWT")),
        }
    }
}

/// The prefix of every API token: a script's secret scanners, and this server, tell one from a
/// JWT by it.
pub const API_TOKEN_PREFIX: &str = "lmat_";
/// 256 random bits: too many to guess, so one SHA-256 of the secret is enough to store.
const API_TOKEN_BYTES: usize = 32;

/// The secret of an API token, `lmat_` + base64url of 256 random bits. It is printed once, when
/// created ([`Self::expose`]); `Debug` hides it and there is no `Display`, so no log line or
/// error message can carry it by accident.
pub struct ApiTokenSecret(String);

impl ApiTokenSecret {
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = [0u8; API_TOKEN_BYTES];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CryptoError::Random)?;
        Ok(Self(format!(
            "{API_TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// A presented token that has the shape of one this server makes; anything else is refused
    /// before the database is asked.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let malformed = AuthError::Invalid("not a well-formed API token");
        let encoded = text
            .strip_prefix(API_TOKEN_PREFIX)
            .ok_or(malformed.clone())?;
        match URL_SAFE_NO_PAD.decode(encoded) {
            Ok(bytes) if bytes.len() == API_TOKEN_BYTES => Ok(Self(text.to_owned())),
            _ => Err(malformed),
        }
    }

    /// What the database keeps and looks the token up by: hex of SHA-256.
    pub fn hash(&self) -> String {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.0.as_bytes())
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The secret itself, for the one answer that hands it to its creator.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiTokenSecret(..)")
    }
}

/// What a bearer header holds: a JWT to verify with the keys, or an API token to look up.
#[derive(Debug)]
pub enum Credential<'a> {
    Jwt(&'a str),
    ApiToken(ApiTokenSecret),
}

impl<'a> Credential<'a> {
    /// Reads `Authorization: Bearer <token>`. A missing header is refused like a bad token:
    /// nothing in this API is public.
    pub fn from_header(header: Option<&'a str>) -> Result<Self, AuthError> {
        let header = header.ok_or(AuthError::MissingToken)?;
        let (scheme, token) = header
            .trim()
            .split_once(' ')
            .ok_or(AuthError::MalformedHeader)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(AuthError::MalformedHeader);
        }
        if token.starts_with(API_TOKEN_PREFIX) {
            ApiTokenSecret::parse(token).map(Credential::ApiToken)
        } else {
            Ok(Credential::Jwt(token))
        }
    }
}

impl AuthError {
    /// A caller with no valid credential is unauthenticated; one whose valid credential grants
    /// no role of this API is forbidden.
    pub fn code(&self) -> crate::codes::Code {
        match self {
            AuthError::NoMappedRole { .. } => crate::codes::Code::Forbidden,
            _ => crate::codes::Code::Unauthenticated,
        }
    }
}

/// The JWTs this server accepts, and which kind a token is: its own, or the identity
/// provider's. (API tokens are told from JWTs by [`Credential`] and looked up in the database.)
#[derive(Clone, Debug)]
pub struct Authenticator {
    jwt: JwtKeys,
    oidc: Option<Arc<OidcVerifier>>,
}

impl Authenticator {
    pub fn new(jwt: JwtKeys, oidc: Option<Arc<OidcVerifier>>) -> Self {
        Self { jwt, oidc }
    }

    /// How the console signs people in with the identity provider, when one is configured
    /// with a console client.
    pub fn browser_sign_in(&self) -> Option<Result<BrowserSignIn, SignInUnavailable>> {
        self.oidc.as_ref()?.browser_sign_in()
    }

    /// The server's own tokens are HS256: the identity provider's are never, so an HS256 token
    /// is checked against the server's secret only, and a forged one "signed" with the
    /// provider's public key fails there.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let own =
            jsonwebtoken::decode_header(token).is_ok_and(|header| header.alg == Algorithm::HS256);
        match &self.oidc {
            Some(oidc) if !own => oidc.verify(token).await,
            _ => self.jwt.verify(token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(secret.as_bytes(), MaxTokenLifetime::DEFAULT)
            .expect("a 32-byte secret is accepted")
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const DAY: u64 = 24 * 3600;

    /// A token with exactly these times, signed with `SECRET`, as another minter might make it.
    fn signed(iat: i64, exp: i64, nbf: Option<i64>) -> String {
        let mut claims =
            serde_json::json!({ "sub": "someone", "role": "viewer", "iat": iat, "exp": exp });
        if let Some(nbf) = nbf {
            claims["nbf"] = nbf.into();
        }
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("signed")
    }

    fn now() -> i64 {
        Utc::now().timestamp()
    }

    #[test]
    fn a_token_is_expired_from_its_exp_second_on_without_leeway() {
        let keys = keys(SECRET);
        let start = now() - 3600;
        for exp in [now() - 2, now()] {
            assert_eq!(
                keys.verify(&signed(start, exp, None)),
                Err(AuthError::Expired),
                "exp {} seconds ago",
                now() - exp
            );
        }
        assert!(keys.verify(&signed(start, now() + 60, None)).is_ok());
    }

    #[test]
    fn start_times_in_the_future_are_refused_beyond_the_leeway() {
        let keys = keys(SECRET);
        let exp = now() + 3600;
        assert_eq!(
            keys.verify(&signed(
                now() + 3600 * 24 * 365,
                exp + 3600 * 24 * 365,
                None
            )),
            Err(AuthError::NotYetValid),
            "iat a year ahead"
        );
        assert_eq!(
            keys.verify(&signed(now() + 60, exp, None)),
            Err(AuthError::NotYetValid),
            "iat a minute ahead"
        );
        assert_eq!(
            keys.verify(&signed(now(), exp, Some(now() + 60))),
            Err(AuthError::NotYetValid),
            "nbf a minute ahead"
        );
        // A minter whose clock runs two seconds fast.
        assert!(
            keys.verify(&signed(now() + 2, exp, Some(now() + 2)))
                .is_ok()
        );
        assert!(keys.verify(&signed(now(), exp, Some(now() - 60))).is_ok());
    }

    #[test]
    fn a_token_living_longer_than_the_maximum_is_refused() {
        let keys = keys(SECRET);
        let too_long = MaxTokenLifetime::DEFAULT.seconds() + 1;
        assert_eq!(
            keys.verify(&signed(now(), 1 << 62, None)),
            Err(AuthError::LifetimeTooLong {
                max: MaxTokenLifetime::DEFAULT
            }),
            "exp = 2^62"
        );
        assert!(matches!(
            keys.verify(&signed(now() - 10, now() - 10 + too_long, None)),
            Err(AuthError::LifetimeTooLong { .. })
        ));
        // A token as old as the maximum allows, issued long ago, is fine until it expires.
        let longest = MaxTokenLifetime::DEFAULT.seconds();
        assert!(
            keys.verify(&signed(now() - 10, now() - 10 + longest, None))
                .is_ok()
        );
    }

    #[test]
    fn minting_beyond_the_maximum_is_refused_and_names_it() {
        let keys = keys(SECRET);
        let error = keys
            .issue("me", Role::Admin, Duration::from_secs(99_999_999 * DAY))
            .expect_err("270,000 years is too long");
        assert_eq!(
            error.to_string(),
            "the token lives longer than the maximum token lifetime of 400d; mint one with a shorter --ttl"
        );
        assert!(
            keys.issue("me", Role::Admin, Duration::from_secs(400 * DAY))
                .is_ok()
        );

        let short =
            JwtKeys::new(SECRET.as_bytes(), "12h".parse().expect("a duration")).expect("keys");
        assert!(
            short
                .issue("me", Role::Admin, Duration::from_secs(DAY))
                .is_err()
        );
        let day_long = keys
            .issue("me", Role::Admin, Duration::from_secs(DAY))
            .expect("a day is within 400 days");
        assert!(
            matches!(short.verify(&day_long), Err(AuthError::LifetimeTooLong { max }) if max.to_string() == "12h"),
            "a server with a shorter maximum refuses what another one minted"
        );
    }

    #[test]
    fn the_maximum_lifetime_reads_as_ttl_does() {
        assert_eq!("400d".parse(), Ok(MaxTokenLifetime::DEFAULT));
        assert_eq!(MaxTokenLifetime::DEFAULT.to_string(), "400d");
        assert!("0s".parse::<MaxTokenLifetime>().is_err());
        assert!("soon".parse::<MaxTokenLifetime>().is_err());
    }

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
            JwtKeys::new(b"password", MaxTokenLifetime::DEFAULT).map(|_| ()),
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

    #[test]
    fn an_api_token_is_told_from_a_jwt_and_never_printed() {
        let secret = ApiTokenSecret::generate().expect("random bytes");
        let text = secret.expose().to_owned();
        assert!(text.starts_with("lmat_") && text.len() == 5 + 43, "{text}");
        assert_eq!(format!("{secret:?}"), "ApiTokenSecret(..)");
        let header = format!("Bearer {text}");
        match Credential::from_header(Some(&header)) {
            Ok(Credential::ApiToken(parsed)) => assert_eq!(parsed.hash(), secret.hash()),
            other => panic!("expected an API token, got {other:?}"),
        }
        assert!(matches!(
            Credential::from_header(Some("Bearer eyJ.x.y")),
            Ok(Credential::Jwt("eyJ.x.y"))
        ));
        for bad in ["Bearer lmat_", "Bearer lmat_short", "Bearer lmat_!!!"] {
            assert_eq!(
                Credential::from_header(Some(bad)).map(|_| ()),
                Err(AuthError::Invalid("not a well-formed API token")),
                "{bad}"
            );
        }
        assert_ne!(
            ApiTokenSecret::generate().expect("random").hash(),
            secret.hash()
        );
        assert_eq!(secret.hash().len(), 64);
    }
}
