//! Runs x509-limbo testcases as real TLS handshakes over 127.0.0.1, against one verifier under test at
//! a time, and judges each observation against limbo's expected result.
//!
//! [`builtin`] runs the built-in rustls client (SERVER testcases) or server (CLIENT testcases);
//! [`programs`] runs curl or `openssl s_client` against a built-in server presenting the chain. This
//! module holds what both return ([`Observed`], [`TestcaseResult`]), the judging and the run of a
//! whole suite, a few testcases at a time.

pub mod builtin;
pub mod programs;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::lab::limbo::{ExpectedResult, Suite, Testcase, ValidationKind, Verifier};
use crate::reason::{Reason, Side};
use crate::tls::limbo::{HelperIdentity, StandIns};

/// How long one handshake (or one program run) may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What the verifier under test did with one testcase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Observed {
    /// The verifier accepted the chain (with a stand-in key: the chain, before the signature failed).
    Accepted,
    /// The verifier on `side` rejected it; `reason` is `None` when its words name no single reason.
    Rejected {
        side: Side,
        reason: Option<Reason>,
        /// rustls's error text, or the program's words.
        detail: String,
    },
    /// The verifier cannot apply the testcase.
    NotApplicable { why: String },
    /// The testcase could not be run, or the evidence says nothing (a program's own failure).
    Error { detail: String },
}

/// How an observation compares with limbo's expected result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    /// Accepted where limbo expects SUCCESS, rejected where it expects FAILURE.
    Agree,
    /// The other way round.
    Disagree,
    /// Not run: the verifier cannot apply it.
    NotApplicable,
    /// Not run, or nothing observed.
    Error,
}

impl Agreement {
    /// The word in reports.
    pub fn word(self) -> &'static str {
        match self {
            Agreement::Agree => "agree",
            Agreement::Disagree => "disagree",
            Agreement::NotApplicable => "not applicable",
            Agreement::Error => "error",
        }
    }
}

/// One testcase's result under one verifier.
#[derive(Debug, Clone, Serialize)]
pub struct TestcaseResult {
    /// Limbo's id.
    pub id: String,
    /// SERVER or CLIENT.
    pub kind: ValidationKind,
    /// Limbo's expected result.
    pub expected: ExpectedResult,
    /// What the verifier did.
    pub observed: Observed,
    /// [`judge`] of the two.
    pub agreement: Agreement,
    /// What else the reader needs: a stand-in key, anchors left out, names no server checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One verifier's results over a suite, in file order.
#[derive(Debug, Clone, Serialize)]
pub struct VerifierRun {
    /// The verifier under test.
    pub verifier: Verifier,
    /// Its results.
    pub results: Vec<TestcaseResult>,
    /// How long the run took, in milliseconds.
    pub elapsed_ms: u64,
}

/// Counts of a [`VerifierRun`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Testcases the verifier could apply (agree + disagree + error).
    pub applicable: usize,
    pub agree: usize,
    pub disagree: usize,
    pub not_applicable: usize,
    pub errors: usize,
}

impl VerifierRun {
    /// Its counts.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.results {
            match r.agreement {
                Agreement::Agree => c.agree += 1,
                Agreement::Disagree => c.disagree += 1,
                Agreement::NotApplicable => c.not_applicable += 1,
                Agreement::Error => c.errors += 1,
            }
        }
        c.applicable = c.agree + c.disagree + c.errors;
        c
    }
}

/// Whether `observed` agrees with `expected`: an acceptance agrees with SUCCESS, a rejection (for any
/// reason, by the verifier under test) with FAILURE.
pub fn judge(expected: ExpectedResult, observed: &Observed) -> Agreement {
    match (expected, observed) {
        (_, Observed::NotApplicable { .. }) => Agreement::NotApplicable,
        (_, Observed::Error { .. }) => Agreement::Error,
        (ExpectedResult::Success, Observed::Accepted)
        | (ExpectedResult::Failure, Observed::Rejected { .. }) => Agreement::Agree,
        _ => Agreement::Disagree,
    }
}

/// The note of a keyless (or key-less-usable) testcase whose chain the verifier accepted and whose
/// stand-in signature it then refused, as expected.
pub const STAND_IN_ACCEPTED: &str = "chain accepted (stand-in key: signature refused as expected)";

/// The note of a rejection that came before the verifier under test validated the chain (its certificate
/// verifier was never called): a refusal, but not of the chain's content.
pub const REFUSED_BEFORE_CHAIN: &str = "refused before the chain was validated: the TLS message that carries it was refused (its size or encoding), not the chain's content";

/// Why a limbo run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimboRunError {
    /// curl runs at a testcase's time with libfaketime preloaded, and it is not installed.
    #[error("curl runs at each testcase's validation time with libfaketime preloaded, which is not installed (looked for {looked}): apt-get install libfaketime", looked = crate::lab::faketime::LOOKED)]
    NoFaketime,
    /// The helper identity of CLIENT testcases could not be made.
    #[error("cannot make the helper server identity: {0}")]
    Helper(String),
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The program under test is not on PATH: every testcase would be an error.
    #[error("`{program}` is not found on PATH, so no testcase can run against it: install it (Debian: apt-get install {package}) or leave out --verifier {verifier}")]
    NoProgram {
        program: &'static str,
        package: &'static str,
        verifier: &'static str,
    },
}

/// The results finished so far, with their index in the suite, in the order they finished: what an
/// interrupted run still has.
pub type Finished = Arc<Mutex<Vec<(usize, TestcaseResult)>>>;

/// `finished`'s results in file order, as a [`VerifierRun`] of `verifier` that took `elapsed_ms`.
pub fn partial(verifier: Verifier, finished: &Finished, elapsed_ms: u64) -> VerifierRun {
    let mut done = finished.lock().map(|d| d.clone()).unwrap_or_default();
    done.sort_by_key(|(i, _)| *i);
    VerifierRun {
        verifier,
        results: done.into_iter().map(|(_, r)| r).collect(),
        elapsed_ms,
    }
}

/// Whether `verifier` can run `suite` at all: the program under test is on PATH when a testcase applies
/// to it, and libfaketime is installed for curl when a testcase has a time. Checked by [`run`], and
/// before any run by a caller that runs several verifiers.
///
/// # Errors
/// [`LimboRunError::NoProgram`], [`LimboRunError::NoFaketime`].
pub fn ready(suite: &Suite, verifier: Verifier) -> Result<(), LimboRunError> {
    let program = match verifier {
        Verifier::Builtin => None,
        Verifier::Curl => Some(("curl", "curl", "curl")),
        Verifier::Openssl => Some(("openssl", "openssl", "openssl")),
    };
    if let Some((program, package, name)) = program {
        let applicable = suite.testcases.iter().any(|t| {
            t.as_ref()
                .is_ok_and(|t| t.not_applicable_to(verifier).is_none())
        });
        if applicable && !programs::on_path(program) {
            return Err(LimboRunError::NoProgram {
                program,
                package,
                verifier: name,
            });
        }
    }
    let timed = suite
        .testcases
        .iter()
        .any(|t| t.as_ref().is_ok_and(|t| t.at.is_some()));
    if verifier == Verifier::Curl && timed && crate::lab::faketime::library().is_none() {
        return Err(LimboRunError::NoFaketime);
    }
    Ok(())
}

/// Runs every testcase of `suite` against `verifier`, `jobs` at a time; results in file order. Each
/// result is also added to `finished` as it comes, so that an interrupted run (this future dropped)
/// still has them ([`partial`]). Programs run through [`crate::peer`] (each in its own process group,
/// stopped with the run: [`crate::peer::process::kill_all`]).
///
/// # Errors
/// [`LimboRunError`] when the run cannot start (curl or openssl not on PATH, curl without
/// libfaketime, the helper identity); a testcase that cannot run is an [`Observed::Error`] in its
/// result instead.
pub async fn run(
    suite: Arc<Suite>,
    verifier: Verifier,
    jobs: usize,
    finished: Finished,
) -> Result<VerifierRun, LimboRunError> {
    ready(&suite, verifier)?;
    let started = Instant::now();
    let helper = Arc::new(HelperIdentity::new().map_err(LimboRunError::Helper)?);
    let stand_ins = Arc::new(StandIns::default());
    let permits = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    // A JoinSet: dropping this future (an interrupted run) aborts every task, and each task's programs
    // (stopped and reaped when dropped) and temporary directory (removed) go with it.
    let mut tasks = tokio::task::JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    for index in 0..suite.testcases.len() {
        let (suite, helper, stand_ins, permits, finished) = (
            suite.clone(),
            helper.clone(),
            stand_ins.clone(),
            permits.clone(),
            finished.clone(),
        );
        let handle = tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = one(&suite, index, verifier, &helper, &stand_ins).await;
            if let Ok(mut f) = finished.lock() {
                f.push((index, result.clone()));
            }
            (index, result)
        });
        ids.insert(handle.id(), index);
    }
    let mut results: Vec<Option<TestcaseResult>> = vec![None; suite.testcases.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, r)) => results[index] = Some(r),
            Err(e) => {
                let Some(&index) = ids.get(&e.id()) else {
                    continue;
                };
                let (id, kind, expected) = identity(&suite, index);
                let observed = Observed::Error {
                    detail: format!("the testcase's task failed: {e}"),
                };
                results[index] = Some(TestcaseResult {
                    id,
                    kind,
                    expected,
                    agreement: judge(expected, &observed),
                    observed,
                    notes: Vec::new(),
                });
            }
        }
    }
    let results = results.into_iter().flatten().collect();
    Ok(VerifierRun {
        verifier,
        results,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

fn identity(suite: &Suite, index: usize) -> (String, ValidationKind, ExpectedResult) {
    match &suite.testcases[index] {
        Ok(t) => (t.id.clone(), t.kind, t.expected),
        Err(u) => (u.id.clone(), u.kind, u.expected),
    }
}

/// Runs testcase `index` against `verifier`.
async fn one(
    suite: &Suite,
    index: usize,
    verifier: Verifier,
    helper: &HelperIdentity,
    stand_ins: &StandIns,
) -> TestcaseResult {
    let (id, kind, expected) = identity(suite, index);
    let (observed, notes) = match &suite.testcases[index] {
        Err(u) => (
            Observed::Error {
                detail: format!("the testcase cannot be decoded: {}", u.why),
            },
            Vec::new(),
        ),
        Ok(tc) => match tc.not_applicable_to(verifier) {
            Some(why) => (Observed::NotApplicable { why }, Vec::new()),
            None => observe(tc, verifier, helper, stand_ins).await,
        },
    };
    TestcaseResult {
        id,
        kind,
        expected,
        agreement: judge(expected, &observed),
        observed,
        notes,
    }
}

async fn observe(
    tc: &Testcase,
    verifier: Verifier,
    helper: &HelperIdentity,
    stand_ins: &StandIns,
) -> (Observed, Vec<String>) {
    let mut notes = Vec::new();
    let key = match crate::tls::limbo::peer_key(tc, stand_ins) {
        Ok(k) => k,
        Err(e) => {
            return (
                Observed::Error {
                    detail: format!("cannot make a stand-in key: {e}"),
                },
                notes,
            )
        }
    };
    if let Some(s) = &key.stand_in {
        notes.push(s.clone());
    }
    let observed = match verifier {
        Verifier::Builtin => builtin::observe(tc, key, helper, &mut notes).await,
        Verifier::Openssl if tc.kind == ValidationKind::Client => {
            programs::observe_server(tc, key, helper, &mut notes).await
        }
        Verifier::Curl | Verifier::Openssl => {
            programs::observe(tc, verifier, key, &mut notes).await
        }
    };
    (observed, notes)
}

/// An observation from a rejection `detail` by `side` with `reason`, read under the stand-in rule: when
/// the peer signed with a stand-in key and the chain was accepted first (`chain_accepted`), the refusal
/// is the stand-in's signature, and the chain is accepted (noted in `notes`).
pub fn stand_in_rule(
    stand_in: bool,
    chain_accepted: bool,
    side: Side,
    reason: Option<Reason>,
    detail: String,
    notes: &mut Vec<String>,
) -> Observed {
    if stand_in && chain_accepted {
        notes.push(format!("{STAND_IN_ACCEPTED}: {detail}"));
        return Observed::Accepted;
    }
    Observed::Rejected {
        side,
        reason,
        detail,
    }
}
