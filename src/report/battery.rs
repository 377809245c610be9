//! The battery matrix: for each battery of a run (a written case and a peer under test), each derived
//! failure and how the peer met it — refused for the right reason, refused for another reason, accepted
//! (wrongly), skipped, or not decided — read from the ordinary case results. Every report takes the matrix
//! from [`matrix`] so that all agree: the console and the text of the grading reports print [`table`], the
//! JSON report writes it as its `battery` section (Classroom and Gradescope carry the same value), JUnit,
//! TAP, Gradescope and Classroom mark each derived case with its [`cell`], and the HTML page draws
//! [`Battery::rows`] as a coloured grid linking to each derived case.

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
    /// Refused by the expected side, whose program did not say why, with an alert a refusal for the
    /// expected reason sends (`verdict::reason_unsaid`): the case passes, the reason is not claimed.
    RefusedReasonNotSaid,
    /// The handshake went through: the peer accepted what it should refuse.
    AcceptedWrongly,
    /// The failure cannot apply here (its case says why).
    Skipped,
    /// The case could not run, or its evidence decided nothing.
    NotDecided,
    /// A hidden case that did not pass, as students see it: how the peer met the failure is not shown.
    Hidden,
}

impl Verdict {
    /// The verdict as the console table says it.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::RefusedRightReason => "refused (right reason)",
            Verdict::RefusedOtherReason => "refused (other reason)",
            Verdict::RefusedReasonNotSaid => "refused (reason not said)",
            Verdict::AcceptedWrongly => "ACCEPTED (wrongly)",
            Verdict::Skipped => "skipped",
            Verdict::NotDecided => "not decided",
            Verdict::Hidden => "hidden: not passed",
        }
    }

    /// The verdict's word in machine-read reports, as the JSON report spells it (`accepted_wrongly`).
    pub fn key(self) -> &'static str {
        match self {
            Verdict::RefusedRightReason => "refused_right_reason",
            Verdict::RefusedOtherReason => "refused_other_reason",
            Verdict::RefusedReasonNotSaid => "refused_reason_not_said",
            Verdict::AcceptedWrongly => "accepted_wrongly",
            Verdict::Skipped => "skipped",
            Verdict::NotDecided => "not_decided",
            Verdict::Hidden => "hidden",
        }
    }

    /// The verdict of a derived case's result.
    fn of(case: &CaseResult) -> Verdict {
        if case.status == Status::Skipped {
            return Verdict::Skipped;
        }
        // The student's view of a hidden case keeps only its status: a derived case passes only when
        // refused by the expected side for the expected reason; how it failed otherwise is not shown.
        if case.grade.hidden && case.observed.is_none() && case.status != Status::Error {
            return if case.status == Status::Passed {
                Verdict::RefusedRightReason
            } else {
                Verdict::Hidden
            };
        }
        match case.observed.as_ref().map(|o: &Observed| o.outcome) {
            Some(Outcome::Accepted) => Verdict::AcceptedWrongly,
            Some(Outcome::Rejected)
                if case.status == Status::Passed
                    && case.observed.as_ref().is_some_and(|o| o.reason.is_none())
                    && matches!(
                        case.expected,
                        crate::lab::Expectation::Rejected {
                            reason: Some(_),
                            ..
                        }
                    ) =>
            {
                Verdict::RefusedReasonNotSaid
            }
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
    /// The derived case's index in its lab's cases (the HTML page links to it).
    #[serde(skip)]
    pub index: usize,
}

/// One battery: a written case and the peer it tests, with every derived failure.
#[derive(Debug, Clone, Serialize)]
pub struct Battery {
    /// The lab's index in the run's results.
    #[serde(skip)]
    pub lab_index: usize,
    pub lab: String,
    /// The written case the failures derive from.
    pub case: String,
    pub tested: Tested,
    pub peer: String,
    /// Failures refused for the right reason, for another reason, accepted wrongly, skipped, not decided.
    pub refused_right_reason: usize,
    pub refused_other_reason: usize,
    /// Refused by the expected side without saying why (an alert consistent with the reason); left out
    /// when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub refused_reason_not_said: usize,
    pub accepted_wrongly: usize,
    pub skipped: usize,
    pub not_decided: usize,
    /// Hidden cases that did not pass, in the students' view (Gradescope, Classroom, the text formats);
    /// the JSON report shows every verdict, and leaves this out when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub hidden: usize,
    pub rows: Vec<Row>,
}

/// What a derived case expects: its expectation, and the alert it expects where the server's own verdict
/// is not observable (`rejected by server (alert decrypt_error)`; a same-name rogue CA is held to the side
/// alone, see `lab::battery`).
fn expected(case: &CaseResult, failure: Failure) -> String {
    let summary = expectation_summary(&case.expected);
    let rogue = matches!(failure, Failure::ClientRogueCa | Failure::ServerRogueCa);
    match (
        &case.expected,
        crate::lab::battery::alert_for(failure.expected().1),
    ) {
        (crate::lab::Expectation::Rejected { reason: None, .. }, Some(alert)) if !rogue => {
            format!("{summary} (alert {alert})")
        }
        _ => summary,
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Every battery of a run, in the order its derived cases ran.
pub fn matrix(results: &[LabResult]) -> Vec<Battery> {
    let mut out: Vec<Battery> = Vec::new();
    for (l, lab) in results.iter().enumerate() {
        for (index, case) in lab.cases.iter().enumerate() {
            let Some(d) = &case.derived else { continue };
            let verdict = Verdict::of(case);
            let observed = match &case.observed {
                _ if case.grade.hidden => "(hidden)".to_string(),
                Some(o) if case.status != Status::Skipped => o.summary(),
                // A case that could not run says why in its first line; the rest (a program's
                // quoted output) stays with the case, so each row is one line.
                _ => case
                    .messages
                    .first()
                    .and_then(|m| m.lines().next())
                    .unwrap_or_default()
                    .trim_end_matches(':')
                    .to_string(),
            };
            let row = Row {
                failure: d.failure,
                case: case.name.clone(),
                // A hidden case's expectation is not shown either (its case in the JSON report has it).
                expected: if case.grade.hidden {
                    "(hidden)".to_string()
                } else {
                    expected(case, d.failure)
                },
                observed,
                verdict,
                index,
            };
            let same = |b: &Battery| {
                b.lab_index == l && b.case == d.of && b.tested == d.tested && b.peer == d.peer
            };
            let i = match out.iter().position(same) {
                Some(i) => i,
                None => {
                    out.push(Battery {
                        lab_index: l,
                        lab: lab.lab.clone(),
                        case: d.of.clone(),
                        tested: d.tested,
                        peer: d.peer.clone(),
                        refused_right_reason: 0,
                        refused_other_reason: 0,
                        refused_reason_not_said: 0,
                        accepted_wrongly: 0,
                        skipped: 0,
                        not_decided: 0,
                        hidden: 0,
                        rows: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let b = &mut out[i];
            *match verdict {
                Verdict::RefusedRightReason => &mut b.refused_right_reason,
                Verdict::RefusedOtherReason => &mut b.refused_other_reason,
                Verdict::RefusedReasonNotSaid => &mut b.refused_reason_not_said,
                Verdict::AcceptedWrongly => &mut b.accepted_wrongly,
                Verdict::Skipped => &mut b.skipped,
                Verdict::NotDecided => &mut b.not_decided,
                Verdict::Hidden => &mut b.hidden,
            } += 1;
            b.rows.push(row);
        }
    }
    out
}

/// The console table of `batteries`: per battery a heading, one line per failure (failure, verdict,
/// expected, observed) and the counts; empty when the run had no battery. The text grading reports
/// (JUnit's `system-out`, TAP's comments, Gradescope's and Classroom's output) print the same table.
pub fn table(batteries: &[Battery]) -> String {
    let mut out = String::new();
    for b in batteries {
        let _ = writeln!(out, "{}", b.heading());
        let width = b
            .rows
            .iter()
            .map(|r| r.failure.title().chars().count())
            .max()
            .unwrap_or(0);
        for r in &b.rows {
            let title = r.failure.title();
            let pad = width - title.chars().count();
            let _ = writeln!(
                out,
                "  {title}{}  {:<22}  {}",
                " ".repeat(pad),
                r.verdict.text(),
                r.detail()
            );
        }
        let _ = writeln!(out, "  {}", b.counts());
    }
    out
}

/// The battery and row of the derived case `case` of the lab `lab` (indices into the run's results),
/// when it is one: what JUnit, TAP, Gradescope and Classroom print beside each derived case.
pub fn cell(batteries: &[Battery], lab: usize, case: usize) -> Option<(&Battery, &Row)> {
    batteries
        .iter()
        .filter(|b| b.lab_index == lab)
        .find_map(|b| b.rows.iter().find(|r| r.index == case).map(|r| (b, r)))
}

impl Battery {
    /// `battery: LAB › CASE — PEER`.
    pub fn heading(&self) -> String {
        format!("battery: {} › {} — {}", self.lab, self.case, self.peer)
    }

    /// `N refused for the right reason, N for another reason, N accepted wrongly, N skipped`, then the
    /// cases not decided and hidden ones when there are any.
    pub fn counts(&self) -> String {
        let mut s = format!(
            "{} refused for the right reason, {} for another reason, {} accepted wrongly, {} skipped",
            self.refused_right_reason, self.refused_other_reason, self.accepted_wrongly, self.skipped
        );
        if self.refused_reason_not_said > 0 {
            let _ = write!(
                s,
                ", {} refused without saying why",
                self.refused_reason_not_said
            );
        }
        if self.not_decided > 0 {
            let _ = write!(s, ", {} not decided", self.not_decided);
        }
        if self.hidden > 0 {
            let _ = write!(s, ", {} hidden", self.hidden);
        }
        s
    }
}

impl Row {
    /// The failure's word in machine-read reports, as the JSON report spells it (`client_expired`).
    pub fn failure_key(&self) -> String {
        match serde_json::to_value(self.failure) {
            Ok(serde_json::Value::String(s)) => s,
            _ => format!("{:?}", self.failure),
        }
    }

    /// What happened, after the verdict: the observed verdict (or why skipped) when it is the right
    /// one, else `expected …; observed`.
    pub fn detail(&self) -> String {
        match self.verdict {
            Verdict::RefusedRightReason | Verdict::Skipped | Verdict::Hidden => {
                self.observed.clone()
            }
            _ => format!("expected {}; {}", self.expected, self.observed),
        }
    }

    /// What happened, without the `skipped: ` the verdict already says: what a cell shows under its verdict.
    pub fn cell_detail(&self) -> String {
        let d = self.detail();
        match d.strip_prefix("skipped: ") {
            Some(why) if self.verdict == Verdict::Skipped => why.to_string(),
            _ => d,
        }
    }

    /// The derived case's cell as one line: `battery (PEER): VERDICT — DETAIL`.
    pub fn cell_line(&self, battery: &Battery) -> String {
        format!(
            "battery ({}): {} — {}",
            battery.peer,
            self.verdict.text(),
            self.cell_detail()
        )
    }
}
