//! rustls configurations for x509-limbo testcases: a peer that presents a testcase's chain exactly as
//! written (no checks, so malformed leaves are still served), signing with the testcase's key or a
//! stand-in of the leaf's algorithm; and the built-in verifiers at the testcase's time, each wrapped in
//! [`ChainRecorder`] so that a run can tell the chain's verdict from the CertificateVerify signature's.
//!
//! Every configuration is TLS 1.3 only: rustls's TLS 1.3 client verifies the server's chain
//! (`verify_server_cert`) before the CertificateVerify signature (`verify_tls13_signature`), in
//! `ExpectCertificateVerify::handle` of rustls 0.23's `client/tls13.rs` ("1. Verify the certificate
//! chain. 2. Verify their signature on the handshake."), and its server verifies a client's chain on
//! the Certificate message, before the client's CertificateVerify arrives. So a testcase without its
//! key can still be run: a stand-in key fails only the signature, after the chain was judged.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig};
use rustls::{SignatureScheme, SupportedProtocolVersion};

use crate::lab::limbo::Testcase;
use crate::lab::KeyType;
use crate::tls::config::{provider, time_provider};
use crate::tls::verifier::TrustNothing;

const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The key a peer signs its CertificateVerify with.
pub struct PeerKey {
    /// The signing key.
    pub key: Arc<dyn SigningKey>,
    /// When it is a stand-in: why, and of which type (e.g. `no key in the testcase: stand-in ECDSA P-256`).
    pub stand_in: Option<String>,
}

/// Stand-in keys by type, generated once per run (RSA takes a while).
#[derive(Default)]
pub struct StandIns {
    keys: Mutex<Vec<(KeyType, Arc<dyn SigningKey>)>>,
}

impl StandIns {
    /// The stand-in key of type `key`, generated the first time it is asked for.
    ///
    /// # Errors
    /// rcgen's or rustls's words when the key cannot be generated or loaded.
    fn get(&self, key: KeyType) -> Result<Arc<dyn SigningKey>, String> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| "stand-in keys poisoned".to_string())?;
        if let Some((_, k)) = keys.iter().find(|(t, _)| *t == key) {
            return Ok(k.clone());
        }
        let pair = crate::pki::keys::generate_key(key).map_err(|e| e.to_string())?;
        let der = PrivateKeyDer::try_from(crate::pki::keys::pkcs8_der(&pair))
            .map_err(|e| e.to_string())?;
        let signing = provider()
            .key_provider
            .load_private_key(der)
            .map_err(|e| e.to_string())?;
        keys.push((key, signing.clone()));
        Ok(signing)
    }
}

/// The key type of `leaf`'s public key, where a stand-in of that type can be made: RSA (a 2048-bit
/// stand-in whatever the leaf's size), ECDSA on P-256, P-384 or P-521, Ed25519. `None` otherwise
/// (DSA, other curves, a leaf that does not parse).
pub fn leaf_key_type(leaf: &CertificateDer<'_>) -> Option<KeyType> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let spki = &cert.tbs_certificate.subject_pki;
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => Some(KeyType::Rsa2048),
        "1.3.101.112" => Some(KeyType::Ed25519),
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()?
                .as_oid()
                .ok()?
                .to_id_string();
            match curve.as_str() {
                "1.2.840.10045.3.1.7" => Some(KeyType::EcdsaP256),
                "1.3.132.0.34" => Some(KeyType::EcdsaP384),
                "1.3.132.0.35" => Some(KeyType::EcdsaP521),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The key the peer of `tc` signs with: its own when it has one rustls can load, else a stand-in of
/// its leaf's key type (ECDSA P-256 when no stand-in of that type can be made).
///
/// # Errors
/// When no stand-in can be generated.
pub fn peer_key(tc: &Testcase, stand_ins: &StandIns) -> Result<PeerKey, String> {
    let why = match &tc.key {
        Some(k) => match provider().key_provider.load_private_key(k.clone_key()) {
            Ok(key) => {
                return Ok(PeerKey {
                    key,
                    stand_in: None,
                })
            }
            Err(e) => format!("rustls cannot load the testcase's key ({e})"),
        },
        None => tc
            .key_note
            .clone()
            .unwrap_or_else(|| "the testcase has no key".into()),
    };
    let (kind, of) = match leaf_key_type(&tc.leaf) {
        Some(k) => (k, "of the leaf's type"),
        None => (KeyType::EcdsaP256, "(no stand-in of the leaf's key type)"),
    };
    Ok(PeerKey {
        key: stand_ins.get(kind)?,
        stand_in: Some(format!(
            "{why}: stand-in {} key {of}",
            crate::pki::keys::label(kind)
        )),
    })
}

/// The chain a testcase's peer presents: its certificate, then the untrusted intermediates in the file's
/// order (decoys included).
pub fn presented_chain(tc: &Testcase) -> Vec<CertificateDer<'static>> {
    std::iter::once(tc.leaf.clone())
        .chain(tc.intermediates.iter().cloned())
        .collect()
}

/// Serves (or presents) one fixed chain and key, whatever the peer asks: built on
/// [`CertifiedKey::new`], which checks nothing, so that malformed leaves are presented too.
#[derive(Debug)]
pub struct FixedIdentity(Arc<CertifiedKey>);

impl FixedIdentity {
    /// The identity presenting `chain` and signing with `key`.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: Arc<dyn SigningKey>) -> FixedIdentity {
        FixedIdentity(Arc::new(CertifiedKey::new(chain, key)))
    }
}

impl rustls::server::ResolvesServerCert for FixedIdentity {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

impl rustls::client::ResolvesClientCert for FixedIdentity {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// What the verifier said about the chain itself (before any CertificateVerify signature).
#[derive(Debug, Clone, Default)]
pub struct ChainVerdict(Arc<Mutex<Option<Result<(), rustls::Error>>>>);

impl ChainVerdict {
    /// `Some(Ok)`: the chain was accepted; `Some(Err)`: refused with this error; `None`: not judged.
    pub fn get(&self) -> Option<Result<(), rustls::Error>> {
        self.0.lock().ok().and_then(|g| g.clone())
    }

    fn set(&self, r: &Result<(), rustls::Error>) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(r.clone());
        }
    }
}

/// A rustls verifier (server's or client's) that notes its chain verdict: every decision is the inner
/// verifier's own.
#[derive(Debug)]
pub struct ChainRecorder<V: ?Sized> {
    inner: Arc<V>,
    verdict: ChainVerdict,
}

impl ServerCertVerifier for ChainRecorder<dyn ServerCertVerifier> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let r = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        self.verdict
            .set(&r.as_ref().map(|_| ()).map_err(Clone::clone));
        r
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

impl ClientCertVerifier for ChainRecorder<dyn ClientCertVerifier> {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let r = self
            .inner
            .verify_client_cert(end_entity, intermediates, now);
        self.verdict
            .set(&r.as_ref().map(|_| ()).map_err(Clone::clone));
        r
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

/// The trust anchors of a testcase: those rustls can read, and a note for each it cannot (left out).
pub fn anchors(tc: &Testcase) -> (RootCertStore, Vec<String>) {
    let mut store = RootCertStore::empty();
    let mut left_out = Vec::new();
    for (i, der) in tc.trusted.iter().enumerate() {
        if let Err(e) = store.add(der.clone()) {
            left_out.push(format!(
                "trusted_certs[{i}] left out: rustls cannot read it as a trust anchor ({e})"
            ));
        }
    }
    (store, left_out)
}

/// A built-in verifying client for a SERVER testcase: TLS 1.3, `tc`'s anchors (`roots`), its CRLs
/// (the whole chain checked, unknown status refused, expired CRLs refused: rustls-webpki's limbo
/// harness's policy), its time (now when it has none). Returns the configuration and where its chain
/// verdict is noted (`None` when no anchor is left: rustls's own verifier then refuses every chain).
///
/// # Errors
/// rustls's words when it refuses the verifier (e.g. a CRL it cannot parse).
pub fn verifying_client(
    tc: &Testcase,
    roots: RootCertStore,
) -> Result<(Arc<ClientConfig>, Option<ChainVerdict>), String> {
    let p = provider();
    let builder = ClientConfig::builder_with_details(p.clone(), time_provider(tc.at))
        .with_protocol_versions(TLS13)
        .map_err(|e| e.to_string())?;
    if roots.is_empty() {
        let config = builder
            .with_root_certificates(Arc::new(roots))
            .with_no_client_auth();
        return Ok((Arc::new(config), None));
    }
    let mut v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), p);
    if !tc.crls.is_empty() {
        v = v.with_crls(tc.crls.clone()).enforce_revocation_expiration();
    }
    let inner: Arc<dyn ServerCertVerifier> = v.build().map_err(|e| e.to_string())?;
    let verdict = ChainVerdict::default();
    let recorder = Arc::new(ChainRecorder {
        inner,
        verdict: verdict.clone(),
    });
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(recorder)
        .with_no_client_auth();
    Ok((Arc::new(config), Some(verdict)))
}

/// The server of a SERVER testcase: TLS 1.3, presenting `chain` signed with `key`, asking no client
/// certificate.
///
/// # Errors
/// rustls's words when it refuses the versions.
pub fn presenting_server(
    chain: Vec<CertificateDer<'static>>,
    key: Arc<dyn SigningKey>,
) -> Result<Arc<ServerConfig>, String> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS13)
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(FixedIdentity::new(chain, key)));
    Ok(Arc::new(config))
}

/// The server's own identity in CLIENT testcases (not under test): a root and a `localhost` leaf made
/// with rcgen once per run, which the presenting client trusts.
pub struct HelperIdentity {
    root: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: Arc<dyn SigningKey>,
    /// The leaf's key, PKCS#8 DER, for a server program to load.
    key_der: Vec<u8>,
}

impl HelperIdentity {
    /// Makes the root and leaf (ECDSA P-256).
    ///
    /// # Errors
    /// rcgen's or rustls's words.
    pub fn new() -> Result<HelperIdentity, String> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let e = |e: rcgen::Error| e.to_string();
        let root_key = KeyPair::generate().map_err(e)?;
        let mut root_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mtls-lab limbo helper root");
        let root = root_params.self_signed(&root_key).map_err(e)?;
        let issuer = Issuer::new(root_params, root_key);
        let leaf_key = KeyPair::generate().map_err(e)?;
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .map_err(e)?
            .signed_by(&leaf_key, &issuer)
            .map_err(e)?;
        let key_der = leaf_key.serialize_der();
        let key = provider()
            .key_provider
            .load_private_key(PrivateKeyDer::try_from(key_der.clone()).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        Ok(HelperIdentity {
            root: root.der().clone(),
            chain: vec![leaf.der().clone()],
            key,
            key_der,
        })
    }

    /// The `localhost` certificate, PEM (for a server program).
    pub fn cert_pem(&self) -> String {
        crate::pki::export::pem_block("CERTIFICATE", &self.chain[0])
    }

    /// Its private key, PKCS#8 PEM (for a server program; write it 0600).
    pub fn key_pem(&self) -> String {
        crate::pki::export::pem_block("PRIVATE KEY", &self.key_der)
    }
}

/// The built-in verifying server of a CLIENT testcase: TLS 1.3, requiring a client certificate,
/// verified against `roots` with `tc`'s CRLs at `tc`'s time; presenting the helper identity. Returns
/// the configuration and where its chain verdict is noted.
///
/// # Errors
/// rustls's words when it refuses the verifier.
pub fn verifying_server(
    tc: &Testcase,
    roots: RootCertStore,
    helper: &HelperIdentity,
) -> Result<(Arc<ServerConfig>, ChainVerdict), String> {
    let p = provider();
    let builder = ServerConfig::builder_with_details(p.clone(), time_provider(tc.at))
        .with_protocol_versions(TLS13)
        .map_err(|e| e.to_string())?;
    let inner: Arc<dyn ClientCertVerifier> = if roots.is_empty() {
        Arc::new(TrustNothing::new(p.clone(), true))
    } else {
        let mut v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), p);
        if !tc.crls.is_empty() {
            v = v.with_crls(tc.crls.clone()).enforce_revocation_expiration();
        }
        v.build().map_err(|e| e.to_string())?
    };
    let verdict = ChainVerdict::default();
    let recorder = Arc::new(ChainRecorder {
        inner,
        verdict: verdict.clone(),
    });
    let config = builder
        .with_client_cert_verifier(recorder)
        .with_cert_resolver(Arc::new(FixedIdentity::new(
            helper.chain.clone(),
            helper.key.clone(),
        )));
    Ok((Arc::new(config), verdict))
}

/// The presenting client of a CLIENT testcase: trusts the helper root (the server is not under test),
/// presents `chain` signed with `key`.
///
/// # Errors
/// rustls's words.
pub fn presenting_client(
    helper: &HelperIdentity,
    chain: Vec<CertificateDer<'static>>,
    key: Arc<dyn SigningKey>,
) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.add(helper.root.clone()).map_err(|e| e.to_string())?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS13)
        .map_err(|e| e.to_string())?
        .with_root_certificates(Arc::new(roots))
        .with_client_cert_resolver(Arc::new(FixedIdentity::new(chain, key)));
    Ok(Arc::new(config))
}
