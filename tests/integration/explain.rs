//! Explanations built from the verified chain (issue 15): over every rejection every lab in `labs/`
//! expects, each certificate and authority a why/fix names exists in the case and plays the role the
//! sentence gives it — the failing certificate really failed, a "trusted" list is what that side
//! trusted, "already trusts" is true, "make … trust X" is not yet true, the intermediate to send was not
//! sent, the option named is the changing side's — for both sides; and the lessons over real handshakes:
//! the expired, revoked or unknown-issuer intermediate is the one named, a wildcard two labels down, an
//! IP address written as a DNS name, a renewal that kept a revoked serial, clock skew, TLS 1.3's late
//! refusal, times to the second.

use std::collections::BTreeSet;

use mtls_lab::lab::{self, CertRef, Expectation, Lab};
use mtls_lab::reason::Reason;
use mtls_lab::spec::{Outcome, Side};
use mtls_lab::verdict::explain::{explain, Explanation};
use mtls_lab::verdict::Observed;

use crate::common::{self, root};

fn rejected(by: Side, reason: Reason) -> Observed {
    Observed {
        outcome: Outcome::Rejected,
        by: Some(by),
        reason: Some(reason),
        detail: None,
        alert_sent: None,
        alert: None,
        tls_version: None,
        server_saw: None,
        client_saw: None,
        http_status: None,
        duration_ms: 0,
        exit_status: None,
        external: None,
        server_exit: None,
        negotiated: Default::default(),
    }
}

/// Every lab of `labs/` as `run` sees it: a lab whose certificates come from files has their facts
/// (subjects, validity) read from them, as a run does.
fn every_lab() -> Vec<Lab> {
    let now = time::OffsetDateTime::now_utc();
    let vars: lab::Vars = [(
        "submission".to_string(),
        root()
            .join("tests/fixtures/seed/good")
            .display()
            .to_string(),
    )]
    .into_iter()
    .collect();
    let files = lab::discover::lab_files(&[root().join("labs")]).unwrap();
    let mut out = Vec::new();
    for f in files {
        let labs = lab::load_all_with(&f, now, &vars).unwrap_or_else(|e| panic!("{e}"));
        for l in labs {
            let loads = l.authorities.iter().any(|a| a.from.is_some())
                || l.certificates.iter().any(|c| c.from.is_some());
            if loads {
                let pki = mtls_lab::pki::build(&l).unwrap();
                out.push(mtls_lab::pki::with_loaded_facts(&l, &pki));
            } else {
                out.push(l);
            }
        }
    }
    out
}

/// The backticked names after each occurrence of `prefix` in `text` (a list `a`, `b` reads to its end).
fn names_after(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        rest = &rest[i + prefix.len()..];
        let mut names = Vec::new();
        let mut r = rest.trim_start();
        while let Some(after) = r.strip_prefix('`') {
            let Some(end) = after.find('`') else { break };
            names.push(after[..end].to_string());
            r = after[end + 1..].trim_start();
            match r.strip_prefix(',') {
                Some(more) => r = more.trim_start(),
                None => break,
            }
        }
        out.push(names);
    }
    out
}

/// Every backticked token of `text`.
fn tokens(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

struct Verifier {
    who: &'static str,
    peer: &'static str,
    trust: Vec<CertRef>,
    presented: Vec<CertRef>,
    /// Whether the verifier is a program whose trust the lab does not know.
    program: bool,
}

fn issuer_of(lab: &Lab, r: CertRef) -> Option<usize> {
    match r {
        CertRef::Certificate(i) => lab.certificates[i].issuer,
        CertRef::Authority(i) => lab.authorities[i].issuer,
    }
}

fn validity(lab: &Lab, r: CertRef) -> (time::OffsetDateTime, time::OffsetDateTime) {
    match r {
        CertRef::Certificate(i) => (
            lab.certificates[i].not_before,
            lab.certificates[i].not_after,
        ),
        CertRef::Authority(i) => (lab.authorities[i].not_before, lab.authorities[i].not_after),
    }
}

fn eku(lab: &Lab, r: CertRef) -> Option<&Vec<lab::EkuPurpose>> {
    match r {
        CertRef::Certificate(i) => lab.certificates[i].eku.as_ref(),
        CertRef::Authority(i) => lab.authorities[i].eku.as_ref(),
    }
}

fn loaded(lab: &Lab, r: CertRef) -> bool {
    match r {
        CertRef::Certificate(i) => lab.certificates[i].from.is_some(),
        CertRef::Authority(i) => lab.authorities[i].from.is_some(),
    }
}

fn unknown_critical(lab: &Lab, r: CertRef) -> bool {
    match r {
        CertRef::Certificate(i) => lab.certificates[i].unknown_critical_extension,
        CertRef::Authority(i) => lab.authorities[i].unknown_critical_extension,
    }
}

fn find(lab: &Lab, name: &str) -> Option<CertRef> {
    lab.authorities
        .iter()
        .position(|a| a.name == name)
        .map(CertRef::Authority)
        .or_else(|| {
            lab.certificates
                .iter()
                .position(|c| c.name == name)
                .map(CertRef::Certificate)
        })
}

/// Checks one explanation's claims against the case; returns each claim that does not hold.
fn wrong_claims(
    lab: &Lab,
    case: &lab::Case,
    by: Side,
    reason: Reason,
    at: time::OffsetDateTime,
    e: &Explanation,
) -> Vec<String> {
    let server = &lab.servers[case.server];
    let client_chain = case
        .client
        .certificate
        .map(|c| lab.presented_chain(c, &case.client.chain))
        .unwrap_or_default();
    // The certificate the server chooses for the SNI the client sends.
    let server_chain = lab.presented_chain(
        server.certificate_for(case.client.sni_sent()),
        &server.chain,
    );
    let v = match by {
        Side::Server => Verifier {
            who: "the server",
            peer: "client",
            trust: server.trust.clone(),
            presented: client_chain.clone(),
            program: false,
        },
        Side::Client => Verifier {
            who: "the client",
            peer: "server",
            trust: case.client.trust.clone(),
            presented: server_chain.clone(),
            program: case.client.command.is_some(),
        },
    };
    let mut wrong = Vec::new();
    let text = format!("{} {}", e.what, e.fix);
    // rustls's Debug wording is mapped to a reason, never quoted raw.
    if text.contains("OtherError") || text.contains("Other(") {
        wrong.push("a raw rustls error is quoted".into());
    }

    // Every lab name mentioned is one of the case's: a server, a presented certificate, a trusted
    // authority, or an issuer above a presented certificate.
    let mut in_case: BTreeSet<String> = BTreeSet::new();
    in_case.insert(server.name.clone());
    for r in client_chain.iter().chain(&server_chain) {
        in_case.insert(lab.name_of(*r).to_string());
        let mut up = issuer_of(lab, *r);
        while let Some(i) = up {
            if !in_case.insert(lab.authorities[i].name.clone()) {
                break;
            }
            up = lab.authorities[i].issuer;
        }
        // A revoked certificate named for sharing a serial sits on the same CRL.
        if let Some(crl) = issuer_of(lab, *r).and_then(|i| lab.authorities[i].crl.as_ref()) {
            for x in &crl.revoked {
                in_case.insert(lab.name_of(x.target).to_string());
            }
        }
    }
    for t in case.client.trust.iter().chain(&server.trust) {
        in_case.insert(lab.name_of(*t).to_string());
    }
    for t in tokens(&text) {
        let named = find(lab, &t).is_some() || lab.servers.iter().any(|s| s.name == t);
        if named && !in_case.contains(&t) {
            wrong.push(format!("`{t}` is not part of the case"));
        }
        if t == "(none)" || t == "?" {
            wrong.push(format!("a placeholder `{t}` is named"));
        }
    }

    // The certificate that failed is one the verifier was presented, and it failed for the reason.
    if let Some(name) = &e.certificate {
        match find(lab, name) {
            None => wrong.push(format!(
                "failing certificate `{name}` is no certificate of the lab"
            )),
            Some(r) => {
                if !v.presented.contains(&r) && reason != Reason::PathLenExceeded {
                    wrong.push(format!("`{name}` was not presented to {}", v.who));
                }
                let (from, until) = validity(lab, r);
                let trusted = |i: usize| v.trust.contains(&CertRef::Authority(i));
                let holds = match reason {
                    Reason::Expired => until < at,
                    Reason::NotYetValid => from > at,
                    Reason::UnknownIssuer => issuer_of(lab, r).is_none_or(|i| {
                        !trusted(i) && !v.presented.contains(&CertRef::Authority(i))
                    }),
                    Reason::IssuerNotCa => {
                        issuer_of(lab, r).is_some_and(|i| !lab.authorities[i].ca)
                    }
                    Reason::Revoked => issuer_of(lab, r)
                        .and_then(|i| lab.authorities[i].crl.as_ref())
                        .is_some(),
                    Reason::PathLenExceeded => {
                        matches!(r, CertRef::Authority(i) if lab.authorities[i].path_len.is_some())
                    }
                    // Its extended key usage is present and lacks the purpose this verifier requires.
                    Reason::WrongPurpose => {
                        let purpose = if by == Side::Server {
                            lab::EkuPurpose::ClientAuth
                        } else {
                            lab::EkuPurpose::ServerAuth
                        };
                        // A certificate read from a file: the lab does not know its extensions.
                        loaded(lab, r) || eku(lab, r).is_some_and(|e| !e.contains(&purpose))
                    }
                    // When a certificate of the chain carries an unknown critical extension, it is that one.
                    Reason::BadEncoding => {
                        unknown_critical(lab, r)
                            || !v.presented.iter().any(|p| unknown_critical(lab, *p))
                    }
                    // The verifier lacks its issuer's CRL (its own `crls` list), or that CRL is stale.
                    Reason::RevocationUnknown => issuer_of(lab, r).is_some_and(|i| {
                        let revocation = if by == Side::Server {
                            server.revocation.as_ref()
                        } else {
                            case.client.revocation.as_ref()
                        };
                        let given = |i: usize| {
                            revocation
                                .and_then(|c| c.crls.as_ref())
                                .is_none_or(|c| c.contains(&i))
                        };
                        // An impostor's CRL under the same issuer name, found first, does not verify.
                        let impostor = lab.authorities.iter().enumerate().any(|(j, a)| {
                            j != i
                                && format!("{:?}", a.subject)
                                    == format!("{:?}", lab.authorities[i].subject)
                                && a.crl.is_some()
                                && given(j)
                        });
                        !given(i)
                            || impostor
                            || lab.authorities[i]
                                .crl
                                .as_ref()
                                .is_none_or(|crl| crl.next_update < at)
                    }),
                    _ => true,
                };
                if !holds {
                    wrong.push(format!("`{name}` did not fail for {reason}"));
                }
            }
        }
    } else if !matches!(
        reason,
        Reason::CertificateRequired
            | Reason::ProtocolVersion
            | Reason::HandshakeFailure
            | Reason::NoApplicationProtocol
            | Reason::ConnectionClosed
            | Reason::ConnectionRefused
            | Reason::Timeout
            | Reason::Other
    ) {
        wrong.push(format!("{reason}: no failing certificate named"));
    }

    // Roles of the certificates named.
    for side in ["server", "client"] {
        let leaf = if side == "server" {
            server_chain.first()
        } else {
            client_chain.first()
        };
        for names in names_after(&text, &format!("the {side} certificate ")) {
            for n in names {
                if leaf.map(|r| lab.name_of(*r)) != Some(n.as_str()) {
                    wrong.push(format!("`{n}` is not the {side} certificate"));
                }
            }
        }
    }
    for names in names_after(&text, "the intermediate ") {
        for n in names {
            let r = find(lab, &n);
            let presented = client_chain
                .iter()
                .chain(&server_chain)
                .any(|p| Some(*p) == r);
            if !matches!(r, Some(CertRef::Authority(_))) {
                wrong.push(format!("`{n}` is called an intermediate"));
            }
            // To be sent: the verified side did not get it; otherwise it is in a chain presented.
            if text.contains(&format!("send the intermediate `{n}`")) {
                if r.is_some_and(|r| v.presented.contains(&r)) {
                    wrong.push(format!("`{n}` is to be sent, but {} was sent it", v.who));
                }
            } else if !presented {
                wrong.push(format!(
                    "`{n}` is named in a chain, but no side presented it"
                ));
            }
        }
    }
    // What the verifier trusted.
    let capital = if by == Side::Server {
        "The server trusted "
    } else {
        "The client trusted "
    };
    if text.contains(capital) {
        if v.program {
            wrong.push("a program's trust is stated".into());
        }
        let listed: BTreeSet<String> = names_after(&text, capital).concat().into_iter().collect();
        let actual: BTreeSet<String> = v
            .trust
            .iter()
            .map(|r| lab.name_of(*r).to_string())
            .collect();
        if listed != actual && !(actual.is_empty() && text.contains(&format!("{capital}nothing"))) {
            wrong.push(format!("{capital}{listed:?}, but it trusted {actual:?}"));
        }
    }
    for n in names_after(&text, "already trusts ").concat() {
        if !v.trust.iter().any(|r| lab.name_of(*r) == n) {
            wrong.push(format!("{} does not trust `{n}`", v.who));
        }
    }
    for n in names_after(&text, &format!("Make {} trust ", v.who)).concat() {
        if v.trust.iter().any(|r| lab.name_of(*r) == n) {
            wrong.push(format!("{} already trusts `{n}`", v.who));
        }
    }
    // The option named belongs to the side that must change.
    if reason == Reason::UnknownIssuer {
        let verifier_side = if by == Side::Server {
            "on the server:"
        } else {
            "on the client:"
        };
        let peer_side = if by == Side::Server {
            "on the client:"
        } else {
            "on the server:"
        };
        let sends = text.contains("send the intermediate");
        let want = if sends { peer_side } else { verifier_side };
        if !e.fix.contains(want) {
            wrong.push(format!("the fix does not name the option {want}"));
        }
        if by == Side::Server && e.fix.contains("--cacert") {
            wrong.push("a server-side fix names curl's --cacert".into());
        }
    }
    // A file to trust is the exported certificate (`NAME.crt`) of a certificate of the case, and the
    // one the sentence asks to trust.
    for (open, close) in [
        ("--cacert ", '`'),
        ("load_verify_locations('", '\''),
        ("ssl_client_certificate ", ';'),
    ] {
        let mut rest = text.as_str();
        while let Some(i) = rest.find(open) {
            rest = &rest[i + open.len()..];
            let file = rest.split(close).next().unwrap_or_default();
            let name = file.strip_suffix(".crt").unwrap_or(file);
            if !in_case.contains(name) {
                wrong.push(format!(
                    "the file `{file}` to trust is no certificate of the case"
                ));
            }
        }
    }
    if text.contains(&format!("Make {} trust it (", v.who)) {
        if let Some(name) = &e.certificate {
            if !text.contains(&format!("{name}.crt")) {
                wrong.push(format!("trusting `{name}` names another file"));
            }
        }
    }
    // "trusts nothing" is said exactly when the verifier trusts nothing.
    let capital_who = if by == Side::Server {
        "The server"
    } else {
        "The client"
    };
    let says_nothing = text.contains(&format!("{capital_who} trusts nothing"));
    if by == Side::Server && says_nothing != v.trust.is_empty() && reason == Reason::UnknownIssuer {
        wrong.push(format!(
            "{capital_who} trusts {:?}, but the words say otherwise",
            v.trust
        ));
    }
    if by == Side::Server
        && v.trust.is_empty()
        && text.contains(&format!("an authority {} trusts", v.who))
    {
        wrong.push(format!(
            "{} trusts nothing, but the fix offers an authority it trusts",
            v.who
        ));
    }
    // An issuer named is an authority.
    for n in names_after(&text, "issued by ").concat() {
        if !matches!(find(lab, &n), Some(CertRef::Authority(_))) {
            wrong.push(format!("`{n}` is said to issue, but is no authority"));
        }
    }
    // A malformed certificate or an unknown critical extension is no matter of algorithms.
    if reason == Reason::BadEncoding && e.fix.contains("algorithm") {
        wrong.push("a bad_encoding fix speaks of algorithms".into());
    }
    let _ = v.peer;
    if text.contains("(none)") {
        wrong.push("a placeholder (none) in the words".into());
    }
    // Times are written to the second.
    if text.contains(".000") || text.contains("000000") {
        wrong.push("a time with fractions of a second".into());
    }
    wrong
}

#[test]
fn every_explanation_over_the_labs_names_only_the_cases_certificates_in_their_roles() {
    let now = time::OffsetDateTime::now_utc();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for lab in every_lab() {
        for case in &lab.cases {
            let Expectation::Rejected {
                by: Some(by),
                reason: Some(reason),
            } = case.expect
            else {
                continue;
            };
            // A battery case that cannot apply never runs, so nothing explains it.
            if case.derived.as_ref().is_some_and(|d| d.skipped.is_some()) {
                continue;
            }
            let at = case.clock(&lab).unwrap_or(now);
            let e = explain(&lab, case, &rejected(by, reason), at)
                .unwrap_or_else(|| panic!("{} › {}: no explanation", lab.name, case.name));
            checked += 1;
            for w in wrong_claims(&lab, case, by, reason, at, &e) {
                wrong.push(format!(
                    "{} › {}: {w}\n  why: {}\n  fix: {}",
                    lab.name, case.name, e.what, e.fix
                ));
            }
        }
    }
    assert!(checked > 60, "only {checked} rejections checked");
    assert!(
        wrong.is_empty(),
        "{} wrong claim(s):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_claim_checker_catches_wrong_claims() {
    // The checker itself must fail on the words the issue reported.
    let lab = common::lab(
        r#"
lab: wrong
authorities:
  root: { subject: { CN: Root } }
  issuing: { issuer: root, subject: { CN: Issuing }, valid: { from: -30d, until: -1d } }
certificates:
  server: { issuer: issuing, subject: { CN: localhost }, usage: server }
servers:
  web: { certificate: server, trust: [root] }
cases:
  - name: expired intermediate
    client: { trust: [root] }
    expect: { outcome: rejected, by: client, reason: expired }
"#,
    );
    let case = &lab.cases[0];
    let at = time::OffsetDateTime::now_utc();
    let bad = Explanation {
        reason: Reason::Expired,
        what: "the server certificate `server` expired at 2027-01-01T00:00:00Z. The client trusted nothing.".into(),
        fix: "Make the client trust `root` (curl `--cacert ca.crt`).".into(),
        certificate: Some("server".into()),
    };
    let w = wrong_claims(&lab, case, Side::Client, Reason::Expired, at, &bad);
    assert!(
        w.iter()
            .any(|w| w.contains("`server` did not fail for expired")),
        "{w:?}"
    );
    assert!(w.iter().any(|w| w.contains("The client trusted")), "{w:?}");
    assert!(
        w.iter().any(|w| w.contains("already trusts `root`")),
        "{w:?}"
    );
    let good = explain(&lab, case, &rejected(Side::Client, Reason::Expired), at).unwrap();
    assert_eq!(good.certificate.as_deref(), Some("issuing"));
    assert_eq!(
        wrong_claims(&lab, case, Side::Client, Reason::Expired, at, &good),
        Vec::<String>::new()
    );
}

/// The explanation of the one case named `name` of a lab run end to end.
fn explained(yaml: &str, name: &str) -> Explanation {
    let r = common::run(yaml);
    let c = common::case(&r, name);
    assert_eq!(
        c.status,
        mtls_lab::run::Status::Passed,
        "{name}: {:?}",
        c.messages
    );
    c.explanation
        .clone()
        .unwrap_or_else(|| panic!("{name}: no explanation"))
}

const CHAIN: &str = r#"
lab: chain-lessons
authorities:
  root: { subject: { O: Lessons, CN: Lessons Root } }
  other-root: { subject: { O: Elsewhere, CN: Elsewhere Root } }
  issuing:
    issuer: root
    subject: { O: Lessons, CN: Lessons Issuing CA }
    valid: { from: 2026-01-01T00:00:00Z, until: 2027-01-01T00:00:00Z }
  revoked-issuing:
    issuer: root
    subject: { O: Lessons, CN: Lessons Revoked Issuing CA }
  foreign-issuing: { issuer: other-root, subject: { O: Elsewhere, CN: Elsewhere Issuing CA } }
  root-crl:
    subject: { CN: unused }
certificates:
  server:
    issuer: issuing
    subject: { CN: localhost }
    usage: server
    valid: { from: 2026-01-01T00:00:00Z, until: 2030-01-01T00:00:00Z }
  revoked-chain-server: { issuer: revoked-issuing, subject: { CN: localhost }, usage: server }
  foreign-server: { issuer: foreign-issuing, subject: { CN: localhost }, usage: server }
  client: { issuer: root, subject: { CN: alice }, usage: client }
servers:
  web: { certificate: server, trust: [root] }
  revoked: { certificate: revoked-chain-server, trust: [root] }
  foreign: { certificate: foreign-server, trust: [root] }
cases:
  - name: the intermediate expired
    server: web
    at: 2028-01-01T00:00:00Z
    client: { certificate: client, trust: [root] }
    expect: { outcome: rejected, by: client, reason: expired }
  - name: the intermediate is revoked
    server: revoked
    client: { certificate: client, trust: [root], revocation: { check: chain, unknown: allow } }
    expect: { outcome: rejected, by: client, reason: revoked }
  - name: the intermediate's issuer is unknown
    server: foreign
    client: { certificate: client, trust: [root] }
    expect: { outcome: rejected, by: client, reason: unknown_issuer }
"#;

fn chain_lab() -> String {
    // The root revokes `revoked-issuing` on its CRL.
    CHAIN.replace(
        "  root: { subject: { O: Lessons, CN: Lessons Root } }",
        "  root:\n    subject: { O: Lessons, CN: Lessons Root }\n    revokes: [{ certificate: revoked-issuing, reason: key_compromise }]\n    crl: { this_update: -1h, next_update: +7d }",
    )
    .replace("  root-crl:\n    subject: { CN: unused }\n", "")
}

#[test]
fn the_failing_intermediate_is_named_expired_revoked_or_of_unknown_issuer() {
    let yaml = chain_lab();
    let e = explained(&yaml, "the intermediate expired");
    assert_eq!(e.certificate.as_deref(), Some("issuing"));
    assert_eq!(
        e.what,
        "the intermediate `issuing` (CN=Lessons Issuing CA) in the server's chain expired at 2027-01-01T00:00:00Z (verified at 2028-01-01T00:00:00Z)."
    );
    assert!(
        e.fix.starts_with("Renew the intermediate `issuing`"),
        "{}",
        e.fix
    );

    let e = explained(&yaml, "the intermediate is revoked");
    assert_eq!(e.certificate.as_deref(), Some("revoked-issuing"));
    assert!(
        e.what.starts_with("the intermediate `revoked-issuing` (CN=Lessons Revoked Issuing CA) in the server's chain is on the revocation list (CRL) of `root`."),
        "{}",
        e.what
    );

    let e = explained(&yaml, "the intermediate's issuer is unknown");
    assert_eq!(e.certificate.as_deref(), Some("foreign-issuing"));
    assert_eq!(
        e.what,
        "the client could not chain the intermediate `foreign-issuing` (CN=Elsewhere Issuing CA) in the server's chain to an authority it trusts: its issuer `other-root` (CN=Elsewhere Root) is neither trusted nor sent in the chain. The client trusted `root`."
    );
    assert!(
        e.fix.starts_with("Make the client trust `other-root`, the root that issued the intermediate `foreign-issuing`")
            && e.fix.contains("on the client: curl `--cacert other-root.crt`"),
        "{}",
        e.fix
    );
}

const LESSONS: &str = r#"
lab: lessons
authorities:
  ca:
    subject: { CN: Lessons CA }
    revokes: [{ certificate: old-client, reason: superseded }]
    crl: { this_update: -1h, next_update: +7d }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, "dns:*.lab.test", "dns:127.0.0.2"], usage: server }
  old-client: { issuer: ca, subject: { CN: alice }, usage: client, serial: 7 }
  new-client: { issuer: ca, subject: { CN: alice }, usage: client, serial: 7 }
  skewed-client: { issuer: ca, subject: { CN: bob }, usage: client, valid: { from: +2m, until: +30d } }
servers:
  web: { certificate: server, trust: [ca], revocation: { check: end_entity } }
  web12: { certificate: server, trust: [ca], tls: [1.2] }
cases:
  - name: a wildcard two labels down
    server: web
    client: { certificate: new-client, trust: [ca], server_name: a.b.lab.test }
    expect: { outcome: rejected, by: client, reason: name_mismatch }
  - name: an IP address written as a DNS name
    server: web
    client: { certificate: new-client, trust: [ca], server_name: 127.0.0.2 }
    expect: { outcome: rejected, by: client, reason: name_mismatch }
  - name: a renewal that kept the revoked serial
    server: web
    client: { certificate: new-client, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: revoked }
  - name: a clock two minutes behind
    server: web
    client: { certificate: skewed-client, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: not_yet_valid }
  - name: no certificate over TLS 1.3
    server: web
    client: { trust: [ca] }
    expect: { outcome: rejected, by: server, reason: certificate_required }
  - name: no certificate over TLS 1.2
    server: web12
    client: { trust: [ca] }
    expect: { outcome: rejected, by: server, reason: certificate_required }
"#;

#[test]
fn the_lessons_wildcards_ip_sans_serials_clock_skew_and_tls13_late_refusal() {
    let r = common::run(LESSONS);
    let e = |name: &str| {
        let c = common::case(&r, name);
        assert_eq!(
            c.status,
            mtls_lab::run::Status::Passed,
            "{name}: {:?}",
            c.messages
        );
        c.explanation.clone().unwrap()
    };
    let w = e("a wildcard two labels down");
    assert!(
        w.what.ends_with("A wildcard covers exactly one label: `*.lab.test` matches `a.lab.test`, not `a.b.lab.test`."),
        "{}",
        w.what
    );
    assert!(
        w.fix
            .starts_with("Reissue the certificate with `dns:a.b.lab.test`"),
        "{}",
        w.fix
    );

    let ip = e("an IP address written as a DNS name");
    assert!(
        ip.what.contains("`127.0.0.2` is written as a DNS name (dNSName), and an IP address matches only an iPAddress entry."),
        "{}",
        ip.what
    );
    assert!(
        ip.fix
            .starts_with("Reissue the certificate with `ip:127.0.0.2`"),
        "{}",
        ip.fix
    );

    let serial = e("a renewal that kept the revoked serial");
    assert_eq!(serial.certificate.as_deref(), Some("new-client"));
    assert!(
        serial.what.starts_with("the client certificate `new-client` has serial 7, which the revocation list (CRL) of `ca` lists: it revoked `old-client`, which has the same serial."),
        "{}",
        serial.what
    );
    assert!(
        serial
            .fix
            .contains("a renewal must get a new serial number"),
        "{}",
        serial.fix
    );
    assert!(!serial.fix.contains("new key"), "{}", serial.fix);

    let skew = e("a clock two minutes behind");
    assert!(
        skew.fix.contains("Back-date the start a few minutes"),
        "{}",
        skew.fix
    );
    assert!(skew.fix.contains("`valid: { from: -5m }`"), "{}", skew.fix);
    assert!(!skew.fix.contains("starts now"), "{}", skew.fix);
    // To the second: `2026-11-30T08:22:29Z`, no fraction.
    let from = skew.what.split("valid only from ").nth(1).unwrap();
    assert_eq!(from.find('Z'), Some(19), "{}", skew.what);

    let late = e("no certificate over TLS 1.3");
    assert!(late.what.contains("Under TLS 1.3 the client completes its side of the handshake before the server checks its certificate"), "{}", late.what);
    let early = e("no certificate over TLS 1.2");
    assert!(!early.what.contains("TLS 1.3"), "{}", early.what);
}

#[test]
fn an_external_programs_own_words_are_quoted() {
    let lab = common::lab(
        r#"
lab: words
authorities:
  ca: { subject: { CN: Words CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, usage: server }
servers:
  web: { certificate: server, trust: [ca] }
cases:
  - name: curl refuses
    client:
      command: [curl, --silent, "{url}"]
    expect: { outcome: rejected, by: client, reason: unknown_issuer }
"#,
    );
    let mut o = rejected(Side::Client, Reason::UnknownIssuer);
    o.external = Some(Side::Client);
    o.detail =
        Some("curl: (60) SSL certificate problem: unable to get local issuer certificate".into());
    let e = explain(&lab, &lab.cases[0], &o, time::OffsetDateTime::now_utc()).unwrap();
    assert!(
        e.what.ends_with(" The client program's own words: \"curl: (60) SSL certificate problem: unable to get local issuer certificate\"."),
        "{}",
        e.what
    );
    // What a program trusted is in its own arguments: not stated.
    assert!(!e.what.contains("trusted nothing"), "{}", e.what);
    assert!(
        e.fix.contains("on the client: curl `--cacert ca.crt`"),
        "{}",
        e.fix
    );
    // Which certificate a program presented is in its arguments too: no placeholder names it.
    let at = time::macros::datetime!(2027-03-04 05:06:07.891 UTC);
    for reason in [
        Reason::Expired,
        Reason::NotYetValid,
        Reason::UnknownIssuer,
        Reason::Revoked,
    ] {
        let e = explain(&lab, &lab.cases[0], &rejected(Side::Server, reason), at).unwrap();
        let text = format!("{} {}", e.what, e.fix);
        assert!(
            text.contains("the certificate the client program presented"),
            "{reason}: {text}"
        );
        assert!(
            !text.contains("(none)") && !text.contains('?'),
            "{reason}: {text}"
        );
        assert!(!text.contains(".891"), "{reason}: {text}");
    }
}

/// A CA-issued certificate in `trust:` is no anchor for itself (rustls-webpki looks for a trusted
/// issuer, never the certificate itself): the words say so, name its issuer and the root's file, and
/// never invent "another CA with the same name"; a self-signed certificate's fix names its own file.
#[test]
fn trusting_a_ca_issued_leaf_directly_and_a_self_signed_one_name_the_right_file() {
    const YAML: &str = r#"
lab: leaf-trust
authorities:
  root: { subject: { CN: Leaf Trust Root } }
certificates:
  server: { issuer: root, subject: { CN: localhost }, san: [dns:localhost], usage: server }
  lonely: { issuer: self, subject: { CN: localhost }, san: [dns:localhost], usage: server }
servers:
  web: { certificate: server, trust: [root] }
  alone: { certificate: lonely, trust: [root] }
cases:
  - name: the server certificate itself in trust
    server: web
    client: { trust: [server] }
    expect: { outcome: rejected, by: client, reason: unknown_issuer }
  - name: a self-signed server not trusted
    server: alone
    client: { trust: [root] }
    expect: { outcome: rejected, by: client, reason: unknown_issuer }
"#;
    let e = explained(YAML, "the server certificate itself in trust");
    assert_eq!(e.certificate.as_deref(), Some("server"));
    assert_eq!(
        e.what,
        "the client could not chain the server certificate `server` to an authority it trusts: the client was given `server` itself to trust, but that certificate is issued by `root`, not self-signed, and rustls-webpki accepts a certificate only when a trusted certificate signed it, never because it is itself on the trust list. The client trusted `server`."
    );
    assert_eq!(
        e.fix,
        "Make the client trust `root`, the root that issued it (on the client: curl `--cacert root.crt`, Python `ssl.create_default_context(cafile='root.crt')`), or trust a self-signed certificate directly."
    );
    let e = explained(YAML, "a self-signed server not trusted");
    assert_eq!(e.certificate.as_deref(), Some("lonely"));
    assert!(e.fix.contains("`--cacert lonely.crt`"), "{}", e.fix);
    assert!(!e.fix.contains("ca.crt"), "{}", e.fix);
}
