//! Load mode (`mtls-lab load`) and cases in parallel (`run --jobs`): exact verdict counts under 64
//! concurrent connections against the seed lab, a wrong expectation counted and exiting 1, the JSON
//! summary's stable fields as a golden file, bad arguments, and `run --jobs 4` giving the same reports
//! as `--jobs 1`. Counts stay small; timings are never asserted.

use std::path::Path;

use crate::common::{golden, mtls, root};

const ACCEPTED: &str = "valid client is accepted";
const NO_CERT: &str = "no client certificate is rejected by the server";
const UNTRUSTED: &str = "client that does not trust the lab CA rejects the server";

/// A small ECDSA lab: one accepted case, and one whose expectation is wrong (the server requires a
/// certificate the client does not present).
const WRONG_LAB: &str = r#"
lab: wrong-expectation
authorities:
  ca: { subject: { CN: Load CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, usage: server }
  client: { issuer: ca, subject: { CN: alice }, usage: client }
servers:
  web: { certificate: server, trust: [ca] }
cases:
  - name: good
    client: { certificate: client, trust: [ca] }
    expect: { outcome: accepted, server_saw: { CN: alice }, status: 200 }
  - name: wrongly expected
    client: { trust: [ca] }
    expect: accepted
"#;

/// The summary with what varies between runs (timings) set to 0.
fn stable(summary: &serde_json::Value) -> String {
    let mut v = summary.clone();
    for key in ["elapsed_ms", "handshakes_per_second"] {
        v[key] = 0.into();
    }
    for key in ["p50", "p90", "p99", "max"] {
        v["latency_ms"][key] = 0.into();
    }
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The verdicts of case `i` as (verdict, count, as expected).
fn verdicts(summary: &serde_json::Value, i: usize) -> Vec<(String, u64, bool)> {
    summary["cases"][i]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["verdict"].as_str().unwrap().to_string(),
                v["count"].as_u64().unwrap(),
                v["as_expected"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_seed_lab_under_64_connections_gives_exact_verdict_counts_and_no_wrong_one() {
    let out = mtls(
        &root(),
        &[
            "load",
            "labs/seed-mtls.yaml",
            "--case",
            ACCEPTED,
            "--case",
            NO_CERT,
            "--case",
            &format!("{UNTRUSTED}=2"),
            "--connections",
            "64",
            "--count",
            "256",
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let s = json(&out);
    assert_eq!(s["handshakes"], 256);
    assert_eq!(
        (s["wrong"].as_u64(), s["errors"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(verdicts(&s, 0), [("accepted".to_string(), 64, true)]);
    assert_eq!(
        verdicts(&s, 1),
        [(
            "rejected by server: certificate_required".to_string(),
            64,
            true
        )]
    );
    assert_eq!(
        verdicts(&s, 2),
        [("rejected by client: unknown_issuer".to_string(), 128, true)]
    );
    golden(
        &root().join("tests/golden/load/seed-mtls.json"),
        &stable(&s),
    );
}

#[test]
fn handshake_only_and_resume_keep_the_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), WRONG_LAB).unwrap();
    let out = mtls(
        dir.path(),
        &[
            "load",
            "lab.yaml",
            "--case",
            "good",
            "-c",
            "8",
            "-n",
            "40",
            "--handshake-only",
            "--resume",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = json(&out);
    assert_eq!(verdicts(&s, 0), [("accepted".to_string(), 40, true)]);
    // The first connections are full handshakes (nothing to resume yet); the built-in server issues
    // tickets, so later ones resume.
    let resumed = s["resumed"].as_u64().unwrap();
    assert!(resumed > 0 && resumed < 40, "resumed {resumed} of 40");
}

#[test]
fn a_wrong_expectation_under_load_is_counted_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), WRONG_LAB).unwrap();
    let out = mtls(
        dir.path(),
        &[
            "load",
            "lab.yaml",
            "--case",
            "good=3",
            "--case",
            "wrongly expected",
            "-c",
            "8",
            "-n",
            "40",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}");
    assert!(
        stdout.contains("    good (weight 3; expected accepted): 30 handshakes\n")
            || stdout.contains("  good (weight 3; expected accepted): 30 handshakes\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("      10  WRONG  rejected by server: certificate_required\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("10 wrong verdicts, 0 errors\n"),
        "{stdout}"
    );
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), WRONG_LAB).unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["load", "lab.yaml", "--case", "godo"],
            "error: lab.yaml: the lab has no case named `godo` (did you mean `good`?); its cases: good, wrongly expected\n",
        ),
        (
            &["load", "lab.yaml", "--case", "good", "--connections", "0"],
            "invalid value '0' for '--connections <N>': 0 is not in 1..=4096",
        ),
        (
            &["load", "lab.yaml", "--case", "good=0"],
            "weight 0 of `good`: a weight is 1 to 10000",
        ),
        (
            &["load", "lab.yaml", "--case", "good", "--count", "5", "--duration", "1s"],
            "the argument '--count <N>' cannot be used with '--duration <DURATION>'",
        ),
    ];
    for (args, message) in cases {
        let out = mtls(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// A lab of failing, passing and skipped cases, one of which requires an earlier one.
const MIXED_LAB: &str = r#"
lab: mixed
authorities:
  ca: { subject: { CN: Mixed CA } }
  other: { subject: { CN: Other CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, usage: server }
  alice: { issuer: ca, subject: { CN: alice }, usage: client }
  mallory: { issuer: other, subject: { CN: mallory }, usage: client }
servers:
  web: { certificate: server, trust: [ca] }
cases:
  - name: alice
    client: { certificate: alice, trust: [ca] }
    expect: { outcome: accepted, server_saw: { CN: alice } }
  - name: mallory is wrongly expected
    client: { certificate: mallory, trust: [ca] }
    expect: accepted
  - name: after mallory
    requires: [mallory is wrongly expected]
    client: { certificate: alice, trust: [ca] }
    expect: accepted
  - name: no certificate
    client: { trust: [ca] }
    expect: { outcome: rejected, by: server, reason: certificate_required }
  - name: untrusted server
    client: { certificate: alice, trust: [other] }
    expect: { outcome: rejected, by: client, reason: unknown_issuer }
  - name: alice again
    client: { certificate: alice, trust: [ca] }
    expect: accepted
"#;

/// `run` of `paths` with `--jobs N` and every text report: (console, TAP, JUnit without times, JSON
/// without durations, verification times and random serials).
fn reports(dir: &Path, paths: &[&str], jobs: &str) -> Vec<String> {
    let tap = dir.join(format!("r{jobs}.tap"));
    let junit = dir.join(format!("r{jobs}.xml"));
    let json = dir.join(format!("r{jobs}.json"));
    let mut args = vec!["run", "--jobs", jobs];
    args.extend_from_slice(paths);
    let (tap_s, junit_s, json_s) = (
        tap.display().to_string(),
        junit.display().to_string(),
        json.display().to_string(),
    );
    args.extend_from_slice(&[
        "--report-tap",
        &tap_s,
        "--report-junit",
        &junit_s,
        "--report-json",
        &json_s,
    ]);
    let out = mtls(dir, &args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let volatile = ["duration_ms", "verification_time", "serial"];
    let json = std::fs::read_to_string(&json).unwrap();
    let json: String = json
        .lines()
        .filter(|l| !volatile.iter().any(|k| l.contains(&format!("\"{k}\""))))
        .map(|l| format!("{l}\n"))
        .collect();
    let junit: String = std::fs::read_to_string(&junit)
        .unwrap()
        .split(" time=\"")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_string()
            } else {
                part.split_once('"')
                    .map_or(part, |(_, rest)| rest)
                    .to_string()
            }
        })
        .collect();
    vec![
        String::from_utf8_lossy(&out.stdout).into_owned(),
        std::fs::read_to_string(&tap).unwrap(),
        junit,
        json,
    ]
}

#[test]
fn run_jobs_4_gives_the_same_reports_as_jobs_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mixed.yaml"), MIXED_LAB).unwrap();
    for lab in [
        "name-mismatch-dns-and-ip.yaml",
        "wrong-eku-both-ways.yaml",
        "tls-versions-and-ciphers.yaml",
    ] {
        std::fs::copy(root().join("labs").join(lab), dir.path().join(lab)).unwrap();
    }
    let paths = [
        "mixed.yaml",
        "name-mismatch-dns-and-ip.yaml",
        "wrong-eku-both-ways.yaml",
        "tls-versions-and-ciphers.yaml",
    ];
    let one = reports(dir.path(), &paths, "1");
    let four = reports(dir.path(), &paths, "4");
    for (name, (a, b)) in ["console", "TAP", "JUnit", "JSON"]
        .iter()
        .zip(one.iter().zip(&four))
    {
        let first = a.lines().zip(b.lines()).find(|(x, y)| x != y);
        assert!(
            a == b,
            "{name} differs between --jobs 1 and --jobs 4; first difference: {first:?}"
        );
    }
    assert!(one[1].contains("not ok 2 - mixed › mallory is wrongly expected"));
    assert!(one[1].contains("# SKIP"), "{}", one[1]);
}

/// server.py sends `certificate_expired` for an expired and a not yet valid client alike: `run` tells
/// them apart from the program's own words, which load cannot attribute to one connection, so load
/// refuses the case up front (exit 2) rather than count "rejected by server" as WRONG.
#[test]
fn a_server_command_rejection_only_its_words_decide_is_refused_up_front() {
    let out = mtls(
        &root(),
        &[
            "load",
            "labs/peers/seed-python-server.yaml",
            "--case",
            "valid client is accepted",
            "--case",
            "expired client is rejected",
            "-n",
            "20",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: labs/peers/seed-python-server.yaml: case `expired client is rejected` expects the server command to reject with reason `expired`, which its alert does not tell apart; `run` decides it from the program's own output, which concurrent connections share, so load cannot judge it (run it with `mtls-lab run`)\n"
    );
    assert!(out.stdout.is_empty());
}

/// `run --jobs 0` is refused with clap's range (exit 2), and `load --help` promises from `-v` only what
/// it does for load (no trace: load prints its progress line and summary whatever -v).
#[test]
fn jobs_0_is_refused_and_load_help_claims_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), WRONG_LAB).unwrap();
    let out = mtls(dir.path(), &["run", "--jobs", "0", "lab.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value '0' for '--jobs <N>': 0 is not in 1..=4096"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let help = mtls(dir.path(), &["load", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("with `run`, -v the readable trace of every case"),
        "{text}"
    );
    assert!(
        !text.contains("More detail: -v the readable trace"),
        "{text}"
    );
}
