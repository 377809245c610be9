//! The console report: one line per check and case (status word, lab › name, what happened, points),
//! the details of failures with their explanation, and the totals. A [`Style`] marks the status
//! words; the binary colours them on a terminal, [`Plain`] leaves them as files get them.

use std::fmt::Write as _;

use super::{points, points_text, totals};
use crate::reason::Reason;
use crate::reason::{Outcome, Side};
use crate::run::{CaseResult, CheckResult, Grade, LabResult, Status};
use crate::verdict::{expectation_summary, Observed};

/// How the console prints the status word that starts a check's or a case's line.
pub trait Style {
    /// `word` (`PASS `, `FAIL `, `ERROR` or `SKIP `, padded to five columns), the word of `status`,
    /// as printed. It must print as `word` does, so that columns line up.
    fn tag(&self, status: Status, word: &str) -> String;
}

/// The status words as they are: for files, pipes and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Style for Plain {
    fn tag(&self, _: Status, word: &str) -> String {
        word.to_string()
    }
}

/// The status word of a line, padded to five columns, as `style` prints it.
fn tag(status: Status, style: &dyn Style) -> String {
    let word = match status {
        Status::Passed => "PASS ",
        Status::Failed => "FAIL ",
        Status::Error => "ERROR",
        Status::Skipped => "SKIP ",
    };
    style.tag(status, word)
}

/// The console line of a check, its status word marked by `style`.
pub fn check_line(lab: &LabResult, check: &CheckResult, style: &dyn Style) -> String {
    let what = match check.status {
        _ if check.grade.hidden => "(hidden)".to_string(),
        Status::Skipped | Status::Error => check.messages.first().cloned().unwrap_or_default(),
        Status::Passed => format!(
            "`{}`: {} properties hold",
            check.certificate,
            check.properties.len()
        ),
        Status::Failed => format!(
            "`{}`: {} problem(s)",
            check.certificate,
            check.messages.len()
        ),
    };
    format!(
        "{} {} › {}: {what}{}",
        tag(check.status, style),
        lab.lab,
        check.name,
        points_suffix(lab, &check.grade)
    )
}

fn points_suffix(lab: &LabResult, g: &Grade) -> String {
    if !lab.graded {
        return String::new();
    }
    if g.max_points == 0.0 && g.points == 0.0 {
        return " [0 points]".into();
    }
    format!(
        " [{}/{} points]",
        points_text(g.points),
        points_text(g.max_points)
    )
}

/// The console line of one case, its status word marked by `style`, e.g.
/// `PASS seed-mtls › no client certificate: rejected by server: certificate_required`.
pub fn case_line(lab: &LabResult, case: &CaseResult, style: &dyn Style) -> String {
    let what = match &case.observed {
        _ if case.grade.hidden => "(hidden)".to_string(),
        Some(o) => observed_text(o),
        None if case.status == Status::Skipped => {
            case.messages.first().cloned().unwrap_or_default()
        }
        None => "not run".to_string(),
    };
    format!(
        "{} {} › {}: {what}{}",
        tag(case.status, style),
        lab.lab,
        case.name,
        points_suffix(lab, &case.grade)
    )
}

/// What was observed, as a case's line says it: the verdict, then the TLS version and the identity the
/// server saw, or the alert the other side received.
pub(crate) fn observed_text(o: &Observed) -> String {
    let mut s = o.summary();
    match o.outcome {
        Outcome::Accepted => {
            let mut extra = Vec::new();
            if let Some(v) = &o.tls_version {
                extra.push(v.clone());
            }
            match (&o.server_saw, o.external) {
                (_, Some(Side::Server)) => {}
                (Some(id), _) => extra.push(format!("server saw {}", id.short())),
                (None, _) => extra.push("server saw no client certificate".into()),
            }
            let _ = write!(s, " ({})", extra.join("; "));
        }
        Outcome::ProgramError | Outcome::Undecided => {
            if let Some(d) = &o.detail {
                let _ = write!(s, ": {d}");
            }
        }
        Outcome::Rejected => {
            let other = match o.by {
                Some(Side::Server) => "client",
                _ => "server",
            };
            match (&o.alert, o.reason.is_some_and(Reason::is_transport)) {
                (_, true) => {}
                (Some(a), _) => {
                    let _ = write!(s, " ({other} received alert {a})");
                }
                (None, _) => {
                    if let Some(a) = &o.alert_sent {
                        // What an external program saw is not observable.
                        if o.external.is_some() {
                            let _ = write!(s, " (alert {a} sent)");
                        } else {
                            let _ =
                                write!(s, " (alert {a} sent; {other} saw the connection close)");
                        }
                    }
                }
            }
        }
    }
    s
}

/// The lines under a failed or errored case: where it is, expected, observed, each difference.
pub fn case_details(lab: &LabResult, case: &CaseResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "      --> {}:{}", lab.file.display(), case.line);
    if case.status == Status::Error {
        for m in &case.messages {
            let _ = writeln!(out, "      error: {}", indent_continuation(m));
        }
        return out;
    }
    if case.observed.is_none() {
        let _ = writeln!(
            out,
            "      expected: {}",
            expectation_summary(&case.expected)
        );
        for m in &case.messages {
            let _ = writeln!(out, "      - {}", indent_continuation(m));
        }
        return out;
    }
    let expected = expectation_summary(&case.expected);
    let _ = writeln!(out, "      expected: {expected}");
    let mut outcome_differs = false;
    if let Some(o) = &case.observed {
        outcome_differs = o.summary() != expected;
        let _ = writeln!(out, "      observed: {}", observed_text(o));
        if let Some(d) = &o.detail {
            let _ = writeln!(out, "      detail:   {d}");
        }
    }
    // When the outcome itself differs, the first message only repeats the two lines above.
    for m in case.messages.iter().skip(usize::from(outcome_differs)) {
        let _ = writeln!(out, "      - {}", indent_continuation(m));
    }
    out
}

/// A multi-line message (a program's output tail) with its later lines indented under the first.
fn indent_continuation(m: &str) -> String {
    m.replace('\n', "\n        ")
}

/// The whole console report, plain, ending with `N passed, N failed`.
pub fn console(results: &[LabResult]) -> String {
    console_with(results, false, &Plain)
}

/// The explanation lines of a case: what happened and the usual fix.
pub fn explanation_lines(case: &CaseResult) -> String {
    match &case.explanation {
        Some(e) => format!("      why:      {}\n      fix:      {}\n", e.what, e.fix),
        None => String::new(),
    }
}

/// The console report, status words marked by `style`; with `explain_all`, explanations also under
/// passing rejected cases (failed ones always have them).
///
/// Private keys a program printed are redacted, and control characters (from names, certificate
/// subjects, program output) escaped, before anything is printed.
pub fn console_with(results: &[LabResult], explain_all: bool, style: &dyn Style) -> String {
    console_traced(results, explain_all, false, style)
}

/// [`console_with`], with the readable trace of every case under its line when `trace`
/// ([`trace_lines`]: `run --trace`, `-v`).
pub fn console_traced(
    results: &[LabResult],
    explain_all: bool,
    trace: bool,
    style: &dyn Style,
) -> String {
    let results = &super::safe::cleaned(results);
    let mut out = String::new();
    for lab in results {
        lab_lines(&mut out, lab, explain_all, trace, style);
    }
    out.push_str(&super::battery::table(&super::battery::matrix(results)));
    summary(&mut out, results);
    out
}

/// The handshake of a case as a learner reads it, one message a line with who sent it: the client's
/// ClientHello (SNI, versions, ALPN), the ServerHello's version, the server's CertificateRequest with its
/// CA names, each side's Certificate chain by subject and issuer, the alert the refusing side sent and
/// whether the other side received it, then the external program's last output lines. What a program
/// sends is its own: the lab's configuration of a built-in side is what that side sends.
pub fn trace_lines(case: &CaseResult) -> String {
    let Some(o) = &case.observed else {
        return String::new();
    };
    let c = &case.context.chains;
    let mut out = String::from("      trace:\n");
    let mut line = |from: &str, what: String| {
        let _ = writeln!(out, "        {from:<16} {}", indent_by(&what));
    };
    const C2S: &str = "client → server";
    const S2C: &str = "server → client";
    match &c.hello {
        Some(h) => line(
            C2S,
            format!(
                "ClientHello: SNI {}; versions {}; {}",
                match h.sni.as_deref() {
                    Some(s) => format!("`{s}`"),
                    None if case.context.server_name.parse::<std::net::IpAddr>().is_ok() => {
                        "none (an IP address is not sent)".to_string()
                    }
                    None => "none (`sni: false`)".to_string(),
                },
                h.versions.join(", "),
                if h.alpn.is_empty() {
                    "no ALPN".to_string()
                } else {
                    format!("ALPN {}", h.alpn.join(", "))
                }
            ),
        ),
        None => line(C2S, "ClientHello: the client program's own".into()),
    }
    let alert = |o: &Observed| {
        let (from, other) = match o.by {
            Some(Side::Server) => (S2C, "client"),
            _ => (C2S, "server"),
        };
        let what = match (o.alert_sent.as_deref(), o.alert.as_deref()) {
            (Some(sent), Some(a)) if a == sent => format!("Alert {sent} (the {other} received it)"),
            (Some(sent), Some(a)) => format!("Alert {sent} (the {other} received {a})"),
            (Some(sent), None) if o.external.is_some() => {
                format!("Alert {sent} (what the {other} program saw is its own)")
            }
            (Some(sent), None) => format!("Alert {sent} (the {other} saw the connection close)"),
            // A program's own alert: known only as the other side received it.
            (None, Some(a)) => format!("Alert {a} (as the {other} received it)"),
            (None, None) => format!("no alert seen; the {other} saw the connection close"),
        };
        (from, what)
    };
    let rejected_by = |side: Side| o.outcome == Outcome::Rejected && o.by == Some(side);
    if let Some(r) = o.reason.filter(|r| r.is_transport()) {
        line("connection", format!("{}: no TLS verdict", r.code()));
        return with_output(out, c);
    }
    let negotiation = matches!(
        o.reason,
        Some(Reason::ProtocolVersion) | Some(Reason::HandshakeFailure)
    );
    if negotiation {
        let (from, what) = alert(o);
        line(from, what);
        return with_output(out, c);
    }
    line(
        S2C,
        format!(
            "ServerHello: {}",
            match (&o.tls_version, &c.only_version) {
                (Some(v), _) => v.clone(),
                (None, Some(v)) => format!("{v} (the one version both sides allow)"),
                (None, None) => "version not recorded (the handshake did not complete)".into(),
            }
        ),
    );
    let request = c.ca_names.as_ref().map(|names| {
        format!(
            "CertificateRequest: CA names {}",
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join("; ")
            }
        )
    });
    let certificate = format!("Certificate: {}", chain_text(&c.server));
    // TLS 1.3 sends the CertificateRequest before the server's Certificate; TLS 1.2 after it.
    if o.tls_version
        .as_ref()
        .or(c.only_version.as_ref())
        .map(String::as_str)
        == Some("TLSv1.2")
    {
        line(S2C, certificate);
        if let Some(r) = request {
            line(S2C, r);
        }
    } else {
        if let Some(r) = request {
            line(S2C, r);
        }
        line(S2C, certificate);
    }
    if rejected_by(Side::Client) {
        let (from, what) = alert(o);
        line(from, what);
        return with_output(out, c);
    }
    if c.ca_names.is_some() || !c.client.is_empty() {
        line(
            C2S,
            format!(
                "Certificate: {}",
                if c.client.is_empty() {
                    "none (empty)".to_string()
                } else {
                    chain_text(&c.client)
                }
            ),
        );
    }
    if rejected_by(Side::Server) {
        let (from, what) = alert(o);
        line(from, what);
    } else if o.outcome == Outcome::Accepted {
        line(
            "both",
            format!(
                "handshake complete{}",
                o.http_status
                    .map_or(String::new(), |s| format!("; GET / answered {s}"))
            ),
        );
    }
    with_output(out, c)
}

/// A chain as the trace prints it: each certificate's subject and issuer, one a line.
fn chain_text(chain: &[crate::run::Presented]) -> String {
    chain
        .iter()
        .enumerate()
        .map(|(i, p)| match &p.summary {
            Some(s) => format!("[{i}] `{}`: {} (issued by {})", p.name, s.subject, s.issuer),
            None => format!("[{i}] `{}` (could not be read)", p.name),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `out` with the external program's output lines appended.
fn with_output(mut out: String, c: &crate::run::Chains) -> String {
    if !c.program_output.is_empty() {
        let _ = writeln!(
            out,
            "        program output (last {} lines):",
            c.program_output.len()
        );
        for l in &c.program_output {
            let _ = writeln!(out, "          | {l}");
        }
    }
    out
}

/// Later lines of `s` (a chain) aligned under the first certificate: after the margin (8), the
/// sender column (17) and `Certificate: ` (13).
fn indent_by(s: &str) -> String {
    s.replace('\n', &format!("\n{}", " ".repeat(8 + 17 + 13)))
}

/// A lab's lines: its error, then each check and case with the details of those not passed.
fn lab_lines(out: &mut String, lab: &LabResult, explain_all: bool, trace: bool, style: &dyn Style) {
    if let Some(e) = &lab.error {
        let _ = writeln!(
            out,
            "{} {} ({}): {e}",
            style.tag(Status::Error, "ERROR"),
            lab.lab,
            lab.file.display()
        );
    }
    for check in &lab.checks {
        let _ = writeln!(out, "{}", check_line(lab, check, style));
        let details = check.status == Status::Failed
            || (check.status == Status::Error && lab.error.is_none());
        if details && !check.grade.hidden {
            let _ = writeln!(out, "      --> {}:{}", lab.file.display(), check.line);
            for m in &check.messages {
                let _ = writeln!(out, "      - {m}");
            }
        }
    }
    for case in &lab.cases {
        let _ = writeln!(out, "{}", case_line(lab, case, style));
        if case.grade.hidden || case.status == Status::Skipped {
            continue;
        }
        if trace {
            out.push_str(&trace_lines(case));
        }
        if case.status != Status::Passed && lab.error.is_none() {
            out.push_str(&case_details(lab, case));
            out.push_str(&explanation_lines(case));
        } else if explain_all {
            out.push_str(&explanation_lines(case));
        }
    }
}

/// The totals: cases that could not run, the score of graded labs, passed and failed (and skipped).
fn summary(out: &mut String, results: &[LabResult]) {
    let t = totals(results);
    if t.errors > 0 {
        let _ = writeln!(
            out,
            "{} case(s) could not run (counted as failed)",
            t.errors
        );
    }
    if results.iter().any(|r| r.graded) {
        let (p, m) = points(results);
        let _ = writeln!(
            out,
            "score: {} of {} points",
            points_text(p),
            points_text(m)
        );
    }
    if t.skipped > 0 {
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} skipped",
            t.passed,
            t.failed + t.errors,
            t.skipped
        );
    } else {
        let _ = writeln!(out, "{} passed, {} failed", t.passed, t.failed + t.errors);
    }
}
