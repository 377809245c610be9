//! rustls for a lab: [`config`] builds the servers' and clients' configurations, [`verifier`] adds key
//! pinning and the readiness probe, [`server`] and [`client`] are the built-in peers, [`identity`] reads
//! what each side saw of the other's certificate.

pub mod client;
pub mod config;
pub mod identity;
pub mod limbo;
pub mod negotiated;
pub mod server;
pub mod sessions;
pub mod verifier;

pub use config::{
    client_config, client_config_at, client_config_noting, client_config_resuming, presented_chain,
    provider, server_config, server_config_at, server_config_sharing,
};
pub use verifier::{probe_config, spki_sha256};

/// A configuration rustls refused to build.
#[derive(Debug, thiserror::Error)]
#[error("cannot configure TLS for {who}: {message}")]
pub struct TlsSetupError {
    /// `server `NAME`` or `the client of case `NAME``.
    pub who: String,
    /// What rustls (or the lab's PKI) said.
    pub message: String,
}
