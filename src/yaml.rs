//! The only module that parses YAML: serde_yaml for the typed value, yaml-rust2 events for line and column of every key and value.
//!
//! serde_yaml is deprecated upstream; moving to a maintained fork changes this file only.

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

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
    /// Valid YAML of the wrong shape: unknown field, wrong type, missing field.
    Shape {
        /// Where in the document, as serde_yaml reports it (`cases[0].client`), if known.
        path: Option<String>,
        message: String,
        /// For an unknown field or variant: the name found and the names allowed.
        unknown: Option<(String, Vec<String>)>,
    },
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
