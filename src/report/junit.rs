//! JUnit XML, as CI systems (GitLab, Jenkins, GitHub test reporters) read it: one testsuite per lab, one
//! testcase per check and case. A lab with a battery carries its matrix ([`super::battery`]) twice: each
//! derived case's verdict as testcase properties (`battery.peer`, `battery.failure`, `battery.verdict`)
//! and a `system-out` line (GitLab shows only a testcase's), and the whole table in the testsuite's
//! `system-out`.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::run::{LabResult, Status};
use crate::verdict::expectation_summary;

/// Escapes text for XML and drops control characters XML 1.0 cannot carry.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The suite names: the lab names, with the file added where two labs share a name.
fn suite_names(results: &[LabResult]) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for r in results {
        *count.entry(r.lab.as_str()).or_default() += 1;
    }
    results
        .iter()
        .map(|r| {
            if count[r.lab.as_str()] > 1 {
                format!("{} ({})", r.lab, r.file.display())
            } else {
                r.lab.clone()
            }
        })
        .collect()
}

/// The JUnit report of a run: checks and cases as testcases, skipped items as `<skipped>`, points as
/// testcase properties in graded labs, the battery matrix as above.
pub fn junit(results: &[LabResult]) -> String {
    let t = super::totals(results);
    let batteries = super::battery::matrix(results);
    let total_ms: u64 = results.iter().map(|r| r.duration_ms).sum();
    // A lab that could not run at all (e.g. an invalid lab file) and has nothing to list gets one errored testcase.
    let empty_errors = results
        .iter()
        .filter(|r| r.could_not_run().is_some())
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"mtls-lab\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        t.passed + t.failed + t.errors + t.skipped + empty_errors,
        t.failed,
        t.errors + empty_errors,
        t.skipped,
        seconds(total_ms)
    );
    for (l, (lab, suite)) in results.iter().zip(suite_names(results)).enumerate() {
        let items = super::items(lab);
        let lab_error = lab.could_not_run();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" file=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
            xml(&suite),
            xml(&lab.file.display().to_string()),
            items.len() + usize::from(lab_error.is_some()),
            lab.count(Status::Failed),
            lab.count(Status::Error) + usize::from(lab_error.is_some()),
            lab.count(Status::Skipped),
            seconds(lab.duration_ms)
        );
        if let Some(e) = lab_error {
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" time=\"0.000\">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>",
                xml(super::COULD_NOT_RUN),
                xml(&suite),
                xml(&lab.file.display().to_string()),
                xml(e),
                xml(e)
            );
        }
        for (i, item) in items.iter().enumerate() {
            let cell = i
                .checked_sub(lab.checks.len())
                .and_then(|c| super::battery::cell(&batteries, l, c));
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{}\">",
                xml(item.name),
                xml(&suite),
                xml(&lab.file.display().to_string()),
                item.line,
                seconds(item.duration_ms())
            );
            if lab.graded || cell.is_some() {
                out.push_str("      <properties>\n");
                if lab.graded {
                    let _ = writeln!(
                        out,
                        "        <property name=\"points\" value=\"{}\"/>\n        <property name=\"max_points\" value=\"{}\"/>",
                        super::points_text(item.grade.points),
                        super::points_text(item.grade.max_points)
                    );
                }
                if let Some((b, row)) = cell {
                    let _ = writeln!(
                        out,
                        "        <property name=\"battery.peer\" value=\"{}\"/>\n        <property name=\"battery.failure\" value=\"{}\"/>\n        <property name=\"battery.verdict\" value=\"{}\"/>",
                        xml(&b.peer),
                        xml(&row.failure_key()),
                        row.verdict.key()
                    );
                }
                out.push_str("      </properties>\n");
            }
            let hidden = item.grade.hidden;
            match item.status {
                Status::Passed => {}
                Status::Skipped => {
                    let why = item.messages.first().map_or("skipped", String::as_str);
                    let _ = writeln!(out, "      <skipped message=\"{}\"/>", xml(why));
                }
                Status::Failed if hidden => {
                    let _ = writeln!(
                        out,
                        "      <failure message=\"hidden test failed\" type=\"hidden\"></failure>"
                    );
                }
                Status::Failed => {
                    let body = match item.case {
                        Some(case) if case.observed.is_some() => super::case_details(lab, case),
                        _ => item
                            .messages
                            .iter()
                            .map(|m| format!("{m}\n"))
                            .collect::<String>(),
                    };
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{}\" type=\"mismatch\">{}</failure>",
                        xml(&failure_message(item)),
                        xml(&body)
                    );
                }
                Status::Error => {
                    let _ = writeln!(
                        out,
                        "      <error message=\"{}\" type=\"error\">{}</error>",
                        xml(item.messages.first().map_or("not run", String::as_str)),
                        xml(&item.messages.join("\n"))
                    );
                }
            }
            if let Some((b, row)) = cell {
                let _ = writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    xml(&row.cell_line(b))
                );
            }
            out.push_str("    </testcase>\n");
        }
        let mine: Vec<_> = batteries
            .iter()
            .filter(|b| b.lab_index == l)
            .cloned()
            .collect();
        if !mine.is_empty() {
            let _ = writeln!(
                out,
                "    <system-out>{}</system-out>",
                xml(&super::battery::table(&mine))
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The failure message: expected vs observed for a handshake, the first failed property for a check.
fn failure_message(item: &super::Item<'_>) -> String {
    match item.case {
        Some(case) => {
            let expected = expectation_summary(&case.expected);
            match &case.observed {
                Some(o) => format!("expected {expected}, observed {}", o.summary()),
                None => format!(
                    "expected {expected}, not run: {}",
                    item.messages.first().map_or("", String::as_str)
                ),
            }
        }
        None => item.messages.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_and_drops_control_characters() {
        assert_eq!(
            xml("a<b>&\"c\"\u{1b}[31m\u{0}"),
            "a&lt;b&gt;&amp;&quot;c&quot;[31m"
        );
    }
}
