//! What can go wrong in a lab file ([`LabError`]), and where ([`LoadError`]).

use std::path::PathBuf;

use super::{Pos, MAX_FILE_BYTES};

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
