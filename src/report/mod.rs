//! Reports of a run, one module per format: [`mod@console`] (the terminal), [`json`], [`junit`], [`tap`],
//! [`gradescope`], [`classroom`] and [`html`], each built from the run's [`LabResult`]s; [`gradebook`]
//! gathers a class's JSON reports. This module keeps what
//! they share: totals and points, the items every report lists, the student and instructor views,
//! the "lab could not run" item. [`safe`] redacts private keys and escapes control characters for
//! every writer; [`output`] checks report paths and writes report files atomically.

pub mod battery;
mod classroom;
pub mod console;
pub mod gradebook;
mod gradescope;
pub mod html;
mod json;
mod junit;
pub mod limbo;
pub mod output;
pub mod safe;
mod tap;

pub use classroom::classroom;
pub use console::{
    case_details, case_line, check_line, console, console_traced, console_with, explanation_lines,
    trace_lines,
};
pub use gradescope::gradescope;
pub use json::json;
pub use junit::junit;
pub use output::{check_destinations, check_outside, write_atomic, Destination};
pub use tap::tap;

use serde::Serialize;

use crate::run::{CaseResult, CheckResult, Grade, LabResult, Status};

/// A report written to a file (`run --report-FORMAT FILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// GitHub Classroom's grader result.
    Classroom,
    /// Gradescope's `results.json`.
    Gradescope,
    /// The HTML page: chains drawn, filters.
    Html,
    /// The JSON report.
    Json,
    /// JUnit XML.
    Junit,
    /// TAP version 14.
    Tap,
}

impl Format {
    /// The format's name in messages: `JSON`, `JUnit`, `TAP`, `Gradescope`, `Classroom`, `HTML`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Classroom => "Classroom",
            Format::Gradescope => "Gradescope",
            Format::Html => "HTML",
            Format::Json => "JSON",
            Format::Junit => "JUnit",
            Format::Tap => "TAP",
        }
    }

    /// The format's word in its option, `--report-WORD`: `json`, `junit`, `tap`, `gradescope`, `classroom`, `html`.
    pub fn option(self) -> &'static str {
        match self {
            Format::Classroom => "classroom",
            Format::Gradescope => "gradescope",
            Format::Html => "html",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Tap => "tap",
        }
    }

    /// The report of `results` in this format. JSON always carries every detail; the other formats
    /// show hidden checks and cases as name, status and points only, unless `show_hidden`.
    ///
    /// Private keys a program printed are redacted in every format, and no control character is left
    /// raw: TAP and JUnit print them escaped (`\u001b`); the JSON formats escape them as JSON does
    /// (serde_json escapes C0; DEL and C1 are escaped here, which keeps the same JSON value).
    pub fn render(self, results: &[LabResult], show_hidden: bool) -> String {
        match self {
            Format::Tap => tap(&view(&safe::cleaned(results), show_hidden)),
            // Every text is escaped (and keys redacted) as the page is written.
            Format::Html => html::html(&view(results, show_hidden)),
            Format::Junit => junit(&view(&safe::cleaned(results), show_hidden)),
            Format::Json => json_text(json(&safe::redacted(results))),
            Format::Classroom => json_text(classroom(&view(&safe::redacted(results), show_hidden))),
            Format::Gradescope => {
                json_text(gradescope(&view(&safe::redacted(results), show_hidden)))
            }
        }
    }
}

/// A JSON report's text with DEL and C1 characters (which JSON may carry raw) escaped: the same value.
fn json_text(text: String) -> String {
    match safe::escape_controls(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(o) => o,
    }
}

/// The results as shown on the console and in every report but JSON: [`instructor_view`] with
/// `show_hidden`, else [`student_view`].
pub fn view(results: &[LabResult], show_hidden: bool) -> Vec<LabResult> {
    if show_hidden {
        instructor_view(results)
    } else {
        student_view(results)
    }
}

/// The name of the one item that reports list for a lab that could not run and has no check or case to say so.
pub const COULD_NOT_RUN: &str = "(lab could not run)";

/// Whether anything could not run: a check or case in error, or a lab with an error. The run then
/// exits with the "could not run" code, and Gradescope's summary tells students to ask their instructor.
pub fn any_error(results: &[LabResult]) -> bool {
    totals(results).errors > 0 || results.iter().any(|r| r.error.is_some())
}

/// Totals over all labs.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Checks and cases that met their expectation.
    pub passed: usize,
    /// Checks and cases that did not.
    pub failed: usize,
    /// Checks and cases that could not run.
    pub errors: usize,
    /// Checks and cases skipped because one they require did not pass.
    pub skipped: usize,
}

/// Counts of cases and checks by status.
pub fn totals(results: &[LabResult]) -> Totals {
    let mut t = Totals::default();
    for r in results {
        t.passed += r.count(Status::Passed);
        t.failed += r.count(Status::Failed);
        // A lab that could not run counts as the one errored item every report lists for it.
        t.errors += r.count(Status::Error) + usize::from(r.could_not_run().is_some());
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
    /// The check's or case's name.
    pub name: &'a str,
    /// Its line in the lab file.
    pub line: usize,
    /// How it went.
    pub status: Status,
    /// Its points, and whether it is hidden.
    pub grade: &'a Grade,
    /// Its messages: each difference, or why it could not run or was skipped.
    pub messages: &'a [String],
    /// The check, when the item is one.
    pub check: Option<&'a CheckResult>,
    /// The case, when the item is one.
    pub case: Option<&'a CaseResult>,
}

impl Item<'_> {
    /// Whether the item is a battery's derived case that cannot apply here (no CRL checked, no
    /// intermediate, a failure the peer's library accepts by design): not a test of the submission, so
    /// the grading platforms that know only pass and fail (Gradescope, Classroom) leave it out — it would
    /// show a perfect submission as failed — and the matrix says why.
    pub fn cannot_apply(&self) -> bool {
        self.case
            .and_then(|c| c.derived.as_ref())
            .is_some_and(|d| d.skipped.is_some())
    }

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
