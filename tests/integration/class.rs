//! Grading a class: `run labs/grade-seed/ --submissions 'tests/fixtures/seed/*/'` gives every
//! submission the points its own run gives, one summary line each, and the gradebook (CSV, JSON);
//! bad input exits 2 before anything runs; a submission that cannot be run (its program stops the grader
//! run) exits 3 with its gradebook row saying why, the others graded.

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
    // Each option that is one run's is refused with its own reason.
    for (option, why) in [
        (
            &["--report-json", "-"][..],
            "error: --report-json writes the report of one run; with --submissions, use --gradebook-csv and --gradebook-json",
        ),
        (
            &["--pki", "pki"][..],
            "error: --pki keeps the PKI of one run; each submission's run makes its own, from the submission's files",
        ),
        (
            &["--fail-fast"][..],
            "error: --fail-fast stops one run at its first failing lab; with --submissions every submission is graded whole",
        ),
    ] {
        let mut args = vec![
            "run",
            "labs/grade-seed/",
            "--submissions",
            "tests/fixtures/seed/*/",
        ];
        args.extend_from_slice(option);
        let (code, err) = fails(&args);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(why), "{err}");
    }
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

/// Copies the directory tree `from` to `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_submission_that_cannot_be_run_exits_3_with_its_row_saying_why_and_the_others_are_graded() {
    // A student's server.py that signals the process that started it (a `kill` meant for an old
    // server of its own): its run is stopped (it stops its programs and exits 130), so that submission
    // could not be graded; the good one beside it is.
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    copy_tree(&grading::fixture("good"), &subs.join("good"));
    let bad = subs.join("kills-grader");
    copy_tree(&grading::fixture("good"), &bad);
    let server = bad.join("server/server.py");
    let text = std::fs::read_to_string(&server).unwrap();
    std::fs::write(
        &server,
        format!("import os, signal\nos.kill(os.getppid(), signal.SIGTERM)  # meant for an old server\n{text}"),
    )
    .unwrap();
    let csv = dir.path().join("gradebook.csv");
    let pattern = format!("{}/*/", subs.display());
    let _turn = common::seed_port();
    let out = mtls(
        &root(),
        &[
            "run",
            "labs/grade-seed/",
            "--submissions",
            &pattern,
            "--gradebook-csv",
            csv.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let why = "its run exited with code 130: interrupted: stopped 1 child process group(s); the reports list what did not run";
    assert_eq!(
        stdout,
        format!(
            "good: 33 of 33 points (24 passed, 0 failed, 5 skipped)\nkills-grader: could not be run: {why}\ngraded 1 of 2 submission(s)\n"
        )
    );
    // The gradebook: the good submission graded with its points; the other not graded, saying why,
    // each of its items `not run`.
    let book = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = book.lines().collect();
    assert_eq!(rows.len(), 3, "{book}");
    assert!(rows[1].starts_with("good,true,0,33,33,,"), "{}", rows[1]);
    assert!(
        rows[2].starts_with(&format!("kills-grader,false,130,0,0,{why},")),
        "{}",
        rows[2]
    );
    assert!(rows[2].ends_with(",not run: the submission could not be run"));
    // Its server was stopped with its run: the seed's port is free again.
    drop(std::net::TcpListener::bind("127.0.0.1:4443").expect("port 4443 is free"));
}
