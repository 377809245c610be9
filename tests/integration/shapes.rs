//! PKI shapes real users meet (issue 13): self-signed certificates and direct trust, authorities with
//! EKU, key usage and critical extensions, EKU OIDs, cross-signing (`key_of`), chosen signature
//! algorithms, CRLs per verifier, and a server that trusts nothing. Each lab in `labs/` runs with real
//! handshakes; the assertions here are the exact side, reason, alert and identity, and the certificates
//! are read back to show they have the shape the lab declares.

use std::path::Path;

use mtls_lab::lab::{self, CertRef, Lab};
use mtls_lab::pki::Pki;
use mtls_lab::reason::Reason;
use mtls_lab::run::LabResult;
use mtls_lab::spec::Side;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::common::{assert_accepted, assert_rejected, case, root};

fn load(file: &str) -> Lab {
    let path = root().join("labs").join(file);
    lab::load(&path, time::OffsetDateTime::now_utc()).unwrap_or_else(|e| panic!("{e}"))
}

fn run_lab(lab: &Lab) -> LabResult {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(mtls_lab::run::run_lab(lab))
}

/// The alert the other side received in case `name`.
fn alert(r: &LabResult, name: &str) -> Option<String> {
    case(r, name)
        .observed
        .as_ref()
        .and_then(|o| o.alert.clone())
}

/// The subject the server saw in case `name`, and its issuer.
fn server_saw(r: &LabResult, name: &str) -> (String, String) {
    let o = case(r, name).observed.as_ref().expect("observed");
    let id = o
        .server_saw
        .as_ref()
        .expect("the server saw a client certificate");
    (id.subject.clone(), id.issuer.clone())
}

fn cert<'a>(pki: &'a Pki, lab: &Lab, name: &str) -> X509Certificate<'a> {
    let r = lab
        .authorities
        .iter()
        .position(|a| a.name == name)
        .map(CertRef::Authority)
        .or_else(|| {
            lab.certificates
                .iter()
                .position(|c| c.name == name)
                .map(CertRef::Certificate)
        })
        .unwrap_or_else(|| panic!("no {name}"));
    X509Certificate::from_der(&pki.get(r).der)
        .expect("parses")
        .1
}

fn eku_oids(c: &X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::ParsedExtension;
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::ExtendedKeyUsage(k) => Some(
                k.other
                    .iter()
                    .map(|o| o.to_id_string())
                    .chain(k.any.then(|| "2.5.29.37.0".to_string()))
                    .chain(k.server_auth.then(|| "serverAuth".to_string()))
                    .chain(k.client_auth.then(|| "clientAuth".to_string()))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn a_self_signed_client_is_refused_by_the_ca_and_accepted_when_trusted_itself() {
    let lab = load("self-signed-client.yaml");
    let r = run_lab(&lab);
    let refused = "a self-signed client certificate is refused by a server that trusts the CA";
    assert_rejected(&r, refused, Side::Server, Reason::UnknownIssuer);
    assert_eq!(alert(&r, refused).as_deref(), Some("unknown_ca"));
    let accepted = "a server that trusts the self-signed certificate itself accepts it";
    assert_accepted(&r, accepted);
    let (subject, issuer) = server_saw(&r, accepted);
    assert_eq!(subject, "O=Self Lab, CN=self-signed-client");
    assert_eq!(issuer, subject, "self-signed: its issuer is its subject");
    assert_accepted(&r, "the same server still accepts clients of the CA");
    assert_eq!(
        server_saw(&r, "the same server still accepts clients of the CA").1,
        "O=Self Lab, CN=Self Lab CA"
    );
    let tutorial =
        "a self-signed CA:TRUE certificate trusted directly is still a CA used as a leaf";
    assert_rejected(&r, tutorial, Side::Server, Reason::CaUsedAsLeaf);
    assert_eq!(alert(&r, tutorial).as_deref(), Some("certificate_unknown"));
}

#[test]
fn a_self_signed_server_trusted_directly_is_accepted_and_its_name_still_checked() {
    let lab = load("direct-trust.yaml");
    let r = run_lab(&lab);
    let refused = "a client that trusts only the lab CA refuses the self-signed server";
    assert_rejected(&r, refused, Side::Client, Reason::UnknownIssuer);
    let accepted = "a client that trusts the server certificate itself accepts it";
    assert_accepted(&r, accepted);
    let o = case(&r, accepted).observed.as_ref().unwrap();
    let server = o.client_saw.as_ref().expect("the client saw the server");
    assert_eq!(
        (server.subject.as_str(), server.issuer.as_str()),
        ("CN=localhost", "CN=localhost")
    );
    assert_eq!(server_saw(&r, accepted).0, "CN=direct-client");
    assert_rejected(
        &r,
        "trusting the certificate directly does not skip the name check",
        Side::Client,
        Reason::NameMismatch,
    );
    assert_rejected(
        &r,
        "a self-signed CA:TRUE server certificate trusted directly is a CA used as a leaf",
        Side::Client,
        Reason::CaUsedAsLeaf,
    );
}

#[test]
fn authorities_carry_eku_key_usage_and_critical_extensions_and_leaves_take_eku_oids() {
    let lab = load("eku-intermediate.yaml");
    let pki = mtls_lab::pki::build(&lab).unwrap();
    assert_eq!(eku_oids(&cert(&pki, &lab, "clients-only")), ["clientAuth"]);
    assert_eq!(eku_oids(&cert(&pki, &lab, "root")), Vec::<String>::new());
    assert_eq!(
        eku_oids(&cert(&pki, &lab, "any-purpose-client")),
        ["2.5.29.37.0"]
    );
    assert_eq!(
        eku_oids(&cert(&pki, &lab, "private-purpose-client")),
        ["1.3.6.1.4.1.55555.7"]
    );
    let mut both = eku_oids(&cert(&pki, &lab, "client-and-any"));
    both.sort();
    assert_eq!(both, ["2.5.29.37.0", "clientAuth"]);
    let no_sign = cert(&pki, &lab, "no-cert-sign");
    let ku = no_sign.key_usage().unwrap().expect("key usage").value;
    assert!(!ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
    let strange = cert(&pki, &lab, "strange");
    assert!(strange
        .extensions()
        .iter()
        .any(|e| e.critical && e.oid.to_id_string() == "1.3.6.1.4.1.55555.1"));

    let r = run_lab(&lab);
    assert_rejected(
        &r,
        "a server certificate under a clientAuth-only intermediate is refused by its client",
        Side::Client,
        Reason::WrongPurpose,
    );
    let accepted = "a client certificate under the clientAuth-only intermediate is accepted";
    assert_accepted(&r, accepted);
    assert_eq!(
        server_saw(&r, accepted),
        (
            "CN=restricted-client".into(),
            "O=Purpose Lab, CN=Client Issuing CA".into()
        )
    );
    for refused in [
        "a client certificate with only anyExtendedKeyUsage is refused",
        "a private purpose alone is refused",
    ] {
        assert_rejected(&r, refused, Side::Server, Reason::WrongPurpose);
    }
    assert_accepted(
        &r,
        "clientAuth with anyExtendedKeyUsage by number is accepted",
    );
    assert_rejected(
        &r,
        "an intermediate with an unknown critical extension breaks the chain",
        Side::Server,
        Reason::BadEncoding,
    );
    assert_accepted(&r, "rustls ignores an issuing CA's missing keyCertSign");
}

#[test]
fn a_cross_signed_authority_has_its_owners_key_and_subject_and_either_path_verifies() {
    let lab = load("cross-signed.yaml");
    let pki = mtls_lab::pki::build(&lab).unwrap();
    let (new, cross) = (
        cert(&pki, &lab, "new-root"),
        cert(&pki, &lab, "new-root-by-old"),
    );
    assert_eq!(new.public_key().raw, cross.public_key().raw, "one key");
    assert_eq!(
        new.subject().as_raw(),
        cross.subject().as_raw(),
        "one subject"
    );
    assert_eq!(cross.issuer().to_string(), "O=Migration Lab, CN=Old Root");
    // The issuing CA's signature verifies with the key of either certificate.
    let issuing = cert(&pki, &lab, "issuing");
    assert!(issuing.verify_signature(Some(cross.public_key())).is_ok());

    let r = run_lab(&lab);
    let new_path =
        "a client that trusts the new root accepts the chain with the expired cross-certificate";
    assert_accepted(&r, new_path);
    assert_eq!(server_saw(&r, new_path).0, "CN=migrating-client");
    let old_path = "a client that trusts only the old root finds the old path expired";
    assert_rejected(&r, old_path, Side::Client, Reason::Expired);
    assert_eq!(alert(&r, old_path).as_deref(), Some("certificate_expired"));
    assert_accepted(&r, "a month ago the old path was fine");
    assert_rejected(
        &r,
        "without the cross-certificate a client of the old root has no path",
        Side::Client,
        Reason::UnknownIssuer,
    );
    assert_rejected(
        &r,
        "a server on the old trust store finds the client's old path expired",
        Side::Server,
        Reason::Expired,
    );
    assert_rejected(
        &r,
        "a server on the old trust store has no path without the cross-certificate",
        Side::Server,
        Reason::UnknownIssuer,
    );
}

#[test]
fn issuers_sign_with_the_algorithm_they_choose() {
    let lab = load("signature-alg.yaml");
    let pki = mtls_lab::pki::build(&lab).unwrap();
    let alg = |name: &str| {
        cert(&pki, &lab, name)
            .signature_algorithm
            .algorithm
            .to_id_string()
    };
    assert_eq!(
        alg("p521-sha256"),
        "1.2.840.10045.4.3.2",
        "ecdsa-with-SHA256"
    );
    assert_eq!(alg("server"), "1.2.840.10045.4.3.2");
    assert_eq!(
        alg("client-p521-sha384"),
        "1.2.840.10045.4.3.3",
        "ecdsa-with-SHA384"
    );
    assert_eq!(
        alg("client-rsa-sha512"),
        "1.2.840.113549.1.1.13",
        "sha512WithRSAEncryption"
    );
    assert_eq!(alg("self-p521-sha384"), "1.2.840.10045.4.3.3");

    let r = run_lab(&lab);
    for name in [
        "a server certificate signed by a P-521 CA with ECDSA-SHA256 is accepted",
        "a client certificate signed with RSA PKCS#1 SHA-512 is accepted",
        "a self-signed P-521 certificate signed with ECDSA-SHA384 is accepted when trusted directly",
    ] {
        assert_accepted(&r, name);
    }
    assert_eq!(
        server_saw(
            &r,
            "a client certificate signed with RSA PKCS#1 SHA-512 is accepted"
        )
        .0,
        "CN=rsa-sha512-client"
    );
    assert_rejected(
        &r,
        "a client that trusts another CA still refuses the server",
        Side::Client,
        Reason::UnknownIssuer,
    );
}

#[test]
fn a_signature_that_does_not_fit_the_key_is_refused_at_load_with_its_position() {
    let yaml = "lab: x\nauthorities:\n  ca: { subject: { CN: CA }, key: ecdsa-p256, signature: ecdsa-sha384 }\ncertificates:\n  s: { issuer: ca, subject: { CN: localhost } }\nservers:\n  web: { certificate: s, client_auth: none }\ncases:\n  - name: a\n    client: { trust: [ca] }\n    expect: accepted\n";
    let e = lab::parse(Path::new("x.yaml"), yaml, time::OffsetDateTime::now_utc()).unwrap_err();
    let first = e.first();
    assert_eq!(e.len(), 1);
    let pos = first.pos.expect("a position");
    assert_eq!((pos.line, pos.col), (3, 58), "under `ecdsa-sha384`");
    assert_eq!(
        first.error.to_string(),
        "authorities.ca.signature: `ecdsa-sha384` does not fit the signer's `ecdsa-p256` key (rcgen signs with `ecdsa-p256` keys using `ecdsa-sha256`)"
    );
}

#[test]
fn each_verifier_has_only_the_crls_it_names() {
    let lab = load("crl-per-verifier.yaml");
    let r = run_lab(&lab);
    assert_accepted(&r, "with both CRLs a good client is accepted");
    let revoked = "with both CRLs a revoked client is refused";
    assert_rejected(&r, revoked, Side::Server, Reason::Revoked);
    assert_eq!(alert(&r, revoked).as_deref(), Some("certificate_revoked"));
    assert_rejected(
        &r,
        "without the root's CRL whole-chain checking cannot tell the issuing CA's status",
        Side::Server,
        Reason::RevocationUnknown,
    );
    assert_accepted(
        &r,
        "checking the end entity only, the issuing CA's CRL is enough",
    );
    assert_rejected(
        &r,
        "checking the end entity only, the issuing CA's CRL finds the revoked client",
        Side::Server,
        Reason::Revoked,
    );
    assert_rejected(
        &r,
        "with only the root's CRL the end entity's status is unknown",
        Side::Server,
        Reason::RevocationUnknown,
    );
    assert_rejected(
        &r,
        "a client with only the root's CRL cannot check the server",
        Side::Client,
        Reason::RevocationUnknown,
    );
    assert_accepted(&r, "a client with the issuing CA's CRL checks the server");
}

#[test]
fn a_server_that_trusts_nothing_refuses_every_client_certificate() {
    let lab = load("trust-nothing.yaml");
    let r = run_lab(&lab);
    for name in [
        "a server that trusts nothing refuses a valid client certificate",
        "an optional server that trusts nothing refuses a client certificate too",
    ] {
        assert_rejected(&r, name, Side::Server, Reason::UnknownIssuer);
        assert_eq!(alert(&r, name).as_deref(), Some("unknown_ca"));
    }
    assert_rejected(
        &r,
        "it still requires a certificate",
        Side::Server,
        Reason::CertificateRequired,
    );
    let anonymous = "an optional server that trusts nothing lets an anonymous client in";
    assert_accepted(&r, anonymous);
    let o = case(&r, anonymous).observed.as_ref().unwrap();
    assert!(o.server_saw.is_none(), "no client certificate: {o:?}");
}

#[test]
fn check_counts_a_certificate_trusted_directly_as_an_anchor() {
    let now = time::OffsetDateTime::now_utc();
    for file in [
        "self-signed-client.yaml",
        "direct-trust.yaml",
        "cross-signed.yaml",
    ] {
        let lab = load(file);
        assert_eq!(lab::lint::warnings(&lab, now), vec![], "{file}");
    }
    // Trusting a CA-issued leaf directly is no anchor for it (rustls looks for its issuer): warned.
    let lab = crate::common::lab("lab: x\nauthorities:\n  ca: { subject: { CN: CA } }\ncertificates:\n  s: { issuer: ca, subject: { CN: localhost } }\nservers:\n  web: { certificate: s, client_auth: none }\ncases:\n  - name: a\n    client: { trust: [s] }\n    expect: accepted\n");
    let w = lab::lint::warnings(&lab, now);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].message
            .contains("trusts none of the authorities behind server certificate `s` (`ca`)"),
        "{}",
        w[0].message
    );
}
