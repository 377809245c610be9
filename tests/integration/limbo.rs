//! `mtls-lab limbo`: the x509-limbo subset through real handshakes — the built-in verifier's exact
//! agreement and reasons on the whole subset, curl and openssl on small filtered subsets, the stand-in
//! key rule for keyless testcases, the exceptions file and bad input.

use std::path::Path;

use serde_json::Value;

use crate::common::{golden, mtls, root};

const SUBSET: &str = "conformance/x509-limbo-subset.json";
const EXCEPTIONS: &str = "conformance/limbo-exceptions.json";

/// Runs `mtls-lab limbo` from the crate root with `args`, its JSON report in a temporary directory;
/// returns the exit code, stdout, stderr and the report (`Null` when none was written).
fn limbo(args: &[&str]) -> (i32, String, String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("limbo.json");
    let out_s = out.display().to_string();
    let mut all = vec!["limbo", SUBSET, "--json", &out_s];
    all.extend_from_slice(args);
    let o = mtls(&root(), &all);
    let report = std::fs::read_to_string(&out)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        report,
    )
}

/// The result of testcase `id` under the report's `verifier`-th verifier.
fn result<'a>(report: &'a Value, verifier: usize, id: &str) -> &'a Value {
    report["verifiers"][verifier]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

/// Asserts `id` was rejected by `side` for `reason` and how that compares with limbo.
fn assert_rejected(report: &Value, v: usize, id: &str, side: &str, reason: &str, agreement: &str) {
    let r = result(report, v, id);
    assert_eq!(
        (
            r["observed"]["outcome"].as_str(),
            r["observed"]["side"].as_str(),
            r["observed"]["reason"].as_str(),
            r["agreement"].as_str()
        ),
        (Some("rejected"), Some(side), Some(reason), Some(agreement)),
        "{id}: {r:#}"
    );
}

fn assert_accepted(report: &Value, v: usize, id: &str, agreement: &str) {
    let r = result(report, v, id);
    assert_eq!(
        (r["observed"]["outcome"].as_str(), r["agreement"].as_str()),
        (Some("accepted"), Some(agreement)),
        "{id}: {r:#}"
    );
}

fn stand_in_accepted(report: &Value, v: usize, id: &str) -> bool {
    result(report, v, id)["notes"].as_array().is_some_and(|n| {
        n.iter().any(|n| {
            n.as_str().is_some_and(|n| {
                n.starts_with("chain accepted (stand-in key: signature refused as expected)")
            })
        })
    })
}

/// The whole subset against the built-in verifier: rustls-webpki's own agreement or better (132 of its
/// 191), every disagreement a listed exception, and exact reasons from the deciding side.
#[test]
fn builtin_on_the_whole_subset() {
    let (code, stdout, stderr, report) = limbo(&["--exceptions", EXCEPTIONS]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let counts = &report["verifiers"][0]["counts"];
    assert_eq!(
        (
            counts["applicable"].as_u64(),
            counts["agree"].as_u64(),
            counts["disagree"].as_u64(),
            counts["not_applicable"].as_u64(),
            counts["errors"].as_u64()
        ),
        (Some(200), Some(136), Some(64), Some(8), Some(0)),
        "{counts:#}"
    );
    // The client's own rustls error, classified.
    assert_rejected(
        &report,
        0,
        "rfc5280::validity::expired-leaf",
        "client",
        "expired",
        "agree",
    );
    assert_rejected(
        &report,
        0,
        "webpki::san::wildcard-embedded-leftmost-san",
        "client",
        "name_mismatch",
        "agree",
    );
    assert_rejected(
        &report,
        0,
        "rfc5280::ca-as-leaf",
        "client",
        "ca_used_as_leaf",
        "disagree",
    );
    assert_accepted(&report, 0, "webpki::san::exact-dns-san", "agree");
    assert!(!stand_in_accepted(&report, 0, "webpki::san::exact-dns-san"));
    // A CLIENT testcase: the built-in server's own error; its names are not checkable.
    assert_rejected(
        &report,
        0,
        "rfc5280::nc::nc-permits-email-exact",
        "server",
        "name_constraints",
        "disagree",
    );
    let notes = result(&report, 0, "rfc5280::nc::nc-permits-email-exact")["notes"].to_string();
    assert!(
        notes.contains("a TLS server does not check a client certificate's names"),
        "{notes}"
    );
    // Keyless: the chain accepted, then the stand-in's signature refused (rustls verifies the chain
    // first); and a keyless chain the verifier refuses is a real rejection with its reason.
    assert_accepted(&report, 0, "online::google.com", "agree");
    assert!(stand_in_accepted(&report, 0, "online::google.com"));
    assert_rejected(
        &report,
        0,
        "webpki::explicit-curve",
        "client",
        "unsupported_algorithm",
        "agree",
    );
    assert!(!stand_in_accepted(&report, 0, "webpki::explicit-curve"));
    // Not applicable, with why.
    let na = result(&report, 0, "pathlen::max-chain-depth-0");
    assert_eq!(na["agreement"], "not_applicable");
    assert!(
        na["observed"]["why"]
            .as_str()
            .unwrap()
            .starts_with("feature max-chain-depth"),
        "{na:#}"
    );
    let no_name = result(&report, 0, "rfc5280::nc::permitted-dn-match");
    assert_eq!(
        no_name["observed"]["why"],
        "no expected peer name: this client always verifies one"
    );
    // The console, with the run's duration left out.
    let console = stdout
        .lines()
        .map(|l| match l.rfind(" (") {
            Some(at) if l.ends_with(" s)") => format!("{} (T s)", &l[..at]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    golden(
        &root().join("tests/golden/limbo/builtin.out"),
        &(console + "\n"),
    );
}

/// openssl s_client on the validity testcases: its own words, read as reasons; RFC 5280's inclusive
/// notAfter is OpenSSL's known disagreement.
#[test]
fn openssl_on_the_validity_testcases() {
    let (code, stdout, stderr, report) = limbo(&[
        "--verifier",
        "openssl",
        "--filter",
        "rfc5280::validity::",
        "--exceptions",
        EXCEPTIONS,
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_rejected(
        &report,
        0,
        "rfc5280::validity::expired-leaf",
        "client",
        "expired",
        "agree",
    );
    assert_rejected(
        &report,
        0,
        "rfc5280::validity::expired-root",
        "client",
        "expired",
        "agree",
    );
    assert_rejected(
        &report,
        0,
        "rfc5280::validity::notafter-exact",
        "client",
        "expired",
        "disagree",
    );
    assert_eq!(
        result(&report, 0, "rfc5280::validity::expired-leaf")["observed"]["detail"],
        "verify error:num=10:certificate has expired"
    );
    assert!(stdout.contains("openssl: known     rfc5280::validity::notafter-exact (expects SUCCESS): rejected by client: expired"), "{stdout}");
}

/// A keyless real-world chain through `openssl s_client`: the chain verified, then OpenSSL's `bad
/// signature` on the stand-in's CertificateVerify — accepted under the stand-in rule.
#[test]
fn openssl_keyless_chain_is_accepted_by_the_stand_in_rule() {
    let (code, stdout, stderr, report) =
        limbo(&["--verifier", "openssl", "--filter", "online::google.com"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_accepted(&report, 0, "online::google.com", "agree");
    assert!(
        stand_in_accepted(&report, 0, "online::google.com"),
        "{report:#}"
    );
}

/// curl at the validation time under libfaketime: a name mismatch in curl's words, expiry at 2022, and a
/// CLIENT testcase not applicable, with why.
#[test]
fn curl_on_a_few_testcases() {
    if mtls_lab::lab::faketime::library().is_none() {
        println!("SKIPPED curl_on_a_few_testcases: libfaketime is not installed (apt-get install libfaketime; .ci/run installs it)");
        return;
    }
    let (code, stdout, stderr, report) = limbo(&[
        "--verifier",
        "curl",
        "--filter",
        "wildcard-embedded-leftmost",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_rejected(
        &report,
        0,
        "webpki::san::wildcard-embedded-leftmost-san",
        "client",
        "name_mismatch",
        "agree",
    );
    let (code, _, _, report) = limbo(&["--verifier", "curl", "--filter", "expired-leaf"]);
    assert_eq!(code, 0);
    assert_rejected(
        &report,
        0,
        "rfc5280::validity::expired-leaf",
        "client",
        "expired",
        "agree",
    );
    assert_eq!(
        result(&report, 0, "rfc5280::validity::expired-leaf")["observed"]["detail"],
        "curl: (60) SSL certificate problem: certificate has expired"
    );
    // One second before notBefore (and a fractional notBefore): curl's clock is stopped at the
    // validation time, so it refuses them every time (a running clock crossed them now and then).
    for _ in 0..3 {
        let (code, _, _, report) = limbo(&[
            "--verifier",
            "curl",
            "--filter",
            "not-yet-valid-1-second",
            "--filter",
            "notbefore-fractional",
        ]);
        assert_eq!(code, 0);
        for id in [
            "rfc5280::validity::not-yet-valid-1-second",
            "rfc5280::validity::notbefore-fractional",
        ] {
            assert_rejected(&report, 0, id, "client", "not_yet_valid", "agree");
        }
    }
    let (code, _, _, report) = limbo(&["--verifier", "curl", "--filter", "nc-permits-email-exact"]);
    assert_eq!(code, 0);
    let r = result(&report, 0, "rfc5280::nc::nc-permits-email-exact");
    assert_eq!(r["agreement"], "not_applicable");
    assert!(
        r["observed"]["why"]
            .as_str()
            .unwrap()
            .contains("curl is a client"),
        "{r:#}"
    );
}

/// Exit codes: an unlisted disagreement and a stale exception are 1; an exceptions file naming an
/// unknown testcase, and bad JSON, are 2 with the file's line and column.
#[test]
fn exit_codes_follow_the_exceptions_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _, _) = limbo(&["--filter", "rfc5280::ca-as-leaf"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("builtin: DISAGREE  rfc5280::ca-as-leaf (expects SUCCESS): rejected by client: ca_used_as_leaf"), "{stdout}");
    let stale = dir.path().join("stale.json");
    std::fs::write(
        &stale,
        r#"{"builtin": [{"id": "rfc5280::validity::expired-leaf", "why": "wrong"}]}"#,
    )
    .unwrap();
    let (code, stdout, _, _) = limbo(&[
        "--filter",
        "expired-leaf",
        "--exceptions",
        stale.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("builtin: STALE     rfc5280::validity::expired-leaf agrees now"),
        "{stdout}"
    );
    let unknown = dir.path().join("unknown.json");
    std::fs::write(&unknown, r#"{"builtin": [{"id": "no::such", "why": "x"}]}"#).unwrap();
    let (code, _, stderr, _) = limbo(&["--exceptions", unknown.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("lists `no::such`, which is no testcase of the limbo file"),
        "{stderr}"
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\"version\": 1,\n  \"testcases\": [\n    {\"id\": 3}\n]}\n",
    )
    .unwrap();
    let o = mtls(Path::new(dir.path()), &["limbo", "bad.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: bad.json:3:12: invalid type: integer `3`, expected a string\n"
    );
}

/// The order the stand-in rule relies on: rustls (and OpenSSL) verify the chain before the
/// CertificateVerify signature. With the keys taken out, an expired leaf is still refused as expired,
/// not for its signature, and a good chain is accepted by the rule — on both verifiers.
#[test]
fn chains_are_judged_before_the_stand_in_signature() {
    let text = std::fs::read_to_string(root().join(SUBSET)).unwrap();
    let mut file: Value = serde_json::from_str(&text).unwrap();
    let keep = [
        "rfc5280::validity::expired-leaf",
        "webpki::san::exact-dns-san",
    ];
    let cases = file["testcases"].as_array_mut().unwrap();
    cases.retain(|t| keep.contains(&t["id"].as_str().unwrap()));
    for t in cases.iter_mut() {
        t["peer_certificate_key"] = Value::Null;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keyless.json"), file.to_string()).unwrap();
    for verifier in ["builtin", "openssl"] {
        let o = mtls(
            dir.path(),
            &[
                "limbo",
                "keyless.json",
                "--verifier",
                verifier,
                "--json",
                "out.json",
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.json")).unwrap())
                .unwrap();
        assert_rejected(
            &report,
            0,
            "rfc5280::validity::expired-leaf",
            "client",
            "expired",
            "agree",
        );
        assert!(!stand_in_accepted(
            &report,
            0,
            "rfc5280::validity::expired-leaf"
        ));
        assert_accepted(&report, 0, "webpki::san::exact-dns-san", "agree");
        assert!(
            stand_in_accepted(&report, 0, "webpki::san::exact-dns-san"),
            "{verifier}: {report:#}"
        );
    }
}

/// CLIENT testcases against `openssl s_server -Verify 1`: the server's own words; a built-in rustls
/// client presents the chain.
#[test]
fn openssl_s_server_verifies_client_testcases() {
    let (code, stdout, stderr, report) = limbo(&[
        "--verifier",
        "openssl",
        "--filter",
        "nc-permits-email-literal-asterisk",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_accepted(
        &report,
        0,
        "rfc5280::nc::nc-permits-email-literal-asterisk-exact-match",
        "agree",
    );
    assert_rejected(
        &report,
        0,
        "rfc5280::nc::nc-permits-email-literal-asterisk-rejects-user",
        "server",
        "name_constraints",
        "agree",
    );
    assert_eq!(
        result(
            &report,
            0,
            "rfc5280::nc::nc-permits-email-literal-asterisk-rejects-user"
        )["observed"]["detail"],
        "verify error:num=47:permitted subtree violation"
    );
}

/// The JSON report's shape, on the validity testcases (the run's duration left out).
#[test]
fn json_report_golden() {
    let (code, _, stderr, mut report) = limbo(&[
        "--filter",
        "rfc5280::validity::",
        "--exceptions",
        EXCEPTIONS,
    ]);
    assert_eq!(code, 0, "{stderr}");
    report["file"] = Value::from("conformance/x509-limbo-subset.json");
    for v in report["verifiers"].as_array_mut().unwrap() {
        v["elapsed_ms"] = Value::from(0);
    }
    golden(
        &root().join("tests/golden/limbo/validity.json"),
        &(serde_json::to_string_pretty(&report).unwrap() + "\n"),
    );
}

/// The pids of processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&cmdline).contains(marker) {
                out.push(pid);
            }
        }
    }
    out
}

/// A signal mid-run (SIGINT, then SIGTERM): exit 130, the results so far printed and marked
/// interrupted, no openssl left running and TMPDIR (each testcase's directory) empty.
#[test]
fn a_signal_stops_the_programs_and_removes_the_temporary_directories() {
    use std::time::{Duration, Instant};
    for signal in [rustix::process::Signal::INT, rustix::process::Signal::TERM] {
        let tmp = tempfile::tempdir().unwrap();
        // Every program's files are in TMPDIR: its path is on their command lines.
        let marker = tmp.path().display().to_string();
        let out = tempfile::tempdir().unwrap();
        let json = out.path().join("limbo.json");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
            .current_dir(root())
            .args([
                "limbo",
                SUBSET,
                "--verifier",
                "openssl",
                "-j",
                "2",
                "--json",
            ])
            .arg(&json)
            .env("TMPDIR", tmp.path())
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Signalled once an openssl of the run is running.
        let deadline = Instant::now() + Duration::from_secs(30);
        while processes_with(&marker).is_empty() {
            assert!(Instant::now() < deadline, "no openssl started");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
            signal,
        )
        .unwrap();
        let o = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(o.status.code(), Some(130), "{signal:?}: {stdout}{stderr}");
        assert!(
            stderr.contains("interrupted: stopped ")
                && stderr.contains(" testcases ran before the signal"),
            "{stderr}"
        );
        let summary = stdout.lines().last().unwrap_or_default();
        assert!(
            summary.starts_with("openssl: ") && summary.contains("; interrupted: "),
            "{stdout}"
        );
        assert!(
            processes_with(&marker).is_empty(),
            "{signal:?}: left running: {:?}",
            processes_with(&marker)
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "{signal:?}: left in TMPDIR: {left:?}");
        // The JSON report has the results finished before the signal, and says it was interrupted.
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(report["interrupted"], true);
        let ran = report["verifiers"][0]["results"].as_array().unwrap().len();
        assert!(
            stderr.contains(&format!(
                "openssl: {ran} of 208 testcases ran before the signal"
            )),
            "{ran}: {stderr}"
        );
    }
}

/// A reader that goes away (`limbo ... | head -1`): a quiet stop, exit 0, no panic.
#[test]
fn a_closed_standard_output_stops_quietly() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(root())
        .args(["limbo", SUBSET, "--filter", "validity"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before its first line.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

/// `--filter` is a substring of the id, repeatable (any matches); one that matches nothing is an error.
#[test]
fn a_filter_that_matches_nothing_exits_2() {
    let o = mtls(
        &root(),
        &["limbo", SUBSET, "--filter", "rfc5280::validty::"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(o.stdout, b"");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: no testcase id of conformance/x509-limbo-subset.json (208 testcases) contains `rfc5280::validty::`: --filter matches a substring of the id\n"
    );
    let (code, stdout, _, report) =
        limbo(&["--filter", "expired-leaf", "--filter", "notafter-exact"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with("limbo: conformance/x509-limbo-subset.json (2 testcases)\n"),
        "{stdout}"
    );
    assert_eq!(
        report["filter"],
        serde_json::json!(["expired-leaf", "notafter-exact"])
    );
}

/// `--json`: checked before anything runs, `-` is standard output (the console then on stderr).
#[test]
fn the_json_path_is_checked_before_the_run() {
    let o = mtls(
        &root(),
        &["limbo", SUBSET, "--filter", "expired-leaf", "--json", "-"],
    );
    assert_eq!(o.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["verifiers"][0]["counts"]["agree"], 1);
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("limbo: "));
    for (out, why) in [
        (
            "/dev/stdout",
            "error: --json: cannot write the JSON report /dev/stdout: it is a symbolic link (reports are never written through a link); write `-` for standard output\nnothing was run\n",
        ),
        (
            "/no/such/dir/r.json",
            "error: --json: cannot write the JSON report /no/such/dir/r.json: the directory /no/such/dir does not exist\nnothing was run\n",
        ),
        (
            SUBSET,
            "error: --json: cannot write the JSON report conformance/x509-limbo-subset.json: it is an input of this run (a lab file or a file a lab reads)\nnothing was run\n",
        ),
    ] {
        let o = mtls(&root(), &["limbo", SUBSET, "--json", out]);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert_eq!(o.stdout, b"", "{out}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), why);
    }
}

/// Files that are not limbo files: each refused with why, exit 2, never a hang.
#[test]
fn odd_inputs_are_refused_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.json");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    std::fs::write(
        dir.path().join("v2.json"),
        "{\n  \"version\": 2,\n  \"testcases\": []\n}\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(root().join(SUBSET)).unwrap();
    let mut file: Value = serde_json::from_str(&text).unwrap();
    let tcs = file["testcases"].as_array_mut().unwrap();
    let id = tcs[0]["id"].clone();
    tcs[5]["id"] = id.clone();
    std::fs::write(dir.path().join("dup.json"), file.to_string()).unwrap();
    for (file, why) in [
        (
            "/dev/zero",
            "error: cannot read `/dev/zero`: not a regular file (a character device)\n".to_string(),
        ),
        (
            "fifo.json",
            "error: cannot read `fifo.json`: not a regular file (a named pipe)\n".to_string(),
        ),
        (
            "/nonexistent.json",
            "error: cannot read `/nonexistent.json`: no such file\n".to_string(),
        ),
        (
            "v2.json",
            "error: v2.json:2:14: limbo format version 2 is not known: this tool reads version 1\n"
                .to_string(),
        ),
        (
            "dup.json",
            format!("error: dup.json: testcases[0] and testcases[5] both have the id `{}`: ids must be unique\n", id.as_str().unwrap()),
        ),
    ] {
        let o = mtls(dir.path(), &["limbo", file]);
        assert_eq!(o.status.code(), Some(2), "{file}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), why);
    }
}

/// The program under test missing from PATH: one error before anything runs (the verifiers before it
/// included), exit 3.
#[test]
fn a_missing_program_is_one_error() {
    let empty = tempfile::tempdir().unwrap();
    for (verifier, program) in [("openssl", "openssl"), ("curl", "curl")] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
            .current_dir(root())
            .args([
                "limbo",
                SUBSET,
                "--verifier",
                "builtin",
                "--verifier",
                verifier,
            ])
            .args(["--filter", "validity"])
            .env("PATH", empty.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{verifier}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("error: {verifier}: `{program}` is not found on PATH, so no testcase can run against it: install it (Debian: apt-get install {program}) or leave out --verifier {verifier}\nnothing was run\n")
        );
        // Before anything ran: not even the built-in verifier.
        assert_eq!(String::from_utf8_lossy(&o.stdout), "");
    }
}

/// `pathological::nc-dos-1` agrees for the built-in verifier because rustls refuses the oversized
/// Certificate message before validating the chain: the result says so; nc-dos-2, refused by the
/// chain's validation, does not.
#[test]
fn a_refusal_before_the_chain_is_validated_is_marked() {
    let (code, stdout, _, report) = limbo(&["--filter", "pathological::nc-dos-"]);
    assert_eq!(code, 0, "{stdout}");
    let before = "refused before the chain was validated: the TLS message that carries it was refused (its size or encoding), not the chain's content";
    let r = result(&report, 0, "pathological::nc-dos-1");
    assert_eq!(
        (
            r["agreement"].as_str(),
            r["observed"]["detail"].as_str(),
            r["notes"].clone()
        ),
        (
            Some("agree"),
            Some("received corrupt message of type HandshakePayloadTooLarge"),
            serde_json::json!([before])
        ),
        "{r:#}"
    );
    assert_rejected(
        &report,
        0,
        "pathological::nc-dos-2",
        "client",
        "other",
        "agree",
    );
    assert!(result(&report, 0, "pathological::nc-dos-2")["notes"].is_null());
}
