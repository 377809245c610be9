//! The validated handshake settings and assertions: what a client sends as SNI, and what a case expects
//! the handshake to have negotiated.

pub use crate::spec::{GroupName, SignatureSchemeName};

use super::{CipherSuiteName, IdentitySpec, TlsVersion};

/// What a client sends as SNI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Sni {
    /// The name it verifies (rustls sends none for an IP address).
    #[default]
    Verified,
    /// No SNI extension at all.
    Omitted,
    /// This DNS name, while the client verifies its `server_name`.
    Name(String),
}

/// The CA names a server advertises when it asks for a client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CaNames {
    /// The subjects of the authorities it trusts (rustls's default).
    #[default]
    Trusted,
    /// None.
    Empty,
    /// These authorities' subjects (indices into `Lab::authorities`).
    List(Vec<usize>),
}

/// Assertions on what the handshake negotiated; each one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NegotiatedExpect {
    pub client_saw: Option<IdentitySpec>,
    pub tls_version: Option<TlsVersion>,
    pub cipher_suite: Option<CipherSuiteName>,
    pub group: Option<GroupName>,
    pub signature_scheme: Option<SignatureSchemeName>,
    /// `Some(None)`: no protocol agreed.
    pub alpn: Option<Option<String>>,
    /// The CA names advertised, as authority names (or distinguished names the lab does not define).
    pub ca_names: Option<Vec<String>>,
    pub resumed: Option<bool>,
}

/// Where a built-in server keeps its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sessions {
    /// Stateless tickets sealed with ticket keys, instead of a session cache.
    pub tickets: bool,
    /// The server (index into `Lab::servers`) whose session cache and ticket keys it uses: its own, or
    /// the one named by `share_sessions_with`.
    pub group: usize,
}

impl NegotiatedExpect {
    /// Whether it asserts nothing.
    pub fn is_empty(&self) -> bool {
        *self == NegotiatedExpect::default()
    }
}

impl super::Client {
    /// The SNI the built-in client sends: none when it omits it or verifies an IP address.
    pub fn sni_sent(&self) -> Option<&str> {
        match &self.sni {
            Sni::Omitted => None,
            Sni::Name(n) => Some(n),
            Sni::Verified => (self.server_name.parse::<std::net::IpAddr>().is_err())
                .then_some(self.server_name.as_str()),
        }
    }
}

impl super::Server {
    /// The certificate the server presents to a client sending `sni`: the one `sni_certificates` names
    /// for it (names compare case-insensitively), else `certificate`.
    pub fn certificate_for(&self, sni: Option<&str>) -> usize {
        sni.map(str::to_ascii_lowercase)
            .and_then(|s| self.sni_certificates.iter().find(|(n, _)| *n == s))
            .map_or(self.certificate, |(_, c)| *c)
    }
}
