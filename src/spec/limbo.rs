//! The x509-limbo testcase file as written: serde types one to one with limbo's `limbo-schema.json`
//! (`{"version": 1, "testcases": [...]}`), and the parse of its bytes (version 1 only, unique ids).
//!
//! Our own types rather than the `limbo-harness-support` crate the x509-limbo notes mention: `cargo info`
//! finds no such crate on crates.io (2026-11-30), and the schema is twenty plain fields.
//!
//! Nothing here is checked beyond its shape; [`crate::lab::limbo`] decodes the PEMs, the time and the
//! names, and decides what each verifier can apply.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The largest limbo file read: upstream's full `limbo.json` (BetterTLS included) is about 39 MB.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A limbo file: a format version and its testcases.
#[derive(Debug, Deserialize)]
pub struct LimboFile {
    /// The format version: 1 at x509-limbo @8a2e6f4, the only one read ([`VERSION`]).
    #[serde(deserialize_with = "known_version")]
    pub version: u32,
    /// The testcases, in file order.
    pub testcases: Vec<Testcase>,
}

/// One testcase: a chain, the anchors to validate it against, the name and time to validate it for, and
/// the expected result (with no reason: limbo says only whether the chain should validate).
#[derive(Debug, Deserialize)]
pub struct Testcase {
    /// `namespace::...::name`.
    pub id: String,
    /// Ids of testcases that expect the opposite under another policy (e.g. `rfc5280::` vs `webpki::`).
    #[serde(default)]
    pub conflicts_with: Vec<String>,
    /// Optional tags a harness skips when it does not support them (`max-chain-depth`, `has-crl`, ...).
    #[serde(default)]
    pub features: Vec<String>,
    /// `undetermined`, `low`, `medium`, `high` or `critical`.
    #[serde(default)]
    pub importance: Option<String>,
    /// What the testcase checks, in Markdown.
    #[serde(default)]
    pub description: String,
    /// Whether the peer is a server (the chain is validated for serverAuth) or a client.
    pub validation_kind: ValidationKind,
    /// The trust anchors, PEM.
    pub trusted_certs: Vec<String>,
    /// Intermediates the peer presents after its certificate: unordered, decoys included, PEM.
    #[serde(default)]
    pub untrusted_intermediates: Vec<String>,
    /// The peer's certificate, PEM.
    pub peer_certificate: String,
    /// The peer certificate's private key, PEM; absent for real-world chains (`online::`).
    #[serde(default)]
    pub peer_certificate_key: Option<String>,
    /// When to validate, RFC 3339; `null` means now.
    #[serde(default)]
    pub validation_time: Option<String>,
    /// Signature algorithms the validator must restrict itself to (empty: any).
    #[serde(default)]
    pub signature_algorithms: Vec<String>,
    /// Key usages the leaf must assert (empty: none checked).
    #[serde(default)]
    pub key_usage: Vec<String>,
    /// Extended key usages the leaf must assert.
    #[serde(default)]
    pub extended_key_usage: Vec<String>,
    /// Whether the chain should validate.
    pub expected_result: ExpectedResult,
    /// The name a SERVER testcase validates for.
    #[serde(default)]
    pub expected_peer_name: Option<PeerName>,
    /// The names of a CLIENT testcase.
    #[serde(default)]
    pub expected_peer_names: Vec<PeerName>,
    /// The longest chain the validator may build, when the testcase limits it.
    #[serde(default)]
    pub max_chain_depth: Option<u32>,
    /// CRLs the validator checks revocation with, PEM.
    #[serde(default)]
    pub crls: Vec<String>,
}

/// Which side's certificate is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ValidationKind {
    /// A client validating a server's chain.
    Server,
    /// A server validating a client's chain.
    Client,
}

/// Whether the chain should validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExpectedResult {
    /// It should validate.
    Success,
    /// It should not.
    Failure,
}

/// A name to validate the peer for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PeerName {
    /// `DNS`, `IP` or `RFC822`.
    pub kind: PeerNameKind,
    /// The name as written.
    pub value: String,
}

/// The kind of a [`PeerName`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum PeerNameKind {
    /// A DNS name.
    #[serde(rename = "DNS")]
    Dns,
    /// An IPv4 or IPv6 address.
    #[serde(rename = "IP")]
    Ip,
    /// An email address.
    #[serde(rename = "RFC822")]
    Rfc822,
}

/// Why a limbo file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimboFileError {
    /// The file could not be read: `why` says why (no such file, not a regular file, too large, ...).
    #[error("cannot read `{}`: {why}", path.display())]
    Read { path: PathBuf, why: String },
    /// The file is not a limbo file: bad JSON, or JSON of another shape.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Two testcases have the same id (the first and second by position in `testcases`, from 0).
    #[error("{}: testcases[{first}] and testcases[{second}] both have the id `{id}`: ids must be unique", path.display())]
    DuplicateId {
        path: PathBuf,
        id: String,
        first: usize,
        second: usize,
    },
}

/// The limbo format version this tool reads.
pub const VERSION: u32 = 1;

/// `version`, refused unless it is [`VERSION`] (serde_json then gives the line and column).
fn known_version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if v == VERSION {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!(
            "limbo format version {v} is not known: this tool reads version {VERSION}"
        )))
    }
}

/// One verifier's known disagreement with limbo: the testcase's id and a line of why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// The testcase's id.
    pub id: String,
    /// Why the verifier disagrees, in one line.
    pub why: String,
}

/// An exceptions file: for each verifier by name (`builtin`, `curl`, `openssl`), its known disagreements.
pub type ExceptionsFile = std::collections::BTreeMap<String, Vec<Exception>>;

/// Parses exceptions JSON `bytes` read from `path` (named in errors).
///
/// # Errors
/// [`LimboFileError::Parse`] with the line and column serde_json stopped at.
pub fn parse_exceptions(path: &Path, bytes: &[u8]) -> Result<ExceptionsFile, LimboFileError> {
    parse_json(path, bytes)
}

/// Parses limbo JSON `bytes` read from `path` (named in errors).
///
/// # Errors
/// [`LimboFileError::Parse`] with the line and column serde_json stopped at (bad JSON, another shape,
/// a version other than [`VERSION`]); [`LimboFileError::DuplicateId`] when two testcases share an id.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<LimboFile, LimboFileError> {
    let file: LimboFile = parse_json(path, bytes)?;
    let mut seen = std::collections::HashMap::new();
    for (i, t) in file.testcases.iter().enumerate() {
        if let Some(first) = seen.insert(t.id.as_str(), i) {
            return Err(LimboFileError::DuplicateId {
                path: path.to_path_buf(),
                id: t.id.clone(),
                first,
                second: i,
            });
        }
    }
    Ok(file)
}

fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
) -> Result<T, LimboFileError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        // serde_json appends " at line L column C": the position is given once, in front.
        let message = match text.rfind(" at line ") {
            Some(at) => text[..at].to_string(),
            None => text,
        };
        LimboFileError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_json_names_its_line_and_column() {
        let err = parse(
            Path::new("x.json"),
            b"{\"version\": 1,\n  \"testcases\": [}\n",
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "x.json:2:17: expected value", "{err:?}");
        let err = parse(Path::new("x.json"), b"{\"version\": 1}").unwrap_err();
        assert_eq!(err.to_string(), "x.json:1:14: missing field `testcases`");
    }

    #[test]
    fn refuses_an_unknown_version_and_duplicate_ids() {
        let err = parse(
            Path::new("x.json"),
            b"{\"version\": 2,\n \"testcases\": []}",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.json:1:13: limbo format version 2 is not known: this tool reads version 1"
        );
        let tc = |id: &str| {
            format!(
                r#"{{"id": "{id}", "validation_kind": "SERVER", "trusted_certs": [], "peer_certificate": "", "expected_result": "SUCCESS"}}"#
            )
        };
        let text = format!(
            r#"{{"version": 1, "testcases": [{}, {}, {}]}}"#,
            tc("a::b"),
            tc("c"),
            tc("a::b")
        );
        let err = parse(Path::new("x.json"), text.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.json: testcases[0] and testcases[2] both have the id `a::b`: ids must be unique"
        );
    }
}
