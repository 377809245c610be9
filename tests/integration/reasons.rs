//! One test per reason code of the core runner: each runs real handshakes and asserts the exact side and reason observed.

use crate::common;

use common::{assert_accepted, assert_rejected, run, PKI};
use mtls_lab::reason::Reason;
use mtls_lab::spec::Side;

fn lab(extra_certs: &str, servers: &str, cases: &str) -> String {
    format!("lab: reasons\n{PKI}{extra_certs}\nservers:\n{servers}\ncases:\n{cases}")
}

#[test]
fn certificate_required_from_the_server_in_tls13_and_tls12() {
    let r = run(&lab(
        "",
        "  web: { certificate: server, trust: [ca] }",
        r#"
  - name: tls13
    client: { trust: [ca], tls: [1.3] }
    expect: { outcome: rejected, by: server, reason: certificate_required }
  - name: tls12
    client: { trust: [ca], tls: [1.2] }
    expect: { outcome: rejected, by: server, reason: certificate_required }
"#,
    ));
    assert_rejected(&r, "tls13", Side::Server, Reason::CertificateRequired);
    assert_rejected(&r, "tls12", Side::Server, Reason::CertificateRequired);
    // The client received the server's alert in TLS 1.2 at least (in 1.3 it may only see a close).
    let o = common::case(&r, "tls12").observed.clone().unwrap();
    assert_eq!(o.alert.as_deref(), Some("certificate_required"));
    assert_eq!(o.alert_sent.as_deref(), Some("certificate_required"));
}

#[test]
fn unknown_issuer_from_both_sides() {
    let r = run(&lab(
        "  stranger: { issuer: other-ca, subject: { CN: mallory }, usage: client }\n",
        "  web: { certificate: server, trust: [ca] }",
        r#"
  - name: server does not know the client's CA
    client: { certificate: stranger, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: unknown_issuer }
  - name: client does not know the server's CA
    client: { certificate: client, trust: [other-ca] }
    expect: { outcome: rejected, by: client, reason: unknown_issuer }
"#,
    ));
    assert_rejected(
        &r,
        "server does not know the client's CA",
        Side::Server,
        Reason::UnknownIssuer,
    );
    assert_rejected(
        &r,
        "client does not know the server's CA",
        Side::Client,
        Reason::UnknownIssuer,
    );
}

#[test]
fn bad_signature_from_a_rogue_ca_with_the_trusted_name() {
    let r = run(&lab(
        r#"  rogue-server: { issuer: rogue, subject: { CN: localhost }, san: [dns:localhost], usage: server }
  rogue-client: { issuer: rogue, subject: { CN: alice }, usage: client }
"#,
        "  web: { certificate: server, trust: [ca] }\n  evil: { certificate: rogue-server, trust: [ca] }",
        r#"
  - name: server rejects a client signed by the rogue
    server: web
    client: { certificate: rogue-client, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: bad_signature }
  - name: client rejects a server signed by the rogue
    server: evil
    client: { certificate: client, trust: [ca] }
    expect: { outcome: rejected, by: client, reason: bad_signature }
"#,
    )
    .replace(
        "certificates:",
        "  rogue: { subject: { O: Test Lab, CN: Test Lab CA } }\ncertificates:",
    ));
    assert_rejected(
        &r,
        "server rejects a client signed by the rogue",
        Side::Server,
        Reason::BadSignature,
    );
    assert_rejected(
        &r,
        "client rejects a server signed by the rogue",
        Side::Client,
        Reason::BadSignature,
    );
}

#[test]
fn expired_and_not_yet_valid_from_both_sides() {
    let r = run(&lab(
        r#"  old-client: { issuer: ca, subject: { CN: alice }, usage: client, valid: { from: -30d, until: -1d } }
  future-client: { issuer: ca, subject: { CN: alice }, usage: client, valid: { from: +1d, until: +30d } }
  old-server: { issuer: ca, subject: { CN: localhost }, usage: server, valid: { from: -30d, until: -1s } }
  future-server: { issuer: ca, subject: { CN: localhost }, usage: server, valid: { from: +1h } }
"#,
        "  web: { certificate: server, trust: [ca] }\n  old: { certificate: old-server, trust: [ca] }\n  future: { certificate: future-server, trust: [ca] }",
        r#"
  - name: expired client
    server: web
    client: { certificate: old-client, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: expired }
  - name: not yet valid client
    server: web
    client: { certificate: future-client, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: not_yet_valid }
  - name: expired server
    server: old
    client: { certificate: client, trust: [ca] }
    expect: { outcome: rejected, by: client, reason: expired }
  - name: not yet valid server
    server: future
    client: { certificate: client, trust: [ca] }
    expect: { outcome: rejected, by: client, reason: not_yet_valid }
"#,
    ));
    assert_rejected(&r, "expired client", Side::Server, Reason::Expired);
    assert_rejected(
        &r,
        "not yet valid client",
        Side::Server,
        Reason::NotYetValid,
    );
    assert_rejected(&r, "expired server", Side::Client, Reason::Expired);
    assert_rejected(
        &r,
        "not yet valid server",
        Side::Client,
        Reason::NotYetValid,
    );
}

#[test]
fn name_mismatch_for_dns_and_ip() {
    let r = run(&lab(
        "",
        "  web: { certificate: server, trust: [ca] }",
        r#"
  - name: listed name
    client: { certificate: client, trust: [ca], server_name: localhost }
    expect: accepted
  - name: other dns name
    client: { certificate: client, trust: [ca], server_name: db.internal }
    expect: { outcome: rejected, by: client, reason: name_mismatch }
  - name: other ip
    client: { certificate: client, trust: [ca], server_name: "::1" }
    expect: { outcome: rejected, by: client, reason: name_mismatch }
"#,
    ));
    assert_accepted(&r, "listed name");
    assert_rejected(&r, "other dns name", Side::Client, Reason::NameMismatch);
    assert_rejected(&r, "other ip", Side::Client, Reason::NameMismatch);
}

#[test]
fn wrong_purpose_from_both_sides() {
    let r = run(&lab(
        r#"  server-as-client: { issuer: ca, subject: { CN: alice }, usage: server }
  client-as-server: { issuer: ca, subject: { CN: localhost }, usage: client }
"#,
        "  web: { certificate: server, trust: [ca] }\n  confused: { certificate: client-as-server, trust: [ca] }",
        r#"
  - name: client presents a server-only certificate
    server: web
    client: { certificate: server-as-client, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: wrong_purpose }
  - name: server presents a client-only certificate
    server: confused
    client: { certificate: client, trust: [ca] }
    expect: { outcome: rejected, by: client, reason: wrong_purpose }
"#,
    ));
    assert_rejected(
        &r,
        "client presents a server-only certificate",
        Side::Server,
        Reason::WrongPurpose,
    );
    assert_rejected(
        &r,
        "server presents a client-only certificate",
        Side::Client,
        Reason::WrongPurpose,
    );
}

#[test]
fn protocol_version_when_versions_do_not_overlap() {
    let r = run(&lab(
        "",
        "  tls13: { certificate: server, trust: [ca], tls: [1.3] }\n  tls12: { certificate: server, trust: [ca], tls: [1.2] }",
        r#"
  - name: tls12 client, tls13 server
    server: tls13
    client: { certificate: client, trust: [ca], tls: [1.2] }
    expect: { outcome: rejected, by: server, reason: protocol_version }
  - name: tls13 client, tls12 server
    server: tls12
    client: { certificate: client, trust: [ca], tls: [1.3] }
    expect: { outcome: rejected, by: server, reason: protocol_version }
  - name: tls12 both
    server: tls12
    client: { certificate: client, trust: [ca], tls: [1.2] }
    expect: accepted
"#,
    ));
    assert_rejected(
        &r,
        "tls12 client, tls13 server",
        Side::Server,
        Reason::ProtocolVersion,
    );
    assert_rejected(
        &r,
        "tls13 client, tls12 server",
        Side::Server,
        Reason::ProtocolVersion,
    );
    assert_accepted(&r, "tls12 both");
    let o = common::case(&r, "tls12 both").observed.clone().unwrap();
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1.2"));
}

#[test]
fn accepted_checks_the_identity_the_server_saw() {
    let r = run(&lab(
        "",
        "  web: { certificate: server, trust: [ca] }\n  open: { certificate: server, trust: [ca], client_auth: optional }",
        r#"
  - name: right identity
    server: web
    client: { certificate: client, trust: [ca] }
    expect: { outcome: accepted, server_saw: { CN: alice, O: Test Lab, san: [dns:alice] }, status: 200 }
  - name: wrong identity
    server: web
    client: { certificate: client, trust: [ca] }
    expect: { outcome: accepted, server_saw: { CN: bob } }
  - name: optional auth, no certificate
    server: open
    client: { trust: [ca] }
    expect: { outcome: accepted, server_saw: { none: true } }
"#,
    ));
    assert_accepted(&r, "right identity");
    assert_accepted(&r, "optional auth, no certificate");
    let wrong = common::case(&r, "wrong identity");
    assert_eq!(wrong.status, mtls_lab::run::Status::Failed);
    assert_eq!(
        wrong.messages,
        vec!["CN: expected `bob`, the server saw `alice`".to_string()]
    );
}

#[test]
fn a_rejection_for_another_reason_fails_the_case_and_shows_both() {
    // The seed's "curl without a client certificate" mistake: the client does not trust the CA,
    // so the handshake fails on the client before the server could ask for a certificate.
    let r = run(&lab(
        "",
        "  web: { certificate: server, trust: [ca] }",
        r#"
  - name: no client certificate
    client: { trust: [] }
    expect: { outcome: rejected, by: server, reason: certificate_required }
"#,
    ));
    let c = common::case(&r, "no client certificate");
    assert_eq!(c.status, mtls_lab::run::Status::Failed);
    assert_eq!(
        c.messages,
        vec!["expected rejected by server: certificate_required, observed rejected by client: unknown_issuer".to_string()]
    );
}
