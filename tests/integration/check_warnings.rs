//! `check`'s warnings about chains and serials, and its silence about certificates a case never sends:
//! goldens with file:line:col, and `--deny-warnings` on a correct lab.

use crate::common::{golden, mtls, root};

#[test]
fn check_warns_about_chains_over_the_depth_limit_and_duplicate_serials() {
    let dir = root().join("tests/golden/check");
    let o = mtls(&dir, &["check", "chains-and-serials.yaml"]);
    assert_eq!(o.status.code(), Some(0));
    golden(
        &dir.join("chains-and-serials.stderr"),
        &String::from_utf8_lossy(&o.stderr),
    );
    let strict = mtls(
        &dir,
        &["check", "chains-and-serials.yaml", "--deny-warnings"],
    );
    assert_eq!(strict.status.code(), Some(2));
}

#[test]
fn a_client_certificate_the_server_never_asks_for_is_not_warned_about() {
    let dir = root().join("tests/golden/check");
    let o = mtls(&dir, &["check", "never-sent.yaml", "--deny-warnings"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 warning(s)"));
    // And the lab is right: the case passes with real handshakes.
    let run = mtls(&dir, &["run", "never-sent.yaml"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
}
