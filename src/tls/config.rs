//! rustls configurations for a lab's built-in servers and clients, all on the aws-lc-rs provider: protocol
//! versions and cipher suites as the lab restricts them, the lab's virtual clock, trust anchors,
//! revocation (CRLs) and the chain each side presents.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{ServerCertVerifierBuilder, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};
use rustls::server::{ClientCertVerifierBuilder, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::{
    ClientConfig, ConfigBuilder, ConfigSide, DistinguishedName, RootCertStore, ServerConfig,
    SupportedCipherSuite, SupportedProtocolVersion, WantsVerifier, WantsVersions,
};

use crate::lab::{CaNames, CertRef, CipherSuiteName, ClientAuth, GroupName, Sni, TlsVersion};
use crate::lab::{Chain, Client, Lab, Pin, RevocationCheck, Server};
use crate::pki::Pki;
use crate::tls::negotiated::{Candidate, ChoosingResolver, RecordingVerifier, SharedNotes};
use crate::tls::sessions::{ClientSessions, SessionStores};
use crate::tls::verifier::{spki_sha256, PinningVerifier, TrustNothing};
use crate::tls::TlsSetupError;

/// The crypto provider every configuration uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The provider restricted to `ciphers` (all suites when `None`).
fn provider_with(ciphers: Option<&[CipherSuiteName]>) -> Arc<CryptoProvider> {
    provider_for(ciphers, None)
}

/// The provider restricted to `ciphers` and key-exchange `groups` (all when `None`), groups in the
/// lab's order (a client offers a key share for the first).
fn provider_for(
    ciphers: Option<&[CipherSuiteName]>,
    groups: Option<&[GroupName]>,
) -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(ciphers) = ciphers {
        p.cipher_suites = ciphers.iter().map(|c| cipher_suite(*c)).collect();
    }
    if let Some(groups) = groups {
        p.kx_groups = groups.iter().map(|g| kx_group(*g)).collect();
    }
    Arc::new(p)
}

fn kx_group(g: GroupName) -> &'static dyn rustls::crypto::SupportedKxGroup {
    use rustls::crypto::aws_lc_rs::kx_group as k;
    match g {
        GroupName::X25519 => k::X25519,
        GroupName::Secp256r1 => k::SECP256R1,
        GroupName::Secp384r1 => k::SECP384R1,
        GroupName::X25519mlkem768 => k::X25519MLKEM768,
        GroupName::Secp256r1mlkem768 => k::SECP256R1MLKEM768,
        GroupName::Mlkem768 => k::MLKEM768,
        GroupName::Mlkem1024 => k::MLKEM1024,
    }
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

/// The clock of a configuration: `at` fixed (the virtual clock), or the system clock when `None`.
pub fn time_provider(at: Option<time::OffsetDateTime>) -> Arc<dyn TimeProvider> {
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

/// The trust anchors of a verifier: authorities, and certificates trusted directly (RFC 5280 §6.1.1 (d):
/// a trust anchor is any certificate the verifier chooses to trust).
fn roots(pki: &Pki, trust: &[CertRef], who: &str) -> Result<RootCertStore, TlsSetupError> {
    let mut store = RootCertStore::empty();
    for &r in trust {
        let issued = pki.get(r);
        store.add(issued.der.clone()).map_err(|e| TlsSetupError {
            who: who.to_string(),
            message: format!("`{}` is not a usable trust anchor: {e}", issued.name),
        })?;
    }
    Ok(store)
}

/// The subjects of authorities `list` (indices into the lab's authorities), as a server's CertificateRequest
/// names them (RFC 8446 §4.2.4, RFC 5246 §7.4.4).
///
/// # Errors
/// [`TlsSetupError`] when an authority's certificate cannot be read as a trust anchor.
fn named_subjects(
    pki: &Pki,
    list: &[usize],
    who: &str,
) -> Result<Vec<DistinguishedName>, TlsSetupError> {
    let refs: Vec<CertRef> = list.iter().map(|&a| CertRef::Authority(a)).collect();
    Ok(roots(pki, &refs, who)?.subjects())
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

/// `ServerConfig::builder_with_details` or `ClientConfig::builder_with_details`.
type Start<S> = fn(Arc<CryptoProvider>, Arc<dyn TimeProvider>) -> ConfigBuilder<S, WantsVersions>;

/// The start every configuration shares: the provider restricted to `ciphers`, the clock `at` (now when
/// `None`) and the protocol `versions`. `start` is `ServerConfig::builder_with_details` or the client's.
/// Returns the builder and the restricted provider (the verifiers use it too).
fn preamble<S: ConfigSide>(
    start: Start<S>,
    (ciphers, groups): (Option<&[CipherSuiteName]>, Option<&[GroupName]>),
    tls_versions: &[TlsVersion],
    at: Option<time::OffsetDateTime>,
) -> Result<(ConfigBuilder<S, WantsVerifier>, Arc<CryptoProvider>), rustls::Error> {
    let provider = provider_for(ciphers, groups);
    let builder = start(provider.clone(), time_provider(at))
        .with_protocol_versions(&versions(tls_versions))?;
    Ok((builder, provider))
}

/// The options of a WebPKI verifier builder that revocation sets: server side
/// ([`ClientCertVerifierBuilder`]) and client side ([`ServerCertVerifierBuilder`]) alike.
trait RevocationOptions: Sized {
    fn with_crls(self, crls: Vec<CertificateRevocationListDer<'static>>) -> Self;
    fn only_check_end_entity_revocation(self) -> Self;
    fn allow_unknown_revocation_status(self) -> Self;
    fn enforce_revocation_expiration(self) -> Self;
}

impl RevocationOptions for ClientCertVerifierBuilder {
    fn with_crls(self, crls: Vec<CertificateRevocationListDer<'static>>) -> Self {
        ClientCertVerifierBuilder::with_crls(self, crls)
    }
    fn only_check_end_entity_revocation(self) -> Self {
        ClientCertVerifierBuilder::only_check_end_entity_revocation(self)
    }
    fn allow_unknown_revocation_status(self) -> Self {
        ClientCertVerifierBuilder::allow_unknown_revocation_status(self)
    }
    fn enforce_revocation_expiration(self) -> Self {
        ClientCertVerifierBuilder::enforce_revocation_expiration(self)
    }
}

impl RevocationOptions for ServerCertVerifierBuilder {
    fn with_crls(self, crls: Vec<CertificateRevocationListDer<'static>>) -> Self {
        ServerCertVerifierBuilder::with_crls(self, crls)
    }
    fn only_check_end_entity_revocation(self) -> Self {
        ServerCertVerifierBuilder::only_check_end_entity_revocation(self)
    }
    fn allow_unknown_revocation_status(self) -> Self {
        ServerCertVerifierBuilder::allow_unknown_revocation_status(self)
    }
    fn enforce_revocation_expiration(self) -> Self {
        ServerCertVerifierBuilder::enforce_revocation_expiration(self)
    }
}

/// Sets revocation checking on a verifier builder: the CRLs the verifier has (every CRL of the lab unless
/// it names them), then the lab's policy (rustls's defaults otherwise: the whole chain, unknown status is
/// an error, expired CRLs are accepted).
fn with_revocation<B: RevocationOptions>(mut v: B, pki: &Pki, r: &RevocationCheck) -> B {
    v = v.with_crls(match &r.crls {
        None => pki.crls(),
        Some(list) => list
            .iter()
            .filter_map(|&a| pki.authorities[a].crl.as_ref().map(|c| c.0.clone()))
            .collect(),
    });
    if r.end_entity_only {
        v = v.only_check_end_entity_revocation();
    }
    if r.allow_unknown {
        v = v.allow_unknown_revocation_status();
    }
    if r.deny_expired {
        v = v.enforce_revocation_expiration();
    }
    v
}

/// The configuration of a built-in server, verifying with the system clock.
pub fn server_config(
    lab: &Lab,
    pki: &Pki,
    server: &Server,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    server_config_at(lab, pki, server, None)
}

/// The configuration of a built-in server, verifying client certificates at `at` (the virtual clock; now
/// when `None`) against the server's trust anchors, as its `client_auth` asks (none, optional, required).
///
/// # Errors
/// [`TlsSetupError`] when rustls refuses the versions, a trust anchor, the verifier or the server's key.
pub fn server_config_at(
    lab: &Lab,
    pki: &Pki,
    server: &Server,
    at: Option<time::OffsetDateTime>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    server_config_sharing(lab, pki, server, at, &SessionStores::default())
}

/// As [`server_config_at`], keeping sessions in `sessions` (the lab run's): the server's group's session
/// cache, and its ticket keys when it issues stateless tickets (`tickets: true`), bound to its
/// client-certificate policy.
///
/// # Errors
/// As [`server_config_at`], and when the ticket keys cannot be generated.
pub fn server_config_sharing(
    _lab: &Lab,
    pki: &Pki,
    server: &Server,
    at: Option<time::OffsetDateTime>,
    sessions: &SessionStores,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let who = format!("server `{}`", server.name);
    let fail = |message: String| TlsSetupError {
        who: who.clone(),
        message,
    };
    let (builder, provider) = preamble(
        ServerConfig::builder_with_details,
        (server.ciphers.as_deref(), server.groups.as_deref()),
        &server.versions,
        at,
    )
    .map_err(|e| fail(e.to_string()))?;
    let builder = match server.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        // rustls's WebPKI verifier refuses an empty store; a server that trusts nothing refuses every
        // client certificate itself.
        auth if server.trust.is_empty() => builder.with_client_cert_verifier(Arc::new(
            TrustNothing::new(provider.clone(), auth == ClientAuth::Required).with_root_hints(
                match &server.ca_names {
                    CaNames::Trusted | CaNames::Empty => Vec::new(),
                    CaNames::List(list) => named_subjects(pki, list, &who)?,
                },
            ),
        )),
        auth => {
            let mut v = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(pki, &server.trust, &who)?),
                provider,
            );
            if auth == ClientAuth::Optional {
                v = v.allow_unauthenticated();
            }
            v = match &server.ca_names {
                CaNames::Trusted => v,
                CaNames::Empty => v.clear_root_hint_subjects(),
                CaNames::List(list) => v
                    .clear_root_hint_subjects()
                    .add_root_hint_subjects(named_subjects(pki, list, &who)?),
            };
            if let Some(r) = &server.revocation {
                v = with_revocation(v, pki, r);
            }
            builder.with_client_cert_verifier(v.build().map_err(|e| fail(e.to_string()))?)
        }
    };
    let key_of = |index: usize| {
        let cert = &pki.certificates[index];
        certified_key(
            &provider_with(None),
            presented_chain(pki, index, &server.chain),
            cert,
        )
        .map_err(|e| fail(format!("certificate `{}`: {e}", cert.name)))
    };
    let key = key_of(server.certificate)?;
    let mut config = if server.sni_certificates.is_empty() {
        builder.with_cert_resolver(key)
    } else {
        let mut by_name = Vec::new();
        for (name, index) in &server.sni_certificates {
            by_name.push((name.clone(), key_of(*index)?));
        }
        builder.with_cert_resolver(Arc::new(SniResolver {
            default: key,
            by_name,
        }))
    };
    config.alpn_protocols = server.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let (cache, tickets) = sessions
        .for_server(server)
        .map_err(|e| fail(format!("session tickets: {e}")))?;
    config.session_storage = cache;
    config.ticketer = tickets;
    Ok(Arc::new(config))
}

/// Chooses the server's certificate by the SNI the client sent (RFC 6066 §3): the one named for it, else
/// the default (also for a client that sent none).
#[derive(Debug)]
struct SniResolver {
    default: Arc<SingleCertAndKey>,
    /// Lower-case DNS names.
    by_name: Vec<(String, Arc<SingleCertAndKey>)>,
}

impl rustls::server::ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .map(str::to_ascii_lowercase)
            .and_then(|sni| self.by_name.iter().find(|(n, _)| *n == sni))
            .map_or(&self.default, |(_, k)| k);
        rustls::server::ResolvesServerCert::resolve(chosen.as_ref(), hello)
    }
}

/// The configuration of a built-in client for one case, verifying with the system clock.
pub fn client_config(
    pki: &Pki,
    client: &Client,
    case: &str,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    client_config_at(pki, client, case, None)
}

/// The configuration of a built-in client for case `case`, verifying the server at `at` (the virtual
/// clock; now when `None`) against the client's trust anchors, with revocation and key pins when it has
/// them, and presenting its certificate when it has one.
///
/// # Errors
/// [`TlsSetupError`] when rustls refuses the versions, a trust anchor, the verifier or the client's key,
/// or a pinned certificate's public key cannot be read.
pub fn client_config_at(
    pki: &Pki,
    client: &Client,
    case: &str,
    at: Option<time::OffsetDateTime>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    client_config_noting(pki, client, case, at).map(|(config, _)| config)
}

/// As [`client_config_at`], and the notes the client's verifier takes during the handshake (the server's
/// signature scheme); the client offers its ALPN protocols, sends its SNI (none, or another name than
/// the one it verifies: [`RecordingVerifier`] then verifies `server_name`).
///
/// # Errors
/// As [`client_config_at`].
pub fn client_config_noting(
    pki: &Pki,
    client: &Client,
    case: &str,
    at: Option<time::OffsetDateTime>,
) -> Result<(Arc<ClientConfig>, SharedNotes), TlsSetupError> {
    client_config_resuming(pki, client, case, at, &SessionStores::default())
}

/// As [`client_config_noting`], keeping the client's sessions in `sessions` (the lab run's) under `case`,
/// and offering those of the case it resumes (`resume`).
///
/// # Errors
/// As [`client_config_at`].
pub fn client_config_resuming(
    pki: &Pki,
    client: &Client,
    case: &str,
    at: Option<time::OffsetDateTime>,
    sessions: &SessionStores,
) -> Result<(Arc<ClientConfig>, SharedNotes), TlsSetupError> {
    let who = format!("the client of case `{case}`");
    let fail = |message: String| TlsSetupError {
        who: who.clone(),
        message,
    };
    let (builder, provider) = preamble(
        ClientConfig::builder_with_details,
        (client.ciphers.as_deref(), client.groups.as_deref()),
        &client.versions,
        at,
    )
    .map_err(|e| fail(e.to_string()))?;
    // A client resuming an earlier case's session is that case's client: rustls resumes a session only
    // with the verifier and certificate resolver that made it.
    if let Some(earlier) = client.resume.as_deref().and_then(|r| sessions.client(r)) {
        if let Ok(mut n) = earlier.notes.lock() {
            *n = Default::default();
        }
        let builder = match earlier.verifier.clone() {
            Some(v) => builder.dangerous().with_custom_certificate_verifier(v),
            None => builder.with_root_certificates(Arc::new(roots(pki, &client.trust, &who)?)),
        };
        let config = builder.with_client_cert_resolver(earlier.resolver.clone());
        let notes = earlier.notes.clone();
        let config = finish_client(config, client, earlier.store.clone());
        sessions.keep_client(case, earlier);
        return Ok((config, notes));
    }
    let notes = SharedNotes::default();
    let roots = Arc::new(roots(pki, &client.trust, &who)?);
    let verify_as = match &client.sni {
        Sni::Name(_) => ServerName::try_from(client.server_name.clone()).ok(),
        _ => None,
    };
    let verifier: Option<Arc<dyn ServerCertVerifier>> =
        if roots.is_empty() && client.revocation.is_none() && client.pins.is_empty() {
            // The WebPKI builder refuses an empty store; rustls's own verifier then rejects every server.
            None
        } else {
            let verifier = server_verifier(
                pki,
                roots.clone(),
                provider.clone(),
                client.revocation.as_ref(),
            )
            .map_err(fail)?;
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
                Arc::new(PinningVerifier::new(verifier, pins))
            };
            Some(Arc::new(RecordingVerifier::new(
                verifier,
                verify_as,
                notes.clone(),
            )))
        };
    // Every certificate the client may send: its one `certificate`, or those it chooses among.
    let held: Vec<usize> = match &client.select_by_ca_names {
        Some(list) => list.clone(),
        None => client.certificate.into_iter().collect(),
    };
    let mut candidates = Vec::new();
    for i in held {
        let cert = &pki.certificates[i];
        // A battery's key-mismatch client signs with another certificate's key (`key_of`).
        let signer = match client.key_of {
            Some(k) if client.certificate == Some(i) => &pki.certificates[k],
            _ => cert,
        };
        let key = provider
            .key_provider
            .load_private_key(signer.key())
            .map_err(|e| fail(format!("certificate `{}`: {e}", cert.name)))?;
        candidates.push(Candidate::new(Arc::new(CertifiedKey::new(
            presented_chain(pki, i, &client.chain),
            key,
        ))));
    }
    let resolver: Arc<dyn rustls::client::ResolvesClientCert> = Arc::new(ChoosingResolver::new(
        candidates,
        client.select_by_ca_names.is_some(),
        notes.clone(),
    ));
    let builder = match verifier.clone() {
        Some(v) => builder.dangerous().with_custom_certificate_verifier(v),
        None => builder.with_root_certificates(roots),
    };
    let config = builder.with_client_cert_resolver(resolver.clone());
    let store: Arc<dyn rustls::client::ClientSessionStore> =
        Arc::new(rustls::client::ClientSessionMemoryCache::new(32));
    let config = finish_client(config, client, store.clone());
    sessions.keep_client(
        case,
        ClientSessions {
            store,
            verifier,
            resolver,
            notes: notes.clone(),
        },
    );
    Ok((config, notes))
}

/// The settings every built-in client configuration ends with: SNI, ALPN, and the session store.
fn finish_client(
    mut config: ClientConfig,
    client: &Client,
    store: Arc<dyn rustls::client::ClientSessionStore>,
) -> Arc<ClientConfig> {
    config.enable_sni = client.sni != Sni::Omitted;
    config.resumption = rustls::client::Resumption::store(store);
    config.alpn_protocols = client.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// The chain and key a peer presents. Unlike `with_single_cert`, this does not parse the leaf: a lab may
/// present a certificate that rustls itself would refuse (e.g. one with an unknown critical extension), so
/// that the peer's verifier is the one that refuses it. The key is `signer`'s: the certificate's own, or
/// another one for a key that does not match (rustls does not check that they match here).
fn certified_key(
    provider: &CryptoProvider,
    chain: Vec<CertificateDer<'static>>,
    signer: &crate::pki::Issued,
) -> Result<Arc<SingleCertAndKey>, rustls::Error> {
    let key = provider.key_provider.load_private_key(signer.key())?;
    Ok(Arc::new(SingleCertAndKey::from(CertifiedKey::new(
        chain, key,
    ))))
}

/// The WebPKI verifier of a client that pins or checks revocation.
fn server_verifier(
    pki: &Pki,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    revocation: Option<&RevocationCheck>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    if roots.is_empty() {
        // The WebPKI builder refuses an empty store; a verifier that trusts nothing rejects every server.
        return Err(
            "a client that pins or checks revocation must trust at least one authority".into(),
        );
    }
    let mut v = WebPkiServerVerifier::builder_with_provider(roots, provider);
    if let Some(r) = revocation {
        v = with_revocation(v, pki, r);
    }
    v.build().map_err(|e| e.to_string())
}
