//! The command line as a user sees it: exit codes, golden output for runs and for every kind of bad input, the JSON report.
//!
//! Golden files live in `tests/golden/`; `UPDATE_GOLDEN=1 cargo test --test cli` rewrites them.

use std::path::PathBuf;

use crate::common;

use common::{golden, mtls, root};

#[test]
fn every_lab_in_labs_passes() {
    let _turn = common::seed_port();
    let out = mtls(&root(), &["run", "labs"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed") || last.contains(" passed, 0 failed, "),
        "{last}"
    );
    // Only the battery cases that cannot apply (the seed grader's: no CRL, no intermediate) are skipped.
    for line in stdout.lines().filter(|l| l.starts_with("SKIP ")) {
        assert!(line.contains(" › battery: "), "{line}");
    }
    assert!(
        !stdout.contains("FAIL") && !stdout.contains("ERROR"),
        "{stdout}"
    );
}

#[test]
fn seed_lab_output_is_golden() {
    let out = mtls(&root(), &["run", "labs/seed-mtls.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    golden(
        &root().join("tests/golden/run/seed-mtls.stdout"),
        &String::from_utf8_lossy(&out.stdout),
    );
}

#[test]
fn a_failed_case_shows_expected_observed_file_and_line_and_exits_1() {
    let dir = root().join("tests/golden/run");
    let out = mtls(&dir, &["run", "wrong-reason.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    golden(
        &dir.join("wrong-reason.stdout"),
        &String::from_utf8_lossy(&out.stdout),
    );
}

/// The side and the reason of a rejection, each checked on its own through the binary: the other side
/// rejecting for the same reason, the expected side rejecting for another reason, and a side without a
/// reason (a client command's rejection left open) met by the other side's rejection each fail the case,
/// exit 1, and show both verdicts.
#[test]
fn a_wrong_side_or_a_wrong_reason_alone_fails_the_case() {
    let dir = root().join("tests/golden/run");
    let cases = [
        (
            "other-side-same-reason.yaml",
            "FAIL  other-side-same-reason › the client does not trust the server's CA: rejected by client: unknown_issuer (server received alert unknown_ca)",
            "expected: rejected by server: unknown_issuer",
            "observed: rejected by client: unknown_issuer (server received alert unknown_ca)",
        ),
        (
            "same-side-other-reason.yaml",
            "FAIL  same-side-other-reason › no client certificate: rejected by server: certificate_required (client received alert certificate_required)",
            "expected: rejected by server: unknown_issuer",
            "observed: rejected by server: certificate_required (client received alert certificate_required)",
        ),
        (
            "side-without-reason.yaml",
            "FAIL  side-without-reason › openssl s_client without a client certificate: rejected by server: certificate_required (client received alert certificate_required)",
            "expected: rejected by client",
            "observed: rejected by server: certificate_required (client received alert certificate_required)",
        ),
    ];
    for (file, fail, expected, observed) in cases {
        let out = mtls(&dir, &["run", file]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{file}:\n{stdout}");
        let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
        assert_eq!(lines.first().copied(), Some(fail), "{file}:\n{stdout}");
        for line in [expected, observed, "0 passed, 1 failed"] {
            assert!(
                lines.contains(&line),
                "{file}: no line `{line}` in\n{stdout}"
            );
        }
    }
}

#[test]
fn every_bad_input_exits_2_with_a_golden_message() {
    let dir = root().join("tests/golden/bad");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 15,
        "expected the bad-input corpus, found {}",
        inputs.len()
    );
    for input in inputs {
        let name = input.file_name().unwrap().to_str().unwrap();
        let started = std::time::Instant::now();
        let out = mtls(&dir, &["run", name]);
        assert!(started.elapsed().as_secs() < 20, "{name} took too long");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{name}: nothing may run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(name),
            "{name}: the message must name the file:\n{stderr}"
        );
        golden(&input.with_extension("stderr"), &stderr);
    }
}

/// Without libfaketime (here `MTLS_LAB_LIBFAKETIME` names no file) a client command or a server command
/// cannot run at the lab's clock: `check` and `run` refuse `at:` for that case, at its file, line and
/// column.
#[test]
fn a_clock_that_cannot_reach_a_program_is_refused_without_faketime() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clock.yaml"),
        "lab: clock\nauthorities:\n  ca: { subject: { CN: Lab CA } }\ncertificates:\n  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: server }\nservers:\n  web: { certificate: server, client_auth: none }\ncases:\n  - name: curl a year on\n    at: +365d\n    client: { command: [curl, \"{url}\"] }\n    expect: { outcome: rejected, by: client, reason: expired }\n  - name: the built-in client a year on\n    at: +365d\n    client: { trust: [ca] }\n    expect: { outcome: rejected, by: client, reason: expired }\n",
    )
    .unwrap();
    for command in ["check", "run"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
            .current_dir(dir.path())
            .args([command, "clock.yaml"])
            .env(
                "MTLS_LAB_LIBFAKETIME",
                dir.path().join("no-such-libfaketime.so.1"),
            )
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("error: cases[0].at: this case's clock (`at:`) cannot reach the client command: it runs at the machine's time unless libfaketime is preloaded into it, and libfaketime is not installed (looked for /usr/lib/<triplet>/faketime/libfaketime.so.1, /usr/lib/faketime/, /usr/local/lib/faketime/, or $MTLS_LAB_LIBFAKETIME)\n  --> clock.yaml:10:9\n"),
            "{command}: {stderr}"
        );
        // The built-in client verifies at any clock: only the command's case is refused.
        assert_eq!(stderr.matches("error:").count(), 1, "{command}: {stderr}");
    }
}

#[test]
fn a_missing_file_exits_2() {
    let out = mtls(&root(), &["run", "labs/no-such-lab.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("labs/no-such-lab.yaml") && stderr.contains("cannot read"),
        "{stderr}"
    );
}

#[test]
fn a_directory_without_labs_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = mtls(dir.path(), &["run", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no *.yaml lab files"));
}

#[test]
fn one_bad_lab_does_not_stop_the_others_but_exits_2() {
    // Issue 15: the valid lab runs; the invalid one is an error line (see invalid_labs:: for reports).
    let out = mtls(
        &root(),
        &[
            "run",
            "labs/seed-mtls.yaml",
            "tests/golden/bad/dangling-reference.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("PASS  seed-mtls › valid client is accepted"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "ERROR dangling-reference (tests/golden/bad/dangling-reference.yaml): invalid lab file"
        ),
        "{stdout}"
    );
}

#[test]
fn json_report_has_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = mtls(
        &root(),
        &[
            "run",
            "labs/seed-mtls.yaml",
            "--report-json",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let lab = &json["labs"][0];
    assert_eq!(lab["file"], "labs/seed-mtls.yaml");
    let cases = lab["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    let accepted = &cases[0];
    assert_eq!(accepted["name"], "valid client is accepted");
    assert_eq!(accepted["status"], "passed");
    assert_eq!(accepted["expected"]["outcome"], "accepted");
    assert_eq!(accepted["observed"]["outcome"], "accepted");
    assert_eq!(accepted["observed"]["server_saw"]["CN"], "labclient");
    assert_eq!(accepted["observed"]["client_saw"]["CN"], "localhost");
    assert!(accepted["observed"]["tls_version"]
        .as_str()
        .unwrap()
        .starts_with("TLSv1."));
    assert!(accepted["observed"]["duration_ms"].is_u64());
    assert_eq!(accepted["client_certificate"], "client");
    assert_eq!(accepted["server_certificate"], "server");
    assert_eq!(accepted["server_name"], "localhost");
    let rejected = &cases[1];
    assert_eq!(rejected["expected"]["by"], "server");
    assert_eq!(rejected["expected"]["reason"], "certificate_required");
    assert_eq!(rejected["observed"]["by"], "server");
    assert_eq!(rejected["observed"]["reason"], "certificate_required");
    assert_eq!(rejected["observed"]["alert_sent"], "certificate_required");
    assert!(rejected["client_certificate"].is_null());
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        !text.contains("PRIVATE KEY"),
        "a report must never contain a private key"
    );
}

#[test]
fn a_report_in_a_missing_directory_exits_2_before_the_run() {
    let out = mtls(
        &root(),
        &[
            "run",
            "labs/seed-mtls.yaml",
            "--report-json",
            "/nonexistent-dir/report.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the JSON report"));
    assert!(out.stdout.is_empty(), "nothing runs");
}

#[test]
fn committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(root().join("schemas/lab.schema.json")).unwrap();
    assert_eq!(
        committed,
        mtls_lab::schema_json(),
        "schemas/lab.schema.json is stale: run `cargo run -- schema > schemas/lab.schema.json`"
    );
    let out = mtls(&root(), &["schema"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
    let fragment = std::fs::read_to_string(root().join("schemas/fragment.schema.json")).unwrap();
    assert_eq!(
        fragment,
        mtls_lab::fragment_schema_json(),
        "schemas/fragment.schema.json is stale: run `cargo run -- schema --fragment > schemas/fragment.schema.json`"
    );
}

#[test]
fn every_schema_property_has_a_description_and_an_example() {
    fn walk(v: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
            for (k, p) in props {
                if p.get("description").is_none() {
                    missing.push(format!("{path}.{k}: description"));
                }
                if p.get("examples").is_none() {
                    missing.push(format!("{path}.{k}: example"));
                }
                walk(p, &format!("{path}.{k}"), missing);
            }
        }
        if let Some(defs) = v.get("definitions").and_then(|d| d.as_object()) {
            for (k, d) in defs {
                walk(d, k, missing);
            }
        }
    }
    for text in [mtls_lab::schema_json(), mtls_lab::fragment_schema_json()] {
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        let mut missing = Vec::new();
        walk(&schema, "", &mut missing);
        assert!(
            missing.is_empty(),
            "properties without a description or an example: {missing:?}"
        );
    }
}

#[test]
fn every_reason_code_is_documented_in_one_readme_line() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for r in mtls_lab::reason::Reason::ALL {
        let rows = readme
            .lines()
            .filter(|l| l.starts_with(&format!("| `{}` |", r.code())))
            .count();
        assert_eq!(
            rows,
            1,
            "reason `{}` must have exactly one README line",
            r.code()
        );
    }
}

#[test]
fn every_exit_code_is_documented() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for code in 0..=3 {
        assert!(
            readme.contains(&format!("\n| {code} |")),
            "exit code {code} is not in the README"
        );
    }
}

#[test]
fn check_lists_every_error_of_a_file() {
    let dir = root().join("tests/golden/bad");
    let out = mtls(&dir, &["check", "four-mistakes.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("error: ").count(), 4, "{stderr}");
    golden(&dir.join("four-mistakes.stderr"), &stderr);
}
