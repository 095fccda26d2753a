//! National clouds and the endpoints each one uses (token authority, Graph root, scope).
//!
//! Source: Graph `concepts/deployments.md` and the national-clouds SDK page: the token path is
//! `/{tenant}/oauth2/v2.0/token` everywhere, and the `.default` scope must use the Graph root
//! of the same cloud (tokens are not interchangeable between clouds).

use reqwest::Url;

use super::error::GraphError;

/// A Microsoft 365 deployment. GCC uses the global endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cloud {
    #[default]
    Global,
    /// US Government L4 (GCC High).
    UsGov,
    /// US Government L5 (DoD).
    UsGovDod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// The Entra ID token authority.
    pub fn login_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The Microsoft Graph service root (without `/v1.0`).
    pub fn graph_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The API name, as stored by the app (GLOBAL, US_GOV, US_GOV_DOD, CHINA).
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Global => "GLOBAL",
            Cloud::UsGov => "US_GOV",
            Cloud::UsGovDod => "US_GOV_DOD",
            Cloud::China => "CHINA",
        }
    }

    /// Parses the API name (case-insensitive).
    pub fn parse(name: &str) -> Option<Cloud> {
        [Cloud::Global, Cloud::UsGov, Cloud::UsGovDod, Cloud::China]
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// Base URLs that replace the cloud's for every provider: the app fills this from
/// `LM_MICROSOFT_LOGIN_URL` / `LM_MICROSOFT_GRAPH_URL` (e.g. both set to graph-sim's base URL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub login_url: Option<String>,
    pub graph_url: Option<String>,
}

/// The resolved endpoints of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    login: Url,
    graph: Url,
    scope: String,
}

impl Endpoints {
    /// The cloud's endpoints, with any override applied. The scope stays the cloud's Graph
    /// resource whatever the override: a token is for Microsoft Graph, not for the proxy or
    /// simulator that the requests go through, and Entra refuses a scope of an unknown resource
    /// (AADSTS70011 / 500011).
    pub fn resolve(cloud: Cloud, overrides: &EndpointOverrides) -> Result<Endpoints, GraphError> {
        let login = parse_base(
            overrides.login_url.as_deref().unwrap_or(cloud.login_url()),
            "login",
        )?;
        let graph = parse_base(
            overrides.graph_url.as_deref().unwrap_or(cloud.graph_url()),
            "Graph",
        )?;
        let scope = format!("{}/.default", cloud.graph_url());
        Ok(Endpoints {
            login,
            graph,
            scope,
        })
    }

    /// `{login}/{tenant}/oauth2/v2.0/token`, with the tenant percent-encoded as one path segment
    /// so a malformed tenant id reaches Entra (and its AADSTS90002/900023) unchanged in meaning.
    pub fn token_url(&self, tenant: &str) -> Url {
        let mut url = self.login.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend([tenant, "oauth2", "v2.0", "token"]);
        }
        url
    }

    /// `{graph}/v1.0/{path_and_query}`; the path and query are ours and already URL-safe.
    pub fn graph_url(&self, path_and_query: &str) -> String {
        format!(
            "{}/v1.0/{}",
            self.graph.as_str().trim_end_matches('/'),
            path_and_query.trim_start_matches('/')
        )
    }

    /// The `.default` scope for the client-credentials grant.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Whether `link` (an `@odata.nextLink`/`deltaLink`) points at our Graph host. Links are
    /// followed verbatim, but never to another origin: that would hand it our bearer token.
    pub fn is_graph_link(&self, link: &str) -> bool {
        Url::parse(link).is_ok_and(|u| u.origin() == self.graph.origin())
    }
}

fn parse_base(raw: &str, what: &str) -> Result<Url, GraphError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| GraphError::config(format!("invalid {what} URL '{raw}': {e}")))?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(GraphError::config(format!(
            "invalid {what} URL '{raw}': not an http(s) base URL"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Code;

    #[test]
    fn national_clouds() {
        let e = Endpoints::resolve(Cloud::UsGovDod, &EndpointOverrides::default()).unwrap();
        assert_eq!(e.scope(), "https://dod-graph.microsoft.us/.default");
        assert_eq!(
            e.token_url("contoso.com").as_str(),
            "https://login.microsoftonline.us/contoso.com/oauth2/v2.0/token"
        );
        let e = Endpoints::resolve(Cloud::China, &EndpointOverrides::default()).unwrap();
        assert_eq!(
            e.graph_url("users"),
            "https://microsoftgraph.chinacloudapi.cn/v1.0/users"
        );
        assert_eq!(
            e.scope(),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        assert_eq!(Cloud::parse("us_gov"), Some(Cloud::UsGov));
    }

    #[test]
    fn overrides_apply_to_every_cloud() {
        let o = EndpointOverrides {
            login_url: Some("http://127.0.0.1:9/".into()),
            graph_url: Some("http://127.0.0.1:9".into()),
        };
        let e = Endpoints::resolve(Cloud::China, &o).unwrap();
        assert_eq!(
            e.token_url("t").as_str(),
            "http://127.0.0.1:9/t/oauth2/v2.0/token"
        );
        assert_eq!(
            e.graph_url("/organization"),
            "http://127.0.0.1:9/v1.0/organization"
        );
        assert_eq!(
            e.scope(),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        assert!(e.is_graph_link("http://127.0.0.1:9/v1.0/users?$skiptoken=x"));
        assert!(!e.is_graph_link("http://evil.example/v1.0/users"));
    }

    #[test]
    fn tenant_is_one_encoded_segment() {
        let e = Endpoints::resolve(Cloud::Global, &EndpointOverrides::default()).unwrap();
        assert_eq!(
            e.token_url("not a/tenant").as_str(),
            "https://login.microsoftonline.com/not%20a%2Ftenant/oauth2/v2.0/token"
        );
    }

    #[test]
    fn bad_override_is_a_config_error() {
        let o = EndpointOverrides {
            login_url: Some("not a url".into()),
            graph_url: None,
        };
        assert_eq!(
            Endpoints::resolve(Cloud::Global, &o).unwrap_err().code(),
            Code::Internal
        );
    }
}
