//! Exported keys are usable by the programs the README names: every key type (ECDSA P-256 and P-384,
//! RSA, Ed25519) as a PEM file, a `{key:NAME}` placeholder file and a `.p12`, read by `openssl pkey`,
//! `openssl pkcs12`, Python's `ssl` (`load_cert_chain`) and curl, the last two in real handshakes
//! against the built-in server. Ed25519 keys are PKCS#8 v1, which OpenSSL 3.0 reads (v2 it does not).
//!
//! These tests need python3, curl and openssl (`.ci/run` installs them); they fail when one is missing.

use std::process::Command;

use crate::common::{self, mtls};

/// One client certificate per key type, under one ECDSA CA.
const KEY_TYPES: &[(&str, &str)] = &[
    ("p256", "ecdsa-p256"),
    ("p384", "ecdsa-p384"),
    ("rsa", "rsa2048"),
    ("ed25519", "ed25519"),
];

/// Python's `ssl` as a TLS client: trusts argv[1], presents argv[2]/argv[3] (`load_cert_chain`), sends a
/// request to 127.0.0.1:argv[4] and prints the answer (the identity the built-in server saw).
const PYTHON_CLIENT: &str = "import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
with socket.create_connection(('127.0.0.1', int(sys.argv[4])), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname='localhost') as s:
        s.sendall(b'GET / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n')
        print(s.recv(65536).decode(errors='replace'))
";

fn pki_yaml() -> String {
    let mut out = String::from(
        "authorities:\n  ca: { subject: { O: Export Lab, CN: Export Lab CA } }\ncertificates:\n  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }\n",
    );
    for (name, key) in KEY_TYPES {
        out.push_str(&format!(
            "  {name}: {{ issuer: ca, subject: {{ CN: {name}-client }}, usage: client, key: {key} }}\n"
        ));
    }
    out
}

fn require(tool: &str, arg: &str) {
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{tool}` is required for these tests (.ci/run installs it)"
    );
}

/// Runs `cmd`, asserting success; returns its standard output.
fn succeeds(cmd: &mut Command) -> String {
    let o = cmd.output().expect("the program runs");
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn exported_keys_of_every_type_load_in_openssl_python_and_curl() {
    require("openssl", "version");
    require("python3", "--version");
    let dir = tempfile::tempdir().unwrap();
    let lab = format!(
        "lab: exports\n{}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: c\n    client: {{ certificate: p256, trust: [ca] }}\n    expect: accepted\n",
        pki_yaml()
    );
    std::fs::write(dir.path().join("exports.yaml"), lab).unwrap();
    let o = mtls(
        dir.path(),
        &[
            "pki",
            "exports.yaml",
            "--out",
            "pki",
            "--p12-password",
            "pw",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let pki = dir.path().join("pki");
    for (name, _) in KEY_TYPES.iter().chain([&("ca", "")]) {
        let key = pki.join(name).join(format!("{name}.key"));
        let crt = pki.join(name).join(format!("{name}.crt"));
        succeeds(
            Command::new("openssl")
                .args(["pkey", "-noout", "-in"])
                .arg(&key),
        );
        // The key is the certificate's: the same public key.
        let from_key = succeeds(
            Command::new("openssl")
                .args(["pkey", "-pubout", "-in"])
                .arg(&key),
        );
        let from_crt = succeeds(
            Command::new("openssl")
                .args(["x509", "-noout", "-pubkey", "-in"])
                .arg(&crt),
        );
        assert_eq!(from_key, from_crt, "{name}: key and certificate differ");
        let v = Command::new("openssl")
            .args(["asn1parse", "-in"])
            .arg(&key)
            .output()
            .unwrap();
        let asn1 = String::from_utf8_lossy(&v.stdout);
        // PKCS#8 v1: version 0 and no [1] publicKey (RFC 5208); v2 is version 1 (RFC 5958).
        assert!(
            asn1.lines().nth(1).is_some_and(|l| l.ends_with(":00")),
            "{name}: not PKCS#8 v1:\n{asn1}"
        );
        if *name != "ca" {
            let p12 = pki.join(name).join(format!("{name}.p12"));
            let text = succeeds(
                Command::new("openssl")
                    .args(["pkcs12", "-nodes", "-nocerts", "-passin", "pass:pw", "-in"])
                    .arg(&p12),
            );
            let p12_key = dir.path().join(format!("{name}.from-p12.key"));
            std::fs::write(&p12_key, text).unwrap();
            let from_p12 = succeeds(
                Command::new("openssl")
                    .args(["pkey", "-pubout", "-in"])
                    .arg(&p12_key),
            );
            assert_eq!(
                from_p12, from_crt,
                "{name}: the .p12 key is not the certificate's"
            );
        }
        succeeds(
            Command::new("python3")
                .arg("-c")
                .arg("import ssl, sys\nssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(sys.argv[1], sys.argv[2])")
                .arg(&crt)
                .arg(&key),
        );
    }
}

#[test]
fn curl_and_python_present_every_exported_key_type_in_a_real_handshake() {
    require("curl", "--version");
    require("python3", "--version");
    let mut cases = String::new();
    for (name, _) in KEY_TYPES {
        let expect = format!(
            "expect: {{ outcome: accepted, server_saw: {{ CN: {name}-client }}, exit: 0, output: {name}-client }}"
        );
        cases.push_str(&format!(
            "  - name: curl {name} key file\n    client: {{ command: [curl, --silent, --show-error, --cacert, \"{{cert:ca}}\", --cert, \"{{cert:{name}}}\", --key, \"{{key:{name}}}\", \"{{url}}\"] }}\n    {expect}\n"
        ));
        cases.push_str(&format!(
            "  - name: curl {name} p12\n    client: {{ command: [curl, --silent, --show-error, --cacert, \"{{cert:ca}}\", --cert-type, P12, --cert, \"{{p12:{name}}}:mtls-lab\", \"{{url}}\"] }}\n    {expect}\n"
        ));
        cases.push_str(&format!(
            "  - name: python {name} key file\n    client: {{ command: [python3, -c, {script:?}, \"{{cert:ca}}\", \"{{cert:{name}}}\", \"{{key:{name}}}\", \"{{port}}\"] }}\n    {expect}\n",
            script = PYTHON_CLIENT
        ));
    }
    let yaml = format!(
        "lab: exports\n{}servers:\n  web: {{ certificate: server, trust: [ca], client_auth: required }}\ncases:\n{cases}",
        pki_yaml()
    );
    let r = common::run(&yaml);
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.cases.len(), 3 * KEY_TYPES.len());
    for c in &r.cases {
        common::assert_accepted(&r, &c.name);
    }
}
