//! The validated lab: every name resolved to an index, every time resolved, every rule of the format checked, each error pointing into the file.
//!
//! This module owns the model types; its submodules own the steps that build them: [`mod@load`] reads files
//! (include, matrix), `resolve` turns the spec into the model, [`name`] and [`time`] parse names and times,
//! [`error`] names what can go wrong, [`lint`] warns about valid labs.

pub mod battery;
pub mod command;
pub mod discover;
pub mod error;
pub mod faketime;
pub mod handshake;
pub mod limbo;
pub mod lint;
pub mod load;
pub mod loaded;
pub mod name;
pub mod program;
mod resolve;
pub mod select;
pub mod time;

pub use self::error::{did_you_mean, LabError, LoadError, LoadErrors, Problem};
pub use self::handshake::{
    CaNames, GroupName, NegotiatedExpect, Sessions, SignatureSchemeName, Sni,
};
pub use self::load::{load, load_all, load_all_with, parse, parse_all, parse_all_with};
pub use self::name::{NameError, San, Subtree};
pub use self::time::{parse_time, DurationError, TimeError};
/// Plain values the user wrote that need no resolving; later stages take them from here, not from `spec`.
pub use crate::reason::{Outcome, Side};
pub use crate::spec::yaml::Pos;
pub use crate::spec::{
    CipherSuiteName, ClientAuth, IdentitySpec, KeyAlgorithm, KeyType, KeyUsage, Purpose,
    RevocationReasonSpec, ScorePart, SignatureAlgorithm, Subject, TlsVersion, Usage,
};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use ::time::{Duration, OffsetDateTime};

use self::command::{CommandTemplate, Loopback, Ready};
use crate::reason::Reason;

/// Lab files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// A lab that passed every check and can be run.
#[derive(Debug, Clone)]
pub struct Lab {
    pub name: String,
    pub description: Option<String>,
    pub file: PathBuf,
    /// Issuers come before the authorities they sign.
    pub authorities: Vec<Authority>,
    pub certificates: Vec<Certificate>,
    pub servers: Vec<Server>,
    pub cases: Vec<Case>,
    /// The lab's virtual clock, if it sets one.
    pub at: Option<OffsetDateTime>,
    /// For a matrix lab: the variable values of this variant, in the matrix's order.
    pub variant: Vec<(String, String)>,
    /// Certificate checks, run before the cases.
    pub checks: Vec<Check>,
    /// Whether the lab gives points explicitly (`points` or `score` on a case or check): reports then show points.
    pub graded: bool,
}

/// Values of the `${NAME}` variables of `from` paths, given on the command line (`--var NAME=VALUE`).
pub type Vars = BTreeMap<String, String>;

/// PEM files a certificate is loaded from, resolved; the labels are the paths as written, without a leading `${VAR}/`, for messages that read the same for every submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub cert: PathBuf,
    pub cert_label: String,
    pub key: Option<(PathBuf, String)>,
}

/// How a case or check is graded.
#[derive(Debug, Clone, PartialEq)]
pub struct Grading {
    /// The item's points when it counts (the sum of `score` when given).
    pub points: f64,
    /// Points per part of a case's expectation; empty: all or nothing.
    pub score: Vec<(ScorePart, f64)>,
    /// Names of checks or earlier cases that must pass first.
    pub requires: Vec<String>,
    pub hidden: bool,
}

impl Default for Grading {
    fn default() -> Self {
        Grading {
            points: 1.0,
            score: Vec::new(),
            requires: Vec::new(),
            hidden: false,
        }
    }
}

/// A key requirement of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRequirement {
    pub kind: KeyAlgorithm,
    pub min_bits: Option<u32>,
}

/// Properties a certificate must have.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub line: usize,
    pub certificate: CertRef,
    pub chains_to: Option<usize>,
    pub subject: Option<Subject>,
    pub san_contains: Vec<San>,
    pub eku: Option<Purpose>,
    pub key: Option<KeyRequirement>,
    pub ca: Option<bool>,
    pub path_len: Option<u8>,
    pub key_usage: Vec<KeyUsage>,
    pub valid_now: bool,
    pub valid_for_at_least: Option<Duration>,
    pub v3: bool,
    pub key_matches: bool,
    pub grading: Grading,
}

impl Lab {
    /// The path a verifier that trusts `trust` builds from `presented` (leaf first), as webpki does:
    /// from the leaf, each issuer is a trust anchor (the path ends) or a presented certificate (it goes
    /// on). An issuer's key may sit in several certificates (`key_of`, cross-signing): a trusted one
    /// ends the path, else a presented one continues it. A certificate trusted directly (`trust:`
    /// naming it) is its own anchor.
    pub fn path(&self, presented: &[CertRef], trust: &[CertRef]) -> Path {
        let mut certs = presented.first().copied().into_iter().collect::<Vec<_>>();
        while let Some(&top) = certs.last() {
            if matches!(top, CertRef::Certificate(_)) && trust.contains(&top) {
                return Path {
                    certs,
                    anchor: Some(top),
                };
            }
            let issuer = match top {
                CertRef::Certificate(i) => self.certificates[i].issuer,
                CertRef::Authority(i) => self.authorities[i].issuer,
            };
            let Some(issuer) = issuer else {
                // Self-signed (a root authority or an `issuer: self` certificate): its own issuer.
                let anchor = trust.contains(&top).then_some(top);
                return Path { certs, anchor };
            };
            // The issuer's certificate and every other certificate of its key, the issuer first.
            let owner = self.authorities[issuer].key_of.unwrap_or(issuer);
            let same_key =
                std::iter::once(issuer).chain((0..self.authorities.len()).filter(|&j| {
                    j != issuer && (j == owner || self.authorities[j].key_of == Some(owner))
                }));
            let candidates: Vec<CertRef> = same_key.map(CertRef::Authority).collect();
            if let Some(anchor) = candidates.iter().find(|c| trust.contains(c)) {
                return Path {
                    certs,
                    anchor: Some(*anchor),
                };
            }
            match candidates
                .iter()
                .find(|c| presented.contains(c) && !certs.contains(c))
            {
                Some(next) => certs.push(*next),
                None => {
                    return Path {
                        certs,
                        anchor: None,
                    }
                }
            }
        }
        Path {
            certs,
            anchor: None,
        }
    }

    /// The authorities a chain from certificate `c` may pass through, nearest first: its issuer and each
    /// issuer above, and for a cross-signed authority (`key_of`) the other certificates of the same key and
    /// their issuers too, each once. Empty for a self-signed certificate.
    pub fn issuers_of(&self, c: usize) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let mut todo: std::collections::VecDeque<usize> =
            self.certificates[c].issuer.into_iter().collect();
        while let Some(i) = todo.pop_front() {
            if out.contains(&i) {
                continue;
            }
            out.push(i);
            todo.extend(self.authorities[i].issuer);
            // Every certificate of the same key verifies what that key signed.
            let owner = self.authorities[i].key_of.unwrap_or(i);
            todo.extend(
                (0..self.authorities.len())
                    .filter(|&j| j == owner || self.authorities[j].key_of == Some(owner)),
            );
        }
        out
    }

    /// What a peer presenting certificate `leaf` with `chain` sends, leaf first: with [`Chain::Full`]
    /// its issuers up to, not including, the root (as `pki` builds `intermediates`); with
    /// [`Chain::Leaf`] the leaf alone; with [`Chain::List`] the leaf and the listed certificates.
    pub fn presented_chain(&self, leaf: usize, chain: &Chain) -> Vec<CertRef> {
        let mut out = vec![CertRef::Certificate(leaf)];
        match chain {
            Chain::Leaf => {}
            Chain::List(list) => out.extend(list.iter().copied()),
            Chain::Full => {
                let mut next = self.certificates[leaf].issuer;
                while let Some(i) = next {
                    let parent = self.authorities[i].issuer;
                    // The root is not sent; a cycle cannot be written (issuers come first).
                    if parent.is_none() || out.contains(&CertRef::Authority(i)) {
                        break;
                    }
                    out.push(CertRef::Authority(i));
                    next = parent;
                }
            }
        }
        out
    }

    /// The name of a certificate or authority.
    pub fn name_of(&self, r: CertRef) -> &str {
        match r {
            CertRef::Authority(i) => &self.authorities[i].name,
            CertRef::Certificate(i) => &self.certificates[i].name,
        }
    }
}

/// The chain a verifier builds from what its peer presented: the certificates from the leaf up, and
/// the trust anchor it reached, if any ([`Lab::path`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The leaf, then each issuer found among the presented certificates.
    pub certs: Vec<CertRef>,
    /// The trust anchor the path reached (an authority, or a certificate trusted directly); `None`
    /// when the top certificate's issuer is neither presented nor trusted (unknown issuer).
    pub anchor: Option<CertRef>,
}

/// A certificate of the lab: an authority's or a leaf's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertRef {
    Authority(usize),
    Certificate(usize),
}

/// Name constraints of an authority.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameConstraints {
    pub permitted: Vec<Subtree>,
    pub excluded: Vec<Subtree>,
}

/// One entry of an authority's CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub target: CertRef,
    pub reason: RevocationReasonSpec,
    pub at: OffsetDateTime,
}

/// An authority's CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub revoked: Vec<Revocation>,
}

/// What a peer sends after its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chain {
    Full,
    Leaf,
    List(Vec<CertRef>),
}

/// How a verifier checks revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationCheck {
    pub end_entity_only: bool,
    pub allow_unknown: bool,
    pub deny_expired: bool,
    /// The authorities whose CRLs the verifier has (indices into `Lab::authorities`); `None`: every CRL of the lab.
    pub crls: Option<Vec<usize>>,
}

/// One purpose of an extended key usage extension (RFC 5280 §4.2.1.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EkuPurpose {
    /// anyExtendedKeyUsage (2.5.29.37.0).
    Any,
    ClientAuth,
    CodeSigning,
    EmailProtection,
    OcspSigning,
    /// Another purpose, by its OID arcs.
    Oid(Vec<u64>),
    ServerAuth,
    TimeStamping,
}

/// A public-key pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// The key of this lab certificate.
    Key(CertRef),
    /// A literal SHA-256 of a SubjectPublicKeyInfo.
    Sha256([u8; 32]),
}

#[derive(Debug, Clone)]
pub struct Authority {
    pub name: String,
    /// Line of the authority's name in the lab file (for `check`'s warnings).
    pub line: usize,
    pub subject: Subject,
    /// Index into `Lab::authorities`; always smaller than this authority's own index.
    pub issuer: Option<usize>,
    pub key: KeyType,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub path_len: Option<u8>,
    pub serial: Option<u64>,
    /// Whether the certificate says it is a CA (`false` only for an `issuer_not_ca` exercise).
    pub ca: bool,
    pub name_constraints: Option<NameConstraints>,
    /// Cross-signing: the authority (index into `Lab::authorities`) whose key this one's certificate carries.
    pub key_of: Option<usize>,
    /// The signature algorithm it signs with; `None`: its key's own.
    pub signature: Option<SignatureAlgorithm>,
    /// Extended key usage of its certificate; `None`: no extension.
    pub eku: Option<Vec<EkuPurpose>>,
    /// Explicit key usage bits; `None` for the default (keyCertSign, cRLSign, digitalSignature).
    pub key_usage: Option<Vec<KeyUsage>>,
    /// Whether its certificate carries a critical extension no verifier understands.
    pub unknown_critical_extension: bool,
    /// The CRL this authority publishes, if any.
    pub crl: Option<Crl>,
    /// Loaded from files instead of generated (`subject`, `key` and validity are then placeholders).
    pub from: Option<Source>,
    /// Its subject is encoded exactly as the certificate of this (loaded) authority encodes its own —
    /// string types too, since verifiers match names byte for byte (a battery's rogue CA of a loaded
    /// root); `subject` says it as read when the model was built.
    pub name_of: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Certificate {
    pub name: String,
    /// Line of the certificate's name in the lab file (for `check`'s warnings).
    pub line: usize,
    /// Index into `Lab::authorities`; `None` for a self-signed certificate (`issuer: self`).
    pub issuer: Option<usize>,
    pub subject: Subject,
    pub san: Vec<San>,
    pub key: KeyType,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Extended key usage; `None`: no extension.
    pub eku: Option<Vec<EkuPurpose>>,
    /// For a self-signed certificate: the signature algorithm; `None`: its key's own.
    pub signature: Option<SignatureAlgorithm>,
    /// Explicit key usage bits; `None` for the default.
    pub key_usage: Option<Vec<KeyUsage>>,
    pub serial: Option<u64>,
    /// Whether the leaf says it is a CA.
    pub ca: bool,
    /// Whether the leaf carries a critical extension no verifier understands.
    pub unknown_critical_extension: bool,
    /// Loaded from files instead of generated (`subject`, `san`, `key`, validity are then placeholders).
    pub from: Option<Source>,
}

/// What runs a server.
#[derive(Debug, Clone)]
pub enum ServerKind {
    /// The built-in server, on an ephemeral port or this fixed address.
    BuiltIn { listen: Option<SocketAddr> },
    /// A command the runner starts, waits for and stops.
    Command(ServerCommand),
    /// A server already running at this address.
    Target(Loopback),
}

/// An external server command.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    pub template: CommandTemplate,
    /// Port 0: a free port is chosen when the lab runs.
    pub listen: Loopback,
    pub ready: Ready,
    pub start_timeout: std::time::Duration,
    /// The lab's rules for its words.
    pub verdicts: Vec<VerdictRule>,
}

/// A lab's rule for reading a command's words (`verdicts:`), tried before the runner's own maps of known
/// programs: when the output contains `output` (and a client command exited with `exit`), it means `means`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictRule {
    pub output: String,
    pub exit: Option<i32>,
    pub means: RuleVerdict,
}

/// What a [`VerdictRule`]'s words mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleVerdict {
    /// `side` refused, for `reason` when the words name one.
    Refused { side: Side, reason: Option<Reason> },
    /// The program failed before or outside TLS.
    ProgramError,
}

/// An external client command.
#[derive(Debug, Clone)]
pub struct ClientCommand {
    pub template: CommandTemplate,
    pub timeout: std::time::Duration,
    /// The lab's rules for its words.
    pub verdicts: Vec<VerdictRule>,
}

/// Default wait for a server command to become ready.
pub const START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Default time a client command may run.
pub const CLIENT_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Checks beyond the outcome: the alert the other side received, a client command's exit status and output,
/// what a server command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    pub alert: Option<String>,
    pub exit: Option<i32>,
    pub output: Option<String>,
    /// Text a server command must have printed while the case ran.
    pub server_output: Option<String>,
    /// What the handshake must have negotiated.
    pub negotiated: NegotiatedExpect,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub kind: ServerKind,
    pub certificate: usize,
    /// Trust anchors for client certificates: authorities, or certificates trusted directly.
    pub trust: Vec<CertRef>,
    pub client_auth: ClientAuth,
    pub versions: Vec<TlsVersion>,
    /// `None`: every suite rustls implements.
    pub ciphers: Option<Vec<CipherSuiteName>>,
    pub chain: Chain,
    pub revocation: Option<RevocationCheck>,
    /// Certificates chosen by the SNI the client sends (lower-case DNS names); `certificate` otherwise.
    pub sni_certificates: Vec<(String, usize)>,
    /// ALPN protocols accepted, in order of preference; empty: ALPN ignored.
    pub alpn: Vec<String>,
    /// `None`: every group rustls implements.
    pub groups: Option<Vec<GroupName>>,
    pub ca_names: CaNames,
    pub sessions: Sessions,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// Line of the case in the lab file.
    pub line: usize,
    pub server: usize,
    pub client: Client,
    pub expect: Expectation,
    pub checks: Checks,
    /// The case's own virtual clock, if it sets one.
    pub at: Option<OffsetDateTime>,
    /// The lab's tags and the case's own.
    pub tags: Vec<String>,
    pub grading: Grading,
    /// For a case a battery derived: where it comes from, and why it is skipped when it cannot apply.
    pub derived: Option<battery::Derived>,
}

impl Case {
    /// The virtual time of this case: its own clock, else the lab's; `None` means now.
    pub fn clock(&self, lab: &Lab) -> Option<OffsetDateTime> {
        self.at.or(lab.at)
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    pub certificate: Option<usize>,
    /// Trust anchors for the server's certificate: authorities, or certificates trusted directly.
    pub trust: Vec<CertRef>,
    pub server_name: String,
    pub versions: Vec<TlsVersion>,
    pub ciphers: Option<Vec<CipherSuiteName>>,
    pub chain: Chain,
    pub revocation: Option<RevocationCheck>,
    pub pins: Vec<Pin>,
    /// A client command instead of the built-in client.
    pub command: Option<ClientCommand>,
    pub sni: Sni,
    /// ALPN protocols offered, in order of preference; empty: none.
    pub alpn: Vec<String>,
    /// `None`: every group rustls implements.
    pub groups: Option<Vec<GroupName>>,
    /// `select: by_ca_names`: the certificates it chooses among, in order (`certificate` is the first);
    /// `None`: it always sends `certificate`.
    pub select_by_ca_names: Option<Vec<usize>>,
    /// The earlier case whose session the client resumes.
    pub resume: Option<String>,
    /// Sign with the key of this certificate instead of `certificate`'s own (a battery's key-mismatch case).
    pub key_of: Option<usize>,
}

/// What a case requires of the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    Accepted {
        server_saw: Option<IdentitySpec>,
        status: Option<u16>,
    },
    Rejected {
        /// `None` only for a client command that must fail on its own, with no TLS verifier rejecting
        /// (it never connects, or exits non-zero after an accepted handshake).
        by: Option<Side>,
        /// `None` only when the rejecting side is an external program and the lab leaves the reason open.
        reason: Option<Reason>,
    },
}

impl Server {
    /// Whether the server is an external program (its own verdict is not observable).
    pub fn is_external(&self) -> bool {
        !matches!(self.kind, ServerKind::BuiltIn { .. })
    }
}
