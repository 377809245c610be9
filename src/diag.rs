//! Renders input errors like rustc and Hurl: `file:line:col`, the source line, a caret under the token, a help line.

use std::fmt::Write;

use crate::lab::LoadError;

/// The full multi-line rendering of `e`, without colour.
pub fn render(e: &LoadError) -> String {
    let mut out = format!("error: {}\n", e.error);
    let file = e.file.display();
    let Some(pos) = e.pos else {
        let _ = writeln!(out, "  --> {file}");
        if let Some(h) = &e.help {
            let _ = writeln!(out, "   = help: {h}");
        }
        return out;
    };
    let line_text = e
        .source
        .as_deref()
        .and_then(|s| s.lines().nth(pos.line.saturating_sub(1)))
        .map(|l| l.replace('\t', " "));
    let gutter = pos.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {file}:{}:{}", pos.line, pos.col);
    if let Some(text) = line_text {
        let (start, len) = underline(&text, pos.col, e.token.as_deref());
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{} | {}", pos.line, text.trim_end());
        let _ = writeln!(
            out,
            "{pad} | {}{}",
            " ".repeat(start),
            "^".repeat(len.max(1))
        );
    }
    if let Some(h) = &e.help {
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
