//! Authoring tools as users run them: `check`, `init`, `list`, `--filter`, `--partition`, `--fail-fast`.

use std::collections::BTreeSet;

mod common;

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
