//! `run` on several labs where one is invalid: the valid labs run, the invalid one is an error in the
//! console and in every report format (JSON, JUnit, TAP, Gradescope, Classroom, HTML), and the run
//! exits 2. A run where every lab is invalid runs nothing and still writes every report.

use crate::common::{mtls, root};

/// A directory with a passing lab, an invalid one and a lab with a failing case, in that order.
fn mixed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy =
        |from: &str, to: &str| std::fs::copy(root().join(from), dir.path().join(to)).unwrap();
    copy("labs/seed-mtls.yaml", "a-good.yaml");
    copy("tests/golden/bad/dangling-reference.yaml", "b-bad.yaml");
    copy("tests/golden/run/wrong-reason.yaml", "c-fail.yaml");
    dir
}

const REPORTS: [(&str, &str); 6] = [
    ("--report-json", "r.json"),
    ("--report-junit", "r.xml"),
    ("--report-tap", "r.tap"),
    ("--report-gradescope", "r.gradescope.json"),
    ("--report-classroom", "r.classroom.json"),
    ("--report-html", "r.html"),
];

#[test]
fn an_invalid_lab_is_an_error_in_every_report_and_the_others_run_and_the_run_exits_2() {
    let dir = mixed();
    let out_dir = tempfile::tempdir().unwrap();
    let labs = dir.path().to_str().unwrap().to_string();
    let paths: Vec<String> = REPORTS
        .iter()
        .map(|(_, f)| out_dir.path().join(f).display().to_string())
        .collect();
    let mut args = vec!["run", labs.as_str()];
    for ((flag, _), path) in REPORTS.iter().zip(&paths) {
        args.push(flag);
        args.push(path);
    }
    let out = mtls(&root(), &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    // The diagnostic with its position, then the console: good lab passed, bad lab an error, in file order.
    assert!(stderr.contains("b-bad.yaml:11:28"), "{stderr}");
    assert!(
        stderr.contains("1 lab file(s) invalid: the other labs run"),
        "{stderr}"
    );
    let good = stdout
        .find("PASS  seed-mtls › valid client is accepted")
        .expect(&stdout);
    let bad = stdout.find("ERROR b-bad (").expect(&stdout);
    let fail = stdout
        .find("FAIL  curl-style-mistake › no client certificate")
        .expect(&stdout);
    assert!(good < bad && bad < fail, "{stdout}");
    assert!(stdout.contains("no certificate named `clinet`"), "{stdout}");

    let read = |i: usize| std::fs::read_to_string(&paths[i]).unwrap();
    let json: serde_json::Value = serde_json::from_str(&read(0)).unwrap();
    let labs = json["labs"].as_array().unwrap();
    assert_eq!(labs.len(), 3);
    assert!(labs[1]["file"].as_str().unwrap().ends_with("b-bad.yaml"));
    assert!(labs[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("invalid lab file: "));
    assert_eq!(labs[0]["cases"].as_array().unwrap().len(), 3);
    assert_eq!(json["summary"]["passed"], 3);
    assert_eq!(json["summary"]["failed"], 1);
    assert_eq!(json["summary"]["errors"], 1);

    let junit = read(1);
    assert!(junit.contains("name=\"b-bad\""), "{junit}");
    assert!(
        junit.contains("<error message=\"invalid lab file: "),
        "{junit}"
    );
    let tap = read(2);
    assert!(
        tap.contains("not ok 4 - b-bad › (lab could not run)"),
        "{tap}"
    );
    assert!(
        tap.contains("ok 1 - seed-mtls › valid client is accepted"),
        "{tap}"
    );
    for i in [3, 4] {
        let text = read(i);
        assert!(
            text.contains("b-bad › (lab could not run)"),
            "{}: {text}",
            REPORTS[i].0
        );
        assert!(
            text.contains("no certificate named `clinet`"),
            "{}: {text}",
            REPORTS[i].0
        );
    }
    let html = read(5);
    assert!(
        html.contains("<section class=\"lab\" id=\"lab-1\" data-status=\"error\">"),
        "{html}"
    );
    assert!(
        html.contains("this lab could not run:<pre>invalid lab file: "),
        "{html}"
    );
}

#[test]
fn when_every_lab_is_invalid_nothing_runs_and_every_report_says_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("tests/golden/bad/dangling-reference.yaml"),
        dir.path().join("bad.yaml"),
    )
    .unwrap();
    let html = dir.path().join("r.html");
    let json = dir.path().join("r.json");
    let out = mtls(
        &root(),
        &[
            "run",
            dir.path().to_str().unwrap(),
            "--report-html",
            html.to_str().unwrap(),
            "--report-json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 lab file(s) invalid; nothing was run"));
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("invalid lab file: "));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(json["summary"]["errors"], 1);
}
