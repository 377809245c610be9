//! The validated lab: every name resolved to an index, every time resolved, every rule of the format checked, each error pointing into the file.

pub mod command;
pub mod discover;
pub mod lint;
pub mod select;

/// Plain values the user wrote that need no resolving; later stages take them from here, not from `spec`.
pub use crate::reason::{Outcome, Side};
pub use crate::spec::yaml::Pos;
pub use crate::spec::{
    CipherSuiteName, ClientAuth, IdentitySpec, KeyAlgorithm, KeyType, KeyUsage, Purpose,
    RevocationReasonSpec, ScorePart, Subject, TlsVersion, Usage,
};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use self::command::{CommandTemplate, Loopback, Ready};
use crate::reason::Reason;
use crate::spec::yaml::{self, Positions, YamlErrorKind};
use crate::spec::{
    self, ChainMode, ChainSpec, Expect, ExpectFull, LabFile, Policy, RevocationDepth,
};

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
    /// The name of a certificate or authority.
    pub fn name_of(&self, r: CertRef) -> &str {
        match r {
            CertRef::Authority(i) => &self.authorities[i].name,
            CertRef::Certificate(i) => &self.certificates[i].name,
        }
    }
}

/// A certificate of the lab: an authority's or a leaf's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertRef {
    Authority(usize),
    Certificate(usize),
}

/// A subtree of a name constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subtree {
    Dns(String),
    Ip(IpAddr, u8),
    Email(String),
}

impl std::fmt::Display for Subtree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subtree::Dns(v) => write!(f, "dns:{v}"),
            Subtree::Ip(a, p) => write!(f, "ip:{a}/{p}"),
            Subtree::Email(v) => write!(f, "email:{v}"),
        }
    }
}

impl Subtree {
    /// Parses `dns:SUFFIX`, `ip:ADDRESS/PREFIX` or `email:DOMAIN`.
    pub fn parse(s: &str) -> Result<Subtree, String> {
        let s = s.trim();
        match s.split_once(':') {
            Some(("dns", v)) if valid_dns(v.trim_start_matches('.')) => Ok(Subtree::Dns(v.to_string())),
            Some(("dns", v)) => Err(format!("`{v}` is not a DNS name")),
            Some(("email", v)) if !v.is_empty() => Ok(Subtree::Email(v.to_string())),
            Some(("ip", v)) => {
                let (addr, prefix) = v
                    .rsplit_once('/')
                    .ok_or_else(|| format!("`{v}` needs a prefix length, e.g. `10.0.0.0/8`"))?;
                let addr: IpAddr = addr.parse().map_err(|_| format!("`{addr}` is not an IP address"))?;
                let prefix: u8 = prefix.parse().map_err(|_| format!("`{prefix}` is not a prefix length"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                if prefix > max {
                    return Err(format!("prefix /{prefix} is longer than {max} bits"));
                }
                Ok(Subtree::Ip(addr, prefix))
            }
            _ => Err(format!("`{s}` is not a name constraint: write `dns:lab.test`, `ip:10.0.0.0/8` or `email:lab.test`")),
        }
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationCheck {
    pub end_entity_only: bool,
    pub allow_unknown: bool,
    pub deny_expired: bool,
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
    /// The CRL this authority publishes, if any.
    pub crl: Option<Crl>,
    /// Loaded from files instead of generated (`subject`, `key` and validity are then placeholders).
    pub from: Option<Source>,
}

#[derive(Debug, Clone)]
pub struct Certificate {
    pub name: String,
    pub issuer: usize,
    pub subject: Subject,
    pub san: Vec<San>,
    pub key: KeyType,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub usage: Usage,
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

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
    Uri(String),
    Email(String),
}

impl San {
    /// Parses `dns:x`, `ip:x`, `uri:x`, `email:x`, or a bare DNS name or IP address.
    pub fn parse(s: &str) -> Result<San, String> {
        let s = s.trim();
        let (kind, value) = match s.split_once(':') {
            Some((k, v)) if matches!(k, "dns" | "ip" | "uri" | "email") => (k, v),
            _ => match s.parse::<IpAddr>() {
                Ok(ip) => return Ok(San::Ip(ip)),
                Err(_) => ("dns", s),
            },
        };
        match kind {
            "dns" if valid_dns(value) => Ok(San::Dns(value.to_string())),
            "dns" => Err(format!("`{value}` is not a DNS name")),
            "ip" => value
                .parse()
                .map(San::Ip)
                .map_err(|_| format!("`{value}` is not an IP address")),
            "uri" if value.contains(':') => Ok(San::Uri(value.to_string())),
            "uri" => Err(format!("`{value}` is not a URI (no scheme)")),
            _ if value.contains('@') => Ok(San::Email(value.to_string())),
            _ => Err(format!("`{value}` is not an email address")),
        }
    }
}

impl std::fmt::Display for San {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Dns(v) => write!(f, "dns:{v}"),
            San::Ip(v) => write!(f, "ip:{v}"),
            San::Uri(v) => write!(f, "uri:{v}"),
            San::Email(v) => write!(f, "email:{v}"),
        }
    }
}

fn valid_dns(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').enumerate().all(|(i, label)| {
            (!label.is_empty() && label.len() <= 63 || (i == 0 && label == "*"))
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*')
        })
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
}

/// An external client command.
#[derive(Debug, Clone)]
pub struct ClientCommand {
    pub template: CommandTemplate,
    pub timeout: std::time::Duration,
}

/// Default wait for a server command to become ready.
pub const START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Default time a client command may run.
pub const CLIENT_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Checks beyond the outcome: the alert the other side received, a client command's exit status and output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    pub alert: Option<String>,
    pub exit: Option<i32>,
    pub output: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub kind: ServerKind,
    pub certificate: usize,
    pub trust: Vec<usize>,
    pub client_auth: ClientAuth,
    pub versions: Vec<TlsVersion>,
    /// `None`: every suite rustls implements.
    pub ciphers: Option<Vec<CipherSuiteName>>,
    pub chain: Chain,
    pub revocation: Option<RevocationCheck>,
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
    pub trust: Vec<usize>,
    pub server_name: String,
    pub versions: Vec<TlsVersion>,
    pub ciphers: Option<Vec<CipherSuiteName>>,
    pub chain: Chain,
    pub revocation: Option<RevocationCheck>,
    pub pins: Vec<Pin>,
    /// A client command instead of the built-in client.
    pub command: Option<ClientCommand>,
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

/// What went wrong in a lab file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabError {
    #[error("cannot read the lab file: {0}")]
    Read(String),
    #[error("the lab file is empty")]
    Empty,
    #[error("the lab file is not text: invalid UTF-8 at byte {0}")]
    NotText(usize),
    #[error("the lab file is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge,
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    #[error("`{key}` appears twice in the same mapping")]
    DuplicateKey { key: String },
    #[error("{message}")]
    Shape { message: String },
    #[error("{field}: no {kind} named `{name}`")]
    UnknownName {
        field: String,
        kind: &'static str,
        name: String,
    },
    #[error("`{name}` names both an authority and a certificate; names must be unique")]
    DuplicateName { name: String },
    #[error("two cases are named `{name}`")]
    DuplicateCase { name: String },
    #[error("authorities form an issuer cycle: {0}")]
    IssuerCycle(String),
    #[error("{field}: {why}")]
    Invalid { field: String, why: String },
}

/// A [`LabError`] with the place in the file it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    pub pos: Option<Pos>,
    pub error: LabError,
    /// The offending token, to underline it.
    pub token: Option<String>,
    pub help: Option<String>,
    /// The file's text, for rendering the line.
    pub source: Option<String>,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pos {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                p.line,
                p.col,
                self.error
            ),
            None => write!(f, "{}: {}", self.file.display(), self.error),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads a lab file's text, refusing missing, oversized and binary files.
fn read_text(path: &Path) -> Result<String, LoadError> {
    let bare = |error| LoadError {
        file: path.to_path_buf(),
        pos: None,
        error,
        token: None,
        help: None,
        source: None,
    };
    let meta = std::fs::metadata(path).map_err(|e| bare(LabError::Read(e.to_string())))?;
    if meta.is_dir() {
        return Err(bare(LabError::Read("it is a directory".into())));
    }
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(bare(LabError::TooLarge));
    }
    let bytes = std::fs::read(path).map_err(|e| bare(LabError::Read(e.to_string())))?;
    match String::from_utf8(bytes) {
        Ok(t) if t.contains('\0') => Err(bare(LabError::NotText(t.find('\0').unwrap_or(0)))),
        Ok(t) => Ok(t),
        Err(e) => Err(bare(LabError::NotText(e.utf8_error().valid_up_to()))),
    }
}

/// Reads and validates a lab file without a matrix, resolving relative times against `now`.
pub fn load(path: &Path, now: OffsetDateTime) -> Result<Lab, LoadError> {
    parse(path, &read_text(path)?, now)
}

/// Reads and validates a lab file; a matrix lab gives one lab per combination of its variables.
pub fn load_all(path: &Path, now: OffsetDateTime) -> Result<Vec<Lab>, LoadError> {
    load_all_with(path, now, &Vars::new())
}

/// Like [`load_all`], with the values of `${NAME}` path variables given on the command line.
pub fn load_all_with(path: &Path, now: OffsetDateTime, vars: &Vars) -> Result<Vec<Lab>, LoadError> {
    parse_all_with(path, &read_text(path)?, now, vars)
}

/// Validates lab text that claims to come from `path`; a lab with a matrix is refused (use [`parse_all`]).
pub fn parse(path: &Path, text: &str, now: OffsetDateTime) -> Result<Lab, LoadError> {
    let mut labs = parse_all(path, text, now)?;
    if labs.len() != 1 || !labs[0].variant.is_empty() {
        return Err(LoadError {
            file: path.to_path_buf(),
            pos: None,
            error: LabError::Invalid {
                field: "matrix".into(),
                why: "this lab declares a matrix and expands into several labs".into(),
            },
            token: None,
            help: Some("load it with `load_all` / `parse_all`".into()),
            source: Some(text.to_string()),
        });
    }
    Ok(labs.remove(0))
}

/// Validates lab text, expanding its matrix.
pub fn parse_all(path: &Path, text: &str, now: OffsetDateTime) -> Result<Vec<Lab>, LoadError> {
    parse_all_with(path, text, now, &Vars::new())
}

/// Like [`parse_all`], with the values of `${NAME}` path variables given on the command line.
pub fn parse_all_with(
    path: &Path,
    text: &str,
    now: OffsetDateTime,
    cli_vars: &Vars,
) -> Result<Vec<Lab>, LoadError> {
    let with_source = |mut e: LoadError| {
        e.source.get_or_insert_with(|| text.to_string());
        e
    };
    let cli_names: Vec<&str> = cli_vars.keys().map(String::as_str).collect();
    let matrix = yaml::matrix(text, &cli_names).map_err(|m| {
        with_source(LoadError {
            file: path.to_path_buf(),
            pos: Some(m.pos),
            error: LabError::Invalid {
                field: "matrix".into(),
                why: m.message,
            },
            token: m.token,
            help: m.help,
            source: None,
        })
    })?;
    let Some(vars) = matrix else {
        return Ok(vec![parse_one(path, text, now, Vec::new(), cli_vars)?]);
    };
    let mut labs = Vec::new();
    for variant in combinations(&vars) {
        let mut expanded = text.to_string();
        for (name, value) in &variant {
            expanded = expanded.replace(&format!("${{{name}}}"), value);
        }
        labs.push(parse_one(path, &expanded, now, variant, cli_vars)?);
    }
    Ok(labs)
}

/// Every combination of the variables' values, the first variable varying slowest.
fn combinations(vars: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (name, values) in vars {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push((name.clone(), v.clone()));
                    p
                })
            })
            .collect();
    }
    out
}

/// A YAML error as a load error of `path`.
fn yaml_error(path: &Path, text: &str, e: yaml::YamlError) -> LoadError {
    let (error, token, help) = match e.kind {
        YamlErrorKind::Syntax(m) => (LabError::Syntax(m), None, None),
        YamlErrorKind::DuplicateKey { key, .. } => (
            LabError::DuplicateKey { key: key.clone() },
            Some(key),
            Some("each name may be defined once; rename or remove one of them".into()),
        ),
        YamlErrorKind::Shape {
            path: field,
            message,
            unknown,
        } => {
            let message = match field {
                Some(p) => format!("{p}: {message}"),
                None => message,
            };
            let help = unknown
                .as_ref()
                .and_then(|(found, expected)| did_you_mean(found, expected.iter()));
            (LabError::Shape { message }, unknown.map(|u| u.0), help)
        }
    };
    LoadError {
        file: path.to_path_buf(),
        pos: Some(e.pos),
        error,
        token,
        help,
        source: Some(text.to_string()),
    }
}

/// Where the definitions of an included file come from, for pointing errors into it.
struct Origin {
    /// `authorities.NAME`, `certificates.NAME`, `servers.NAME` defined by the file.
    prefixes: Vec<String>,
    path: PathBuf,
    positions: Positions,
    source: String,
}

/// Reads the lab's `include` files and merges their definitions into `file`.
fn include(
    path: &Path,
    file: &mut LabFile,
    positions: &Positions,
) -> Result<Vec<Origin>, LoadError> {
    let mut origins = Vec::new();
    let base = path.parent().unwrap_or(Path::new("."));
    for (i, inc) in file.include.clone().iter().enumerate() {
        let field = format!("include[{i}]");
        let at = |error: LabError, help: Option<String>| LoadError {
            file: path.to_path_buf(),
            pos: Some(positions.value(&field)),
            error,
            token: Some(inc.clone()),
            help,
            source: None,
        };
        let inc_path = base.join(inc);
        let text = read_text(&inc_path).map_err(|e| {
            at(
                LabError::Invalid {
                    field: field.clone(),
                    why: format!("cannot include `{inc}`: {}", e.error),
                },
                Some("include paths are relative to the including lab file".into()),
            )
        })?;
        let included_by = |mut e: LoadError| {
            e.help = Some(match e.help.take() {
                Some(h) => format!("{h} (in a file included by {})", path.display()),
                None => format!("this file is included by {}", path.display()),
            });
            e
        };
        let (fragment, frag_positions) = yaml::parse::<spec::Fragment>(&text)
            .map_err(|e| included_by(yaml_error(&inc_path, &text, e)))?;
        let mut prefixes = Vec::new();
        macro_rules! merge {
            ($section:ident, $kind:literal) => {
                for (name, spec) in fragment.$section {
                    if file.$section.contains_key(&name) {
                        return Err(at(
                            LabError::Invalid {
                                field: field.clone(),
                                why: format!(
                                    "{} `{name}` is defined both in this lab and in `{inc}`",
                                    $kind
                                ),
                            },
                            Some("rename one of them".into()),
                        ));
                    }
                    prefixes.push(format!("{}.{name}", stringify!($section)));
                    file.$section.insert(name, spec);
                }
            };
        }
        merge!(authorities, "authority");
        merge!(certificates, "certificate");
        merge!(servers, "server");
        origins.push(Origin {
            prefixes,
            path: inc_path,
            positions: frag_positions,
            source: text,
        });
    }
    Ok(origins)
}

fn parse_one(
    path: &Path,
    text: &str,
    now: OffsetDateTime,
    variant: Vec<(String, String)>,
    cli_vars: &Vars,
) -> Result<Lab, LoadError> {
    let with_source = |mut e: LoadError| {
        e.source.get_or_insert_with(|| text.to_string());
        e
    };
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Err(with_source(LoadError {
            file: path.to_path_buf(),
            pos: None,
            error: LabError::Empty,
            token: None,
            help: Some("a lab needs at least `lab:`, a PKI, a server and cases; `mtls-lab init` writes a starter".into()),
            source: None,
        }));
    }
    let (mut file, positions) =
        yaml::parse::<LabFile>(text).map_err(|e| yaml_error(path, text, e))?;
    let origins = include(path, &mut file, &positions).map_err(with_source)?;
    // Path variables: the lab's defaults, overridden by the command line (whose values are absolute);
    // a path still relative after substitution is relative to the lab file.
    let mut vars: Vars = file.vars.clone();
    vars.extend(cli_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    let vars = &vars;
    let mut lab = Validator {
        path,
        positions: &positions,
        origins: &origins,
        now,
        vars,
    }
    .lab(file)
    .map_err(with_source)?;
    if !variant.is_empty() {
        let label: Vec<String> = variant.iter().map(|(k, v)| format!("{k}={v}")).collect();
        lab.name = format!("{}[{}]", lab.name, label.join(", "));
        lab.variant = variant;
    }
    Ok(lab)
}

/// Suggests the candidate closest to `found`, if any is close.
pub fn did_you_mean<'a>(
    found: &str,
    candidates: impl Iterator<Item = &'a String>,
) -> Option<String> {
    candidates
        .map(|c| (strsim::jaro_winkler(found, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Name indices of a lab's authorities and certificates.
struct Names<'a> {
    authorities: &'a HashMap<String, usize>,
    certificates: &'a HashMap<String, usize>,
    /// Authorities that publish a CRL.
    crls: HashSet<String>,
}

struct Validator<'a> {
    path: &'a Path,
    positions: &'a Positions,
    /// Included files, for errors in the definitions they bring.
    origins: &'a [Origin],
    now: OffsetDateTime,
    /// Path variables from the command line; the lab's `vars` give defaults.
    vars: &'a Vars,
}

impl Validator<'_> {
    fn err(
        &self,
        field: &str,
        token: Option<&str>,
        error: LabError,
        help: Option<String>,
    ) -> LoadError {
        let (file, positions, source, included_by) = self.origin(field);
        let help = match (help, included_by) {
            (h, None) => h,
            (Some(h), Some(lab)) => Some(format!("{h} (in a file included by {})", lab.display())),
            (None, Some(lab)) => Some(format!("this file is included by {}", lab.display())),
        };
        LoadError {
            file: file.to_path_buf(),
            pos: Some(positions.value(field)),
            error,
            token: token.map(str::to_string),
            help,
            source: source.map(str::to_string),
        }
    }

    /// The file that defines `field`: an included one, or the lab itself.
    /// The last item is the including lab, when `field` comes from an included file.
    fn origin(&self, field: &str) -> (&Path, &Positions, Option<&str>, Option<&Path>) {
        for o in self.origins {
            let defines = o.prefixes.iter().any(|p| {
                field == p
                    || field
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            });
            if defines {
                return (&o.path, &o.positions, Some(&o.source), Some(self.path));
            }
        }
        (self.path, self.positions, None, None)
    }

    /// An error about a mapping key itself (a name), pointing at the key.
    fn key_err(&self, field: &str, token: &str, error: LabError) -> LoadError {
        LoadError {
            pos: Some(self.origin(field).1.key(field)),
            ..self.err(field, Some(token), error, None)
        }
    }

    fn invalid(&self, field: &str, token: &str, why: impl Into<String>) -> LoadError {
        self.err(
            field,
            Some(token),
            LabError::Invalid {
                field: field.to_string(),
                why: why.into(),
            },
            None,
        )
    }

    fn resolve(
        &self,
        field: &str,
        name: &str,
        kind: &'static str,
        names: &HashMap<String, usize>,
    ) -> Result<usize, LoadError> {
        names.get(name).copied().ok_or_else(|| {
            let mut help = did_you_mean(name, names.keys());
            if help.is_none() {
                let mut known: Vec<&String> = names.keys().collect();
                known.sort();
                help = Some(if known.is_empty() {
                    format!("the lab defines no {kind}")
                } else {
                    format!(
                        "defined {kind} names: {}",
                        known
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            }
            self.err(
                field,
                Some(name),
                LabError::UnknownName {
                    field: field.to_string(),
                    kind,
                    name: name.to_string(),
                },
                help,
            )
        })
    }

    fn lab(&self, file: LabFile) -> Result<Lab, LoadError> {
        if file.lab.trim().is_empty() {
            return Err(self.invalid("lab", "", "the lab needs a name"));
        }
        for name in file.certificates.keys() {
            if file.authorities.contains_key(name) {
                return Err(self.key_err(
                    &format!("certificates.{name}"),
                    name,
                    LabError::DuplicateName { name: name.clone() },
                ));
            }
        }
        for (kind, names) in [
            ("authorities", file.authorities.keys().collect::<Vec<_>>()),
            ("certificates", file.certificates.keys().collect()),
            ("servers", file.servers.keys().collect()),
        ] {
            for name in names {
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    || name.starts_with('.')
                {
                    let field = format!("{kind}.{name}");
                    return Err(self.key_err(
                        &field,
                        name,
                        LabError::Invalid {
                            field: field.clone(),
                            why: "names may use letters, digits, `-`, `_` and `.` (they become directory and file names)".into(),
                        },
                    ));
                }
            }
        }
        let mut authorities = self.authorities(&file.authorities)?;
        let authority_index: HashMap<String, usize> = authorities
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.clone(), i))
            .collect();
        let mut certificates = Vec::new();
        let mut certificate_index = HashMap::new();
        for (name, c) in &file.certificates {
            certificate_index.insert(name.clone(), certificates.len());
            certificates.push(self.certificate(name, c, &authority_index)?);
        }
        let mut names = Names {
            authorities: &authority_index,
            certificates: &certificate_index,
            crls: HashSet::new(),
        };
        for a in authorities.iter_mut() {
            a.crl = self.crl(
                &a.name,
                &file.authorities[&a.name],
                &names,
                &certificates,
                &file.authorities,
            )?;
        }
        // A loaded authority signs only with its key; a loaded certificate is presented only with its key.
        let keyless = |i: usize| {
            authorities[i]
                .from
                .as_ref()
                .is_some_and(|f| f.key.is_none())
        };
        for a in &authorities {
            if let (None, Some(i)) = (&a.from, a.issuer) {
                if keyless(i) {
                    return Err(self.invalid(
                        &format!("authorities.{}.issuer", a.name),
                        &authorities[i].name,
                        format!("authority `{}` is loaded without a key (`from.key`) and cannot sign `{}`", authorities[i].name, a.name),
                    ));
                }
            }
        }
        for c in &certificates {
            if c.from.is_none() && keyless(c.issuer) {
                return Err(self.invalid(
                    &format!("certificates.{}.issuer", c.name),
                    &authorities[c.issuer].name,
                    format!(
                        "authority `{}` is loaded without a key (`from.key`) and cannot sign `{}`",
                        authorities[c.issuer].name, c.name
                    ),
                ));
            }
        }
        let publishes_crl = authorities.iter().any(|a| a.crl.is_some());
        names.crls = authorities
            .iter()
            .filter(|a| a.crl.is_some())
            .map(|a| a.name.clone())
            .collect();
        let mut servers = Vec::new();
        let mut server_index = HashMap::new();
        for (name, s) in &file.servers {
            server_index.insert(name.clone(), servers.len());
            servers.push(self.server(name, s, &names, publishes_crl)?);
        }
        for s in &servers {
            self.presentable(
                &format!("servers.{}.certificate", s.name),
                &certificates[s.certificate],
            )?;
        }
        let at = match &file.at {
            Some(t) => Some(self.time("at", t)?),
            None => None,
        };
        for name in file.vars.keys() {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                let field = format!("vars.{name}");
                return Err(self.key_err(
                    &field,
                    name,
                    LabError::Invalid {
                        field: field.clone(),
                        why: "a variable name uses letters, digits and `_`".into(),
                    },
                ));
            }
        }
        let mut checks = Vec::new();
        let mut case_names = HashSet::new();
        for (i, c) in file.checks.iter().enumerate() {
            let field = format!("checks[{i}]");
            if !case_names.insert(c.name.clone()) {
                return Err(self.err(
                    &format!("{field}.name"),
                    Some(&c.name),
                    LabError::DuplicateCase {
                        name: c.name.clone(),
                    },
                    Some(
                        "check and case names identify results in reports; make each unique".into(),
                    ),
                ));
            }
            let check = self.check(&field, c, &names, &certificates, &authorities)?;
            let earlier: Vec<&str> = file.checks[..i].iter().map(|c| c.name.as_str()).collect();
            self.requires(&field, &c.requires, &earlier, &c.name, "an earlier check")?;
            checks.push(check);
        }
        let mut cases = Vec::new();
        for (i, c) in file.cases.iter().enumerate() {
            let field = format!("cases[{i}]");
            if !case_names.insert(c.name.clone()) {
                return Err(self.err(
                    &format!("{field}.name"),
                    Some(&c.name),
                    LabError::DuplicateCase {
                        name: c.name.clone(),
                    },
                    Some("case names identify results in reports; make each unique".into()),
                ));
            }
            let case = self.case(&field, c, &servers, &server_index, &names, publishes_crl)?;
            if let Some(cert) = case.client.certificate {
                self.presentable(&format!("{field}.client.certificate"), &certificates[cert])?;
            }
            let earlier: Vec<&str> = file
                .checks
                .iter()
                .map(|c| c.name.as_str())
                .chain(file.cases[..i].iter().map(|c| c.name.as_str()))
                .collect();
            self.requires(
                &field,
                &c.requires,
                &earlier,
                &c.name,
                "a check or an earlier case",
            )?;
            cases.push(case);
        }
        if cases.is_empty() && checks.is_empty() {
            return Err(self.invalid("cases", "cases", "the lab has no cases to run"));
        }
        for case in &mut cases {
            for t in &file.tags {
                if !case.tags.contains(t) {
                    case.tags.push(t.clone());
                }
            }
        }
        Ok(Lab {
            name: file.lab,
            description: file.description,
            file: self.path.to_path_buf(),
            authorities,
            certificates,
            servers,
            cases,
            at,
            variant: Vec::new(),
            graded: file
                .cases
                .iter()
                .any(|c| c.points.is_some() || c.score.is_some())
                || file.checks.iter().any(|c| c.points.is_some()),
            checks,
        })
    }

    /// Refuses to present a certificate loaded without its key.
    fn presentable(&self, field: &str, c: &Certificate) -> Result<(), LoadError> {
        if c.from.as_ref().is_some_and(|f| f.key.is_none()) {
            return Err(self.invalid(
                field,
                &c.name,
                format!("certificate `{}` is loaded without a key (`from.key`); a peer cannot present it", c.name),
            ));
        }
        Ok(())
    }

    /// Checks `requires` names: each must be in `earlier`.
    fn requires(
        &self,
        field: &str,
        requires: &[String],
        earlier: &[&str],
        own: &str,
        what: &str,
    ) -> Result<(), LoadError> {
        for (j, r) in requires.iter().enumerate() {
            if !earlier.contains(&r.as_str()) {
                let why = if r == own {
                    "an item cannot require itself".to_string()
                } else {
                    format!("`{r}` is not {what}: an item requires only items that run before it")
                };
                let mut e = self.invalid(&format!("{field}.requires[{j}]"), r, why);
                e.help = did_you_mean(
                    r,
                    earlier
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .iter(),
                );
                return Err(e);
            }
        }
        Ok(())
    }

    /// Points, score parts and the rest of an item's grading.
    fn grading(
        &self,
        field: &str,
        points: Option<f64>,
        score: Option<&BTreeMap<ScorePart, f64>>,
        requires: &[String],
        hidden: bool,
        expect: Option<(&Expectation, &Checks)>,
    ) -> Result<Grading, LoadError> {
        let bad = |v: f64| !(0.0..=1e6).contains(&v);
        if let Some(p) = points {
            if bad(p) {
                return Err(self.invalid(
                    &format!("{field}.points"),
                    &p.to_string(),
                    "points are a number from 0 up",
                ));
            }
        }
        let mut parts = Vec::new();
        if let Some(score) = score {
            if points.is_some() {
                return Err(self.invalid(
                    &format!("{field}.score"),
                    "score",
                    "give either `points` (all or nothing) or `score` (points per part), not both",
                ));
            }
            for (part, weight) in score {
                let name = serde_json::to_value(part)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let pf = format!("{field}.score.{name}");
                if bad(*weight) {
                    return Err(self.invalid(&pf, &name, "points are a number from 0 up"));
                }
                let applies = match (part, expect) {
                    (_, None) => false,
                    (ScorePart::Outcome, _) => true,
                    (ScorePart::By, Some((Expectation::Rejected { by, .. }, _))) => by.is_some(),
                    (ScorePart::Reason, Some((Expectation::Rejected { reason, .. }, _))) => {
                        reason.is_some()
                    }
                    (ScorePart::ServerSaw, Some((Expectation::Accepted { server_saw, .. }, _))) => {
                        server_saw.is_some()
                    }
                    (ScorePart::Status, Some((Expectation::Accepted { status, .. }, _))) => {
                        status.is_some()
                    }
                    (ScorePart::Alert, Some((_, c))) => c.alert.is_some(),
                    (ScorePart::Exit, Some((_, c))) => c.exit.is_some(),
                    (ScorePart::Output, Some((_, c))) => c.output.is_some(),
                    _ => false,
                };
                if !applies {
                    return Err(self.invalid(
                        &pf,
                        &name,
                        format!("`{name}` is not part of this case's `expect`; score only what it expects"),
                    ));
                }
                parts.push((*part, *weight));
            }
        }
        Ok(Grading {
            points: if parts.is_empty() {
                points.unwrap_or(1.0)
            } else {
                parts.iter().map(|p| p.1).sum()
            },
            score: parts,
            requires: requires.to_vec(),
            hidden,
        })
    }

    fn check(
        &self,
        field: &str,
        c: &spec::CheckSpec,
        names: &Names,
        certificates: &[Certificate],
        authorities: &[Authority],
    ) -> Result<Check, LoadError> {
        if c.name.trim().is_empty() {
            return Err(self.invalid(&format!("{field}.name"), "", "a check needs a name"));
        }
        let certificate = self.cert_ref(&format!("{field}.certificate"), &c.certificate, names)?;
        let chains_to = match &c.chains_to {
            Some(a) => Some(self.resolve(
                &format!("{field}.chains_to"),
                a,
                "authority",
                names.authorities,
            )?),
            None => None,
        };
        if let Some(s) = &c.subject {
            self.subject(field, s)?;
        }
        let mut san_contains = Vec::new();
        for (i, s) in c.san_contains.iter().enumerate() {
            san_contains.push(
                San::parse(s)
                    .map_err(|why| self.invalid(&format!("{field}.san_contains[{i}]"), s, why))?,
            );
        }
        let valid_for_at_least = match &c.valid_for_at_least {
            Some(d) => {
                let f = format!("{field}.valid_for_at_least");
                let t = self.time(&f, d)?;
                let span = t - self.now;
                if span <= Duration::ZERO {
                    return Err(self.invalid(&f, d, "a length of time such as `30d`"));
                }
                Some(span)
            }
            None => None,
        };
        let key_matches = c.key_matches == Some(true);
        if key_matches {
            let from = match certificate {
                CertRef::Authority(i) => &authorities[i].from,
                CertRef::Certificate(i) => &certificates[i].from,
            };
            if from.as_ref().is_some_and(|f| f.key.is_none()) {
                return Err(self.invalid(
                    &format!("{field}.key_matches"),
                    "key_matches",
                    format!(
                        "`{}` is loaded without a key: give `from.key` to check that it matches",
                        c.certificate
                    ),
                ));
            }
        }
        let check = Check {
            name: c.name.clone(),
            line: self.positions.value(field).line,
            certificate,
            chains_to,
            subject: c.subject.clone(),
            san_contains,
            eku: c.eku,
            key: c.key.as_ref().map(|k| KeyRequirement {
                kind: k.kind,
                min_bits: k.min_bits,
            }),
            ca: c.ca,
            path_len: c.path_len,
            key_usage: c.key_usage.clone(),
            valid_now: c.valid_now == Some(true),
            valid_for_at_least,
            v3: c.v3 == Some(true),
            key_matches,
            grading: self.grading(field, c.points, None, &c.requires, c.hidden, None)?,
        };
        let checks_something = check.chains_to.is_some()
            || check.subject.is_some()
            || !check.san_contains.is_empty()
            || check.eku.is_some()
            || check.key.is_some()
            || check.ca.is_some()
            || check.path_len.is_some()
            || !check.key_usage.is_empty()
            || check.valid_now
            || check.valid_for_at_least.is_some()
            || check.v3
            || check.key_matches;
        if !checks_something {
            return Err(self.invalid(
                field,
                &c.name,
                "the check names no property: give e.g. `chains_to`, `san_contains`, `eku`, `key`, `valid_now`",
            ));
        }
        Ok(check)
    }

    /// Resolves a name that may be an authority or a certificate.
    fn cert_ref(&self, field: &str, name: &str, names: &Names) -> Result<CertRef, LoadError> {
        if let Some(i) = names.authorities.get(name) {
            return Ok(CertRef::Authority(*i));
        }
        let all: HashMap<String, usize> = names
            .certificates
            .iter()
            .chain(names.authorities.iter())
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        self.resolve(field, name, "certificate or authority", &all)?;
        Ok(CertRef::Certificate(names.certificates[name]))
    }

    /// The CRL of authority `name`, if it publishes one.
    fn crl(
        &self,
        name: &str,
        a: &spec::AuthoritySpec,
        names: &Names,
        certificates: &[Certificate],
        specs: &BTreeMap<String, spec::AuthoritySpec>,
    ) -> Result<Option<Crl>, LoadError> {
        if a.revokes.is_none() && a.crl.is_none() {
            return Ok(None);
        }
        let field = format!("authorities.{name}");
        let spec = a.crl.clone().unwrap_or_default();
        let this_update = match &spec.this_update {
            Some(t) => self.time(&format!("{field}.crl.this_update"), t)?,
            None => self.now - Duration::hours(1),
        };
        let next_update = match &spec.next_update {
            Some(t) => self.time(&format!("{field}.crl.next_update"), t)?,
            None => this_update + Duration::days(7),
        };
        if next_update <= this_update {
            return Err(self.invalid(
                &format!("{field}.crl.next_update"),
                spec.next_update.as_deref().unwrap_or("next_update"),
                "nextUpdate must be later than thisUpdate",
            ));
        }
        let mut revoked = Vec::new();
        let mut seen = HashSet::new();
        for (i, r) in a.revokes.iter().flatten().enumerate() {
            let f = format!("{field}.revokes[{i}]");
            let target = self.cert_ref(&format!("{f}.certificate"), &r.certificate, names)?;
            let issuer = match target {
                CertRef::Certificate(c) => Some(certificates[c].issuer),
                CertRef::Authority(_) => specs[&r.certificate]
                    .issuer
                    .as_ref()
                    .map(|n| names.authorities[n]),
            };
            if issuer.is_none() {
                return Err(self.invalid(
                    &format!("{f}.certificate"),
                    &r.certificate,
                    format!(
                        "`{}` is a root authority: no CRL can revoke a trust anchor",
                        r.certificate
                    ),
                ));
            }
            if issuer != names.authorities.get(name).copied() {
                return Err(self.invalid(
                    &format!("{f}.certificate"),
                    &r.certificate,
                    format!(
                        "`{}` is not issued by `{name}`; only its issuer can revoke it",
                        r.certificate
                    ),
                ));
            }
            if !seen.insert(target) {
                return Err(self.invalid(
                    &format!("{f}.certificate"),
                    &r.certificate,
                    "revoked twice",
                ));
            }
            let at = match &r.at {
                Some(t) => self.time(&format!("{f}.at"), t)?,
                None => self.now - Duration::hours(1),
            };
            revoked.push(Revocation {
                target,
                reason: r.reason.unwrap_or(RevocationReasonSpec::Unspecified),
                at,
            });
        }
        Ok(Some(Crl {
            this_update,
            next_update,
            revoked,
        }))
    }

    fn chain(&self, field: &str, c: Option<&ChainSpec>, names: &Names) -> Result<Chain, LoadError> {
        Ok(match c {
            None | Some(ChainSpec::Mode(ChainMode::Full)) => Chain::Full,
            Some(ChainSpec::Mode(ChainMode::Leaf)) => Chain::Leaf,
            Some(ChainSpec::List(list)) => Chain::List(
                list.iter()
                    .enumerate()
                    .map(|(i, n)| self.cert_ref(&format!("{field}[{i}]"), n, names))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    fn revocation(
        &self,
        field: &str,
        r: Option<&spec::RevocationCheckSpec>,
        publishes_crl: bool,
    ) -> Result<Option<RevocationCheck>, LoadError> {
        let Some(r) = r else { return Ok(None) };
        if !publishes_crl {
            return Err(self.err(
                field,
                None,
                LabError::Invalid {
                    field: field.to_string(),
                    why:
                        "revocation checking needs CRLs, but no authority of the lab publishes one"
                            .into(),
                },
                Some("give an authority `revokes: [...]` or `crl: {}` to publish a CRL".into()),
            ));
        }
        Ok(Some(RevocationCheck {
            end_entity_only: r.check == Some(RevocationDepth::EndEntity),
            allow_unknown: r.unknown == Some(Policy::Allow),
            deny_expired: r.expired == Some(Policy::Deny),
        }))
    }

    fn ciphers(
        &self,
        field: &str,
        c: Option<&[CipherSuiteName]>,
        versions: &[TlsVersion],
    ) -> Result<Option<Vec<CipherSuiteName>>, LoadError> {
        let Some(c) = c else { return Ok(None) };
        if !c.iter().any(|s| versions.contains(&s.version())) {
            return Err(self.invalid(
                field,
                "ciphers",
                "none of these cipher suites belongs to an enabled TLS version (TLS13_* suites are TLS 1.3, the others TLS 1.2)",
            ));
        }
        Ok(Some(c.to_vec()))
    }

    fn pins(&self, field: &str, pins: &[String], names: &Names) -> Result<Vec<Pin>, LoadError> {
        use base64::Engine;
        let mut out = Vec::new();
        for (i, p) in pins.iter().enumerate() {
            let f = format!("{field}[{i}]");
            if let Some(b64) = p.strip_prefix("sha256/") {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| self.invalid(&f, p, format!("not base64: {e}")))?;
                let hash: [u8; 32] = bytes.try_into().map_err(|_| {
                    self.invalid(&f, p, "a SHA-256 pin is 32 bytes (44 base64 characters)")
                })?;
                out.push(Pin::Sha256(hash));
            } else {
                out.push(Pin::Key(self.cert_ref(&f, p, names)?));
            }
        }
        Ok(out)
    }

    /// Orders authorities so that every issuer comes first, and rejects cycles and dangling issuers.
    fn authorities(
        &self,
        specs: &BTreeMap<String, spec::AuthoritySpec>,
    ) -> Result<Vec<Authority>, LoadError> {
        let names: HashMap<String, usize> = specs
            .keys()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        for (name, a) in specs {
            if let Some(issuer) = &a.issuer {
                self.resolve(
                    &format!("authorities.{name}.issuer"),
                    issuer,
                    "authority",
                    &names,
                )?;
            }
        }
        let mut ordered: Vec<Authority> = Vec::new();
        let mut placed: HashMap<String, usize> = HashMap::new();
        while placed.len() < specs.len() {
            let before = placed.len();
            for (name, a) in specs {
                if placed.contains_key(name) {
                    continue;
                }
                let issuer = match &a.issuer {
                    None => None,
                    Some(i) => match placed.get(i) {
                        Some(idx) => Some(*idx),
                        None => continue,
                    },
                };
                let field = format!("authorities.{name}");
                let from = match &a.from {
                    Some(f) => {
                        let generated = [
                            ("subject", a.subject.is_some()),
                            ("key", a.key.is_some()),
                            ("valid", a.valid.is_some()),
                            ("path_len", a.path_len.is_some()),
                            ("serial", a.serial.is_some()),
                            ("ca", a.ca.is_some()),
                            ("name_constraints", a.name_constraints.is_some()),
                        ];
                        self.not_with_from(&field, "authority", &generated)?;
                        let source = self.source(&format!("{field}.from"), f)?;
                        if (a.revokes.is_some() || a.crl.is_some()) && source.key.is_none() {
                            return Err(self.invalid(
                                &format!("{field}.from"),
                                "from",
                                "an authority that publishes a CRL signs it: give its key with `from.key`",
                            ));
                        }
                        Some(source)
                    }
                    None => None,
                };
                let (not_before, not_after) =
                    self.validity(&field, a.valid.as_ref(), Duration::days(3650))?;
                let subject = self.subject_or_loaded(
                    &field,
                    name,
                    "authority",
                    a.subject.as_ref(),
                    from.is_some(),
                )?;
                placed.insert(name.clone(), ordered.len());
                ordered.push(Authority {
                    from,
                    name: name.clone(),
                    subject,
                    issuer,
                    key: a.key.unwrap_or(KeyType::EcdsaP256),
                    not_before,
                    not_after,
                    path_len: a.path_len,
                    serial: a.serial,
                    ca: a.ca.unwrap_or(true),
                    name_constraints: self.name_constraints(&field, a.name_constraints.as_ref())?,
                    crl: None,
                });
            }
            if placed.len() == before {
                // Every remaining authority waits on another remaining one: a cycle.
                let (start, _) = specs
                    .iter()
                    .find(|(n, _)| !placed.contains_key(*n))
                    .expect("at least one authority is unplaced");
                let mut chain = vec![start.clone()];
                let mut cur = start.clone();
                loop {
                    let next = specs[&cur]
                        .issuer
                        .clone()
                        .expect("unplaced authorities have issuers");
                    if let Some(at) = chain.iter().position(|n| *n == next) {
                        let mut cycle: Vec<String> = chain[at..].to_vec();
                        cycle.push(next.clone());
                        return Err(self.err(
                            &format!("authorities.{next}.issuer"),
                            specs[&next].issuer.as_deref(),
                            LabError::IssuerCycle(cycle.join(" -> ")),
                            Some(
                                "a root authority has no `issuer`; remove it from one of these"
                                    .into(),
                            ),
                        ));
                    }
                    chain.push(next.clone());
                    cur = next;
                }
            }
        }
        Ok(ordered)
    }

    fn name_constraints(
        &self,
        field: &str,
        nc: Option<&spec::NameConstraintsSpec>,
    ) -> Result<Option<NameConstraints>, LoadError> {
        let Some(nc) = nc else { return Ok(None) };
        let parse = |kind: &str, list: &[String]| -> Result<Vec<Subtree>, LoadError> {
            list.iter()
                .enumerate()
                .map(|(i, s)| {
                    Subtree::parse(s).map_err(|why| {
                        self.invalid(&format!("{field}.name_constraints.{kind}[{i}]"), s, why)
                    })
                })
                .collect()
        };
        let out = NameConstraints {
            permitted: parse("permitted", &nc.permitted)?,
            excluded: parse("excluded", &nc.excluded)?,
        };
        if out.permitted.is_empty() && out.excluded.is_empty() {
            return Err(self.invalid(
                &format!("{field}.name_constraints"),
                "name_constraints",
                "give at least one `permitted` or `excluded` subtree",
            ));
        }
        Ok(Some(out))
    }

    /// The subject of a generated authority or certificate (checked), or an empty one for a loaded
    /// one, whose file carries it; a generated one without a subject is an error.
    fn subject_or_loaded(
        &self,
        field: &str,
        name: &str,
        kind: &str,
        subject: Option<&Subject>,
        loaded: bool,
    ) -> Result<Subject, LoadError> {
        match (subject, loaded) {
            (Some(s), _) => {
                self.subject(field, s)?;
                Ok(s.clone())
            }
            (None, true) => Ok(Subject::default()),
            (None, false) => Err(self.invalid(
                field,
                name,
                format!("a generated {kind} needs a `subject` (or load it with `from`)"),
            )),
        }
    }

    fn subject(&self, field: &str, s: &Subject) -> Result<(), LoadError> {
        if let Some(c) = &s.country {
            if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                return Err(self.invalid(
                    &format!("{field}.subject.C"),
                    c,
                    "a country is two letters, e.g. `US`",
                ));
            }
        }
        let all = [
            &s.country,
            &s.state,
            &s.locality,
            &s.organization,
            &s.unit,
            &s.common_name,
        ];
        if all.iter().all(|f| f.is_none()) {
            return Err(self.invalid(
                &format!("{field}.subject"),
                "subject",
                "a subject needs at least one field, e.g. `CN`",
            ));
        }
        Ok(())
    }

    fn certificate(
        &self,
        name: &str,
        c: &spec::CertificateSpec,
        authorities: &HashMap<String, usize>,
    ) -> Result<Certificate, LoadError> {
        let field = format!("certificates.{name}");
        let issuer = self.resolve(
            &format!("{field}.issuer"),
            &c.issuer,
            "authority",
            authorities,
        )?;
        let from = match &c.from {
            Some(f) => {
                let generated = [
                    ("subject", c.subject.is_some()),
                    ("san", c.san.is_some()),
                    ("key", c.key.is_some()),
                    ("valid", c.valid.is_some()),
                    ("usage", c.usage.is_some()),
                    ("key_usage", c.key_usage.is_some()),
                    ("serial", c.serial.is_some()),
                    ("ca", c.ca.is_some()),
                    (
                        "unknown_critical_extension",
                        c.unknown_critical_extension.is_some(),
                    ),
                ];
                self.not_with_from(&field, "certificate", &generated)?;
                Some(self.source(&format!("{field}.from"), f)?)
            }
            None => None,
        };
        let subject = self.subject_or_loaded(
            &field,
            name,
            "certificate",
            c.subject.as_ref(),
            from.is_some(),
        )?;
        let (not_before, not_after) =
            self.validity(&field, c.valid.as_ref(), Duration::days(90))?;
        let default_san = || {
            subject
                .common_name
                .iter()
                .map(|cn| cn.to_string())
                .filter(|cn| San::parse(cn).is_ok())
                .collect::<Vec<_>>()
        };
        let san_specs = c.san.clone().unwrap_or_else(default_san);
        let mut san = Vec::new();
        for (i, s) in san_specs.iter().enumerate() {
            let f = format!("{field}.san[{i}]");
            san.push(San::parse(s).map_err(|why| self.invalid(&f, s, why))?);
        }
        Ok(Certificate {
            from,
            name: name.to_string(),
            issuer,
            subject,
            san,
            key: c.key.unwrap_or(KeyType::EcdsaP256),
            not_before,
            not_after,
            usage: c.usage.unwrap_or(Usage::Both),
            key_usage: c.key_usage.clone(),
            serial: c.serial,
            ca: c.ca.unwrap_or(false),
            unknown_critical_extension: c.unknown_critical_extension.unwrap_or(false),
        })
    }

    /// Refuses the fields that describe a generated certificate on one loaded with `from`.
    fn not_with_from(
        &self,
        field: &str,
        kind: &str,
        given: &[(&str, bool)],
    ) -> Result<(), LoadError> {
        match given.iter().find(|(_, g)| *g) {
            Some((f, _)) => Err(self.invalid(
                &format!("{field}.{f}"),
                f,
                format!("`{f}` describes a generated {kind}; one loaded with `from` takes it from its file"),
            )),
            None => Ok(()),
        }
    }

    /// `text` with each `${NAME}` path variable replaced by `value(VALUE)`.
    fn substitute(
        &self,
        field: &str,
        text: &str,
        value: impl Fn(&str) -> String,
    ) -> Result<String, LoadError> {
        let mut resolved = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            resolved.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('}') else {
                return Err(self.invalid(field, text, "`${` without a closing `}`"));
            };
            let name = &rest[i + 2..i + j];
            let Some(v) = self.vars.get(name) else {
                let mut e = self.invalid(field, text, format!("`${{{name}}}` is not set"));
                e.help = Some(format!(
                    "give it on the command line, `--var {name}=DIR`, or a default under `vars:`"
                ));
                return Err(e);
            };
            resolved.push_str(&value(v));
            rest = &rest[i + j + 1..];
        }
        resolved.push_str(rest);
        Ok(resolved)
    }

    /// A path variable's value for a command: absolute (a relative default is relative to the lab file),
    /// with braces doubled so that the command template reads them literally.
    fn command_value(&self, v: &str) -> String {
        let base = self.path.parent().unwrap_or(Path::new("."));
        let p = base.join(v);
        let p = std::path::absolute(&p).unwrap_or(p);
        p.display()
            .to_string()
            .replace('{', "{{")
            .replace('}', "}}")
    }

    /// Resolves the paths of a `from`.
    fn source(&self, field: &str, f: &spec::FromSpec) -> Result<Source, LoadError> {
        let (cert, cert_label) = self.path(&format!("{field}.cert"), &f.cert)?;
        let key = match &f.key {
            Some(k) => Some(self.path(&format!("{field}.key"), k)?),
            None => None,
        };
        Ok(Source {
            cert,
            cert_label,
            key,
        })
    }

    /// A `from` path with its `${NAME}` variables replaced, relative to the lab file; and its label for messages:
    /// the path as written without a leading `${NAME}/`, so that messages read `client/client.crt` whatever the submission's directory.
    fn path(&self, field: &str, written: &str) -> Result<(PathBuf, String), LoadError> {
        let resolved = self.substitute(field, written, |v| v.to_string())?;
        if resolved.trim().is_empty() {
            return Err(self.invalid(field, written, "an empty path"));
        }
        let mut label = written;
        if let Some(after) = written.strip_prefix("${") {
            if let Some((_, tail)) = after.split_once("}/") {
                label = tail;
            }
        }
        let base = self.path.parent().unwrap_or(Path::new("."));
        Ok((base.join(resolved), label.to_string()))
    }

    fn validity(
        &self,
        field: &str,
        v: Option<&spec::Validity>,
        default_life: Duration,
    ) -> Result<(OffsetDateTime, OffsetDateTime), LoadError> {
        let from = match v.and_then(|v| v.from.as_deref()) {
            Some(s) => self.time(&format!("{field}.valid.from"), s)?,
            None => self.now - Duration::hours(1),
        };
        let until = match v.and_then(|v| v.until.as_deref()) {
            Some(s) => self.time(&format!("{field}.valid.until"), s)?,
            None => self.now + default_life,
        };
        if until <= from {
            return Err(self.invalid(
                &format!("{field}.valid.until"),
                v.and_then(|v| v.until.as_deref()).unwrap_or("until"),
                "the validity ends before it starts",
            ));
        }
        Ok((from, until))
    }

    fn time(&self, field: &str, s: &str) -> Result<OffsetDateTime, LoadError> {
        parse_time(s, self.now).map_err(|why| self.invalid(field, s, why))
    }

    fn names(
        &self,
        field: &str,
        names: &[String],
        kind: &'static str,
        index: &HashMap<String, usize>,
    ) -> Result<Vec<usize>, LoadError> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| self.resolve(&format!("{field}[{i}]"), n, kind, index))
            .collect()
    }

    fn server(
        &self,
        name: &str,
        s: &spec::ServerSpec,
        names: &Names,
        publishes_crl: bool,
    ) -> Result<Server, LoadError> {
        let field = format!("servers.{name}");
        let certificate = self.resolve(
            &format!("{field}.certificate"),
            &s.certificate,
            "certificate",
            names.certificates,
        )?;
        let trust = self.names(
            &format!("{field}.trust"),
            &s.trust,
            "authority",
            names.authorities,
        )?;
        let client_auth = s.client_auth.unwrap_or(ClientAuth::Required);
        if client_auth != ClientAuth::None && trust.is_empty() {
            return Err(self.err(
                &format!("{field}.trust"),
                None,
                LabError::Invalid {
                    field: format!("{field}.trust"),
                    why: format!(
                        "client_auth is `{}` but the server trusts no authority to verify client certificates",
                        if client_auth == ClientAuth::Required { "required" } else { "optional" }
                    ),
                },
                Some("list the authorities that issue client certificates, e.g. `trust: [ca]`, or set `client_auth: none`".into()),
            ));
        }
        let versions = self.versions(&format!("{field}.tls"), s.tls.as_deref())?;
        let kind = self.server_kind(&field, s, names)?;
        Ok(Server {
            name: name.to_string(),
            kind,
            certificate,
            trust,
            client_auth,
            ciphers: self.ciphers(&format!("{field}.ciphers"), s.ciphers.as_deref(), &versions)?,
            versions,
            chain: self.chain(&format!("{field}.chain"), s.chain.as_ref(), names)?,
            revocation: self.revocation(
                &format!("{field}.revocation"),
                s.revocation.as_ref(),
                publishes_crl,
            )?,
        })
    }

    fn server_kind(
        &self,
        field: &str,
        s: &spec::ServerSpec,
        names: &Names,
    ) -> Result<ServerKind, LoadError> {
        let listen = match &s.listen {
            Some(l) => Some(
                Loopback::parse(l)
                    .map_err(|why| self.invalid(&format!("{field}.listen"), l, why))?,
            ),
            None => None,
        };
        let command_only = [
            ("cwd", s.cwd.is_some()),
            ("env", !s.env.is_empty()),
            ("ready", s.ready.is_some()),
            ("start_timeout", s.start_timeout.is_some()),
        ];
        match (&s.command, &s.target) {
            (Some(_), Some(t)) => Err(self.invalid(
                &format!("{field}.target"),
                t,
                "a server is either a `command` the runner starts or a `target` already running, not both",
            )),
            (None, target) => {
                if let Some((f, _)) = command_only.iter().find(|(_, given)| *given) {
                    return Err(self.invalid(
                        &format!("{field}.{f}"),
                        f,
                        format!("`{f}` applies to a server `command` only"),
                    ));
                }
                match target {
                    Some(t) => {
                        if listen.is_some() {
                            return Err(self.invalid(
                                &format!("{field}.listen"),
                                "listen",
                                "a `target` is where the server already listens; `listen` does not apply",
                            ));
                        }
                        let l = Loopback::parse(t)
                            .map_err(|why| self.invalid(&format!("{field}.target"), t, why))?;
                        if l.port == 0 {
                            return Err(self.invalid(
                                &format!("{field}.target"),
                                t,
                                "a target needs the port it listens on",
                            ));
                        }
                        Ok(ServerKind::Target(l))
                    }
                    None => {
                        let addr = match listen {
                            None => None,
                            Some(l) => {
                                let ip = match l.host.parse::<IpAddr>() {
                                    Ok(ip) => ip,
                                    Err(_) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                                };
                                Some(SocketAddr::new(ip, l.port))
                            }
                        };
                        Ok(ServerKind::BuiltIn { listen: addr })
                    }
                }
            }
            (Some(argv), None) => {
                let template = self.command(
                    field,
                    argv,
                    s.cwd.as_ref(),
                    &s.env,
                    names,
                )?;
                let listen = listen.unwrap_or(Loopback {
                    host: "127.0.0.1".into(),
                    port: 0,
                });
                let start_timeout = match &s.start_timeout {
                    Some(t) => command::parse_duration(t)
                        .map_err(|why| self.invalid(&format!("{field}.start_timeout"), t, why))?,
                    None => START_TIMEOUT,
                };
                Ok(ServerKind::Command(ServerCommand {
                    template,
                    listen,
                    ready: match s.ready {
                        Some(spec::ReadySpec::Tcp) => Ready::Tcp,
                        _ => Ready::Tls,
                    },
                    start_timeout,
                }))
            }
        }
    }

    /// Parses a command's argv, working directory and environment, checking every placeholder's name.
    fn command(
        &self,
        field: &str,
        argv: &[String],
        cwd: Option<&String>,
        env: &BTreeMap<String, String>,
        names: &Names,
    ) -> Result<CommandTemplate, LoadError> {
        if argv.is_empty() || argv[0].trim().is_empty() {
            return Err(self.invalid(
                &format!("{field}.command"),
                "command",
                "give the program and its arguments, e.g. `[python3, server.py]`",
            ));
        }
        let template = |f: String, text: &str| -> Result<Vec<command::Piece>, LoadError> {
            // `${NAME}` path variables first (e.g. the submission's directory), then `{placeholders}`.
            let text = &self.substitute(&f, text, |v| self.command_value(v))?;
            let pieces = command::parse_template(text)
                .map_err(|(token, why)| self.invalid(&f, &token, why))?;
            for p in &pieces {
                let command::Piece::Var(v) = p else { continue };
                use command::Placeholder as P;
                let (name, crl) = match v {
                    P::Cert(n) | P::Key(n) | P::Chain(n) | P::P12(n) => (n, false),
                    P::Crl(n) => (n, true),
                    _ => continue,
                };
                if crl {
                    self.resolve(&f, name, "authority", names.authorities)?;
                    if !names.crls.contains(name.as_str()) {
                        return Err(self.invalid(
                            &f,
                            name,
                            format!("`{name}` publishes no CRL (give it `revokes: [...]` or `crl: {{}}`)"),
                        ));
                    }
                } else if !names.authorities.contains_key(name.as_str()) {
                    let all: HashMap<String, usize> = names
                        .certificates
                        .iter()
                        .chain(names.authorities.iter())
                        .map(|(k, v)| (k.clone(), *v))
                        .collect();
                    self.resolve(&f, name, "certificate or authority", &all)?;
                }
            }
            Ok(pieces)
        };
        let argv = argv
            .iter()
            .enumerate()
            .map(|(i, a)| template(format!("{field}.command[{i}]"), a))
            .collect::<Result<Vec<_>, _>>()?;
        let cwd = match cwd {
            Some(c) => Some(template(format!("{field}.cwd"), c)?),
            None => None,
        };
        let mut vars = Vec::new();
        for (k, v) in env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(self.invalid(
                    &format!("{field}.env.{k}"),
                    k,
                    "not an environment variable name",
                ));
            }
            vars.push((k.clone(), template(format!("{field}.env.{k}"), v)?));
        }
        Ok(CommandTemplate {
            argv,
            cwd,
            env: vars,
        })
    }

    fn versions(
        &self,
        field: &str,
        v: Option<&[TlsVersion]>,
    ) -> Result<Vec<TlsVersion>, LoadError> {
        match v {
            None => Ok(vec![TlsVersion::Tls13, TlsVersion::Tls12]),
            Some([]) => Err(self.invalid(field, "[]", "list at least one TLS version")),
            Some(v) => {
                let mut out = Vec::new();
                for x in [TlsVersion::Tls13, TlsVersion::Tls12] {
                    if v.contains(&x) {
                        out.push(x);
                    }
                }
                Ok(out)
            }
        }
    }

    fn case(
        &self,
        field: &str,
        c: &spec::CaseSpec,
        servers: &[Server],
        server_index: &HashMap<String, usize>,
        names: &Names,
        publishes_crl: bool,
    ) -> Result<Case, LoadError> {
        if c.name.trim().is_empty() {
            return Err(self.invalid(&format!("{field}.name"), "", "a case needs a name"));
        }
        let server = match &c.server {
            Some(s) => self.resolve(&format!("{field}.server"), s, "server", server_index)?,
            None if servers.len() == 1 => 0,
            None => {
                return Err(self.err(
                    field,
                    None,
                    LabError::Invalid {
                        field: format!("{field}.server"),
                        why: if servers.is_empty() {
                            "the lab defines no server to connect to".into()
                        } else {
                            "the lab has several servers; name the one this case connects to".into()
                        },
                    },
                    None,
                ))
            }
        };
        let cf = format!("{field}.client");
        let command = match &c.client.command {
            None => {
                for (f, given) in [
                    ("cwd", c.client.cwd.is_some()),
                    ("env", !c.client.env.is_empty()),
                    ("timeout", c.client.timeout.is_some()),
                ] {
                    if given {
                        return Err(self.invalid(
                            &format!("{cf}.{f}"),
                            f,
                            format!("`{f}` applies to a client `command` only"),
                        ));
                    }
                }
                None
            }
            Some(argv) => {
                let cl = &c.client;
                for (f, given) in [
                    ("certificate", cl.certificate.is_some()),
                    ("trust", cl.trust.is_some()),
                    ("server_name", cl.server_name.is_some()),
                    ("tls", cl.tls.is_some()),
                    ("ciphers", cl.ciphers.is_some()),
                    ("chain", cl.chain.is_some()),
                    ("revocation", cl.revocation.is_some()),
                    ("pin", cl.pin.is_some()),
                ] {
                    if given {
                        return Err(self.err(
                            &format!("{cf}.{f}"),
                            Some(f),
                            LabError::Invalid {
                                field: format!("{cf}.{f}"),
                                why: format!("`{f}` configures the built-in client; a client `command` is configured by its own arguments"),
                            },
                            Some("pass the certificate, key and CA to the command with placeholders, e.g. `--cert {cert:client}`".into()),
                        ));
                    }
                }
                if servers[server].is_external() {
                    return Err(self.invalid(
                        &format!("{cf}.command"),
                        "command",
                        format!("server `{}` is external: a client command runs against a built-in server (with two external programs nothing is observable)", servers[server].name),
                    ));
                }
                let timeout = match &cl.timeout {
                    Some(t) => command::parse_duration(t)
                        .map_err(|why| self.invalid(&format!("{cf}.timeout"), t, why))?,
                    None => CLIENT_COMMAND_TIMEOUT,
                };
                Some(ClientCommand {
                    template: self.command(&cf, argv, cl.cwd.as_ref(), &cl.env, names)?,
                    timeout,
                })
            }
        };
        let trust_names = match (&c.client.trust, &command) {
            (Some(t), _) => t.clone(),
            (None, Some(_)) => Vec::new(),
            (None, None) => {
                return Err(self.err(
                    &cf,
                    None,
                    LabError::Shape {
                        message: format!("{cf}: missing field `trust`"),
                    },
                    Some("list the authorities the client trusts, e.g. `trust: [ca]` (`[]` trusts nothing)".into()),
                ))
            }
        };
        let certificate = match &c.client.certificate {
            Some(n) => Some(self.resolve(
                &format!("{cf}.certificate"),
                n,
                "certificate",
                names.certificates,
            )?),
            None => None,
        };
        let trust = self.names(
            &format!("{cf}.trust"),
            &trust_names,
            "authority",
            names.authorities,
        )?;
        let server_name = c
            .client
            .server_name
            .clone()
            .unwrap_or_else(|| "localhost".into());
        if rustls::pki_types::ServerName::try_from(server_name.as_str()).is_err() {
            return Err(self.invalid(
                &format!("{cf}.server_name"),
                &server_name,
                "not a DNS name or IP address",
            ));
        }
        let versions = self.versions(&format!("{cf}.tls"), c.client.tls.as_deref())?;
        let pins = self.pins(
            &format!("{cf}.pin"),
            c.client.pin.as_deref().unwrap_or_default(),
            names,
        )?;
        if c.client.pin.as_ref().is_some_and(|p| p.is_empty()) {
            return Err(self.invalid(
                &format!("{cf}.pin"),
                "[]",
                "list at least one pin, or omit `pin`",
            ));
        }
        if trust.is_empty() && (!pins.is_empty() || c.client.revocation.is_some()) {
            let what = if pins.is_empty() { "revocation" } else { "pin" };
            return Err(self.invalid(
                &format!("{cf}.trust"),
                "[]",
                format!("a client with `{what}` verifies the chain first and needs at least one trusted authority"),
            ));
        }
        let at = match &c.at {
            Some(t) => Some(self.time(&format!("{field}.at"), t)?),
            None => None,
        };
        Ok(Case {
            name: c.name.clone(),
            line: self.positions.value(field).line,
            server,
            client: Client {
                certificate,
                trust,
                server_name,
                ciphers: self.ciphers(
                    &format!("{cf}.ciphers"),
                    c.client.ciphers.as_deref(),
                    &versions,
                )?,
                versions,
                chain: self.chain(&format!("{cf}.chain"), c.client.chain.as_ref(), names)?,
                revocation: self.revocation(
                    &format!("{cf}.revocation"),
                    c.client.revocation.as_ref(),
                    publishes_crl,
                )?,
                pins,
                command: command.clone(),
            },
            grading: {
                let expect = self.expectation(
                    &format!("{field}.expect"),
                    &c.expect,
                    servers[server].is_external(),
                    command.is_some(),
                )?;
                let checks = self.checks(
                    &format!("{field}.expect"),
                    &c.expect,
                    servers[server].is_external(),
                    command.is_some(),
                )?;
                self.grading(
                    field,
                    c.points,
                    c.score.as_ref(),
                    &c.requires,
                    c.hidden,
                    Some((&expect, &checks)),
                )?
            },
            expect: self.expectation(
                &format!("{field}.expect"),
                &c.expect,
                servers[server].is_external(),
                command.is_some(),
            )?,
            checks: self.checks(
                &format!("{field}.expect"),
                &c.expect,
                servers[server].is_external(),
                command.is_some(),
            )?,
            at,
            tags: c.tags.clone(),
        })
    }

    /// `expect.alert`, `expect.exit`, `expect.output`, and which fields an external peer makes unobservable.
    fn checks(
        &self,
        field: &str,
        e: &Expect,
        external_server: bool,
        client_command: bool,
    ) -> Result<Checks, LoadError> {
        let Expect::Full(f) = e else {
            return Ok(Checks::default());
        };
        if let Some(a) = &f.alert {
            if f.outcome == Outcome::Accepted {
                return Err(self.invalid(
                    &format!("{field}.alert"),
                    a,
                    "`alert` describes a rejection; this case expects `accepted`",
                ));
            }
            if !crate::reason::ALERT_NAMES.contains(&a.as_str()) {
                let names: Vec<String> = crate::reason::ALERT_NAMES
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                return Err(self.err(
                    &format!("{field}.alert"),
                    Some(a),
                    LabError::Invalid {
                        field: format!("{field}.alert"),
                        why: format!("`{a}` is not a TLS alert name"),
                    },
                    did_you_mean(a, names.iter()),
                ));
            }
        }
        if !client_command {
            for (name, given) in [("exit", f.exit.is_some()), ("output", f.output.is_some())] {
                if given {
                    return Err(self.invalid(
                        &format!("{field}.{name}"),
                        name,
                        format!("`{name}` checks a client command; this case's client is the built-in one"),
                    ));
                }
            }
        }
        if client_command && f.status.is_some() {
            return Err(self.invalid(
                &format!("{field}.status"),
                "status",
                "the HTTP status a client command received is not observable; check its `exit` or `output` instead",
            ));
        }
        if external_server && f.server_saw.is_some() {
            return Err(self.invalid(
                &format!("{field}.server_saw"),
                "server_saw",
                "the client identity an external server saw is not observable; check its `output` in a client-command case, or drop `server_saw`",
            ));
        }
        Ok(Checks {
            alert: f.alert.clone(),
            exit: f.exit,
            output: f.output.clone(),
        })
    }

    fn expectation(
        &self,
        field: &str,
        e: &Expect,
        external_server: bool,
        client_command: bool,
    ) -> Result<Expectation, LoadError> {
        let full = match e {
            Expect::Short(Outcome::Accepted) => {
                return Ok(Expectation::Accepted {
                    server_saw: None,
                    status: None,
                })
            }
            Expect::Short(Outcome::Rejected) => {
                return Err(self.err(
                    field,
                    Some("rejected"),
                    LabError::Invalid {
                        field: field.to_string(),
                        why: "a rejection must name the side that rejects and the reason".into(),
                    },
                    Some("write `expect: { outcome: rejected, by: server, reason: certificate_required }`".into()),
                ))
            }
            Expect::Full(f) => f,
        };
        let ExpectFull {
            outcome,
            by,
            reason,
            server_saw,
            status,
            ..
        } = full.clone();
        match outcome {
            Outcome::Accepted => {
                if by.is_some() || reason.is_some() {
                    let f = if by.is_some() { "by" } else { "reason" };
                    return Err(self.invalid(
                        &format!("{field}.{f}"),
                        f,
                        "`by` and `reason` describe a rejection; this case expects `accepted`",
                    ));
                }
                if let Some(s) = &server_saw {
                    if s.none
                        && (s.common_name.is_some()
                            || s.organization.is_some()
                            || s.unit.is_some()
                            || !s.san.is_empty())
                    {
                        return Err(self.invalid(
                            &format!("{field}.server_saw.none"),
                            "none",
                            "`none: true` means no client certificate; it cannot be combined with identity fields",
                        ));
                    }
                    for (i, san) in s.san.iter().enumerate() {
                        San::parse(san).map_err(|why| {
                            self.invalid(&format!("{field}.server_saw.san[{i}]"), san, why)
                        })?;
                    }
                }
                Ok(Expectation::Accepted { server_saw, status })
            }
            Outcome::Rejected => {
                if server_saw.is_some() || status.is_some() {
                    let f = if server_saw.is_some() {
                        "server_saw"
                    } else {
                        "status"
                    };
                    return Err(self.invalid(
                        &format!("{field}.{f}"),
                        f,
                        "`server_saw` and `status` describe an accepted connection; this case expects a rejection",
                    ));
                }
                let help = Some(
                    "a rejection names both: `by: server|client` and `reason: CODE`".to_string(),
                );
                if by.is_none() && reason.is_none() && client_command {
                    // A client command expected to fail on its own: no verifier rejects.
                    return Ok(Expectation::Rejected {
                        by: None,
                        reason: None,
                    });
                }
                let by = by.ok_or_else(|| {
                    self.err(
                        field,
                        None,
                        LabError::Invalid {
                            field: format!("{field}.by"),
                            why: "missing: which side rejects?".into(),
                        },
                        help.clone(),
                    )
                })?;
                // The rejecting side is an external program: only its alert (or exit status) is observable.
                let external = match by {
                    Side::Server => external_server,
                    Side::Client => client_command,
                };
                if external {
                    if let Some(r) = reason {
                        if !crate::reason::readable_from_alert(r) {
                            let readable: Vec<&str> = crate::reason::ALERT_REASONS
                                .iter()
                                .map(|(_, r)| r.code())
                                .collect();
                            return Err(self.err(
                                &format!("{field}.reason"),
                                Some(r.code()),
                                LabError::Invalid {
                                    field: format!("{field}.reason"),
                                    why: format!(
                                        "the {} is an external program: its reason is only observable through the alert it sends, and no alert names `{}` alone",
                                        if by == Side::Server { "server" } else { "client" },
                                        r.code()
                                    ),
                                },
                                Some(format!(
                                    "expect the alert instead, e.g. `alert: certificate_expired`, or one of the reasons an alert names: {}",
                                    readable.join(", ")
                                )),
                            ));
                        }
                    }
                    return Ok(Expectation::Rejected {
                        by: Some(by),
                        reason,
                    });
                }
                let reason = reason.ok_or_else(|| {
                    self.err(
                        field,
                        None,
                        LabError::Invalid {
                            field: format!("{field}.reason"),
                            why: "missing: why is the handshake rejected?".into(),
                        },
                        help.clone(),
                    )
                })?;
                Ok(Expectation::Rejected {
                    by: Some(by),
                    reason: Some(reason),
                })
            }
        }
    }
}

/// Parses `-1d`, `+365d`, `12h`, `30m`, `45s`, `2w`, an RFC 3339 time or a date.
pub fn parse_time(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let t = s.trim();
    if let Ok(abs) = OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
        return Ok(abs);
    }
    if let Ok(date) =
        time::Date::parse(t, time::macros::format_description!("[year]-[month]-[day]"))
    {
        return Ok(date.midnight().assume_utc());
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'-') => (-1, &t[1..]),
        Some(b'+') => (1, &t[1..]),
        _ => (1, t),
    };
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(split);
    let why = || {
        format!("`{s}` is not a time: use an offset such as `-1d`, `+365d`, `12h` (units s, m, h, d, w) or an RFC 3339 time such as `2030-01-01T00:00:00Z`")
    };
    let n: i64 = digits.parse().map_err(|_| why())?;
    if n > 100 * 366 * 24 * 3600 {
        return Err(format!("`{s}` is too far away"));
    }
    let d = match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        "w" => Duration::weeks(n),
        _ => return Err(why()),
    };
    now.checked_add(d * sign)
        .ok_or_else(|| format!("`{s}` is too far away"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_offsets_and_absolutes() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        assert_eq!(
            parse_time("-1d", now).unwrap(),
            time::macros::datetime!(2025-12-31 00:00 UTC)
        );
        assert_eq!(
            parse_time("+365d", now).unwrap(),
            time::macros::datetime!(2027-01-01 00:00 UTC)
        );
        assert_eq!(
            parse_time("12h", now).unwrap(),
            time::macros::datetime!(2026-01-01 12:00 UTC)
        );
        assert_eq!(
            parse_time("2030-01-01", now).unwrap(),
            time::macros::datetime!(2030-01-01 00:00 UTC)
        );
        assert_eq!(
            parse_time("2030-01-01T10:00:00Z", now).unwrap(),
            time::macros::datetime!(2030-01-01 10:00 UTC)
        );
        assert!(parse_time("1 day", now).is_err());
        assert!(parse_time("5y", now).is_err());
    }

    #[test]
    fn sans_parse_with_and_without_prefix() {
        assert_eq!(
            San::parse("dns:localhost").unwrap(),
            San::Dns("localhost".into())
        );
        assert_eq!(
            San::parse("127.0.0.1").unwrap(),
            San::Ip("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            San::parse("ip:::1").unwrap(),
            San::Ip("::1".parse().unwrap())
        );
        assert!(San::parse("ip:localhost").is_err());
        assert!(San::parse("dns:bad name").is_err());
    }
}
