//! What can go wrong in a lab file: [`LabError`] and its [`Problem`]s carry the data of each mistake,
//! [`LoadError`] adds where it is (file, line, column, token, help), and [`LoadErrors`] holds every
//! error found in one file.

use std::path::PathBuf;

use super::command::{AddressError, TemplateError};
use super::name::NameError;
use super::time::{DurationError, TimeError};
use crate::diag::{self, Diagnostic, Severity};

use super::{Pos, Side, MAX_FILE_BYTES};
use crate::reason::Reason;

/// What went wrong in a lab file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// Two mapping keys of the same name: YAML allows only one.
    #[error("`{key}` appears twice in the same mapping")]
    DuplicateKey { key: String },
    /// Two checks or cases with the same name.
    #[error("two cases are named `{name}`")]
    DuplicateCase { name: String },
    /// An authority and a certificate with the same name.
    #[error("`{name}` names both an authority and a certificate; names must be unique")]
    DuplicateName { name: String },
    /// A file with nothing but comments and blank lines.
    #[error("the lab file is empty")]
    Empty,
    /// A field whose value breaks a rule of the format.
    #[error("{field}: {problem}")]
    Invalid {
        field: String,
        problem: Box<Problem>,
    },
    /// Authorities that issue each other, in issuer order, the first repeated at the end.
    #[error("authorities form an issuer cycle: {}", cycle.join(" -> "))]
    IssuerCycle { cycle: Vec<String> },
    /// A file that is not UTF-8 text, at this byte (the error's position gives its line and column).
    #[error("the lab file is not text: invalid UTF-8 at byte {0}")]
    NotText(usize),
    /// A NUL byte in the file, at this byte (the error's position gives its line and column).
    #[error("the lab file is not text: a NUL byte at byte {0}")]
    NulByte(usize),
    /// A second YAML document (`---`) in a lab file.
    #[error("a lab file holds one YAML document; a second one starts here")]
    SecondDocument,
    /// A FIFO, device or socket given as a lab file: never opened, it could block or never end.
    #[error("cannot read the lab file: it is not a regular file ({0})")]
    NotRegular(&'static str),
    /// A file that cannot be read, with the system's reason.
    #[error("cannot read the lab file: {0}")]
    Read(String),
    /// A directory given where a lab file was expected.
    #[error("cannot read the lab file: it is a directory")]
    ReadDirectory,
    /// YAML whose structure does not fit the format (from the YAML reader, with its field path).
    #[error("{message}")]
    Shape { message: String },
    /// A YAML syntax error, as the YAML reader words it.
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    /// A file over [`MAX_FILE_BYTES`].
    #[error("the lab file is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge,
    /// A reference to a name the lab does not define.
    #[error("{field}: no {kind} named `{name}`")]
    UnknownName {
        field: String,
        kind: &'static str,
        name: String,
    },
}

impl LabError {
    /// An [`LabError::Invalid`] of `field`.
    pub fn invalid(field: impl Into<String>, problem: impl Into<Problem>) -> LabError {
        LabError::Invalid {
            field: field.into(),
            problem: Box::new(problem.into()),
        }
    }

    /// The problem of an [`LabError::Invalid`].
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            LabError::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// A value that breaks a rule of the lab format; its text follows the field's path in a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// `server_saw` or `status` on a case that expects a rejection.
    #[error(
        "`server_saw` and `status` describe an accepted connection; this case expects a rejection"
    )]
    AcceptanceFieldOnRejected,
    /// A listen or target address that is not a loopback `HOST:PORT`.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// `alert` on a case that expects `accepted`.
    #[error("`alert` describes a rejection; this case expects `accepted`")]
    AlertOnAccepted,
    /// `expect: rejected` with neither side nor reason.
    #[error("a rejection must name the side that rejects and the reason")]
    BareRejection,
    /// A `battery` on a case it cannot derive failures from.
    #[error(transparent)]
    Battery(#[from] crate::lab::battery::BatteryError),
    /// An extended key usage item that is neither a known purpose nor a dotted OID.
    #[error("`{item}` is not a purpose (`server`, `client`, `code_signing`, `email_protection`, `time_stamping`, `ocsp_signing`, `any`) nor a dotted OID such as `2.5.29.37.0`")]
    BadEku { item: String },
    /// A country that is not two letters.
    #[error("a country is two letters, e.g. `US`")]
    BadCountry,
    /// An environment variable name that is empty or holds `=` or NUL.
    #[error("not an environment variable name")]
    BadEnvName,
    /// An authority, certificate or server name that cannot be a file name.
    #[error(
        "names may use letters, digits, `-`, `_` and `.` (they become directory and file names)"
    )]
    BadName,
    /// Points outside 0 to 1,000,000.
    #[error("points are a number from 0 up")]
    BadPoints,
    /// A variable name with characters other than letters, digits and `_`.
    #[error("a variable name uses letters, digits and `_`")]
    BadVariableName,
    /// A built-in client's field on a client command.
    #[error("`{field}` configures the built-in client; a client `command` is configured by its own arguments")]
    BuiltInClientOnly { field: &'static str },
    /// A built-in server's handshake setting on a server command or target.
    #[error("`{field}` configures the built-in server; a server `command` or `target` is configured by its own arguments")]
    BuiltInServerOnly { field: &'static str },
    /// A handshake setting or assertion (SNI, ALPN, groups, negotiated values) that breaks a rule, said in `why`.
    #[error("{why}")]
    Handshake { why: &'static str },
    /// A check that checks nothing.
    #[error("the check names no property: give e.g. `chains_to`, `san_contains`, `eku`, `key`, `valid_now`")]
    CheckWithoutProperty,
    /// Cipher suites of which none belongs to an enabled TLS version.
    #[error("none of these cipher suites belongs to an enabled TLS version (TLS13_* suites are TLS 1.3, the others TLS 1.2)")]
    CiphersOutsideVersions,
    /// `exit` or `output` on a case whose client is the built-in one.
    #[error("`{field}` checks a client command; this case's client is the built-in one")]
    ClientCommandCheck { field: &'static str },
    /// A client command against a target.
    #[error("server `{server}` is a target: a client command runs against a built-in server or a server command (a target's own words are not observable)")]
    ClientCommandAgainstExternal { server: String },
    /// A `verdicts:` rule that does not say what it means.
    #[error("{why}")]
    VerdictRule { why: &'static str },
    /// A virtual clock (`at:`) on a case against a target, which runs at its own time.
    #[error("{whose} (`at:`) cannot reach server `{server}`: a target is already running and verifies at its own time, not at the lab's")]
    ClockTarget { whose: &'static str, server: String },
    /// A case's own clock against a server command, which runs once for the lab.
    #[error("server `{server}` is a command started once for the lab, at the lab's clock: a case cannot give it a clock of its own")]
    ClockServerCommandOnce { server: String },
    /// A virtual clock for an external program without libfaketime to run it there.
    #[error("{whose} (`at:`) cannot reach the {peer}: it runs at the machine's time unless libfaketime is preloaded into it, and libfaketime is not installed (looked for {looked})", looked = crate::lab::faketime::LOOKED)]
    ClockNeedsFaketime { whose: &'static str, peer: String },
    /// `server_output` on a case whose server is not a server command.
    #[error(
        "`server_output` checks what a server command printed; this case's server is not a command"
    )]
    ServerOutputWithoutCommand,
    /// A server with both `command` and `target`.
    #[error(
        "a server is either a `command` the runner starts or a `target` already running, not both"
    )]
    CommandAndTarget,
    /// A command's field on a peer without a command.
    #[error("`{field}` applies to a {} `command` only", side_word(*side))]
    CommandOnly { field: &'static str, side: Side },
    /// `usage: []`.
    #[error(
        "list at least one purpose, or write `usage: none` for no extended key usage extension"
    )]
    EmptyEku,
    /// `key_of` naming the authority itself.
    #[error("an authority cannot reuse its own key")]
    KeyOfItself,
    /// `key_of` naming an authority that does not own its key (a `key_of` of its own) or is loaded from files.
    #[error("`{authority}` {why}; name an authority that is generated with its own key")]
    KeyOfUnusable {
        authority: String,
        why: &'static str,
    },
    /// An authority named `self`, which `issuer: self` reserves.
    #[error("`self` is reserved: a certificate's `issuer: self` means self-signed")]
    ReservedSelf,
    /// `key` with `key_of`.
    #[error("this authority reuses the key of `{owner}` (`key_of`); its key type is `{owner}`'s")]
    KeyWithKeyOf { owner: String },
    /// `signature` on a certificate issued by an authority.
    #[error("a certificate issued by an authority is signed with its issuer's `signature`; `signature` on a certificate applies to a self-signed one (`issuer: self`)")]
    SignatureOnIssued,
    /// A signature algorithm that does not fit the signer's key, or that rcgen cannot sign with.
    #[error("{}", signature_problem(algorithm, *key))]
    SignatureDoesNotFit {
        algorithm: crate::spec::SignatureAlgorithm,
        key: crate::spec::KeyType,
    },
    /// A CRL whose nextUpdate is not after its thisUpdate.
    #[error("nextUpdate must be later than thisUpdate")]
    CrlNextUpdateNotLater,
    /// A loaded authority that publishes a CRL but has no key to sign it.
    #[error("an authority that publishes a CRL signs it: give its key with `from.key`")]
    CrlWithoutKey,
    /// A timeout that is not a duration.
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// An empty command.
    #[error("give the program and its arguments, e.g. `[python3, server.py]`")]
    EmptyCommand,
    /// `name_constraints` with no subtree.
    #[error("give at least one `permitted` or `excluded` subtree")]
    EmptyNameConstraints,
    /// An empty `from` path.
    #[error("an empty path")]
    EmptyPath,
    /// `pin: []`.
    #[error("list at least one pin, or omit `pin`")]
    EmptyPins,
    /// A NUL character in a command's argument, working directory or environment: no program can receive it.
    #[error("holds a NUL character (`\\0`), which no program can receive in its arguments or environment")]
    NulInCommand,
    /// A subject field longer than RFC 5280's upper bound for it.
    #[error("`{attribute}` is {len} characters long; RFC 5280 allows at most {max} (`{bound}`)")]
    SubjectTooLong {
        attribute: &'static str,
        len: usize,
        max: usize,
        bound: &'static str,
    },
    /// A subject with no field.
    #[error("a subject needs at least one field, e.g. `CN`")]
    EmptySubject,
    /// A generated certificate's field on one loaded with `from`.
    #[error(
        "`{field}` describes a generated {kind}; one loaded with `from` takes it from its file"
    )]
    GeneratedOnly {
        field: &'static str,
        kind: &'static str,
    },
    /// An `include` file that cannot be read.
    #[error("cannot include `{include}`: {error}")]
    Include { include: String, error: LabError },
    /// An `include` file that defines a name the lab defines too.
    #[error("{kind} `{name}` is defined both in this lab and in `{include}`")]
    IncludeDuplicate {
        kind: &'static str,
        name: String,
        include: String,
    },
    /// `key_matches` on a certificate loaded without a key.
    #[error("`{certificate}` is loaded without a key: give `from.key` to check that it matches")]
    KeyMatchesWithoutKey { certificate: String },
    /// A lab without a name.
    #[error("the lab needs a name")]
    LabUnnamed,
    /// `listen` on a `target` server.
    #[error("a `target` is where the server already listens; `listen` does not apply")]
    ListenWithTarget,
    /// A `matrix` that cannot be expanded, as the YAML reader words it.
    #[error("{message}")]
    Matrix { message: String },
    /// A matrix lab given to a function that returns one lab.
    #[error("this lab declares a matrix and expands into several labs")]
    MatrixInSingle,
    /// A rejection without the rejecting side.
    #[error("missing: which side rejects?")]
    MissingBy,
    /// A rejection without a reason.
    #[error("missing: why is the handshake rejected?")]
    MissingReason,
    /// A SAN, subtree or `server_saw` SAN that does not parse.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A lab with neither cases nor checks.
    #[error("the lab has no cases to run")]
    NoCases,
    /// A `{crl:NAME}` placeholder of an authority without a CRL.
    #[error("`{authority}` publishes no CRL (give it `revokes: [...]` or `crl: {{}}`)")]
    NoCrl { authority: String },
    /// `none: true` with identity fields in `server_saw`.
    #[error(
        "`none: true` means no client certificate; it cannot be combined with identity fields"
    )]
    NoneWithIdentity,
    /// A case or check without a name.
    #[error("a {kind} needs a name")]
    NoName { kind: &'static str },
    /// A case in a lab without servers.
    #[error("the lab defines no server to connect to")]
    NoServer,
    /// A generated authority or certificate without a subject.
    #[error("a generated {kind} needs a `subject` (or load it with `from`)")]
    NoSubject { kind: &'static str },
    /// `valid_for_at_least` that is not a positive length of time.
    #[error("a length of time such as `30d`")]
    NotALength,
    /// A client's `server_name` that is neither a DNS name nor an IP address.
    #[error("not a DNS name or IP address")]
    NotServerName,
    /// `tls: []`.
    #[error("list at least one TLS version")]
    NoVersions,
    /// A SHA-256 pin whose base64 does not decode.
    #[error("not base64: {error}")]
    PinNotBase64 { error: base64::DecodeError },
    /// A SHA-256 pin of the wrong length.
    #[error("a SHA-256 pin is 32 bytes (44 base64 characters)")]
    PinLength,
    /// Both `points` and `score`.
    #[error("give either `points` (all or nothing) or `score` (points per part), not both")]
    PointsAndScore,
    /// A certificate loaded without its key, presented by a peer.
    #[error("certificate `{certificate}` is loaded without a key (`from.key`); a peer cannot present it")]
    PresentedWithoutKey { certificate: String },
    /// A reason the external program on `side` cannot show: no alert names it alone.
    #[error(
        "the {} is an external program: its reason is only observable through the alert it sends, and no alert names `{}` alone",
        side_word(*side),
        reason.code()
    )]
    ReasonNotObservable { side: Side, reason: Reason },
    /// `by` or `reason` on a case that expects `accepted`.
    #[error("`by` and `reason` describe a rejection; this case expects `accepted`")]
    RejectionFieldOnAccepted,
    /// `requires` naming the item itself.
    #[error("an item cannot require itself")]
    RequiresItself,
    /// `requires` naming an item that does not run before this one; `what` says what it may name.
    #[error("`{name}` is not {what}: an item requires only items that run before it")]
    RequiresLater { name: String, what: &'static str },
    /// A certificate revoked twice by one CRL.
    #[error("revoked twice")]
    RevokedTwice,
    /// A CRL revoking a certificate of another issuer.
    #[error("`{certificate}` is not issued by `{authority}`; only its issuer can revoke it")]
    RevokesForeign {
        certificate: String,
        authority: String,
    },
    /// A CRL revoking a root.
    #[error("`{authority}` is a root authority: no CRL can revoke a trust anchor")]
    RevokesRoot { authority: String },
    /// Revocation checking in a lab that publishes no CRL.
    #[error("revocation checking needs CRLs, but no authority of the lab publishes one")]
    RevocationWithoutCrl,
    /// A score part the case does not expect.
    #[error("`{part}` is not part of this case's `expect`; score only what it expects")]
    ScoreNotExpected { part: String },
    /// `server_saw` on a case against an external server.
    #[error("the client identity an external server saw is not observable; check its `output` in a client-command case, or drop `server_saw`")]
    ServerSawOfExternal,
    /// A generated authority or certificate signed by one loaded without a key.
    #[error(
        "authority `{authority}` is loaded without a key (`from.key`) and cannot sign `{signed}`"
    )]
    SignerWithoutKey { authority: String, signed: String },
    /// `status` on a client-command case.
    #[error("the HTTP status a client command received is not observable; check its `exit` or `output` instead")]
    StatusOfCommand,
    /// A `target` without a port.
    #[error("a target needs the port it listens on")]
    TargetWithoutPort,
    /// A command template with a bad placeholder.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A time that does not parse or is out of range.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A `${` without its `}` in a path.
    #[error("`${{` without a closing `}}`")]
    UnclosedVariable,
    /// A TLS alert name that does not exist.
    #[error("`{name}` is not a TLS alert name")]
    UnknownAlert { name: String },
    /// A `${NAME}` path variable with no value.
    #[error("`${{{name}}}` is not set")]
    UnsetVariable { name: String },
    /// A validity that ends before it starts.
    #[error("the validity ends before it starts")]
    ValidityReversed,
    /// Pins or revocation checking on a client that trusts no authority; `what` is `pin` or `revocation`.
    #[error(
        "a client with `{what}` verifies the chain first and needs at least one trusted authority"
    )]
    VerifyWithoutTrust { what: &'static str },
    /// A case without `server` in a lab with several servers.
    #[error("the lab has several servers; name the one this case connects to")]
    WhichServer,
}

fn signature_problem(alg: &crate::spec::SignatureAlgorithm, key: crate::spec::KeyType) -> String {
    use crate::spec::SignatureAlgorithm as S;
    let fits: Vec<String> = key
        .signatures()
        .iter()
        .map(|s| format!("`{}`", s.name()))
        .collect();
    let head = match alg {
        S::RsaPssSha256 | S::RsaPssSha384 | S::RsaPssSha512 => {
            format!("`{}`: rcgen cannot sign RSA-PSS", alg.name())
        }
        _ => format!(
            "`{}` does not fit the signer's `{}` key",
            alg.name(),
            key.name()
        ),
    };
    format!(
        "{head} (rcgen signs with `{}` keys using {})",
        key.name(),
        fits.join(", ")
    )
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Server => "server",
        Side::Client => "client",
    }
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

impl LoadError {
    /// The full multi-line rendering of this error, without colour: `error: …`, `--> file:line:col`,
    /// the source line with a caret under the token, and the help line ([`crate::diag`]).
    pub fn render(&self) -> String {
        diag::render_diagnostic(&Diagnostic {
            severity: Severity::Error,
            file: &self.file,
            pos: self.pos,
            message: self.error.to_string(),
            token: self.token.as_deref(),
            help: self.help.as_deref(),
            source: self.source.as_deref(),
        })
    }
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

/// Every error found in one lab file, in the order found; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(Vec<LoadError>);

impl LoadErrors {
    /// Every error rendered as [`LoadError::render`] does, one after the other in the order found.
    pub fn render(&self) -> String {
        self.iter().map(LoadError::render).collect()
    }

    /// The errors of a file; `None` if there are none.
    pub fn new(errors: Vec<LoadError>) -> Option<LoadErrors> {
        (!errors.is_empty()).then_some(LoadErrors(errors))
    }

    /// The first error found.
    pub fn first(&self) -> &LoadError {
        &self.0[0]
    }

    /// How many errors the file has (at least one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: there is at least one error.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The errors, in the order found.
    pub fn iter(&self) -> std::slice::Iter<'_, LoadError> {
        self.0.iter()
    }

    /// The errors, in the order found.
    pub fn into_vec(self) -> Vec<LoadError> {
        self.0
    }
}

impl From<LoadError> for LoadErrors {
    fn from(e: LoadError) -> Self {
        LoadErrors(vec![e])
    }
}

impl From<Box<LoadError>> for LoadErrors {
    fn from(e: Box<LoadError>) -> Self {
        LoadErrors(vec![*e])
    }
}

impl<'a> IntoIterator for &'a LoadErrors {
    type Item = &'a LoadError;
    type IntoIter = std::slice::Iter<'a, LoadError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for LoadErrors {
    type Item = LoadError;
    type IntoIter = std::vec::IntoIter<LoadError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// One error per line, each as `file:line:col: message`.
impl std::fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Suggests the candidate closest to `found`, if any is close: `did you mean `NAME`?`.
pub fn did_you_mean<'a>(
    found: &str,
    candidates: impl Iterator<Item = &'a String>,
) -> Option<String> {
    // Jaro-Winkler for longer names; one edit (Damerau-Levenshtein) for short ones such as `cq` → `ca`,
    // which Jaro-Winkler scores low.
    candidates
        .filter(|c| {
            strsim::jaro_winkler(found, c) > 0.8
                || (found.chars().count() >= 2 && strsim::damerau_levenshtein(found, c) <= 1)
        })
        .map(|c| (strsim::jaro_winkler(found, c), c))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_suggests_close_names_long_and_short() {
        let names: Vec<String> = ["ca", "web", "client", "server"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            did_you_mean("clinet", names.iter()).as_deref(),
            Some("did you mean `client`?")
        );
        assert_eq!(
            did_you_mean("cq", names.iter()).as_deref(),
            Some("did you mean `ca`?")
        );
        assert_eq!(
            did_you_mean("wbe", names.iter()).as_deref(),
            Some("did you mean `web`?")
        );
        assert_eq!(did_you_mean("zzz", names.iter()), None);
        assert_eq!(did_you_mean("x", names.iter()), None);
    }
}
