//! The known differences between rustls-webpki and OpenSSL (docs/catalogue.md), each shown by a case of
//! `labs/openssl-differences-*.yaml` or `labs/chain-too-long.yaml` and guarded here in real handshakes:
//! the lab runs with rustls on both sides, and the same certificates, keys, trust, name, CRLs and time go
//! to `openssl s_server` and `openssl s_client`, where OpenSSL's verifier (the side that differs) decides.
//! The test fails when either verdict changes, so a difference that disappears or shifts is noticed.
//!
//! The openssl verify cross-check (`openssl_crosscheck.rs`) matches the same differences by their
//! configuration; this test adds what `openssl verify` is not: a TLS handshake, with the server name sent as
//! SNI, the client's chain as a TLS client sends it, and the purpose libssl sets for each side.
//!
//! Needs the `openssl` command (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mtls_lab::lab::{CertRef, Lab};
use mtls_lab::pki::export::{export, pem_block};
use mtls_lab::pki::Pki;
use mtls_lab::reason::Reason;
use mtls_lab::spec::{Outcome, Side};

/// One known difference: the case that shows it, whose verification differs, and both verdicts of that
/// verification (`None`: accepted; rustls's reason; OpenSSL's `X509_V_ERR_*` number).
struct Kind {
    /// The id of the same difference in `openssl_crosscheck.rs` and docs/catalogue.md.
    id: &'static str,
    lab: &'static str,
    case: &'static str,
    verifier: Side,
    rustls: Option<Reason>,
    openssl: Option<i32>,
}

const NAMES: &str = "openssl-differences-names.yaml";
const VALIDATION: &str = "openssl-differences-validation.yaml";
const REVOCATION: &str = "openssl-differences-revocation.yaml";

const KINDS: &[Kind] = &[
    Kind {
        id: "partial-wildcard",
        lab: NAMES,
        case: "a partial wildcard f*.example.test does not match foo.example.test",
        verifier: Side::Client,
        rustls: Some(Reason::NameMismatch),
        openssl: None,
    },
    Kind {
        id: "trailing-dot-name",
        lab: NAMES,
        case: "the trailing-dot name localhost. matches dns:localhost",
        verifier: Side::Client,
        rustls: None,
        openssl: Some(62), // X509_V_ERR_HOSTNAME_MISMATCH
    },
    Kind {
        id: "cn-fallback-ip-only",
        lab: NAMES,
        case: "the CN is not used even when the only SAN is an IP address",
        verifier: Side::Client,
        rustls: Some(Reason::NameMismatch),
        openssl: None,
    },
    Kind {
        id: "email-name-constraints",
        lab: NAMES,
        case: "an email SAN inside the permitted email subtree is refused",
        verifier: Side::Server,
        rustls: Some(Reason::NameConstraints),
        openssl: None,
    },
    Kind {
        id: "cn-under-dns-constraints",
        lab: NAMES,
        case: "a CN outside the DNS name constraints is not checked",
        verifier: Side::Server,
        rustls: None,
        openssl: Some(47), // X509_V_ERR_PERMITTED_VIOLATION
    },
    Kind {
        id: "end-entity-key-usage-ignored",
        lab: VALIDATION,
        case: "keyUsage keyEncipherment alone on an ECDSA client certificate is ignored",
        verifier: Side::Server,
        rustls: None,
        openssl: Some(26), // X509_V_ERR_INVALID_PURPOSE
    },
    Kind {
        id: "non-ca-trust-anchor",
        lab: VALIDATION,
        case: "a trust anchor with cA=FALSE still issues trusted certificates",
        verifier: Side::Server,
        rustls: None,
        openssl: Some(79), // X509_V_ERR_INVALID_CA
    },
    Kind {
        id: "first-of-two-defects",
        lab: VALIDATION,
        case: "an expired certificate with the wrong purpose is reported as expired",
        verifier: Side::Server,
        rustls: Some(Reason::Expired),
        openssl: Some(26), // X509_V_ERR_INVALID_PURPOSE, before 10 (expired)
    },
    Kind {
        id: "not-after-second",
        lab: VALIDATION,
        case: "both certificates are valid at the exact notAfter second",
        verifier: Side::Client,
        rustls: None,
        openssl: Some(10), // X509_V_ERR_CERT_HAS_EXPIRED
    },
    Kind {
        id: "depth-limit",
        lab: "chain-too-long.yaml",
        case: "the server refuses a client chain with seven intermediates",
        verifier: Side::Server,
        rustls: Some(Reason::ChainTooLong),
        openssl: None,
    },
    Kind {
        id: "crl-this-update-in-future",
        lab: REVOCATION,
        case: "a CRL whose thisUpdate is tomorrow is used",
        verifier: Side::Server,
        rustls: None,
        openssl: Some(11), // X509_V_ERR_CRL_NOT_YET_VALID
    },
    Kind {
        id: "intermediate-anchor-whole-chain",
        lab: REVOCATION,
        case: "whole-chain checking below an intermediate anchor needs only its CRL",
        verifier: Side::Server,
        rustls: None,
        openssl: Some(3), // X509_V_ERR_UNABLE_TO_GET_CRL
    },
    Kind {
        id: "twin-crl-name-order",
        lab: REVOCATION,
        case: "the impostor's CRL is found first and its signature does not verify",
        verifier: Side::Server,
        rustls: Some(Reason::RevocationUnknown),
        openssl: None,
    },
];

/// The longest a handshake between two openssl processes may take before the test says so.
const DEADLINE: Duration = Duration::from_secs(20);

/// Everything one OpenSSL handshake needs, as files and options.
struct Handshake {
    verifier: Side,
    /// The presenting side's certificate, key and the certificates it sends after it.
    leaf: PathBuf,
    key: PathBuf,
    chain: Option<PathBuf>,
    /// The verifier's options: trust, partial chain, name, CRLs, time.
    verify: Vec<String>,
    /// The non-verifying side's own certificate and key (the server's when the server verifies).
    own: Option<(PathBuf, PathBuf)>,
    server_name: Option<String>,
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The handshake of `case` in `lab` as OpenSSL would do it, `kind.verifier` verifying.
fn handshake_for(kind: &Kind, lab: &Lab, pki: &Pki, export_dir: &Path, dir: &Path) -> Handshake {
    let case = lab
        .cases
        .iter()
        .find(|c| c.name == kind.case)
        .unwrap_or_else(|| panic!("{}: no case `{}`", kind.lab, kind.case));
    let server = &lab.servers[case.server];
    let (leaf, chain, trust, revocation) = match kind.verifier {
        Side::Client => (
            server.certificate,
            &server.chain,
            &case.client.trust,
            case.client.revocation.clone(),
        ),
        Side::Server => (
            case.client
                .certificate
                .expect("the client presents a certificate"),
            &case.client.chain,
            &server.trust,
            server.revocation.clone(),
        ),
    };
    let files = |i: usize| {
        let name = &lab.certificates[i].name;
        let sub = export_dir.join(name);
        (
            sub.join(format!("{name}.crt")),
            sub.join(format!("{name}.key")),
        )
    };
    let (leaf_file, key_file) = files(leaf);
    let presented = mtls_lab::tls::presented_chain(pki, leaf, chain);
    let chain_file = (presented.len() > 1).then(|| {
        let text: String = presented[1..]
            .iter()
            .map(|d| pem_block("CERTIFICATE", d))
            .collect();
        write(&dir.join("chain.pem"), &text)
    });
    let mut trust_pem: String = trust.iter().map(|t| pki.get(*t).pem.clone()).collect();
    // The CRLs go into the CAfile, as an OpenSSL server is configured: `s_server -CRL` reads one CRL only.
    if revocation.is_some() {
        for crl in pki.authorities.iter().filter_map(|a| a.crl.as_ref()) {
            trust_pem.push_str(&crl.1);
        }
    }
    let mut verify = vec![
        "-no-CApath".to_string(),
        "-no-CAstore".to_string(),
        "-CAfile".to_string(),
        path_str(&write(&dir.join("trust.pem"), &trust_pem)),
        "-verify_return_error".to_string(),
    ];
    if trust.iter().any(|t| match t {
        CertRef::Authority(a) => lab.authorities[*a].issuer.is_some(),
        CertRef::Certificate(_) => false,
    }) {
        verify.push("-partial_chain".into());
    }
    if let Some(r) = revocation {
        verify.push(
            if r.end_entity_only {
                "-crl_check"
            } else {
                "-crl_check_all"
            }
            .into(),
        );
    }
    let at = case
        .clock(lab)
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    verify.push("-attime".into());
    verify.push(at.unix_timestamp().to_string());
    let server_name = (kind.verifier == Side::Client).then(|| case.client.server_name.clone());
    if let Some(name) = &server_name {
        let ip = name.parse::<std::net::IpAddr>().is_ok();
        verify.push(if ip { "-verify_ip" } else { "-verify_hostname" }.into());
        verify.push(name.clone());
    }
    Handshake {
        verifier: kind.verifier,
        leaf: leaf_file,
        key: key_file,
        chain: chain_file,
        verify,
        own: (kind.verifier == Side::Server).then(|| files(server.certificate)),
        server_name,
    }
}

/// A child process of this test, killed (it alone, by its own handle) and reaped when dropped, so that
/// no openssl process outlives a failed assertion.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Waits for `child` until `deadline`; panics when it runs over (dropping it then kills it).
fn wait(child: &mut Process, deadline: Instant, what: &str) {
    loop {
        if child.0.try_wait().unwrap().is_some() {
            return;
        }
        assert!(
            Instant::now() <= deadline,
            "{what} did not finish in {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `h` between `openssl s_server` and `openssl s_client` on 127.0.0.1; returns the verifying
/// side's verdict (`None`: accepted, else the first `verify error:num=N`) and both outputs.
fn run_handshake(h: &Handshake, dir: &Path) -> (Result<Option<i32>, String>, String) {
    let deadline = Instant::now() + DEADLINE;
    let server_log = dir.join("s_server.out");
    let log = std::fs::File::create(&server_log).unwrap();
    let mut server = Command::new("openssl");
    server.args(["s_server", "-accept", "127.0.0.1:0", "-naccept", "1"]);
    match h.verifier {
        Side::Client => {
            server.arg("-cert").arg(&h.leaf).arg("-key").arg(&h.key);
            if let Some(c) = &h.chain {
                server.arg("-cert_chain").arg(c);
            }
        }
        Side::Server => {
            let (cert, key) = h.own.as_ref().expect("the server's own certificate");
            server.arg("-cert").arg(cert).arg("-key").arg(key);
            // Require a client certificate; 100 is OpenSSL's default verify depth.
            server.args(["-Verify", "100"]).args(&h.verify);
        }
    }
    let mut server = Process(
        server
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("openssl s_server starts"),
    );
    let port = loop {
        let text = std::fs::read_to_string(&server_log).unwrap_or_default();
        if let Some(p) = text
            .split("ACCEPT 127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse::<u16>().ok())
        {
            break p;
        }
        assert!(
            Instant::now() <= deadline && server.0.try_wait().unwrap().is_none(),
            "openssl s_server did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut client = Command::new("openssl");
    client
        .arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"));
    match h.verifier {
        Side::Client => {
            if let Some(name) = h
                .server_name
                .as_deref()
                .filter(|n| n.parse::<std::net::IpAddr>().is_err())
            {
                client.arg("-servername").arg(name);
            }
            client.args(&h.verify);
        }
        Side::Server => {
            client.arg("-cert").arg(&h.leaf).arg("-key").arg(&h.key);
            if let Some(c) = &h.chain {
                client.arg("-cert_chain").arg(c);
            }
        }
    }
    let client_log = dir.join("s_client.out");
    let log = std::fs::File::create(&client_log).unwrap();
    let mut client = Process(
        client
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("openssl s_client starts"),
    );
    wait(&mut client, deadline, "openssl s_client");
    drop(server.0.stdin.take());
    wait(&mut server, deadline, "openssl s_server");
    let server_out = std::fs::read_to_string(&server_log).unwrap_or_default();
    let client_out = std::fs::read_to_string(&client_log).unwrap_or_default();
    let (verifier_out, accepted) = match h.verifier {
        Side::Client => (&client_out, "Verify return code: 0 (ok)"),
        Side::Server => (&server_out, "CIPHER is "),
    };
    let code = verifier_out.lines().find_map(|l| {
        l.split("verify error:num=")
            .nth(1)?
            .split(':')
            .next()?
            .parse::<i32>()
            .ok()
    });
    let both = format!("--- s_server\n{server_out}\n--- s_client\n{client_out}");
    let verdict = match code {
        Some(c) => Ok(Some(c)),
        None if verifier_out.contains(accepted) => Ok(None),
        None => Err("no verify error and no completed handshake".to_string()),
    };
    (verdict, both)
}

#[test]
fn each_known_difference_from_openssl_holds_in_real_handshakes() {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => {}
        _ => panic!("the `openssl` command is required for this test (.ci/run installs it)"),
    }
    let tmp = tempfile::tempdir().unwrap();
    let labs_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labs");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut files: Vec<&str> = KINDS.iter().map(|k| k.lab).collect();
    files.dedup();
    // Each lab once: its PKI, exported, and rustls's verdicts with that very PKI.
    let mut labs = Vec::new();
    for file in files {
        let lab = mtls_lab::lab::load(&labs_dir.join(file), time::OffsetDateTime::now_utc())
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let pki = Arc::new(mtls_lab::pki::build(&lab).unwrap());
        let dir = tmp.path().join(&lab.name);
        export(&lab, &pki, &dir, false).unwrap();
        let result = runtime.block_on(mtls_lab::run::run_lab_with_pki(&lab, pki.clone()));
        assert!(result.error.is_none(), "{file}: {:?}", result.error);
        labs.push((file, lab, pki, dir, result));
    }
    let mut problems = Vec::new();
    // rustls's side of each difference, from the lab run.
    for k in KINDS {
        let (_, _, _, _, result) = labs.iter().find(|l| l.0 == k.lab).unwrap();
        let c = result
            .cases
            .iter()
            .find(|c| c.name == k.case)
            .unwrap_or_else(|| panic!("{}: no case `{}`", k.lab, k.case));
        let o = c.observed.as_ref().expect("the case ran");
        let got = match (o.outcome, o.by, o.reason) {
            (Outcome::Accepted, _, _) => None,
            (Outcome::Rejected, Some(by), Some(r)) if by == k.verifier => Some(r),
            _ => {
                problems.push(format!("{}: rustls: {}", k.id, o.summary()));
                continue;
            }
        };
        if got != k.rustls {
            problems.push(format!(
                "{}: rustls: {got:?}, expected {:?}",
                k.id, k.rustls
            ));
        }
    }
    // OpenSSL's side, in parallel (each handshake is two short-lived processes).
    let handshakes: Vec<(&Kind, Handshake, PathBuf)> = KINDS
        .iter()
        .map(|k| {
            let (_, lab, pki, export_dir, _) = labs.iter().find(|l| l.0 == k.lab).unwrap();
            let dir = tmp.path().join(format!("handshake-{}", k.id));
            std::fs::create_dir_all(&dir).unwrap();
            (k, handshake_for(k, lab, pki, export_dir, &dir), dir)
        })
        .collect();
    let verdicts: Vec<_> = std::thread::scope(|s| {
        let running: Vec<_> = handshakes
            .iter()
            .map(|(k, h, dir)| (k, s.spawn(move || run_handshake(h, dir))))
            .collect();
        running
            .into_iter()
            .map(|(k, t)| (k, t.join().expect("handshake thread")))
            .collect()
    });
    for (k, (verdict, output)) in verdicts {
        match verdict {
            Ok(v) if v == k.openssl => {
                eprintln!("{}: rustls {:?}, OpenSSL {:?}", k.id, k.rustls, v)
            }
            Ok(v) => problems.push(format!(
                "{}: OpenSSL {v:?}, expected {:?}\n{output}",
                k.id, k.openssl
            )),
            Err(why) => problems.push(format!("{}: OpenSSL: {why}\n{output}", k.id)),
        }
    }
    assert!(
        problems.is_empty(),
        "known differences changed:\n{}",
        problems.join("\n")
    );
}
