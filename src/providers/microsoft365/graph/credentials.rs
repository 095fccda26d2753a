//! What an admin enters for a provider. The secret stays a `SecretString`: it is exposed only
//! to build the token request body, and never printed (Debug shows `[REDACTED]`).

use std::fmt;

use secrecy::SecretString;

use super::cloud::Cloud;

/// Client-credentials of one app registration in one tenant.
#[derive(Clone)]
pub struct Credentials {
    /// Directory (tenant) ID: a GUID or a verified domain name.
    pub tenant_id: String,
    /// Application (client) ID.
    pub client_id: String,
    /// The secret's Value (not its Secret ID).
    pub client_secret: SecretString,
    pub cloud: Cloud,
}

impl Credentials {
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        cloud: Cloud,
    ) -> Self {
        Credentials {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret,
            cloud,
        }
    }
}

// Written by hand so that no future field can slip the secret into a log line.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("cloud", &self.cloud)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let c = Credentials::new("t", "c", SecretString::from("s3cr3t-value"), Cloud::Global);
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-value"));
        assert!(shown.contains("[REDACTED]"));
    }
}
