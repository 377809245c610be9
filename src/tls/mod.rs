//! rustls configurations for a lab's servers and clients, all on the aws-lc-rs provider.

pub mod client;
pub mod identity;
pub mod server;

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::SupportedProtocolVersion;
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedCipherSuite,
};

use crate::lab::{Chain, Client, Lab, Pin, RevocationCheck, Server};
use crate::lab::{CipherSuiteName, ClientAuth, TlsVersion};
use crate::pki::Pki;

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

/// The provider restricted to `ciphers` (all suites when `None`).
fn provider_with(ciphers: Option<&[CipherSuiteName]>) -> Arc<CryptoProvider> {
    let Some(ciphers) = ciphers else {
        return provider();
    };
    Arc::new(CryptoProvider {
        cipher_suites: ciphers.iter().map(|c| cipher_suite(*c)).collect(),
        ..rustls::crypto::aws_lc_rs::default_provider()
    })
}

fn cipher_suite(c: CipherSuiteName) -> SupportedCipherSuite {
    use rustls::crypto::aws_lc_rs::cipher_suite as s;
    match c {
        CipherSuiteName::Tls13Aes128GcmSha256 => s::TLS13_AES_128_GCM_SHA256,
        CipherSuiteName::Tls13Aes256GcmSha384 => s::TLS13_AES_256_GCM_SHA384,
        CipherSuiteName::Tls13Chacha20Poly1305Sha256 => s::TLS13_CHACHA20_POLY1305_SHA256,
        CipherSuiteName::EcdheEcdsaAes128GcmSha256 => s::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuiteName::EcdheEcdsaAes256GcmSha384 => s::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuiteName::EcdheEcdsaChacha20Poly1305Sha256 => {
            s::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        CipherSuiteName::EcdheRsaAes128GcmSha256 => s::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuiteName::EcdheRsaAes256GcmSha384 => s::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuiteName::EcdheRsaChacha20Poly1305Sha256 => {
            s::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
    }
}

/// The clock a configuration verifies with: a fixed virtual time, or the system clock.
#[derive(Debug)]
struct FixedTime(UnixTime);

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

fn time_provider(at: Option<time::OffsetDateTime>) -> Arc<dyn TimeProvider> {
    match at {
        Some(t) => Arc::new(FixedTime(UnixTime::since_unix_epoch(
            std::time::Duration::from_secs(t.unix_timestamp().max(0) as u64),
        ))),
        None => Arc::new(DefaultTimeProvider),
    }
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

/// The chain a peer presenting certificate `cert` sends, shaped by `chain`.
pub fn presented_chain(pki: &Pki, cert: usize, chain: &Chain) -> Vec<CertificateDer<'static>> {
    let leaf = &pki.certificates[cert];
    match chain {
        Chain::Full => leaf.chain(),
        Chain::Leaf => vec![leaf.der.clone()],
        Chain::List(list) => std::iter::once(leaf.der.clone())
            .chain(list.iter().map(|r| pki.get(*r).der.clone()))
            .collect(),
    }
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (the HPKP / `curl --pinnedpubkey` pin).
pub fn spki_sha256(der: &[u8]) -> Option<[u8; 32]> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        cert.tbs_certificate.subject_pki.raw,
    );
    digest.as_ref().try_into().ok()
}

/// The configuration of a built-in server, verifying with the system clock.
pub fn server_config(
    lab: &Lab,
    pki: &Pki,
    server: &Server,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    server_config_at(lab, pki, server, None)
}

/// The configuration of a built-in server, verifying at `at` (the virtual clock; now when `None`).
pub fn server_config_at(
    _lab: &Lab,
    pki: &Pki,
    server: &Server,
    at: Option<time::OffsetDateTime>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let who = format!("server `{}`", server.name);
    let fail = |message: String| TlsSetupError {
        who: who.clone(),
        message,
    };
    let provider = provider_with(server.ciphers.as_deref());
    let builder = ServerConfig::builder_with_details(provider.clone(), time_provider(at))
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
            if let Some(r) = server.revocation {
                v = v.with_crls(pki.crls());
                if r.end_entity_only {
                    v = v.only_check_end_entity_revocation();
                }
                if r.allow_unknown {
                    v = v.allow_unknown_revocation_status();
                }
                if r.deny_expired {
                    v = v.enforce_revocation_expiration();
                }
            }
            builder.with_client_cert_verifier(v.build().map_err(|e| fail(e.to_string()))?)
        }
    };
    let cert = &pki.certificates[server.certificate];
    let key = certified_key(
        &provider_with(None),
        presented_chain(pki, server.certificate, &server.chain),
        cert,
    )
    .map_err(|e| fail(format!("certificate `{}`: {e}", cert.name)))?;
    Ok(Arc::new(builder.with_cert_resolver(key)))
}

/// The configuration of a built-in client for one case, verifying with the system clock.
pub fn client_config(
    pki: &Pki,
    client: &Client,
    case: &str,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    client_config_at(pki, client, case, None)
}

/// The configuration of a built-in client for one case, verifying at `at` (the virtual clock; now when `None`).
pub fn client_config_at(
    pki: &Pki,
    client: &Client,
    case: &str,
    at: Option<time::OffsetDateTime>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let who = format!("the client of case `{case}`");
    let fail = |message: String| TlsSetupError {
        who: who.clone(),
        message,
    };
    let provider = provider_with(client.ciphers.as_deref());
    let builder = ClientConfig::builder_with_details(provider.clone(), time_provider(at))
        .with_protocol_versions(&versions(&client.versions))
        .map_err(|e| fail(e.to_string()))?;
    let roots = Arc::new(roots(pki, &client.trust, &who)?);
    let builder = if client.revocation.is_none() && client.pins.is_empty() {
        builder.with_root_certificates(roots)
    } else {
        let verifier =
            server_verifier(pki, roots, provider.clone(), client.revocation).map_err(fail)?;
        let verifier: Arc<dyn ServerCertVerifier> = if client.pins.is_empty() {
            verifier
        } else {
            let pins = client
                .pins
                .iter()
                .map(|p| match p {
                    Pin::Sha256(h) => Ok(*h),
                    Pin::Key(r) => spki_sha256(&pki.get(*r).der).ok_or_else(|| {
                        fail(format!(
                            "cannot read the public key of `{}`",
                            pki.get(*r).name
                        ))
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Arc::new(PinningVerifier {
                inner: verifier,
                pins,
            })
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
    };
    let config = match client.certificate {
        None => builder.with_no_client_auth(),
        Some(i) => {
            let cert = &pki.certificates[i];
            let key = certified_key(&provider, presented_chain(pki, i, &client.chain), cert)
                .map_err(|e| fail(format!("certificate `{}`: {e}", cert.name)))?;
            builder.with_client_cert_resolver(key)
        }
    };
    Ok(Arc::new(config))
}

/// The chain and key a peer presents. Unlike `with_single_cert`, this does not parse the leaf: a lab may
/// present a certificate that rustls itself would refuse (e.g. one with an unknown critical extension), so
/// that the peer's verifier is the one that refuses it. The key was generated with the certificate.
fn certified_key(
    provider: &CryptoProvider,
    chain: Vec<CertificateDer<'static>>,
    cert: &crate::pki::Issued,
) -> Result<Arc<SingleCertAndKey>, rustls::Error> {
    let key = provider.key_provider.load_private_key(cert.key())?;
    Ok(Arc::new(SingleCertAndKey::from(CertifiedKey::new(
        chain, key,
    ))))
}

fn server_verifier(
    pki: &Pki,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    revocation: Option<RevocationCheck>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    if roots.is_empty() {
        // The WebPKI builder refuses an empty store; a verifier that trusts nothing rejects every server.
        return Err(
            "a client that pins or checks revocation must trust at least one authority".into(),
        );
    }
    let mut v = WebPkiServerVerifier::builder_with_provider(roots, provider);
    if let Some(r) = revocation {
        v = v.with_crls(pki.crls());
        if r.end_entity_only {
            v = v.only_check_end_entity_revocation();
        }
        if r.allow_unknown {
            v = v.allow_unknown_revocation_status();
        }
        if r.deny_expired {
            v = v.enforce_revocation_expiration();
        }
    }
    v.build().map_err(|e| e.to_string())
}

/// Verifies the server like WebPKI does, then requires its public key to be pinned.
#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let hash = spki_sha256(end_entity).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        if self.pins.contains(&hash) {
            Ok(ServerCertVerified::assertion())
        } else {
            use base64::Engine;
            Err(crate::reason::pin_mismatch_error(
                base64::engine::general_purpose::STANDARD.encode(hash),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The readiness probe's configuration: it accepts any server certificate (it only asks whether a TLS server answers) and presents none.
pub fn probe_config() -> Arc<ClientConfig> {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .expect("the aws-lc-rs provider supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

/// Accepts every server certificate: for the readiness probe only, never for a case.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
