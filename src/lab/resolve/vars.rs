//! `${NAME}` path variables and `from:` sources: substitution, paths relative to the lab file, labels for messages.

use std::path::{Path, PathBuf};

use super::Resolver;
use crate::lab::error::{LoadError, Problem};
use crate::lab::Source;
use crate::spec;

impl Resolver<'_> {
    /// `text` with each `${NAME}` path variable replaced by `value(VALUE)`.
    pub(super) fn substitute(
        &self,
        field: &str,
        text: &str,
        value: impl Fn(&str) -> String,
    ) -> Result<String, Box<LoadError>> {
        let mut resolved = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            resolved.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('}') else {
                return Err(self.invalid(field, text, Problem::UnclosedVariable));
            };
            let name = &rest[i + 2..i + j];
            let Some(v) = self.vars.get(name) else {
                let mut e = self.invalid(
                    field,
                    text,
                    Problem::UnsetVariable {
                        name: name.to_string(),
                    },
                );
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
    pub(super) fn command_value(&self, v: &str) -> String {
        let base = self.path.parent().unwrap_or(Path::new("."));
        let p = base.join(v);
        let p = std::path::absolute(&p).unwrap_or(p);
        p.display()
            .to_string()
            .replace('{', "{{")
            .replace('}', "}}")
    }

    /// Resolves the paths of a `from`.
    pub(super) fn source(&self, field: &str, f: &spec::FromSpec) -> Result<Source, Box<LoadError>> {
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
    pub(super) fn path(
        &self,
        field: &str,
        written: &str,
    ) -> Result<(PathBuf, String), Box<LoadError>> {
        let resolved = self.substitute(field, written, |v| v.to_string())?;
        if resolved.trim().is_empty() {
            return Err(self.invalid(field, written, Problem::EmptyPath));
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
}
