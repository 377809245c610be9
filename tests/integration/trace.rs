//! The readable trace (`run --trace`, `-v`): per case the handshake as a learner reads it — ClientHello
//! (SNI, versions, ALPN), ServerHello, CertificateRequest's CA names, each chain by subject and issuer,
//! who sent which alert — and a program's last output lines; subjects as text, no escape code under
//! `--color never` (also in the `-vv` log).

use crate::common::{golden, mtls, root};

#[test]
fn the_trace_of_a_small_lab_is_golden() {
    let dir = root().join("tests/golden/html");
    let out = mtls(
        &dir,
        &[
            "run",
            "expired-intermediate.yaml",
            "--trace",
            "--color",
            "never",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    golden(&root().join("tests/golden/run/trace.stdout"), &stdout);
    // The failing case: the server's chain, then the client's alert; the client sent no certificate.
    let failed = stdout
        .split("FAIL  expired-intermediate › a wrong expectation fails")
        .nth(1)
        .unwrap();
    assert!(failed.contains("server → client  Certificate: [0] `server`: CN=localhost (issued by O=Golden Lab, CN=Golden Issuing CA)"), "{failed}");
    assert!(
        failed.contains("client → server  Alert certificate_expired (the server received it)"),
        "{failed}"
    );
    assert!(
        !failed.contains("client → server  Certificate:"),
        "{failed}"
    );
}

#[test]
fn minus_v_shows_the_trace_and_color_never_leaves_no_escape_code() {
    for v in ["-v", "-vv"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
            .current_dir(root())
            .args(["run", "labs/seed-mtls.yaml", v, "--color", "never"])
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.contains("        server → client  CertificateRequest: CA names C=US, ST=State, L=City, O=MyLabCA, CN=Lab Certificate Authority"),
            "{v}: {stdout}"
        );
        assert!(stdout.contains("        client → server  Certificate: none (empty)\n        server → client  Alert certificate_required (the client received it)"), "{v}: {stdout}");
        assert!(
            !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
            "{v}: an escape code"
        );
        // Distinguished names as text, never as rustls's hex.
        assert!(!stderr.contains("DistinguishedName(") && !stdout.contains("DistinguishedName("));
    }
}

#[test]
fn a_programs_trace_says_what_is_its_own_and_ends_with_its_output() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED a_programs_trace_says_what_is_its_own_and_ends_with_its_output: curl is not installed");
        return;
    }
    let out = mtls(
        &root(),
        &[
            "run",
            "labs/peers/curl-and-openssl.yaml",
            "--filter",
            "curl without the lab CA",
            "--trace",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("client → server  ClientHello: the client program's own"),
        "{stdout}"
    );
    assert!(
        stdout.contains("client → server  Alert unknown_ca (as the server received it)"),
        "{stdout}"
    );
    assert!(stdout.contains("        program output (last "), "{stdout}");
    assert!(
        stdout.contains("          | curl: (60) SSL certificate problem"),
        "{stdout}"
    );
}

#[test]
fn under_tls_1_2_the_certificate_request_follows_the_servers_certificate() {
    let out = mtls(
        &root(),
        &[
            "run",
            "labs/expired-client.yaml",
            "--filter",
            "over TLS 1.2",
            "--trace",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("server → client  ServerHello: TLSv1.2 (the one version both sides allow)"),
        "{stdout}"
    );
    let cert = stdout.find("server → client  Certificate:").expect(&stdout);
    let request = stdout
        .find("server → client  CertificateRequest:")
        .expect(&stdout);
    assert!(cert < request, "{stdout}");
}
