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

#[test]
fn curl_pins_the_servers_key_with_the_pin_placeholder_and_pin_takes_curls_form() {
    require("curl", "--version");
    let r = crate::common::run(&format!(
        "{}  - name: curl pins the server's key
    client:
      command: [curl, --silent, --show-error, --cacert, \"{{cert:ca}}\", --cert, \"{{cert:client}}\",
                --key, \"{{key:client}}\", --pinnedpubkey, \"{{pin:server}}\", \"{{url}}\"]
    expect: {{ outcome: accepted, server_saw: {{ CN: labclient }}, exit: 0, output: labclient }}
  - name: curl pins another key
    client:
      command: [curl, --silent, --show-error, --cacert, \"{{cert:ca}}\", --cert, \"{{cert:client}}\",
                --key, \"{{key:client}}\", --pinnedpubkey, \"{{pin:other}}\", \"{{url}}\"]
    expect: {{ outcome: rejected, by: client, reason: pin_mismatch }}
  - name: curl's pin form in a lab
    client: {{ certificate: client, trust: [ca], pin: [\"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"] }}
    expect: {{ outcome: rejected, by: client, reason: pin_mismatch }}
",
        LAB
    ));
    crate::common::assert_accepted(&r, "curl pins the server's key");
    crate::common::assert_rejected(
        &r,
        "curl pins another key",
        mtls_lab::spec::Side::Client,
        mtls_lab::reason::Reason::PinMismatch,
    );
    crate::common::assert_rejected(
        &r,
        "curl's pin form in a lab",
        mtls_lab::spec::Side::Client,
        mtls_lab::reason::Reason::PinMismatch,
    );
    // A pin of the wrong length in curl's form is still refused at load time, as a pin.
    let bad = mtls_lab::lab::parse(
        Path::new("inline.yaml"),
        &LAB.replace(
            "trust: [ca] }\n    expect",
            "trust: [ca], pin: [\"sha256//AAAA\"] }\n    expect",
        ),
        time::OffsetDateTime::now_utc(),
    )
    .expect_err("a 3-byte pin is refused")
    .render();
    assert!(bad.contains("a SHA-256 pin is 32 bytes"), "{bad}");
}

#[test]
fn the_pin_placeholder_is_the_spki_sha256_openssl_computes() {
    require("openssl", "version");
    let dir = tempfile::tempdir().unwrap();
    write_lab(dir.path(), "teach.yaml", LAB);
    let o = mtls(dir.path(), &["pki", "teach.yaml", "--out", "pki"]);
    assert_eq!(o.status.code(), Some(0));
    let crt = dir.path().join("pki/server/server.crt");
    // The recipe from curl's documentation.
    let o = Command::new("sh")
        .arg("-c")
        .arg("openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl enc -base64")
        .arg("sh")
        .arg(&crt)
        .output()
        .unwrap();
    let expected = format!("sha256//{}", String::from_utf8_lossy(&o.stdout).trim());
    assert_eq!(
        mtls_lab::pki::export::pin_of_file(&crt).as_deref(),
        Some(expected.as_str())
    );
    let template = mtls_lab::lab::command::parse_template("{pin:server}").unwrap();
    let vars = mtls_lab::peer::Vars {
        pki: &dir.path().join("pki"),
        lab_dir: dir.path(),
        server: None,
    };
    assert_eq!(mtls_lab::peer::expand(&template, &vars), expected);
}

#[test]
fn pki_exports_the_one_matrix_variant_named_by_variant() {
    require("openssl", "version");
    let dir = tempfile::tempdir().unwrap();
    write_lab(
        dir.path(),
        "m.yaml",
        r#"lab: m
matrix:
  key: [ecdsa-p256, ecdsa-p384]
  tls: ["1.2", "1.3"]
authorities:
  ca: { subject: { CN: M CA }, key: ecdsa-p256 }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: server, key: "${key}" }
servers:
  web: { certificate: server, trust: [ca], tls: ["${tls}"] }
cases:
  - name: c
    client: { trust: [ca] }
    expect: { outcome: rejected, by: server, reason: certificate_required }
"#,
    );
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let all = "\n  --variant key=ecdsa-p256,tls=1.2\n  --variant key=ecdsa-p256,tls=1.3\n  --variant key=ecdsa-p384,tls=1.2\n  --variant key=ecdsa-p384,tls=1.3\n";
    // None chosen: the list to choose from.
    let o = mtls(dir.path(), &["pki", "m.yaml", "--out", "a"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!("error: m.yaml: this lab declares a matrix of 4 variants; choose one with --variant:{all}")
    );
    // One that matches none, and one that matches two.
    let o = mtls(
        dir.path(),
        &["pki", "m.yaml", "--out", "a", "--variant", "key=rsa2048"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!("error: m.yaml: --variant key=rsa2048 matches none of the 4 variants:{all}")
    );
    let o = mtls(
        dir.path(),
        &["pki", "m.yaml", "--out", "a", "--variant", "key=ecdsa-p384"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: m.yaml: --variant key=ecdsa-p384 matches 2 variants; name one:\n  --variant key=ecdsa-p384,tls=1.2\n  --variant key=ecdsa-p384,tls=1.3\n"
    );
    assert!(
        !dir.path().join("a").exists(),
        "nothing is written on an error"
    );
    // Exactly one: exported, with that variant's key.
    let o = mtls(
        dir.path(),
        &[
            "pki",
            "m.yaml",
            "--out",
            "a",
            "--variant",
            "tls=1.3,key=ecdsa-p384",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(dir.path().join("a/server/server.crt"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("NIST CURVE: P-384"), "{text}");
    // A lab without a matrix takes no --variant.
    write_lab(dir.path(), "teach.yaml", LAB);
    let o = mtls(
        dir.path(),
        &["pki", "teach.yaml", "--out", "b", "--variant", "key=x"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: teach.yaml: --variant: this lab declares no matrix\n"
    );
}

/// Reads `serve`'s stdout lines on a thread, so a test can wait for each with a timeout.
fn line_reader(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_line(lines: &std::sync::mpsc::Receiver<String>) -> String {
    lines
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("a line from serve within 20 s")
}

#[test]
fn serve_keeps_the_lab_running_and_prints_each_connections_verdict() {
    require("curl", "--version");
    let dir = tempfile::tempdir().unwrap();
    write_lab(dir.path(), "teach.yaml", LAB);
    let pki = dir.path().join("pki");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir.path())
        .args(["serve", "teach.yaml", "--out", "pki"])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    assert_eq!(
        next_line(&lines),
        "lab `teach`: its PKI is in pki (.p12 password mtls-lab)"
    );
    let web = next_line(&lines);
    let url = web
        .strip_prefix("web: ")
        .unwrap_or_else(|| panic!("{web}"))
        .to_string();
    assert!(
        url.starts_with("https://localhost:") && url.ends_with('/'),
        "{url}"
    );
    let port: u16 = url["https://localhost:".len()..url.len() - 1]
        .parse()
        .unwrap();
    assert_eq!(next_line(&lines), "one line per connection; Ctrl-C stops");
    // The exported PKI: keys 0600, the CA's .p12 without its key.
    use std::os::unix::fs::PermissionsExt;
    for key in [
        "ca/ca.key",
        "client/client.key",
        "client/client.p12",
        "ca/ca.p12",
    ] {
        let mode = std::fs::metadata(pki.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "20", "--cacert"])
            .arg(pki.join("ca/ca.crt"))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    // With the client certificate: accepted, and the page says who the client was seen as.
    let cert = pki.join("client/client.crt").display().to_string();
    let key = pki.join("client/client.key").display().to_string();
    let o = curl(&["--cert", &cert, "--key", &key]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let body = String::from_utf8_lossy(&o.stdout);
    assert!(body.contains("\"CN\":\"labclient\""), "{body}");
    let line = next_line(&lines);
    assert!(
        line.starts_with("web 127.0.0.1:")
            && line.ends_with(": accepted; client CN=labclient, O=Teach (issuer O=Teach, CN=Teach CA); TLSv1.3; \"GET / HTTP/1.1\""),
        "{line}"
    );
    // Without: the server refuses, with run's reason code.
    let o = curl(&[]);
    assert_eq!(
        o.status.code(),
        Some(56),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let line = next_line(&lines);
    assert!(
        line.ends_with(": rejected by server: certificate_required (server sent alert certificate_required); client none; -; no request"),
        "{line}"
    );
    // run's explanation under it: what happened and the usual fix.
    let why = next_line(&lines);
    assert!(
        why.starts_with("      why: server `web` requires a client certificate, and the client sent none. Under TLS 1.3 the client completes its side of the handshake before the server checks its certificate"),
        "{why}"
    );
    let fix = next_line(&lines);
    assert!(
        fix.starts_with("      fix: Present a certificate issued by an authority the server trusts: with curl, `--cert client.crt --key client.key`"),
        "{fix}"
    );
    // A client that does not trust the lab CA: refused by the client, with the usual fix.
    let o = Command::new("curl")
        .args(["--silent", "--max-time", "20"])
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(60));
    let line = next_line(&lines);
    assert!(
        line.ends_with(": rejected by client: unknown_issuer (server received alert unknown_ca); client unknown (the client refused the server first); -; no request"),
        "{line}"
    );
    let fix = next_line(&lines);
    assert!(
        fix.starts_with("      fix: Make the client trust `ca`, the root that issued the server certificate `server` (on the client: curl `--cacert ca.crt`"),
        "{fix}"
    );
    // Not TLS at all, and a connection that sends nothing and closes: logged, and serve goes on.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    let line = next_line(&lines);
    assert!(
        line.contains(": not a TLS handshake (rejected by server: other): ")
            && line.ends_with("; client none; -; no request"),
        "{line}"
    );
    drop(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    let line = next_line(&lines);
    assert!(line.contains(": no TLS handshake: "), "{line}");
    // The client's .p12 works as well.
    let p12 = format!("{}:mtls-lab", pki.join("client/client.p12").display());
    let o = curl(&["--cert-type", "P12", "--cert", &p12]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(next_line(&lines).contains(": accepted; client CN=labclient"));

    // SIGTERM: exit 130, nothing left listening.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(err, "stopped\n");
}

#[test]
fn serve_json_streams_one_object_per_connection() {
    require("curl", "--version");
    let dir = tempfile::tempdir().unwrap();
    write_lab(dir.path(), "teach.yaml", LAB);
    let pki = dir.path().join("pki");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir.path())
        .args([
            "serve",
            "teach.yaml",
            "--out",
            "pki",
            "--json",
            "--server",
            "web",
        ])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    // The servers' URLs go to stderr under --json.
    let errors = line_reader_err(child.stderr.take().unwrap());
    assert_eq!(
        next_line(&errors),
        "lab `teach`: its PKI is in pki (.p12 password mtls-lab)"
    );
    let url = next_line(&errors)["web: ".len()..].to_string();
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["--silent", "--max-time", "20", "--cacert"])
            .arg(pki.join("ca/ca.crt"))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let cert = pki.join("client/client.crt").display().to_string();
    let key = pki.join("client/client.key").display().to_string();
    assert_eq!(
        curl(&["--cert", &cert, "--key", &key]).status.code(),
        Some(0)
    );
    let v: serde_json::Value = serde_json::from_str(&next_line(&lines)).unwrap();
    assert_eq!(
        (
            &v["server"],
            &v["outcome"],
            &v["client"]["CN"],
            &v["version"],
            &v["request"]
        ),
        (
            &"web".into(),
            &"accepted".into(),
            &"labclient".into(),
            &"TLSv1.3".into(),
            &"GET / HTTP/1.1".into()
        ),
        "{v}"
    );
    assert_eq!(curl(&[]).status.code(), Some(56));
    let v: serde_json::Value = serde_json::from_str(&next_line(&lines)).unwrap();
    assert_eq!(
        (&v["outcome"], &v["by"], &v["reason"], &v["client"]),
        (
            &"rejected".into(),
            &"server".into(),
            &"certificate_required".into(),
            &serde_json::Value::Null
        ),
        "{v}"
    );
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

fn line_reader_err(stderr: std::process::ChildStderr) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn serve_refuses_an_unknown_server_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    write_lab(dir.path(), "teach.yaml", LAB);
    let o = mtls(
        dir.path(),
        &["serve", "teach.yaml", "--server", "nope", "--out", "p"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: the lab has no server named `nope`; its servers: `web`\n"
    );
}

#[test]
fn show_prints_a_certificate_and_its_chain_as_openssl_reads_them() {
    require("openssl", "version");
    let dir = tempfile::tempdir().unwrap();
    write_lab(dir.path(), "teach.yaml", LAB);
    let o = mtls(dir.path(), &["pki", "teach.yaml", "--out", "pki"]);
    assert_eq!(o.status.code(), Some(0));
    let o = mtls(
        dir.path(),
        &["show", "teach.yaml", "client", "--pki", "pki"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    let fingerprint = |file: &str| {
        let o = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(dir.path().join(file))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .trim_start_matches("sha256 Fingerprint=")
            .trim_start_matches("SHA256 Fingerprint=")
            .to_string()
    };
    let field = |block: &str, label: &str| -> String {
        block
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} in {block}"))
            .trim()
            .to_string()
    };
    let (client, ca) = text.split_once("\nin its chain: ").expect("a chain");
    assert!(
        client.starts_with("certificate `client`, issued by `ca`\n"),
        "{text}"
    );
    assert!(
        ca.starts_with("authority `ca`, self-signed (a root)\n"),
        "{text}"
    );
    assert_eq!(field(client, "subject:"), "O=Teach, CN=labclient");
    assert_eq!(field(client, "issuer:"), "O=Teach, CN=Teach CA");
    assert_eq!(field(client, "key:"), "ECDSA P-256");
    assert_eq!(field(client, "subject alt names:"), "dns:labclient");
    assert_eq!(field(client, "extended key usage:"), "clientAuth");
    assert_eq!(field(ca, "basic constraints:"), "CA:TRUE (critical)");
    assert_eq!(
        field(client, "SHA-256 fingerprint:"),
        fingerprint("pki/client/client.crt")
    );
    assert_eq!(
        field(ca, "SHA-256 fingerprint:"),
        fingerprint("pki/ca/ca.crt")
    );
    assert_eq!(
        field(client, "public key pin:"),
        mtls_lab::pki::export::pin_of_file(&dir.path().join("pki/client/client.crt")).unwrap()
    );
    assert!(!text.contains("PRIVATE KEY"));
    // An unknown name is exit 2 with the names there are.
    let o = mtls(dir.path(), &["show", "teach.yaml", "clinet"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: teach.yaml: no certificate or authority named `clinet`; the lab has `ca`, `client`, `other`, `server`\n"
    );
}

/// Starts `serve` on the teaching lab in `dir` (PKI in `dir/pki`); returns the child, its stdout lines and the port.
fn start_serve(dir: &Path) -> (std::process::Child, std::sync::mpsc::Receiver<String>, u16) {
    write_lab(dir, "teach.yaml", LAB);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir)
        .args(["serve", "teach.yaml", "--out", "pki"])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    next_line(&lines);
    let web = next_line(&lines);
    let port = web
        .trim_start_matches("web: https://localhost:")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("{web}"));
    next_line(&lines);
    (child, lines, port)
}

/// Waits for a line of `serve` that contains `want` (Chromium may open more than one connection).
fn line_with(lines: &std::sync::mpsc::Receiver<String>, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(l) if l.contains(want) => return l,
            Ok(l) => seen.push(l),
            Err(_) => break,
        }
    }
    panic!("no line with {want:?}; saw {seen:#?}");
}

/// A throw-away NSS database under `home` trusting the lab CA, and the client's .p12 if `client`.
fn nss(home: &Path, pki: &Path, client: bool) {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db = format!("sql:{}", db.display());
    let ok = |c: &mut Command| {
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ok(Command::new("certutil").args(["-N", "-d", &db, "--empty-password"]));
    ok(Command::new("certutil")
        .args(["-A", "-d", &db, "-n", "lab-ca", "-t", "C,,", "-i"])
        .arg(pki.join("ca/ca.crt")));
    if client {
        ok(Command::new("pk12util")
            .args(["-d", &db, "-W", "mtls-lab", "-i"])
            .arg(pki.join("client/client.p12")));
    }
}

/// Headless Chromium on `url` with `home`'s NSS database, auto-selecting a client certificate issued by
/// the lab CA; returns (whether the screenshot was written, stderr).
fn chromium(home: &Path, url: &str, png: &Path) -> (bool, String) {
    let profile = home.join("profile");
    std::fs::create_dir_all(profile.join("Default")).unwrap();
    std::fs::write(
        profile.join("Default/Preferences"),
        r#"{"profile":{"content_settings":{"exceptions":{"auto_select_certificate":{"https://localhost,*":{"setting":{"filters":[{"ISSUER":{"CN":"Teach CA"}}]}}}}}}}"#,
    )
    .unwrap();
    let o = Command::new("timeout")
        .args([
            "60",
            "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .env("HOME", home)
        .output()
        .unwrap();
    assert_ne!(
        o.status.code(),
        Some(124),
        "chromium timed out (a certificate picker?)"
    );
    (
        png.exists(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn chromium_with_the_p12_is_seen_as_labclient_and_without_it_is_refused() {
    // .ci/run installs chromium and libnss3-tools; where they could not be installed, say so (not a
    // silent pass).
    let have_chromium = crate::common::chromium_available();
    let have_nss = ["certutil", "pk12util"]
        .iter()
        .all(|tool| Command::new(tool).arg("-H").output().is_ok());
    if !have_chromium || !have_nss {
        println!("SKIPPED chromium_with_the_p12_is_seen_as_labclient_and_without_it_is_refused: chromium and libnss3-tools are not installed (apt-get install chromium libnss3-tools; .ci/run installs them)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines, port) = start_serve(dir.path());
    let url = format!("https://localhost:{port}/");
    let pki = dir.path().join("pki");

    let with = dir.path().join("with");
    nss(&with, &pki, true);
    let png = dir.path().join("with.png");
    let (shot, stderr) = chromium(&with, &url, &png);
    assert!(
        shot && !stderr.contains("Page load failed"),
        "no page: {stderr}"
    );
    let line = line_with(&lines, ": accepted; client CN=labclient");
    assert!(line.contains("\"GET / HTTP/1.1\""), "{line}");
    // Kept as an artifact of the test run.
    let _ = std::fs::copy(
        &png,
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("teaching-chromium-labclient.png"),
    );

    let without = dir.path().join("without");
    nss(&without, &pki, false);
    let png = dir.path().join("without.png");
    let _ = chromium(&without, &url, &png);
    let _ = std::fs::copy(
        &png,
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("teaching-chromium-no-certificate.png"),
    );
    // Chromium may render its error page into the screenshot: the server's own log decides, and no
    // connection of this run was accepted.
    let line = line_with(&lines, ": rejected by server: certificate_required");
    assert!(line.contains("; client none; "), "{line}");
    while let Ok(l) = lines.recv_timeout(std::time::Duration::from_millis(500)) {
        assert!(!l.contains(": accepted;"), "{l}");
    }

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

#[test]
fn the_openssl_script_rebuilds_the_labs_pki_and_openssl_verifies_it() {
    require("openssl", "version");
    let dir = tempfile::tempdir().unwrap();
    write_lab(
        dir.path(),
        "chain.yaml",
        r#"lab: chain
authorities:
  root: { subject: { C: US, O: Chain Lab, CN: Chain Root }, key: ecdsa-p384 }
  issuing:
    issuer: root
    subject: { O: Chain Lab, CN: Chain Issuing CA }
    key: ecdsa-p256
    path_len: 0
    name_constraints: { permitted: [dns:localhost, dns:labclient, ip:127.0.0.0/8], excluded: [dns:secret.localhost] }
certificates:
  server: { issuer: issuing, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server, key: ecdsa-p256 }
  client: { issuer: issuing, subject: { O: "Chain/Lab", CN: labclient }, usage: client, key: ed25519 }
servers:
  web: { certificate: server, trust: [root] }
cases:
  - name: c
    client: { certificate: client, trust: [root] }
    expect: accepted
"#,
    );
    let o = mtls(
        dir.path(),
        &["pki", "chain.yaml", "--out", "pki", "--openssl-script"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let script = dir.path().join("pki/make-pki.sh");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let run = Command::new(&script).output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let made = dir.path().join("pki/openssl");
    // The chain verifies with OpenSSL.
    for leaf in ["server", "client"] {
        let o = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(made.join("root/root.crt"))
            .arg("-untrusted")
            .arg(made.join("issuing/issuing.crt"))
            .arg(made.join(format!("{leaf}/{leaf}.crt")))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{leaf}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Each certificate reads like the lab's: subject, issuer, serial, key, SANs, constraints, usages
    // (only the validity dates, fingerprints and pin differ: other keys, another moment).
    let pem_der = |p: &Path| {
        let text = std::fs::read(p).unwrap();
        x509_parser::pem::parse_x509_pem(&text).unwrap().1.contents
    };
    let same = |text: String| {
        text.lines()
            .filter(|l| {
                ![
                    "not before:",
                    "not after:",
                    "fingerprint:",
                    "public key pin:",
                ]
                .iter()
                .any(|k| l.contains(k))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for name in ["root", "issuing", "server", "client"] {
        let ours = mtls_lab::pki::show::describe(&pem_der(
            &dir.path().join(format!("pki/{name}/{name}.crt")),
        ))
        .unwrap();
        let theirs =
            mtls_lab::pki::show::describe(&pem_der(&made.join(format!("{name}/{name}.crt"))))
                .unwrap();
        assert_eq!(same(theirs), same(ours.clone()), "{name}");
        assert!(
            ours.contains("name constraints:") == (name == "issuing"),
            "{ours}"
        );
    }
    // The keys it made are its owner's alone.
    let mode = std::fs::metadata(made.join("client/client.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0);
}
