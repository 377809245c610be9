//! Teaching mode (issue 12): `.p12` files a learner can import safely, curl's pins, one matrix
//! variant exported, and `serve` (a lab's built-in servers left running for curl and browsers).

use std::path::Path;
use std::process::Command;

use crate::common::mtls;

/// One ECDSA CA, a server for localhost and two clients.
const LAB: &str = r#"lab: teach
authorities:
  ca: { subject: { O: Teach, CN: Teach CA }, key: ecdsa-p256 }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server, key: ecdsa-p256 }
  client: { issuer: ca, subject: { O: Teach, CN: labclient }, usage: client, key: ecdsa-p256 }
  other: { issuer: ca, subject: { CN: other }, usage: server, key: ecdsa-p256 }
servers:
  web: { certificate: server, trust: [ca] }
cases:
  - name: valid client
    client: { certificate: client, trust: [ca] }
    expect: accepted
"#;

fn require(program: &str, arg: &str) {
    let ok = Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{program} is required for this test");
}

fn write_lab(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// `openssl pkcs12 -in FILE -passin pass:mtls-lab` with `args`: (success, stdout).
fn openssl_pkcs12(file: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(file)
        .args(["-passin", "pass:mtls-lab"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn the_cas_p12_holds_no_private_key_unless_asked() {
    require("openssl", "version");
    let dir = tempfile::tempdir().unwrap();
    write_lab(dir.path(), "teach.yaml", LAB);
    let o = mtls(dir.path(), &["pki", "teach.yaml", "--out", "pki", "--p12"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let ca = dir.path().join("pki/ca/ca.p12");
    // The certificate is there, and no key at all.
    let (ok, certs) = openssl_pkcs12(&ca, &["-nokeys"]);
    assert!(ok, "{certs}");
    assert_eq!(certs.matches("BEGIN CERTIFICATE").count(), 1, "{certs}");
    assert!(certs.contains("CN = Teach CA"), "{certs}");
    let (ok, keys) = openssl_pkcs12(&ca, &["-nocerts", "-nodes"]);
    assert!(ok, "{keys}");
    assert!(!keys.contains("PRIVATE KEY"), "{keys}");
    // The client's .p12 still holds its key.
    let (ok, keys) = openssl_pkcs12(
        &dir.path().join("pki/client/client.p12"),
        &["-nocerts", "-nodes"],
    );
    assert!(ok, "{keys}");
    assert_eq!(keys.matches("BEGIN PRIVATE KEY").count(), 1, "{keys}");

    // --p12-ca-key puts the CA's key in (and implies --p12).
    let o = mtls(
        dir.path(),
        &["pki", "teach.yaml", "--out", "with-key", "--p12-ca-key"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (ok, keys) = openssl_pkcs12(
        &dir.path().join("with-key/ca/ca.p12"),
        &["-nocerts", "-nodes"],
    );
    assert!(ok, "{keys}");
    assert_eq!(keys.matches("BEGIN PRIVATE KEY").count(), 1, "{keys}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dir.path().join("with-key/ca/ca.p12"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}
