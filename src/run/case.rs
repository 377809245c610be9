//! One case: the built-in client against the built-in server, a server command or a target, or a client
//! command against the built-in server; then the observation judged against the expectation.

use std::collections::{HashMap, HashSet};

use crate::lab::{Case, CertRef, Chain, Checks, Expectation, Lab, Pin, ScorePart, ServerKind};
use crate::peer::process;
use crate::peer::{self, PeerError};
use crate::pki::Pki;
use crate::reason::Outcome;
use crate::run::checks::unmet;
use crate::run::endpoint::{Endpoint, EndpointDown};
use crate::run::lab::Workspace;
use crate::run::result::{CaseContext, CaseResult, Grade, Status};
use crate::tls::{self, TlsSetupError};
use crate::verdict::{self, Observed};

use super::pairing::{
    client_against_builtin, client_against_command, client_against_external,
    command_against_builtin, command_against_command,
};

/// Why a case could not run. Its [`CaseError::status`] says whose fault that is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// A client socket could not be bound on loopback (`on`: `127.0.0.1` or `loopback`).
    #[error("cannot bind a client socket on {on}: {error}")]
    Bind {
        on: &'static str,
        error: std::io::Error,
    },
    /// The client command could not start or did not exit in time.
    #[error(transparent)]
    ClientCommand(Box<PeerError>),
    /// rustls refused the configuration of the case's client, or of its server at the case's clock.
    #[error(transparent)]
    Config(TlsSetupError),
    /// The case's server did not start.
    #[error(transparent)]
    Server(EndpointDown),
    /// The server command `server` (`command`) stopped before this case; `exit` says how, `output` is
    /// the tail of its output.
    #[error("server `{server}` (`{command}`) {exit} during the run\n{output}")]
    ServerStopped {
        server: String,
        command: String,
        exit: String,
        output: String,
    },
    /// Certificates the case needs could not be loaded (the submission's files); one entry per problem.
    #[error("{}", .0.join("\n"))]
    Unusable(Vec<String>),
}

impl CaseError {
    /// `Failed` when the submission's files are missing or broken (the student's fault), `Error` when a
    /// program or configuration could not run.
    pub fn status(&self) -> Status {
        match self {
            CaseError::Unusable(_) => Status::Failed,
            CaseError::Server(down) => down.status(),
            _ => Status::Error,
        }
    }

    /// The case's messages: one per unusable file, otherwise this error's text.
    fn into_messages(self) -> Vec<String> {
        match self {
            CaseError::Unusable(problems) => problems,
            other => vec![other.to_string()],
        }
    }
}

/// What a case observed, with a client command's stdout, what a server command printed during the case,
/// and the tail of the external program's output.
pub(super) struct Ran {
    pub(super) observed: Observed,
    pub(super) stdout: Option<String>,
    pub(super) server_output: Option<String>,
    pub(super) tail: Vec<String>,
}

impl From<Observed> for Ran {
    fn from(observed: Observed) -> Ran {
        Ran {
            observed,
            stdout: None,
            server_output: None,
            tail: Vec::new(),
        }
    }
}

/// Runs one case against its server's `endpoint`, given the statuses of the items `done` so far (for
/// `requires`) and the cases whose handshake was `accepted` (for a battery's derived cases). Never fails: a case that cannot run is a `Skipped`, `Failed` or `Error` result.
pub(super) async fn run(
    lab: &Lab,
    work: &Workspace<'_>,
    case: &Case,
    endpoint: &mut Endpoint,
    done: &HashMap<String, Status>,
    accepted: &HashSet<String>,
) -> CaseResult {
    let clock = case.clock(lab);
    let mut context = CaseContext::of(
        lab,
        case,
        clock.unwrap_or_else(time::OffsetDateTime::now_utc),
    );
    if let Some(skipped) = derived_skipped(case, &context) {
        return skipped;
    }
    if let Some(HeldBack { status, why }) = held_back(case, done, accepted) {
        return not_run(case, context, status, vec![why]);
    }
    context.chains = crate::run::result::Chains::of(lab, work.pki, case);
    let ran = observe(lab, work, case, endpoint, &mut context).await;
    finish(lab, case, context, ran)
}

/// Like [`run`], for a case that requires nothing and needs no exclusive access to its endpoint: the
/// built-in client against a built-in server, or one that did not start (cases run together,
/// `run::lab::batches`).
pub(super) async fn run_shared(
    lab: &Lab,
    work: &Workspace<'_>,
    case: &Case,
    endpoint: &Endpoint,
    done: &HashMap<String, Status>,
    accepted: &HashSet<String>,
) -> CaseResult {
    let clock = case.clock(lab);
    let mut context = CaseContext::of(
        lab,
        case,
        clock.unwrap_or_else(time::OffsetDateTime::now_utc),
    );
    if let Some(skipped) = derived_skipped(case, &context) {
        return skipped;
    }
    if let Some(HeldBack { status, why }) = held_back(case, done, accepted) {
        return not_run(case, context, status, vec![why]);
    }
    context.chains = crate::run::result::Chains::of(lab, work.pki, case);
    // As `observe` does: the case's files first, then its server.
    let problems = case_problems(lab, work.pki, case);
    let ran = match endpoint {
        _ if !problems.is_empty() => Err(CaseError::Unusable(problems)),
        Endpoint::Down(down) => Err(CaseError::Server(down.clone())),
        Endpoint::BuiltIn(server) if case.client.command.is_none() => {
            client_against_builtin(lab, work, case, server)
                .await
                .map(Ran::from)
        }
        _ => unreachable!(
            "run::lab::batches runs only the built-in client against a built-in server together"
        ),
    };
    finish(lab, case, context, ran)
}

/// Why `case` is not run, given the statuses `done` so far and the cases whose handshake was `accepted`:
/// a battery's derived case whose written case ran and was not accepted (a peer that refuses the valid
/// certificates earns nothing for refusing bad ones; a written case that failed only a check of its
/// own, such as the server's output, still lets them run), or an item it `requires` that did not pass;
/// `None` when it runs.
fn held_back(
    case: &Case,
    done: &HashMap<String, Status>,
    accepted: &HashSet<String>,
) -> Option<HeldBack> {
    if let Some(d) = &case.derived {
        let what = match done.get(&d.of) {
            None | Some(Status::Passed) => None,
            Some(_) if accepted.contains(&d.of) => None,
            Some(Status::Failed) => Some("was not accepted"),
            Some(Status::Error) => Some("could not run"),
            Some(Status::Skipped) => Some("was skipped"),
        };
        if let Some(what) = what {
            return Some(HeldBack {
                status: if done.get(&d.of) == Some(&Status::Skipped) {
                    Status::Skipped
                } else {
                    Status::Failed
                },
                why: format!(
                    "{}: the case this failure is derived from, `{}`, {what}: a battery counts only against a peer that completes mTLS with the valid certificates",
                    if done.get(&d.of) == Some(&Status::Skipped) { "skipped" } else { "not run" },
                    d.of
                ),
            });
        }
    }
    unmet(&case.grading.requires, done).map(|why| HeldBack {
        status: Status::Skipped,
        why,
    })
}

/// Why a case does not run, and its status: a derived case whose written case was not accepted fails
/// (its points stay in the total, 0 earned — a peer that refuses the valid certificates has not shown
/// it refuses the bad ones); one whose written case or `requires` was skipped is skipped (its points
/// leave the total, as a failed `requires` does).
struct HeldBack {
    status: Status,
    why: String,
}

/// The skipped result of a case a battery derived that cannot apply (no intermediate, no CRL, no CA key).
fn derived_skipped(case: &Case, context: &CaseContext) -> Option<CaseResult> {
    let why = case.derived.as_ref()?.skipped.as_ref()?;
    let messages = vec![format!("skipped: {why}")];
    Some(not_run(case, context.clone(), Status::Skipped, messages))
}

/// The case's result from what it observed, or from why it could not run.
fn finish(lab: &Lab, case: &Case, context: CaseContext, ran: Result<Ran, CaseError>) -> CaseResult {
    match ran {
        Ok(mut ran) => {
            if let Some(note) = clock_note(lab, case) {
                let o = &mut ran.observed;
                o.detail = Some(match o.detail.take() {
                    Some(d) => format!("{d}; {note}"),
                    None => note,
                });
            }
            judged(lab, case, context, ran)
        }
        Err(e) => not_run(case, context, e.status(), e.into_messages()),
    }
}

/// `the client command ran under libfaketime at …` when a program of the case ran at the lab's clock.
fn clock_note(lab: &Lab, case: &Case) -> Option<String> {
    let clock = case.clock(lab)?;
    crate::lab::faketime::library()?;
    let mut who = Vec::new();
    if lab.at.is_some() && matches!(lab.servers[case.server].kind, ServerKind::Command(_)) {
        who.push("the server command");
    }
    if case.client.command.is_some() {
        who.push("the client command");
    }
    if who.is_empty() {
        return None;
    }
    let when = clock
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| clock.unix_timestamp().to_string());
    Some(format!(
        "{} ran under libfaketime at {when}, the lab's clock",
        who.join(" and ")
    ))
}

/// A case that did not run, with `status` and why.
fn not_run(case: &Case, context: CaseContext, status: Status, messages: Vec<String>) -> CaseResult {
    CaseResult {
        name: case.name.clone(),
        line: case.line,
        context,
        status,
        expected: case.expect.clone(),
        negotiated: case.checks.negotiated.clone(),
        observed: None,
        messages,
        explanation: None,
        grade: Grade::of(&case.grading, status, &[]),
        derived: case.derived.clone(),
    }
}

/// Runs the handshake of a case whose files are usable, on the kind of endpoint it has; records in
/// `context` the address an external server answered on.
async fn observe(
    lab: &Lab,
    work: &Workspace<'_>,
    case: &Case,
    endpoint: &mut Endpoint,
    context: &mut CaseContext,
) -> Result<Ran, CaseError> {
    let pki = work.pki;
    let problems = case_problems(lab, pki, case);
    if !problems.is_empty() {
        return Err(CaseError::Unusable(problems));
    }
    match endpoint {
        Endpoint::Down(down) => Err(CaseError::Server(down.clone())),
        Endpoint::BuiltIn(server) => match &case.client.command {
            None => Ok(client_against_builtin(lab, work, case, server)
                .await?
                .into()),
            Some(cmd) => command_against_builtin(lab, work, case, cmd, server).await,
        },
        Endpoint::Command(running) => match &case.client.command {
            None => client_against_command(lab, work, case, running, context).await,
            Some(cmd) => command_against_command(lab, work, case, cmd, running, context).await,
        },
        Endpoint::Target(t) => {
            let candidates = t.candidates(t.port);
            let addr = peer::in_use(&candidates).await.unwrap_or(candidates[0]);
            context.server_address = Some(addr.to_string());
            Ok(client_against_external(lab, work, case, addr).await?.into())
        }
    }
}

/// The case's result from what it observed: passed when the expectation and every check hold.
fn judged(lab: &Lab, case: &Case, mut context: CaseContext, ran: Ran) -> CaseResult {
    let Ran {
        mut observed,
        stdout,
        server_output,
        tail,
    } = ran;
    let unsaid = verdict::reason_unsaid(case, &mut observed);
    let mut messages = verdict::judge(&case.expect, &observed);
    if unsaid {
        // Only the unsaid reason differed: see `verdict::reason_unsaid`.
        messages.retain(|m| !m.starts_with("expected rejected by"));
    }
    messages.extend(verdict::judge_checks(
        &case.checks,
        &observed,
        stdout.as_deref(),
        server_output.as_deref(),
    ));
    let status = if messages.is_empty() {
        Status::Passed
    } else {
        Status::Failed
    };
    context.chains.program_output = tail.clone();
    if status == Status::Failed && !tail.is_empty() {
        let whose = if case.client.command.is_some() {
            "the client command's output"
        } else {
            "the server command's output"
        };
        messages.push(process::tail_block(whose, &tail));
    }
    CaseResult {
        name: case.name.clone(),
        line: case.line,
        context,
        status,
        expected: case.expect.clone(),
        negotiated: case.checks.negotiated.clone(),
        grade: Grade::of(
            &case.grading,
            status,
            &matched_parts(
                &case.expect,
                &case.checks,
                Some(&observed),
                stdout.as_deref(),
                server_output.as_deref(),
            ),
        ),
        explanation: verdict::explain::explain(
            lab,
            case,
            &observed,
            case.clock(lab)
                .unwrap_or_else(time::OffsetDateTime::now_utc),
        ),
        observed: Some(observed),
        messages,
        derived: case.derived.clone(),
    }
}

/// Which parts of an expectation the observation matched (for `score`); `stdout` is a client command's
/// output, `server_output` what a server command printed during the case.
pub fn matched_parts(
    expected: &Expectation,
    checks: &Checks,
    observed: Option<&Observed>,
    stdout: Option<&str>,
    server_output: Option<&str>,
) -> Vec<(ScorePart, bool)> {
    let Some(o) = observed else {
        return Vec::new();
    };
    let outcome_ok = match expected {
        Expectation::Accepted { .. } => o.outcome == Outcome::Accepted,
        Expectation::Rejected { by: Some(_), .. } => o.outcome == Outcome::Rejected,
        Expectation::Rejected { by: None, .. } => o.outcome == Outcome::ProgramError,
    };
    let mut out = vec![(ScorePart::Outcome, outcome_ok)];
    match expected {
        Expectation::Accepted { server_saw, status } => {
            out.push((
                ScorePart::ServerSaw,
                outcome_ok
                    && server_saw.as_ref().is_none_or(|spec| {
                        tls::identity::mismatches(spec, o.server_saw.as_ref()).is_empty()
                    }),
            ));
            out.push((
                ScorePart::Status,
                outcome_ok && status.is_none_or(|s| o.http_status == Some(s)),
            ));
        }
        Expectation::Rejected { by, reason } => {
            out.push((ScorePart::By, outcome_ok && o.by == *by));
            out.push((
                ScorePart::Reason,
                outcome_ok && o.by == *by && reason.is_none_or(|r| o.reason == Some(r)),
            ));
        }
    }
    // Each of the other fields on its own: it holds when judging it alone finds nothing.
    let only = |c: Checks| verdict::judge_checks(&c, o, stdout, server_output).is_empty();
    out.push((
        ScorePart::Alert,
        only(Checks {
            alert: checks.alert.clone(),
            ..Default::default()
        }),
    ));
    out.push((
        ScorePart::Exit,
        only(Checks {
            exit: checks.exit,
            ..Default::default()
        }),
    ));
    out.push((
        ScorePart::Output,
        only(Checks {
            output: checks.output.clone(),
            ..Default::default()
        }),
    ));
    out.push((
        ScorePart::ServerOutput,
        only(Checks {
            server_output: checks.server_output.clone(),
            ..Default::default()
        }),
    ));
    out.push((
        ScorePart::Negotiated,
        outcome_ok
            && only(Checks {
                negotiated: checks.negotiated.clone(),
                ..Default::default()
            }),
    ));
    out
}

/// The certificates a case's server and client need, and why any of them is unusable (missing or broken files).
pub(super) fn case_problems(lab: &Lab, pki: &Pki, case: &Case) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |why: Option<&str>| {
        if let Some(w) = why {
            if !out.iter().any(|o| o == w) {
                out.push(w.to_string());
            }
        }
    };
    let only_cert = |r: CertRef| pki.cert_problems.get(&r).map(String::as_str);
    let chain_refs = |chain: &Chain| match chain {
        Chain::List(l) => l.clone(),
        _ => Vec::new(),
    };
    let server = &lab.servers[case.server];
    add(pki.problem(CertRef::Certificate(server.certificate)));
    for (_, c) in &server.sni_certificates {
        add(pki.problem(CertRef::Certificate(*c)));
    }
    for r in chain_refs(&server.chain) {
        add(only_cert(r));
    }
    for t in &server.trust {
        add(only_cert(*t));
    }
    if let Some(c) = case.client.certificate {
        add(pki.problem(CertRef::Certificate(c)));
    }
    for c in case.client.select_by_ca_names.iter().flatten() {
        add(pki.problem(CertRef::Certificate(*c)));
    }
    for r in chain_refs(&case.client.chain) {
        add(only_cert(r));
    }
    for t in &case.client.trust {
        add(only_cert(*t));
    }
    for p in &case.client.pins {
        if let Pin::Key(r) = p {
            add(only_cert(*r));
        }
    }
    out
}
