//! TAP version 14: a plan, one line per case, YAML diagnostics under each failure. A battery's matrix
//! ([`super::battery`]) follows the test points as comment lines, and each failed derived case's
//! diagnostics say its verdict (`battery: {peer, failure, verdict}`).

use std::fmt::Write as _;

use crate::run::{LabResult, Status};
use crate::verdict::expectation_summary;

/// A string as a YAML double-quoted scalar (JSON strings are valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// TAP descriptions may not contain `#` unescaped (it starts a directive).
fn description(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('#', "\\#")
        .replace(['\n', '\r'], " ")
}

/// The TAP report of a run: checks, then cases, one test point each; skipped items carry `# SKIP`.
pub fn tap(results: &[LabResult]) -> String {
    let total: usize = results
        .iter()
        .map(|r| r.cases.len() + r.checks.len() + usize::from(r.could_not_run().is_some()))
        .sum();
    let mut out = format!("TAP version 14\n1..{total}\n");
    let batteries = super::battery::matrix(results);
    let mut n = 0;
    for (l, lab) in results.iter().enumerate() {
        if let Some(e) = lab.could_not_run() {
            n += 1;
            let _ = writeln!(
                out,
                "not ok {n} - {}\n  ---\n  message: {}\n  severity: error\n  at:\n    file: {}\n  ...",
                description(&format!("{} › {}", lab.lab, super::COULD_NOT_RUN)),
                quoted(e),
                quoted(&lab.file.display().to_string())
            );
        }
        for (i, item) in super::items(lab).into_iter().enumerate() {
            n += 1;
            let cell = i
                .checked_sub(lab.checks.len())
                .and_then(|c| super::battery::cell(&batteries, l, c));
            let name = description(&format!("{} › {}", lab.lab, item.name));
            match item.status {
                Status::Passed => {
                    let _ = writeln!(out, "ok {n} - {name}");
                    continue;
                }
                Status::Skipped => {
                    let why = item.messages.first().map_or("skipped", String::as_str);
                    let why = why.strip_prefix("skipped: ").unwrap_or(why);
                    let _ = writeln!(out, "ok {n} - {name} # SKIP {}", description(why));
                    continue;
                }
                _ => {}
            }
            let _ = writeln!(out, "not ok {n} - {name}");
            if item.grade.hidden {
                continue;
            }
            out.push_str("  ---\n");
            let message = match item.status {
                Status::Error => item
                    .messages
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "not run".into()),
                _ => item.messages.first().cloned().unwrap_or_default(),
            };
            let _ = writeln!(out, "  message: {}", quoted(&message));
            let _ = writeln!(
                out,
                "  severity: {}",
                if item.status == Status::Error {
                    "error"
                } else {
                    "fail"
                }
            );
            let _ = writeln!(
                out,
                "  at:\n    file: {}\n    line: {}",
                quoted(&lab.file.display().to_string()),
                item.line
            );
            if let Some(case) = item.case {
                let _ = writeln!(
                    out,
                    "  expected: {}",
                    quoted(&expectation_summary(&case.expected))
                );
                if let Some(o) = &case.observed {
                    let _ = writeln!(out, "  observed: {}", quoted(&o.summary()));
                    if let Some(d) = &o.detail {
                        let _ = writeln!(out, "  detail: {}", quoted(d));
                    }
                }
            } else if item.messages.len() > 1 {
                out.push_str("  problems:\n");
                for m in item.messages {
                    let _ = writeln!(out, "    - {}", quoted(m));
                }
            }
            if let Some((b, row)) = cell {
                let _ = writeln!(
                    out,
                    "  battery:\n    peer: {}\n    failure: {}\n    verdict: {}",
                    quoted(&b.peer),
                    row.failure_key(),
                    row.verdict.key()
                );
            }
            if lab.graded {
                let _ = writeln!(
                    out,
                    "  points: {}\n  max_points: {}",
                    super::points_text(item.grade.points),
                    super::points_text(item.grade.max_points)
                );
            }
            out.push_str("  ...\n");
        }
    }
    for line in super::battery::table(&batteries).lines() {
        let _ = writeln!(out, "# {line}");
    }
    if results.iter().any(|r| r.graded) {
        let (p, m) = super::points(results);
        let _ = writeln!(
            out,
            "# score: {} of {} points",
            super::points_text(p),
            super::points_text(m)
        );
    }
    out
}
