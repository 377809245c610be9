//! Batteries against other peers under test: `openssl s_server` (started by the runner, and as a
//! `target:` the test starts itself, whose CA key the lab does not have), curl as a client command, and
//! nginx when it is installed — the exact matrix of each (refused for the right reason, for another,
//! accepted wrongly, skipped) and the side, reason (or alert) and identity of every derived case.
//!
//! They need openssl and curl (`.ci/run` installs them); nginx is used only when `which nginx` finds it.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::{case, mtls, root};
use mtls_lab::lab::battery::{self, Failure};
use mtls_lab::reason::Reason;
use mtls_lab::report::battery::{matrix, Verdict};
use mtls_lab::run::{LabResult, Status};
use mtls_lab::spec::{Outcome, Side};

fn run_path(path: &Path) -> LabResult {
    let lab = mtls_lab::lab::load(path, time::OffsetDateTime::now_utc())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(mtls_lab::run::run_lab(&lab))
}

/// The one battery of `r`: its peer, and each row's failure and verdict in order.
fn rows(r: &LabResult) -> (String, Vec<(Failure, Verdict)>) {
    let m = matrix(std::slice::from_ref(r));
    assert_eq!(m.len(), 1, "{m:#?}");
    let rows = m[0].rows.iter().map(|r| (r.failure, r.verdict)).collect();
    (m[0].peer.clone(), rows)
}

/// Asserts the derived case of `of` for `f` was refused by `by` for `reason` (`None`: no reason read,
/// then with `alert`), and passed or failed as `status` says.
fn refused(r: &LabResult, of: &str, f: Failure, by: Side, reason: Option<Reason>, alert: &str) {
    let name = battery::case_name(of, f);
    let c = case(r, &name);
    let o = c
        .observed
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: not run: {:?}", c.messages));
    assert_eq!(
        (o.outcome, o.by, o.reason, o.alert.as_deref()),
        (Outcome::Rejected, Some(by), reason, Some(alert)),
        "{name}: {o:#?}"
    );
}

#[test]
fn openssl_s_server_refuses_each_derived_client_and_its_matrix_is_exact() {
    use Failure as F;
    use Verdict as V;
    let r = run_path(&root().join("tests/fixtures/battery/openssl-server.yaml"));
    let of = "openssl s_server accepts the client";
    common::assert_accepted(&r, of);
    let (peer, verdicts) = rows(&r);
    assert_eq!(peer, "server s-server (command)");
    assert_eq!(
        verdicts,
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
            (F::ClientIntermediateLeftOut, V::RefusedRightReason),
            (F::ClientKeyMismatch, V::RefusedRightReason),
        ]
    );
    // s_server's words (`verify error:num=…`) and alerts, in TLS 1.3 seen by the client on its first read.
    let server = Side::Server;
    for (f, reason, alert) in [
        (
            F::NoClientCertificate,
            Reason::CertificateRequired,
            "certificate_required",
        ),
        (F::ClientUnknownCa, Reason::UnknownIssuer, "unknown_ca"),
        // OpenSSL looks the issuer up by name and key identifier: the rogue root is not a candidate.
        (F::ClientRogueCa, Reason::UnknownIssuer, "unknown_ca"),
        (F::ClientSelfSigned, Reason::UnknownIssuer, "unknown_ca"),
        (F::ClientExpired, Reason::Expired, "certificate_expired"),
        (F::ClientNotYetValid, Reason::NotYetValid, "bad_certificate"),
        (
            F::ClientServerAuthOnly,
            Reason::WrongPurpose,
            "unsupported_certificate",
        ),
        (
            F::ClientIntermediateLeftOut,
            Reason::UnknownIssuer,
            "unknown_ca",
        ),
    ] {
        refused(&r, of, f, server, Some(reason), alert);
    }
    // s_server says nothing of a bad CertificateVerify: the alert it sends is the evidence.
    refused(&r, of, F::ClientKeyMismatch, server, None, "decrypt_error");
    assert_eq!((r.count(Status::Passed), r.count(Status::Skipped)), (10, 2));
}

#[test]
fn curl_refuses_each_derived_server_and_its_matrix_is_exact() {
    use Failure as F;
    use Verdict as V;
    let r = run_path(&root().join("tests/fixtures/battery/curl-client.yaml"));
    let of = "curl goes through";
    common::assert_accepted(&r, of);
    let saw = case(&r, of).observed.as_ref().unwrap().server_saw.clone();
    assert_eq!(
        saw.and_then(|i| i.common_name).as_deref(),
        Some("battery-client")
    );
    let (peer, verdicts) = rows(&r);
    assert_eq!(peer, "client (command)");
    assert_eq!(
        verdicts,
        vec![
            (F::ServerExpired, V::RefusedRightReason),
            (F::ServerNotYetValid, V::RefusedRightReason),
            (F::ServerOtherName, V::RefusedRightReason),
            (F::ServerUnknownCa, V::RefusedRightReason),
            (F::ServerRogueCa, V::RefusedRightReason),
            (F::ServerClientAuthOnly, V::RefusedRightReason),
            (F::ServerRevoked, V::Skipped),
            (F::ServerIntermediateLeftOut, V::RefusedRightReason),
            (F::ServerSelfSigned, V::RefusedRightReason),
        ]
    );
    // curl's words (`curl: (60) SSL certificate problem: …`); the built-in server received its alert.
    for (f, reason) in [
        (F::ServerExpired, Reason::Expired),
        (F::ServerNotYetValid, Reason::NotYetValid),
        (F::ServerOtherName, Reason::NameMismatch),
        (F::ServerUnknownCa, Reason::UnknownIssuer),
        (F::ServerRogueCa, Reason::UnknownIssuer),
        (F::ServerClientAuthOnly, Reason::WrongPurpose),
        (F::ServerIntermediateLeftOut, Reason::UnknownIssuer),
        (F::ServerSelfSigned, Reason::UnknownIssuer),
    ] {
        common::assert_rejected(&r, &battery::case_name(of, f), Side::Client, reason);
        let c = case(&r, &battery::case_name(of, f));
        assert_eq!(c.observed.as_ref().unwrap().exit_status, Some(60), "{f:?}");
    }
}

/// A process the test started, killed when dropped (also when the test panics).
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Waits until something accepts connections on `addr` (at most 10 s).
fn wait_listening(addr: SocketAddr) {
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < until, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The PKI of `tests/fixtures/battery/openssl-server.yaml` (ECDSA, an intermediate), exported to `dir`.
fn export_pki(dir: &Path) {
    let out = mtls(
        &root(),
        &[
            "pki",
            "tests/fixtures/battery/openssl-server.yaml",
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_target_without_its_ca_key_meets_only_the_failures_needing_no_new_certificate() {
    use Failure as F;
    use Verdict as V;
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    export_pki(&pki);
    let port = free_port();
    let file = |n: &str, ext: &str| pki.join(n).join(format!("{n}.{ext}"));
    // A deployed server, started outside the runner: it requires a client certificate from `ca`.
    let server = Started(
        Command::new("openssl")
            .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(file("server", "crt"))
            .arg("-cert_chain")
            .arg(pki.join("server/server.chain.pem"))
            .arg("-key")
            .arg(file("server", "key"))
            .arg("-CAfile")
            .arg(file("ca", "crt"))
            .args(["-Verify", "1", "-verify_return_error", "-www", "-quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    wait_listening(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    // Its CA and intermediate without their keys; the client's certificate and key.
    let yaml = format!(
        r#"
lab: battery-target
authorities:
  ca: {{ from: {{ cert: pki/ca/ca.crt }} }}
  inter: {{ issuer: ca, from: {{ cert: pki/inter/inter.crt }} }}
certificates:
  server: {{ issuer: inter, from: {{ cert: pki/server/server.crt }} }}
  client: {{ issuer: inter, from: {{ cert: pki/client/client.crt, key: pki/client/client.key }} }}
servers:
  deployed: {{ target: "127.0.0.1:{port}", certificate: server, trust: [ca] }}
cases:
  - name: the deployed server accepts the client
    client: {{ certificate: client, trust: [ca], server_name: localhost }}
    expect: {{ outcome: accepted, client_saw: {{ CN: localhost }} }}
    battery: standard
"#
    );
    let lab = dir.path().join("lab.yaml");
    std::fs::write(&lab, yaml).unwrap();
    let r = run_path(&lab);
    drop(server);
    let of = "the deployed server accepts the client";
    common::assert_accepted(&r, of);
    let (peer, verdicts) = rows(&r);
    assert_eq!(peer, "server deployed (target)");
    assert_eq!(
        verdicts,
        vec![
            (F::NoClientCertificate, V::RefusedRightReason),
            (F::ClientUnknownCa, V::RefusedRightReason),
            // Held to its side alone: rustls refuses a same-name rogue CA with `decrypt_error`, OpenSSL
            // (here) with `unknown_ca`; both are right.
            (F::ClientRogueCa, V::RefusedRightReason),
            (F::ClientSelfSigned, V::RefusedRightReason),
            (F::ClientExpired, V::Skipped),
            (F::ClientNotYetValid, V::Skipped),
            (F::ClientServerAuthOnly, V::Skipped),
            (F::ClientCaCertificate, V::Skipped),
            (F::ClientRevoked, V::Skipped),
            (F::ClientIntermediateLeftOut, V::RefusedRightReason),
            (F::ClientKeyMismatch, V::RefusedRightReason),
        ]
    );
    let server = Side::Server;
    for (f, reason, alert) in [
        (
            F::NoClientCertificate,
            Some(Reason::CertificateRequired),
            "certificate_required",
        ),
        (
            F::ClientUnknownCa,
            Some(Reason::UnknownIssuer),
            "unknown_ca",
        ),
        (F::ClientRogueCa, Some(Reason::UnknownIssuer), "unknown_ca"),
        (
            F::ClientSelfSigned,
            Some(Reason::UnknownIssuer),
            "unknown_ca",
        ),
        (
            F::ClientIntermediateLeftOut,
            Some(Reason::UnknownIssuer),
            "unknown_ca",
        ),
        (F::ClientKeyMismatch, None, "decrypt_error"),
    ] {
        refused(&r, of, f, server, reason, alert);
    }
    let no_key = "skipped: the client certificate's CA key is not available, so no new certificate can be issued from it";
    for f in [
        F::ClientExpired,
        F::ClientNotYetValid,
        F::ClientServerAuthOnly,
        F::ClientRevoked,
    ] {
        let c = case(&r, &battery::case_name(of, f));
        assert_eq!(
            (c.status, c.messages[0].as_str()),
            (Status::Skipped, no_key)
        );
    }
    // A target's TLS library is unknown: skipped whether or not the CA key is there.
    let c = case(&r, &battery::case_name(of, F::ClientCaCertificate));
    assert_eq!(
        (c.status, c.messages[0].as_str()),
        (Status::Skipped, UNKNOWN_IMPLEMENTATION)
    );
    let rogue = case(&r, &battery::case_name(of, F::ClientRogueCa));
    assert_eq!(rogue.status, Status::Passed);
}

#[test]
fn nginx_completes_the_handshake_with_bad_client_certificates_and_answers_400() {
    let Ok(which) = Command::new("which").arg("nginx").output() else {
        println!("skipped: `which` could not run, so nginx cannot be looked for");
        return;
    };
    if !which.status.success() {
        println!("skipped: nginx is not installed (`which nginx` finds nothing)");
        return;
    }
    use Failure as F;
    use Verdict as V;
    let r = run_path(&root().join("tests/fixtures/battery/nginx-server.yaml"));
    let of = "nginx accepts the client";
    common::assert_accepted(&r, of);
    let (peer, verdicts) = rows(&r);
    assert_eq!(peer, "server nginx (command)");
    // `ssl_verify_client on` lets the TLS handshake complete whatever the client presents, and answers
    // the request with 400 ("No required SSL certificate was sent", "The SSL certificate error"):
    // in TLS terms nginx accepts every bad client certificate. Only OpenSSL's own check of the
    // CertificateVerify signature ends the handshake.
    assert_eq!(
        verdicts,
        vec![
            (F::NoClientCertificate, V::AcceptedWrongly),
            (F::ClientUnknownCa, V::AcceptedWrongly),
            (F::ClientRogueCa, V::AcceptedWrongly),
            (F::ClientSelfSigned, V::AcceptedWrongly),
            (F::ClientExpired, V::AcceptedWrongly),
            (F::ClientNotYetValid, V::AcceptedWrongly),
            (F::ClientServerAuthOnly, V::AcceptedWrongly),
            // Which TLS library nginx verifies with is not known to the runner: skipped.
            (F::ClientCaCertificate, V::Skipped),
            (F::ClientRevoked, V::Skipped),
            (F::ClientIntermediateLeftOut, V::AcceptedWrongly),
            (F::ClientKeyMismatch, V::RefusedRightReason),
        ]
    );
    for (f, status) in [
        (F::NoClientCertificate, 400),
        (F::ClientUnknownCa, 400),
        (F::ClientRogueCa, 400),
        (F::ClientSelfSigned, 400),
        (F::ClientExpired, 400),
        (F::ClientNotYetValid, 400),
        (F::ClientServerAuthOnly, 400),
        (F::ClientIntermediateLeftOut, 400),
    ] {
        let c = case(&r, &battery::case_name(of, f));
        let o = c.observed.as_ref().unwrap();
        assert_eq!(
            (o.outcome, o.http_status, c.status),
            (Outcome::Accepted, Some(status), Status::Failed),
            "{f:?}"
        );
    }
    refused(
        &r,
        of,
        F::ClientKeyMismatch,
        Side::Server,
        None,
        "decrypt_error",
    );
    let c = case(&r, &battery::case_name(of, F::ClientCaCertificate));
    assert_eq!(
        (c.status, c.messages[0].as_str()),
        (Status::Skipped, UNKNOWN_IMPLEMENTATION)
    );
}

/// Why a CA certificate as the client's is skipped against a server of no known program.
const UNKNOWN_IMPLEMENTATION: &str = "skipped: whether a CA certificate is refused as a client certificate depends on the TLS library: rustls refuses it, OpenSSL accepts it by design; the implementation of this server is unknown";
