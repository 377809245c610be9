//! JUnit XML, as CI systems (GitLab, Jenkins, GitHub test reporters) read it: one testsuite per lab, one testcase per case.

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

/// The JUnit report of a run.
pub fn junit(results: &[LabResult]) -> String {
    let t = super::totals(results);
    let total_ms: u64 = results.iter().map(|r| r.duration_ms).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"mtls-lab\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
        t.passed + t.failed + t.errors,
        t.failed,
        t.errors,
        seconds(total_ms)
    );
    for (lab, suite) in results.iter().zip(suite_names(results)) {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" file=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{}\">",
            xml(&suite),
            xml(&lab.file.display().to_string()),
            lab.cases.len(),
            lab.count(Status::Failed),
            lab.count(Status::Error),
            seconds(lab.duration_ms)
        );
        for case in &lab.cases {
            let ms = case.observed.as_ref().map_or(0, |o| o.duration_ms);
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{}\"",
                xml(&case.name),
                xml(&suite),
                xml(&lab.file.display().to_string()),
                case.line,
                seconds(ms)
            );
            let expected = expectation_summary(&case.expected);
            let observed = case
                .observed
                .as_ref()
                .map_or("not run".to_string(), |o| o.summary());
            match case.status {
                Status::Passed => out.push_str("/>\n"),
                Status::Failed => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"mismatch\">{}</failure>\n    </testcase>",
                        xml(&format!("expected {expected}, observed {observed}")),
                        xml(&super::case_details(lab, case))
                    );
                }
                Status::Error => {
                    let _ = writeln!(
                        out,
                        ">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>",
                        xml(case.messages.first().map_or("not run", String::as_str)),
                        xml(&case.messages.join("\n"))
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
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
