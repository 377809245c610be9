//! The gradebook of a class (`run LAB --submissions PATTERN`): one row per submission with the points
//! of every graded item, the total, the maximum and why each item lost points, built from each
//! submission's own JSON report ([`super::json`]) and rendered as CSV or JSON.

use serde::{Deserialize, Serialize};

use super::points_text;
use super::safe::clean;
use crate::run::round_points;

/// The version of the gradebook's JSON; it changes only when a field changes meaning or goes away.
pub const VERSION: u32 = 1;

/// What the gradebook reads of one submission's JSON report.
#[derive(Debug, Clone, Deserialize)]
pub struct SubmissionReport {
    summary: ReportSummary,
    labs: Vec<ReportLab>,
}

#[derive(Debug, Clone, Deserialize)]
struct ReportSummary {
    points: f64,
    max_points: f64,
    passed: usize,
    failed: usize,
    skipped: usize,
    errors: usize,
}

#[derive(Debug, Clone, Deserialize)]
struct ReportLab {
    lab: String,
    error: Option<String>,
    checks: Vec<ReportItem>,
    cases: Vec<ReportItem>,
}

#[derive(Debug, Clone, Deserialize)]
struct ReportItem {
    name: String,
    status: String,
    points: f64,
    max_points: f64,
    #[serde(default)]
    messages: Vec<String>,
}

impl SubmissionReport {
    /// Parses a JSON report as `run --report-json` writes it; errors with serde's message when it is
    /// not one.
    pub fn parse(text: &str) -> Result<SubmissionReport, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The report's one-line summary: `P of M points (N passed, N failed, N skipped[, N errors])`.
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        let errored = if s.errors > 0 {
            format!(", {} errors", s.errors)
        } else {
            String::new()
        };
        format!(
            "{} of {} points ({} passed, {} failed, {} skipped{errored})",
            points_text(s.points),
            points_text(s.max_points),
            s.passed,
            s.failed,
            s.skipped
        )
    }
}

/// One submission: its name, and its report, or why it could not be run.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The name shown in the gradebook (the directory's name).
    pub name: String,
    /// The report of its run, or why there is none.
    pub report: Result<SubmissionReport, String>,
    /// Its run's exit code, as a single `run` of it would exit (1 when it lost points), when it exited.
    pub exit_code: Option<u8>,
}

/// A graded item: a check or a case with points, named by its lab.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub lab: String,
    pub item: String,
    /// The most points the item gave any submission.
    pub max_points: f64,
}

/// One submission's points on one item (`None` when its run did not list the item) and why it lost
/// points (empty when it lost none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub points: Option<f64>,
    pub why: String,
}

/// One row of the gradebook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub submission: String,
    /// Whether the submission's run completed (its report was read).
    pub graded: bool,
    /// Its run's exit code (`run`'s codes: 0 full marks, 1 points lost, 3 something in it could not run).
    pub exit_code: Option<u8>,
    /// Why it could not be run, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub points: f64,
    pub max_points: f64,
    /// One cell per [`Gradebook::columns`], in their order.
    pub items: Vec<Cell>,
}

/// The gradebook: the graded items of the lab, and one row per submission in the order given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gradebook {
    pub version: u32,
    pub tool: &'static str,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// Why an item lost points: its status and the first line of each of its messages, on one line
/// (a program's quoted output stays in the submission's own report; private keys redacted, control
/// characters escaped); a lab that could not run gives its own error. Empty when it lost none.
fn why(item: &ReportItem, lab_error: Option<&str>) -> String {
    if round_points(item.points) >= round_points(item.max_points) && item.status != "skipped" {
        return String::new();
    }
    // A program's quoted output (`the client command's output (last 9 lines):` and its lines) is
    // left to the report: its heading alone would end the cell on a dangling colon.
    let quoted = |m: &&String| {
        m.contains("\n  | ") && m.lines().next().is_some_and(|l| l.ends_with("lines):"))
    };
    let mut lines: Vec<&str> = item
        .messages
        .iter()
        .filter(|m| !quoted(m))
        .filter_map(|m| m.lines().next())
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        lines.extend(lab_error.and_then(|e| e.lines().next()));
    }
    let text = lines.join("; ");
    let text = if text.is_empty() {
        item.status.clone()
    } else if text.starts_with(&format!("{}:", item.status)) {
        text
    } else {
        format!("{}: {text}", item.status)
    };
    clean(&text).into_owned()
}

/// Builds the gradebook of `submissions`: the columns are every item with points in any report (in
/// the order the reports list them), the rows the submissions in the order given.
pub fn build(submissions: &[Submission]) -> Gradebook {
    let mut columns: Vec<Column> = Vec::new();
    let all_items = |r: &SubmissionReport| -> Vec<(String, ReportItem, Option<String>)> {
        r.labs
            .iter()
            .flat_map(|l| {
                l.checks
                    .iter()
                    .chain(&l.cases)
                    .map(|i| (l.lab.clone(), i.clone(), l.error.clone()))
            })
            .collect()
    };
    for s in submissions {
        let Ok(r) = &s.report else { continue };
        for (lab, item, _) in all_items(r) {
            match columns
                .iter_mut()
                .find(|c| c.lab == lab && c.item == item.name)
            {
                Some(c) => c.max_points = c.max_points.max(item.max_points),
                None if item.max_points > 0.0 || item.status == "skipped" => columns.push(Column {
                    lab,
                    item: item.name,
                    max_points: item.max_points,
                }),
                None => {}
            }
        }
    }
    // A skipped item's points leave its maximum: an item skipped everywhere with no points is dropped.
    columns.retain(|c| c.max_points > 0.0);
    let rows = submissions
        .iter()
        .map(|s| match &s.report {
            Ok(r) => {
                let items = all_items(r);
                let cells = columns
                    .iter()
                    .map(|c| {
                        match items
                            .iter()
                            .find(|(l, i, _)| *l == c.lab && i.name == c.item)
                        {
                            Some((_, i, e)) => Cell {
                                points: Some(round_points(i.points)),
                                why: why(i, e.as_deref()),
                            },
                            None => Cell {
                                points: None,
                                why: "not run".into(),
                            },
                        }
                    })
                    .collect();
                Row {
                    submission: clean(&s.name).into_owned(),
                    graded: true,
                    exit_code: s.exit_code,
                    error: None,
                    points: round_points(r.summary.points),
                    max_points: round_points(r.summary.max_points),
                    items: cells,
                }
            }
            Err(e) => Row {
                submission: clean(&s.name).into_owned(),
                graded: false,
                exit_code: s.exit_code,
                error: Some(clean(e).into_owned()),
                points: 0.0,
                max_points: 0.0,
                items: columns
                    .iter()
                    .map(|_| Cell {
                        points: None,
                        why: "not run: the submission could not be run".into(),
                    })
                    .collect(),
            },
        })
        .collect();
    Gradebook {
        version: VERSION,
        tool: "mtls-lab",
        columns,
        rows,
    }
}

/// The gradebook as pretty JSON, with a final newline.
pub fn json(book: &Gradebook) -> String {
    let mut s =
        serde_json::to_string_pretty(book).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; text a spreadsheet
/// would take for a formula (a leading `=`, `+`, `-`, `@`) gets a leading `'` (OWASP's CSV injection
/// advice).
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The gradebook as CSV (RFC 4180, CRLF line ends): a header line, then one line per submission:
/// `submission,graded,exit_code,points,max_points,error`, then for each item `LAB › ITEM (MAX)` (its points,
/// empty when not run) and `LAB › ITEM: why` (why it lost points, empty when it lost none).
pub fn csv(book: &Gradebook) -> String {
    let mut header: Vec<String> = [
        "submission",
        "graded",
        "exit_code",
        "points",
        "max_points",
        "error",
    ]
    .map(String::from)
    .to_vec();
    for c in &book.columns {
        let name = format!("{} › {}", c.lab, c.item);
        header.push(format!("{name} ({})", points_text(c.max_points)));
        header.push(format!("{name}: why"));
    }
    let mut out = String::new();
    let line = |cells: Vec<String>| {
        let mut l = cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
        l.push_str("\r\n");
        l
    };
    out.push_str(&line(header));
    for r in &book.rows {
        let mut cells = vec![
            r.submission.clone(),
            r.graded.to_string(),
            r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            points_text(r.points),
            points_text(r.max_points),
            r.error.clone().unwrap_or_default(),
        ];
        for c in &r.items {
            cells.push(c.points.map(points_text).unwrap_or_default());
            cells.push(c.why.clone());
        }
        out.push_str(&line(cells));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), r#""say ""hi""""#);
        assert_eq!(field("=cmd()"), "'=cmd()");
        assert_eq!(field("-1,2"), "\"'-1,2\"");
    }
}
