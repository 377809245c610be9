//! Grading a class: `run labs/grade-seed/ --submissions 'tests/fixtures/seed/*/'` gives every
//! submission the points its own run gives, one summary line each, and the gradebook (CSV, JSON);
//! bad input exits 2 before anything runs.

use std::path::Path;

use crate::common::{self, golden, mtls, root};
use crate::grading;

/// Every seed fixture: good, no SAN, expired client, server without client auth, lax client.
const FIXTURES: [&str; 5] = [
    "client-no-verify",
    "expired-client",
    "good",
    "no-san",
    "server-no-client-auth",
];

/// `(last N lines)` of a quoted program output, whose N depends on when the program flushed.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("(last ") {
        out.push_str(&rest[..i + 6]);
        rest = &rest[i + 6..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(" lines)") {
            out.push('N');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn a_class_grades_in_one_command_with_the_points_of_each_submission_run_alone() {
    // Each submission alone first (shared with the grading tests, which take the seed's port in turn).
    let alone: Vec<_> = FIXTURES
        .iter()
        .map(|f| grading::score(&grading::grade(&grading::fixture(f)).2))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("gradebook.csv");
    let json = dir.path().join("gradebook.json");
    let out = {
        let _turn = common::seed_port();
        mtls(
            &root(),
            &[
                "run",
                "labs/grade-seed/",
                "--submissions",
                "tests/fixtures/seed/*/",
                "--jobs",
                "2",
                "--isolate",
                "--gradebook-csv",
                csv.to_str().unwrap(),
                "--gradebook-json",
                json.to_str().unwrap(),
            ],
        )
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    golden(
        &root().join("tests/golden/class/console.txt"),
        stdout.as_ref(),
    );

    let book: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let columns = book["columns"].as_array().unwrap();
    let rows = book["rows"].as_array().unwrap();
    assert_eq!(rows.len(), FIXTURES.len());
    for ((fixture, (points, max, items)), row) in FIXTURES.iter().zip(&alone).zip(rows) {
        assert_eq!(row["submission"], *fixture);
        assert_eq!(row["graded"], true);
        assert_eq!(
            (row["points"].as_f64(), row["max_points"].as_f64()),
            (Some(*points), Some(*max)),
            "{fixture}"
        );
        // Every graded item has the points of the run alone.
        for (column, cell) in columns.iter().zip(row["items"].as_array().unwrap()) {
            let name = column["item"].as_str().unwrap();
            let (_, status, alone_points) = items
                .iter()
                .find(|(n, _, _)| n == name)
                .unwrap_or_else(|| panic!("{fixture}: no item `{name}` in its own run"));
            assert_eq!(
                cell["points"].as_f64(),
                Some(*alone_points),
                "{fixture}: {name}"
            );
            let why = cell["why"].as_str().unwrap();
            assert_eq!(
                why.is_empty(),
                status == "passed",
                "{fixture}: {name}: {why}"
            );
        }
    }
    golden(
        &root().join("tests/golden/class/gradebook.json"),
        &normalize(&std::fs::read_to_string(&json).unwrap()),
    );
    golden(
        &root().join("tests/golden/class/gradebook.csv"),
        &normalize(&std::fs::read_to_string(&csv).unwrap()),
    );
}

/// Runs `mtls-lab ARGS` in the crate root; returns (exit code, stderr).
fn fails(args: &[&str]) -> (Option<i32>, String) {
    let out = mtls(&root(), args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_pattern_matching_no_directory_is_bad_input() {
    let (code, err) = fails(&[
        "run",
        "labs/grade-seed/",
        "--submissions",
        "tests/fixtures/seed/nobody-*/",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: --submissions `tests/fixtures/seed/nobody-*/` matches no directory"),
        "{err}"
    );
}

#[test]
fn a_lab_without_the_submission_variable_is_bad_input() {
    let (code, err) = fails(&[
        "run",
        "labs/alpn.yaml",
        "--submissions",
        "tests/fixtures/seed/*/",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: no lab in labs/alpn.yaml uses the `${submission}` variable"),
        "{err}"
    );
}

#[test]
fn one_run_reports_and_gradebooks_on_links_are_refused_before_anything_runs() {
    let (code, err) = fails(&[
        "run",
        "labs/grade-seed/",
        "--submissions",
        "tests/fixtures/seed/*/",
        "--report-json",
        "-",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: --report-json writes the report of one run; with --submissions, use --gradebook-csv and --gradebook-json"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("book.csv");
    std::os::unix::fs::symlink(Path::new("/etc/passwd"), &link).unwrap();
    let (code, err) = fails(&[
        "run",
        "labs/grade-seed/",
        "--submissions",
        "tests/fixtures/seed/*/",
        "--gradebook-csv",
        link.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot write the gradebook") && err.contains("symbolic link"),
        "{err}"
    );
}
