//! Hostile input files (issue 11): a matrix bomb, directory symlink loops, `from:` paths that are FIFOs,
//! devices or huge, certificates as OpenSSL writes them (a BOM, `TRUSTED CERTIFICATE`), and the inputs
//! `check` must refuse because `run` could not use them. Every one ends quickly with a clear exit 2 (or, for
//! a `from:` file, a failed case naming the file), never a hang or a panic.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::root;

/// Runs the binary in `dir` and kills it if it has not ended within `limit` (a hang fails the test, not CI).
fn mtls_within(dir: &Path, args: &[&str], limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mtls-lab");
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "mtls-lab {args:?} still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    (child.wait_with_output().expect("output"), elapsed)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small valid lab named `name`, with `extra` YAML appended at the top level.
fn lab_text(name: &str) -> String {
    format!(
        "lab: {name}
authorities:
  ca: {{ subject: {{ CN: Hostile CA }} }}
certificates:
  server: {{ issuer: ca, subject: {{ CN: localhost }}, san: [dns:localhost, ip:127.0.0.1], usage: server }}
servers:
  web: {{ certificate: server, client_auth: none }}
cases:
  - name: plain TLS is accepted
    client: {{ trust: [ca] }}
    expect: accepted
"
    )
}

// ---- a. matrix expansion is limited -------------------------------------------------------------------

#[test]
fn a_matrix_bomb_is_refused_before_expansion_naming_the_product() {
    let dir = tempfile::tempdir().unwrap();
    let vars: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
    let mut text = String::from("lab: matrix bomb\nmatrix:\n");
    for v in &vars {
        text += &format!("  {v}: [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9]\n");
    }
    let used: Vec<String> = vars.iter().map(|v| format!("${{{v}}}")).collect();
    text += &format!("description: \"{}\"\n", used.join(" "));
    text += &lab_text("x").replacen("lab: x\n", "", 1);
    while text.len() < 25_000 {
        text += "# padding: the issue's bomb was a 25 KB lab\n";
    }
    std::fs::write(dir.path().join("bomb.yaml"), &text).unwrap();
    for cmd in ["check", "run"] {
        let (out, took) = mtls_within(dir.path(), &[cmd, "bomb.yaml"], Duration::from_secs(20));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("the matrix expands to 1,000,000,000,000 variants")
                && err.contains("at most 10,000 are allowed")
                && err.contains("bomb.yaml:2:1"),
            "{cmd}: {err}"
        );
        assert!(took < Duration::from_secs(2), "{cmd} took {took:?}");
    }
}

#[test]
fn a_matrix_whose_product_overflows_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("lab: overflow\nmatrix:\n");
    let mut used = Vec::new();
    for i in 0..48 {
        text += &format!("  v{i}: [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9]\n");
        used.push(format!("${{v{i}}}"));
    }
    text += &format!("description: \"{}\"\n", used.join(" "));
    text += &lab_text("x").replacen("lab: x\n", "", 1);
    std::fs::write(dir.path().join("overflow.yaml"), &text).unwrap();
    let (out, _) = mtls_within(
        dir.path(),
        &["check", "overflow.yaml"],
        Duration::from_secs(20),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the matrix expands to more than") && err.contains("48 variables"),
        "{err}"
    );
}

#[test]
fn a_matrix_over_the_text_budget_is_refused_and_one_within_it_loads() {
    let dir = tempfile::tempdir().unwrap();
    // 100 × 100 = 10,000 variants (the limit) of a 7 KB file: 70 MB of text, over the 64 MiB budget.
    let mut text = String::from("lab: budget\nmatrix:\n");
    let values: Vec<String> = (0..100).map(|i| format!("x{i}")).collect();
    text += &format!(
        "  a: [{}]\n  b: [{}]\n",
        values.join(", "),
        values.join(", ")
    );
    text += "description: \"${a} ${b}\"\n";
    text += &lab_text("x").replacen("lab: x\n", "", 1);
    while text.len() < 7_000 {
        text += "# padding\n";
    }
    std::fs::write(dir.path().join("budget.yaml"), &text).unwrap();
    let (out, _) = mtls_within(
        dir.path(),
        &["check", "budget.yaml"],
        Duration::from_secs(20),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bytes of lab text"), "{err}");

    // 4 × 3 variants load as 12 labs.
    let small = "lab: small\nmatrix:\n  a: [x1, x2, x3, x4]\n  b: [y1, y2, y3]\ndescription: \"${a} ${b}\"\n"
        .to_string()
        + &lab_text("x").replacen("lab: x\n", "", 1);
    std::fs::write(dir.path().join("small.yaml"), small).unwrap();
    let (out, _) = mtls_within(
        dir.path(),
        &["check", "small.yaml"],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(all.contains("12 lab(s)"), "{all}");
}

// ---- b. directory walks follow no link twice ----------------------------------------------------------

#[test]
fn a_directory_symlink_loop_ends_and_each_lab_loads_once() {
    let dir = tempfile::tempdir().unwrap();
    let labs = dir.path().join("labs");
    std::fs::create_dir_all(labs.join("sub/deeper")).unwrap();
    std::fs::write(labs.join("a.yaml"), lab_text("a")).unwrap();
    std::fs::write(labs.join("sub/deeper/c.yaml"), lab_text("c")).unwrap();
    // A loop two levels deep, and a loop between two sibling directories.
    std::os::unix::fs::symlink("../..", labs.join("sub/deeper/up")).unwrap();
    std::fs::create_dir_all(dir.path().join("x")).unwrap();
    std::os::unix::fs::symlink("../labs", dir.path().join("x/to-labs")).unwrap();
    std::os::unix::fs::symlink("../x", labs.join("to-x")).unwrap();
    for cmd in ["check", "run"] {
        let (out, took) = mtls_within(dir.path(), &[cmd, "labs"], Duration::from_secs(60));
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{cmd}: {all}");
        if cmd == "check" {
            assert!(all.contains("2 lab(s), 2 case(s) checked"), "{all}");
            assert!(took < Duration::from_secs(5), "check took {took:?}");
        } else {
            assert!(all.contains("2 passed, 0 failed"), "{all}");
        }
    }
}

#[test]
fn a_self_link_does_not_load_the_same_lab_twice() {
    let dir = tempfile::tempdir().unwrap();
    let labs = dir.path().join("labs");
    std::fs::create_dir_all(&labs).unwrap();
    std::fs::write(labs.join("a.yaml"), lab_text("a")).unwrap();
    std::os::unix::fs::symlink(".", labs.join("self")).unwrap();
    // A second name for the same file, and the same lab named again on the command line.
    std::os::unix::fs::symlink("a.yaml", labs.join("b.yaml")).unwrap();
    for args in [
        &["run", "labs"][..],
        &[
            "run",
            "labs",
            "labs/a.yaml",
            "labs/self/a.yaml",
            "labs/self",
        ],
    ] {
        let (out, _) = mtls_within(dir.path(), args, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(stdout.contains("1 passed, 0 failed"), "{args:?}: {stdout}");
        assert_eq!(
            stdout.matches("plain TLS is accepted").count(),
            1,
            "{args:?}: {stdout}"
        );
    }
}

// ---- c. `from:` reads only regular files up to a limit, and what OpenSSL reads --------------------------

/// A lab whose authority is loaded from `cert` and `key` and issues the server's certificate.
fn from_lab(cert: &Path, key: &Path) -> String {
    format!(
        "lab: from files
authorities:
  ca: {{ from: {{ cert: \"{}\", key: \"{}\" }} }}
certificates:
  server: {{ issuer: ca, subject: {{ CN: localhost }}, san: [dns:localhost, ip:127.0.0.1], usage: server }}
servers:
  web: {{ certificate: server, client_auth: none }}
cases:
  - name: the server issued by the loaded authority is accepted
    client: {{ trust: [ca] }}
    expect: accepted
",
        cert.display(),
        key.display()
    )
}

fn fixture(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/hostile").join(name)
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(st.success());
}

/// Runs `from_lab(cert, key)` with `run`, then `pki`; both end within 20 s.
fn run_from(cert: &Path, key: &Path) -> (Output, Output) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("from.yaml"), from_lab(cert, key)).unwrap();
    let (run, _) = mtls_within(dir.path(), &["run", "from.yaml"], Duration::from_secs(20));
    let (pki, _) = mtls_within(
        dir.path(),
        &["pki", "from.yaml", "--out", "out"],
        Duration::from_secs(20),
    );
    (run, pki)
}

#[test]
fn a_trusted_certificate_block_as_openssl_writes_it_is_read() {
    let cert = fixture("ca-trusted.crt");
    assert!(std::fs::read_to_string(&cert)
        .unwrap()
        .starts_with("-----BEGIN TRUSTED CERTIFICATE-----"));
    let (run, _) = run_from(&cert, &fixture("ca.key"));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}{}", stderr(&run));
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_certificate_and_key_with_a_byte_order_mark_are_read() {
    let cert = fixture("ca-bom.crt");
    assert!(std::fs::read(&cert)
        .unwrap()
        .starts_with(b"\xEF\xBB\xBF-----BEGIN"));
    let (run, _) = run_from(&cert, &fixture("ca-bom.key"));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}{}", stderr(&run));
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_fifo_as_from_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("client.crt");
    mkfifo(&fifo);
    for (cert, key) in [
        (fifo.clone(), fixture("ca.key")),
        (fixture("ca.crt"), fifo.clone()),
    ] {
        let (run, pki) = run_from(&cert, &key);
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert_eq!(run.status.code(), Some(1), "{stdout}{}", stderr(&run));
        assert!(
            stdout.contains(&format!(
                "{}: cannot read: not a regular file (a named pipe)",
                fifo.display()
            )),
            "{stdout}"
        );
        assert!(pki.status.code().is_some(), "pki ended");
    }
}

#[test]
fn dev_zero_as_from_is_refused() {
    let (run, _) = run_from(Path::new("/dev/zero"), &fixture("ca.key"));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}{}", stderr(&run));
    assert!(
        stdout.contains("/dev/zero: cannot read: not a regular file (a character device)"),
        "{stdout}"
    );
}

#[test]
fn a_from_file_over_1_mib_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.crt");
    let mut pem = std::fs::read(fixture("ca.crt")).unwrap();
    pem.resize(1024 * 1024 + 1, b'\n');
    std::fs::write(&big, pem).unwrap();
    let (run, _) = run_from(&big, &fixture("ca.key"));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}{}", stderr(&run));
    assert!(
        stdout.contains(&format!(
            "{}: larger than 1 MiB; not a certificate or key",
            big.display()
        )),
        "{stdout}"
    );
}

#[test]
fn a_lab_file_that_is_a_fifo_or_a_device_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("lab.yaml"));
    for (file, kind) in [
        ("lab.yaml", "a named pipe"),
        ("/dev/zero", "a character device"),
    ] {
        for cmd in ["check", "run"] {
            let (out, _) = mtls_within(dir.path(), &[cmd, file], Duration::from_secs(20));
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {file}: {err}");
            assert!(
                err.contains(&format!("it is not a regular file ({kind})")) && err.contains(file),
                "{cmd} {file}: {err}"
            );
        }
    }
    // A directory walk lists a FIFO named *.yaml, and loading it refuses it the same way.
    let (out, _) = mtls_within(dir.path(), &["check", "."], Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

// ---- d. `check` agrees with `run` ---------------------------------------------------------------------

/// Each input `run` could not use is refused by `check` too, exit 2 with file:line:col (the messages
/// themselves are goldens under tests/golden/bad/, run by `cli::every_bad_input_exits_2_with_a_golden_message`).
#[test]
fn check_refuses_what_run_cannot_use_with_a_position() {
    let dir = root().join("tests/golden/bad");
    for (file, at, says) in [
        (
            "nul-in-command.yaml",
            "nul-in-command.yaml:8:34",
            "holds a NUL character",
        ),
        (
            "subject-too-long.yaml",
            "subject-too-long.yaml:7:29",
            "RFC 5280 allows at most 64",
        ),
        (
            "nul-byte.yaml",
            "nul-byte.yaml:3:28",
            "a NUL byte at byte 68",
        ),
        (
            "invalid-utf8.yaml",
            "invalid-utf8.yaml:2:17",
            "invalid UTF-8 at byte 35",
        ),
        (
            "second-document.yaml",
            "second-document.yaml:12:1",
            "a second one starts here",
        ),
    ] {
        let (out, _) = mtls_within(&dir, &["check", file], Duration::from_secs(20));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(at) && err.contains(says), "{file}: {err}");
    }
}
