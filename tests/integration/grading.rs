//! Grading: certificates loaded from a submission, certificate checks, points, requires and hidden items,
//! and the reports grading platforms read (Gradescope, GitHub Classroom, JUnit, TAP, JSON).
//!
//! The fixtures under `tests/fixtures/seed/` are made by `make.sh` with the seed lab's openssl commands.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common;

use common::{mtls, root};
use mtls_lab::lab::battery::{self, Failure};
use mtls_lab::run::Status;

pub(crate) fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/seed").join(name)
}

/// Runs the seed grader (`labs/grade-seed/`) on a submission with every report; returns (exit code, stdout, the report directory).
fn grade_fresh(submission: &Path) -> (i32, String, tempfile::TempDir) {
    let _turn = common::seed_port();
    let dir = tempfile::tempdir().unwrap();
    let var = format!("submission={}", submission.display());
    let out = mtls(
        &root(),
        &[
            "run",
            "labs/grade-seed/",
            "--var",
            &var,
            "--report-json",
            dir.path().join("report.json").to_str().unwrap(),
            "--report-gradescope",
            dir.path().join("results.json").to_str().unwrap(),
            "--report-classroom",
            dir.path().join("classroom.json").to_str().unwrap(),
            "--report-junit",
            dir.path().join("junit.xml").to_str().unwrap(),
            "--report-tap",
            dir.path().join("report.tap").to_str().unwrap(),
        ],
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        dir,
    )
}

pub(crate) type Graded = std::sync::Arc<(i32, String, tempfile::TempDir)>;

/// Like [`grade_fresh`], once per submission for the whole test binary.
pub(crate) fn grade(submission: &Path) -> Graded {
    static CACHE: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, Graded>>,
    > = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(g) = cache.lock().unwrap().get(submission) {
        return g.clone();
    }
    let g = std::sync::Arc::new(grade_fresh(submission));
    cache
        .lock()
        .unwrap()
        .insert(submission.to_path_buf(), g.clone());
    g
}

fn json(dir: &tempfile::TempDir, file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.path().join(file))
        .unwrap_or_else(|e| panic!("{file} was not written: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}\n{text}"))
}

/// (points, max_points) of the JSON report, and (name, status, points) of every item of every lab.
pub(crate) fn score(dir: &tempfile::TempDir) -> (f64, f64, Vec<(String, String, f64)>) {
    let r = json(dir, "report.json");
    let mut items = Vec::new();
    for lab in r["labs"].as_array().unwrap() {
        for section in ["checks", "cases"] {
            for i in lab[section].as_array().unwrap() {
                items.push((
                    i["name"].as_str().unwrap().to_string(),
                    i["status"].as_str().unwrap().to_string(),
                    i["points"].as_f64().unwrap(),
                ));
            }
        }
    }
    (
        r["summary"]["points"].as_f64().unwrap(),
        r["summary"]["max_points"].as_f64().unwrap(),
        items,
    )
}

/// The grader's total: certificates 12; server.py 3, and 1 for each of the 8 derived clients its
/// battery runs (no certificate, unknown CA, rogue CA, self-signed, expired, not yet valid, serverAuth
/// only, key mismatch); client.py 3, and 1 for each of the 7 derived servers (expired, not yet valid,
/// another name, unknown CA, rogue CA, clientAuth only, self-signed).
const FULL: f64 = 33.0;

#[test]
fn the_good_submission_scores_full_marks() {
    let g = grade(&fixture("good"));
    let (code, stdout, dir) = (&g.0, &g.1, &g.2);
    assert_eq!(*code, 0, "{stdout}");
    let (points, max, items) = score(dir);
    assert_eq!((points, max), (FULL, FULL), "{items:?}");
    assert!(stdout.contains("score: 33 of 33 points"), "{stdout}");
}

#[test]
fn a_server_certificate_without_san_loses_the_server_check_and_skips_the_handshake() {
    let g = grade(&fixture("no-san"));
    let (code, stdout, dir) = (&g.0, &g.1, &g.2);
    assert_eq!(*code, 1);
    let (points, max, items) = score(dir);
    // The server check (3 points) fails; the handshake that requires it is skipped and leaves the total (3 points).
    assert_eq!((points, max), (FULL - 6.0, FULL - 3.0), "{items:?}");
    assert!(
        stdout.contains("server/server.crt: no subjectAltName; TLS clients such as rustls and browsers ignore the CN"),
        "{stdout}"
    );
    assert!(
        stdout.contains("server/server.crt: X.509 version 1"),
        "{stdout}"
    );
    // Besides the battery cases that cannot apply (no CRL, no intermediate, python's CA-as-leaf).
    let skipped: Vec<_> = items
        .iter()
        .filter(|i| i.1 == "skipped" && !i.0.contains(" › battery: "))
        .collect();
    assert_eq!(skipped.len(), 1, "{items:?}");
    assert_eq!(
        skipped[0].0,
        "your certificates complete a mutual TLS handshake"
    );
}

#[test]
fn an_expired_client_certificate_loses_the_client_check() {
    let g = grade(&fixture("expired-client"));
    let (code, stdout, dir) = (&g.0, &g.1, &g.2);
    assert_eq!(*code, 1);
    let (points, max, _) = score(dir);
    assert_eq!((points, max), (FULL - 6.0, FULL - 3.0));
    assert!(
        stdout.contains("client/client.crt: expired on 2021-01-01T00:00:00Z (expired)"),
        "{stdout}"
    );
}

#[test]
fn a_server_that_does_not_require_client_certificates_loses_the_derived_clients_and_the_logged_cn()
{
    let g = grade(&fixture("server-no-client-auth"));
    let (code, stdout, dir) = (&g.0, &g.1, &g.2);
    assert_eq!(*code, 1);
    let (points, max, items) = score(dir);
    // Each of the 8 derived clients goes through (1 point each); it never asks for the client's
    // certificate, so it cannot log the client's CN either (1 point).
    assert_eq!((points, max), (FULL - 8.0 - 1.0, FULL), "{items:?}");
    assert!(
        stdout.contains("server output: expected the server command to print \"commonName: grader-client\" during this case"),
        "{stdout}"
    );
    let of = "server.py accepts a client with a certificate from your CA";
    let failed: Vec<&str> = items
        .iter()
        .filter(|i| i.1 == "failed")
        .map(|i| i.0.as_str())
        .collect();
    let mut expected = vec![of.to_string()];
    expected.extend(SERVER_DERIVED.iter().map(|f| battery::case_name(of, *f)));
    assert_eq!(failed, expected, "{stdout}");
    assert!(
        stdout.contains(
            "0 refused for the right reason, 0 for another reason, 8 accepted wrongly, 3 skipped"
        ),
        "{stdout}"
    );
}

/// The derived clients the seed grader's server battery runs (python's `ssl` accepts a CA certificate as
/// a client's by design; no CRL; no intermediate: the other 3 are skipped).
const SERVER_DERIVED: [Failure; 8] = [
    Failure::NoClientCertificate,
    Failure::ClientUnknownCa,
    Failure::ClientRogueCa,
    Failure::ClientSelfSigned,
    Failure::ClientExpired,
    Failure::ClientNotYetValid,
    Failure::ClientServerAuthOnly,
    Failure::ClientKeyMismatch,
];

/// The derived servers the seed grader's client battery runs (no CRL, no intermediate: 2 skipped).
const CLIENT_DERIVED: [Failure; 7] = [
    Failure::ServerExpired,
    Failure::ServerNotYetValid,
    Failure::ServerOtherName,
    Failure::ServerUnknownCa,
    Failure::ServerRogueCa,
    Failure::ServerClientAuthOnly,
    Failure::ServerSelfSigned,
];

#[test]
fn a_client_that_does_not_verify_the_server_loses_the_derived_servers() {
    let g = grade(&fixture("client-no-verify"));
    let (code, stdout, dir) = (&g.0, &g.1, &g.2);
    assert_eq!(*code, 1);
    let (points, max, items) = score(dir);
    assert_eq!((points, max), (FULL - 7.0, FULL), "{items:?}");
    let of = "client.py presents its certificate and goes through";
    let failed: Vec<&str> = items
        .iter()
        .filter(|i| i.1 == "failed")
        .map(|i| i.0.as_str())
        .collect();
    let expected: Vec<String> = CLIENT_DERIVED
        .iter()
        .map(|f| battery::case_name(of, *f))
        .collect();
    assert_eq!(failed, expected, "{stdout}");
    assert!(
        stdout.contains("FAIL  grade-seed-client › client.py presents its certificate and goes through › battery: server certificate from an unknown CA: accepted"),
        "{stdout}"
    );
}

#[test]
fn the_good_submission_refuses_every_derived_peer_for_the_right_reason() {
    let g = grade(&fixture("good"));
    let r = json(&g.2, "report.json");
    let cases: Vec<&serde_json::Value> = r["labs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["cases"].as_array().unwrap())
        .collect();
    let observed = |of: &str, f: Failure| {
        let name = battery::case_name(of, f);
        let c = cases
            .iter()
            .find(|c| c["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no case {name}"));
        (
            c["status"].as_str().unwrap().to_string(),
            c["observed"]["by"].as_str().unwrap_or("").to_string(),
            c["observed"]["reason"].as_str().unwrap_or("").to_string(),
        )
    };
    let passed =
        |by: &str, reason: &str| ("passed".to_string(), by.to_string(), reason.to_string());
    // Python's ssl (OpenSSL) finds an issuer by name and key identifier: the rogue CA is unknown.
    let server = [
        ("certificate_required", Failure::NoClientCertificate),
        ("unknown_issuer", Failure::ClientUnknownCa),
        ("unknown_issuer", Failure::ClientRogueCa),
        ("unknown_issuer", Failure::ClientSelfSigned),
        ("expired", Failure::ClientExpired),
        ("not_yet_valid", Failure::ClientNotYetValid),
        ("wrong_purpose", Failure::ClientServerAuthOnly),
        ("bad_signature", Failure::ClientKeyMismatch),
    ];
    for (reason, f) in server {
        let of = "server.py accepts a client with a certificate from your CA";
        assert_eq!(observed(of, f), passed("server", reason), "{f:?}");
    }
    let client = [
        ("expired", Failure::ServerExpired),
        ("not_yet_valid", Failure::ServerNotYetValid),
        ("name_mismatch", Failure::ServerOtherName),
        ("unknown_issuer", Failure::ServerUnknownCa),
        ("unknown_issuer", Failure::ServerRogueCa),
        ("wrong_purpose", Failure::ServerClientAuthOnly),
        ("unknown_issuer", Failure::ServerSelfSigned),
    ];
    for (reason, f) in client {
        let of = "client.py presents its certificate and goes through";
        assert_eq!(observed(of, f), passed("client", reason), "{f:?}");
    }
}

#[test]
fn a_missing_submission_fails_every_item_with_a_clear_message_and_crashes_nothing() {
    let empty = tempfile::tempdir().unwrap();
    let (code, stdout, dir) = grade_fresh(empty.path());
    assert_eq!(
        code, 1,
        "a student's missing files are failures, not errors:\n{stdout}"
    );
    assert!(
        stdout.contains("ca/ca.crt: cannot read: no such file"),
        "{stdout}"
    );
    let (points, max, items) = score(&dir);
    assert_eq!(points, 0.0);
    // Only the CA check counts: everything else requires the CA and is skipped.
    assert_eq!(max, 2.0, "{items:?}");
    assert!(
        items.iter().all(|i| i.1 == "failed" || i.1 == "skipped"),
        "{items:?}"
    );
    // Every report was written and reads.
    let gs = json(&dir, "results.json");
    assert_eq!(gs["score"], 0.0);
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    roxmltree::Document::parse(&xml).expect("JUnit is XML");
}

#[test]
fn a_key_that_does_not_match_its_certificate_fails_what_needs_it() {
    let sub = tempfile::tempdir().unwrap();
    copy_dir(&fixture("good"), sub.path());
    // The client's key in place of the server's.
    std::fs::copy(
        sub.path().join("client/client.key"),
        sub.path().join("server/server.key"),
    )
    .unwrap();
    let (_, stdout, dir) = grade_fresh(sub.path());
    assert!(
        stdout.contains("server/server.key does not match server/server.crt"),
        "{stdout}"
    );
    let (points, max, items) = score(&dir);
    // The server check fails on key_matches alone (3); the handshake that requires it is skipped (3).
    assert_eq!((points, max), (FULL - 6.0, FULL - 3.0), "{items:?}");
    let r = json(&dir, "report.json");
    // The programs are tested with the grader's certificates: the student's server key does not matter there.
    let server_check = r["labs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["certificate"] == "server")
        .unwrap()
        .clone();
    let failed: Vec<&str> = server_check["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["passed"] == false)
        .map(|p| p["property"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["key_matches"]);
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn the_gradescope_report_has_the_documented_fields_and_its_score_is_the_sum_of_the_tests() {
    let g = grade(&fixture("no-san"));
    let dir = &g.2;
    let gs = json(dir, "results.json");
    let tests = gs["tests"].as_array().unwrap();
    // 6 checks, 3 written cases, and the batteries' 11 + 9 derived cases but the 5 that cannot apply
    // here (no CRL checked, no intermediate, a CA certificate OpenSSL accepts by design): a test the
    // submission cannot pass or fail would show a perfect one as failed; the matrix lists them.
    assert_eq!(tests.len(), 24);
    let mut sum = 0.0;
    for t in tests {
        for field in [
            "name",
            "score",
            "max_score",
            "status",
            "output",
            "visibility",
        ] {
            assert!(t.get(field).is_some(), "test without {field}: {t}");
        }
        assert!(["passed", "failed"].contains(&t["status"].as_str().unwrap()));
        assert!(t["score"].as_f64().unwrap() <= t["max_score"].as_f64().unwrap());
        sum += t["score"].as_f64().unwrap();
    }
    assert_eq!(gs["score"].as_f64().unwrap(), sum);
    assert_eq!(sum, FULL - 6.0);
    // The hidden check shows only its name and whether it passed.
    let hidden = tests
        .iter()
        .find(|t| t["name"] == "grade-seed-certificates › CA key is as strong as the lab asks")
        .unwrap();
    assert_eq!(hidden["output"], "Hidden test: passed.");
    // A failed check's output carries each failed property's message.
    let server = tests
        .iter()
        .find(|t| {
            t["name"] == "grade-seed-certificates › server certificate is usable by TLS clients"
        })
        .unwrap();
    assert!(server["output"]
        .as_str()
        .unwrap()
        .contains("no subjectAltName"));
    // The JSON report keeps the hidden check's details for instructors.
    let r = json(dir, "report.json");
    let hidden = &r["labs"][0]["checks"][1];
    assert_eq!(hidden["hidden"], true);
    assert!(!hidden["properties"].as_array().unwrap().is_empty());
}

/// A perfect submission is a green run on Classroom and has no failed Gradescope test: the battery's
/// derived cases that cannot apply (no CRL checked, no intermediate, a CA certificate OpenSSL accepts by
/// design) are not tests of the submission (they were `fail`, and Classroom's reporter failed the run).
#[test]
fn a_perfect_submission_passes_on_classroom_and_gradescope() {
    let g = grade(&fixture("good"));
    let c = json(&g.2, "classroom.json");
    assert_eq!(
        (&c["status"], c["max_score"].as_f64()),
        (&serde_json::Value::from("pass"), Some(FULL))
    );
    assert!(c["tests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["status"] == "pass"));
    let gs = json(&g.2, "results.json");
    assert_eq!(gs["score"].as_f64(), Some(FULL));
    assert!(gs["tests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["status"] == "passed"));
}

#[test]
fn the_classroom_report_adds_up() {
    let g = grade(&fixture("expired-client"));
    let c = json(&g.2, "classroom.json");
    assert_eq!(c["version"], 1);
    assert_eq!(c["status"], "fail");
    let tests = c["tests"].as_array().unwrap();
    let sum: f64 = tests.iter().map(|t| t["score"].as_f64().unwrap()).sum();
    assert_eq!(sum, FULL - 6.0);
    assert_eq!(c["max_score"].as_f64().unwrap(), FULL - 3.0);
    for t in tests {
        assert!(["pass", "fail", "error"].contains(&t["status"].as_str().unwrap()));
        for field in [
            "name",
            "message",
            "test_code",
            "filename",
            "line_no",
            "duration",
        ] {
            assert!(t.get(field).is_some(), "{field}: {t}");
        }
    }
}

#[test]
fn junit_and_tap_list_checks_and_cases_with_skips() {
    let g = grade(&fixture("no-san"));
    let dir = &g.2;
    let text = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("JUnit is XML");
    let mut names = BTreeSet::new();
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        let id = format!(
            "{}::{}",
            case.attribute("classname").unwrap(),
            case.attribute("name").unwrap()
        );
        assert!(names.insert(id));
        let t: f64 = case.attribute("time").unwrap().parse().unwrap();
        assert!(t >= 0.0);
    }
    // 6 checks, 3 written cases, 20 derived ones.
    assert_eq!(names.len(), 29);
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("skipped"))
            .count(),
        // The handshake that requires the failed check, and 5 derived cases that cannot apply.
        6
    );
    assert!(text.chars().all(|c| c >= ' ' || c == '\n' || c == '\t'));

    let tap = std::fs::read_to_string(dir.path().join("report.tap")).unwrap();
    assert!(tap.starts_with("TAP version 14\n1..29\n"), "{tap}");
    assert_eq!(tap.lines().filter(|l| l.starts_with("1..")).count(), 1);
    let points: Vec<&str> = tap
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("not ok "))
        .collect();
    assert_eq!(points.len(), 29);
    assert_eq!(points.iter().filter(|l| l.contains(" # SKIP ")).count(), 6);
    assert!(tap.contains("# score: 27 of 30 points"), "{tap}");
}

/// `text` with each RFC 3339 UTC time (`2026-11-30T11:00:07Z`) as `<time>`.
fn without_times(text: &str) -> String {
    let shape = b"dddd-dd-ddTdd:dd:ddZ";
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let fits = bytes.len() - i >= shape.len()
            && shape.iter().zip(&bytes[i..]).all(|(s, b)| match s {
                b'd' => b.is_ascii_digit(),
                s => s == b,
            });
        if fits {
            out.push_str("<time>");
            i += shape.len();
        } else {
            let ch = text[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[test]
fn the_same_submission_gives_the_same_reports_except_durations() {
    let strip = |dir: &tempfile::TempDir| {
        let mut gs = json(dir, "results.json");
        gs["execution_time"] = 0.into();
        let mut r = json(dir, "report.json");
        for lab in r["labs"].as_array_mut().unwrap() {
            lab["duration_ms"] = 0.into();
            for c in lab["cases"].as_array_mut().unwrap() {
                if c["observed"].is_object() {
                    c["observed"]["duration_ms"] = 0.into();
                }
                c["verification_time"] = "".into();
                // A battery's expired and not-yet-valid copies are dated from the run's clock, which
                // their explanations name.
                if let Some(what) = c["explanation"]["what"].as_str() {
                    c["explanation"]["what"] = without_times(what).into();
                }
            }
        }
        let tap = std::fs::read_to_string(dir.path().join("report.tap")).unwrap();
        let classroom = json(dir, "classroom.json");
        let mut classroom = classroom.clone();
        for t in classroom["tests"].as_array_mut().unwrap() {
            t["duration"] = 0.into();
        }
        (gs, r, tap, classroom)
    };
    let a = grade_fresh(&fixture("no-san"));
    let b = grade_fresh(&fixture("no-san"));
    assert_eq!(strip(&a.2), strip(&b.2));
}

#[test]
fn no_report_contains_a_private_key() {
    let g = grade(&fixture("good"));
    let (stdout, dir) = (&g.1, &g.2);
    assert!(!stdout.contains("PRIVATE KEY"));
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!text.contains("PRIVATE KEY"));
    }
}

#[test]
fn an_invalid_lab_still_writes_every_requested_report() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        "report.json",
        "results.json",
        "classroom.json",
        "junit.xml",
        "report.tap",
    ];
    let p = |f: &str| dir.path().join(f).display().to_string();
    // `${submission}` is not given and the lab has no default: invalid input, exit 2.
    let lab = dir.path().join("lab.yaml");
    std::fs::write(
        &lab,
        "lab: no-var\nauthorities:\n  ca: { from: { cert: \"${submission}/ca/ca.crt\" } }\nchecks:\n  - { name: ca, certificate: ca, ca: true }\n",
    )
    .unwrap();
    let out = mtls(
        dir.path(),
        &[
            "run",
            "lab.yaml",
            "--report-json",
            &p(files[0]),
            "--report-gradescope",
            &p(files[1]),
            "--report-classroom",
            &p(files[2]),
            "--report-junit",
            &p(files[3]),
            "--report-tap",
            &p(files[4]),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`${submission}` is not set"), "{stderr}");
    assert!(stderr.contains("lab.yaml:3:"), "{stderr}");
    for f in files {
        assert!(dir.path().join(f).exists(), "{f} not written");
    }
    let gs = json(&dir, "results.json");
    assert_eq!(gs["score"], 0.0);
    assert_eq!(gs["tests"][0]["status"], "failed");
    assert_eq!(json(&dir, "classroom.json")["status"], "error");
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("error"))
            .count(),
        1
    );
    let tap = std::fs::read_to_string(dir.path().join("report.tap")).unwrap();
    assert!(
        tap.starts_with("TAP version 14\n1..1\nnot ok 1 - "),
        "{tap}"
    );
}

// ---- The lab format: loading, checks, points, requires, validation ----

fn load_err(yaml: &str) -> String {
    match mtls_lab::lab::parse(
        Path::new("inline.yaml"),
        yaml,
        time::OffsetDateTime::now_utc(),
    ) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn good_ca() -> String {
    fixture("good/ca").display().to_string()
}

#[test]
fn a_loaded_authority_with_its_key_signs_generated_certificates() {
    let lab = format!(
        r#"
lab: signs
authorities:
  ca: {{ from: {{ cert: "{ca}/ca.crt", key: "{ca}/ca.key" }} }}
certificates:
  server: {{ issuer: ca, subject: {{ CN: localhost }}, usage: server }}
  client: {{ issuer: ca, subject: {{ CN: alice }}, usage: client }}
servers:
  web: {{ certificate: server, trust: [ca] }}
checks:
  - {{ name: generated client chains to the loaded CA, certificate: client, chains_to: ca, v3: true, key_matches: true }}
cases:
  - name: generated certificates signed by the loaded CA
    client: {{ certificate: client, trust: [ca] }}
    expect: {{ outcome: accepted, server_saw: {{ CN: alice }} }}
"#,
        ca = good_ca()
    );
    let r = common::run(&lab);
    assert_eq!(r.checks[0].status, Status::Passed, "{:?}", r.checks[0]);
    common::assert_accepted(&r, "generated certificates signed by the loaded CA");
}

#[test]
fn each_failed_property_gets_its_own_message() {
    let r = common::run(
        r#"
lab: properties
authorities:
  ca: { subject: { CN: Lab CA } }
  other: { subject: { CN: Other CA } }
certificates:
  leaf: { issuer: other, subject: { CN: wrong }, san: [dns:example.test], usage: client, key: ecdsa-p256, valid: { until: +10d } }
checks:
  - name: everything wrong
    certificate: leaf
    chains_to: ca
    subject: { CN: localhost }
    san_contains: [dns:localhost]
    eku: server
    key: { type: rsa, min_bits: 2048 }
    ca: true
    valid_for_at_least: 30d
    points: 4
  - name: everything right
    certificate: leaf
    chains_to: other
    subject: { CN: wrong }
    san_contains: [dns:example.test]
    eku: client
    key: { type: ecdsa, min_bits: 256 }
    ca: false
    v3: true
    valid_now: true
    key_matches: true
  - name: the CA
    certificate: ca
    ca: true
    path_len: 0
    key_usage: [key_cert_sign, crl_sign]
"#,
    );
    let wrong = &r.checks[0];
    assert_eq!(wrong.status, Status::Failed);
    let m = &wrong.messages;
    let expect = [
        "`leaf`: does not chain to `ca` (CN=Lab CA): it is issued by CN=Other CA (unknown_issuer)",
        "`leaf`: subject CN is `wrong`, expected `localhost`",
        "`leaf`: subjectAltName lacks dns:localhost (it has dns:example.test)",
        "`leaf`: extended key usage does not allow TLS server authentication (it allows clientAuth); clients reject it as a server certificate (wrong_purpose)",
        "`leaf`: the key is ECDSA P-256, expected RSA",
        "`leaf`: not a CA certificate (no basicConstraints CA:TRUE); verifiers refuse it as an issuer (issuer_not_ca)",
    ];
    for e in expect {
        assert!(m.iter().any(|x| x == e), "missing {e:?} in {m:#?}");
    }
    assert!(
        m.iter()
            .any(|x| x.contains("less than the 30 days required")),
        "{m:#?}"
    );
    assert_eq!(m.len(), 7, "{m:#?}");
    assert_eq!(wrong.grade.points, 0.0);
    assert_eq!(wrong.grade.max_points, 4.0);
    assert_eq!(
        r.checks[1].status,
        Status::Passed,
        "{:?}",
        r.checks[1].messages
    );
    assert_eq!(
        r.checks[2].messages,
        ["`ca`: basicConstraints path length is not set (unlimited), expected 0"]
    );
}

#[test]
fn score_parts_give_partial_points_and_requires_skips() {
    let r = common::run(&format!(
        r#"
lab: partial
{}
servers:
  web: {{ certificate: server, trust: [ca] }}
cases:
  - name: rejected but for another reason
    client: {{ certificate: client, trust: [] }}
    expect: {{ outcome: rejected, by: server, reason: certificate_required }}
    score: {{ outcome: 2, by: 1, reason: 1 }}
  - name: needs the first
    client: {{ certificate: client, trust: [ca] }}
    expect: accepted
    points: 5
    requires: [rejected but for another reason]
  - name: accepted with the wrong identity
    client: {{ certificate: client, trust: [ca] }}
    expect: {{ outcome: accepted, server_saw: {{ CN: bob }} }}
    score: {{ outcome: 3, server_saw: 2 }}
"#,
        common::PKI
    ));
    let first = common::case(&r, "rejected but for another reason");
    assert_eq!(first.status, Status::Failed);
    assert_eq!((first.grade.points, first.grade.max_points), (2.0, 4.0));
    let second = common::case(&r, "needs the first");
    assert_eq!(second.status, Status::Skipped);
    assert_eq!(
        second.messages,
        ["skipped: requires `rejected but for another reason`, which failed"]
    );
    assert_eq!((second.grade.points, second.grade.max_points), (0.0, 0.0));
    let third = common::case(&r, "accepted with the wrong identity");
    assert_eq!((third.grade.points, third.grade.max_points), (3.0, 5.0));
    assert_eq!(r.points(), (5.0, 9.0));
}

#[test]
fn grading_fields_are_validated_with_file_line_and_column() {
    let pki = common::PKI;
    let base = format!("lab: v\n{pki}servers:\n  web: {{ certificate: server, trust: [ca] }}\n");
    let e = load_err(&format!(
        "{base}cases:\n  - name: a\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n    score: {{ reason: 1 }}\n"
    ));
    assert!(
        e.contains("`reason` is not part of this case's `expect`"),
        "{e}"
    );
    assert!(e.starts_with("inline.yaml:15:"), "{e}");
    let e = load_err(&format!(
        "{base}cases:\n  - name: a\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n    requires: [b]\n  - name: b\n    client: {{ trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: certificate_required }}\n"
    ));
    assert!(e.contains("`b` is not a check or an earlier case"), "{e}");
    let e = load_err(
        "lab: v\nauthorities:\n  ca: { from: { cert: ca.crt }, subject: { CN: x } }\nchecks:\n  - { name: c, certificate: ca, ca: true }\n",
    );
    assert!(
        e.contains("`subject` describes a generated authority; one loaded with `from` takes it from its file"),
        "{e}"
    );
    let e = load_err(
        "lab: v\nauthorities:\n  ca: { from: { cert: ca.crt } }\ncertificates:\n  leaf: { issuer: ca, subject: { CN: x } }\nchecks:\n  - { name: c, certificate: leaf, ca: false }\n",
    );
    assert!(
        e.contains("loaded without a key (`from.key`) and cannot sign `leaf`"),
        "{e}"
    );
    let e = load_err(
        "lab: v\nauthorities:\n  ca: { from: { cert: ca.crt } }\nchecks:\n  - { name: c, certificate: ca, key_matches: true }\n",
    );
    assert!(
        e.contains("give `from.key` to check that it matches"),
        "{e}"
    );
    let e = load_err(
        "lab: v\nauthorities:\n  ca: { subject: { CN: x } }\nchecks:\n  - { name: c, certificate: ca }\n",
    );
    assert!(e.contains("the check names no property"), "{e}");
}

#[test]
fn a_run_that_errors_still_writes_every_requested_report() {
    let dir = tempfile::tempdir().unwrap();
    // The program cannot be started at all: the runner's problem, an error (exit 3).
    std::fs::write(
        dir.path().join("lab.yaml"),
        format!(
            "lab: cannot-start\n{}servers:\n  ext:\n    command: [no-such-program-mtls-lab]\n    listen: 127.0.0.1:0\n    certificate: server\n    trust: [ca]\ncases:\n  - {{ name: a, client: {{ certificate: client, trust: [ca] }}, expect: accepted, points: 2 }}\n  - {{ name: b, client: {{ trust: [ca] }}, expect: {{ outcome: rejected, by: server, reason: certificate_required }}, hidden: true }}\n",
            common::PKI
        ),
    )
    .unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    let out = mtls(
        dir.path(),
        &[
            "run",
            "lab.yaml",
            "--report-gradescope",
            &p("results.json"),
            "--report-classroom",
            &p("classroom.json"),
            "--report-junit",
            &p("junit.xml"),
            "--report-tap",
            &p("report.tap"),
            "--report-json",
            &p("report.json"),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let gs = json(&dir, "results.json");
    assert_eq!(gs["score"], 0.0);
    assert_eq!(gs["tests"].as_array().unwrap().len(), 2);
    assert!(gs["tests"][0]["output"]
        .as_str()
        .unwrap()
        .starts_with("The grader could not run this test"));
    // The hidden case shows only its name and result, even as an error.
    assert_eq!(gs["tests"][1]["output"], "Hidden test: not passed.");
    assert_eq!(json(&dir, "classroom.json")["status"], "error");
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("error"))
            .count(),
        2
    );
    let tap = std::fs::read_to_string(dir.path().join("report.tap")).unwrap();
    assert!(
        tap.starts_with("TAP version 14\n1..2\nnot ok 1 - "),
        "{tap}"
    );
    assert_eq!(json(&dir, "report.json")["summary"]["errors"], 2);
}

#[test]
fn a_run_stopped_midway_leaves_the_skeleton_report() {
    let dir = tempfile::tempdir().unwrap();
    let marker = "mtls-grading-skeleton-sleeper";
    std::fs::write(
        dir.path().join("lab.yaml"),
        format!(
            "lab: slow\n{}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: slow client\n    client: {{ command: [python3, -c, \"import time; time.sleep(30) # {marker}\"], timeout: 60s }}\n    expect: accepted\n",
            common::PKI
        ),
    )
    .unwrap();
    let results = dir.path().join("results.json");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir.path())
        .args(["run", "lab.yaml", "--report-gradescope"])
        .arg(&results)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the client command runs, then stop the run as a platform's timeout would.
    let started = std::time::Instant::now();
    while !results.exists() && started.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let gs = json(&dir, "results.json");
    assert_eq!(gs["score"], 0.0);
    assert_eq!(gs["tests"][0]["status"], "failed");
    assert!(
        gs["tests"][0]["output"]
            .as_str()
            .unwrap()
            .contains("not run: the run stopped before this ran"),
        "{gs}"
    );
    // Nothing of the run is left behind.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&ps.stdout).contains(marker));
}

#[test]
fn hidden_details_show_on_the_console_only_with_show_hidden() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lab.yaml"),
        format!(
            "lab: hidden\n{}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - {{ name: secret, client: {{ trust: [ca] }}, expect: accepted, hidden: true }}\n",
            common::PKI
        ),
    )
    .unwrap();
    let student = mtls(dir.path(), &["run", "lab.yaml"]);
    let text = String::from_utf8_lossy(&student.stdout);
    assert!(text.contains("FAIL  hidden › secret: (hidden)"), "{text}");
    assert!(!text.contains("certificate_required"), "{text}");
    let instructor = mtls(dir.path(), &["run", "lab.yaml", "--show-hidden"]);
    let text = String::from_utf8_lossy(&instructor.stdout);
    assert!(text.contains("certificate_required"), "{text}");
}

#[test]
fn malformed_and_swapped_files_fail_with_a_message_naming_the_file() {
    let sub = tempfile::tempdir().unwrap();
    let good = fixture("good");
    std::fs::create_dir_all(sub.path().join("ca")).unwrap();
    std::fs::create_dir_all(sub.path().join("server")).unwrap();
    // The CA's files swapped; the server certificate garbage.
    std::fs::copy(good.join("ca/ca.key"), sub.path().join("ca/ca.crt")).unwrap();
    std::fs::copy(good.join("ca/ca.crt"), sub.path().join("ca/ca.key")).unwrap();
    std::fs::write(sub.path().join("server/server.crt"), "not a certificate\n").unwrap();
    std::fs::copy(
        good.join("server/server.key"),
        sub.path().join("server/server.key"),
    )
    .unwrap();
    let s = sub.path().display();
    let r = common::run(&format!(
        r#"
lab: malformed
authorities:
  ca: {{ from: {{ cert: "{s}/ca/ca.crt", key: "{s}/ca/ca.key" }} }}
  grader: {{ subject: {{ CN: grader CA }} }}
certificates:
  server: {{ issuer: ca, from: {{ cert: "{s}/server/server.crt", key: "{s}/server/server.key" }} }}
  grader-server: {{ issuer: grader, subject: {{ CN: localhost }}, usage: server }}
  signed-by-ca: {{ issuer: ca, subject: {{ CN: alice }}, usage: client }}
servers:
  web: {{ certificate: grader-server, trust: [ca] }}
checks:
  - {{ name: ca, certificate: ca, ca: true }}
  - {{ name: server, certificate: server, san_contains: [dns:localhost] }}
cases:
  - name: a client signed by the broken CA
    client: {{ certificate: signed-by-ca, trust: [grader] }}
    expect: accepted
"#
    ));
    // Absolute paths have no `${{VAR}}/` to strip: messages name the files as written.
    assert_eq!(r.checks[0].status, Status::Failed);
    assert!(
        r.checks[0].messages[0].ends_with("ca/ca.crt: not a PEM certificate: no `-----BEGIN CERTIFICATE-----` block (it holds a private key: the certificate and key files are swapped?)"),
        "{:?}",
        r.checks[0].messages
    );
    assert!(
        r.checks[1].messages[0].ends_with(
            "server/server.crt: not a PEM certificate: no `-----BEGIN CERTIFICATE-----` block"
        ),
        "{:?}",
        r.checks[1].messages
    );
    let case = common::case(&r, "a client signed by the broken CA");
    assert_eq!(
        case.status,
        Status::Failed,
        "a student's broken file is a failure"
    );
    // Why the case could not run: the server's trust anchor and the client's certificate both come from the broken CA.
    assert_eq!(case.messages.len(), 2, "{:?}", case.messages);
    assert!(
        case.messages[1].starts_with("cannot issue `signed-by-ca`: its issuer `ca` is unusable: "),
        "{:?}",
        case.messages
    );
}
