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
