//! Reports of an x509-limbo run: the console (one line per disagreement and error, per not-applicable
//! testcase with `-v`, then a summary per verifier), the JSON report of every result, and the check of
//! the disagreements against the exceptions file (unlisted disagreements, stale exceptions).

use serde::Serialize;

use crate::lab::limbo::{Exceptions, Verifier};
use crate::run::limbo::{Agreement, Counts, Observed, TestcaseResult, VerifierRun};

/// A run checked against the exceptions: what is not as the exceptions file says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// Disagreements the exceptions file does not list.
    pub unlisted: Vec<String>,
    /// Exceptions whose testcase now agrees.
    pub stale: Vec<String>,
}

impl Checked {
    /// Whether the run is as the exceptions file says.
    pub fn clean(&self) -> bool {
        self.unlisted.is_empty() && self.stale.is_empty()
    }
}

/// Checks `run` against `exceptions`: every disagreement must be listed, and no listed testcase that
/// ran may agree now. Testcases not run (filtered out) are not checked.
pub fn check(run: &VerifierRun, exceptions: &Exceptions) -> Checked {
    let mut out = Checked::default();
    for r in &run.results {
        let listed = exceptions.why(run.verifier, &r.id).is_some();
        match r.agreement {
            Agreement::Disagree if !listed => out.unlisted.push(r.id.clone()),
            Agreement::Agree if listed => out.stale.push(r.id.clone()),
            _ => {}
        }
    }
    out
}

/// What a testcase observed, in words: `accepted`, `rejected by client: expired (detail)`.
pub fn observed_text(o: &Observed) -> String {
    match o {
        Observed::Accepted => "accepted".into(),
        Observed::Rejected {
            side,
            reason,
            detail,
        } => {
            let side = match side {
                crate::reason::Side::Client => "client",
                crate::reason::Side::Server => "server",
            };
            match reason {
                Some(r) => format!("rejected by {side}: {r} ({detail})"),
                None => format!("rejected by {side}, no single reason in its words ({detail})"),
            }
        }
        Observed::NotApplicable { why } => format!("not applicable: {why}"),
        Observed::Error { detail } => format!("error: {detail}"),
    }
}

fn expected_word(r: &TestcaseResult) -> &'static str {
    match r.expected {
        crate::lab::limbo::ExpectedResult::Success => "SUCCESS",
        crate::lab::limbo::ExpectedResult::Failure => "FAILURE",
    }
}

/// The console lines of one verifier's run: each disagreement (marked `known` when the exceptions list
/// it, with its why), each error, each stale exception, each not-applicable testcase when `verbose`,
/// and the summary.
pub fn console(run: &VerifierRun, exceptions: &Exceptions, verbose: bool) -> Vec<String> {
    let v = run.verifier.name();
    let mut lines = Vec::new();
    for r in &run.results {
        let known = exceptions.why(run.verifier, &r.id);
        match r.agreement {
            Agreement::Disagree => lines.push(match known {
                Some(why) => format!(
                    "{v}: known     {} (expects {}): {} [exception: {why}]",
                    r.id,
                    expected_word(r),
                    observed_text(&r.observed)
                ),
                None => format!(
                    "{v}: DISAGREE  {} (expects {}): {}",
                    r.id,
                    expected_word(r),
                    observed_text(&r.observed)
                ),
            }),
            Agreement::Error => lines.push(format!(
                "{v}: ERROR     {}: {}",
                r.id,
                observed_text(&r.observed)
            )),
            Agreement::Agree if known.is_some() => lines.push(format!(
                "{v}: STALE     {} agrees now ({}): remove it from the exceptions",
                r.id,
                observed_text(&r.observed)
            )),
            Agreement::NotApplicable if verbose => lines.push(format!(
                "{v}: n/a       {}: {}",
                r.id,
                observed_text(&r.observed)
            )),
            _ => {}
        }
    }
    lines.push(summary(run, exceptions));
    lines
}

/// `builtin: 140 of 200 applicable agree, 58 disagree (58 known), 2 errors; 8 not applicable (3.1 s)`.
pub fn summary(run: &VerifierRun, exceptions: &Exceptions) -> String {
    let Counts {
        applicable,
        agree,
        disagree,
        not_applicable,
        errors,
    } = run.counts();
    let known = run
        .results
        .iter()
        .filter(|r| {
            r.agreement == Agreement::Disagree && exceptions.why(run.verifier, &r.id).is_some()
        })
        .count();
    format!(
        "{}: {agree} of {applicable} applicable agree, {disagree} disagree ({known} known), {errors} error{}; {not_applicable} not applicable ({:.1} s)",
        run.verifier.name(),
        if errors == 1 { "" } else { "s" },
        run.elapsed_ms as f64 / 1000.0
    )
}

/// The JSON report of a limbo run over `file`.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// Format version of this report.
    pub schema_version: u32,
    /// The limbo file.
    pub file: String,
    /// The `--filter`s given, if any (a testcase ran when its id contains any of them).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub filter: &'a [String],
    /// True when a signal stopped the run: the results are those finished by then.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Each verifier's run.
    pub verifiers: Vec<VerifierReport<'a>>,
}

/// One verifier's part of [`Report`].
#[derive(Debug, Serialize)]
pub struct VerifierReport<'a> {
    pub verifier: Verifier,
    pub counts: Counts,
    pub elapsed_ms: u64,
    /// Against the exceptions file, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<Checked>,
    pub results: Vec<ResultReport<'a>>,
}

/// One result in [`VerifierReport`].
#[derive(Debug, Serialize)]
pub struct ResultReport<'a> {
    #[serde(flatten)]
    pub result: &'a TestcaseResult,
    /// The exceptions file's why, when it lists this testcase for this verifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<&'a str>,
}

/// The JSON text of the report of `runs` over `file` with `filter`, checked against `exceptions`;
/// `interrupted` when a signal stopped the run (the last run is then partial).
pub fn json(
    file: &str,
    filter: &[String],
    runs: &[VerifierRun],
    exceptions: Option<&Exceptions>,
    interrupted: bool,
) -> String {
    let empty = Exceptions::default();
    let ex = exceptions.unwrap_or(&empty);
    let report = Report {
        schema_version: 1,
        file: file.to_string(),
        filter,
        interrupted,
        verifiers: runs
            .iter()
            .map(|run| VerifierReport {
                verifier: run.verifier,
                counts: run.counts(),
                elapsed_ms: run.elapsed_ms,
                exceptions: exceptions.map(|e| check(run, e)),
                results: run
                    .results
                    .iter()
                    .map(|r| ResultReport {
                        result: r,
                        exception: ex.why(run.verifier, &r.id),
                    })
                    .collect(),
            })
            .collect(),
    };
    // Plain data: serialising it cannot fail.
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    match crate::report::safe::escape_controls(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(o) => o,
    }
}
