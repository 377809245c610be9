//! Real programs in their own words: curl, `openssl s_client` and the seed's Python `client.py` against
//! the built-in server, × failures (no client certificate, unknown CA, expired, wrong EKU — each side —,
//! name mismatch, curl's pin mismatch, a local file error). Each row asserts the exact outcome, side,
//! reason and exit status of a real run; a program error must never pass as a rejection.
//!
//! These tests need python3, curl and openssl (`.ci/run` installs them); they fail when one is missing.

use crate::common::{self, case, root, seed_port};
use mtls_lab::reason::{Outcome, Reason, Side};
use mtls_lab::run::{LabResult, Status};

fn require(tool: &str, arg: &str) {
    let ok = std::process::Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{tool}` is required for these tests (.ci/run installs it)"
    );
}

fn run(yaml: &str) -> LabResult {
    let lab = common::lab(yaml);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(mtls_lab::run::run_lab(&lab))
}

/// One row: the case, and the exact outcome, side, reason and exit status it must show.
struct Row {
    case: &'static str,
    outcome: Outcome,
    by: Option<Side>,
    reason: Option<Reason>,
    exit: Option<i32>,
}

const fn row(
    case: &'static str,
    outcome: Outcome,
    by: Option<Side>,
    reason: Option<Reason>,
    exit: Option<i32>,
) -> Row {
    Row {
        case,
        outcome,
        by,
        reason,
        exit,
    }
}

fn assert_rows(r: &LabResult, rows: &[Row]) {
    for row in rows {
        let c = case(r, row.case);
        let o = c
            .observed
            .as_ref()
            .unwrap_or_else(|| panic!("{}: not run: {:?}", row.case, c.messages));
        assert_eq!(
            (o.outcome, o.by, o.reason),
            (row.outcome, row.by, row.reason),
            "{}: observed {o:#?}",
            row.case
        );
        if let Some(exit) = row.exit {
            assert_eq!(o.exit_status, Some(exit), "{}: {o:#?}", row.case);
        }
        assert_eq!(c.status, Status::Passed, "{}: {:?}", row.case, c.messages);
    }
}

/// Every certificate the rows need; ECDSA keys (the default, P-256).
const PKI: &str = r#"
authorities:
  ca: { subject: { O: Program Lab, CN: Program Lab CA } }
  other-ca: { subject: { O: Elsewhere, CN: Another CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server, key: ecdsa-p256 }
  elsewhere: { issuer: ca, subject: { CN: elsewhere.lab }, san: [dns:elsewhere.lab], usage: server, key: ecdsa-p256 }
  old-server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: server, valid: { from: -30d, until: -1d }, key: ecdsa-p256 }
  client-eku-server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: client, key: ecdsa-p256 }
  stranger-server: { issuer: other-ca, subject: { CN: localhost }, san: [dns:localhost], usage: server, key: ecdsa-p256 }
  client: { issuer: ca, subject: { CN: labclient }, usage: client, key: ecdsa-p256 }
  stranger: { issuer: other-ca, subject: { CN: stranger }, usage: client, key: ecdsa-p256 }
  old-client: { issuer: ca, subject: { CN: old }, usage: client, valid: { from: -30d, until: -1d }, key: ecdsa-p256 }
  server-eku-client: { issuer: ca, subject: { CN: wrong-purpose }, usage: server, key: ecdsa-p256 }
servers:
  web: { certificate: server, trust: [ca] }
  elsewhere: { certificate: elsewhere, trust: [ca] }
  old: { certificate: old-server, trust: [ca] }
  client-eku: { certificate: client-eku-server, trust: [ca] }
  stranger: { certificate: stranger-server, trust: [ca] }
"#;

/// curl with the lab CA and `client`'s certificate, plus `extra`, against `{url}`.
fn curl(cert: &str, extra: &str) -> String {
    let cert = if cert.is_empty() {
        String::new()
    } else {
        format!(", --cert, \"{{cert:{cert}}}\", --key, \"{{key:{cert}}}\"")
    };
    format!("[curl, --silent, --show-error, --cacert, \"{{cert:ca}}\"{cert}{extra}, \"{{url}}\"]")
}

/// openssl s_client verifying the server (chain and host name), sending a GET.
fn s_client(cert: &str) -> String {
    let cert = if cert.is_empty() {
        String::new()
    } else {
        format!(" -cert {{cert:{cert}}} -key {{key:{cert}}}")
    };
    format!("[sh, -c, \"printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | openssl s_client -quiet -connect {{addr}} -servername localhost -verify_hostname localhost -verify_return_error -CAfile {{cert:ca}}{cert}\"]")
}

#[test]
fn curl_in_its_own_words() {
    require("curl", "--version");
    use Outcome::{Accepted, ProgramError, Rejected};
    let (c, s) = (Some(Side::Client), Some(Side::Server));
    let cases: &[(&str, &str, String, &str)] = &[
        ("accepted", "web", curl("client", ""), "accepted"),
        ("no client certificate", "web", curl("", ""), "{ outcome: rejected, by: server, reason: certificate_required, alert: certificate_required, exit: 56 }"),
        ("client from another CA", "web", curl("stranger", ""), "{ outcome: rejected, by: server, reason: unknown_issuer }"),
        ("expired client", "web", curl("old-client", ""), "{ outcome: rejected, by: server, reason: expired }"),
        ("client with serverAuth only", "web", curl("server-eku-client", ""), "{ outcome: rejected, by: server, reason: wrong_purpose }"),
        ("server from another CA", "stranger", curl("client", ""), "{ outcome: rejected, by: client, reason: unknown_issuer, exit: 60 }"),
        ("expired server", "old", curl("client", ""), "{ outcome: rejected, by: client, reason: expired, exit: 60 }"),
        ("server with clientAuth only", "client-eku", curl("client", ""), "{ outcome: rejected, by: client, reason: wrong_purpose, exit: 60 }"),
        ("name mismatch", "elsewhere", curl("client", ""), "{ outcome: rejected, by: client, reason: name_mismatch, exit: 60 }"),
        ("pin mismatch", "web", curl("client", ", --pinnedpubkey, \"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""), "{ outcome: rejected, by: client, reason: pin_mismatch, exit: 90 }"),
        ("typo in --key", "web", curl("", ", --cert, \"{cert:client}\", --key, \"{pki}/client/clent.key\""), "{ outcome: rejected, exit: 58 }"),
        ("typo in --cacert", "web", "[curl, --silent, --show-error, --cacert, \"{pki}/ca/ca.cr\", \"{url}\"]".to_string(), "{ outcome: rejected, exit: 77 }"),
        // The issue's complaint: a local failure must not pass as a rejection by the client.
        ("typo in --key is not a client rejection", "web", curl("", ", --cert, \"{cert:client}\", --key, \"{pki}/client/clent.key\""), "{ outcome: rejected, by: client }"),
    ];
    let mut yaml = format!("lab: curl-words\n{PKI}cases:\n");
    for (name, server, command, expect) in cases {
        yaml.push_str(&format!(
            "  - name: {name}\n    server: {server}\n    client: {{ command: {command} }}\n    expect: {expect}\n"
        ));
    }
    let r = run(&yaml);
    assert_rows(
        &r,
        &[
            row("accepted", Accepted, None, None, Some(0)),
            row(
                "no client certificate",
                Rejected,
                s,
                Some(Reason::CertificateRequired),
                Some(56),
            ),
            row(
                "client from another CA",
                Rejected,
                s,
                Some(Reason::UnknownIssuer),
                None,
            ),
            row("expired client", Rejected, s, Some(Reason::Expired), None),
            row(
                "client with serverAuth only",
                Rejected,
                s,
                Some(Reason::WrongPurpose),
                None,
            ),
            row(
                "server from another CA",
                Rejected,
                c,
                Some(Reason::UnknownIssuer),
                Some(60),
            ),
            row(
                "expired server",
                Rejected,
                c,
                Some(Reason::Expired),
                Some(60),
            ),
            row(
                "server with clientAuth only",
                Rejected,
                c,
                Some(Reason::WrongPurpose),
                Some(60),
            ),
            row(
                "name mismatch",
                Rejected,
                c,
                Some(Reason::NameMismatch),
                Some(60),
            ),
            row(
                "pin mismatch",
                Rejected,
                c,
                Some(Reason::PinMismatch),
                Some(90),
            ),
            row("typo in --key", ProgramError, None, None, Some(58)),
            row("typo in --cacert", ProgramError, None, None, Some(77)),
        ],
    );
    // The program's own words are in the detail.
    let detail = |name| {
        case(&r, name)
            .observed
            .as_ref()
            .unwrap()
            .detail
            .clone()
            .unwrap()
    };
    assert!(
        detail("name mismatch").contains("SSL: no alternative certificate subject name matches")
    );
    assert!(detail("typo in --key").contains("unable to set private key file"));
    let wrong = case(&r, "typo in --key is not a client rejection");
    assert_eq!(wrong.status, Status::Failed, "{:?}", wrong.messages);
    assert!(
        wrong.messages[0].contains("observed a program error (exit status 58)"),
        "{:?}",
        wrong.messages
    );
}

#[test]
fn openssl_s_client_in_its_own_words() {
    require("openssl", "version");
    use Outcome::{Accepted, ProgramError, Rejected};
    let (c, s) = (Some(Side::Client), Some(Side::Server));
    let cases: &[(&str, &str, String, &str)] = &[
        ("accepted", "web", s_client("client"), "accepted"),
        ("no client certificate", "web", s_client(""), "{ outcome: rejected, by: server, reason: certificate_required, alert: certificate_required }"),
        ("client from another CA", "web", s_client("stranger"), "{ outcome: rejected, by: server, reason: unknown_issuer }"),
        ("expired client", "web", s_client("old-client"), "{ outcome: rejected, by: server, reason: expired }"),
        ("client with serverAuth only", "web", s_client("server-eku-client"), "{ outcome: rejected, by: server, reason: wrong_purpose }"),
        ("server from another CA", "stranger", s_client("client"), "{ outcome: rejected, by: client, reason: unknown_issuer, exit: 1 }"),
        ("expired server", "old", s_client("client"), "{ outcome: rejected, by: client, exit: 1 }"),
        ("server with clientAuth only", "client-eku", s_client("client"), "{ outcome: rejected, by: client, exit: 1 }"),
        ("name mismatch", "elsewhere", s_client("client"), "{ outcome: rejected, by: client, exit: 1 }"),
        ("typo in -key", "web", "[openssl, s_client, -connect, \"{addr}\", -CAfile, \"{cert:ca}\", -cert, \"{cert:client}\", -key, \"{pki}/client/clent.key\"]".to_string(), "{ outcome: rejected, exit: 1 }"),
    ];
    let mut yaml = format!("lab: s-client-words\n{PKI}cases:\n");
    for (name, server, command, expect) in cases {
        yaml.push_str(&format!(
            "  - name: {name}\n    server: {server}\n    client: {{ command: {command} }}\n    expect: {expect}\n"
        ));
    }
    let r = run(&yaml);
    assert_rows(
        &r,
        &[
            row("accepted", Accepted, None, None, Some(0)),
            row(
                "no client certificate",
                Rejected,
                s,
                Some(Reason::CertificateRequired),
                None,
            ),
            row(
                "client from another CA",
                Rejected,
                s,
                Some(Reason::UnknownIssuer),
                None,
            ),
            row("expired client", Rejected, s, Some(Reason::Expired), None),
            row(
                "client with serverAuth only",
                Rejected,
                s,
                Some(Reason::WrongPurpose),
                None,
            ),
            row(
                "server from another CA",
                Rejected,
                c,
                Some(Reason::UnknownIssuer),
                Some(1),
            ),
            row(
                "expired server",
                Rejected,
                c,
                Some(Reason::Expired),
                Some(1),
            ),
            row(
                "server with clientAuth only",
                Rejected,
                c,
                Some(Reason::WrongPurpose),
                Some(1),
            ),
            row(
                "name mismatch",
                Rejected,
                c,
                Some(Reason::NameMismatch),
                Some(1),
            ),
            row("typo in -key", ProgramError, None, None, Some(1)),
        ],
    );
    let detail = case(&r, "name mismatch")
        .observed
        .as_ref()
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert!(
        detail.contains("verify error:num=62:hostname mismatch"),
        "{detail}"
    );
}

/// The seed's `client.py`, unmodified, in a lab whose `client`, `ca` and `server` have the properties
/// given; it connects to localhost:4443 and loads `../ca/ca.crt` and `../client/client.*` from `cwd`.
fn seed_client_lab(certs: &str, cwd: &str, expect: &str) -> String {
    format!(
        "lab: seed-client-words\nauthorities:\n  ca: {{ subject: {{ O: MyLabCA, CN: Lab CA }} }}\n  other-ca: {{ subject: {{ O: Elsewhere, CN: Another CA }} }}\ncertificates:\n{certs}servers:\n  web: {{ certificate: server, trust: [ca], listen: 127.0.0.1:4443 }}\ncases:\n  - name: client.py\n    client:\n      command: [python3, \"{}/labs/seed/client/client.py\"]\n      cwd: \"{cwd}\"\n    expect: {expect}\n",
        root().display()
    )
}

/// The lab's certificates, the client's working directory, the expectation, and the exact verdict.
type SeedRow = (
    String,
    &'static str,
    &'static str,
    Outcome,
    Option<Side>,
    Option<Reason>,
);

#[test]
fn the_seeds_python_client_in_its_own_words() {
    require("python3", "--version");
    let _port = seed_port();
    let server = "  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }\n";
    let client = "  client: { issuer: ca, subject: { CN: labclient }, usage: client }\n";
    let rows: Vec<SeedRow> = vec![
        (format!("{server}{client}"), "{pki}/client", "accepted", Outcome::Accepted, None, None),
        (
            format!("{server}  client: {{ issuer: other-ca, subject: {{ CN: labclient }}, usage: client }}\n"),
            "{pki}/client",
            "{ outcome: rejected, by: server, reason: unknown_issuer }",
            Outcome::Rejected, Some(Side::Server), Some(Reason::UnknownIssuer),
        ),
        (
            format!("{server}  client: {{ issuer: ca, subject: {{ CN: labclient }}, usage: client, valid: {{ from: -30d, until: -1d }} }}\n"),
            "{pki}/client",
            "{ outcome: rejected, by: server, reason: expired }",
            Outcome::Rejected, Some(Side::Server), Some(Reason::Expired),
        ),
        (
            format!("{server}  client: {{ issuer: ca, subject: {{ CN: labclient }}, usage: server }}\n"),
            "{pki}/client",
            "{ outcome: rejected, by: server, reason: wrong_purpose }",
            Outcome::Rejected, Some(Side::Server), Some(Reason::WrongPurpose),
        ),
        (
            format!("  server: {{ issuer: other-ca, subject: {{ CN: localhost }}, san: [dns:localhost], usage: server }}\n{client}"),
            "{pki}/client",
            "{ outcome: rejected, by: client, reason: unknown_issuer, exit: 0 }",
            Outcome::Rejected, Some(Side::Client), Some(Reason::UnknownIssuer),
        ),
        (
            format!("  server: {{ issuer: ca, subject: {{ CN: localhost }}, san: [dns:localhost], usage: server, valid: {{ from: -30d, until: -1d }} }}\n{client}"),
            "{pki}/client",
            "{ outcome: rejected, by: client, reason: expired }",
            Outcome::Rejected, Some(Side::Client), Some(Reason::Expired),
        ),
        (
            format!("  server: {{ issuer: ca, subject: {{ CN: localhost }}, san: [dns:localhost], usage: client }}\n{client}"),
            "{pki}/client",
            "{ outcome: rejected, by: client, reason: wrong_purpose }",
            Outcome::Rejected, Some(Side::Client), Some(Reason::WrongPurpose),
        ),
        (
            format!("  server: {{ issuer: ca, subject: {{ CN: elsewhere.lab }}, san: [dns:elsewhere.lab], usage: server }}\n{client}"),
            "{pki}/client",
            "{ outcome: rejected, by: client, reason: name_mismatch }",
            Outcome::Rejected, Some(Side::Client), Some(Reason::NameMismatch),
        ),
        // Run from the PKI's root, `../ca/ca.crt` is not there: FileNotFoundError, exit 1.
        (
            format!("{server}{client}"),
            "{pki}",
            "{ outcome: rejected, exit: 1 }",
            Outcome::ProgramError, None, None,
        ),
    ];
    for (certs, cwd, expect, outcome, by, reason) in rows {
        let r = run(&seed_client_lab(&certs, cwd, expect));
        let c = case(&r, "client.py");
        let o = c
            .observed
            .as_ref()
            .unwrap_or_else(|| panic!("{certs}: not run: {:?}", c.messages));
        assert_eq!(
            (o.outcome, o.by, o.reason),
            (outcome, by, reason),
            "{certs}{cwd}: {o:#?}"
        );
        assert_eq!(c.status, Status::Passed, "{certs}{cwd}: {:?}", c.messages);
    }
}

/// A small Python server that answers 200 with `Connection: close` and no Content-Length, then closes
/// the connection without close_notify: the built-in client reads the body to the end and accepts.
#[test]
fn a_body_without_content_length_ends_when_the_server_closes() {
    require("python3", "--version");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = format!(
        "import socket, ssl\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\nctx.load_cert_chain('server/server.crt', 'server/server.key')\nctx.load_verify_locations('ca/ca.crt')\nctx.verify_mode = ssl.CERT_REQUIRED\ns = socket.create_server(('127.0.0.1', {port}))\nwhile True:\n    c, _ = s.accept()\n    try:\n        t = ctx.wrap_socket(c, server_side=True)\n        t.recv(4096)\n        t.sendall(b'HTTP/1.1 200 OK\\r\\nConnection: close\\r\\n\\r\\nhello from python')\n        t.close()\n    except Exception as e:\n        print(e, flush=True)\n        c.close()\n"
    );
    let dir = std::env::temp_dir().join(format!("mtls-lab-eof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.py");
    std::fs::write(&path, script).unwrap();
    let yaml = format!(
        "lab: body-to-eof\n{PKI}  ext:\n    command: [python3, \"{}\"]\n    cwd: \"{{pki}}\"\n    listen: 127.0.0.1:{port}\n    certificate: server\n    trust: [ca]\ncases:\n  - name: body to the end\n    server: ext\n    client: {{ certificate: client, trust: [ca] }}\n    expect: {{ outcome: accepted, status: 200 }}\n",
        path.display()
    );
    let r = run(&yaml);
    let _ = std::fs::remove_dir_all(&dir);
    let c = case(&r, "body to the end");
    let o = c
        .observed
        .as_ref()
        .unwrap_or_else(|| panic!("not run: {:?}", c.messages));
    assert_eq!(
        (o.outcome, o.http_status),
        (Outcome::Accepted, Some(200)),
        "{o:#?}"
    );
    assert_eq!(c.status, Status::Passed, "{:?}", c.messages);
}

/// A known client program names reasons no alert names (curl's name mismatch, checked after the
/// handshake without an alert); the lab may expect them. An unknown program still may not.
#[test]
fn a_known_client_program_may_be_expected_to_name_its_own_reason() {
    let lab = |program: &str, reason: &str| {
        format!(
            "lab: known-reasons\n{PKI}cases:\n  - name: c\n    server: elsewhere\n    client: {{ command: [{program}, \"{{url}}\"] }}\n    expect: {{ outcome: rejected, by: client, reason: {reason} }}\n"
        )
    };
    let parse = |yaml: &str| {
        mtls_lab::lab::parse(
            std::path::Path::new("inline.yaml"),
            yaml,
            time::OffsetDateTime::now_utc(),
        )
    };
    for (program, reason) in [
        ("curl", "name_mismatch"),
        ("curl", "pin_mismatch"),
        ("curl", "expired"),
        ("python3, client.py", "name_mismatch"),
        ("openssl, s_client, -connect", "wrong_purpose"),
    ] {
        if let Err(e) = parse(&lab(program, reason)) {
            panic!("{program} {reason}: {}", e.render());
        }
    }
    for (program, reason) in [
        ("wget", "name_mismatch"),
        ("python3, client.py", "pin_mismatch"),
    ] {
        let e = parse(&lab(program, reason))
            .err()
            .unwrap_or_else(|| panic!("{program} {reason} validated"))
            .render();
        assert!(e.contains("cases[0].expect.reason"), "{e}");
        assert!(e.contains("expect the alert instead"), "{e}");
    }
}

/// The seed's server.py (unmodified, on port 4443, from the seed layout of the exported PKI), a server
/// command, with client commands: both peers are programs and their words decide.
fn seed_server_lab(cases: &str) -> String {
    format!(
        "lab: two-programs\n{PKI}  seed: {{ command: [python3, \"{}/labs/seed/server/server.py\"], cwd: \"{{pki}}/server\", listen: localhost:4443, certificate: server, trust: [ca] }}\ncases:\n{cases}",
        root().display()
    )
}

#[test]
fn two_programs_the_seeds_server_py_and_its_clients() {
    require("python3", "--version");
    require("curl", "--version");
    let _port = seed_port();
    let (c, s) = (Some(Side::Client), Some(Side::Server));
    use Outcome::{Accepted, Rejected, Undecided};
    let cases: &[(&str, String, &str)] = &[
        ("curl accepted", curl("client", ""), "{ outcome: accepted, exit: 0, server_output: \"commonName: labclient\" }"),
        ("curl without a certificate", curl("", ""), "{ outcome: rejected, by: server, reason: certificate_required }"),
        ("curl from another CA", curl("stranger", ""), "{ outcome: rejected, by: server, reason: unknown_issuer }"),
        ("curl expired", curl("old-client", ""), "{ outcome: rejected, by: server, reason: expired }"),
        ("curl without the lab CA", "[curl, --silent, --show-error, \"{url}\"]".into(), "{ outcome: rejected, by: client, reason: unknown_issuer, alert: unknown_ca, exit: 60 }"),
        ("client.py accepted", format!("[python3, \"{}/labs/seed/client/client.py\"], cwd: \"{{pki}}/client\"", root().display()), "{ outcome: accepted, output: \"Mutual TLS authentication worked\", server_output: \"commonName: labclient\" }"),
        // A program nobody knows that says nothing: neither side is blamed on a guess.
        ("an unknown program that says nothing", "[sh, -c, \"exit 0\"]".into(), "accepted"),
        // The server printed the client's CN, but not this one.
        ("server_output that is not there", curl("client", ""), "{ outcome: accepted, server_output: \"commonName: somebody-else\" }"),
    ];
    let mut yaml = String::new();
    for (name, command, expect) in cases {
        let command = format!("{{ command: {command} }}");
        yaml.push_str(&format!(
            "  - name: {name}\n    server: seed\n    client: {command}\n    expect: {expect}\n"
        ));
    }
    let r = run(&seed_server_lab(&yaml));
    assert_rows(
        &r,
        &[
            row("curl accepted", Accepted, None, None, Some(0)),
            row(
                "curl without a certificate",
                Rejected,
                s,
                Some(Reason::CertificateRequired),
                None,
            ),
            row(
                "curl from another CA",
                Rejected,
                s,
                Some(Reason::UnknownIssuer),
                None,
            ),
            row("curl expired", Rejected, s, Some(Reason::Expired), None),
            row(
                "curl without the lab CA",
                Rejected,
                c,
                Some(Reason::UnknownIssuer),
                Some(60),
            ),
            row("client.py accepted", Accepted, None, None, Some(0)),
        ],
    );
    // server.py's own words (Python's ssl error, printed by the hook) are in the detail.
    let detail = case(&r, "curl without a certificate")
        .observed
        .as_ref()
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert!(
        detail.contains("peer did not return a certificate"),
        "{detail}"
    );
    let unknown = case(&r, "an unknown program that says nothing");
    assert_eq!(unknown.status, Status::Failed);
    let o = unknown.observed.as_ref().unwrap();
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (Undecided, None, None),
        "{o:#?}"
    );
    let missing = case(&r, "server_output that is not there");
    assert_eq!(missing.status, Status::Failed);
    assert_eq!(
        missing.messages[0],
        "server output: expected the server command to print \"commonName: somebody-else\" during this case"
    );
}

#[test]
fn two_programs_openssl_s_server_and_curl() {
    require("openssl", "version");
    require("curl", "--version");
    let (c, s) = (Some(Side::Client), Some(Side::Server));
    use Outcome::{Accepted, Rejected};
    let cases: &[(&str, String, &str)] = &[
        (
            "accepted",
            curl("client", ""),
            "{ outcome: accepted, exit: 0 }",
        ),
        (
            "no client certificate",
            curl("", ""),
            "{ outcome: rejected, by: server, reason: certificate_required }",
        ),
        (
            "client from another CA",
            curl("stranger", ""),
            "{ outcome: rejected, by: server, reason: unknown_issuer }",
        ),
        (
            "expired client",
            curl("old-client", ""),
            "{ outcome: rejected, by: server, reason: expired, alert: certificate_expired }",
        ),
        (
            "client with serverAuth only",
            curl("server-eku-client", ""),
            "{ outcome: rejected, by: server, reason: wrong_purpose }",
        ),
        (
            "name mismatch",
            curl(
                "client",
                ", --connect-to, \"elsewhere.lab:{port}:127.0.0.1:{port}\"",
            )
            .replace("\"{url}\"", "\"https://elsewhere.lab:{port}/\""),
            "{ outcome: rejected, by: client, reason: name_mismatch, exit: 60 }",
        ),
    ];
    let mut yaml = format!(
        "lab: s-server-words\n{PKI}  s_server: {{ command: [openssl, s_server, -accept, \"127.0.0.1:{{port}}\", -cert, \"{{cert:server}}\", -key, \"{{key:server}}\", -CAfile, \"{{cert:ca}}\", -Verify, \"1\", -verify_return_error, -www], listen: \"127.0.0.1:0\", certificate: server, trust: [ca] }}\ncases:\n"
    );
    for (name, command, expect) in cases {
        yaml.push_str(&format!(
            "  - name: {name}\n    server: s_server\n    client: {{ command: {command} }}\n    expect: {expect}\n"
        ));
    }
    let r = run(&yaml);
    assert_rows(
        &r,
        &[
            row("accepted", Accepted, None, None, Some(0)),
            row(
                "no client certificate",
                Rejected,
                s,
                Some(Reason::CertificateRequired),
                None,
            ),
            row(
                "client from another CA",
                Rejected,
                s,
                Some(Reason::UnknownIssuer),
                None,
            ),
            row("expired client", Rejected, s, Some(Reason::Expired), None),
            row(
                "client with serverAuth only",
                Rejected,
                s,
                Some(Reason::WrongPurpose),
                None,
            ),
            row(
                "name mismatch",
                Rejected,
                c,
                Some(Reason::NameMismatch),
                Some(60),
            ),
        ],
    );
    let detail = case(&r, "no client certificate")
        .observed
        .as_ref()
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert!(
        detail.contains("openssl s_server refused the client"),
        "{detail}"
    );
}

/// The lab's clock reaches programs through libfaketime: 60 days on, curl (a client command)
/// finds the built-in server's 30-day certificate expired, and `openssl s_server` (a server command)
/// the built-in client's. At the machine's time both would be accepted. Skipped, saying so, when
/// libfaketime is not installed (the refusal without it: cli::a_clock_that_cannot_reach_a_program_is_refused_without_faketime).
#[test]
fn the_lab_clock_reaches_programs_under_faketime() {
    if mtls_lab::lab::faketime::library().is_none() {
        println!("SKIPPED the_lab_clock_reaches_programs_under_faketime: libfaketime is not installed (apt-get install libfaketime; .ci/run installs it)");
        return;
    }
    require("openssl", "version");
    require("curl", "--version");
    let yaml = r#"lab: clock-under-faketime
at: +60d
authorities:
  ca: { subject: { O: Program Lab, CN: Program Lab CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server, valid: { from: -1d, until: +365d } }
  short-server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server, valid: { from: -1d, until: +30d } }
  client: { issuer: ca, subject: { CN: labclient }, usage: client, valid: { from: -1d, until: +365d } }
  short-client: { issuer: ca, subject: { CN: short }, usage: client, valid: { from: -1d, until: +30d } }
servers:
  web: { certificate: short-server, trust: [ca] }
  s_server: { command: [openssl, s_server, -accept, "127.0.0.1:{port}", -cert, "{cert:server}", -key, "{key:server}", -CAfile, "{cert:ca}", -Verify, "1", -verify_return_error, -www], listen: "127.0.0.1:0", certificate: server, trust: [ca] }
cases:
  - name: curl finds the server certificate expired
    server: web
    client: { command: [curl, --silent, --show-error, --cacert, "{cert:ca}", --cert, "{cert:client}", --key, "{key:client}", "{url}"] }
    expect: { outcome: rejected, by: client, reason: expired, exit: 60 }
  - name: s_server finds the client certificate expired
    server: s_server
    client: { certificate: short-client, trust: [ca] }
    expect: { outcome: rejected, by: server, alert: certificate_expired }
  - name: s_server accepts a client still valid
    server: s_server
    client: { certificate: client, trust: [ca] }
    expect: { outcome: accepted, status: 200 }
"#;
    let r = run(yaml);
    use Outcome::{Accepted, Rejected};
    assert_rows(
        &r,
        &[
            row(
                "curl finds the server certificate expired",
                Rejected,
                Some(Side::Client),
                Some(Reason::Expired),
                Some(60),
            ),
            row(
                "s_server finds the client certificate expired",
                Rejected,
                Some(Side::Server),
                // s_server's own words (`verify error:num=10:certificate has expired`) name the reason.
                Some(Reason::Expired),
                None,
            ),
            row(
                "s_server accepts a client still valid",
                Accepted,
                None,
                None,
                None,
            ),
        ],
    );
    let detail = |name: &str| {
        case(&r, name)
            .observed
            .as_ref()
            .unwrap()
            .detail
            .clone()
            .unwrap_or_default()
    };
    let at = (time::OffsetDateTime::now_utc() + time::Duration::days(60)).date();
    let d = detail("curl finds the server certificate expired");
    assert!(
        d.contains("the client command ran under libfaketime at ")
            && d.contains(&at.to_string())
            && d.contains("certificate has expired"),
        "{d}"
    );
    let d = detail("s_server accepts a client still valid");
    assert!(
        d.contains("the server command ran under libfaketime at "),
        "{d}"
    );
}

/// The clock reaches every process a command starts: a `sh -c` script at a lab's clock in 2040 sees
/// 2040 in `date`, in a Python it starts (whose monotonic clock stays the machine's, so a wait with a
/// timeout returns), and in curl, which accepts a server certificate valid only in 2040. At the
/// machine's time the output would say otherwise and curl would find the certificate not yet valid.
/// Skipped, saying so, when libfaketime is not installed.
#[test]
fn the_lab_clock_reaches_the_children_of_a_shell_command() {
    if mtls_lab::lab::faketime::library().is_none() {
        println!("SKIPPED the_lab_clock_reaches_the_children_of_a_shell_command: libfaketime is not installed (apt-get install libfaketime; .ci/run installs it)");
        return;
    }
    require("python3", "--version");
    require("curl", "--version");
    let yaml = r#"lab: clock-in-children
at: 2040-06-01T00:00:00Z
authorities:
  ca: { subject: { CN: Clock CA }, valid: { from: 2039-01-01, until: 2041-01-01 } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: server, valid: { from: 2040-01-01, until: 2040-12-31 } }
  client: { issuer: ca, subject: { CN: labclient }, usage: client, valid: { from: 2040-01-01, until: 2040-12-31 } }
servers:
  web: { certificate: server, trust: [ca] }
cases:
  - name: a shell script and its children run in 2040
    client:
      command:
        - sh
        - -c
        - |
          printf 'sh %s; ' "$(date -u +%Y)"
          python3 -c 'import threading, time; threading.Event().wait(0.1); print("python", time.gmtime().tm_year, "monotonic", "real" if time.monotonic() < 1e9 else "faked", end="; ")'
          curl --silent --show-error --cacert "$1" --cert "$2" --key "$3" "$4"
        - sh
        - "{cert:ca}"
        - "{cert:client}"
        - "{key:client}"
        - "{url}"
    expect: { outcome: accepted, exit: 0, output: 'sh 2040; python 2040 monotonic real; {"client":{"CN":"labclient"' }
"#;
    let r = run(yaml);
    assert_rows(
        &r,
        &[row(
            "a shell script and its children run in 2040",
            Outcome::Accepted,
            None,
            None,
            Some(0),
        )],
    );
    let d = case(&r, "a shell script and its children run in 2040")
        .observed
        .as_ref()
        .and_then(|o| o.detail.clone())
        .unwrap_or_default();
    assert!(
        d.contains("the client command ran under libfaketime at 2040-06-01T00:00:00Z"),
        "{d}"
    );
}

/// A server in another language that refuses a client without telling it: a small Python server that
/// completes the handshake (client certificates optional), then closes the socket without an alert
/// when the client sent no certificate. The built-in client sees the connection closed, by the server
/// — not "rejected by client: connection_closed … the server may have crashed".
#[test]
fn a_server_program_that_closes_without_an_alert_is_recorded_as_closing() {
    require("python3", "--version");
    let script = String::from(
        "import socket, ssl, sys\nport = int(sys.argv[1])\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\nctx.load_cert_chain('server/server.crt', 'server/server.key')\nctx.load_verify_locations('ca/ca.crt')\nctx.verify_mode = ssl.CERT_OPTIONAL\ns = socket.create_server(('127.0.0.1', port))\nwhile True:\n    c, _ = s.accept()\n    try:\n        t = ctx.wrap_socket(c, server_side=True)\n        if not t.getpeercert():\n            print('no client certificate: closing', flush=True)\n            t.shutdown(socket.SHUT_RDWR)\n            t.close()\n            continue\n        t.recv(4096)\n        t.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok')\n        t.close()\n    except Exception as e:\n        print(e, flush=True)\n        c.close()\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closing_server.py");
    std::fs::write(&path, script).unwrap();
    let yaml = format!(
        "lab: closes-without-alert\n{PKI}  ext:\n    command: [python3, \"{0}\", \"{{port}}\"]\n    cwd: \"{{pki}}\"\n    certificate: server\n    trust: [ca]\n    client_auth: optional\n  ruled:\n    command: [python3, \"{0}\", \"{{port}}\"]\n    cwd: \"{{pki}}\"\n    certificate: server\n    trust: [ca]\n    client_auth: optional\n    verdicts:\n      - {{ output: \"no client certificate: closing\", side: server, reason: certificate_required }}\ncases:\n  - name: valid client\n    server: ext\n    client: {{ certificate: client, trust: [ca] }}\n    expect: {{ outcome: accepted, status: 200 }}\n  - name: no client certificate\n    server: ext\n    client: {{ trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: connection_closed }}\n  - name: no client certificate, read by the lab's rule\n    server: ruled\n    client: {{ trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: certificate_required }}\n",
        path.display()
    );
    let r = run(&yaml);
    assert_rows(
        &r,
        &[
            row("valid client", Outcome::Accepted, None, None, None),
            row(
                "no client certificate",
                Outcome::Rejected,
                Some(Side::Server),
                Some(Reason::ConnectionClosed),
                None,
            ),
            // The server's own words, read by the lab's `verdicts` rule, name the reason.
            row(
                "no client certificate, read by the lab's rule",
                Outcome::Rejected,
                Some(Side::Server),
                Some(Reason::CertificateRequired),
                None,
            ),
        ],
    );
    let c = case(&r, "no client certificate");
    let o = c.observed.as_ref().unwrap();
    assert_eq!(o.alert, None, "{o:#?}");
    let detail = o.detail.as_deref().unwrap_or_default();
    assert!(
        detail.starts_with("the server closed the connection without sending an alert"),
        "{detail}"
    );
    let e = c.explanation.as_ref().expect("an explanation");
    assert!(
        e.what
            .starts_with("server `ext` closed the connection without sending a TLS alert")
            && !e.fix.contains("crashed"),
        "{e:#?}"
    );
}

/// A program mtls-lab does not know, read by the lab's own rules (`verdicts:` on the command): a shell
/// script that runs `openssl s_client` checking another host name and says `REFUSED: bad cert` (exit 3)
/// — a rejection by the client for `name_mismatch`, which no alert names — or `CANNOT READ CA` (exit
/// 4), a program error although its handshake failed with an alert. Without the rule the first is
/// refused at load time, and the second would be a rejection by the client.
#[test]
fn a_labs_verdict_rules_read_a_program_it_does_not_know() {
    require("openssl", "version");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("check.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n# check.sh MODE ADDR CA: a checker that speaks its own words\nif openssl s_client -connect \"$2\" -verify_hostname elsewhere.lab -verify_return_error -CAfile \"$3\" </dev/null >/dev/null 2>&1; then echo OK; exit 0; fi\nif [ \"$1\" = local ]; then echo 'CANNOT READ CA' >&2; exit 4; fi\necho 'REFUSED: bad cert'\nexit 3\n",
    )
    .unwrap();
    let lab = |rules: &str| {
        format!(
            "lab: verdict-rules\n{PKI}cases:\n  - name: refused in its own words\n    server: web\n    client:\n      command: [sh, \"{s}\", refused, \"{{addr}}\", \"{{cert:ca}}\"]\n{rules}    expect: {{ outcome: rejected, by: client, reason: name_mismatch, exit: 3 }}\n  - name: a local failure in its own words\n    server: web\n    client:\n      command: [sh, \"{s}\", local, \"{{addr}}\", \"{{cert:ca}}\"]\n{rules}    expect: {{ outcome: rejected, exit: 4 }}\n",
            s = script.display()
        )
    };
    let rules = "      verdicts:\n        - { output: \"REFUSED: bad cert\", exit: 3, side: client, reason: name_mismatch }\n        - { output: \"CANNOT READ\", program_error: true }\n";
    let r = run(&lab(rules));
    assert_rows(
        &r,
        &[
            row(
                "refused in its own words",
                Outcome::Rejected,
                Some(Side::Client),
                Some(Reason::NameMismatch),
                Some(3),
            ),
            row(
                "a local failure in its own words",
                Outcome::ProgramError,
                None,
                None,
                Some(4),
            ),
        ],
    );
    let o = case(&r, "refused in its own words")
        .observed
        .clone()
        .unwrap();
    assert_eq!(
        o.detail.as_deref(),
        Some("the client command said `REFUSED: bad cert`, which the lab's `verdicts` rule reads as a rejection by the client: name_mismatch"),
        "{o:#?}"
    );
    let parse = |yaml: &str| {
        mtls_lab::lab::parse(
            std::path::Path::new("rules.yaml"),
            yaml,
            time::OffsetDateTime::now_utc(),
        )
        .map(|_| ())
        .map_err(|e| e.render())
    };
    // Without the rule, nothing names `name_mismatch` for this program: refused when loaded.
    let e = parse(&lab("")).unwrap_err();
    assert!(
        e.contains("cases[0].expect.reason") && e.contains("no alert names `name_mismatch` alone"),
        "{e}"
    );
    // Rules are checked when the lab is loaded, at their file, line and column.
    let bad =
        |rule: &str| parse(&lab(&format!("      verdicts:\n        - {rule}\n"))).unwrap_err();
    let e = bad("{ output: x, reason: expired }");
    assert!(
        e.contains("error: cases[0].client.verdicts[0].reason: name the side that refused")
            && e.contains("--> rules.yaml:"),
        "{e}"
    );
    let e = bad("{ output: x, side: client, reason: bad_cert }");
    assert!(e.contains("unknown variant `bad_cert`"), "{e}");
    let e = bad("{ output: x, side: client, program_error: true }");
    assert!(
        e.contains("give either `program_error: true` or `side` and `reason`, not both"),
        "{e}"
    );
    let e = bad("{ output: \"\", program_error: true }");
    assert!(e.contains("it cannot be empty"), "{e}");
    let e = parse(&format!(
        "lab: r\n{PKI}  s: {{ command: [./srv], certificate: server, trust: [ca], verdicts: [{{ output: x, exit: 1, side: server }}] }}\ncases:\n  - name: c\n    server: s\n    client: {{ trust: [ca] }}\n    expect: accepted\n"
    ))
    .unwrap_err();
    assert!(e.contains("its rules take no `exit`"), "{e}");
}

/// A verbose `openssl s_client` (no `-quiet`) prints its verify error early on stderr and then pages of
/// stdout: its own words are still read, whatever came after them.
#[test]
fn a_verbose_s_client_is_read_in_its_own_words_however_much_it_prints() {
    require("openssl", "version");
    let dir = tempfile::tempdir().unwrap();
    let lab = r#"lab: verbose
authorities:
  ca: { subject: { CN: Lab CA }, key: ecdsa-p256 }
certificates:
  server: { issuer: ca, subject: { CN: elsewhere.example }, san: ["dns:elsewhere.example"], usage: server, key: ecdsa-p256 }
  client: { issuer: ca, subject: { CN: labclient }, usage: client, key: ecdsa-p256 }
servers:
  web: { certificate: server, trust: [ca], client_auth: required }
cases:
  - name: s_client name mismatch
    server: web
    client:
      command: [sh, -c, "echo | openssl s_client -connect {addr} -servername localhost -verify_hostname localhost -verify_return_error -CAfile {cert:ca} -cert {cert:client} -key {key:client} -showcerts"]
    expect: { outcome: rejected, by: client, reason: name_mismatch }
"#;
    std::fs::write(dir.path().join("verbose.yaml"), lab).unwrap();
    let out = common::mtls(dir.path(), &["run", "verbose.yaml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with(
            "PASS  verbose › s_client name mismatch: rejected by client: name_mismatch"
        ),
        "{stdout}"
    );
}

/// What a client command said early on stderr is kept whole (the first MiB), however many lines follow
/// on stdout: the runner reads a program's words there, not only in its last lines.
#[test]
fn a_programs_early_stderr_is_kept_past_the_tail() {
    let spec = mtls_lab::peer::process::CommandSpec {
        argv: vec![
            "sh".into(),
            "-c".into(),
            "echo 'verify error:num=62:hostname mismatch' >&2; sleep 0.2; seq 1 100; exit 1".into(),
        ],
        cwd: None,
        env: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = rt
        .block_on(mtls_lab::peer::run_client(
            &spec,
            std::time::Duration::from_secs(20),
        ))
        .unwrap();
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr, "verify error:num=62:hostname mismatch\n");
    assert!(
        !run.tail.iter().any(|l| l.contains("verify error")),
        "{:?}",
        run.tail
    );
    assert!(run.stdout.ends_with("99\n100\n"));
}

/// A server command that crashes on its first connection (a TLS server that dies in the handshake)
/// closes the connection just as a refusal without an alert does; it exited, so the case is the
/// program's failure, not `rejected by server: connection_closed`.
#[test]
fn a_server_program_that_crashes_is_a_program_error_not_a_rejection() {
    require("python3", "--version");
    let script = "import socket, sys\nport = int(sys.argv[1])\ns = socket.create_server(('127.0.0.1', port))\nc, _ = s.accept()\nc.recv(10)\nsys.exit(3)\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crashing_server.py");
    std::fs::write(&path, script).unwrap();
    let yaml = format!(
        "lab: crashes\n{PKI}  ext:\n    command: [python3, \"{0}\", \"{{port}}\"]\n    cwd: \"{{pki}}\"\n    certificate: server\n    trust: [ca]\n    ready: tcp\ncases:\n  - name: no client certificate\n    server: ext\n    client: {{ trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: connection_closed }}\n",
        path.display()
    );
    let r = run(&yaml);
    let c = case(&r, "no client certificate");
    let o = c.observed.as_ref().expect("observed");
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (Outcome::ProgramError, None, None),
        "{o:#?}"
    );
    assert_eq!(c.status, Status::Failed, "{:?}", c.messages);
    assert!(
        o.detail
            .as_deref()
            .unwrap_or_default()
            .starts_with("the server command exited with status 3 during this case"),
        "{o:#?}"
    );
    assert_eq!(
        o.summary(),
        "a program error (the server command exited with status 3)"
    );
}

/// A server command that refuses a client with a TLS alert and then exits (a server that serves one
/// connection) decided before it went: the refusal stands, with its reason from the program's words,
/// and the exit is noted — not a program error, and never "killed by a signal" for a status 0.
#[test]
fn a_server_program_that_refuses_then_exits_keeps_its_refusal() {
    require("python3", "--version");
    let script = "import socket, ssl, sys\nport = int(sys.argv[1])\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\nctx.load_cert_chain('server/server.crt', 'server/server.key')\nctx.load_verify_locations('ca/ca.crt')\nctx.verify_mode = ssl.CERT_REQUIRED\ns = socket.create_server(('127.0.0.1', port))\nc, _ = s.accept()\ntry:\n    ctx.wrap_socket(c, server_side=True)\nexcept ssl.SSLError as e:\n    print('refused:', e, flush=True)\nsys.exit(0)\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one_shot_server.py");
    std::fs::write(&path, script).unwrap();
    let yaml = format!(
        "lab: refuses-then-exits\n{PKI}  ext:\n    command: [python3, \"{0}\", \"{{port}}\"]\n    cwd: \"{{pki}}\"\n    certificate: server\n    trust: [ca]\n    ready: tcp\ncases:\n  - name: client from another CA\n    server: ext\n    client: {{ certificate: stranger, trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: unknown_issuer }}\n",
        path.display()
    );
    let r = run(&yaml);
    let c = case(&r, "client from another CA");
    let o = c.observed.as_ref().expect("observed");
    assert_eq!(
        (o.outcome, o.by, o.reason, o.alert.as_deref()),
        (
            Outcome::Rejected,
            Some(Side::Server),
            Some(Reason::UnknownIssuer),
            Some("unknown_ca")
        ),
        "{o:#?}"
    );
    assert_eq!(c.status, Status::Passed, "{:?}", c.messages);
    assert!(
        o.detail
            .as_deref()
            .unwrap_or_default()
            .ends_with("; the server command then exited with status 0"),
        "{o:#?}"
    );
}

/// `openssl s_server` refusing a client whose issuer is not a CA sends `unknown_ca`, which alone would
/// read as `unknown_issuer`; its own words (`verify error:num=79:invalid CA certificate`, then
/// `certificate verify failed`) name the reason, and they decide.
#[test]
fn a_server_programs_own_words_decide_over_its_alert() {
    require("openssl", "version");
    let yaml = "lab: words-over-alert
authorities:
  root: { subject: { CN: Words Root }, key: ecdsa-p256 }
  proper: { issuer: root, subject: { CN: Words Proper }, key: ecdsa-p256 }
  not-a-ca: { issuer: root, ca: false, subject: { CN: Words Not A CA }, key: ecdsa-p256 }
certificates:
  server: { issuer: proper, subject: { CN: localhost }, san: [dns:localhost], usage: server, key: ecdsa-p256 }
  bad-client: { issuer: not-a-ca, subject: { CN: bad-client }, usage: client, key: ecdsa-p256 }
servers:
  ext:
    command: [openssl, s_server, -accept, \"127.0.0.1:{port}\", -cert, \"{cert:server}\", -key, \"{key:server}\", -cert_chain, \"{chain:server}\", -CAfile, \"{cert:root}\", -Verify, \"3\", -verify_return_error, -www]
    certificate: server
    trust: [root]
cases:
  - name: client under a not-CA issuer
    server: ext
    client: { certificate: bad-client, trust: [root] }
    expect: { outcome: rejected, by: server, reason: issuer_not_ca }
";
    let r = run(yaml);
    let c = case(&r, "client under a not-CA issuer");
    let o = c.observed.as_ref().expect("observed");
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (
            Outcome::Rejected,
            Some(Side::Server),
            Some(Reason::IssuerNotCa)
        ),
        "{o:#?}\n{:?}",
        c.messages
    );
    assert_eq!(c.status, Status::Passed, "{:?}", c.messages);
}
