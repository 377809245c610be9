//! Renders input errors like rustc and Hurl: `file:line:col`, the source line, a caret under the token, a help line.

use std::fmt::Write;

use crate::lab::{LoadError, LoadErrors};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// Anything that points into a lab file.
#[derive(Debug, Clone)]
pub struct Diagnostic<'a> {
    pub severity: Severity,
    pub file: &'a std::path::Path,
    pub pos: Option<crate::lab::Pos>,
    pub message: String,
    pub token: Option<&'a str>,
    pub help: Option<&'a str>,
    pub source: Option<&'a str>,
}

/// The full multi-line rendering of a load error, without colour.
pub fn render(e: &LoadError) -> String {
    render_diagnostic(&Diagnostic {
        severity: Severity::Error,
        file: &e.file,
        pos: e.pos,
        message: e.error.to_string(),
        token: e.token.as_deref(),
        help: e.help.as_deref(),
        source: e.source.as_deref(),
    })
}

/// Every error of a file, rendered as [`render`] does, one after the other in the order found.
pub fn render_all(errors: &LoadErrors) -> String {
    errors.iter().map(render).collect()
}

/// Renders any diagnostic like rustc.
pub fn render_diagnostic(d: &Diagnostic) -> String {
    let label = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!("{label}: {}\n", d.message);
    let file = d.file.display();
    let Some(pos) = d.pos else {
        let _ = writeln!(out, "  --> {file}");
        if let Some(h) = &d.help {
            let _ = writeln!(out, "   = help: {h}");
        }
        return out;
    };
    let line_text = d
        .source
        .and_then(|s| s.lines().nth(pos.line.saturating_sub(1)))
        .map(|l| l.replace('\t', " "));
    let gutter = pos.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {file}:{}:{}", pos.line, pos.col);
    if let Some(text) = line_text {
        let (start, len) = underline(&text, pos.col, d.token);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{} | {}", pos.line, text.trim_end());
        let _ = writeln!(
            out,
            "{pad} | {}{}",
            " ".repeat(start),
            "^".repeat(len.max(1))
        );
    }
    if let Some(h) = &d.help {
        let _ = writeln!(out, "{pad} = help: {h}");
    }
    out
}

/// Where to underline on `text` (0-based char column and length): the token if it occurs at or after `col`, else one caret at `col`.
fn underline(text: &str, col: usize, token: Option<&str>) -> (usize, usize) {
    let start = col.saturating_sub(1).min(text.chars().count());
    if let Some(tok) = token.filter(|t| !t.is_empty()) {
        let byte_start = text
            .char_indices()
            .nth(start)
            .map_or(text.len(), |(b, _)| b);
        if let Some(found) = text[byte_start..].find(tok) {
            let char_at = text[..byte_start + found].chars().count();
            return (char_at, tok.chars().count());
        }
        if let Some(found) = text.find(tok) {
            return (text[..found].chars().count(), tok.chars().count());
        }
    }
    // Underline the scalar at `col`: up to the next delimiter.
    let rest: String = text.chars().skip(start).collect();
    let len = rest.find([',', '}', ']', '#']).unwrap_or(rest.len());
    (start, rest[..len].trim_end().chars().count().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underline_prefers_the_token() {
        assert_eq!(
            underline("    client: { certificate: clinet }", 5, Some("clinet")),
            (27, 6)
        );
        assert_eq!(underline("  key: rsa1024", 8, None), (7, 7));
    }
}
