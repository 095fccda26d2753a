//! What connects one Microsoft 365 tenant: the Directory (tenant) ID, the Application (client)
//! ID of an Entra ID app registration, and the national cloud. Stored as the JSON of
//! `providers.config`, e.g. `{"tenantId":"contoso.onmicrosoft.com","clientId":"…","cloud":"GLOBAL"}`;
//! the client secret is sealed beside it, bound to tenant and client.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::KIND;
use super::graph::Cloud;
use crate::error::FieldError;
use crate::providers::{ConfigPatch, KindConfig};

/// A Directory (tenant) ID: a GUID or a verified domain such as contoso.onmicrosoft.com,
/// lower-cased so that the same tenant typed twice compares equal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

/// An Application (client) ID: a GUID, lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl TenantId {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim().to_ascii_lowercase();
        if is_guid(&value) || is_dns_name(&value) {
            Ok(Self(value))
        } else {
            // Never the value: a secret pasted into the wrong field would be echoed back.
            Err("is neither a Directory (tenant) ID (a GUID) nor a verified domain such as contoso.onmicrosoft.com".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ClientId {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if is_guid(value) {
            Ok(Self(value.to_ascii_lowercase()))
        } else {
            Err("is not a GUID (expected the form 00000000-0000-0000-0000-000000000000)".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! text_newtype {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(value: String) -> Result<Self, String> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_newtype!(TenantId);
text_newtype!(ClientId);

/// The cloud is stored by its API name (GLOBAL, US_GOV, US_GOV_DOD, CHINA).
mod cloud_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Cloud;

    pub fn serialize<S: Serializer>(cloud: &Cloud, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(cloud.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cloud, D::Error> {
        let name = String::deserialize(d)?;
        Cloud::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown cloud {name:?}")))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    #[serde(with = "cloud_name")]
    pub cloud: Cloud,
}

impl Config {
    /// What an admin entered, each field checked: the configuration to store, or every field's
    /// message (named as the API names the field).
    pub fn parse(
        tenant_id: &str,
        client_id: &str,
        cloud: Cloud,
    ) -> Result<KindConfig, Vec<FieldError>> {
        let tenant_id = TenantId::parse(tenant_id);
        let client_id = ClientId::parse(client_id);
        match (tenant_id, client_id) {
            (Ok(tenant_id), Ok(client_id)) => Ok(Self {
                tenant_id,
                client_id,
                cloud,
            }
            .into_kind_config()),
            (tenant_id, client_id) => {
                Err(
                    [("tenantId", tenant_id.err()), ("clientId", client_id.err())]
                        .into_iter()
                        .filter_map(|(field, message)| {
                            Some(FieldError {
                                field,
                                message: message?,
                            })
                        })
                        .collect(),
                )
            }
        }
    }

    /// The configuration of a stored provider of this kind.
    pub fn from_stored(config: &serde_json::Value) -> Result<Self, serde_json::Error> {
        Config::deserialize(config)
    }

    fn into_kind_config(self) -> KindConfig {
        KindConfig {
            kind: KIND,
            account_key: self.account_key(),
            config: serde_json::json!(self),
        }
    }

    /// Tenant and app: the sealed secret has been bound to this pair since the first version.
    fn account_key(&self) -> String {
        format!("{}:{}", self.tenant_id, self.client_id)
    }

    /// Moves a provider to another cloud. Its tenant and app stay: the secret still opens.
    pub fn cloud_patch(cloud: Cloud) -> ConfigPatch {
        ConfigPatch::new(KIND, Self::read_stored).set("cloud", cloud.as_str())
    }

    /// A stored configuration of this kind, ready to be stored again; `None` when it is not one.
    fn read_stored(config: &serde_json::Value) -> Option<KindConfig> {
        Self::from_stored(config).ok().map(Self::into_kind_config)
    }
}

fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, length)| {
            group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit())
        })
}

/// A DNS name such as contoso.onmicrosoft.com (RFC 1035 labels, at least two of them).
fn is_dns_name(value: &str) -> bool {
    let labels: Vec<&str> = value.split('.').collect();
    value.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "535fb089-9ff3-47b6-9bfb-4f1264799865";

    #[test]
    fn tenants_are_guids_or_domains() {
        assert_eq!(
            TenantId::parse(" 72F988BF-86F1-41AF-91AB-2D7CD011DB47 ").map(String::from),
            Ok("72f988bf-86f1-41af-91ab-2d7cd011db47".into())
        );
        assert_eq!(
            TenantId::parse("Contoso.onmicrosoft.com").map(String::from),
            Ok("contoso.onmicrosoft.com".into())
        );
        for bad in [
            "",
            "contoso",
            "contoso..com",
            "-a.com",
            "a_b.com",
            "1.2.3.4",
            "x.c0m",
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = Config::parse("not a tenant", "1234", Cloud::Global).expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|error| error.field).collect();
        assert_eq!(fields, ["tenantId", "clientId"]);
    }

    #[test]
    fn stored_as_json_with_the_cloud_by_its_api_name() {
        let stored = Config::parse("Contoso.onmicrosoft.com", CLIENT, Cloud::UsGov).expect("valid");
        assert_eq!(stored.kind, "microsoft365");
        assert_eq!(
            stored.account_key,
            format!("contoso.onmicrosoft.com:{CLIENT}")
        );
        assert_eq!(
            stored.config,
            serde_json::json!({
                "tenantId": "contoso.onmicrosoft.com", "clientId": CLIENT, "cloud": "US_GOV",
            })
        );
        let back = Config::from_stored(&stored.config).expect("read back");
        assert_eq!(back.cloud, Cloud::UsGov);
        assert_eq!(back.tenant_id.as_str(), "contoso.onmicrosoft.com");

        let tampered =
            serde_json::json!({ "tenantId": "x", "clientId": CLIENT, "cloud": "GLOBAL" });
        assert!(
            Config::from_stored(&tampered).is_err(),
            "parsed on reading too"
        );
    }

    #[test]
    fn a_cloud_patch_applies_to_this_kind_only_and_is_read_back() {
        use crate::providers::PatchError;
        let stored =
            Config::parse("contoso.onmicrosoft.com", CLIENT, Cloud::Global).expect("valid");
        let patched = Config::cloud_patch(Cloud::China)
            .apply(KIND, &stored.account_key, &stored.config)
            .expect("applied");
        assert_eq!(patched.config["cloud"], "CHINA");
        assert_eq!(patched.account_key, stored.account_key);

        assert_eq!(
            Config::cloud_patch(Cloud::China).apply(
                "ledger",
                "acme",
                &serde_json::json!({ "book": "acme" })
            ),
            Err(PatchError::OtherKind {
                stored: "ledger".into(),
                patch: KIND
            })
        );
        let broken =
            serde_json::json!({ "tenantId": "contoso.onmicrosoft.com", "cloud": "GLOBAL" });
        assert_eq!(
            Config::cloud_patch(Cloud::China).apply(KIND, &stored.account_key, &broken),
            Err(PatchError::Unreadable(KIND)),
            "a configuration its kind cannot read is never stored"
        );
    }
}
