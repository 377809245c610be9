//! The battery matrix: for each battery of a run (a written case and a peer under test), each derived
//! failure and how the peer met it — refused for the right reason, refused for another reason, accepted
//! (wrongly), skipped, or not decided — read from the ordinary case results; printed as a table on the
//! console and written as the JSON report's `battery` section.

use std::fmt::Write as _;

use serde::Serialize;

use crate::lab::battery::{Failure, Tested};
use crate::reason::Outcome;
use crate::run::{CaseResult, LabResult, Status};
use crate::verdict::{expectation_summary, Observed};

/// How a peer met one derived failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Refused by the expected side for the expected reason.
    RefusedRightReason,
    /// Refused, but by the other side or for another reason.
    RefusedOtherReason,
    /// The handshake went through: the peer accepted what it should refuse.
    AcceptedWrongly,
    /// The failure cannot apply here (its case says why).
    Skipped,
    /// The case could not run, or its evidence decided nothing.
    NotDecided,
}

impl Verdict {
    /// The verdict as the console table says it.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::RefusedRightReason => "refused (right reason)",
            Verdict::RefusedOtherReason => "refused (other reason)",
            Verdict::AcceptedWrongly => "ACCEPTED (wrongly)",
            Verdict::Skipped => "skipped",
            Verdict::NotDecided => "not decided",
        }
    }

    /// The verdict of a derived case's result.
    fn of(case: &CaseResult) -> Verdict {
        if case.status == Status::Skipped {
            return Verdict::Skipped;
        }
        match case.observed.as_ref().map(|o: &Observed| o.outcome) {
            Some(Outcome::Accepted) => Verdict::AcceptedWrongly,
            Some(Outcome::Rejected) if case.status == Status::Passed => Verdict::RefusedRightReason,
            Some(Outcome::Rejected) => Verdict::RefusedOtherReason,
            _ => Verdict::NotDecided,
        }
    }
}

/// One derived failure of a battery, as the peer met it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub failure: Failure,
    /// The derived case's name.
    pub case: String,
    pub expected: String,
    /// What happened (the observed verdict, or why the case was skipped or could not run).
    pub observed: String,
    pub verdict: Verdict,
}

/// One battery: a written case and the peer it tests, with every derived failure.
#[derive(Debug, Clone, Serialize)]
pub struct Battery {
    pub lab: String,
    /// The written case the failures derive from.
    pub case: String,
    pub tested: Tested,
    pub peer: String,
    /// Failures refused for the right reason, for another reason, accepted wrongly, skipped, not decided.
    pub refused_right_reason: usize,
    pub refused_other_reason: usize,
    pub accepted_wrongly: usize,
    pub skipped: usize,
    pub not_decided: usize,
    pub rows: Vec<Row>,
}

/// What a derived case expects: its expectation, and the alert it expects where the server's own verdict
/// is not observable (`rejected by server (alert decrypt_error)`).
fn expected(case: &CaseResult, failure: Failure) -> String {
    let summary = expectation_summary(&case.expected);
    match (
        &case.expected,
        crate::lab::battery::alert_for(failure.expected().1),
    ) {
        (crate::lab::Expectation::Rejected { reason: None, .. }, Some(alert)) => {
            format!("{summary} (alert {alert})")
        }
        _ => summary,
    }
}

/// Every battery of a run, in the order its derived cases ran.
pub fn matrix(results: &[LabResult]) -> Vec<Battery> {
    let mut out: Vec<Battery> = Vec::new();
    for lab in results {
        for case in &lab.cases {
            let Some(d) = &case.derived else { continue };
            let verdict = Verdict::of(case);
            let observed = match &case.observed {
                _ if case.grade.hidden => "(hidden)".to_string(),
                Some(o) if case.status != Status::Skipped => o.summary(),
                _ => case.messages.first().cloned().unwrap_or_default(),
            };
            let row = Row {
                failure: d.failure,
                case: case.name.clone(),
                expected: expected(case, d.failure),
                observed,
                verdict,
            };
            let same = |b: &Battery| {
                b.lab == lab.lab && b.case == d.of && b.tested == d.tested && b.peer == d.peer
            };
            let i = match out.iter().position(same) {
                Some(i) => i,
                None => {
                    out.push(Battery {
                        lab: lab.lab.clone(),
                        case: d.of.clone(),
                        tested: d.tested,
                        peer: d.peer.clone(),
                        refused_right_reason: 0,
                        refused_other_reason: 0,
                        accepted_wrongly: 0,
                        skipped: 0,
                        not_decided: 0,
                        rows: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let b = &mut out[i];
            *match verdict {
                Verdict::RefusedRightReason => &mut b.refused_right_reason,
                Verdict::RefusedOtherReason => &mut b.refused_other_reason,
                Verdict::AcceptedWrongly => &mut b.accepted_wrongly,
                Verdict::Skipped => &mut b.skipped,
                Verdict::NotDecided => &mut b.not_decided,
            } += 1;
            b.rows.push(row);
        }
    }
    out
}

/// The console table of `batteries`: per battery a heading, one line per failure (failure, verdict,
/// expected, observed) and the counts; empty when the run had no battery.
pub fn table(batteries: &[Battery]) -> String {
    let mut out = String::new();
    for b in batteries {
        let _ = writeln!(out, "battery: {} › {} — {}", b.lab, b.case, b.peer);
        let width = b
            .rows
            .iter()
            .map(|r| r.failure_title().chars().count())
            .max()
            .unwrap_or(0);
        for r in &b.rows {
            let title = r.failure_title();
            let pad = width - title.chars().count();
            let _ = write!(
                out,
                "  {title}{}  {:<22}",
                " ".repeat(pad),
                r.verdict.text()
            );
            match r.verdict {
                Verdict::RefusedRightReason | Verdict::Skipped => {
                    let _ = writeln!(out, "  {}", r.observed);
                }
                _ => {
                    let _ = writeln!(out, "  expected {}; {}", r.expected, r.observed);
                }
            }
        }
        let _ = writeln!(
            out,
            "  {} refused for the right reason, {} for another reason, {} accepted wrongly, {} skipped{}",
            b.refused_right_reason,
            b.refused_other_reason,
            b.accepted_wrongly,
            b.skipped,
            if b.not_decided > 0 {
                format!(", {} not decided", b.not_decided)
            } else {
                String::new()
            }
        );
    }
    out
}

impl Row {
    fn failure_title(&self) -> &'static str {
        self.failure.title()
    }
}
