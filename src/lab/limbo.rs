//! An x509-limbo testcase decoded for a handshake: DER certificates, the peer's key, CRLs, the name and
//! time to validate for; and which verifiers under test cannot apply it, with why.
//!
//! The file's shape is [`crate::spec::limbo`]'s; this module decides what a testcase means for a TLS
//! handshake. A testcase whose PEMs, time or name cannot be decoded is kept as [`Undecodable`], to be
//! reported as an error rather than dropped. Files are read here, bounded, regular files only.

use std::net::IpAddr;
use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::lab::load::read_regular;
use crate::spec::limbo::{self as spec, PeerNameKind};

pub use crate::spec::limbo::{ExpectedResult, LimboFileError, ValidationKind};

/// The verifiers a limbo run can put under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verifier {
    /// mtls-lab's built-in rustls client (SERVER testcases) or server (CLIENT testcases).
    Builtin,
    /// curl, as a client, at the validation time under `faketime`.
    Curl,
    /// `openssl s_client` with `-attime` (SERVER testcases); `openssl s_server -Verify 1` (CLIENT testcases).
    Openssl,
}

impl Verifier {
    /// Every verifier, in the order runs report them.
    pub const ALL: &'static [Verifier] = &[Verifier::Builtin, Verifier::Curl, Verifier::Openssl];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verifier::Builtin => "builtin",
            Verifier::Curl => "curl",
            Verifier::Openssl => "openssl",
        }
    }

    /// The verifier named `name`.
    pub fn from_name(name: &str) -> Option<Verifier> {
        Verifier::ALL.iter().copied().find(|v| v.name() == name)
    }
}

/// A name the verifier checks the peer's certificate for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerName {
    /// A DNS name, as written.
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

impl std::fmt::Display for PeerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerName::Dns(n) => f.write_str(n),
            PeerName::Ip(a) => write!(f, "{a}"),
        }
    }
}

/// A testcase ready for a handshake.
#[derive(Debug)]
pub struct Testcase {
    /// Limbo's id.
    pub id: String,
    /// Which side presents the chain.
    pub kind: ValidationKind,
    /// Limbo's expected result.
    pub expected: ExpectedResult,
    /// Limbo's features (tags).
    pub features: Vec<String>,
    /// The trust anchors, DER, in file order.
    pub trusted: Vec<CertificateDer<'static>>,
    /// The intermediates the peer presents after its certificate, in file order (decoys included).
    pub intermediates: Vec<CertificateDer<'static>>,
    /// The peer's certificate.
    pub leaf: CertificateDer<'static>,
    /// The peer's key, when the testcase has one that decodes as PEM.
    pub key: Option<PrivateKeyDer<'static>>,
    /// Why the testcase's own key is not used, when it has none or it does not decode.
    pub key_note: Option<String>,
    /// When to validate; `None`: now.
    pub at: Option<time::OffsetDateTime>,
    /// The name a SERVER testcase is validated for (`None`: limbo gives none).
    pub name: Option<PeerName>,
    /// The CRLs to check revocation with.
    pub crls: Vec<CertificateRevocationListDer<'static>>,
    /// The PEM texts, for programs that read files: anchors, CRLs.
    pub pem: Pems,
    /// Why no verifier under test can apply it (the same for all), when that is so.
    pub not_applicable: Option<String>,
    /// limbo's `expected_peer_names` of a CLIENT testcase, as written (`RFC822:a@b`), which no TLS server
    /// checks.
    pub client_names: Vec<String>,
}

/// The PEM texts of a testcase, as limbo wrote them.
#[derive(Debug, Clone, Default)]
pub struct Pems {
    /// The trust anchors, concatenated.
    pub trusted: String,
    /// The CRLs, concatenated.
    pub crls: String,
}

/// A testcase that cannot be decoded: its id, and why.
#[derive(Debug)]
pub struct Undecodable {
    /// Limbo's id.
    pub id: String,
    /// Which side presents the chain.
    pub kind: ValidationKind,
    /// Limbo's expected result.
    pub expected: ExpectedResult,
    /// What could not be decoded.
    pub why: String,
}

/// A limbo file's testcases, decoded, in file order.
#[derive(Debug)]
pub struct Suite {
    /// The testcases; those that could not be decoded are kept with why.
    pub testcases: Vec<Result<Testcase, Undecodable>>,
    /// The id of every testcase in the file, the filtered-out ones too.
    pub all_ids: std::collections::BTreeSet<String>,
}

/// Each verifier's known disagreements with limbo: testcase id → one line of why.
#[derive(Debug, Clone, Default)]
pub struct Exceptions {
    /// By verifier.
    pub by_verifier:
        std::collections::BTreeMap<Verifier, std::collections::BTreeMap<String, String>>,
}

impl Exceptions {
    /// Why `verifier` is known to disagree on `id`, when it is.
    pub fn why(&self, verifier: Verifier, id: &str) -> Option<&str> {
        self.by_verifier.get(&verifier)?.get(id).map(String::as_str)
    }
}

/// Why an exceptions file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExceptionsError {
    /// It could not be read or parsed.
    #[error(transparent)]
    File(#[from] LimboFileError),
    /// It names a verifier that does not exist.
    #[error("{}: unknown verifier `{name}` (expected one of: builtin, curl, openssl)", path.display())]
    UnknownVerifier {
        path: std::path::PathBuf,
        name: String,
    },
    /// It names a testcase the limbo file does not have.
    #[error("{}: `{verifier}` lists `{id}`, which is no testcase of the limbo file", path.display())]
    UnknownId {
        path: std::path::PathBuf,
        verifier: String,
        id: String,
    },
    /// It lists one testcase twice for one verifier.
    #[error("{}: `{verifier}` lists `{id}` twice", path.display())]
    Duplicate {
        path: std::path::PathBuf,
        verifier: String,
        id: String,
    },
}

/// Reads the exceptions file at `path`, checking every verifier name and every id against `suite`.
///
/// # Errors
/// [`ExceptionsError`].
pub fn load_exceptions(path: &Path, suite: &Suite) -> Result<Exceptions, ExceptionsError> {
    let file = spec::parse_exceptions(path, &read(path)?)?;
    let mut out = Exceptions::default();
    for (name, list) in file {
        let verifier =
            Verifier::from_name(&name).ok_or_else(|| ExceptionsError::UnknownVerifier {
                path: path.to_path_buf(),
                name: name.clone(),
            })?;
        let map = out.by_verifier.entry(verifier).or_default();
        for e in list {
            if !suite.all_ids.contains(&e.id) {
                return Err(ExceptionsError::UnknownId {
                    path: path.to_path_buf(),
                    verifier: name,
                    id: e.id,
                });
            }
            if map.insert(e.id.clone(), e.why).is_some() {
                return Err(ExceptionsError::Duplicate {
                    path: path.to_path_buf(),
                    verifier: name,
                    id: e.id,
                });
            }
        }
    }
    Ok(out)
}

/// The bytes of the regular file `path`, at most [`spec::MAX_FILE_BYTES`] ([`read_regular`]: a FIFO or
/// device is refused without being opened).
///
/// # Errors
/// [`LimboFileError::Read`] with why.
fn read(path: &Path) -> Result<Vec<u8>, LimboFileError> {
    read_regular(path, spec::MAX_FILE_BYTES).map_err(|e| LimboFileError::Read {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// Reads the limbo file at `path` and decodes its testcases whose id contains any of `filters` (a
/// substring each; all testcases when there is none).
///
/// # Errors
/// [`LimboFileError`] when the file cannot be read or is not limbo's JSON (version 1, unique ids).
pub fn load(path: &Path, filters: &[String]) -> Result<Suite, LimboFileError> {
    let file = spec::parse(path, &read(path)?)?;
    Ok(Suite {
        all_ids: file.testcases.iter().map(|t| t.id.clone()).collect(),
        testcases: file
            .testcases
            .into_iter()
            .filter(|t| filters.is_empty() || filters.iter().any(|f| t.id.contains(f.as_str())))
            .map(decode)
            .collect(),
    })
}

/// The features no verifier under test supports, and why.
const UNSUPPORTED_FEATURES: &[(&str, &str)] = &[(
    "max-chain-depth",
    "feature max-chain-depth: no verifier under test lets the chain depth be set here (rustls-webpki's limit is fixed at six intermediates; curl has no option; s_client's -verify_depth is not wired to limbo's depth)",
)];

/// Decodes one testcase.
pub fn decode(t: spec::Testcase) -> Result<Testcase, Undecodable> {
    let undecodable = |why: String| Undecodable {
        id: t.id.clone(),
        kind: t.validation_kind,
        expected: t.expected_result,
        why,
    };
    let cert = |what: &str, pem: &str| {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("{what} is not a PEM certificate: {e}"))
    };
    let mut trusted = Vec::new();
    for (i, p) in t.trusted_certs.iter().enumerate() {
        trusted.push(cert(&format!("trusted_certs[{i}]"), p).map_err(undecodable)?);
    }
    let mut intermediates = Vec::new();
    for (i, p) in t.untrusted_intermediates.iter().enumerate() {
        intermediates.push(cert(&format!("untrusted_intermediates[{i}]"), p).map_err(undecodable)?);
    }
    let leaf = cert("peer_certificate", &t.peer_certificate).map_err(undecodable)?;
    let mut crls = Vec::new();
    for (i, p) in t.crls.iter().enumerate() {
        crls.push(
            CertificateRevocationListDer::from_pem_slice(p.as_bytes())
                .map_err(|e| undecodable(format!("crls[{i}] is not a PEM CRL: {e}")))?,
        );
    }
    let (key, key_note) = match &t.peer_certificate_key {
        None => (
            None,
            Some("the testcase has no key for the peer certificate".to_string()),
        ),
        Some(pem) => match PrivateKeyDer::from_pem_slice(pem.as_bytes()) {
            Ok(k) => (Some(k), None),
            Err(e) => (
                None,
                Some(format!(
                    "the testcase's key is not a PEM key rustls reads: {e}"
                )),
            ),
        },
    };
    let at = match &t.validation_time {
        None => None,
        Some(s) => Some(
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|e| undecodable(format!("validation_time `{s}` is not RFC 3339: {e}")))?,
        ),
    };
    let mut not_applicable = None;
    let name = match (&t.validation_kind, &t.expected_peer_name) {
        (ValidationKind::Server, Some(n)) => match n.kind {
            PeerNameKind::Dns => Some(PeerName::Dns(n.value.clone())),
            PeerNameKind::Ip => Some(PeerName::Ip(n.value.parse().map_err(|_| {
                undecodable(format!(
                    "expected_peer_name `{}` is not an IP address",
                    n.value
                ))
            })?)),
            PeerNameKind::Rfc822 => {
                not_applicable = Some(format!("expected peer name `{}` is an email address (RFC822): a TLS client verifies a DNS name or an IP address", n.value));
                None
            }
        },
        _ => None,
    };
    if let Some((_, why)) = UNSUPPORTED_FEATURES
        .iter()
        .find(|(f, _)| t.features.iter().any(|x| x == f))
    {
        not_applicable = Some((*why).to_string());
    }
    if !t.signature_algorithms.is_empty() {
        not_applicable = Some(format!(
            "restricts the signature algorithms to {}: no verifier under test takes such a list",
            t.signature_algorithms.join(", ")
        ));
    }
    if !t.key_usage.is_empty() {
        not_applicable = Some(format!("requires the key usages {} of the leaf: no verifier under test takes a list of key usages to require", t.key_usage.join(", ")));
    }
    let purpose = match t.validation_kind {
        ValidationKind::Server => "serverAuth",
        ValidationKind::Client => "clientAuth",
    };
    if let Some(other) = t.extended_key_usage.iter().find(|e| *e != purpose) {
        not_applicable = Some(format!("requires extended key usage {other}: a TLS verifier of this side checks {purpose} only"));
    }
    Ok(Testcase {
        id: t.id,
        kind: t.validation_kind,
        expected: t.expected_result,
        features: t.features,
        trusted,
        intermediates,
        leaf,
        key,
        key_note,
        at,
        name,
        crls,
        pem: Pems {
            trusted: t.trusted_certs.join("\n"),
            crls: t.crls.join("\n"),
        },
        not_applicable,
        client_names: t
            .expected_peer_names
            .iter()
            .map(|n| {
                format!(
                    "{}:{}",
                    match n.kind {
                        PeerNameKind::Dns => "DNS",
                        PeerNameKind::Ip => "IP",
                        PeerNameKind::Rfc822 => "RFC822",
                    },
                    n.value
                )
            })
            .collect(),
    })
}

impl Testcase {
    /// Why `verifier` cannot apply this testcase, when it cannot: the testcase's own reason, or the
    /// verifier's (curl verifies no client; a client always verifies a name).
    pub fn not_applicable_to(&self, verifier: Verifier) -> Option<String> {
        if let Some(why) = &self.not_applicable {
            return Some(why.clone());
        }
        match (self.kind, verifier) {
            (ValidationKind::Client, Verifier::Curl) => Some(
                "a CLIENT testcase needs a verifying server: curl is a client and verifies no client certificate".into(),
            ),
            (ValidationKind::Server, Verifier::Builtin | Verifier::Curl) if self.name.is_none() => {
                Some("no expected peer name: this client always verifies one".into())
            }
            _ => None,
        }
    }
}
