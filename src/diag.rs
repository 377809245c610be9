//! Renders input errors like rustc and Hurl: `file:line:col`, the source line, a caret under the token, a help line.
//! A leaf: the stages describe their errors as [`Diagnostic`]s (e.g. `lab::LoadError::render`).

use std::fmt::Write;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

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
    pub pos: Option<Pos>,
    pub message: String,
    pub token: Option<&'a str>,
    pub help: Option<&'a str>,
    pub source: Option<&'a str>,
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
    // The header's column is where the caret goes: the token's, when it names a key or value found
    // elsewhere on the line than the node's own position.
    let under = line_text
        .as_ref()
        .map(|text| underline(text, pos.col, d.token));
    let col = under.map_or(pos.col, |(start, _)| start + 1);
    let _ = writeln!(out, "{pad}--> {file}:{}:{col}", pos.line);
    if let (Some(text), Some((start, len))) = (line_text, under) {
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
        // The node is a key's value (`name: {…}`) and the token is that key: underline the key.
        let before = text[..byte_start].trim_end();
        if let Some(key) = before
            .strip_suffix(':')
            .map(str::trim_end)
            .filter(|k| k.ends_with(tok))
        {
            let at = key.len() - tok.len();
            let boundary = key[..at]
                .chars()
                .last()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'));
            if boundary {
                return (key[..at].chars().count(), tok.chars().count());
            }
        }
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
