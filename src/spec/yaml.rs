//! The only module that parses YAML: serde_yaml for the typed value, yaml-rust2 events for line and column of every key and value.
//!
//! serde_yaml is deprecated upstream; moving to a maintained fork changes this file only.

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

pub use crate::diag::Pos;

/// Where each key and value of a YAML document starts, by path (`cases[2].client.certificate`).
#[derive(Debug, Default)]
pub struct Positions {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
}

impl Positions {
    /// Position of the key at `path`, or of the nearest enclosing node that has one.
    pub fn key(&self, path: &str) -> Pos {
        self.lookup(path, true)
    }

    /// Position of the value at `path`, or of the nearest enclosing node that has one.
    pub fn value(&self, path: &str) -> Pos {
        self.lookup(path, false)
    }

    fn lookup(&self, path: &str, key: bool) -> Pos {
        let mut p = path;
        loop {
            let table = if key { &self.keys } else { &self.values };
            if let Some(pos) = table.get(p).or_else(|| self.values.get(p)) {
                return *pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => {
                    return self
                        .values
                        .get("")
                        .copied()
                        .unwrap_or(Pos { line: 1, col: 1 })
                }
            }
        }
    }
}

/// A YAML document that could not be read into the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub kind: YamlErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlErrorKind {
    /// Not YAML at all.
    Syntax(String),
    /// The same key twice in one mapping.
    DuplicateKey { path: String, key: String },
    /// A second YAML document (after `---`) in a file that holds one; the position is its `---`.
    SecondDocument,
    /// Valid YAML of the wrong shape: unknown field, wrong type, missing field.
    Shape {
        /// Where in the document, as serde_yaml reports it (`cases[0].client`), if known.
        path: Option<String>,
        message: String,
        /// For an unknown field or variant: the name found and the names allowed.
        unknown: Option<(String, Vec<String>)>,
    },
}

/// A problem with a lab's `matrix`, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixError {
    pub pos: Pos,
    pub message: String,
    pub token: Option<String>,
    pub help: Option<String>,
}

/// Characters a matrix value may use: it is pasted into YAML text as a plain scalar.
fn plain_scalar(v: &str) -> bool {
    !v.is_empty()
        && !v.starts_with(':')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-' | ':' | '/'))
}

/// `src` with each `${NAME}` replaced by a plain scalar of the same length, so it parses even in flow context.
fn without_placeholders(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        match rest[i..].find('}') {
            Some(j) if !rest[i..i + j].contains('\n') => {
                out.push_str(&"x".repeat(j + 1));
                rest = &rest[i + j + 1..];
            }
            _ => {
                out.push_str("${");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A matrix's variables in file order, each with its values as text.
pub type MatrixVars = Vec<(String, Vec<String>)>;

/// How far a matrix may expand: at most `variants` labs, and at most `bytes` of lab text in all
/// (the variants times the file's size), so that no lab file can make loading run out of memory or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixLimits {
    pub variants: u64,
    pub bytes: u64,
}

/// The names of every `${NAME}` in `src`, in one pass.
fn placeholder_names(src: &str) -> HashSet<&str> {
    let mut names = HashSet::new();
    let mut rest = src;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        if let Some(j) = rest.find('}') {
            names.insert(&rest[..j]);
        }
    }
    names
}

/// `n` with thousands separators: `10,000`.
fn grouped(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The lab's `matrix`, variables in file order with their values as text; `None` without one.
///
/// Also checks that every variable is used as `${NAME}` and that no `${NAME}` is undefined, and that the
/// matrix stays within `limits` (the product of the value counts is computed, with overflow checks,
/// before anything is expanded).
/// `${NAME}` of a path variable (the lab's `vars`, or `cli_vars` from the command line) is left for `from` paths.
pub fn matrix(
    src: &str,
    cli_vars: &[&str],
    limits: MatrixLimits,
) -> Result<Option<MatrixVars>, MatrixError> {
    let probe = without_placeholders(src);
    let Ok(serde_yaml::Value::Mapping(doc)) = serde_yaml::from_str::<serde_yaml::Value>(&probe)
    else {
        return Ok(None);
    };
    let positions = index(&probe).unwrap_or_default();
    let Some(m) = doc.get("matrix") else {
        return Ok(None);
    };
    let mut path_vars: Vec<String> = cli_vars.iter().map(|v| v.to_string()).collect();
    if let Some(serde_yaml::Value::Mapping(v)) = doc.get("vars") {
        path_vars.extend(v.keys().filter_map(|k| k.as_str().map(str::to_string)));
    }
    let at =
        |path: &str, message: String, token: Option<String>, help: Option<String>| MatrixError {
            pos: positions.value(path),
            message,
            token,
            help,
        };
    let serde_yaml::Value::Mapping(m) = m else {
        return Err(at(
            "matrix",
            "`matrix` maps variable names to lists of values".into(),
            None,
            None,
        ));
    };
    let used = placeholder_names(src);
    let mut vars = Vec::new();
    for (k, v) in m {
        let Some(name) = k.as_str() else {
            return Err(at(
                "matrix",
                "matrix variable names are strings".into(),
                None,
                None,
            ));
        };
        let field = format!("matrix.{name}");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(at(
                &field,
                format!("`{name}` is not a variable name (letters, digits, `_`)"),
                Some(name.into()),
                None,
            ));
        }
        let Some(list) = v.as_sequence().filter(|l| !l.is_empty()) else {
            return Err(at(
                &field,
                format!("`{name}` needs a non-empty list of values"),
                Some(name.into()),
                None,
            ));
        };
        let mut values = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let text = match item {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                _ => String::new(),
            };
            if !plain_scalar(&text) {
                return Err(at(
                    &format!("{field}[{i}]"),
                    match item {
                        serde_yaml::Value::String(t) => format!("value `{t}` of `{name}` is not a plain scalar (letters, digits, `. _ + - : /`)"),
                        _ => format!("a value of `{name}` is not a scalar"),
                    },
                    None,
                    None,
                ));
            }
            values.push(text);
        }
        if !used.contains(name) {
            return Err(at(
                &field,
                format!("variable `{name}` is never used"),
                Some(name.into()),
                Some(format!(
                    "write `${{{name}}}` where its value goes, e.g. `key: ${{{name}}}`"
                )),
            ));
        }
        vars.push((name.to_string(), values));
    }
    matrix_size(&vars, src.len(), limits, &positions)?;
    undefined_placeholders(src, &vars, &path_vars)?;
    Ok(Some(vars))
}

/// Refuses a matrix over `limits` before any variant is made: the product of the value counts (which
/// may overflow), and that product times the file's size (`src_len` bytes). The error points at `matrix`.
fn matrix_size(
    vars: &MatrixVars,
    src_len: usize,
    limits: MatrixLimits,
    positions: &Positions,
) -> Result<(), MatrixError> {
    // The number of variants, before any is made: a product over the value counts, which may overflow.
    let counts: Vec<u128> = vars.iter().map(|(_, v)| v.len() as u128).collect();
    let product = counts.iter().try_fold(1u128, |acc, &n| acc.checked_mul(n));
    let formula = if counts.len() <= 8 {
        counts
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" × ")
    } else {
        let first: Vec<String> = counts[..4].iter().map(|n| n.to_string()).collect();
        format!("{} × …, {} variables", first.join(" × "), counts.len())
    };
    let too_many = match product {
        None => Some(format!(
            "the matrix expands to more than {} variants ({formula}); at most {} are allowed",
            grouped(u128::MAX),
            grouped(limits.variants.into())
        )),
        Some(p) if p > u128::from(limits.variants) => Some(format!(
            "the matrix expands to {} variants ({formula}); at most {} are allowed",
            grouped(p),
            grouped(limits.variants.into())
        )),
        Some(p) if p.saturating_mul(src_len as u128) > u128::from(limits.bytes) => {
            Some(format!(
                "the matrix expands to {} variants of this {}-byte file ({} bytes of lab text); at most {} bytes are allowed",
                grouped(p),
                grouped(src_len as u128),
                grouped(p.saturating_mul(src_len as u128)),
                grouped(limits.bytes.into())
            ))
        }
        Some(_) => None,
    };
    if let Some(message) = too_many {
        return Err(MatrixError {
            pos: positions.key("matrix"),
            message,
            token: Some("matrix".into()),
            help: Some("split the lab into several files, or give fewer values".into()),
        });
    }
    Ok(())
}

/// Every `${...}` outside the matrix must name a matrix variable or a path variable (`path_vars`); the
/// error points at the first that does not.
fn undefined_placeholders(
    src: &str,
    vars: &MatrixVars,
    path_vars: &[String],
) -> Result<(), MatrixError> {
    let known: HashSet<&str> = vars
        .iter()
        .map(|(n, _)| n.as_str())
        .chain(path_vars.iter().map(String::as_str))
        .collect();
    // Any other `${...}` must name a matrix variable.
    for (line_no, line) in src.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(i) = rest.find("${") {
            let after = &rest[i + 2..];
            let name = after.split('}').next().unwrap_or("");
            if !known.contains(name) {
                return Err(MatrixError {
                    pos: Pos {
                        line: line_no + 1,
                        col: line[..offset + i].chars().count() + 1,
                    },
                    message: format!("`${{{name}}}` names no matrix variable (nor a path variable under `vars:`)"),
                    token: Some(format!("${{{name}}}")),
                    help: Some(format!(
                        "the matrix defines {}",
                        vars.iter()
                            .map(|(n, _)| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                });
            }
            offset += i + 2;
            rest = &rest[i + 2..];
        }
    }
    Ok(())
}

/// Parses `src` into `T`, with the positions of its nodes.
pub fn parse<T: DeserializeOwned>(src: &str) -> Result<(T, Positions), YamlError> {
    let positions = index(src)?;
    match serde_yaml::from_str::<T>(src) {
        Ok(v) => Ok((v, positions)),
        Err(e) => Err(shape_error(&e, &positions)),
    }
}

fn shape_error(e: &serde_yaml::Error, positions: &Positions) -> YamlError {
    let full = e.to_string();
    // serde_yaml appends " at line L column C"; we render positions ourselves.
    let without_loc = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full.clone(),
    };
    let (path, message) = match without_loc.split_once(": ") {
        Some((p, m)) if looks_like_path(p) => (Some(p.to_string()), m.to_string()),
        _ => (None, without_loc.clone()),
    };
    let unknown = unknown_name(&message);
    let pos = match e.location() {
        Some(l) => Pos {
            line: l.line(),
            col: l.column(),
        },
        None => path
            .as_deref()
            .map(|p| positions.value(p))
            .unwrap_or(Pos { line: 1, col: 1 }),
    };
    YamlError {
        pos,
        kind: YamlErrorKind::Shape {
            path,
            message,
            unknown,
        },
    }
}

fn looks_like_path(p: &str) -> bool {
    !p.is_empty() && !p.contains(' ') && p != "invalid type" && p != "unknown field"
}

/// `unknown field `x`, expected one of `a`, `b`` → ("x", ["a", "b"]); likewise for variants.
fn unknown_name(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (found, tail) = rest.split_once('`')?;
    let expected = tail
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((found.to_string(), expected))
}

fn to_pos(m: Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        seen: HashSet<String>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

#[derive(Default)]
struct Indexer {
    stack: Vec<Frame>,
    positions: Positions,
    error: Option<YamlError>,
    /// Documents started so far; only the first is indexed, a second is an error at its start.
    documents: usize,
}

impl Indexer {
    /// The path of the node that starts now, or `None` when it is a mapping key.
    fn node_path(&mut self, ev: &Event, pos: Pos) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, index }) => {
                let p = format!("{path}[{index}]");
                *index += 1;
                Some(p)
            }
            Some(Frame::Map { path, key, seen }) => match key.take() {
                Some(k) => Some(if path.is_empty() {
                    k
                } else {
                    format!("{path}.{k}")
                }),
                None => {
                    let k = match ev {
                        Event::Scalar(s, ..) => s.clone(),
                        _ => "?".to_string(),
                    };
                    let full = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if !seen.insert(k.clone()) && self.error.is_none() {
                        self.error = Some(YamlError {
                            pos,
                            kind: YamlErrorKind::DuplicateKey {
                                path: path.clone(),
                                key: k.clone(),
                            },
                        });
                    }
                    self.positions.keys.insert(full, pos);
                    *key = Some(k);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Indexer {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = to_pos(mark);
        if matches!(ev, Event::DocumentStart) {
            self.documents += 1;
            if self.documents == 2 && self.error.is_none() {
                self.error = Some(YamlError {
                    pos,
                    kind: YamlErrorKind::SecondDocument,
                });
            }
        }
        if self.documents > 1 {
            return;
        }
        match ev {
            Event::Scalar(..)
            | Event::Alias(_)
            | Event::MappingStart(..)
            | Event::SequenceStart(..) => {
                let Some(path) = self.node_path(&ev, pos) else {
                    return;
                };
                self.positions.values.entry(path.clone()).or_insert(pos);
                match ev {
                    Event::MappingStart(..) => self.stack.push(Frame::Map {
                        path,
                        key: None,
                        seen: HashSet::new(),
                    }),
                    Event::SequenceStart(..) => self.stack.push(Frame::Seq { path, index: 0 }),
                    _ => {}
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

fn index(src: &str) -> Result<Positions, YamlError> {
    let mut indexer = Indexer::default();
    let mut parser = Parser::new_from_str(src);
    if let Err(e) = parser.load(&mut indexer, true) {
        // libyaml (behind serde_yaml) words syntax errors the way most tools do; prefer its message.
        if let Err(se) = serde_yaml::from_str::<serde_yaml::Value>(src) {
            if let Some(l) = se.location() {
                let text = se.to_string();
                let msg = text
                    .rfind(" at line ")
                    .map_or(text.clone(), |i| text[..i].to_string());
                return Err(YamlError {
                    pos: Pos {
                        line: l.line(),
                        col: l.column(),
                    },
                    kind: YamlErrorKind::Syntax(msg),
                });
            }
        }
        return Err(YamlError {
            pos: to_pos(*e.marker()),
            kind: YamlErrorKind::Syntax(e.info().to_string()),
        });
    }
    match indexer.error {
        Some(e) => Err(e),
        None => Ok(indexer.positions),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_keys_and_items() {
        let src = "lab: x\ncases:\n  - name: a\n    client: { certificate: c }\n";
        let p = index(src).unwrap();
        assert_eq!(p.key("cases"), Pos { line: 2, col: 1 });
        assert_eq!(p.value("cases[0].name"), Pos { line: 3, col: 11 });
        assert_eq!(
            p.value("cases[0].client.certificate"),
            Pos { line: 4, col: 28 }
        );
        assert_eq!(p.value("cases[0].client.missing"), Pos { line: 4, col: 13 });
    }

    #[test]
    fn a_second_document_is_an_error_at_its_start() {
        let e = index("a: 1\nb: 2\n--- # next\nc: 3\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 3, col: 1 });
        assert_eq!(e.kind, YamlErrorKind::SecondDocument);
        let e = index("---\na: 1\n...\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 4, col: 1 });
        assert!(index("---\na: 1\n...\n").is_ok());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = index("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 3, col: 1 });
        assert!(matches!(e.kind, YamlErrorKind::DuplicateKey { .. }));
    }

    #[test]
    fn unknown_names_are_extracted() {
        let (found, expected) =
            unknown_name("unknown field `certficate`, expected one of `certificate`, `trust`")
                .unwrap();
        assert_eq!(found, "certficate");
        assert_eq!(expected, vec!["certificate", "trust"]);
    }
}
