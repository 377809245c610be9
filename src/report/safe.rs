//! What may leave mtls-lab: every report and the console go through here. [`redact_keys`] replaces PEM
//! private-key blocks (a program that prints its key) with [`KEY_REDACTED`] — for every format;
//! [`escape_controls`] writes control characters (from names, certificate subjects, program output) as
//! JSON escapes them, `\u001b`, so that none reaches a terminal or a TAP file raw — for the console and
//! TAP (JSON and XML escape on their own). [`redacted`] and [`cleaned`] apply them to every text of a run's
//! results.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::lab::Expectation;
use crate::run::LabResult;
use crate::tls::identity::Identity;

/// What a private key printed by a program becomes in the console and every report.
pub const KEY_REDACTED: &str = "[private key redacted]";

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";

/// If a PEM boundary's label starts at `s[at..]` (`LABEL-----`) and names a private key (`PRIVATE KEY`,
/// `RSA PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, `OPENSSH PRIVATE KEY`, ...), the index just after its
/// closing dashes.
fn private_key_label(s: &str, at: usize) -> Option<usize> {
    let rest = &s[at..];
    let close = rest.find(DASHES)?;
    let label = &rest[..close];
    let plain = label
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ');
    (plain && label.ends_with("PRIVATE KEY")).then_some(at + close + DASHES.len())
}

/// Whether `line` can be part of a PEM body: base64 (possibly after an output tail's `|` margin), or an
/// encrypted key's `Proc-Type:` / `DEK-Info:` header.
fn body_line(line: &str) -> bool {
    let t = line.trim_start();
    let t = t.strip_prefix('|').unwrap_or(t).trim();
    !t.is_empty()
        && (t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            || t.starts_with("Proc-Type:")
            || t.starts_with("DEK-Info:"))
}

/// Whether `line` is blank (possibly an output tail's margin alone).
fn blank_line(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t == "|"
}

/// The end of the body of an unterminated private key whose BEGIN boundary ends at `from`: the end of
/// the last body line of the lines that follow; `None` when no body line follows (a mere mention of the
/// boundary, as in "no `-----BEGIN PRIVATE KEY-----` block").
fn unterminated_body_end(s: &str, from: usize) -> Option<usize> {
    let first_newline = s[from..].find('\n')?;
    if !s[from..from + first_newline].trim().is_empty() {
        return None;
    }
    let mut pos = from + first_newline + 1;
    let mut end = None;
    while pos <= s.len() {
        let line_end = s[pos..].find('\n').map_or(s.len(), |i| pos + i);
        let line = &s[pos..line_end];
        if body_line(line) {
            end = Some(line_end);
        } else if !blank_line(line) {
            break;
        }
        if line_end == s.len() {
            break;
        }
        pos = line_end + 1;
    }
    end
}

/// The start of the base64 lines just before a lone END boundary at `at` (a key whose BEGIN was cut off
/// an output tail): the start of the earliest body line in the run ending at `at`'s line.
fn lone_end_start(s: &str, at: usize) -> usize {
    let line_start = s[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = &s[line_start..at];
    if !(blank_line(before) || body_line(before)) {
        return at;
    }
    let mut start = line_start;
    while start > 0 {
        let prev_start = s[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        let line = &s[prev_start..start - 1];
        if !body_line(line) {
            break;
        }
        start = prev_start;
    }
    if start == line_start && blank_line(before) {
        // No body before it: only the boundary itself goes.
        at
    } else {
        start
    }
}

/// `s` with every PEM private-key block replaced by [`KEY_REDACTED`]: `-----BEGIN … PRIVATE KEY-----`
/// through its `-----END …-----`; an unterminated block through its last base64 line; and a lone END
/// boundary (its BEGIN cut off an output tail) with the base64 lines before it.
pub fn redact_keys(s: &str) -> Cow<'_, str> {
    if !s.contains("PRIVATE KEY") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(i) = s[pos..].find(BEGIN).map(|i| pos + i) {
        let Some(label_end) = private_key_label(s, i + BEGIN.len()) else {
            out.push_str(&s[pos..i + BEGIN.len()]);
            pos = i + BEGIN.len();
            continue;
        };
        let end = s[label_end..]
            .find(END)
            .map(|j| label_end + j)
            .and_then(|j| {
                let close = s[j + END.len()..].find(DASHES)?;
                Some(j + END.len() + close + DASHES.len())
            })
            .or_else(|| unterminated_body_end(s, label_end));
        let Some(end) = end else {
            out.push_str(&s[pos..label_end]);
            pos = label_end;
            continue;
        };
        out.push_str(&s[pos..i]);
        out.push_str(KEY_REDACTED);
        pos = end;
    }
    out.push_str(&s[pos..]);
    // A lone END boundary of a private key.
    if !out.contains("PRIVATE KEY") {
        return Cow::Owned(out);
    }
    let s = out;
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(i) = s[pos..].find(END).map(|i| pos + i) {
        let Some(end) = private_key_label(&s, i + END.len()) else {
            out.push_str(&s[pos..i + END.len()]);
            pos = i + END.len();
            continue;
        };
        let start = lone_end_start(&s, i).max(pos);
        out.push_str(&s[pos..start]);
        out.push_str(KEY_REDACTED);
        pos = end;
    }
    out.push_str(&s[pos..]);
    Cow::Owned(out)
}

/// `s` with every control character but newline and tab (C0, DEL, C1: escape sequences among them)
/// written as JSON writes it, `\u001b`.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` as the console and TAP print it: private keys redacted, control characters escaped.
pub fn clean(s: &str) -> Cow<'_, str> {
    match redact_keys(s) {
        Cow::Borrowed(b) => escape_controls(b),
        Cow::Owned(o) => Cow::Owned(escape_controls(&o).into_owned()),
    }
}

/// The results with private keys redacted from every text: what every report is made of.
pub fn redacted(results: &[LabResult]) -> Vec<LabResult> {
    map_texts(results, &redact_keys)
}

/// The results with private keys redacted and control characters escaped in every text: what the
/// console and TAP print.
pub fn cleaned(results: &[LabResult]) -> Vec<LabResult> {
    map_texts(results, &clean)
}

type TextFn = dyn for<'a> Fn(&'a str) -> Cow<'a, str>;

fn fix(s: &mut String, f: &TextFn) {
    if let Cow::Owned(o) = f(s) {
        *s = o;
    }
}

fn fix_all<'a>(texts: impl IntoIterator<Item = &'a mut String>, f: &TextFn) {
    for s in texts {
        fix(s, f);
    }
}

fn fix_identity(id: &mut Identity, f: &TextFn) {
    fix(&mut id.subject, f);
    fix(&mut id.issuer, f);
    fix(&mut id.serial, f);
    fix_all(
        id.common_name
            .iter_mut()
            .chain(id.organization.iter_mut())
            .chain(id.unit.iter_mut())
            .chain(id.san.iter_mut()),
        f,
    );
}

/// A copy of `results` with `f` applied to every text a report or the console prints.
fn map_texts(results: &[LabResult], f: &TextFn) -> Vec<LabResult> {
    let mut out = results.to_vec();
    for lab in &mut out {
        let file = lab.file.to_string_lossy().into_owned();
        if let Cow::Owned(o) = f(&file) {
            lab.file = PathBuf::from(o);
        }
        fix(&mut lab.lab, f);
        fix_all(lab.error.iter_mut(), f);
        for c in &mut lab.checks {
            fix(&mut c.name, f);
            fix(&mut c.certificate, f);
            fix_all(c.messages.iter_mut(), f);
            fix_all(
                c.properties.iter_mut().filter_map(|p| p.message.as_mut()),
                f,
            );
        }
        for c in &mut lab.cases {
            fix(&mut c.name, f);
            fix_all(c.messages.iter_mut(), f);
            // A derived case names its written case and the peer under test (the battery matrix).
            if let Some(d) = &mut c.derived {
                fix(&mut d.of, f);
                fix(&mut d.peer, f);
                fix_all(d.skipped.iter_mut(), f);
            }
            let x = &mut c.context;
            fix(&mut x.server, f);
            fix(&mut x.server_certificate, f);
            fix(&mut x.server_name, f);
            fix(&mut x.verification_time, f);
            fix_all(
                x.client_certificate
                    .iter_mut()
                    .chain(x.server_address.iter_mut())
                    .chain(x.client_trusts.iter_mut())
                    .chain(x.server_trusts.iter_mut()),
                f,
            );
            if let Expectation::Accepted {
                server_saw: Some(s),
                ..
            } = &mut c.expected
            {
                fix_all(
                    s.common_name
                        .iter_mut()
                        .chain(s.organization.iter_mut())
                        .chain(s.unit.iter_mut())
                        .chain(s.san.iter_mut()),
                    f,
                );
            }
            if let Some(o) = &mut c.observed {
                fix_all(
                    o.detail
                        .iter_mut()
                        .chain(o.alert_sent.iter_mut())
                        .chain(o.alert.iter_mut())
                        .chain(o.tls_version.iter_mut()),
                    f,
                );
                for id in o.server_saw.iter_mut().chain(o.client_saw.iter_mut()) {
                    fix_identity(id, f);
                }
            }
            if let Some(e) = &mut c.explanation {
                fix(&mut e.what, f);
                fix(&mut e.fix, f);
                fix_all(e.certificate.iter_mut(), f);
            }
            let chains = &mut c.context.chains;
            fix_all(chains.program_output.iter_mut(), f);
            fix_all(chains.ca_names.iter_mut().flatten(), f);
            fix_all(chains.hello.iter_mut().flat_map(|h| h.sni.iter_mut()), f);
            for p in chains.server.iter_mut().chain(chains.client.iter_mut()) {
                fix(&mut p.name, f);
                if let Some(s) = &mut p.summary {
                    fix(&mut s.subject, f);
                    fix(&mut s.issuer, f);
                    fix_all(s.sans.iter_mut(), f);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\nabc+/=\n-----END PRIVATE KEY-----";

    #[test]
    fn a_key_block_is_redacted_and_the_rest_kept() {
        let s = format!("its output (last 4 lines):\n{KEY}\ndone");
        assert_eq!(
            redact_keys(&s),
            format!("its output (last 4 lines):\n{KEY_REDACTED}\ndone")
        );
        let rsa = KEY.replace("PRIVATE KEY", "RSA PRIVATE KEY");
        assert_eq!(
            redact_keys(&format!("a {rsa} b")),
            format!("a {KEY_REDACTED} b")
        );
        // In a tail's margin, and JSON-escaped on one line.
        let tail = format!("out:\n  | {}", KEY.replace('\n', "\n  | "));
        assert_eq!(redact_keys(&tail), format!("out:\n  | {KEY_REDACTED}"));
        let escaped = KEY.replace('\n', "\\n");
        assert_eq!(redact_keys(&escaped), KEY_REDACTED);
    }

    #[test]
    fn unterminated_and_cut_blocks_are_redacted_but_a_mention_is_kept() {
        let head = "x\n-----BEGIN EC PRIVATE KEY-----\n  | MIGHAgEAMBMG\n  | ByqGSM49";
        assert_eq!(redact_keys(head), format!("x\n{KEY_REDACTED}"));
        let cut =
            "its output:\n  | MIGHAgEAMBMG\n  | ByqGSM49\n  | -----END PRIVATE KEY-----\n  | bye";
        assert_eq!(
            redact_keys(cut),
            format!("its output:\n{KEY_REDACTED}\n  | bye")
        );
        let mention =
            "key.pem: not a PEM private key: no `-----BEGIN PRIVATE KEY-----` (or RSA / EC) block";
        assert_eq!(redact_keys(mention), mention);
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(redact_keys(cert), cert);
    }

    #[test]
    fn control_characters_are_escaped_as_json_does() {
        assert_eq!(
            escape_controls("a\u{1b}[31mb\tc\nd\u{7f}\u{9b}\r\0"),
            "a\\u001b[31mb\tc\nd\\u007f\\u009b\\u000d\\u0000"
        );
        assert!(matches!(escape_controls("plain › text"), Cow::Borrowed(_)));
    }
}
