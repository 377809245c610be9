//! `check` predicts the impossible (issue 15): a reason the named side cannot give, `accepted` with a
//! server name the server certificate does not carry, an intermediate outside its validity, an expiry
//! the case's clock rules out — each a warning with file:line:col and a hint (golden), `--deny-warnings`
//! exits 2 on them and stays clean on `labs/`.

use mtls_lab::lab::lint::{name_covers, side_can_give};
use mtls_lab::lab::San;
use mtls_lab::reason::{Reason, Side};

use crate::common::{golden, mtls, root};

#[test]
fn check_warns_about_impossible_expectations_with_position_and_hint() {
    let dir = root().join("tests/golden/check");
    let o = mtls(&dir, &["check", "impossible.yaml"]);
    assert_eq!(o.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&o.stderr);
    golden(&dir.join("impossible.stderr"), &stderr);
    // One warning per impossible case; the case one label under the wildcard is fine.
    assert_eq!(stderr.matches("warning: ").count(), 5, "{stderr}");
    assert!(!stderr.contains("one label under the wildcard"), "{stderr}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("5 warning(s)"));
    let strict = mtls(&dir, &["check", "impossible.yaml", "--deny-warnings"]);
    assert_eq!(strict.status.code(), Some(2));
}

#[test]
fn the_side_table_says_who_can_give_which_reason() {
    assert!(side_can_give(Side::Server, Reason::CertificateRequired));
    assert!(!side_can_give(Side::Client, Reason::CertificateRequired));
    for r in [
        Reason::NameMismatch,
        Reason::PinMismatch,
        Reason::ConnectionRefused,
    ] {
        assert!(side_can_give(Side::Client, r));
        assert!(!side_can_give(Side::Server, r), "{r}");
    }
    for &r in Reason::ALL {
        assert!(
            side_can_give(Side::Server, r) || side_can_give(Side::Client, r),
            "{r}: some side gives it"
        );
    }
    for r in [
        Reason::Expired,
        Reason::UnknownIssuer,
        Reason::Revoked,
        Reason::ProtocolVersion,
    ] {
        assert!(
            side_can_give(Side::Server, r) && side_can_give(Side::Client, r),
            "{r}"
        );
    }
}

#[test]
fn server_names_are_covered_as_tls_clients_check_them() {
    let dns = |d: &str| San::Dns(d.into());
    assert!(name_covers(&dns("localhost"), "LocalHost"));
    assert!(name_covers(&dns("*.lab.test"), "api.lab.test"));
    assert!(!name_covers(&dns("*.lab.test"), "a.b.lab.test"));
    assert!(!name_covers(&dns("*.lab.test"), "lab.test"));
    // An IP address matches only an iPAddress entry, never the same text as a DNS name.
    assert!(!name_covers(&dns("127.0.0.1"), "127.0.0.1"));
    assert!(name_covers(
        &San::Ip("127.0.0.1".parse().unwrap()),
        "127.0.0.1"
    ));
    assert!(!name_covers(
        &San::Ip("127.0.0.1".parse().unwrap()),
        "localhost"
    ));
}
