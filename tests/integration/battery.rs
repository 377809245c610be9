//! Batteries: the standard failure cases derived from one working case, run through real handshakes
//! against the built-in peers and against Python programs (strict and with `CERT_NONE`) — the exact side and
//! reason of every derived case, the skipped ones with why, the matrix on the console and in JSON, points.
//!
//! The Python tests need python3 (`.ci/run` installs it).

use std::path::Path;

use crate::common;

use common::{case, mtls, root};
use mtls_lab::lab::battery::{self, Failure};
use mtls_lab::reason::Reason;
use mtls_lab::report::battery::{matrix, table, Verdict};
use mtls_lab::run::{LabResult, Status};
use mtls_lab::spec::{Outcome, Side};

fn run_file(path: &str) -> LabResult {
    let lab = mtls_lab::lab::load(&root().join(path), time::OffsetDateTime::now_utc())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(mtls_lab::run::run_lab(&lab))
}

/// The derived case of `of` for `failure`.
fn derived<'a>(r: &'a LabResult, of: &str, failure: Failure) -> &'a mtls_lab::run::CaseResult {
    case(r, &battery::case_name(of, failure))
}

/// The verdicts of a battery's rows, in order.
fn verdicts(r: &LabResult, peer: &str) -> Vec<(Failure, Verdict)> {
    let m = matrix(std::slice::from_ref(r));
    let b = m
        .iter()
        .find(|b| b.peer == peer)
        .unwrap_or_else(|| panic!("no battery for {peer}: {m:#?}"));
    b.rows.iter().map(|r| (r.failure, r.verdict)).collect()
}

#[test]
fn the_built_in_peers_refuse_every_derived_failure_for_the_right_reason() {
    let r = run_file("labs/battery.yaml");
    let of = "valid client and server";
    common::assert_accepted(&r, of);
    for f in Failure::SERVER_SET.iter().chain(Failure::CLIENT_SET) {
        let (by, reason) = f.expected();
        let c = derived(&r, of, *f);
        let o = c
            .observed
            .as_ref()
            .unwrap_or_else(|| panic!("{f:?}: {:?}", c.messages));
        assert_eq!(
            (o.outcome, o.by, o.reason, c.status),
            (Outcome::Rejected, Some(by), Some(reason), Status::Passed),
            "{f:?}: {o:#?}"
        );
    }
    // The reasons rustls gives, as the README lists them.
    let expected = [
        (
            Failure::NoClientCertificate,
            Side::Server,
            Reason::CertificateRequired,
        ),
        (Failure::ClientRogueCa, Side::Server, Reason::BadSignature),
        (
            Failure::ClientSelfSigned,
            Side::Server,
            Reason::UnknownIssuer,
        ),
        (
            Failure::ClientCaCertificate,
            Side::Server,
            Reason::CaUsedAsLeaf,
        ),
        (
            Failure::ClientKeyMismatch,
            Side::Server,
            Reason::BadSignature,
        ),
        (
            Failure::ClientIntermediateLeftOut,
            Side::Server,
            Reason::UnknownIssuer,
        ),
        (Failure::ServerOtherName, Side::Client, Reason::NameMismatch),
        (
            Failure::ServerSelfSigned,
            Side::Client,
            Reason::UnknownIssuer,
        ),
        (Failure::ServerRevoked, Side::Client, Reason::Revoked),
    ];
    for (f, by, reason) in expected {
        common::assert_rejected(&r, &battery::case_name(of, f), by, reason);
    }
    let m = matrix(std::slice::from_ref(&r));
    let counts: Vec<(&str, usize, usize, usize, usize)> = m
        .iter()
        .map(|b| {
            (
                b.peer.as_str(),
                b.refused_right_reason,
                b.refused_other_reason,
                b.accepted_wrongly,
                b.skipped,
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("server web (built-in)", 11, 0, 0, 0),
            ("client (built-in)", 9, 0, 0, 0)
        ]
    );
    assert_eq!(r.count(Status::Passed), 21);
}

#[test]
fn a_derived_case_that_cannot_apply_is_skipped_with_why() {
    // The seed lab: one RSA root, no CRL, no intermediate.
    let labs = vec![mtls_lab::lab::load(
        &root().join("labs/seed-mtls.yaml"),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap()];
    let of = "valid client is accepted";
    let labs = battery::only(labs, of, time::OffsetDateTime::now_utc()).unwrap();
    let skipped: Vec<(Failure, String)> = labs[0]
        .cases
        .iter()
        .filter_map(|c| {
            let d = c.derived.as_ref()?;
            Some((d.failure, d.skipped.clone()?))
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                Failure::ClientRevoked,
                "the server checks no CRL (`revocation`)".to_string()
            ),
            (
                Failure::ClientIntermediateLeftOut,
                "the client certificate has no intermediate: its issuer is a root".to_string()
            ),
            (
                Failure::ServerRevoked,
                "the client checks no CRL (`revocation`)".to_string()
            ),
            (
                Failure::ServerIntermediateLeftOut,
                "the server certificate has no intermediate: its issuer is a root".to_string()
            ),
        ]
    );
    // Only the case and its battery are kept: 1 + 11 + 9.
    assert_eq!(labs[0].cases.len(), 21);
}

#[test]
fn a_python_server_that_requires_client_certificates_refuses_each_for_the_right_reason() {
    let r = run_file("tests/fixtures/battery/strict-server.yaml");
    let of = "python server accepts the client";
    common::assert_accepted(&r, of);
    use Failure as F;
    use Verdict as V;
    assert_eq!(
        verdicts(&r, "server py (command)"),
        vec![
            (F::NoClientCertificate, V::RefusedRightReason),
            (F::ClientUnknownCa, V::RefusedRightReason),
            (F::ClientRogueCa, V::RefusedRightReason),
            (F::ClientSelfSigned, V::RefusedRightReason),
            (F::ClientExpired, V::RefusedRightReason),
            (F::ClientNotYetValid, V::RefusedRightReason),
            (F::ClientServerAuthOnly, V::RefusedRightReason),
            (F::ClientCaCertificate, V::Skipped),
            (F::ClientRevoked, V::Skipped),
            (F::ClientIntermediateLeftOut, V::Skipped),
            (F::ClientKeyMismatch, V::RefusedRightReason),
        ]
    );
    // OpenSSL matches issuers by key identifier: the rogue CA is an unknown issuer to it.
    common::assert_rejected(
        &r,
        &battery::case_name(of, F::ClientRogueCa),
        Side::Server,
        Reason::UnknownIssuer,
    );
    common::assert_rejected(
        &r,
        &battery::case_name(of, F::ClientKeyMismatch),
        Side::Server,
        Reason::BadSignature,
    );
    let ca = derived(&r, of, F::ClientCaCertificate);
    assert!(
        ca.messages[0].contains("OpenSSL accepts a cA=TRUE certificate"),
        "{:?}",
        ca.messages
    );
}

#[test]
fn a_python_server_with_cert_none_accepts_every_failure_and_the_run_fails() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = mtls(
        &root(),
        &[
            "run",
            "tests/fixtures/battery/lax-server.yaml",
            "--report-json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The matrix is printed after the cases, before the totals.
    let table_at = stdout
        .find("battery: battery-python-server-cert-none")
        .unwrap();
    let golden_part = &stdout[table_at..];
    common::golden(
        Path::new(&root().join("tests/golden/run/battery-lax-server.out")),
        golden_part,
    );
    assert!(
        golden_part.ends_with("1 passed, 8 failed, 3 skipped\n"),
        "{golden_part}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let b = &report["battery"][0];
    assert_eq!(b["peer"], "server py (command)");
    assert_eq!(b["tested"], "server");
    assert_eq!(
        (
            b["accepted_wrongly"].as_u64(),
            b["refused_right_reason"].as_u64(),
            b["refused_other_reason"].as_u64(),
            b["skipped"].as_u64()
        ),
        (Some(8), Some(0), Some(0), Some(3))
    );
    assert_eq!(b["rows"][0]["failure"], "no_client_certificate");
    assert_eq!(b["rows"][0]["verdict"], "accepted_wrongly");
    assert_eq!(
        b["rows"][0]["expected"],
        "rejected by server: certificate_required"
    );
    common::golden(
        Path::new(&root().join("tests/golden/report/battery-lax-server.json")),
        &format!(
            "{}\n",
            serde_json::to_string_pretty(&report["battery"]).unwrap()
        ),
    );
}

#[test]
fn a_lax_python_client_accepts_bad_servers_and_a_strict_one_refuses_them() {
    use Failure as F;
    let lax = run_file("tests/fixtures/battery/lax-client.yaml");
    let strict = run_file("tests/fixtures/battery/strict-client.yaml");
    let of = "python client goes through";
    common::assert_accepted(&lax, of);
    common::assert_accepted(&strict, of);
    let applicable = [
        F::ServerExpired,
        F::ServerNotYetValid,
        F::ServerOtherName,
        F::ServerUnknownCa,
        F::ServerRogueCa,
        F::ServerClientAuthOnly,
        F::ServerSelfSigned,
    ];
    // Revoked and intermediate-left-out do not apply (no CRL the client checks, no intermediate).
    let rows = |v: Verdict| -> Vec<(Failure, Verdict)> {
        Failure::CLIENT_SET
            .iter()
            .map(|f| {
                (
                    *f,
                    if applicable.contains(f) {
                        v
                    } else {
                        Verdict::Skipped
                    },
                )
            })
            .collect()
    };
    assert_eq!(
        verdicts(&lax, "client (command)"),
        rows(Verdict::AcceptedWrongly)
    );
    assert_eq!(
        verdicts(&strict, "client (command)"),
        rows(Verdict::RefusedRightReason)
    );
    let reasons = [
        (F::ServerExpired, Reason::Expired),
        (F::ServerNotYetValid, Reason::NotYetValid),
        (F::ServerOtherName, Reason::NameMismatch),
        (F::ServerUnknownCa, Reason::UnknownIssuer),
        (F::ServerRogueCa, Reason::UnknownIssuer),
        (F::ServerClientAuthOnly, Reason::WrongPurpose),
        (F::ServerSelfSigned, Reason::UnknownIssuer),
    ];
    for (f, reason) in reasons {
        common::assert_rejected(&strict, &battery::case_name(of, f), Side::Client, reason);
        let c = derived(&lax, of, f);
        assert_eq!(c.status, Status::Failed);
        assert_eq!(c.observed.as_ref().unwrap().outcome, Outcome::Accepted);
    }
    assert!(table(&matrix(std::slice::from_ref(&lax))).contains(
        "0 refused for the right reason, 0 for another reason, 7 accepted wrongly, 2 skipped"
    ));
}

#[test]
fn each_derived_case_takes_the_battery_points() {
    let yaml = format!(
        r#"
lab: battery-points
{}
servers:
  web: {{ certificate: server, trust: [ca] }}
cases:
  - name: works
    client: {{ certificate: client, trust: [ca] }}
    expect: accepted
    points: 3
    battery: {{ set: standard, test: server, points: 2 }}
"#,
        common::PKI
    );
    let r = common::run(&yaml);
    assert!(r.graded);
    // 3 for the case, 2 for each of the 9 derived cases that apply; the 2 skipped leave the total.
    assert_eq!(r.points(), (21.0, 21.0));
    let skipped = derived(&r, "works", Failure::ClientRevoked);
    assert_eq!((skipped.grade.points, skipped.grade.max_points), (0.0, 0.0));
    let run = derived(&r, "works", Failure::ClientExpired);
    assert_eq!((run.grade.points, run.grade.max_points), (2.0, 2.0));
    // `test: server`: no client-side failure is derived.
    assert_eq!(r.cases.len(), 12);
}

// A battery on a case that expects a rejection: tests/golden/bad/battery-on-rejection.yaml (cli.rs).

#[test]
fn battery_lists_and_runs_one_case_from_the_command_line() {
    let out = mtls(
        &root(),
        &[
            "battery",
            "labs/seed-mtls.yaml",
            "valid client is accepted",
            "--list",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    common::golden(
        &root().join("tests/golden/list/battery-seed.out"),
        &String::from_utf8_lossy(&out.stdout),
    );
    let out = mtls(&root(), &["battery", "labs/seed-mtls.yaml", "no such case"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no case named `no such case` in the labs given; `mtls-lab list LAB` lists its cases\n"
    );
    // A near miss: the closest written case names.
    let out = mtls(
        &root(),
        &["battery", "labs/seed-mtls.yaml", "valid client accepted"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no case named `valid client accepted` in the labs given; the closest: `valid client is accepted`\n"
    );
}

#[test]
fn without_the_ca_key_only_the_failures_needing_no_new_certificate_from_it_run() {
    // The seed's PKI on disk; the lab loads the CA without its key, as for a deployed server.
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let out = mtls(
        &root(),
        &["pki", "labs/seed-mtls.yaml", "--out", pki.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = r#"
lab: no-ca-key
authorities:
  ca: { from: { cert: pki/ca/ca.crt } }
certificates:
  server: { issuer: ca, from: { cert: pki/server/server.crt, key: pki/server/server.key } }
  client: { issuer: ca, from: { cert: pki/client/client.crt, key: pki/client/client.key } }
servers:
  web: { certificate: server, trust: [ca] }
cases:
  - name: works
    client: { certificate: client, trust: [ca] }
    expect: accepted
    battery: { set: standard, test: server }
"#;
    let file = dir.path().join("lab.yaml");
    std::fs::write(&file, yaml).unwrap();
    let lab = mtls_lab::lab::load(&file, time::OffsetDateTime::now_utc())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let r = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(mtls_lab::run::run_lab(&lab));
    common::assert_accepted(&r, "works");
    let of = "works";
    common::assert_rejected(
        &r,
        &battery::case_name(of, Failure::NoClientCertificate),
        Side::Server,
        Reason::CertificateRequired,
    );
    common::assert_rejected(
        &r,
        &battery::case_name(of, Failure::ClientUnknownCa),
        Side::Server,
        Reason::UnknownIssuer,
    );
    // The rogue CA takes the loaded root's name and key type from its file; the mismatched key the loaded
    // client certificate's key type: neither needs the CA's key.
    for f in [Failure::ClientRogueCa, Failure::ClientKeyMismatch] {
        common::assert_rejected(
            &r,
            &battery::case_name(of, f),
            Side::Server,
            Reason::BadSignature,
        );
    }
    common::assert_rejected(
        &r,
        &battery::case_name(of, Failure::ClientSelfSigned),
        Side::Server,
        Reason::UnknownIssuer,
    );
    let no_key = "skipped: the client certificate's CA key is not available, so no new certificate can be issued from it";
    for f in [
        Failure::ClientExpired,
        Failure::ClientNotYetValid,
        Failure::ClientServerAuthOnly,
        Failure::ClientCaCertificate,
        Failure::ClientRevoked,
    ] {
        let c = derived(&r, of, f);
        assert_eq!(
            (c.status, c.messages[0].as_str()),
            (Status::Skipped, no_key),
            "{f:?}"
        );
    }
    // Skipped: the 4 needing the CA key, revoked, and the intermediate (the CA is the root).
    assert_eq!(r.count(Status::Skipped), 6);
    assert_eq!(r.count(Status::Passed), 6);
}

#[test]
fn a_rogue_ca_of_an_openssl_made_root_has_its_name_byte_for_byte() {
    // The seed fixture's CA was made by openssl (C as PrintableString, the rest UTF8String): the rogue
    // root takes that name as encoded, so rustls finds it as the issuer and refuses its signature,
    // rather than finding no issuer at all.
    let yaml = format!(
        r#"
lab: rogue-of-a-loaded-root
authorities:
  ca: {{ from: {{ cert: {dir}/ca/ca.crt, key: {dir}/ca/ca.key }} }}
certificates:
  server: {{ issuer: ca, subject: {{ CN: localhost }}, san: [dns:localhost], usage: server, key: ecdsa-p256 }}
  client: {{ issuer: ca, subject: {{ CN: battery-client }}, usage: client, key: ecdsa-p256 }}
servers:
  web: {{ certificate: server, trust: [ca] }}
cases:
  - name: works
    client: {{ certificate: client, trust: [ca] }}
    expect: accepted
    battery: standard
"#,
        dir = root().join("tests/fixtures/seed/good").display()
    );
    let r = common::run(&yaml);
    common::assert_accepted(&r, "works");
    common::assert_rejected(
        &r,
        &battery::case_name("works", Failure::ClientRogueCa),
        Side::Server,
        Reason::BadSignature,
    );
    common::assert_rejected(
        &r,
        &battery::case_name("works", Failure::ServerRogueCa),
        Side::Client,
        Reason::BadSignature,
    );
}

#[test]
fn a_server_refusing_the_valid_client_earns_no_battery_points() {
    // The server trusts the wrong CA: it refuses the written case's valid client, and so every bad one.
    let yaml = format!(
        r#"
lab: battery-wrong-trust
{}
servers:
  web: {{ certificate: server, trust: [other-ca] }}
cases:
  - name: works
    client: {{ certificate: client, trust: [ca] }}
    expect: accepted
    points: 3
    battery: {{ set: standard, test: server, points: 1 }}
"#,
        common::PKI
    );
    let r = common::run(&yaml);
    let written = case(&r, "works");
    assert_eq!(
        (
            written.status,
            written.grade.points,
            written.grade.max_points
        ),
        (Status::Failed, 0.0, 3.0)
    );
    // Each derived case that could apply fails unrun: 0 of its point, which stays in the total (a
    // peer that refuses the valid certificates has not shown it refuses the bad ones); those that
    // could not apply anyway (no CRL, no intermediate) stay skipped with their own why.
    let why = "not run: the case this failure is derived from, `works`, was not accepted: a battery counts only against a peer that completes mTLS with the valid certificates";
    for f in Failure::SERVER_SET {
        let c = derived(&r, "works", *f);
        assert!(c.observed.is_none(), "{f:?}: not run");
        assert_eq!(c.grade.points, 0.0, "{f:?}");
        if matches!(
            f,
            Failure::ClientRevoked | Failure::ClientIntermediateLeftOut
        ) {
            assert_eq!(c.status, Status::Skipped, "{f:?}");
        } else {
            assert_eq!(
                (c.status, c.grade.max_points, c.messages.clone()),
                (Status::Failed, 1.0, vec![why.to_string()]),
                "{f:?}"
            );
        }
    }
    assert_eq!(r.points(), (0.0, 12.0));
    let v = verdicts(&r, "server web (built-in)");
    assert_eq!(
        (
            v.iter().filter(|(_, v)| *v == Verdict::NotDecided).count(),
            v.iter().filter(|(_, v)| *v == Verdict::Skipped).count()
        ),
        (9, 2)
    );
}

/// A root, an issuing intermediate under it issuing both leaves, and one accepted case with a battery
/// whose peers trust `trust`.
fn two_level(trust: &str) -> String {
    format!(
        r#"
lab: rogue-of-the-anchor
authorities:
  root: {{ subject: {{ O: Rogue Lab, CN: Root CA }} }}
  issuing: {{ issuer: root, subject: {{ O: Rogue Lab, CN: Issuing CA }} }}
certificates:
  server: {{ issuer: issuing, subject: {{ CN: localhost }}, san: [dns:localhost, ip:127.0.0.1], usage: server }}
  client: {{ issuer: issuing, subject: {{ CN: battery-client }}, usage: client }}
servers:
  web: {{ certificate: server, trust: [{trust}] }}
cases:
  - name: works
    client: {{ certificate: client, trust: [{trust}] }}
    expect: accepted
    battery: standard
"#
    )
}

#[test]
fn a_rogue_ca_copies_the_anchor_the_verifier_trusts_not_the_root() {
    let rogue = [Failure::ClientRogueCa, Failure::ServerRogueCa];
    for (trust, anchor) in [
        ("issuing", "issuing"),
        ("root", "root"),
        // Both trusted: the path from the leaf reaches the intermediate first.
        ("root, issuing", "issuing"),
    ] {
        let mut lab = common::lab(&two_level(trust));
        // The rogue root has the anchor's name and key type, and issues each derived leaf directly.
        let a = |name: &str| {
            lab.authorities
                .iter()
                .find(|a| a.name == name)
                .unwrap_or_else(|| panic!("{trust}: no authority {name}"))
        };
        let (copied, made) = (a(anchor), a(&format!("{anchor}.battery-rogue")));
        assert_eq!(
            (made.subject.common_name.as_deref(), made.key, made.issuer),
            (copied.subject.common_name.as_deref(), copied.key, None),
            "{trust}"
        );
        let rogues = lab
            .authorities
            .iter()
            .filter(|a| a.name.ends_with(".battery-rogue"))
            .count();
        assert_eq!(rogues, 1, "{trust}");
        for leaf in ["client.battery-rogue-ca", "server.battery-rogue-ca"] {
            let c = lab.certificates.iter().find(|c| c.name == leaf).unwrap();
            assert_eq!(
                lab.authorities[c.issuer.unwrap()].name,
                format!("{anchor}.battery-rogue"),
                "{trust}: {leaf}"
            );
        }
        if trust == "root, issuing" {
            continue;
        }
        // Run the case and its two rogue cases: rustls finds the anchor by name on both sides and
        // refuses the rogue's signature.
        lab.cases.retain(|c| {
            c.derived
                .as_ref()
                .is_none_or(|d| rogue.contains(&d.failure))
        });
        let r = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(mtls_lab::run::run_lab(&lab));
        common::assert_accepted(&r, "works");
        common::assert_rejected(
            &r,
            &battery::case_name("works", Failure::ClientRogueCa),
            Side::Server,
            Reason::BadSignature,
        );
        common::assert_rejected(
            &r,
            &battery::case_name("works", Failure::ServerRogueCa),
            Side::Client,
            Reason::BadSignature,
        );
        assert_eq!(r.cases.len(), 3, "{trust}");
    }
}

#[test]
fn a_client_command_with_a_fixed_address_meets_each_derived_server_there_in_turn() {
    use Failure as F;
    use Verdict as V;
    // A free port now, written into the lab as the one address the client knows.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let strict = std::fs::read_to_string(root().join("tests/fixtures/battery/strict-client.yaml"))
        .unwrap()
        .replace(
            "web: { certificate: server, trust: [ca] }",
            &format!("web: {{ certificate: server, trust: [ca], listen: \"127.0.0.1:{port}\" }}"),
        )
        .replace(
            "{dir}/client.py",
            &root()
                .join("tests/fixtures/battery/client.py")
                .display()
                .to_string(),
        )
        .replace("\"{url}\"", &format!("\"https://localhost:{port}/\""));
    let file = dir.path().join("fixed.yaml");
    std::fs::write(&file, strict).unwrap();
    let lab = mtls_lab::lab::load(&file, time::OffsetDateTime::now_utc())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    // Every derived server listens where the client connects.
    let fixed: Vec<&str> = lab
        .servers
        .iter()
        .map(|s| match &s.kind {
            mtls_lab::lab::ServerKind::BuiltIn { listen: Some(a) } if a.port() == port => "fixed",
            _ => "other",
        })
        .collect();
    assert!(fixed.iter().all(|f| *f == "fixed"), "{fixed:?}");
    assert_eq!(fixed.len(), 8, "the server and 7 derived ones");
    let r = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(mtls_lab::run::run_lab(&lab));
    let of = "python client goes through";
    common::assert_accepted(&r, of);
    assert_eq!(
        verdicts(&r, "client (command)"),
        vec![
            (F::ServerExpired, V::RefusedRightReason),
            (F::ServerNotYetValid, V::RefusedRightReason),
            (F::ServerOtherName, V::RefusedRightReason),
            (F::ServerUnknownCa, V::RefusedRightReason),
            (F::ServerRogueCa, V::RefusedRightReason),
            (F::ServerClientAuthOnly, V::RefusedRightReason),
            (F::ServerRevoked, V::Skipped),
            (F::ServerIntermediateLeftOut, V::Skipped),
            (F::ServerSelfSigned, V::RefusedRightReason),
        ]
    );
    common::assert_rejected(
        &r,
        &battery::case_name(of, F::ServerOtherName),
        Side::Client,
        Reason::NameMismatch,
    );
    common::assert_rejected(
        &r,
        &battery::case_name(of, F::ServerExpired),
        Side::Client,
        Reason::Expired,
    );
}

#[test]
fn servers_sharing_a_fixed_port_take_turns_and_load_refuses_them() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let yaml = format!(
        r#"
lab: turns
authorities:
  ca: {{ subject: {{ CN: Turns CA }} }}
certificates:
  a: {{ issuer: ca, subject: {{ CN: server-a }}, san: [dns:localhost], usage: server }}
  b: {{ issuer: ca, subject: {{ CN: server-b }}, san: [dns:localhost], usage: server }}
servers:
  a: {{ certificate: a, client_auth: none, listen: "127.0.0.1:{port}" }}
  b: {{ certificate: b, client_auth: none, listen: "127.0.0.1:{port}" }}
cases:
  - {{ name: to a, server: a, client: {{ trust: [ca] }}, expect: {{ outcome: accepted, client_saw: {{ CN: server-a }} }} }}
  - {{ name: to b, server: b, client: {{ trust: [ca] }}, expect: {{ outcome: accepted, client_saw: {{ CN: server-b }} }} }}
  - {{ name: to a again, server: a, client: {{ trust: [ca] }}, expect: {{ outcome: accepted, client_saw: {{ CN: server-a }} }} }}
"#
    );
    let r = common::run(&yaml);
    for (name, cn) in [
        ("to a", "server-a"),
        ("to b", "server-b"),
        ("to a again", "server-a"),
    ] {
        common::assert_accepted(&r, name);
        let saw = case(&r, name).observed.as_ref().unwrap().client_saw.clone();
        assert_eq!(
            saw.and_then(|i| i.common_name).as_deref(),
            Some(cn),
            "{name}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("turns.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = mtls(
        dir.path(),
        &["load", "turns.yaml", "--case", "to a", "--count", "5"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("case `to a`: its server shares a fixed port with another server of the lab"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two written cases over the same certificates, one verifier trusting the intermediate, the other the
/// root, and a third at another clock: each battery gets its own copies (a rogue with the name of the
/// CA its verifier trusts, copies valid at its clock) — sharing the first case's made the second's rogue
/// CA `unknown_issuer` and its copies expired at the later clock.
#[test]
fn batteries_over_the_same_certificates_each_get_their_own_copies() {
    let r = common::run(
        r#"
lab: battery-per-case
authorities:
  root: { subject: { O: Per Case, CN: Per Case Root } }
  issuing: { issuer: root, subject: { O: Per Case, CN: Per Case Issuing } }
certificates:
  server: { issuer: issuing, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }
  client: { issuer: issuing, subject: { CN: alice }, usage: client }
servers:
  by-issuing: { certificate: server, trust: [issuing] }
  by-root: { certificate: server, trust: [root] }
cases:
  - name: issuing
    server: by-issuing
    client: { certificate: client, trust: [issuing] }
    expect: accepted
    battery: standard
  - name: root
    server: by-root
    client: { certificate: client, trust: [root] }
    expect: accepted
    battery: standard
  - name: later
    server: by-root
    client: { certificate: client, trust: [root] }
    at: +60d
    expect: accepted
    battery: standard
"#,
    );
    for of in ["issuing", "root", "later"] {
        for (f, by) in [
            (Failure::ClientRogueCa, Side::Server),
            (Failure::ServerRogueCa, Side::Client),
        ] {
            let c = derived(&r, of, f);
            let o = c.observed.as_ref().expect("observed");
            assert_eq!(
                (c.status, o.by, o.reason),
                (Status::Passed, Some(by), Some(Reason::BadSignature)),
                "{of} {f:?}: {:?}",
                c.messages
            );
        }
    }
    // Every derived case that applies is refused for its own reason, at each case's clock.
    let m = matrix(std::slice::from_ref(&r));
    assert_eq!(m.len(), 6, "{m:#?}");
    for b in &m {
        assert_eq!(
            (b.refused_other_reason, b.accepted_wrongly, b.not_decided),
            (0, 0, 0),
            "{}: {}",
            b.heading(),
            b.counts()
        );
    }
}

/// A server that reaches its client's anchor only through a cross-certificate it sends (`chain:` with a
/// `key_of` cross-certificate): its derived copies issued by the same CA are sent with that chain, so
/// "another name" is refused as `name_mismatch` (sent with the model's chain it was `unknown_issuer`).
#[test]
fn derived_servers_keep_the_written_servers_chain() {
    let r = common::run(
        r#"
lab: battery-cross-signed
authorities:
  old-root: { subject: { O: Cross Lab, CN: Old Root } }
  new-root: { subject: { O: Cross Lab, CN: New Root } }
  new-root-by-old: { issuer: old-root, key_of: new-root }
  issuing: { issuer: new-root, subject: { O: Cross Lab, CN: Issuing CA } }
certificates:
  server: { issuer: issuing, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }
  client: { issuer: issuing, subject: { CN: migrating-client }, usage: client }
servers:
  web: { certificate: server, chain: [issuing, new-root-by-old], trust: [old-root] }
cases:
  - name: the old trust store reaches the new chain
    client: { certificate: client, chain: [issuing, new-root-by-old], trust: [old-root] }
    expect: accepted
    battery: { set: standard, test: client }
"#,
    );
    let of = "the old trust store reaches the new chain";
    common::assert_accepted(&r, of);
    for (f, reason) in [
        (Failure::ServerOtherName, Reason::NameMismatch),
        (Failure::ServerExpired, Reason::Expired),
        (Failure::ServerNotYetValid, Reason::NotYetValid),
        (Failure::ServerClientAuthOnly, Reason::WrongPurpose),
    ] {
        let c = derived(&r, of, f);
        let o = c.observed.as_ref().expect("observed");
        assert_eq!(
            (c.status, o.by, o.reason),
            (Status::Passed, Some(Side::Client), Some(reason)),
            "{f:?}: {:?}",
            c.messages
        );
    }
}

/// A server that trusts a self-signed client certificate itself: the self-signed copy (its name, another
/// key) cannot be "a certificate of an unknown issuer" there — rustls refuses it for its signature — so
/// that row is skipped with why; the key-mismatch row needs no CA and runs. Every row that applies is
/// refused for its right reason (the built-in peers failed their own battery before).
#[test]
fn a_self_signed_certificate_trusted_itself_skips_only_the_self_signed_row() {
    let out = mtls(
        &root(),
        &[
            "battery",
            "labs/self-signed-client.yaml",
            "a server that trusts the self-signed certificate itself accepts it",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("self-signed client certificate                                 skipped                 skipped: the server trusts the client certificate itself (`trust`): a self-signed copy with its name is refused for its signature (`bad_signature`), not as a certificate of an unknown issuer"), "{stdout}");
    assert!(stdout.contains("client certificate with a key that does not match              refused (right reason)  rejected by server: bad_signature"), "{stdout}");
    assert!(!stdout.contains("other reason)"), "{stdout}");
}

/// A server that checks CRLs but has only the root's (`revocation.crls: [root]`) cannot know a client
/// certificate of the intermediate is revoked: the revoked row is skipped with why (it was expected as
/// `revoked` and judged accepted wrongly); with the intermediate's CRL it runs and is refused.
#[test]
fn the_revoked_row_needs_the_verifier_to_have_the_issuers_crl() {
    let lab = |crls: &str| {
        format!(
            r#"
lab: battery-crl-reach
authorities:
  root: {{ subject: {{ O: Crl Reach, CN: Crl Reach Root }}, crl: {{}} }}
  inter: {{ issuer: root, subject: {{ O: Crl Reach, CN: Crl Reach Inter }}, crl: {{}} }}
certificates:
  server: {{ issuer: inter, subject: {{ CN: localhost }}, san: [dns:localhost, ip:127.0.0.1], usage: server }}
  client: {{ issuer: inter, subject: {{ CN: alice }}, usage: client }}
servers:
  web: {{ certificate: server, trust: [root], revocation: {{ check: end_entity, unknown: allow, crls: [{crls}] }} }}
cases:
  - name: works
    client: {{ certificate: client, trust: [root] }}
    expect: accepted
    battery: {{ set: standard, test: server }}
"#
        )
    };
    let r = common::run(&lab("root"));
    let c = derived(&r, "works", Failure::ClientRevoked);
    assert_eq!(
        (c.status, c.messages.clone()),
        (
            Status::Skipped,
            vec!["skipped: the server has no CRL of the issuer `inter` (`revocation.crls`): it cannot know the copy is revoked".to_string()]
        )
    );
    let r = common::run(&lab("root, inter"));
    let c = derived(&r, "works", Failure::ClientRevoked);
    let o = c.observed.as_ref().expect("observed");
    assert_eq!(
        (c.status, o.by, o.reason),
        (Status::Passed, Some(Side::Server), Some(Reason::Revoked)),
        "{:?}",
        c.messages
    );
}
