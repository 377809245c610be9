//! Shared helpers: run a lab written inline, and assert a case's exact verdict.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use mtls_lab::lab::{self, Lab};
use mtls_lab::reason::Reason;
use mtls_lab::run::{self, CaseResult, LabResult, Status};
use mtls_lab::spec::{Outcome, Side};

/// Validates lab text as if it came from `inline.yaml`.
pub fn lab(yaml: &str) -> Lab {
    match lab::parse(
        Path::new("inline.yaml"),
        yaml,
        time::OffsetDateTime::now_utc(),
    ) {
        Ok(l) => l,
        Err(e) => panic!("lab does not validate:\n{}", e.render()),
    }
}

/// Runs lab text end to end with real handshakes.
pub fn run(yaml: &str) -> LabResult {
    let lab = lab(yaml);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run::run_lab(&lab))
}

pub fn case<'a>(r: &'a LabResult, name: &str) -> &'a CaseResult {
    r.cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case named {name:?}"))
}

/// Asserts the case was rejected by `by` for `reason`, as observed (not merely as expected), and passed.
pub fn assert_rejected(r: &LabResult, name: &str, by: Side, reason: Reason) {
    let c = case(r, name);
    let o = c
        .observed
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: not run: {:?}", c.messages));
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (Outcome::Rejected, Some(by), Some(reason)),
        "{name}: observed {o:#?}"
    );
    assert_eq!(c.status, Status::Passed, "{name}: {:?}", c.messages);
}

/// Asserts the case was accepted (observed) and passed.
pub fn assert_accepted(r: &LabResult, name: &str) {
    let c = case(r, name);
    let o = c
        .observed
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: not run: {:?}", c.messages));
    assert_eq!(o.outcome, Outcome::Accepted, "{name}: observed {o:#?}");
    assert_eq!(c.status, Status::Passed, "{name}: {:?}", c.messages);
}

/// The common PKI of the reason tests: one CA, a server and a client certificate.
pub const PKI: &str = r#"
authorities:
  ca: { subject: { O: Test Lab, CN: Test Lab CA } }
  other-ca: { subject: { O: Elsewhere, CN: Other CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }
  client: { issuer: ca, subject: { O: Test Lab, CN: alice }, usage: client }
"#;

/// The crate's root directory.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `mtls-lab` binary in `dir`, without colour or RUST_LOG, its key cache in [`test_cache_home`].
pub fn mtls(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", test_cache_home())
        .output()
        .expect("run mtls-lab")
}

/// The `XDG_CACHE_HOME` of every `mtls-lab` the tests start: in the target directory, never the user's
/// cache (the key cache is then `XDG_CACHE_HOME/mtls-lab`).
pub fn test_cache_home() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache")
}

/// Sets `XDG_CACHE_HOME` to [`test_cache_home`] in this test process before `main` (so before any test
/// thread exists): every `mtls-lab` a test starts by any means inherits it, and none writes into the
/// user's key cache.
#[used]
#[link_section = ".init_array"]
static TEST_CACHE_HOME: extern "C" fn() = {
    extern "C" fn set() {
        std::env::set_var("XDG_CACHE_HOME", test_cache_home());
    }
    set
};

/// Compares `actual` with a golden file, or rewrites it under `UPDATE_GOLDEN=1`.
pub fn golden(path: &Path, actual: &str) {
    // Never rewrite golden files in CI: there they are only compared.
    if std::env::var_os("UPDATE_GOLDEN").is_some() && std::env::var_os("CI").is_none() {
        std::fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {} (run with UPDATE_GOLDEN=1)",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// Tests that run labs on the seed's fixed port 4443 (the seed's programs, the grader, `run labs`) take
/// turns: they share this one test binary, and each checks that the port is free again afterwards.
pub fn seed_port() -> MutexGuard<'static, ()> {
    static SEED_PORT: Mutex<()> = Mutex::new(());
    SEED_PORT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether Debian's `chromium` runs here (`.ci/run` installs it); tests that need it print a SKIPPED
/// line and return when it does not, rather than pass silently.
pub fn chromium_available() -> bool {
    std::process::Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Headless Chromium (under a 60 s timeout, with a fresh profile in `profile`) on `url` with `args`
/// (`--dump-dom`, `--screenshot=PNG`, ...), console messages logged to stderr; returns (stdout, stderr).
pub fn headless_chromium(profile: &Path, url: &str, args: &[&str]) -> (String, String) {
    let o = std::process::Command::new("timeout")
        .args([
            "60",
            "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    assert_ne!(o.status.code(), Some(124), "chromium timed out");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
