//! GitHub Classroom's grader result (`version`, `status`, `max_score`, `tests[]`), the shape
//! autograding-grading-reporter reads from `RUNNER_RESULTS`. A battery's matrix ([`super::battery`]) is
//! kept as a top-level `battery` (the JSON report's value; the reporter reads only the fields above), and
//! each derived case's `message` opens with its verdict; no test is added, so the reporter's table and
//! the points Classroom receives stay the sum of the cases'.

use serde::Serialize;

use super::items;
use crate::run::{round_points, LabResult, Status};

#[derive(Serialize)]
struct Result {
    version: u32,
    status: &'static str,
    max_score: f64,
    tests: Vec<Test>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    battery: Vec<super::battery::Battery>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    status: &'static str,
    score: f64,
    message: String,
    test_code: String,
    filename: String,
    line_no: usize,
    duration: u64,
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Passed => "pass",
        Status::Error => "error",
        Status::Failed | Status::Skipped => "fail",
    }
}

/// The Classroom result of a run; `tests[].score` adds up to the points earned, `max_score` is the counted maximum.
pub fn classroom(results: &[LabResult]) -> String {
    let batteries = super::battery::matrix(results);
    let mut tests = Vec::new();
    for (l, lab) in results.iter().enumerate() {
        let file = lab.file.display().to_string();
        if let Some(e) = lab.could_not_run() {
            tests.push(Test {
                name: super::gradescope::test_name(results, lab, super::COULD_NOT_RUN),
                status: "error",
                score: 0.0,
                message: e.to_string(),
                test_code: String::new(),
                filename: file.clone(),
                line_no: 0,
                duration: 0,
            });
        }
        for (i, item) in items(lab).into_iter().enumerate() {
            if item.cannot_apply() {
                continue;
            }
            let cell = i
                .checked_sub(lab.checks.len())
                .and_then(|c| super::battery::cell(&batteries, l, c));
            tests.push(Test {
                name: super::gradescope::test_name(results, lab, item.name),
                status: status(item.status),
                score: item.grade.points,
                message: super::gradescope::output(lab, &item, cell),
                test_code: String::new(),
                filename: file.clone(),
                line_no: item.line,
                duration: item.duration_ms(),
            });
        }
    }
    let overall = if tests.iter().any(|t| t.status == "error") {
        "error"
    } else if tests.iter().any(|t| t.status == "fail") {
        "fail"
    } else {
        "pass"
    };
    let result = Result {
        version: 1,
        status: overall,
        max_score: round_points(super::points(results).1),
        tests,
        battery: batteries,
    };
    let mut s = serde_json::to_string_pretty(&result)
        .unwrap_or_else(|e| format!("{{\"version\": 1, \"status\": \"error\", \"max_score\": 0, \"tests\": [], \"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
