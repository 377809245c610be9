//! Output of a run: one console line per case with the details of failures, the summary line, and the JSON report;
//! the CI formats live in submodules.

mod classroom;
mod gradescope;
mod junit;
mod tap;

pub use classroom::classroom;
pub use gradescope::gradescope;
pub use junit::junit;
pub use tap::tap;

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::lab::Expectation;
use crate::lab::IdentitySpec;
use crate::reason::Reason;
use crate::reason::{Outcome, Side};
use crate::run::{CaseResult, CheckResult, Grade, LabResult, Status};
use crate::verdict::{expectation_summary, Observed};

/// Totals over all labs.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

/// Counts of cases and checks by status.
pub fn totals(results: &[LabResult]) -> Totals {
    let mut t = Totals::default();
    for r in results {
        t.passed += r.count(Status::Passed);
        t.failed += r.count(Status::Failed);
        t.errors += r.count(Status::Error);
        t.skipped += r.count(Status::Skipped);
    }
    t
}

/// Points earned and counted maximum over every lab.
pub fn points(results: &[LabResult]) -> (f64, f64) {
    let (mut p, mut m) = (0.0, 0.0);
    for r in results {
        let (a, b) = r.points();
        p += a;
        m += b;
    }
    (crate::run::round_points(p), crate::run::round_points(m))
}

/// Points as people write them: `2`, `2.5`.
pub fn points_text(p: f64) -> String {
    let r = crate::run::round_points(p);
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

/// A check or a case, the way every report lists them: a lab's checks first, then its cases, each in file order.
pub struct Item<'a> {
    pub name: &'a str,
    pub line: usize,
    pub status: Status,
    pub grade: &'a Grade,
    pub messages: &'a [String],
    pub check: Option<&'a CheckResult>,
    pub case: Option<&'a CaseResult>,
}

impl Item<'_> {
    /// The handshake's duration (0 for a check or a case not run).
    pub fn duration_ms(&self) -> u64 {
        self.case
            .and_then(|c| c.observed.as_ref())
            .map_or(0, |o| o.duration_ms)
    }
}

/// The results with every detail shown, hidden items included (`--show-hidden`).
pub fn instructor_view(results: &[LabResult]) -> Vec<LabResult> {
    let mut out = results.to_vec();
    for lab in &mut out {
        for c in &mut lab.checks {
            c.grade.hidden = false;
        }
        for c in &mut lab.cases {
            c.grade.hidden = false;
        }
    }
    out
}

/// A lab's checks and cases, in report order.
pub fn items(lab: &LabResult) -> Vec<Item<'_>> {
    let checks = lab.checks.iter().map(|c| Item {
        name: &c.name,
        line: c.line,
        status: c.status,
        grade: &c.grade,
        messages: &c.messages,
        check: Some(c),
        case: None,
    });
    let cases = lab.cases.iter().map(|c| Item {
        name: &c.name,
        line: c.line,
        status: c.status,
        grade: &c.grade,
        messages: &c.messages,
        check: None,
        case: Some(c),
    });
    checks.chain(cases).collect()
}

/// The results as students may see them: hidden checks and cases keep only their name, status and points.
pub fn student_view(results: &[LabResult]) -> Vec<LabResult> {
    let mut out = results.to_vec();
    for lab in &mut out {
        for c in lab.checks.iter_mut().filter(|c| c.grade.hidden) {
            c.messages.clear();
            c.properties.clear();
            c.grade.parts.clear();
        }
        for c in lab.cases.iter_mut().filter(|c| c.grade.hidden) {
            c.messages.clear();
            c.observed = None;
            c.explanation = None;
            c.grade.parts.clear();
        }
    }
    out
}

fn tag(status: Status) -> &'static str {
    match status {
        Status::Passed => "PASS ",
        Status::Failed => "FAIL ",
        Status::Error => "ERROR",
        Status::Skipped => "SKIP ",
    }
}

/// The console line of a check.
pub fn check_line(lab: &LabResult, check: &CheckResult) -> String {
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
        tag(check.status),
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

/// The console line of one case, e.g. `PASS seed-mtls › no client certificate: rejected by server: certificate_required`.
pub fn case_line(lab: &LabResult, case: &CaseResult) -> String {
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
        tag(case.status),
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

/// The whole console report, ending with `N passed, N failed`.
pub fn console(results: &[LabResult]) -> String {
    console_with(results, false)
}

/// The explanation lines of a case: what happened and the usual fix.
pub fn explanation_lines(case: &CaseResult) -> String {
    match &case.explanation {
        Some(e) => format!("      why:      {}\n      fix:      {}\n", e.what, e.fix),
        None => String::new(),
    }
}

/// The console report; with `explain_all`, explanations also under passing rejected cases (failed ones always have them).
pub fn console_with(results: &[LabResult], explain_all: bool) -> String {
    let mut out = String::new();
    for lab in results {
        if let Some(e) = &lab.error {
            let _ = writeln!(out, "ERROR {} ({}): {e}", lab.lab, lab.file.display());
        }
        for check in &lab.checks {
            let _ = writeln!(out, "{}", check_line(lab, check));
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
            let _ = writeln!(out, "{}", case_line(lab, case));
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
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    tool: &'static str,
    summary: JsonSummary,
    labs: Vec<JsonLab<'a>>,
}

#[derive(Serialize)]
struct JsonSummary {
    #[serde(flatten)]
    totals: Totals,
    points: f64,
    max_points: f64,
}

#[derive(Serialize)]
struct JsonLab<'a> {
    file: String,
    lab: &'a str,
    error: Option<&'a str>,
    duration_ms: u64,
    points: f64,
    max_points: f64,
    checks: Vec<JsonCheck<'a>>,
    cases: Vec<JsonCase<'a>>,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    name: &'a str,
    line: usize,
    status: Status,
    certificate: &'a str,
    #[serde(flatten)]
    grade: &'a Grade,
    properties: &'a [crate::verdict::certcheck::Property],
    messages: &'a [String],
}

#[derive(Serialize)]
struct JsonCase<'a> {
    name: &'a str,
    line: usize,
    status: Status,
    #[serde(flatten)]
    context: &'a crate::run::CaseContext,
    expected: JsonExpected<'a>,
    observed: Option<&'a Observed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<&'a crate::verdict::explain::Explanation>,
    messages: &'a [String],
    #[serde(flatten)]
    grade: &'a Grade,
}

#[derive(Serialize)]
struct JsonExpected<'a> {
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<Side>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_saw: Option<JsonIdentitySpec<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

#[derive(Serialize)]
struct JsonIdentitySpec<'a> {
    #[serde(rename = "CN", skip_serializing_if = "Option::is_none")]
    common_name: Option<&'a str>,
    #[serde(rename = "O", skip_serializing_if = "Option::is_none")]
    organization: Option<&'a str>,
    #[serde(rename = "OU", skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    san: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    none: bool,
}

fn expected_json(e: &Expectation) -> JsonExpected<'_> {
    match e {
        Expectation::Accepted { server_saw, status } => JsonExpected {
            outcome: Outcome::Accepted,
            by: None,
            reason: None,
            server_saw: server_saw
                .as_ref()
                .map(|s: &IdentitySpec| JsonIdentitySpec {
                    common_name: s.common_name.as_deref(),
                    organization: s.organization.as_deref(),
                    unit: s.unit.as_deref(),
                    san: &s.san,
                    none: s.none,
                }),
            status: *status,
        },
        Expectation::Rejected { by, reason } => JsonExpected {
            outcome: Outcome::Rejected,
            by: *by,
            reason: *reason,
            server_saw: None,
            status: None,
        },
    }
}

/// The JSON report of a run.
pub fn json(results: &[LabResult]) -> String {
    let (p, m) = points(results);
    let report = JsonReport {
        version: 1,
        tool: concat!("mtls-lab ", env!("CARGO_PKG_VERSION")),
        summary: JsonSummary {
            totals: totals(results),
            points: p,
            max_points: m,
        },
        labs: results
            .iter()
            .map(|l| JsonLab {
                file: l.file.display().to_string(),
                lab: &l.lab,
                error: l.error.as_deref(),
                duration_ms: l.duration_ms,
                points: l.points().0,
                max_points: l.points().1,
                checks: l
                    .checks
                    .iter()
                    .map(|c| JsonCheck {
                        name: &c.name,
                        line: c.line,
                        status: c.status,
                        certificate: &c.certificate,
                        grade: &c.grade,
                        properties: &c.properties,
                        messages: &c.messages,
                    })
                    .collect(),
                cases: l
                    .cases
                    .iter()
                    .map(|c| JsonCase {
                        name: &c.name,
                        line: c.line,
                        status: c.status,
                        context: &c.context,
                        expected: expected_json(&c.expected),
                        observed: c.observed.as_ref(),
                        explanation: c.explanation.as_ref(),
                        messages: &c.messages,
                        grade: &c.grade,
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut s =
        serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// Writes `contents` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
