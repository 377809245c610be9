//! What a handshake negotiated, read from a rustls connection (cipher suite, key-exchange group, ALPN,
//! SNI, resumption), and what only the built-in client sees, noted by its two hooks: the verifier wrapper
//! ([`RecordingVerifier`]: the server's certificate, also when refused, and the scheme it signed with; it
//! verifies `server_name` while another SNI is sent) and the certificate resolver ([`ChoosingResolver`]:
//! the CA names of the server's request, and whether it withheld its certificates for want of a match).

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CommonState, DigitallySignedStruct, DistinguishedName, HandshakeKind, SignatureScheme,
};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use crate::lab::SignatureSchemeName;
use crate::pki::Pki;
use crate::tls::identity::Identity;

/// What one handshake negotiated; a value is `None` when the side that read it had not agreed on it
/// (no ALPN, no key exchange in a resumed TLS 1.2 handshake, a handshake that failed first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Negotiated {
    /// IANA name, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher_suite: Option<String>,
    /// Lower-case IANA name, e.g. `x25519`.
    pub group: Option<String>,
    /// The scheme the server signed the handshake with, as the built-in client verified it, e.g.
    /// `ecdsa_secp256r1_sha256`.
    pub signature_scheme: Option<String>,
    /// The ALPN protocol agreed.
    pub alpn: Option<String>,
    /// The SNI the built-in server received.
    pub sni: Option<String>,
    /// Whether the handshake resumed an earlier session.
    pub resumed: Option<bool>,
    /// The CA names the server advertised when it asked the built-in client for a certificate, as the
    /// lab's authority names (a distinguished name the lab does not define as itself); `None` when it
    /// did not ask.
    pub ca_names: Option<Vec<String>>,
    /// Whether the built-in client, choosing by CA names, withheld its certificates because none matched.
    pub certificate_withheld: bool,
}

impl Negotiated {
    /// Reads what `conn` (either side, after its handshake) negotiated; the signature scheme and SNI
    /// are filled in by whoever observed them.
    pub fn of(conn: &CommonState) -> Negotiated {
        Negotiated {
            cipher_suite: conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite())),
            group: conn
                .negotiated_key_exchange_group()
                .map(|g| format!("{:?}", g.name()).to_ascii_lowercase()),
            signature_scheme: None,
            alpn: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            sni: None,
            ca_names: None,
            certificate_withheld: false,
            resumed: conn
                .handshake_kind()
                .map(|k| matches!(k, HandshakeKind::Resumed)),
        }
    }

    /// Fills every value `self` lacks from `other`.
    pub fn or(self, other: &Negotiated) -> Negotiated {
        Negotiated {
            cipher_suite: self.cipher_suite.or_else(|| other.cipher_suite.clone()),
            group: self.group.or_else(|| other.group.clone()),
            signature_scheme: self
                .signature_scheme
                .or_else(|| other.signature_scheme.clone()),
            alpn: self.alpn.or_else(|| other.alpn.clone()),
            sni: self.sni.or_else(|| other.sni.clone()),
            resumed: self.resumed.or(other.resumed),
            ca_names: self.ca_names.or_else(|| other.ca_names.clone()),
            certificate_withheld: self.certificate_withheld || other.certificate_withheld,
        }
    }
}

/// The IANA name of a signature scheme, as a lab writes it (`SignatureSchemeName`).
pub fn scheme_name(s: SignatureScheme) -> String {
    let known = match s {
        SignatureScheme::ECDSA_NISTP256_SHA256 => SignatureSchemeName::EcdsaSecp256r1Sha256,
        SignatureScheme::ECDSA_NISTP384_SHA384 => SignatureSchemeName::EcdsaSecp384r1Sha384,
        SignatureScheme::ECDSA_NISTP521_SHA512 => SignatureSchemeName::EcdsaSecp521r1Sha512,
        SignatureScheme::ED25519 => SignatureSchemeName::Ed25519,
        SignatureScheme::RSA_PSS_SHA256 => SignatureSchemeName::RsaPssRsaeSha256,
        SignatureScheme::RSA_PSS_SHA384 => SignatureSchemeName::RsaPssRsaeSha384,
        SignatureScheme::RSA_PSS_SHA512 => SignatureSchemeName::RsaPssRsaeSha512,
        SignatureScheme::RSA_PKCS1_SHA256 => SignatureSchemeName::RsaPkcs1Sha256,
        SignatureScheme::RSA_PKCS1_SHA384 => SignatureSchemeName::RsaPkcs1Sha384,
        SignatureScheme::RSA_PKCS1_SHA512 => SignatureSchemeName::RsaPkcs1Sha512,
        other => return format!("{other:?}").to_ascii_lowercase(),
    };
    known.code().to_string()
}

/// What the built-in client noted during one handshake.
#[derive(Debug, Default)]
pub struct Notes {
    /// The scheme of the server's handshake signature it verified.
    pub signature_scheme: Option<SignatureScheme>,
    /// The certificate the server presented, read before it was verified (so also when it was refused).
    pub server_certificate: Option<Identity>,
    /// The CA names of the server's certificate request (DER distinguished names), if it sent one.
    pub ca_names: Option<Vec<Vec<u8>>>,
    /// Whether the client, choosing by CA names, sent no certificate because none matched.
    pub withheld: bool,
}

impl Notes {
    /// The CA names as the lab's authority names, by subject; a name the lab does not define is written
    /// as the distinguished name.
    pub fn ca_names_in(&self, pki: &Pki) -> Option<Vec<String>> {
        let subjects: Vec<(Vec<u8>, &str)> = pki
            .authorities
            .iter()
            .filter_map(|a| Some((subject_der(&a.der)?, a.name.as_str())))
            .collect();
        self.ca_names.as_ref().map(|names| {
            names
                .iter()
                .map(|dn| match subjects.iter().find(|(s, _)| s == dn) {
                    Some((_, name)) => (*name).to_string(),
                    None => X509Name::from_der(dn)
                        .map(|(_, n)| n.to_string())
                        .unwrap_or_else(|_| "(unreadable name)".to_string()),
                })
                .collect()
        })
    }
}

/// The DER subject of a certificate, as CA names carry it.
fn subject_der(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, c) = X509Certificate::from_der(cert).ok()?;
    Some(c.subject().as_raw().to_vec())
}

/// The DER issuer of a certificate.
fn issuer_der(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, c) = X509Certificate::from_der(cert).ok()?;
    Some(c.issuer().as_raw().to_vec())
}

/// One certificate a client may send: its chain and key, and the issuer of each certificate in the chain.
#[derive(Debug)]
pub struct Candidate {
    key: Arc<CertifiedKey>,
    issuers: Vec<Vec<u8>>,
}

impl Candidate {
    /// A candidate presenting `key` (whose chain is read for its issuers).
    pub fn new(key: Arc<CertifiedKey>) -> Candidate {
        let issuers = key.cert.iter().filter_map(|c| issuer_der(c)).collect();
        Candidate { key, issuers }
    }
}

/// The built-in client's certificate choice: always its first certificate, or (`select: by_ca_names`)
/// the first whose chain holds a certificate issued by one of the CA names of the server's request —
/// Go's `CertificateRequestInfo.SupportsCertificate` rule, which Java's and browsers' key managers
/// share — and none when none matches; any when the server names none. It notes the names either way.
#[derive(Debug)]
pub struct ChoosingResolver {
    candidates: Vec<Candidate>,
    by_ca_names: bool,
    notes: SharedNotes,
}

impl ChoosingResolver {
    /// Chooses among `candidates` (in order), by CA names when `by_ca_names`, noting into `notes`.
    pub fn new(candidates: Vec<Candidate>, by_ca_names: bool, notes: SharedNotes) -> Self {
        ChoosingResolver {
            candidates,
            by_ca_names,
            notes,
        }
    }
}

impl ResolvesClientCert for ChoosingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let chosen = if !self.by_ca_names || root_hint_subjects.is_empty() {
            self.candidates.first()
        } else {
            self.candidates.iter().find(|c| {
                c.issuers
                    .iter()
                    .any(|i| root_hint_subjects.contains(&i.as_slice()))
            })
        };
        if let Ok(mut n) = self.notes.lock() {
            n.ca_names = Some(root_hint_subjects.iter().map(|d| d.to_vec()).collect());
            n.withheld = chosen.is_none() && !self.candidates.is_empty();
        }
        chosen.map(|c| c.key.clone())
    }

    fn has_certs(&self) -> bool {
        !self.candidates.is_empty()
    }
}

/// Shared between a client's configuration and the case that runs it.
pub type SharedNotes = Arc<Mutex<Notes>>;

/// A server verifier that records the scheme of the signature it verifies and, for a client that sends
/// one SNI and verifies another name, verifies `verify_as` instead of the name the connection was opened with.
#[derive(Debug)]
pub struct RecordingVerifier {
    inner: Arc<dyn ServerCertVerifier>,
    verify_as: Option<ServerName<'static>>,
    notes: SharedNotes,
}

impl RecordingVerifier {
    /// Wraps `inner`, noting into `notes`.
    pub fn new(
        inner: Arc<dyn ServerCertVerifier>,
        verify_as: Option<ServerName<'static>>,
        notes: SharedNotes,
    ) -> RecordingVerifier {
        RecordingVerifier {
            inner,
            verify_as,
            notes,
        }
    }

    fn note(&self, scheme: SignatureScheme) {
        if let Ok(mut n) = self.notes.lock() {
            n.signature_scheme = Some(scheme);
        }
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut n) = self.notes.lock() {
            n.server_certificate = Identity::from_der(end_entity);
        }
        let name = self.verify_as.as_ref().unwrap_or(server_name);
        self.inner
            .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.note(dss.scheme);
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.note(dss.scheme);
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}
