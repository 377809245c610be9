//! The failure catalogue: every lab under `labs/` runs with real handshakes, and each reason code is produced
//! by at least one case, asserted here independently of the labs' own expectations (exact side and reason).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use mtls_lab::reason::Reason;
use mtls_lab::run::{LabResult, Status};
use mtls_lab::spec::{Outcome, Side};

fn labs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labs")
}

fn run_labs(files: &[&str]) -> Vec<LabResult> {
    let now = time::OffsetDateTime::now_utc();
    let labs: Vec<_> = files
        .iter()
        .flat_map(|f| {
            let path = labs_dir().join(f);
            mtls_lab::lab::load_all(&path, now).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(mtls_lab::run::run_all(labs, 2))
}

/// The side that must reject and why; `None` = accepted.
type Expected = Option<(Side, Reason)>;

/// (lab file, case name, expected verdict).
const VERDICTS: &[(&str, &str, Expected)] = &[
    (
        "legacy-certificates.yaml",
        "an X.509 v1 server certificate is refused by the client",
        Some((Side::Client, Reason::UnsupportedCertVersion)),
    ),
    (
        "legacy-certificates.yaml",
        "a SHA-1-signed server certificate is refused by the client",
        Some((Side::Client, Reason::UnsupportedAlgorithm)),
    ),
    (
        "expired-both-ways.yaml",
        "the server rejects an expired client certificate",
        Some((Side::Server, Reason::Expired)),
    ),
    (
        "expired-both-ways.yaml",
        "the client rejects an expired server certificate",
        Some((Side::Client, Reason::Expired)),
    ),
    ("expired-both-ways.yaml", "a valid client is accepted", None),
    (
        "not-yet-valid-both-ways.yaml",
        "the server rejects a client certificate that is not valid yet",
        Some((Side::Server, Reason::NotYetValid)),
    ),
    (
        "not-yet-valid-both-ways.yaml",
        "the client rejects a server certificate that is not valid yet",
        Some((Side::Client, Reason::NotYetValid)),
    ),
    (
        "not-yet-valid-both-ways.yaml",
        "two days later both certificates are valid",
        None,
    ),
    (
        "unknown-ca-both-ways.yaml",
        "the server rejects a client certificate from an untrusted CA",
        Some((Side::Server, Reason::UnknownIssuer)),
    ),
    (
        "unknown-ca-both-ways.yaml",
        "the client rejects a server certificate from an untrusted CA",
        Some((Side::Client, Reason::UnknownIssuer)),
    ),
    (
        "missing-intermediate.yaml",
        "the client cannot build a path when the server sends only its leaf",
        Some((Side::Client, Reason::UnknownIssuer)),
    ),
    (
        "missing-intermediate.yaml",
        "the client cannot build a path when the server sends the wrong intermediate",
        Some((Side::Client, Reason::UnknownIssuer)),
    ),
    (
        "missing-intermediate.yaml",
        "the server cannot build a path when the client sends only its leaf",
        Some((Side::Server, Reason::UnknownIssuer)),
    ),
    (
        "missing-intermediate.yaml",
        "with full chains on both sides the handshake succeeds",
        None,
    ),
    (
        "rogue-ca-same-name.yaml",
        "the server rejects a client certificate signed by the rogue CA",
        Some((Side::Server, Reason::BadSignature)),
    ),
    (
        "rogue-ca-same-name.yaml",
        "the client rejects a server certificate signed by the rogue CA",
        Some((Side::Client, Reason::BadSignature)),
    ),
    (
        "name-mismatch-dns-and-ip.yaml",
        "another DNS name does not match",
        Some((Side::Client, Reason::NameMismatch)),
    ),
    (
        "name-mismatch-dns-and-ip.yaml",
        "another IP address does not match",
        Some((Side::Client, Reason::NameMismatch)),
    ),
    (
        "name-mismatch-dns-and-ip.yaml",
        "the IP address in the certificate matches",
        None,
    ),
    (
        "no-san-common-name-only.yaml",
        "the client ignores the CN and finds no name",
        Some((Side::Client, Reason::NameMismatch)),
    ),
    (
        "wrong-eku-both-ways.yaml",
        "the server rejects a client certificate made for servers",
        Some((Side::Server, Reason::WrongPurpose)),
    ),
    (
        "wrong-eku-both-ways.yaml",
        "the server rejects a client certificate made for code signing",
        Some((Side::Server, Reason::WrongPurpose)),
    ),
    (
        "wrong-eku-both-ways.yaml",
        "the client rejects a server certificate made for clients",
        Some((Side::Client, Reason::WrongPurpose)),
    ),
    (
        "wrong-eku-both-ways.yaml",
        "a client certificate without an EKU extension is accepted",
        None,
    ),
    (
        "ca-certificate-as-leaf.yaml",
        "the client rejects a server presenting a CA certificate",
        Some((Side::Client, Reason::CaUsedAsLeaf)),
    ),
    (
        "ca-certificate-as-leaf.yaml",
        "the server rejects a client presenting a CA certificate",
        Some((Side::Server, Reason::CaUsedAsLeaf)),
    ),
    (
        "intermediate-not-ca.yaml",
        "the client rejects a server certificate issued by a non-CA",
        Some((Side::Client, Reason::IssuerNotCa)),
    ),
    (
        "intermediate-not-ca.yaml",
        "the server rejects a client certificate issued by a non-CA",
        Some((Side::Server, Reason::IssuerNotCa)),
    ),
    (
        "chain-too-long.yaml",
        "the server refuses a client chain with seven intermediates",
        Some((Side::Server, Reason::ChainTooLong)),
    ),
    (
        "chain-too-long.yaml",
        "the client refuses a server chain with seven intermediates",
        Some((Side::Client, Reason::ChainTooLong)),
    ),
    (
        "chain-too-long.yaml",
        "six intermediates below the anchor are accepted",
        None,
    ),
    (
        "path-length-exceeded.yaml",
        "the client rejects a server chain longer than the policy CA allows",
        Some((Side::Client, Reason::PathLenExceeded)),
    ),
    (
        "path-length-exceeded.yaml",
        "the server rejects a client chain longer than the policy CA allows",
        Some((Side::Server, Reason::PathLenExceeded)),
    ),
    (
        "name-constraints.yaml",
        "the client rejects a server DNS name outside the permitted subtree",
        Some((Side::Client, Reason::NameConstraints)),
    ),
    (
        "name-constraints.yaml",
        "the client rejects a server DNS name in an excluded subtree",
        Some((Side::Client, Reason::NameConstraints)),
    ),
    (
        "name-constraints.yaml",
        "the client rejects a server IP address outside the permitted range",
        Some((Side::Client, Reason::NameConstraints)),
    ),
    (
        "name-constraints.yaml",
        "the server rejects a client name outside the permitted subtree",
        Some((Side::Server, Reason::NameConstraints)),
    ),
    (
        "name-constraints.yaml",
        "names inside the permitted subtrees are accepted",
        None,
    ),
    (
        "revoked-both-ways.yaml",
        "the server rejects a revoked client certificate",
        Some((Side::Server, Reason::Revoked)),
    ),
    (
        "revoked-both-ways.yaml",
        "the client rejects a revoked server certificate",
        Some((Side::Client, Reason::Revoked)),
    ),
    (
        "revoked-both-ways.yaml",
        "a server that does not check revocation accepts the revoked client",
        None,
    ),
    (
        "revocation-unknown.yaml",
        "checking the whole chain without the root's CRL leaves the intermediate unknown",
        Some((Side::Server, Reason::RevocationUnknown)),
    ),
    (
        "revocation-unknown.yaml",
        "a client certificate from an issuer without a CRL is unknown",
        Some((Side::Server, Reason::RevocationUnknown)),
    ),
    (
        "revocation-unknown.yaml",
        "the client finds the server's revocation status unknown",
        Some((Side::Client, Reason::RevocationUnknown)),
    ),
    (
        "revocation-unknown.yaml",
        "with expired CRLs denied the status is unknown",
        Some((Side::Server, Reason::RevocationUnknown)),
    ),
    (
        "revocation-unknown.yaml",
        "allowing unknown status accepts it",
        None,
    ),
    (
        "revocation-unknown.yaml",
        "checking only the end entity needs only the issuing CA's CRL",
        None,
    ),
    (
        "revocation-unknown.yaml",
        "an expired CRL is still used by default",
        None,
    ),
    (
        "pinning.yaml",
        "a pin on another key is a mismatch even with a valid chain",
        Some((Side::Client, Reason::PinMismatch)),
    ),
    (
        "pinning.yaml",
        "a literal pin that matches nothing is a mismatch",
        Some((Side::Client, Reason::PinMismatch)),
    ),
    (
        "pinning.yaml",
        "pinning does not replace chain validation",
        Some((Side::Client, Reason::UnknownIssuer)),
    ),
    ("pinning.yaml", "the server's key is pinned", None),
    (
        "tls-versions-and-ciphers.yaml",
        "a TLS 1.2-only client against a TLS 1.3-only server",
        Some((Side::Server, Reason::ProtocolVersion)),
    ),
    (
        "tls-versions-and-ciphers.yaml",
        "a TLS 1.3-only client against a TLS 1.2-only server",
        Some((Side::Server, Reason::ProtocolVersion)),
    ),
    (
        "tls-versions-and-ciphers.yaml",
        "a client with no cipher suite in common is refused",
        Some((Side::Server, Reason::HandshakeFailure)),
    ),
    (
        "tls-versions-and-ciphers.yaml",
        "mutual TLS works over TLS 1.2 as well",
        None,
    ),
    (
        "optional-client-auth.yaml",
        "a client without a certificate is accepted anonymously",
        None,
    ),
    (
        "optional-client-auth.yaml",
        "a certificate that is sent is still verified",
        Some((Side::Server, Reason::UnknownIssuer)),
    ),
    (
        "short-lived-certificate.yaml",
        "an hour later it is still valid",
        None,
    ),
    (
        "short-lived-certificate.yaml",
        "three hours later it has expired",
        Some((Side::Server, Reason::Expired)),
    ),
    (
        "short-lived-certificate.yaml",
        "verifying before it was issued, it is not valid yet",
        Some((Side::Server, Reason::NotYetValid)),
    ),
    (
        "virtual-clock-next-year.yaml",
        "after a year the server certificate has expired",
        Some((Side::Client, Reason::Expired)),
    ),
    (
        "virtual-clock-next-year.yaml",
        "a month from now everything is still valid",
        None,
    ),
    (
        "seed-mtls.yaml",
        "no client certificate is rejected by the server",
        Some((Side::Server, Reason::CertificateRequired)),
    ),
    (
        "crl-problems.yaml",
        "the server cannot use a CRL signed by the wrong key",
        Some((Side::Server, Reason::RevocationUnknown)),
    ),
    (
        "crl-problems.yaml",
        "the client cannot use a CRL signed by the wrong key",
        Some((Side::Client, Reason::RevocationUnknown)),
    ),
    (
        "crl-problems.yaml",
        "the server cannot use a CRL from an issuer without cRLSign",
        Some((Side::Server, Reason::RevocationUnknown)),
    ),
    (
        "crl-problems.yaml",
        "the client cannot use a CRL from an issuer without cRLSign",
        Some((Side::Client, Reason::RevocationUnknown)),
    ),
    (
        "crl-problems.yaml",
        "without revocation checking the client is accepted",
        None,
    ),
    (
        "malformed-certificates.yaml",
        "the client refuses a server certificate with a malformed time",
        Some((Side::Client, Reason::BadEncoding)),
    ),
    (
        "malformed-certificates.yaml",
        "the server refuses a client certificate with a malformed time",
        Some((Side::Server, Reason::BadEncoding)),
    ),
    (
        "malformed-certificates.yaml",
        "the client refuses a server certificate with an empty extended key usage",
        Some((Side::Client, Reason::WrongPurpose)),
    ),
    (
        "malformed-certificates.yaml",
        "the server refuses a client certificate with an empty extended key usage",
        Some((Side::Server, Reason::WrongPurpose)),
    ),
    (
        "malformed-certificates.yaml",
        "well-formed certificates from the same CA are accepted",
        None,
    ),
];

/// The alert the rejecting side sends for each reason the catalogue produces, as rustls decides it, and so
/// the alert the other side must receive. Where one reason comes with two alerts, the second field is a
/// part of the rejecting side's own error (`detail`) that tells them apart.
const ALERTS: &[(Reason, Option<&str>, &str)] = &[
    (Reason::CertificateRequired, None, "certificate_required"),
    (Reason::UnknownIssuer, None, "unknown_ca"),
    (Reason::BadSignature, None, "decrypt_error"),
    (Reason::Expired, None, "certificate_expired"),
    (Reason::NotYetValid, None, "certificate_expired"),
    (Reason::NameMismatch, None, "bad_certificate"),
    (
        Reason::WrongPurpose,
        Some("does not allow extended key usage"),
        "unsupported_certificate",
    ),
    (
        Reason::WrongPurpose,
        Some("EmptyEkuExtension"),
        "certificate_unknown",
    ),
    (Reason::Revoked, None, "certificate_revoked"),
    (
        Reason::RevocationUnknown,
        Some("invalid peer certificate"),
        "unknown_ca",
    ),
    (
        Reason::RevocationUnknown,
        Some("invalid certificate revocation list"),
        "handshake_failure",
    ),
    (Reason::CaUsedAsLeaf, None, "certificate_unknown"),
    (Reason::IssuerNotCa, None, "certificate_unknown"),
    (Reason::PathLenExceeded, None, "certificate_unknown"),
    (Reason::ChainTooLong, None, "certificate_unknown"),
    (Reason::NameConstraints, None, "certificate_unknown"),
    (
        Reason::BadEncoding,
        Some("UnsupportedCriticalExtension"),
        "certificate_unknown",
    ),
    (
        Reason::BadEncoding,
        Some("invalid peer certificate: BadEncoding"),
        "bad_certificate",
    ),
    (Reason::PinMismatch, None, "certificate_unknown"),
    (Reason::ProtocolVersion, None, "protocol_version"),
    (Reason::HandshakeFailure, None, "handshake_failure"),
    (Reason::UnsupportedAlgorithm, None, "decrypt_error"),
    (Reason::UnsupportedCertVersion, None, "certificate_unknown"),
];

/// Asserts, for every case a verifier rejected, the alert the rejecting side sent and the alert the other side
/// received, against [`ALERTS`]; every row of the table must be used.
fn assert_alerts(observed: &BTreeMap<(&str, &str), mtls_lab::verdict::Observed>) {
    let mut used = BTreeSet::new();
    let mut wrong = Vec::new();
    for ((file, case), o) in observed {
        let Some(reason) = o.reason else { continue };
        if o.outcome != Outcome::Rejected || reason.is_transport() || o.external.is_some() {
            continue;
        }
        let detail = o.detail.as_deref().unwrap_or_default();
        let rows: Vec<usize> = ALERTS
            .iter()
            .enumerate()
            .filter(|(_, (r, part, _))| *r == reason && part.is_none_or(|p| detail.contains(p)))
            .map(|(i, _)| i)
            .collect();
        let [row] = rows[..] else {
            wrong.push(format!(
                "{file} › {case}: {reason} ({detail}) matches {} rows of ALERTS",
                rows.len()
            ));
            continue;
        };
        used.insert(row);
        let want = Some(ALERTS[row].2);
        // The rejecting side's alert, and the same alert as the other side received it.
        if (o.alert_sent.as_deref(), o.alert.as_deref()) != (want, want) {
            wrong.push(format!(
                "{file} › {case}: {} ({detail}): alert_sent {:?}, alert {:?}, expected {want:?} for both",
                o.summary(),
                o.alert_sent,
                o.alert
            ));
        }
    }
    for (i, (reason, part, _)) in ALERTS.iter().enumerate() {
        if !used.contains(&i) {
            wrong.push(format!(
                "no catalogue case checks the alert of {reason} {part:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "alerts:\n{}", wrong.join("\n"));
}

/// Reason codes that must be produced, with the sides they must be produced by.
const REQUIRED: &[(Reason, &[Side])] = &[
    (Reason::Expired, &[Side::Server, Side::Client]),
    (Reason::UnknownIssuer, &[Side::Server, Side::Client]),
    (Reason::Revoked, &[Side::Server, Side::Client]),
    (Reason::WrongPurpose, &[Side::Server, Side::Client]),
    (Reason::NotYetValid, &[Side::Server, Side::Client]),
    (Reason::BadSignature, &[Side::Server, Side::Client]),
    (Reason::NameMismatch, &[Side::Client]),
    (Reason::CaUsedAsLeaf, &[Side::Server, Side::Client]),
    (Reason::IssuerNotCa, &[Side::Server, Side::Client]),
    (Reason::PathLenExceeded, &[Side::Server, Side::Client]),
    (Reason::ChainTooLong, &[Side::Server, Side::Client]),
    (Reason::NameConstraints, &[Side::Server, Side::Client]),
    (Reason::RevocationUnknown, &[Side::Server, Side::Client]),
    (Reason::PinMismatch, &[Side::Client]),
    (Reason::ProtocolVersion, &[Side::Server]),
    (Reason::HandshakeFailure, &[Side::Server]),
    (Reason::CertificateRequired, &[Side::Server]),
    (Reason::BadEncoding, &[Side::Server, Side::Client]),
    (Reason::UnsupportedCertVersion, &[Side::Client]),
    (Reason::UnsupportedAlgorithm, &[Side::Client]),
];

#[test]
fn every_catalogue_lab_passes_and_every_reason_is_produced_with_the_exact_verdict() {
    let mut files: Vec<String> = std::fs::read_dir(labs_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    for (f, _, _) in VERDICTS {
        assert!(files.iter().any(|x| x == f), "lab {f} is missing");
    }
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let results = run_labs(&refs);

    let mut observed = BTreeMap::new();
    let mut failures = Vec::new();
    let file_names: Vec<String> = results
        .iter()
        .map(|r| r.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for (file, r) in file_names.iter().zip(&results) {
        assert!(r.error.is_none(), "{file}: {:?}", r.error);
        for c in &r.cases {
            if c.status != Status::Passed {
                failures.push(format!(
                    "{file} › {}: {:?} {:?}",
                    c.name, c.status, c.messages
                ));
            }
            let o = c
                .observed
                .as_ref()
                .unwrap_or_else(|| panic!("{file} › {} was not run", c.name));
            observed.insert((file.as_str(), c.name.as_str()), o.clone());
        }
    }
    assert!(
        failures.is_empty(),
        "cases failed:\n{}",
        failures.join("\n")
    );

    for (file, case, want) in VERDICTS {
        let o = observed
            .get(&(*file, *case))
            .unwrap_or_else(|| panic!("{file} has no case named `{case}`"));
        match want {
            None => {
                assert_eq!(
                    o.outcome,
                    Outcome::Accepted,
                    "{file} › {case}: {}",
                    o.summary()
                );
                assert_eq!((o.by, o.reason), (None, None), "{file} › {case}");
            }
            Some((by, reason)) => {
                assert_eq!(
                    o.outcome,
                    Outcome::Rejected,
                    "{file} › {case}: {}",
                    o.summary()
                );
                assert_eq!(
                    (o.by, o.reason),
                    (Some(*by), Some(*reason)),
                    "{file} › {case}: {:?}",
                    o.detail
                );
            }
        }
    }

    assert_alerts(&observed);

    let produced: BTreeSet<(String, String)> = observed
        .values()
        .filter_map(|o| Some((format!("{:?}", o.by?), o.reason?.code().to_string())))
        .collect();
    for (reason, sides) in REQUIRED {
        for side in *sides {
            assert!(
                produced.contains(&(format!("{side:?}"), reason.code().to_string())),
                "no lab makes the {side:?} reject with {reason}"
            );
        }
    }
}

#[test]
fn the_json_report_records_the_virtual_clock() {
    let results = run_labs(&[
        "short-lived-certificate.yaml",
        "virtual-clock-next-year.yaml",
    ]);
    let json: serde_json::Value = serde_json::from_str(&mtls_lab::report::json(&results)).unwrap();
    let text = json.to_string();
    let times: Vec<time::OffsetDateTime> = results
        .iter()
        .flat_map(|r| r.cases.iter())
        .map(|c| {
            assert!(
                text.contains(&c.context.verification_time),
                "report lacks {}",
                c.context.verification_time
            );
            time::OffsetDateTime::parse(
                &c.context.verification_time,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        })
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let hours_from_now = |t: &time::OffsetDateTime| (*t - now).whole_hours();
    // short-lived: now, +1h, +3h, -1h; virtual-clock: +400d (lab), +30d (case).
    let hours: Vec<i64> = times.iter().map(hours_from_now).collect();
    assert!(hours[0].abs() <= 1, "{hours:?}");
    assert!((0..=1).contains(&hours[1]), "{hours:?}");
    assert!((2..=3).contains(&hours[2]), "{hours:?}");
    assert!((-1..=0).contains(&hours[3]), "{hours:?}");
    assert!((399 * 24..=400 * 24).contains(&hours[4]), "{hours:?}");
    assert!((29 * 24..=30 * 24).contains(&hours[5]), "{hours:?}");
}

#[test]
fn export_writes_the_seed_layout_with_private_keys_0600() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    let lab = mtls_lab::lab::load(
        &labs_dir().join("revoked-both-ways.yaml"),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let pki = mtls_lab::pki::build(&lab).unwrap();
    let files = mtls_lab::pki::export::export(&lab, &pki, &out, false).unwrap();
    assert!(files.contains(&out.join("ca/ca.crt")));
    assert!(files.contains(&out.join("ca/ca.crl")));
    assert!(files.contains(&out.join("revoked-client/revoked-client.key")));
    assert!(files.contains(&out.join("server/server.chain.pem")));
    assert!(!out.join("server/server.crl").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("server/server.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = std::fs::read_to_string(out.join("client/client.key")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    let err = mtls_lab::pki::export::export(&lab, &pki, &out, false).unwrap_err();
    assert!(
        matches!(err, mtls_lab::pki::export::ExportError::NotEmpty(_)),
        "{err}"
    );
    mtls_lab::pki::export::export(&lab, &pki, &out, true).unwrap();
}

#[test]
fn the_pki_command_refuses_a_non_empty_directory_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let seed = labs_dir().join("seed-mtls.yaml");
    let run = |force: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"));
        cmd.arg("pki").arg(&seed).arg("--out").arg(dir.path());
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let first = run(false);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for f in [
        "ca/ca.crt",
        "ca/ca.key",
        "server/server.crt",
        "server/server.key",
        "client/client.crt",
        "client/client.key",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    // A PKI directory it wrote (it has a state file) is updated in place; any other non-empty one is refused.
    assert_eq!(run(false).status.code(), Some(0));
    std::fs::remove_file(dir.path().join("mtls-lab-state.json")).unwrap();
    let second = run(false);
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("not empty"));
    assert_eq!(run(true).status.code(), Some(0));
}

/// Writes `text` as a lab file and returns the first line of the load error.
fn load_error(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, text).unwrap();
    let errors = mtls_lab::lab::load(&path, time::OffsetDateTime::now_utc()).unwrap_err();
    let err = errors.first();
    let pos = err.pos.expect("the error has a position");
    format!("{}:{}: {}", pos.line, pos.col, err.error)
}

const BASE: &str = "lab: bad
authorities:
  ca:
    subject: { CN: CA }
  other:
    subject: { CN: Other }
certificates:
  server: { issuer: ca, subject: { CN: localhost } }
  client: { issuer: ca, subject: { CN: client } }
";

#[test]
fn errors_in_the_new_fields_point_at_file_line_and_field() {
    let case = |client: &str| {
        format!(
            "{BASE}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: c\n    client: {client}\n    expect: accepted\n"
        )
    };
    let e = load_error(&format!(
        "{}servers:\n  web: {{ certificate: server, trust: [ca], revocation: {{}} }}\ncases:\n  - name: c\n    client: {{ trust: [ca] }}\n    expect: accepted\n",
        BASE
    ));
    assert!(
        e.contains("servers.web.revocation") && e.contains("no authority of the lab publishes"),
        "{e}"
    );
    assert!(e.starts_with("11:"), "{e}");

    let e = load_error(&BASE.replace(
        "    subject: { CN: Other }",
        "    subject: { CN: Other }\n    revokes: [ { certificate: client } ]",
    ));
    assert!(
        e.starts_with("7:")
            && e.contains("authorities.other.revokes[0].certificate")
            && e.contains("not issued by `other`"),
        "{e}"
    );

    let e = load_error(&BASE.replace(
        "    subject: { CN: CA }",
        "    subject: { CN: CA }\n    name_constraints: { permitted: [ip:10.0.0.0] }",
    ));
    assert!(
        e.starts_with("5:37:")
            && e.contains("authorities.ca.name_constraints.permitted[0]")
            && e.contains("prefix"),
        "{e}"
    );

    let e = load_error(&case("{ trust: [ca], chain: [nowhere] }"));
    assert!(
        e.starts_with("14:") && e.contains("cases[0].client.chain[0]") && e.contains("nowhere"),
        "{e}"
    );

    let e = load_error(&case("{ trust: [ca], pin: [sha256/YWJj] }"));
    assert!(
        e.contains("cases[0].client.pin[0]") && e.contains("32 bytes"),
        "{e}"
    );

    let e = load_error(&case("{ trust: [], pin: [server] }"));
    assert!(
        e.contains("cases[0].client.trust") && e.contains("at least one trusted authority"),
        "{e}"
    );

    let e = load_error(&case(
        "{ trust: [ca], tls: [\"1.2\"], ciphers: [TLS13_AES_128_GCM_SHA256] }",
    ));
    assert!(
        e.contains("cases[0].client.ciphers") && e.contains("TLS 1.3"),
        "{e}"
    );

    let e = load_error(&case(
        "{ trust: [ca], ciphers: [TLS_RSA_WITH_RC4_128_MD5] }",
    ));
    assert!(e.contains("TLS_RSA_WITH_RC4_128_MD5"), "{e}");

    let e = load_error(&format!("{}at: next week\n", case("{ trust: [ca] }")));
    assert!(e.contains("at: ") && e.contains("is not a time"), "{e}");
}

#[test]
fn the_committed_schema_includes_the_catalogue_fields() {
    let committed = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/lab.schema.json"),
    )
    .unwrap();
    assert_eq!(
        committed,
        mtls_lab::schema_json(),
        "regenerate with `cargo run -- schema > schemas/lab.schema.json`"
    );
    for field in [
        "revokes",
        "name_constraints",
        "unknown_critical_extension",
        "pin",
        "ciphers",
        "chain",
        "revocation",
        "\"at\"",
    ] {
        assert!(committed.contains(field), "{field}");
    }
}
