//! A PKI that persists: `--pki DIR` keeps every key and certificate whose declaration has not changed,
//! byte for byte, and makes again exactly what changed (and what is under it), what expired, and what was
//! tampered with; the key cache lives where it should with the right modes, `--no-cache` writes nothing,
//! and cold and warm runs give the same verdicts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{root, test_cache_home};

/// A root, an intermediate under it, a server under the intermediate and a client under the root.
const LAB: &str = r#"
lab: persist
authorities:
  root: { subject: { CN: Persist Root } }
  inter: { issuer: root, subject: { CN: Persist Intermediate } }
certificates:
  server: { issuer: inter, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }
  client: { issuer: root, subject: { CN: alice }, usage: client }
servers:
  web: { certificate: server, trust: [root] }
cases:
  - name: the client is accepted
    client: { certificate: client, trust: [root] }
    expect: accepted
  - name: a client trusting nothing rejects the server
    client: { certificate: client, trust: [] }
    expect: { outcome: rejected, by: client, reason: unknown_issuer }
"#;

/// `mtls-lab ARGS` in `dir`, its key cache under `cache` (an XDG_CACHE_HOME).
fn mtls_with_cache(dir: &Path, cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("run mtls-lab")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file under `dir` (relative path → bytes).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

/// The files that differ between two snapshots (changed, added or removed), sorted.
fn changed(a: &BTreeMap<PathBuf, Vec<u8>>, b: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    let mut names: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| k.display().to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A temporary directory with `persist.yaml` written from `yaml`.
fn lab_dir(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("persist.yaml"), yaml).unwrap();
    dir
}

/// `run persist.yaml --pki pki` in `dir`; asserts every case passed.
fn run_pki(dir: &Path) -> Output {
    let o = mtls_with_cache(
        dir,
        &dir.join("cache"),
        &["run", "persist.yaml", "--pki", "pki"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    o
}

#[test]
fn a_second_run_with_pki_reuses_every_key_and_certificate_byte_for_byte() {
    let dir = lab_dir(LAB);
    run_pki(dir.path());
    let first = snapshot(&dir.path().join("pki"));
    assert!(first.contains_key(Path::new("mtls-lab-state.json")));
    assert!(first.contains_key(Path::new("inter/inter.key")));
    let again = run_pki(dir.path());
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "",
        "nothing to say when nothing changed"
    );
    let second = snapshot(&dir.path().join("pki"));
    assert_eq!(changed(&first, &second), Vec::<String>::new());
    // `pki --out` on the same directory updates it in place, and finds it up to date too.
    let o = mtls_with_cache(
        dir.path(),
        &dir.path().join("cache"),
        &["pki", "persist.yaml", "--out", "pki"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "wrote 0 of 13 files to pki; the others were up to date\n"
    );
    assert_eq!(
        changed(&first, &snapshot(&dir.path().join("pki"))),
        Vec::<String>::new()
    );
    // Keys stay private.
    use std::os::unix::fs::PermissionsExt;
    for name in ["root", "inter", "server", "client"] {
        let meta = std::fs::metadata(dir.path().join(format!("pki/{name}/{name}.key"))).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}.key");
    }
}

#[test]
fn a_changed_certificate_is_issued_again_alone_and_a_changed_authority_with_its_subtree() {
    let dir = lab_dir(LAB);
    run_pki(dir.path());
    let before = snapshot(&dir.path().join("pki"));

    // One leaf's declaration: that certificate alone, with the key it had.
    std::fs::write(
        dir.path().join("persist.yaml"),
        LAB.replace("CN: alice", "CN: bob"),
    )
    .unwrap();
    let o = run_pki(dir.path());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "pki: `client`: issued (its declaration changed)\n"
    );
    let after = snapshot(&dir.path().join("pki"));
    assert_eq!(
        changed(&before, &after),
        [
            "client/client.chain.pem",
            "client/client.crt",
            "mtls-lab-state.json"
        ]
    );

    // An authority in the middle: it and everything under it; its root and its sibling stay.
    std::fs::write(
        dir.path().join("persist.yaml"),
        LAB.replace("CN: alice", "CN: bob")
            .replace("CN: Persist Intermediate", "CN: Persist Intermediate 2"),
    )
    .unwrap();
    let o = run_pki(dir.path());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "pki: `inter`: issued (its declaration changed)\npki: `server`: issued (its issuer `inter` was issued again)\n"
    );
    let last = snapshot(&dir.path().join("pki"));
    assert_eq!(
        changed(&after, &last),
        [
            "inter/inter.chain.pem",
            "inter/inter.crt",
            "mtls-lab-state.json",
            "server/server.chain.pem",
            "server/server.crt"
        ]
    );
    // A new key type: a new key, and the certificate issued again.
    std::fs::write(
        dir.path().join("persist.yaml"),
        LAB.replace("CN: alice", "CN: bob")
            .replace("CN: Persist Intermediate", "CN: Persist Intermediate 2")
            .replace("CN: bob }", "CN: bob }, key: ecdsa-p384"),
    )
    .unwrap();
    let o = run_pki(dir.path());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "pki: `client`: a new key (its key type changed)\npki: `client`: issued (its key is new)\n"
    );
    assert_eq!(
        changed(&last, &snapshot(&dir.path().join("pki"))),
        [
            "client/client.chain.pem",
            "client/client.crt",
            "client/client.key",
            "mtls-lab-state.json"
        ]
    );
}

#[test]
fn tampered_files_and_a_corrupt_state_file_are_made_again_and_said() {
    let dir = lab_dir(LAB);
    run_pki(dir.path());
    let pki = dir.path().join("pki");
    let before = snapshot(&pki);
    // A certificate changed by hand: issued again with its key; what it issued is unaffected (a leaf).
    std::fs::write(pki.join("client/client.crt"), "not a certificate\n").unwrap();
    let o = run_pki(dir.path());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "pki: `client`: issued (client/client.crt was changed since mtls-lab wrote it)\n"
    );
    let after = snapshot(&pki);
    assert_eq!(
        after[Path::new("client/client.key")],
        before[Path::new("client/client.key")]
    );
    // A key changed by hand: a new key, and its certificate and everything under it issued again.
    std::fs::write(pki.join("inter/inter.key"), "garbage\n").unwrap();
    let o = run_pki(dir.path());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "pki: `inter`: a new key (inter/inter.key was changed since mtls-lab wrote it)\npki: `inter`: issued (its key is new)\npki: `server`: issued (its issuer `inter` was issued again)\n"
    );
    // A key made readable by others is rewritten private.
    use std::os::unix::fs::PermissionsExt;
    let key = pki.join("root/root.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let root_key = std::fs::read(&key).unwrap();
    run_pki(dir.path());
    assert_eq!(std::fs::read(&key).unwrap(), root_key, "the same key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A corrupt state file: everything made afresh, said once.
    std::fs::write(pki.join("mtls-lab-state.json"), "{").unwrap();
    let o = run_pki(dir.path());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "pki: mtls-lab-state.json is corrupt (EOF while parsing an object at line 1 column 1): every certificate and key is made afresh\n"
    );
    // A link planted where a key goes: refused before anything is read or written.
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::fs::remove_file(pki.join("server/server.key")).unwrap();
    std::os::unix::fs::symlink(&victim, pki.join("server/server.key")).unwrap();
    let o = mtls_with_cache(
        dir.path(),
        &dir.path().join("cache"),
        &["run", "persist.yaml", "--pki", "pki"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is a symbolic link"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
}

/// Whether `program` runs (`--version`).
fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_certificate_expired_under_offsets_is_renewed_and_one_with_fixed_times_is_kept() {
    // libfaketime preloaded, as the runner runs a program at a lab's clock.
    let Some(clock) = mtls_lab::lab::faketime::environment(
        time::OffsetDateTime::now_utc() - time::Duration::days(100),
        None,
    ) else {
        eprintln!("skipped: libfaketime is not installed (.ci/run installs it)");
        return;
    };
    let lab = r#"
lab: aging
authorities:
  ca: { subject: { CN: Aging CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, usage: server, valid: { until: +30d } }
  fixed: { issuer: ca, subject: { CN: fixed }, usage: client, valid: { from: 2020-01-01, until: 2020-06-01 } }
  gone: { issuer: ca, subject: { CN: gone }, usage: client, valid: { from: -30d, until: -1d } }
servers:
  web: { certificate: server, trust: [ca] }
cases:
  - name: the server is valid
    client: { trust: [ca] }
    server: web
    expect: { outcome: rejected, by: server, reason: certificate_required }
  - name: the expired client is refused
    client: { certificate: gone, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: expired }
"#;
    let dir = lab_dir(lab);
    // Made 100 days ago: the server's +30d has run out since, the others say the same now as then.
    let o = Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir.path())
        .envs(clock)
        .args(["pki", "persist.yaml", "--pki", "pki"])
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = snapshot(&dir.path().join("pki"));
    let o = run_pki(dir.path());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "pki: `server`: issued (renewed: its validity is an offset from now, and the one made before has aged enough to change a verdict)\n"
    );
    assert_eq!(
        changed(&before, &snapshot(&dir.path().join("pki"))),
        [
            "mtls-lab-state.json",
            "server/server.chain.pem",
            "server/server.crt"
        ]
    );
}

#[test]
fn the_key_cache_is_private_and_no_cache_writes_nothing() {
    let dir = lab_dir(LAB);
    let cache = dir.path().join("xdg");
    let o = mtls_with_cache(dir.path(), &cache, &["run", "persist.yaml", "--no-cache"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!cache.exists(), "--no-cache writes nothing");

    let o = mtls_with_cache(dir.path(), &cache, &["run", "persist.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    use std::os::unix::fs::PermissionsExt;
    let keys = cache.join("mtls-lab");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    let files: Vec<PathBuf> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 4, "one key per name: {files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
        assert!(f.display().to_string().ends_with("-ecdsa-p256.key"));
    }
    // A warm run takes them and writes none.
    let before = snapshot(&keys);
    let o = mtls_with_cache(dir.path(), &cache, &["run", "persist.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(changed(&before, &snapshot(&keys)), Vec::<String>::new());
    // A key file made readable by others is not used: replaced by a new private one.
    std::fs::set_permissions(&files[0], std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = mtls_with_cache(dir.path(), &cache, &["run", "persist.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(mode(&files[0]), 0o600);
    assert_ne!(
        std::fs::read(&files[0]).unwrap(),
        before[files[0].strip_prefix(&keys).unwrap()]
    );
}

/// Each case's file, lab, name, status and observed (outcome, by, reason) in a JSON report.
fn verdicts(report: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let mut out = Vec::new();
    for lab in v["labs"].as_array().unwrap() {
        for c in lab["cases"].as_array().unwrap() {
            let o = &c["observed"];
            out.push(format!(
                "{} › {}: {} {} {} {}",
                lab["lab"], c["name"], c["status"], o["outcome"], o["by"], o["reason"]
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn verdicts_are_the_same_cold_and_warm_with_the_cache_and_with_pki() {
    let dir = tempfile::tempdir().unwrap();
    let labs: Vec<String> = [
        "seed-mtls.yaml",
        "rogue-ca-same-name.yaml",
        "expired-both-ways.yaml",
        "not-yet-valid-both-ways.yaml",
        "short-lived-certificate.yaml",
        "pinning.yaml",
        "revoked-both-ways.yaml",
    ]
    .iter()
    .map(|l| root().join("labs").join(l).display().to_string())
    .collect();
    let cache = dir.path().join("xdg");
    let mut all = Vec::new();
    for (i, extra) in [vec![], vec![], vec!["--pki", "pki"], vec!["--pki", "pki"]]
        .into_iter()
        .enumerate()
    {
        let report = dir.path().join(format!("r{i}.json"));
        let report_arg = report.display().to_string();
        let mut args = vec!["run"];
        args.extend(labs.iter().map(String::as_str));
        args.extend(["--report-json", &report_arg]);
        args.extend(extra);
        let o = mtls_with_cache(dir.path(), &cache, &args);
        assert_eq!(o.status.code(), Some(0), "run {i}: {}", text(&o));
        all.push(verdicts(&report));
    }
    assert!(
        all[0].iter().any(|v| v.contains("bad_signature")),
        "{:#?}",
        all[0]
    );
    for (i, v) in all.iter().enumerate().skip(1) {
        assert_eq!(v, &all[0], "run {i} differs from the cold run");
    }
    // Several labs: one PKI directory each, named by the lab.
    assert!(dir.path().join("pki/seed-mtls/ca/ca.key").is_file());
    assert!(dir
        .path()
        .join("pki/rogue-ca-same-name/mtls-lab-state.json")
        .is_file());
}

#[test]
fn serve_with_pki_serves_the_kept_pki_and_changes_nothing() {
    let dir = lab_dir(LAB);
    let o = mtls_with_cache(
        dir.path(),
        &dir.path().join("cache"),
        &["pki", "persist.yaml", "--pki", "pki", "--p12"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = snapshot(&dir.path().join("pki"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir.path())
        .args(["serve", "persist.yaml", "--pki", "pki"])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its first line comes once the PKI is written back.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead, Read};
        let mut reader = std::io::BufReader::new(stdout);
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        let _ = tx.send(first);
        // Keep reading, so that serve never writes to a closed pipe.
        let _ = std::io::copy(&mut reader.by_ref(), &mut std::io::sink());
    });
    let first = rx.recv_timeout(std::time::Duration::from_secs(20));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        first.as_deref(),
        Ok("lab `persist`: its PKI is in pki (.p12 password mtls-lab)\n"),
        "{}",
        text(&o)
    );
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert_eq!(
        changed(&before, &snapshot(&dir.path().join("pki"))),
        Vec::<String>::new(),
        "every key, certificate and .p12 kept"
    );
}

#[test]
fn every_mtls_lab_the_tests_start_keeps_its_key_cache_out_of_the_users() {
    // Set before main by `common`, so inherited by every command any test starts.
    assert_eq!(
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from),
        Some(test_cache_home())
    );
    assert!(test_cache_home().starts_with(env!("CARGO_TARGET_TMPDIR")));
}

#[test]
fn a_pki_directory_of_another_lab_is_refused_unless_pki_force_replaces_it() {
    let dir = lab_dir(LAB);
    std::fs::write(
        dir.path().join("other.yaml"),
        LAB.replace("lab: persist", "lab: other"),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let mtls = |args: &[&str]| mtls_with_cache(dir.path(), &cache, args);
    let o = mtls(&["pki", "persist.yaml", "--out", "pki"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let state = std::fs::read_to_string(dir.path().join("pki/mtls-lab-state.json")).unwrap();
    let canonical = |f: &str| {
        std::fs::canonicalize(dir.path().join(f))
            .unwrap()
            .display()
            .to_string()
    };
    let (ours, theirs) = (canonical("persist.yaml"), canonical("other.yaml"));
    assert!(state.contains("\"name\": \"persist\""), "{state}");
    assert!(state.contains(&format!("\"file\": \"{ours}\"")), "{state}");
    let first = snapshot(&dir.path().join("pki"));
    let refused = format!(
        "error: pki holds the PKI of lab `persist` ({ours}), not of lab `other` ({theirs}); use another directory"
    );
    // pki --out, pki --pki, run --pki, serve --pki and show --pki all refuse, and change nothing.
    for args in [
        &["pki", "other.yaml", "--out", "pki"][..],
        &["pki", "other.yaml", "--pki", "pki"],
        &["run", "other.yaml", "--pki", "pki"],
        &["serve", "other.yaml", "--pki", "pki"],
    ] {
        let o = mtls(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with(&refused), "{args:?}: {}", text(&o));
        if args[0] == "pki" {
            assert!(err.contains(", or --force to replace it"), "{err}");
        }
        assert_eq!(
            changed(&first, &snapshot(&dir.path().join("pki"))),
            Vec::<String>::new()
        );
    }
    let o = mtls(&["show", "other.yaml", "server", "--pki", "pki"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "error: --pki: pki holds the PKI of lab `persist` ({ours}), not of lab `other` ({theirs})\n"
        )
    );
    assert_eq!(o.stdout, b"");
    // The lab it was made for still uses it.
    let o = mtls(&["show", "persist.yaml", "server", "--pki", "pki"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // pki --force replaces it, and the state then records the other lab.
    let o = mtls(&["pki", "other.yaml", "--out", "pki", "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let state = std::fs::read_to_string(dir.path().join("pki/mtls-lab-state.json")).unwrap();
    assert!(
        state.contains(&format!("\"file\": \"{theirs}\"")),
        "{state}"
    );
    let o = mtls(&["run", "other.yaml", "--pki", "pki"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_report_inside_the_pki_directory_is_refused_before_the_run() {
    let dir = lab_dir(LAB);
    run_pki(dir.path());
    let first = snapshot(&dir.path().join("pki"));
    let cache = dir.path().join("cache");
    for (option, path, name) in [
        ("--report-html", "pki/root/root.key", "HTML"),
        ("--report-json", "pki/mtls-lab-state.json", "JSON"),
        ("--report-junit", "./pki/new.xml", "JUnit"),
    ] {
        let o = mtls_with_cache(
            dir.path(),
            &cache,
            &["run", "persist.yaml", "--pki", "pki", option, path],
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("error: cannot write the {name} report {path}: it is inside the PKI directory pki (--pki), whose files it would replace\nnothing was run\n"),
            "{}",
            text(&o)
        );
        assert_eq!(
            changed(&first, &snapshot(&dir.path().join("pki"))),
            Vec::<String>::new()
        );
    }
    // Beside it is fine.
    let o = mtls_with_cache(
        dir.path(),
        &cache,
        &[
            "run",
            "persist.yaml",
            "--pki",
            "pki",
            "--report-json",
            "pki.json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_pki_directory_that_is_a_dangling_link_or_a_file_is_refused_and_show_needs_one() {
    let dir = lab_dir(LAB);
    std::os::unix::fs::symlink("nowhere", dir.path().join("dl")).unwrap();
    std::fs::write(dir.path().join("afile"), "").unwrap();
    let cache = dir.path().join("cache");
    let mtls = |args: &[&str]| mtls_with_cache(dir.path(), &cache, args);
    for (cmd, option) in [
        ("run", "--pki"),
        ("pki", "--pki"),
        ("pki", "--out"),
        ("serve", "--pki"),
    ] {
        let o = mtls(&[cmd, "persist.yaml", option, "dl"]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).starts_with(&format!(
                "error: {option}: dl is a symbolic link to nothing (a PKI directory is never created through a link)\n"
            )),
            "{}",
            text(&o)
        );
        let o = mtls(&[cmd, "persist.yaml", option, "afile"]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).starts_with(&format!(
                "error: {option}: afile is a file, not a directory\n"
            )),
            "{}",
            text(&o)
        );
    }
    assert!(!dir.path().join("nowhere").exists());
    for (pki, why) in [
        ("/nonexistent", "/nonexistent does not exist"),
        ("afile", "afile is not a directory"),
        (
            "cache",
            "cache is not a PKI directory: mtls-lab-state.json is missing",
        ),
    ] {
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        let o = mtls(&["show", "persist.yaml", "server", "--pki", pki]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("error: --pki: {why}\n")
        );
        assert_eq!(o.stdout, b"");
    }
}

#[test]
fn the_key_cache_writes_ed25519_keys_openssl_reads_and_warns_when_it_cannot_be_used() {
    let lab = LAB.replace("usage: server }", "usage: server, key: ed25519 }");
    let dir = lab_dir(&lab);
    let cache = dir.path().join("cache");
    let o = mtls_with_cache(dir.path(), &cache, &["run", "persist.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "", "{}", text(&o));
    let ed: Vec<PathBuf> = std::fs::read_dir(cache.join("mtls-lab"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-ed25519.key"))
        .collect();
    assert_eq!(ed.len(), 1, "{ed:?}");
    let pem = std::fs::read(&ed[0]).unwrap();
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    assert_eq!(block.label, "PRIVATE KEY");
    // PKCS#8 v1 (RFC 5208: version 0, no public key), which every OpenSSL reads.
    assert_eq!(&block.contents[..5], &[0x30, 0x2e, 0x02, 0x01, 0x00]);
    if have("openssl") {
        let o = Command::new("openssl")
            .args(["pkey", "-noout", "-in"])
            .arg(&ed[0])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    // A warm run reads it back.
    let o = mtls_with_cache(dir.path(), &cache, &["run", "persist.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read(&ed[0]).unwrap(), pem);
    // An unusable cache is said in one warning line, and the run goes on without it.
    let file = dir.path().join("afile");
    std::fs::write(&file, "").unwrap();
    let links = dir.path().join("links");
    std::fs::create_dir(&links).unwrap();
    std::os::unix::fs::symlink(&cache, links.join("mtls-lab")).unwrap();
    for (home, why) in [
        (&file, "File exists (os error 17)"),
        (
            &links,
            "is a symbolic link; the key cache is never used through a link",
        ),
    ] {
        let o = mtls_with_cache(dir.path(), home, &["run", "persist.yaml"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!(
                "warning: key cache {} not used: {why}\n",
                home.join("mtls-lab").display()
            )
        );
    }
}
