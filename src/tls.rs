//! rustls configurations for a lab's servers and clients, all on the aws-lc-rs provider.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::lab::{Client, Lab, Server};
use crate::pki::Pki;
use crate::spec::{ClientAuth, TlsVersion};

/// A configuration rustls refused to build.
#[derive(Debug, thiserror::Error)]
#[error("cannot configure TLS for {who}: {message}")]
pub struct TlsSetupError {
    pub who: String,
    pub message: String,
}

/// The crypto provider every configuration uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn versions(v: &[TlsVersion]) -> Vec<&'static SupportedProtocolVersion> {
    v.iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect()
}

fn roots(pki: &Pki, trust: &[usize], who: &str) -> Result<RootCertStore, TlsSetupError> {
    let mut store = RootCertStore::empty();
    for &i in trust {
        store
            .add(pki.authorities[i].der.clone())
            .map_err(|e| TlsSetupError {
                who: who.to_string(),
                message: format!(
                    "authority `{}` is not a usable trust anchor: {e}",
                    pki.authorities[i].name
                ),
            })?;
    }
    Ok(store)
}

/// The configuration of a built-in server.
pub fn server_config(
    _lab: &Lab,
    pki: &Pki,
    server: &Server,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let who = format!("server `{}`", server.name);
    let fail = |message: String| TlsSetupError {
        who: who.clone(),
        message,
    };
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(&server.versions))
        .map_err(|e| fail(e.to_string()))?;
    let builder = match server.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            let mut v = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(pki, &server.trust, &who)?),
                provider,
            );
            if auth == ClientAuth::Optional {
                v = v.allow_unauthenticated();
            }
            builder.with_client_cert_verifier(v.build().map_err(|e| fail(e.to_string()))?)
        }
    };
    let cert = &pki.certificates[server.certificate];
    let config = builder
        .with_single_cert(cert.chain(), cert.key())
        .map_err(|e| fail(format!("certificate `{}`: {e}", cert.name)))?;
    Ok(Arc::new(config))
}

/// The configuration of a built-in client for one case.
pub fn client_config(
    pki: &Pki,
    client: &Client,
    case: &str,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let who = format!("the client of case `{case}`");
    let fail = |message: String| TlsSetupError {
        who: who.clone(),
        message,
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(&client.versions))
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots(pki, &client.trust, &who)?);
    let config = match client.certificate {
        None => builder.with_no_client_auth(),
        Some(i) => {
            let cert = &pki.certificates[i];
            builder
                .with_client_auth_cert(cert.chain(), cert.key())
                .map_err(|e| fail(format!("certificate `{}`: {e}", cert.name)))?
        }
    };
    Ok(Arc::new(config))
}
