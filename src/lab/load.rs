//! Reading lab files: the text (size, encoding), YAML with positions, `include` fragments and `matrix` expansion.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::error::{did_you_mean, LabError, LoadError, LoadErrors, Problem};
use super::resolve::Resolver;
use super::{Lab, Pos, Vars, MAX_FILE_BYTES};
use crate::spec::yaml::{self, Positions, YamlErrorKind};
use crate::spec::{self, LabFile};

/// Why [`read_regular`] could not read a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error("no such file")]
    NotFound,
    #[error("permission denied")]
    PermissionDenied,
    #[error("it is a directory")]
    Directory,
    /// A FIFO, device or socket: reading it could block forever or never end.
    #[error("not a regular file ({0})")]
    NotRegular(&'static str),
    /// Over the limit given to [`read_regular`], in bytes.
    #[error("larger than {}", bytes_text(*.0))]
    TooLarge(u64),
    /// Any other error, as the system words it.
    #[error("{0}")]
    Io(String),
}

/// `1 MiB`, `4 MiB`, or a number of bytes.
fn bytes_text(n: u64) -> String {
    if n >= 1024 * 1024 && n % (1024 * 1024) == 0 {
        format!("{} MiB", n / (1024 * 1024))
    } else {
        format!("{n} bytes")
    }
}

/// What kind of file a non-regular file is, for a message.
fn kind_of(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Reads a regular file of at most `limit` bytes, whatever `path` turns out to be: the metadata is checked
/// before opening (a FIFO, device or socket is refused, never opened), the file is opened non-blocking and
/// checked again through the opened handle (in case it was swapped meanwhile), and at most `limit + 1`
/// bytes are read (a file that grows, or reports no size, stops there). Never blocks, never reads more.
///
/// # Errors
/// Each [`ReadError`].
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        std::io::ErrorKind::PermissionDenied => ReadError::PermissionDenied,
        std::io::ErrorKind::IsADirectory => ReadError::Directory,
        _ => ReadError::Io(e.to_string()),
    };
    let check = |meta: &std::fs::Metadata| {
        if meta.is_dir() {
            Err(ReadError::Directory)
        } else if !meta.is_file() {
            Err(ReadError::NotRegular(kind_of(meta.file_type())))
        } else if meta.len() > limit {
            Err(ReadError::TooLarge(limit))
        } else {
            Ok(())
        }
    };
    check(&std::fs::metadata(path).map_err(io)?)?;
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    check(&meta)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(bytes)
}

/// Reads a lab file's text, refusing missing, oversized, non-regular and binary files.
fn read_text(path: &Path) -> Result<String, Box<LoadError>> {
    let bare = |error| {
        Box::new(LoadError {
            file: path.to_path_buf(),
            pos: None,
            error,
            token: None,
            help: None,
            source: None,
        })
    };
    let bytes = read_regular(path, MAX_FILE_BYTES as u64).map_err(|e| {
        bare(match e {
            ReadError::Directory => LabError::ReadDirectory,
            ReadError::TooLarge(_) => LabError::TooLarge,
            ReadError::NotRegular(kind) => LabError::NotRegular(kind),
            e => LabError::Read(e.to_string()),
        })
    })?;
    let invalid = std::str::from_utf8(&bytes)
        .err()
        .map(|e| e.valid_up_to())
        .unwrap_or(bytes.len());
    let nul = bytes[..invalid].iter().position(|&b| b == 0);
    if nul.is_none() && invalid == bytes.len() {
        return Ok(String::from_utf8(bytes).expect("checked as UTF-8"));
    }
    // The first NUL byte or invalid UTF-8 sequence, with its line and column (the text before it is UTF-8).
    let (at, error, mark, help) = match nul {
        Some(at) => (
            at,
            LabError::NulByte(at),
            "\u{2400}",
            "a lab file is text: remove the NUL byte (shown as ␀)",
        ),
        None => (
            invalid,
            LabError::NotText(invalid),
            "\u{FFFD}",
            "a lab file is UTF-8 text: save it as UTF-8 (the bad byte is shown as �)",
        ),
    };
    let before = std::str::from_utf8(&bytes[..at]).expect("valid up to here");
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let pos = Pos {
        line: before.matches('\n').count() + 1,
        col: before[line_start..].chars().count() + 1,
    };
    // Shown with control characters as their pictures (NUL as ␀) and invalid bytes as U+FFFD, so that the
    // caret points at the bad byte and nothing raw reaches the terminal.
    let shown: String = String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\0'..='\x1f' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'),
            '\x7f' => '\u{2421}',
            c => c,
        })
        .collect();
    Err(Box::new(LoadError {
        file: path.to_path_buf(),
        pos: Some(pos),
        error,
        token: Some(mark.into()),
        help: Some(help.into()),
        source: Some(shown),
    }))
}

/// Reads and validates a lab file without a matrix, resolving relative times against `now`.
///
/// # Errors
/// Every error of the file ([`LoadErrors`]): it cannot be read, is not YAML of the lab format, breaks a rule
/// of the format, or declares a matrix.
pub fn load(path: &Path, now: OffsetDateTime) -> Result<Lab, LoadErrors> {
    parse(path, &read_text(path)?, now)
}

/// Reads and validates a lab file; a matrix lab gives one lab per combination of its variables.
///
/// # Errors
/// Every error of the file, as [`load`]; for a matrix, those of the first variant that has any.
pub fn load_all(path: &Path, now: OffsetDateTime) -> Result<Vec<Lab>, LoadErrors> {
    load_all_with(path, now, &Vars::new())
}

/// Like [`load_all`], with the values of `${NAME}` path variables given on the command line.
///
/// # Errors
/// As [`load_all`].
pub fn load_all_with(
    path: &Path,
    now: OffsetDateTime,
    vars: &Vars,
) -> Result<Vec<Lab>, LoadErrors> {
    parse_all_with(path, &read_text(path)?, now, vars)
}

/// Validates lab text that claims to come from `path`; a lab with a matrix is refused (use [`parse_all`]).
///
/// # Errors
/// As [`load`], without the reading.
pub fn parse(path: &Path, text: &str, now: OffsetDateTime) -> Result<Lab, LoadErrors> {
    let mut labs = parse_all(path, text, now)?;
    if labs.len() != 1 || !labs[0].variant.is_empty() {
        return Err(LoadErrors::from(LoadError {
            file: path.to_path_buf(),
            pos: None,
            error: LabError::invalid("matrix", Problem::MatrixInSingle),
            token: None,
            help: Some("load it with `load_all` / `parse_all`".into()),
            source: Some(text.to_string()),
        }));
    }
    Ok(labs.remove(0))
}

/// Validates lab text, expanding its matrix.
///
/// # Errors
/// As [`load_all`], without the reading.
pub fn parse_all(path: &Path, text: &str, now: OffsetDateTime) -> Result<Vec<Lab>, LoadErrors> {
    parse_all_with(path, text, now, &Vars::new())
}

/// Like [`parse_all`], with the values of `${NAME}` path variables given on the command line.
///
/// # Errors
/// As [`load_all`], without the reading.
pub fn parse_all_with(
    path: &Path,
    text: &str,
    now: OffsetDateTime,
    cli_vars: &Vars,
) -> Result<Vec<Lab>, LoadErrors> {
    let cli_names: Vec<&str> = cli_vars.keys().map(String::as_str).collect();
    let limits = yaml::MatrixLimits {
        variants: MAX_MATRIX_VARIANTS,
        bytes: MAX_MATRIX_BYTES,
    };
    let matrix = yaml::matrix(text, &cli_names, limits).map_err(|m| LoadError {
        file: path.to_path_buf(),
        pos: Some(m.pos),
        error: LabError::invalid("matrix", Problem::Matrix { message: m.message }),
        token: m.token,
        help: m.help,
        source: Some(text.to_string()),
    })?;
    let Some(vars) = matrix else {
        return Ok(vec![parse_one(path, text, now, Vec::new(), cli_vars)?]);
    };
    // `yaml::matrix` kept the product within MAX_MATRIX_VARIANTS: it fits in a usize.
    let count: usize = vars.iter().map(|(_, v)| v.len()).product();
    let mut labs = Vec::with_capacity(count);
    for i in 0..count {
        let variant = combination(&vars, i);
        let expanded = substitute(text, &variant);
        labs.push(parse_one(path, &expanded, now, variant, cli_vars)?);
    }
    Ok(labs)
}

/// Most variants a matrix may expand into; more is a load error naming the product.
pub const MAX_MATRIX_VARIANTS: u64 = 10_000;

/// Most lab text a matrix may expand into (variants × file size): 64 MiB (10,000 variants of a 6.5 KB lab
/// validate in 27 s and 90 MB in a debug build).
pub const MAX_MATRIX_BYTES: u64 = 64 * 1024 * 1024;

/// The `index`-th combination of the variables' values, the first variable varying slowest.
fn combination(vars: &[(String, Vec<String>)], mut index: usize) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), String::new()); vars.len()];
    for (slot, (name, values)) in out.iter_mut().zip(vars).rev() {
        *slot = (name.clone(), values[index % values.len()].clone());
        index /= values.len();
    }
    out
}

/// `text` with each `${NAME}` of `variant` replaced by its value, in one pass (other `${...}` stay).
fn substitute(text: &str, variant: &[(String, String)]) -> String {
    let values: HashMap<&str, &str> = variant
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let value = after
            .find('}')
            .and_then(|j| values.get(&after[..j]).map(|v| (v, j)));
        match value {
            Some((v, j)) => {
                out.push_str(v);
                rest = &after[j + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A YAML error as a load error of `path`.
fn yaml_error(path: &Path, text: &str, e: yaml::YamlError) -> Box<LoadError> {
    let (error, token, help) = match e.kind {
        YamlErrorKind::Syntax(m) => (LabError::Syntax(m), None, None),
        YamlErrorKind::SecondDocument => (
            LabError::SecondDocument,
            Some("---".into()),
            Some("one lab per file: remove this `---` and what follows, or move it to a file of its own".into()),
        ),
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
    Box::new(LoadError {
        file: path.to_path_buf(),
        pos: Some(e.pos),
        error,
        token,
        help,
        source: Some(text.to_string()),
    })
}

/// Where the definitions of an included file come from, for pointing errors into it.
pub(in crate::lab) struct Origin {
    /// `authorities.NAME`, `certificates.NAME`, `servers.NAME` defined by the file.
    pub(in crate::lab) prefixes: Vec<String>,
    pub(in crate::lab) path: PathBuf,
    pub(in crate::lab) positions: Positions,
    pub(in crate::lab) source: String,
}

/// Reads the lab's `include` files and merges their definitions into `file`.
fn include(
    path: &Path,
    file: &mut LabFile,
    positions: &Positions,
) -> Result<Vec<Origin>, Box<LoadError>> {
    let mut origins = Vec::new();
    let base = path.parent().unwrap_or(Path::new("."));
    for (i, inc) in file.include.clone().iter().enumerate() {
        let field = format!("include[{i}]");
        let at = |error: LabError, help: Option<String>| {
            Box::new(LoadError {
                file: path.to_path_buf(),
                pos: Some(positions.value(&field)),
                error,
                token: Some(inc.clone()),
                help,
                source: None,
            })
        };
        let inc_path = base.join(inc);
        let text = read_text(&inc_path).map_err(|e| {
            at(
                LabError::invalid(
                    field.clone(),
                    Problem::Include {
                        include: inc.clone(),
                        error: e.error,
                    },
                ),
                Some("include paths are relative to the including lab file".into()),
            )
        })?;
        let included_by = |mut e: Box<LoadError>| {
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
                            LabError::invalid(
                                field.clone(),
                                Problem::IncludeDuplicate {
                                    kind: $kind,
                                    name: name.clone(),
                                    include: inc.clone(),
                                },
                            ),
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

/// Validates the text of one lab (one variant of a matrix lab): YAML, includes, then the resolver.
fn parse_one(
    path: &Path,
    text: &str,
    now: OffsetDateTime,
    variant: Vec<(String, String)>,
    cli_vars: &Vars,
) -> Result<Lab, LoadErrors> {
    let with_source = |mut e: LoadError| {
        e.source.get_or_insert_with(|| text.to_string());
        e
    };
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Err(LoadErrors::from(with_source(LoadError {
            file: path.to_path_buf(),
            pos: None,
            error: LabError::Empty,
            token: None,
            help: Some("a lab needs at least `lab:`, a PKI, a server and cases; `mtls-lab init` writes a starter".into()),
            source: None,
        })));
    }
    let (mut file, positions) =
        yaml::parse::<LabFile>(text).map_err(|e| yaml_error(path, text, e))?;
    let origins = include(path, &mut file, &positions).map_err(|e| with_source(*e))?;
    // Path variables: the lab's defaults, overridden by the command line (whose values are absolute);
    // a path still relative after substitution is relative to the lab file.
    let mut vars: Vars = file.vars.clone();
    vars.extend(cli_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut lab = Resolver::new(path, &positions, &origins, now, &vars)
        .lab(file)
        .map_err(|errors| {
            let errors = errors.into_iter().map(with_source).collect();
            LoadErrors::new(errors).expect("errors stay non-empty")
        })?;
    if !variant.is_empty() {
        let label: Vec<String> = variant.iter().map(|(k, v)| format!("{k}={v}")).collect();
        lab.name = format!("{}[{}]", lab.name, label.join(", "));
        lab.variant = variant;
    }
    Ok(lab)
}
