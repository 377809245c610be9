//! Every reason code has a learner-facing explanation with the case's facts filled in, and a fix.

use crate::common;

use mtls_lab::reason::Reason;
use mtls_lab::spec::{Outcome, Side};
use mtls_lab::verdict::explain::explain;
use mtls_lab::verdict::Observed;

const LAB: &str = r#"
lab: explain
authorities:
  ca: { subject: { O: Explain Lab, CN: Explain Root } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }
  client: { issuer: ca, subject: { CN: alice }, usage: client, valid: { from: -10d, until: -1d } }
servers:
  web: { certificate: server, trust: [ca], tls: [1.3] }
cases:
  - name: by the server
    client: { certificate: client, trust: [ca], server_name: api.example.com, tls: [1.2] }
    expect: { outcome: rejected, by: server, reason: expired }
"#;

fn observed(by: Side, reason: Reason) -> Observed {
    Observed {
        outcome: Outcome::Rejected,
        by: Some(by),
        reason: Some(reason),
        detail: Some("rustls's own words".into()),
        alert_sent: None,
        alert: None,
        tls_version: None,
        server_saw: None,
        client_saw: None,
        negotiated: Default::default(),
        http_status: None,
        duration_ms: 0,
        exit_status: None,
        external: None,
        server_exit: None,
    }
}

/// The side that rejects for `reason` in the test (client-only reasons from the client).
fn side(reason: Reason) -> Side {
    match reason {
        Reason::NameMismatch | Reason::PinMismatch => Side::Client,
        r if r.is_transport() => Side::Client,
        _ => Side::Server,
    }
}

/// What each explanation must mention: the case's facts (names, times, what was trusted) and a fix.
fn facts(reason: Reason) -> &'static [&'static str] {
    match reason {
        Reason::CertificateRequired => &["`web`", "--cert", "load_cert_chain"],
        // The server trusts the client's issuer here: the words say so, and the fix is the server's.
        Reason::UnknownIssuer => &["`client`", "`ca`", "trusted `ca`", "ssl_client_certificate"],
        Reason::BadSignature => &["`client`", "same name"],
        Reason::Expired => &["`client`", "expired at"],
        Reason::NotYetValid => &["`client`", "valid only from"],
        Reason::NameMismatch => &[
            "api.example.com",
            "dns:localhost, ip:127.0.0.1",
            "subjectAltName",
        ],
        Reason::WrongPurpose => &["`client`", "clientAuth"],
        Reason::Revoked => &["`client`", "revocation list"],
        Reason::RevocationUnknown => &["the server", "`client`", "CRL"],
        Reason::CaUsedAsLeaf => &["`client`", "CA certificate"],
        Reason::IssuerNotCa => &["`client`", "not a CA"],
        Reason::PathLenExceeded => &["`client`", "path length"],
        Reason::ChainTooLong => &["`client`", "at most 6 intermediates", "pathLenConstraint"],
        Reason::NameConstraints => &["`client`", "name constraints"],
        Reason::PinMismatch => &["`server`", "pinned"],
        Reason::ProtocolVersion => &["TLS 1.2", "TLS 1.3", "`web`"],
        Reason::HandshakeFailure => &["cipher suite"],
        Reason::NoApplicationProtocol => &["ALPN", "`web`", "no_application_protocol"],
        Reason::UnsupportedAlgorithm | Reason::UnsupportedCertVersion | Reason::BadEncoding => {
            &["the server", "`client`", "rustls's own words"]
        }
        Reason::ConnectionRefused => &["listening"],
        Reason::ConnectionClosed => &["closed"],
        Reason::Timeout => &["in time"],
        Reason::Other => &["rustls's own words"],
    }
}

#[test]
fn every_reason_code_is_explained_with_the_facts_of_the_case() {
    let lab = common::lab(LAB);
    let case = &lab.cases[0];
    let now = time::OffsetDateTime::now_utc();
    for &reason in Reason::ALL {
        let e = explain(&lab, case, &observed(side(reason), reason), now)
            .unwrap_or_else(|| panic!("{reason} has no explanation"));
        assert_eq!(e.reason, reason);
        assert!(e.what.len() > 20 && e.fix.len() > 20, "{reason}: {e:?}");
        assert!(
            !facts(reason).is_empty(),
            "{reason}: name the facts its explanation must carry"
        );
        for fact in facts(reason) {
            assert!(
                e.what.contains(fact) || e.fix.contains(fact),
                "{reason}: `{fact}` missing from {e:#?}"
            );
        }
    }
}

#[test]
fn an_explanation_names_the_certificate_of_the_side_that_was_verified() {
    let lab = common::lab(LAB);
    let now = time::OffsetDateTime::now_utc();
    for reason in [Reason::UnknownIssuer, Reason::Expired, Reason::WrongPurpose] {
        let by_client = explain(&lab, &lab.cases[0], &observed(Side::Client, reason), now).unwrap();
        assert!(
            by_client.what.contains("server certificate `server`"),
            "{reason}: {by_client:#?}"
        );
        let by_server = explain(&lab, &lab.cases[0], &observed(Side::Server, reason), now).unwrap();
        assert!(
            by_server.what.contains("client certificate `client`"),
            "{reason}: {by_server:#?}"
        );
    }
}

#[test]
fn chain_too_long_counts_the_intermediates_below_the_anchor_and_names_the_limit() {
    let path = common::root().join("labs/chain-too-long.yaml");
    let now = time::OffsetDateTime::now_utc();
    let lab = mtls_lab::lab::load(&path, now).unwrap_or_else(|e| panic!("{}", e.render()));
    let case = |name: &str| lab.cases.iter().find(|c| c.name == name).unwrap();
    let e = explain(
        &lab,
        case("the server refuses a client chain with seven intermediates"),
        &observed(Side::Server, Reason::ChainTooLong),
        now,
    )
    .unwrap();
    assert_eq!(
        e.what,
        "the chain of `seven-deep-client` has 7 intermediates between it and the authority the server trusts; rustls-webpki builds paths through at most 6 intermediates (a fixed limit of the verifier, not a pathLenConstraint of any certificate). Under TLS 1.3 the client completes its side of the handshake before the server checks its certificate, so the client learns of the refusal only on its first read (curl exit 56, Python's error on `recv`), not while connecting."
    );
    let e = explain(
        &lab,
        case("the client refuses a server chain with seven intermediates"),
        &observed(Side::Client, Reason::ChainTooLong),
        now,
    )
    .unwrap();
    assert!(
        e.what.contains("`seven-deep-server` has 7 intermediates"),
        "{e:#?}"
    );
    assert!(
        e.fix.contains("OpenSSL's default depth limit is 100"),
        "{e:#?}"
    );
}

#[test]
fn accepted_cases_have_no_explanation() {
    let lab = common::lab(LAB);
    let mut o = observed(Side::Server, Reason::Expired);
    o.outcome = Outcome::Accepted;
    o.by = None;
    o.reason = None;
    assert!(explain(&lab, &lab.cases[0], &o, time::OffsetDateTime::now_utc()).is_none());
}

#[test]
fn explanations_reach_the_console_and_the_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let out = common::mtls(
        &common::root(),
        &[
            "run",
            "labs/seed-mtls.yaml",
            "--explain",
            "--report-json",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "      why:      server `web` requires a client certificate, and the client sent none."
        ),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let case = &json["labs"][0]["cases"][1];
    assert_eq!(case["explanation"]["reason"], "certificate_required");
    assert!(case["explanation"]["fix"]
        .as_str()
        .unwrap()
        .contains("--cert client.crt"));
    assert!(json["labs"][0]["cases"][0].get("explanation").is_none());
}
