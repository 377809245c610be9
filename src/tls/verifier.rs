//! Certificate verifiers beyond rustls's own: key pinning on top of WebPKI (the HPKP / `curl
//! --pinnedpubkey` check), a server's client verifier that trusts nothing, and the readiness probe's
//! verifier that accepts anything.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::tls::config::provider;

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

/// Verifies the server like WebPKI does, then requires its public key to be pinned. A mismatch is
/// [`crate::reason::pin_mismatch_error`], which names the presented key.
#[derive(Debug)]
pub(crate) struct PinningVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl PinningVerifier {
    /// WebPKI verification by `inner`, then one of `pins` (SHA-256 of the SubjectPublicKeyInfo) must match.
    pub(crate) fn new(inner: Arc<WebPkiServerVerifier>, pins: Vec<[u8; 32]>) -> PinningVerifier {
        PinningVerifier { inner, pins }
    }
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
        let hash = spki_sha256(end_entity).ok_or_else(crate::reason::bad_encoding_error)?;
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

/// The client verifier of a server that asks for client certificates but trusts no authority (`trust: []`):
/// every certificate presented is refused as [`crate::reason::unknown_issuer_error`], as WebPKI refuses a
/// chain that reaches no trust anchor, and as an OpenSSL server with an empty CA list does (`unable to get
/// local issuer certificate`). rustls's `WebPkiClientVerifier` refuses to be built without roots.
#[derive(Debug)]
pub(crate) struct TrustNothing {
    provider: Arc<CryptoProvider>,
    mandatory: bool,
}

impl TrustNothing {
    /// A verifier that refuses every client certificate; with `mandatory`, a client must send one (and is
    /// then refused), otherwise a client without one is let in, as `client_auth: optional` does.
    pub(crate) fn new(provider: Arc<CryptoProvider>, mandatory: bool) -> TrustNothing {
        TrustNothing {
            provider,
            mandatory,
        }
    }
}

impl ClientCertVerifier for TrustNothing {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Err(crate::reason::unknown_issuer_error())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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
