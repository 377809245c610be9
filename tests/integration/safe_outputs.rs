//! Safe writes and safe output (issue 11, items 4 and 5): reports and `pki` files are replaced
//! atomically, never through a link or onto a device, every report path is checked before the run,
//! `-` is standard output; private keys printed by programs never reach the console or a report, and
//! control characters from names, subjects and program output are escaped.

use std::path::{Path, PathBuf};

use crate::common::mtls;

/// A small lab that passes: one CA, a server and a client certificate, one accepted case.
const PASSING: &str = r#"
lab: tiny
authorities:
  ca: { subject: { CN: Tiny CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: server }
  client: { issuer: ca, subject: { CN: alice }, usage: client }
servers:
  main: { certificate: server, trust: [ca] }
cases:
  - name: valid client
    server: main
    client: { certificate: client, trust: [ca] }
    expect: accepted
"#;

/// A temporary directory holding `tiny.yaml` (the passing lab).
fn lab_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), PASSING).unwrap();
    dir
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `tiny.yaml` in `dir` with `args` added.
fn run_tiny(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["run", "tiny.yaml"];
    all.extend_from_slice(args);
    mtls(dir, &all)
}

/// Asserts that the run was refused before anything ran: exit 2, no case line, `why` on stderr.
fn assert_refused(out: &std::process::Output, why: &str) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    assert!(
        !stdout(out).contains("PASS"),
        "nothing runs: {}",
        stdout(out)
    );
    assert!(stderr(out).contains(why), "stderr: {}", stderr(out));
}

#[test]
fn a_report_path_that_is_a_symlink_is_refused_before_the_run_and_its_target_kept() {
    let dir = lab_dir();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("report.json")).unwrap();
    let out = run_tiny(dir.path(), &["--report-json", "report.json"]);
    assert_refused(&out, "symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(std::fs::symlink_metadata(dir.path().join("report.json"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_report_path_that_is_a_device_or_a_fifo_is_refused_before_the_run() {
    let dir = lab_dir();
    let out = run_tiny(dir.path(), &["--report-tap", "/dev/null"]);
    assert_refused(&out, "not a regular file");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let out = run_tiny(dir.path(), &["--report-junit", "fifo"]);
    assert_refused(&out, "not a regular file");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    let out = run_tiny(dir.path(), &["--report-junit", "."]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_report_path_equal_to_a_lab_file_is_refused_and_the_lab_kept() {
    let dir = lab_dir();
    let out = run_tiny(dir.path(), &["--report-json", "./tiny.yaml"]);
    assert_refused(&out, "input of this run");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tiny.yaml")).unwrap(),
        PASSING
    );
    // Also a lab found in a directory, and also when the lab file is invalid (whose reports say why).
    std::fs::create_dir(dir.path().join("labs")).unwrap();
    std::fs::write(dir.path().join("labs/bad.yaml"), "lab: [").unwrap();
    let out = mtls(
        dir.path(),
        &["run", "labs", "--report-tap", "labs/../labs/bad.yaml"],
    );
    assert_refused(&out, "input of this run");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("labs/bad.yaml")).unwrap(),
        "lab: ["
    );
}

#[test]
fn two_reports_on_one_path_or_a_missing_directory_are_refused_before_the_run() {
    let dir = lab_dir();
    let out = run_tiny(
        dir.path(),
        &["--report-json", "r.out", "--report-tap", "./r.out"],
    );
    assert_refused(&out, "same file");
    assert!(!dir.path().join("r.out").exists());
    let out = run_tiny(dir.path(), &["--report-json", "missing/r.json"]);
    assert_refused(&out, "does not exist");
}

#[test]
fn dash_writes_the_report_to_stdout_and_the_console_to_stderr() {
    let dir = lab_dir();
    let out = run_tiny(dir.path(), &["--report-json", "-"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON report ({e}): {}", stdout(&out)));
    assert_eq!(report["summary"]["passed"], 1);
    assert!(stderr(&out).contains("PASS  tiny › valid client"));
    assert!(!dir.path().join("-").exists(), "no file named `-`");
    // At most one report on stdout.
    let out = run_tiny(dir.path(), &["--report-json", "-", "--report-tap", "-"]);
    assert_refused(&out, "standard output");
}

#[test]
fn reports_are_replaced_atomically_and_leave_no_temporary_file() {
    let dir = lab_dir();
    std::fs::write(dir.path().join("r.json"), "old").unwrap();
    let out = run_tiny(
        dir.path(),
        &["--report-json", "r.json", "--report-junit", "r.xml"],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let json = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert!(json.contains("\"passed\": 1"));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["r.json", "r.xml", "tiny.yaml"]);
}

/// Runs `pki tiny.yaml --out out --force` in `dir`.
fn pki_force(dir: &Path) -> std::process::Output {
    mtls(dir, &["pki", "tiny.yaml", "--out", "out", "--force"])
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn pki_force_never_writes_through_a_planted_link() {
    let dir = lab_dir();
    let outside = tempfile::tempdir().unwrap();
    // A planted directory link: OUT/server -> outside.
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("out/server")).unwrap();
    let out = pki_force(dir.path());
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(
        files_in(outside.path()).is_empty(),
        "nothing written outside"
    );
    assert!(
        !dir.path().join("out/ca").exists(),
        "nothing written at all"
    );

    // A planted file link: OUT/server/server.key -> a file outside.
    std::fs::remove_file(dir.path().join("out/server")).unwrap();
    std::fs::create_dir(dir.path().join("out/server")).unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("out/server/server.key")).unwrap();
    let out = pki_force(dir.path());
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");

    // Without the links, --force rewrites the files atomically; keys are 0600.
    std::fs::remove_file(dir.path().join("out/server/server.key")).unwrap();
    let out = pki_force(dir.path());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let out = pki_force(dir.path());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    use std::os::unix::fs::PermissionsExt;
    let key = std::fs::metadata(dir.path().join("out/server/server.key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    let mut names: Vec<_> = files_in(&dir.path().join("out/server"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["server.chain.pem", "server.crt", "server.key"]);
}

#[test]
fn pki_refuses_a_fifo_where_a_file_goes() {
    let dir = lab_dir();
    std::fs::create_dir_all(dir.path().join("out/ca")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("out/ca/ca.crt"))
        .status()
        .unwrap();
    assert!(made.success());
    let out = pki_force(dir.path());
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

/// A client command that prints its private key, then fails; a built-in server.
const PRINTS_KEY: &str = r#"
lab: leaky
authorities:
  ca: { subject: { CN: Leaky CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: server }
  client: { issuer: ca, subject: { CN: alice }, usage: client }
servers:
  main: { certificate: server, trust: [ca] }
cases:
  - name: prints its key
    server: main
    client:
      command: [sh, -c, "cat {key:client}; cat {key:client} >&2; exit 1"]
    expect: accepted
"#;

/// The report paths of every format in `dir`, as arguments.
fn every_report(dir: &Path) -> Vec<String> {
    ["json", "junit", "tap", "gradescope", "classroom", "html"]
        .iter()
        .flat_map(|f| {
            [
                format!("--report-{f}"),
                dir.join(format!("r.{f}")).display().to_string(),
            ]
        })
        .collect()
}

#[test]
fn a_private_key_printed_by_a_program_is_redacted_in_the_console_and_every_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leaky.yaml"), PRINTS_KEY).unwrap();
    let mut args = vec!["run".to_string(), "leaky.yaml".to_string()];
    args.extend(every_report(dir.path()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mtls(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let console = stdout(&out);
    assert!(console.contains("[private key redacted]"), "{console}");
    for (what, text) in std::iter::once(("console".to_string(), console.clone()))
        .chain(std::iter::once(("stderr".to_string(), stderr(&out))))
        .chain(
            ["json", "junit", "tap", "gradescope", "classroom", "html"].map(|f| {
                let text = std::fs::read_to_string(dir.path().join(format!("r.{f}"))).unwrap();
                (f.to_string(), text)
            }),
        )
    {
        assert!(!text.contains("PRIVATE KEY"), "{what} has a key:\n{text}");
        assert!(
            !text.contains("MIG") || !text.contains("BEGIN"),
            "{what} has a key body:\n{text}"
        );
    }
    let json = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert!(json.contains("[private key redacted]"), "{json}");
    // With the key gone, the reports are still what they were: the junit XML parses.
    let xml = std::fs::read_to_string(dir.path().join("r.junit")).unwrap();
    roxmltree::Document::parse(&xml).expect("JUnit report is XML");
}

/// A lab whose case name and client subject carry escape sequences (YAML `\e` is ESC).
const ESCAPES: &str = r#"
lab: escapes
authorities:
  ca: { subject: { CN: Escape CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost], usage: server }
  client: { issuer: ca, subject: { CN: "evil\e[2J\e]0;owned\a", O: "C1\u009b31m" }, usage: client }
servers:
  main: { certificate: server, trust: [ca] }
cases:
  - name: "sees \e[31mred\e[0m"
    server: main
    client: { certificate: client, trust: [ca] }
    expect: accepted
  - name: "fails \e[1mbold"
    server: main
    client: { certificate: client, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: certificate_required }
"#;

#[test]
fn escape_sequences_in_a_subject_and_a_case_name_are_escaped_in_the_console_and_tap() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("escapes.yaml"), ESCAPES).unwrap();
    let mut args = vec!["run".to_string(), "escapes.yaml".to_string()];
    args.extend(every_report(dir.path()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mtls(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let raw = |c: char| c.is_control() && c != '\n' && c != '\t';
    let console = stdout(&out);
    assert!(
        !console.chars().any(raw),
        "raw control characters:\n{console:?}"
    );
    assert!(
        console.contains("PASS  escapes › sees \\u001b[31mred\\u001b[0m: accepted"),
        "{console}"
    );
    assert!(
        console.contains("server saw CN=evil\\u001b[2J\\u001b]0;owned\\u0007, O=C1\\u009b31m"),
        "{console}"
    );
    assert!(!stderr(&out).chars().any(raw), "{:?}", stderr(&out));
    let tap = std::fs::read_to_string(dir.path().join("r.tap")).unwrap();
    assert!(!tap.chars().any(raw), "raw control characters:\n{tap:?}");
    assert!(
        tap.contains("ok 1 - escapes › sees \\\\u001b[31mred"),
        "{tap}"
    );
    // JSON and XML escape on their own, and stay valid.
    for f in ["json", "gradescope", "classroom"] {
        let text = std::fs::read_to_string(dir.path().join(format!("r.{f}"))).unwrap();
        assert!(!text.chars().any(raw), "{f}: {text:?}");
        serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON");
    }
    let xml = std::fs::read_to_string(dir.path().join("r.junit")).unwrap();
    roxmltree::Document::parse(&xml).expect("JUnit report is XML 1.0");
    // HTML: escaped as the console escapes, then as HTML text.
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(!html.chars().any(raw), "raw control characters:\n{html:?}");
    assert!(html.contains("sees \\u001b[31mred"), "{html}");
    // `list` prints names escaped too.
    let out = mtls(dir.path(), &["list", "escapes.yaml"]);
    assert!(!stdout(&out).chars().any(raw), "{:?}", stdout(&out));
}

#[test]
fn a_signal_while_loading_a_large_run_exits_130_with_reports_that_say_nothing_ran() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("labs")).unwrap();
    // Loading 3000 labs takes seconds in a debug build; the signal comes well within that.
    for i in 0..3000 {
        let lab = PASSING.replace("lab: tiny", &format!("lab: tiny{i}"));
        std::fs::write(dir.path().join(format!("labs/l{i}.yaml")), lab).unwrap();
    }
    for (signal, flag) in [("TERM", "json"), ("INT", "gradescope")] {
        let report = dir.path().join(format!("r.{flag}"));
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
            .current_dir(dir.path())
            .args(["run", "labs", &format!("--report-{flag}")])
            .arg(&report)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Signal once the runner has installed its handlers (a fixed sleep raced a slow start on a
        // loaded machine), and while it is still loading.
        wait_until_it_catches(child.id(), if signal == "TERM" { 15 } else { 2 });
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(130),
            "SIG{signal}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("interrupted while loading"),
            "{}",
            stderr(&out)
        );
        let text = std::fs::read_to_string(&report).expect("the report is written");
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert!(
            text.contains("interrupted while the labs were loading"),
            "{value}"
        );
    }
}

/// `/dev/stdout` is a link: refused like any other, with the safe way to say it.
#[test]
fn dev_stdout_as_a_report_is_refused_with_a_hint_to_write_dash() {
    let out = crate::common::mtls(
        &crate::common::root(),
        &["run", "labs/seed-mtls.yaml", "--report-json", "/dev/stdout"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/dev/stdout: it is a symbolic link (reports are never written through a link); write `-` for standard output"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// Waits (up to 20 s) until process `pid` catches signal `signo`: its bit in `SigCgt` of
/// `/proc/PID/status` (proc(5)).
fn wait_until_it_catches(pid: u32, signo: u32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (signo - 1)) != 0);
        if caught {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} never installed a handler for signal {signo}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
