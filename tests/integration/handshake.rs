//! The handshake itself: what was negotiated (version, suite, group, signature scheme, ALPN, the server
//! identity the client saw), ALPN refusals, certificates chosen by SNI, and `check`'s positions for the
//! new fields. Each verdict is asserted with its side, reason and identity, each value exactly.

use std::path::Path;

use mtls_lab::reason::Reason;
use mtls_lab::run::Status;
use mtls_lab::spec::Side;

use crate::common::{assert_accepted, assert_rejected, case, run};

/// One CA; a server for localhost (ECDSA P-256), three virtual-host certificates, a client.
const PKI: &str = r#"
lab: handshake
authorities:
  ca: { subject: { O: Handshake Lab, CN: Handshake CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: server }
  default: { issuer: ca, subject: { CN: default.lab.test }, san: [dns:default.lab.test, ip:127.0.0.1], usage: server }
  api: { issuer: ca, subject: { CN: api.lab.test }, san: [dns:api.lab.test], usage: server }
  www: { issuer: ca, subject: { CN: www.lab.test }, san: [dns:www.lab.test], usage: server }
  client: { issuer: ca, subject: { CN: hs-client }, usage: client }
"#;

fn negotiated(r: &mtls_lab::run::LabResult, name: &str) -> mtls_lab::tls::negotiated::Negotiated {
    case(r, name).observed.as_ref().unwrap().negotiated.clone()
}

#[test]
fn every_negotiated_value_is_recorded_and_each_assertion_is_checked() {
    let r = run(&format!(
        r#"{PKI}
servers:
  web: {{ certificate: server, trust: [ca] }}
  x25519-only: {{ certificate: server, trust: [ca], groups: [x25519] }}
cases:
  - name: tls13
    server: web
    client: {{ certificate: client, trust: [ca], groups: [x25519, secp256r1] }}
    expect: {{ outcome: accepted, tls_version: "1.3", cipher_suite: TLS13_AES_256_GCM_SHA384, group: x25519, signature_scheme: ecdsa_secp256r1_sha256, alpn: false, client_saw: {{ CN: localhost }} }}
  - name: tls12
    server: web
    client: {{ certificate: client, trust: [ca], tls: ["1.2"], ciphers: [TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256], groups: [secp384r1] }}
    expect: {{ outcome: accepted, tls_version: "1.2", cipher_suite: TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, group: secp384r1 }}
  - name: wrong values
    server: web
    client: {{ certificate: client, trust: [ca] }}
    expect: {{ outcome: accepted, tls_version: "1.2", group: secp384r1, signature_scheme: ed25519, alpn: h2, client_saw: {{ CN: other }} }}
  - name: no common group
    server: x25519-only
    client: {{ certificate: client, trust: [ca], groups: [secp256r1] }}
    expect: {{ outcome: rejected, by: server, reason: handshake_failure, alert: handshake_failure }}
"#
    ));
    assert_accepted(&r, "tls13");
    let n = negotiated(&r, "tls13");
    assert_eq!(n.cipher_suite.as_deref(), Some("TLS13_AES_256_GCM_SHA384"));
    assert_eq!(n.group.as_deref(), Some("x25519"));
    assert_eq!(
        n.signature_scheme.as_deref(),
        Some("ecdsa_secp256r1_sha256")
    );
    assert_eq!((n.alpn, n.resumed), (None, Some(false)));
    assert_eq!(n.sni.as_deref(), Some("localhost"));
    let o = case(&r, "tls13").observed.as_ref().unwrap();
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(
        o.client_saw.as_ref().and_then(|i| i.common_name.as_deref()),
        Some("localhost")
    );

    assert_accepted(&r, "tls12");
    let n = negotiated(&r, "tls12");
    assert_eq!(
        (n.cipher_suite.as_deref(), n.group.as_deref()),
        (
            Some("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
            Some("secp384r1")
        )
    );

    let wrong = case(&r, "wrong values");
    assert_eq!(wrong.status, Status::Failed);
    assert_eq!(
        wrong.messages,
        [
            "CN: expected `other`, the client saw `localhost`",
            "TLS version: expected TLSv1.2, observed TLSv1.3",
            "key-exchange group: expected secp384r1, observed x25519",
            "signature scheme: expected ed25519, observed ecdsa_secp256r1_sha256",
            "ALPN: expected h2, observed none",
        ]
    );

    assert_rejected(
        &r,
        "no common group",
        Side::Server,
        Reason::HandshakeFailure,
    );
    let o = case(&r, "no common group").observed.as_ref().unwrap();
    assert_eq!(o.alert_sent.as_deref(), Some("handshake_failure"));
}

#[test]
fn alpn_is_the_servers_choice_and_a_mismatch_is_refused_by_the_server() {
    let r = run(&format!(
        r#"{PKI}
servers:
  web: {{ certificate: server, trust: [ca], alpn: [h2, http/1.1] }}
cases:
  - name: server preference
    client: {{ certificate: client, trust: [ca], alpn: [http/1.1, h2] }}
    expect: {{ outcome: accepted, alpn: h2, server_saw: {{ CN: hs-client }} }}
  - name: http/1.1 only
    client: {{ certificate: client, trust: [ca], alpn: [http/1.1] }}
    expect: {{ outcome: accepted, alpn: http/1.1 }}
  - name: no alpn offered
    client: {{ certificate: client, trust: [ca] }}
    expect: {{ outcome: accepted, alpn: false }}
  - name: mismatch
    client: {{ certificate: client, trust: [ca], alpn: [spdy/3, h3] }}
    expect: {{ outcome: rejected, by: server, reason: no_application_protocol }}
"#
    ));
    assert_accepted(&r, "server preference");
    assert_eq!(
        negotiated(&r, "server preference").alpn.as_deref(),
        Some("h2")
    );
    assert_eq!(
        negotiated(&r, "http/1.1 only").alpn.as_deref(),
        Some("http/1.1")
    );
    assert_eq!(negotiated(&r, "no alpn offered").alpn, None);
    assert_rejected(&r, "mismatch", Side::Server, Reason::NoApplicationProtocol);
    let c = case(&r, "mismatch");
    let o = c.observed.as_ref().unwrap();
    assert_eq!(o.alert_sent.as_deref(), Some("no_application_protocol"));
    assert_eq!(o.alert.as_deref(), Some("no_application_protocol"));
    let x = c.explanation.as_ref().unwrap();
    assert_eq!(x.reason, Reason::NoApplicationProtocol);
    assert!(
        x.what.contains("[spdy/3, h3]") && x.what.contains("[h2, http/1.1]"),
        "{}",
        x.what
    );
}

#[test]
fn the_server_chooses_its_certificate_by_sni_and_the_client_verifies_its_own_name() {
    let r = run(&format!(
        r#"{PKI}
servers:
  vhosts:
    certificate: default
    trust: [ca]
    sni_certificates: {{ api.lab.test: api, WWW.lab.test: www }}
cases:
  - name: api
    client: {{ certificate: client, trust: [ca], server_name: api.lab.test }}
    expect: {{ outcome: accepted, client_saw: {{ CN: api.lab.test }} }}
  - name: www in another case
    client: {{ certificate: client, trust: [ca], server_name: Www.Lab.Test }}
    expect: {{ outcome: accepted, client_saw: {{ CN: www.lab.test }} }}
  - name: ip address sends no sni
    client: {{ certificate: client, trust: [ca], server_name: 127.0.0.1 }}
    expect: {{ outcome: accepted, client_saw: {{ CN: default.lab.test }} }}
  - name: no sni
    client: {{ certificate: client, trust: [ca], server_name: api.lab.test, sni: false }}
    expect: {{ outcome: rejected, by: client, reason: name_mismatch }}
  - name: other sni
    client: {{ certificate: client, trust: [ca], server_name: api.lab.test, sni: www.lab.test }}
    expect: {{ outcome: rejected, by: client, reason: name_mismatch, client_saw: {{ CN: www.lab.test }} }}
  - name: other sni, verified name matches
    client: {{ certificate: client, trust: [ca], server_name: www.lab.test, sni: www.lab.test }}
    expect: accepted
"#
    ));
    assert_accepted(&r, "api");
    assert_eq!(negotiated(&r, "api").sni.as_deref(), Some("api.lab.test"));
    assert_eq!(
        case(&r, "api").context.server_certificate,
        "api",
        "the report names the certificate chosen for the SNI"
    );
    assert_accepted(&r, "www in another case");
    assert_accepted(&r, "ip address sends no sni");
    assert_eq!(negotiated(&r, "ip address sends no sni").sni, None);

    assert_rejected(&r, "no sni", Side::Client, Reason::NameMismatch);
    let c = case(&r, "no sni");
    let o = c.observed.as_ref().unwrap();
    assert_eq!(
        o.client_saw.as_ref().and_then(|i| i.common_name.as_deref()),
        Some("default.lab.test"),
        "the client records the certificate it refused"
    );
    assert_eq!(o.alert.as_deref(), Some("bad_certificate"));
    assert!(
        c.explanation
            .as_ref()
            .unwrap()
            .what
            .contains("the server certificate `default`"),
        "{:?}",
        c.explanation
    );
    assert_rejected(&r, "other sni", Side::Client, Reason::NameMismatch);
    assert!(case(&r, "other sni")
        .observed
        .as_ref()
        .unwrap()
        .detail
        .as_deref()
        .unwrap()
        .contains("\"api.lab.test\""));
    assert_accepted(&r, "other sni, verified name matches");
}

/// The error text of lab `yaml`, which must not validate.
fn refused(yaml: &str) -> String {
    match mtls_lab::lab::parse(
        Path::new("inline.yaml"),
        yaml,
        time::OffsetDateTime::now_utc(),
    ) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(e) => e.render(),
    }
}

#[test]
fn check_points_at_each_bad_handshake_field() {
    let with = |servers: &str, client: &str, expect: &str| {
        format!("{PKI}\nservers:\n{servers}\ncases:\n  - name: c\n    client: {client}\n    expect: {expect}\n")
    };
    let web = "  web: { certificate: server, trust: [ca] }";
    // Line numbers: `servers:` is line 12, the server 13, the client 16, `expect` 17.
    let e = refused(&with(
        "  web: { certificate: server, trust: [ca], alpn: [] }",
        "{ certificate: client, trust: [ca] }",
        "accepted",
    ));
    assert!(
        e.contains("servers.web.alpn: list at least one ALPN protocol"),
        "{e}"
    );
    assert!(e.contains("inline.yaml:13:50"), "{e}");

    let e = refused(&with(
        "  web: { certificate: server, trust: [ca], sni_certificates: { 127.0.0.1: api } }",
        "{ certificate: client, trust: [ca] }",
        "accepted",
    ));
    assert!(
        e.contains("a key of `sni_certificates` is a DNS name"),
        "{e}"
    );

    let e = refused(&with(
        "  web: { certificate: server, trust: [ca], sni_certificates: { api.lab.test: apii } }",
        "{ certificate: client, trust: [ca] }",
        "accepted",
    ));
    assert!(e.contains("no certificate named `apii`"), "{e}");

    let e = refused(&with(
        web,
        "{ certificate: client, trust: [ca], sni: 10.0.0.1 }",
        "accepted",
    ));
    assert!(
        e.contains("cases[0].client.sni: SNI carries a DNS name"),
        "{e}"
    );
    assert!(e.contains("inline.yaml:16:"), "{e}");

    let e = refused(&with(
        web,
        "{ certificate: client, trust: [ca] }",
        "{ outcome: accepted, alpn: true }",
    ));
    assert!(
        e.contains("cases[0].expect.alpn: name the protocol agreed"),
        "{e}"
    );
    assert!(e.contains("inline.yaml:17:"), "{e}");

    let e = refused(&with(
        web,
        "{ certificate: client, trust: [ca] }",
        "{ outcome: accepted, group: x448 }",
    ));
    assert!(e.contains("unknown variant `x448`"), "{e}");

    let e = refused(&with(
        web,
        "{ command: [curl, \"{url}\"] }",
        "{ outcome: accepted, client_saw: { CN: localhost } }",
    ));
    assert!(
        e.contains("cases[0].expect.client_saw: this is what the built-in client saw"),
        "{e}"
    );

    let e = refused(&with(
        web,
        "{ command: [curl, \"{url}\"], alpn: [h2] }",
        "accepted",
    ));
    assert!(e.contains("`alpn` configures the built-in client"), "{e}");

    let e = refused(&with(
        "  web: { certificate: server, trust: [ca], target: \"127.0.0.1:8443\", groups: [x25519] }",
        "{ certificate: client, trust: [ca] }",
        "accepted",
    ));
    assert!(e.contains("`groups` configures the built-in server"), "{e}");
}

/// A root, an intermediate under it, another root; clients under each.
const CA_NAMES_PKI: &str = r#"
lab: ca-names
authorities:
  root: { subject: { O: Names Lab, CN: Names Root } }
  intermediate: { issuer: root, subject: { O: Names Lab, CN: Names Intermediate } }
  other-root: { subject: { O: Elsewhere, CN: Elsewhere Root } }
certificates:
  server: { issuer: root, subject: { CN: localhost }, san: [dns:localhost], usage: server }
  leaf-under-intermediate: { issuer: intermediate, subject: { CN: under-intermediate }, usage: client }
  leaf-under-root: { issuer: root, subject: { CN: under-root }, usage: client }
  leaf-elsewhere: { issuer: other-root, subject: { CN: elsewhere }, usage: client }
servers:
  trusted-names: { certificate: server, trust: [root, intermediate] }
  root-named: { certificate: server, trust: [root, intermediate], ca_names: [root] }
  unnamed: { certificate: server, trust: [root, intermediate], ca_names: none }
  outsider-named: { certificate: server, trust: [root, intermediate], ca_names: [other-root], tls: ["1.2"] }
"#;

#[test]
fn a_client_choosing_by_ca_names_withholds_a_certificate_no_name_covers() {
    let r = run(&format!(
        r#"{CA_NAMES_PKI}
cases:
  - name: root named, leaf only, choosing
    server: root-named
    client: {{ certificate: leaf-under-intermediate, chain: leaf, select: by_ca_names, trust: [root] }}
    expect: {{ outcome: rejected, by: server, reason: certificate_required, ca_names: [root] }}
  - name: root named, leaf only, always
    server: root-named
    client: {{ certificate: leaf-under-intermediate, chain: leaf, trust: [root] }}
    expect: {{ outcome: accepted, server_saw: {{ CN: under-intermediate }}, ca_names: [root] }}
  - name: root named, with intermediate, choosing
    server: root-named
    client: {{ certificate: leaf-under-intermediate, select: by_ca_names, trust: [root] }}
    expect: {{ outcome: accepted, server_saw: {{ CN: under-intermediate }} }}
  - name: trusted names
    server: trusted-names
    client: {{ certificate: leaf-under-intermediate, chain: leaf, select: by_ca_names, trust: [root] }}
    expect: {{ outcome: accepted, ca_names: [root, intermediate] }}
  - name: several, the named one is sent
    server: root-named
    client: {{ certificates: [leaf-elsewhere, leaf-under-root], select: by_ca_names, trust: [root] }}
    expect: {{ outcome: accepted, server_saw: {{ CN: under-root }} }}
  - name: no names, the first is sent
    server: unnamed
    client: {{ certificates: [leaf-under-root, leaf-elsewhere], select: by_ca_names, trust: [root] }}
    expect: {{ outcome: accepted, server_saw: {{ CN: under-root }}, ca_names: [] }}
  - name: TLS 1.2 names another root, none is sent
    server: outsider-named
    client: {{ certificates: [leaf-under-root], select: by_ca_names, trust: [root] }}
    expect: {{ outcome: rejected, by: server, reason: certificate_required, ca_names: [other-root] }}
  - name: wrong ca names expected
    server: root-named
    client: {{ certificate: leaf-under-root, trust: [root] }}
    expect: {{ outcome: accepted, ca_names: [intermediate] }}
"#
    ));
    assert_rejected(
        &r,
        "root named, leaf only, choosing",
        Side::Server,
        Reason::CertificateRequired,
    );
    let c = case(&r, "root named, leaf only, choosing");
    let o = c.observed.as_ref().unwrap();
    assert!(o.negotiated.certificate_withheld);
    assert_eq!(
        o.negotiated.ca_names.as_deref(),
        Some(&["root".to_string()][..])
    );
    assert_eq!(o.alert.as_deref(), Some("certificate_required"));
    let x = c.explanation.as_ref().unwrap();
    assert!(
        x.what.contains("withheld its certificate")
            && x.what.contains("`leaf-under-intermediate`")
            && x.what.contains("([root])"),
        "{}",
        x.what
    );

    assert_accepted(&r, "root named, leaf only, always");
    assert!(
        !case(&r, "root named, leaf only, always")
            .observed
            .as_ref()
            .unwrap()
            .negotiated
            .certificate_withheld
    );
    assert_accepted(&r, "root named, with intermediate, choosing");
    assert_accepted(&r, "trusted names");
    assert_accepted(&r, "several, the named one is sent");
    assert_accepted(&r, "no names, the first is sent");
    assert_rejected(
        &r,
        "TLS 1.2 names another root, none is sent",
        Side::Server,
        Reason::CertificateRequired,
    );
    assert_eq!(
        case(&r, "TLS 1.2 names another root, none is sent")
            .observed
            .as_ref()
            .unwrap()
            .negotiated
            .ca_names
            .as_deref(),
        Some(&["other-root".to_string()][..]),
        "the TLS 1.2 CertificateRequest carries the names too"
    );
    let wrong = case(&r, "wrong ca names expected");
    assert_eq!(wrong.status, Status::Failed);
    assert_eq!(
        wrong.messages,
        ["CA names: expected [intermediate], the server advertised [root]"]
    );
}

#[test]
fn check_refuses_inconsistent_certificate_choices() {
    let yaml = |client: &str, server_extra: &str| {
        format!(
            "{CA_NAMES_PKI}  extra: {{ certificate: server, trust: [root]{server_extra} }}\ncases:\n  - name: c\n    server: extra\n    client: {client}\n    expect: accepted\n"
        )
    };
    let e = refused(&yaml(
        "{ certificates: [leaf-under-root, leaf-elsewhere], trust: [root] }",
        "",
    ));
    assert!(e.contains("cases[0].client.certificates: a client holding several certificates chooses one: add `select: by_ca_names`"), "{e}");
    let e = refused(&yaml(
        "{ certificate: leaf-under-root, certificates: [leaf-elsewhere], select: by_ca_names, trust: [root] }",
        "",
    ));
    assert!(
        e.contains("give either `certificate` (one) or `certificates`"),
        "{e}"
    );
    let e = refused(&yaml(
        "{ certificate: leaf-under-root, trust: [root] }",
        ", client_auth: none, ca_names: [root]",
    ));
    assert!(
        e.contains("servers.extra.ca_names: CA names go in the request"),
        "{e}"
    );
    let e = refused(&yaml(
        "{ certificate: leaf-under-root, trust: [root] }",
        ", ca_names: [roots]",
    ));
    assert!(e.contains("no authority named `roots`"), "{e}");
}

/// Two hosts sharing sessions: one asks for no certificate, one requires it; and a twin of the strict one.
const RESUMPTION: &str = r#"
lab: resumption
authorities:
  ca: { subject: { O: Resumption, CN: Resumption CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: server }
  client: { issuer: ca, subject: { CN: returning }, usage: client }
servers:
  open: { certificate: server, client_auth: none }
  strict: { certificate: server, trust: [ca], share_sessions_with: open }
  twin: { certificate: server, trust: [ca], share_sessions_with: open }
  alone: { certificate: server, trust: [ca] }
  open-tickets: { certificate: server, client_auth: none, tickets: true }
  strict-tickets: { certificate: server, trust: [ca], tickets: true, share_sessions_with: open-tickets }
"#;

#[test]
fn sessions_resume_only_under_the_client_certificate_policy_they_were_made_under() {
    let r = run(&format!(
        r#"{RESUMPTION}
cases:
  - name: full
    server: strict
    client: {{ certificate: client, trust: [ca] }}
    expect: {{ outcome: accepted, resumed: false }}
  - name: same host
    server: strict
    resume: full
    client: {{ certificate: client, trust: [ca] }}
    expect: {{ outcome: accepted, resumed: true, server_saw: {{ CN: returning }} }}
  - name: twin host
    server: twin
    resume: full
    client: {{ certificate: client, trust: [ca] }}
    expect: {{ outcome: accepted, resumed: true, server_saw: {{ CN: returning }} }}
  - name: a host not sharing
    server: alone
    resume: full
    client: {{ certificate: client, trust: [ca] }}
    expect: {{ outcome: accepted, resumed: false }}
  - name: anonymous
    server: open
    client: {{ trust: [ca] }}
    expect: accepted
  - name: anonymous into strict
    server: strict
    resume: anonymous
    client: {{ trust: [ca] }}
    expect: {{ outcome: rejected, by: server, reason: certificate_required }}
  - name: anonymous 1.2
    server: open
    client: {{ trust: [ca], tls: ["1.2"] }}
    expect: accepted
  - name: 1.2 resumed
    server: open
    resume: anonymous 1.2
    client: {{ trust: [ca], tls: ["1.2"] }}
    expect: {{ outcome: accepted, resumed: true }}
  - name: anonymous 1.2 into strict
    server: strict
    resume: anonymous 1.2
    client: {{ trust: [ca], tls: ["1.2"] }}
    expect: {{ outcome: rejected, by: server, reason: certificate_required }}
  - name: anonymous ticket
    server: open-tickets
    client: {{ trust: [ca] }}
    expect: accepted
  - name: ticket resumed
    server: open-tickets
    resume: anonymous ticket
    client: {{ trust: [ca] }}
    expect: {{ outcome: accepted, resumed: true }}
  - name: anonymous ticket into strict
    server: strict-tickets
    resume: anonymous ticket
    client: {{ trust: [ca] }}
    expect: {{ outcome: rejected, by: server, reason: certificate_required }}
  - name: wrongly expected resumption
    server: strict
    resume: anonymous
    client: {{ trust: [ca] }}
    expect: {{ outcome: rejected, by: server, reason: certificate_required, resumed: true }}
"#
    ));
    let resumed = |name: &str| negotiated(&r, name).resumed;
    assert_accepted(&r, "full");
    assert_eq!(resumed("full"), Some(false));
    for name in ["same host", "twin host", "1.2 resumed", "ticket resumed"] {
        assert_accepted(&r, name);
        assert_eq!(resumed(name), Some(true), "{name}");
    }
    let o = case(&r, "1.2 resumed").observed.clone().unwrap();
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(
        o.negotiated.group, None,
        "a resumed TLS 1.2 handshake exchanges no key"
    );
    assert_eq!(
        negotiated(&r, "twin host").signature_scheme,
        None,
        "a resumed handshake signs nothing"
    );
    assert_accepted(&r, "a host not sharing");
    assert_eq!(resumed("a host not sharing"), Some(false));
    for name in [
        "anonymous into strict",
        "anonymous 1.2 into strict",
        "anonymous ticket into strict",
    ] {
        assert_rejected(&r, name, Side::Server, Reason::CertificateRequired);
        assert_eq!(
            resumed(name),
            Some(false),
            "{name}: the server asked for a certificate, so it made a full handshake"
        );
    }
    let wrong = case(&r, "wrongly expected resumption");
    assert_eq!(wrong.status, Status::Failed);
    assert_eq!(
        wrong.messages,
        ["resumption: expected resumed, observed a full handshake"]
    );
}

#[test]
fn check_refuses_a_resumption_that_cannot_happen() {
    let with =
        |servers_extra: &str, cases: &str| format!("{RESUMPTION}{servers_extra}cases:\n{cases}");
    let first = "  - name: first\n    server: strict\n    client: { certificate: client, trust: [ca] }\n    expect: accepted\n";
    let e = refused(&with(
        "",
        &format!("{first}  - name: second\n    server: strict\n    resume: frist\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n"),
    ));
    assert!(
        e.contains("cases[1].resume: `resume` names an earlier case of this lab"),
        "{e}"
    );
    assert!(e.contains("did you mean `first`?"), "{e}");
    let e = refused(&with(
        "",
        &format!("{first}  - name: second\n    server: strict\n    resume: first\n    client: {{ trust: [ca] }}\n    expect: accepted\n"),
    ));
    assert!(
        e.contains("a resuming client is the earlier case's client"),
        "{e}"
    );
    let e = refused(&with(
        "  loop: { certificate: server, trust: [ca], share_sessions_with: strict }\n",
        first,
    ));
    assert!(
        e.contains(
            "servers.loop.share_sessions_with: that server shares another server's sessions"
        ),
        "{e}"
    );
    let e = refused(&with(
        "  mixed: { certificate: server, trust: [ca], tickets: true, share_sessions_with: open }\n",
        first,
    ));
    assert!(e.contains("give both the same `tickets`"), "{e}");
}

#[test]
fn the_negotiated_values_earn_points_of_their_own() {
    let r = run(&format!(
        r#"{PKI}
servers:
  web: {{ certificate: server, trust: [ca], alpn: [h2] }}
cases:
  - name: right outcome, wrong alpn
    client: {{ certificate: client, trust: [ca], alpn: [h2] }}
    expect: {{ outcome: accepted, alpn: http/1.1, group: x25519 }}
    score: {{ outcome: 2, negotiated: 1 }}
  - name: all right
    client: {{ certificate: client, trust: [ca], alpn: [h2] }}
    expect: {{ outcome: accepted, alpn: h2, resumed: false }}
    score: {{ outcome: 2, negotiated: 1 }}
"#
    ));
    let wrong = case(&r, "right outcome, wrong alpn");
    assert_eq!(wrong.status, Status::Failed);
    assert_eq!((wrong.grade.points, wrong.grade.max_points), (2.0, 3.0));
    let right = case(&r, "all right");
    assert_eq!((right.grade.points, right.grade.max_points), (3.0, 3.0));
    let e = refused(&format!(
        "{PKI}\nservers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: c\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n    score: {{ outcome: 1, negotiated: 1 }}\n"
    ));
    assert!(e.contains("cases[0].score.negotiated"), "{e}");
}

#[test]
fn a_server_trusting_nothing_names_only_its_declared_ca_names() {
    let r = run(&format!(
        r#"{CA_NAMES_PKI}
  nothing-named: {{ certificate: server, trust: [], ca_names: [root] }}
  nothing: {{ certificate: server, trust: [] }}
cases:
  - name: declared names, the named certificate is sent and refused
    server: nothing-named
    client: {{ certificates: [leaf-elsewhere, leaf-under-root], select: by_ca_names, trust: [root] }}
    expect: {{ outcome: rejected, by: server, reason: unknown_issuer, ca_names: [root] }}
  - name: no trust, no names
    server: nothing
    client: {{ certificates: [leaf-elsewhere, leaf-under-root], select: by_ca_names, trust: [root] }}
    expect: {{ outcome: rejected, by: server, reason: unknown_issuer, ca_names: [] }}
"#
    ));
    assert_rejected(
        &r,
        "declared names, the named certificate is sent and refused",
        Side::Server,
        Reason::UnknownIssuer,
    );
    let o = case(
        &r,
        "declared names, the named certificate is sent and refused",
    )
    .observed
    .clone()
    .unwrap();
    assert_eq!(
        o.negotiated.ca_names.as_deref(),
        Some(&["root".to_string()][..])
    );
    assert!(!o.negotiated.certificate_withheld);
    assert_rejected(
        &r,
        "no trust, no names",
        Side::Server,
        Reason::UnknownIssuer,
    );
    let o = case(&r, "no trust, no names").observed.clone().unwrap();
    assert_eq!(o.negotiated.ca_names.as_deref(), Some(&[][..]));
    assert!(!o.negotiated.certificate_withheld);
}

#[test]
fn a_battery_keeps_the_resumed_case_and_skips_a_choosing_clients_certificate_failures() {
    let run_battery = |lab: &str, case: &str| {
        let o = crate::common::mtls(&crate::common::root(), &["battery", lab, case]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = run_battery(
        "labs/resumption-across-changed-trust.yaml",
        "the session resumes on the same host",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASS  resumption-across-changed-trust › a first visit to the strict host is a full handshake"), "{out}");
    assert!(out.contains("0 accepted wrongly"), "{out}");
    let (code, out) = run_battery(
        "labs/ca-names-certificate-selection.yaml",
        "a client holding several certificates sends the one the server names",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("skipped: the client chooses among several certificates"),
        "{out}"
    );
    let (code, out) = run_battery(
        "labs/sni-several-certificates.yaml",
        "SNI api.lab.test gets the api certificate",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
}
