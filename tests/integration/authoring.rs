//! Authoring tools as users run them: `check`, `init`, `list`, `--filter`, `--partition`, `--fail-fast`.

use std::collections::BTreeSet;

use crate::common;

use common::{golden, mtls, root};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn check_passes_every_lab_in_labs() {
    let o = mtls(&root(), &["check", "labs", "--deny-warnings"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).contains("0 warning(s)"));
}

#[test]
fn check_warns_about_cases_that_cannot_be_accepted() {
    let dir = root().join("tests/golden/check");
    let o = mtls(&dir, &["check", "cannot-be-accepted.yaml"]);
    assert_eq!(o.status.code(), Some(0));
    golden(
        &dir.join("cannot-be-accepted.stderr"),
        &String::from_utf8_lossy(&o.stderr),
    );
    let strict = mtls(
        &dir,
        &["check", "cannot-be-accepted.yaml", "--deny-warnings"],
    );
    assert_eq!(strict.status.code(), Some(2));
}

#[test]
fn check_reports_input_errors_like_run() {
    let dir = root().join("tests/golden/bad");
    let check = mtls(&dir, &["check", "dangling-reference.yaml"]);
    let run = mtls(&dir, &["run", "dangling-reference.yaml"]);
    assert_eq!(check.status.code(), Some(2));
    assert_eq!(check.stderr, run.stderr);
}

#[test]
fn init_writes_a_lab_that_passes() {
    let dir = tempfile::tempdir().unwrap();
    let o = mtls(dir.path(), &["init", "first-lab"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("first-lab.yaml")).unwrap();
    assert!(text.starts_with("# yaml-language-server: $schema=lab.schema.json"));
    assert!(dir.path().join("lab.schema.json").exists());
    let run = mtls(dir.path(), &["run", "first-lab.yaml"]);
    assert_eq!(run.status.code(), Some(0), "{}", stdout(&run));
    assert!(stdout(&run).ends_with("3 passed, 0 failed\n"));
    // A second init refuses to overwrite.
    assert_eq!(
        mtls(dir.path(), &["init", "first-lab"]).status.code(),
        Some(2)
    );
}

fn listed(args: &[&str]) -> Vec<String> {
    let mut all = vec!["list", "labs"];
    all.extend_from_slice(args);
    let o = mtls(&root(), &all);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o).lines().map(str::to_string).collect()
}

#[test]
fn list_shows_every_case_once() {
    let all = listed(&[]);
    assert!(all.contains(&"seed-mtls › valid client is accepted".to_string()));
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len());
    let json = mtls(&root(), &["list", "labs", "--format", "json"]);
    let items: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(items.len(), all.len());
    assert!(items
        .iter()
        .all(|i| i["file"].is_string() && i["line"].is_u64() && i["expect"].is_string()));
}

#[test]
fn partitions_are_disjoint_and_cover_the_suite() {
    let all: BTreeSet<String> = listed(&[]).into_iter().collect();
    for n in [1, 2, 3, 5] {
        let mut seen = BTreeSet::new();
        for m in 1..=n {
            for case in listed(&["--partition", &format!("slice:{m}/{n}")]) {
                assert!(seen.insert(case.clone()), "{case} in two slices of {n}");
            }
        }
        assert_eq!(seen, all, "the {n} slices do not cover the suite");
    }
}

#[test]
fn filters_select_by_substring_and_glob() {
    let expired = listed(&["--filter", "expired"]);
    assert!(!expired.is_empty());
    assert!(expired.iter().all(|c| c.to_lowercase().contains("expired")));
    let glob = listed(&["--filter", "seed-mtls › *"]);
    assert_eq!(glob.len(), 3);
    assert!(listed(&["--filter", "no such case at all"]).is_empty());
}

#[test]
fn run_with_a_filter_runs_only_the_selection() {
    let o = mtls(&root(), &["run", "labs", "--filter", "seed-mtls › valid*"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).ends_with("1 passed, 0 failed\n"),
        "{}",
        stdout(&o)
    );
    let none = mtls(&root(), &["run", "labs", "--filter", "no such case at all"]);
    assert_eq!(none.status.code(), Some(2));
    let bad = mtls(&root(), &["run", "labs", "--partition", "slice:3/2"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn fail_fast_stops_after_the_first_failing_lab() {
    let o = mtls(
        &root(),
        &[
            "run",
            "--fail-fast",
            "tests/golden/run/wrong-reason.yaml",
            "labs/seed-mtls.yaml",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!stdout(&o).contains("seed-mtls"), "{}", stdout(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 lab(s) not run"));
}

#[test]
fn a_matrix_expands_into_one_lab_per_combination_with_readable_names() {
    let cases = listed(&["--filter", "tag:variations"]);
    assert_eq!(cases.len(), 12, "{cases:#?}");
    assert!(cases.contains(
        &"variations[key=ed25519, tls=1.2] › a ed25519 server over TLS 1.2 accepts the client"
            .to_string()
    ));
    assert!(cases.contains(
        &"variations[key=ecdsa-p384, tls=1.3] › without a client certificate over TLS 1.3"
            .to_string()
    ));
    let o = mtls(&root(), &["run", "labs/variations-key-and-version.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Each variant really ran with its own key type and TLS version.
    assert!(stdout(&o).contains("variations[key=ed25519, tls=1.2] › a ed25519 server over TLS 1.2 accepts the client: accepted (TLSv1.2;"));
    assert!(stdout(&o).contains("variations[key=ecdsa-p256, tls=1.3] › a ecdsa-p256 server over TLS 1.3 accepts the client: accepted (TLSv1.3;"));
    assert!(stdout(&o).ends_with("12 passed, 0 failed\n"));
}

#[test]
fn matrix_values_reach_typed_fields() {
    let now = time::OffsetDateTime::now_utc();
    let labs =
        mtls_lab::lab::load_all(&root().join("labs/variations-key-and-version.yaml"), now).unwrap();
    let keys: Vec<_> = labs
        .iter()
        .map(|l| {
            l.certificates
                .iter()
                .find(|c| c.name == "server")
                .unwrap()
                .key
        })
        .collect();
    use mtls_lab::spec::KeyType::*;
    assert_eq!(
        keys,
        vec![EcdsaP256, EcdsaP256, EcdsaP384, EcdsaP384, Ed25519, Ed25519]
    );
    // A matrix lab is refused by the single-lab loader, with a pointer to the right one.
    assert!(
        mtls_lab::lab::load(&root().join("labs/variations-key-and-version.yaml"), now).is_err()
    );
}

#[test]
fn include_brings_shared_definitions_and_fragments_are_not_run_as_labs() {
    let now = time::OffsetDateTime::now_utc();
    let labs =
        mtls_lab::lab::load_all(&root().join("labs/variations-key-and-version.yaml"), now).unwrap();
    let names: Vec<&str> = labs[0]
        .authorities
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, vec!["ca"]);
    assert!(labs[0].certificates.iter().any(|c| c.name == "client"));
    let all = listed(&[]);
    assert!(all.iter().all(|c| !c.contains("_variations-pki")));
}

#[test]
fn tags_select_cases_from_the_lab_and_the_case() {
    let required = listed(&["--filter", "tag:certificate_required"]);
    assert_eq!(required.len(), 6);
    assert!(required
        .iter()
        .all(|c| c.contains("without a client certificate")));
}

#[test]
fn every_error_of_a_file_comes_back_as_data() {
    use mtls_lab::lab::name::NameError;
    use mtls_lab::lab::{LabError, Problem};
    let path = root().join("tests/golden/bad/four-mistakes.yaml");
    let errors = mtls_lab::lab::load(&path, time::OffsetDateTime::now_utc()).unwrap_err();
    let found: Vec<&LabError> = errors.iter().map(|e| &e.error).collect();
    assert_eq!(found.len(), 4, "{errors}");
    assert!(matches!(
        found[0].problem(),
        Some(Problem::Name(NameError::NotDns { value })) if value == "bad name"
    ));
    assert!(matches!(
        found[1],
        LabError::UnknownName { kind: "certificate", name, .. } if name == "clinet"
    ));
    assert_eq!(found[2].problem(), Some(&Problem::BareRejection));
    assert_eq!(found[3].problem(), Some(&Problem::RejectionFieldOnAccepted));
    assert_eq!(errors.first().pos.map(|p| p.line), Some(6));
}
