//! Public URLs: access links of tenants and the apex address.

use serde::Serialize;

/// Public address of the platform: scheme, base domain and the port, if not the default.
#[derive(Clone, Debug, Serialize)]
pub struct PublicUrls {
    pub scheme: String,
    pub base_domain: String,
    pub port: Option<u16>,
}

impl PublicUrls {
    /// Returns the URL for a host, for example `https://acme.mep24web.de`.
    pub fn host_url(&self, host: &str) -> String {
        match self.port {
            Some(port) => format!("{}://{host}:{port}", self.scheme),
            None => format!("{}://{host}", self.scheme),
        }
    }

    /// Returns the default host of a tenant: `<slug>.<base domain>`.
    pub fn tenant_host(&self, slug: &str) -> String {
        format!("{slug}.{}", self.base_domain)
    }

    /// Returns the apex URL, where the landing page and the app API live.
    pub fn apex_url(&self) -> String {
        self.host_url(&self.base_domain)
    }

    /// Returns true when cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }
}
