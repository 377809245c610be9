//! The CI report formats: JUnit parses as XML with unique testcase names and times; TAP has one plan and one line per case.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the seed lab and the failing lab, writing every report format into a temp dir.
fn run_with_reports() -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(root())
        .args([
            "run",
            "labs/seed-mtls.yaml",
            "labs/expired-client.yaml",
            "tests/golden/run/wrong-reason.yaml",
        ])
        .arg("--report-junit")
        .arg(dir.path().join("junit.xml"))
        .arg("--report-tap")
        .arg(dir.path().join("report.tap"))
        .arg("--report-json")
        .arg(dir.path().join("report.json"))
        .output()
        .unwrap();
    (dir, out)
}

#[test]
fn junit_is_xml_with_unique_names_and_times() {
    let (dir, out) = run_with_reports();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("JUnit report is XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("7"));
    assert_eq!(root.attribute("failures"), Some("1"));
    let mut names = BTreeSet::new();
    let mut failures = 0;
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        let id = format!(
            "{}::{}",
            case.attribute("classname").unwrap(),
            case.attribute("name").unwrap()
        );
        assert!(names.insert(id.clone()), "duplicate testcase {id}");
        let time: f64 = case.attribute("time").unwrap().parse().unwrap();
        assert!(time >= 0.0);
        if let Some(f) = case.children().find(|c| c.has_tag_name("failure")) {
            failures += 1;
            assert_eq!(
                f.attribute("message"),
                Some("expected rejected by server: certificate_required, observed rejected by client: unknown_issuer")
            );
        }
    }
    assert_eq!(names.len(), 7);
    assert_eq!(failures, 1);
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testsuite"))
            .count(),
        3
    );
}

#[test]
fn tap_has_one_plan_and_one_line_per_case() {
    let (dir, _) = run_with_reports();
    let text = std::fs::read_to_string(dir.path().join("report.tap")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("TAP version 14"));
    assert_eq!(text.lines().filter(|l| l.starts_with("1..")).count(), 1);
    assert!(text.contains("\n1..7\n"));
    let results: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("not ok "))
        .collect();
    assert_eq!(results.len(), 7);
    for (i, l) in results.iter().enumerate() {
        let n = (i + 1).to_string();
        assert!(
            l.starts_with(&format!("ok {n} - ")) || l.starts_with(&format!("not ok {n} - ")),
            "{l}"
        );
    }
    assert_eq!(
        results.iter().filter(|l| l.starts_with("not ok")).count(),
        1
    );
    assert!(text.contains("  ---\n  message: \"expected rejected by server: certificate_required"));
}

#[test]
fn a_report_path_in_a_missing_directory_stops_the_run_before_anything_is_written() {
    // Report paths are checked before the run (issue 11): exit 2, and no report half-written.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(root())
        .args([
            "run",
            "labs/seed-mtls.yaml",
            "--report-json",
            "/nonexistent-dir/r.json",
            "--report-tap",
        ])
        .arg(dir.path().join("r.tap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("r.tap").exists());
}

#[test]
fn an_invalid_lab_counts_as_one_error_in_the_json_summary_as_in_every_other_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "lab: [unclosed\n").unwrap();
    let out = crate::common::mtls(
        dir.path(),
        &[
            "run",
            "bad.yaml",
            "--report-json",
            "r.json",
            "--report-tap",
            "r.tap",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(json["summary"]["errors"], 1, "{json:#}");
    assert_eq!(json["summary"]["passed"], 0);
    assert!(json["labs"][0]["error"].is_string(), "{json:#}");
    let tap = std::fs::read_to_string(dir.path().join("r.tap")).unwrap();
    assert!(tap.contains("\n1..1\n"), "{tap}");
    assert!(
        tap.contains("not ok 1 - bad › (lab could not run)"),
        "{tap}"
    );
}
