//! Gradescope's `results.json`: one test per check and case, with score, max_score, status, output and
//! visibility; the top-level score is the sum of the tests'. A battery's matrix ([`super::battery`]) is
//! printed under the top-level `output`, kept as `extra_data.battery` (the JSON report's value), and each
//! derived case's test output opens with its verdict; the derived cases keep their own points.

use serde::Serialize;

use super::battery::{Battery, Row};
use super::{items, points_text, Item};
use crate::run::{round_points, LabResult, Status};

#[derive(Serialize)]
struct Results {
    score: f64,
    execution_time: u64,
    output: String,
    output_format: &'static str,
    test_output_format: &'static str,
    test_name_format: &'static str,
    #[serde(skip_serializing_if = "ExtraData::is_empty")]
    extra_data: ExtraData,
    tests: Vec<Test>,
}

/// What Gradescope keeps without showing: the battery matrix.
#[derive(Serialize)]
struct ExtraData {
    battery: Vec<Battery>,
}

impl ExtraData {
    fn is_empty(&self) -> bool {
        self.battery.is_empty()
    }
}

#[derive(Serialize)]
struct Test {
    name: String,
    number: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
    visibility: &'static str,
}

/// The text under a test: what happened and, for a failure, why and the usual fix; only pass/fail for a
/// hidden test. A derived case's text opens with its battery verdict (`cell`).
pub(super) fn output(lab: &LabResult, item: &Item<'_>, cell: Option<(&Battery, &Row)>) -> String {
    if item.grade.hidden {
        return match item.status {
            Status::Passed => "Hidden test: passed.".into(),
            _ => "Hidden test: not passed.".into(),
        };
    }
    let text = details(lab, item);
    match cell {
        Some((b, row)) => format!("{}\n{text}", row.cell_line(b)),
        None => text,
    }
}

fn details(lab: &LabResult, item: &Item<'_>) -> String {
    match item.status {
        Status::Skipped => format!(
            "Skipped: {}. Its points are not counted.",
            item.messages
                .first()
                .map_or("a test it requires did not pass", |m| m
                    .strip_prefix("skipped: ")
                    .unwrap_or(m))
        ),
        Status::Error => format!(
            "The grader could not run this test (a problem on the grader's side, not in your submission): {}",
            item.messages.join("; ")
        ),
        Status::Passed => match item.case.and_then(|c| c.observed.as_ref()) {
            Some(o) => format!("Passed: {}.", o.summary()),
            None => "Passed: every property holds.".into(),
        },
        Status::Failed => match item.case {
            Some(case) if case.observed.is_some() => {
                let mut s = super::case_details(lab, case)
                    .lines()
                    .skip(1) // the lab file and line: for instructors
                    .map(|l| l.trim_start().to_string())
                    .collect::<Vec<_>>()
                    .join("\n");
                if let Some(e) = &case.explanation {
                    s.push_str(&format!("\nwhy: {}\nfix: {}", e.what, e.fix));
                }
                s
            }
            _ => item.messages.join("\n"),
        },
    }
}

/// Test names: the item's name, prefixed with its lab's when the run has several labs.
pub(super) fn test_name(results: &[LabResult], lab: &LabResult, item: &str) -> String {
    if results.len() > 1 {
        format!("{} › {item}", lab.lab)
    } else {
        item.to_string()
    }
}

/// The Gradescope report of a run.
pub fn gradescope(results: &[LabResult]) -> String {
    let batteries = super::battery::matrix(results);
    let mut tests = Vec::new();
    for (l, lab) in results.iter().enumerate() {
        if let Some(e) = lab.could_not_run() {
            tests.push(Test {
                name: test_name(results, lab, super::COULD_NOT_RUN),
                number: format!("{}.0", l + 1),
                score: 0.0,
                max_score: 0.0,
                status: "failed",
                output: format!("The grader could not run (a problem on the grader's side): {e}"),
                visibility: "visible",
            });
        }
        for (i, item) in items(lab).iter().enumerate() {
            if item.cannot_apply() {
                continue;
            }
            let cell = i
                .checked_sub(lab.checks.len())
                .and_then(|c| super::battery::cell(&batteries, l, c));
            tests.push(Test {
                name: test_name(results, lab, item.name),
                number: format!("{}.{}", l + 1, i + 1),
                score: item.grade.points,
                max_score: item.grade.max_points,
                status: if item.status == Status::Passed {
                    "passed"
                } else {
                    "failed"
                },
                output: output(lab, item, cell),
                visibility: "visible",
            });
        }
    }
    let score = round_points(tests.iter().map(|t| t.score).sum());
    let max: f64 = round_points(tests.iter().map(|t| t.max_score).sum());
    let t = super::totals(results);
    let mut output = format!(
        "{} of {} points: {} passed, {} failed",
        points_text(score),
        points_text(max),
        t.passed,
        t.failed + t.errors
    );
    if t.skipped > 0 {
        output.push_str(&format!(", {} skipped", t.skipped));
    }
    if super::any_error(results) {
        output.push_str(". Some tests could not run because of a problem on the grader's side; tell your instructor.");
    }
    if !batteries.is_empty() {
        output.push_str("\n\n");
        output.push_str(super::battery::table(&batteries).trim_end());
    }
    let results = Results {
        score,
        execution_time: results
            .iter()
            .map(|r| r.duration_ms)
            .sum::<u64>()
            .div_ceil(1000),
        output,
        output_format: "text",
        test_output_format: "text",
        test_name_format: "text",
        extra_data: ExtraData { battery: batteries },
        tests,
    };
    let mut s = serde_json::to_string_pretty(&results)
        .unwrap_or_else(|e| format!("{{\"score\": 0, \"output\": \"{e}\", \"tests\": []}}"));
    s.push('\n');
    s
}
