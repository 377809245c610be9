//! TAP version 14: a plan, one line per case, YAML diagnostics under each failure.

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

/// The TAP report of a run.
pub fn tap(results: &[LabResult]) -> String {
    let total: usize = results.iter().map(|r| r.cases.len()).sum();
    let mut out = format!("TAP version 14\n1..{total}\n");
    let mut n = 0;
    for lab in results {
        for case in &lab.cases {
            n += 1;
            let name = description(&format!("{} › {}", lab.lab, case.name));
            if case.status == Status::Passed {
                let _ = writeln!(out, "ok {n} - {name}");
                continue;
            }
            let _ = writeln!(out, "not ok {n} - {name}");
            out.push_str("  ---\n");
            let message = match case.status {
                Status::Error => case
                    .messages
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "not run".into()),
                _ => case.messages.first().cloned().unwrap_or_default(),
            };
            let _ = writeln!(out, "  message: {}", quoted(&message));
            let _ = writeln!(
                out,
                "  severity: {}",
                if case.status == Status::Error {
                    "error"
                } else {
                    "fail"
                }
            );
            let _ = writeln!(
                out,
                "  at:\n    file: {}\n    line: {}",
                quoted(&lab.file.display().to_string()),
                case.line
            );
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
            out.push_str("  ...\n");
        }
    }
    out
}
