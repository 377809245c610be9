//! Certificate checks (a lab's `checks`), run before the cases, and the `requires` rule that holds an item
//! back when a prerequisite did not pass.

use std::collections::HashMap;

use crate::lab::Lab;
use crate::pki::Pki;
use crate::run::result::{CheckResult, Grade, Status};
use crate::verdict::certcheck;

/// Runs the lab's certificate checks in file order, at the lab's clock (now when it has none), and records
/// each status in `done` for later `requires`. A check whose certificate could not be loaded fails with why;
/// one whose prerequisite did not pass is skipped.
pub fn run_checks(lab: &Lab, pki: &Pki, done: &mut HashMap<String, Status>) -> Vec<CheckResult> {
    let at = lab.at.unwrap_or_else(time::OffsetDateTime::now_utc);
    let mut out = Vec::new();
    for check in &lab.checks {
        let (status, properties, messages) = match unmet(&check.grading.requires, done) {
            Some(why) => (Status::Skipped, Vec::new(), vec![why]),
            None => match certcheck::evaluate(lab, pki, check, at) {
                Ok(props) => {
                    let messages: Vec<String> =
                        props.iter().filter_map(|p| p.message.clone()).collect();
                    let status = if messages.is_empty() {
                        Status::Passed
                    } else {
                        Status::Failed
                    };
                    (status, props, messages)
                }
                Err(why) => (Status::Failed, Vec::new(), vec![why]),
            },
        };
        done.insert(check.name.clone(), status);
        out.push(CheckResult {
            name: check.name.clone(),
            line: check.line,
            certificate: lab.name_of(check.certificate).to_string(),
            status,
            properties,
            messages,
            grade: Grade::of(&check.grading, status, &[]),
        });
    }
    out
}

/// Why an item that requires `requires` cannot run, given the results so far; `None` when every prerequisite passed
/// (a prerequisite not in this run, e.g. filtered out, does not hold it back).
pub(super) fn unmet(requires: &[String], done: &HashMap<String, Status>) -> Option<String> {
    let why: Vec<String> = requires
        .iter()
        .filter_map(|r| {
            let what = match done.get(r)? {
                Status::Passed => return None,
                Status::Failed => "failed",
                Status::Error => "could not run",
                Status::Skipped => "was skipped",
            };
            Some(format!("`{r}`, which {what}"))
        })
        .collect();
    (!why.is_empty()).then(|| format!("skipped: requires {}", why.join(" and ")))
}
