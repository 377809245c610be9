//! Property-based tests (proptest, stable Rust) of the lab loader and of certificate import: whatever the
//! input, no panic, no hang, and every lab error points into the file (a line and column).
//!
//! 256 cases per property by default (under a second in all); `PROPTEST_CASES=5000 cargo test --test integration prop::` runs longer.

use std::path::{Path, PathBuf};

use mtls_lab::lab::{self, LabError, LoadErrors};
use mtls_lab::pki::parse_certificate_file;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::common::root;

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    TestRunner::new(Config {
        cases,
        // Nothing is written into the source tree; a failure prints its minimal input.
        failure_persistence: None,
        ..Config::default()
    })
}

/// Every error of a lab file has a line and column, except "the file is empty" (which has no line).
fn assert_positioned(errors: &LoadErrors, text: &str) {
    for e in errors {
        assert!(
            e.pos.is_some() || matches!(e.error, LabError::Empty),
            "an error without a position: {e}\n--- input ---\n{text}"
        );
    }
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Pieces of YAML and of the lab format, so that generated text gets past the YAML parser often.
fn yaml_piece() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "lab: x\n",
        "authorities:\n",
        "certificates:\n",
        "servers:\n",
        "cases:\n",
        "matrix:\n",
        "include: [",
        "vars:\n",
        "checks:\n",
        "  ca:",
        "  server:",
        "  web:",
        "  - name: a\n",
        "    client:",
        "    expect: accepted\n",
        "    expect: rejected\n",
        "subject:",
        "{ CN: a }",
        "issuer: ca",
        "certificate: server",
        "trust: [ca]",
        "usage: server",
        "key: rsa2048",
        "from: { cert: x.crt }",
        "command: [python3, \"{port}\"]",
        "listen: 127.0.0.1:0",
        "${a}",
        "${",
        "}",
        "{",
        "[",
        "]",
        ",",
        ":",
        " ",
        "  ",
        "\n",
        "- ",
        "&a ",
        "*a",
        "!!str ",
        "---\n",
        "...\n",
        "#",
        "\"",
        "'",
        "\\0",
        "é",
        "\t",
        "? ",
        "| \n",
        "> \n",
        "1.3",
        "0x10",
        "a: [x1, x2, x3]\n",
        "  a: [x1, x2]\n",
    ];
    prop::sample::select(PIECES).prop_map(str::to_string)
}

#[test]
fn the_loader_never_panics_on_arbitrary_yaml() {
    let strategy = prop::collection::vec(yaml_piece(), 0..60).prop_map(|v| v.concat());
    runner()
        .run(&strategy, |text| {
            if let Err(errors) = lab::parse_all(Path::new("prop.yaml"), &text, now()) {
                assert_positioned(&errors, &text);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_loader_never_panics_on_arbitrary_text() {
    runner()
        .run(&any::<String>(), |text| {
            if let Err(errors) = lab::parse_all(Path::new("prop.yaml"), &text, now()) {
                assert_positioned(&errors, &text);
            }
            Ok(())
        })
        .unwrap();
}

/// Every lab file under labs/ (not the `_*.yaml` fragments).
fn labs() -> Vec<(PathBuf, String)> {
    let files = lab::discover::lab_files(&[root().join("labs")]).unwrap();
    assert!(files.len() > 20, "the labs are there");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Replace(usize, usize),
    Truncate(usize),
}

fn mutate(text: &str, m: &Mutation) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let n = lines.len().max(1);
    let mut out: Vec<&str> = lines.clone();
    match *m {
        Mutation::Delete(i) if !lines.is_empty() => {
            out.remove(i % n);
        }
        Mutation::Duplicate(i) if !lines.is_empty() => out.insert(i % n, lines[i % n]),
        Mutation::Replace(i, j) if !lines.is_empty() => out[i % n] = lines[j % n],
        Mutation::Truncate(at) => {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            return text[..at].to_string();
        }
        _ => {}
    }
    out.concat()
}

#[test]
fn the_loader_never_panics_on_mutations_of_every_lab() {
    let labs = labs();
    let mutation = prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Replace(i, j)),
        any::<usize>().prop_map(Mutation::Truncate),
    ];
    // Each lab once unchanged (it loads), then mutated: 1 to 3 mutations per case.
    for (path, _) in &labs {
        if let Err(e) = lab::load_all(path, now()) {
            panic!("{} does not load:\n{}", path.display(), e.render());
        }
    }
    let strategy = (0..labs.len(), prop::collection::vec(mutation, 1..4));
    runner()
        .run(&strategy, |(which, mutations)| {
            let (path, text) = &labs[which];
            let mut mutated = text.clone();
            for m in &mutations {
                mutated = mutate(&mutated, m);
            }
            if let Err(errors) = lab::parse_all(path, &mutated, now()) {
                for e in &errors {
                    assert!(
                        e.pos.is_some() || matches!(e.error, LabError::Empty),
                        "{}: {mutations:?}: an error without a position: {e}",
                        path.display()
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn certificate_import_never_panics_on_arbitrary_bytes() {
    let cert = std::fs::read(root().join("tests/fixtures/hostile/ca.crt")).unwrap();
    let der = parse_certificate_file(&cert, "ca.crt").unwrap().to_vec();
    let input = prop_oneof![
        // Anything at all.
        prop::collection::vec(any::<u8>(), 0..2048),
        // The DER certificate with bytes changed, and cut short.
        (
            prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            any::<usize>()
        )
            .prop_map({
                let der = der.clone();
                move |(edits, cut)| {
                    let mut d = der.clone();
                    for (i, b) in edits {
                        let n = d.len();
                        d[i % n] = b;
                    }
                    d.truncate(cut % (der.len() + 1));
                    d
                }
            }),
        // PEM blocks of every label OpenSSL reads, around arbitrary or edited base64, with or without a BOM.
        (
            prop::sample::select(&["CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"][..]),
            prop::collection::vec(any::<u8>(), 0..600),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map({
                let der = der.clone();
                move |(label, junk, real, bom, end)| {
                    use base64::Engine;
                    let mut body = if real { der.clone() } else { Vec::new() };
                    body.extend(junk);
                    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
                    let mut pem = if bom {
                        b"\xEF\xBB\xBF".to_vec()
                    } else {
                        Vec::new()
                    };
                    pem.extend(format!("-----BEGIN {label}-----\n{b64}\n").bytes());
                    if end {
                        pem.extend(format!("-----END {label}-----\n").bytes());
                    }
                    pem
                }
            }),
    ];
    runner()
        .run(&input, |bytes| {
            if let Err(e) = parse_certificate_file(&bytes, "prop.crt") {
                assert!(e.starts_with("prop.crt: "), "names the file: {e}");
            }
            Ok(())
        })
        .unwrap();
}
