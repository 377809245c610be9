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

fn observed_text(o: &Observed) -> String {
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
    let results = &super::safe::cleaned(results);
    let mut out = String::new();
    for lab in results {
        lab_lines(&mut out, lab, explain_all, style);
    }
    out.push_str(&super::battery::table(&super::battery::matrix(results)));
    summary(&mut out, results);
    out
}

/// A lab's lines: its error, then each check and case with the details of those not passed.
fn lab_lines(out: &mut String, lab: &LabResult, explain_all: bool, style: &dyn Style) {
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
