//! Runs validated labs: one PKI per lab, one in-process server per server definition, the cases in file order.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::certcheck::{self, Property};
use crate::client;
use crate::lab::{CertRef, Chain, Expectation, Grading, Lab, Pin};
use crate::pki;
use crate::server::{RunningServer, SERVER_WAIT};
use crate::spec::{Outcome, ScorePart};
use crate::tls;
use crate::verdict::{self, Observed};

/// A case's final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// The case could not be run (its lab's PKI or server failed, or its client could not be configured).
    Error,
    /// Not run because an item it requires did not pass; its points leave the total.
    Skipped,
}

/// The points an item earned, and the most it could earn in this run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Grade {
    pub points: f64,
    /// The item's points, or 0 when it was skipped (a skipped item's points leave the total).
    pub max_points: f64,
    /// Student-facing output shows only the item's name and whether it passed.
    pub hidden: bool,
    /// For a case with `score`: each part, whether it matched, and its points.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartResult>,
}

/// One scored part of a case's expectation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartResult {
    pub part: ScorePart,
    pub passed: bool,
    pub points: f64,
    pub max_points: f64,
}

/// Rounds points to 4 decimals, so that sums of fractions print the same everywhere.
pub fn round_points(p: f64) -> f64 {
    // `+ 0.0` turns the -0.0 of an empty float sum into 0.
    (p * 10_000.0).round() / 10_000.0 + 0.0
}

impl Grade {
    /// The grade of an item with `status`; `parts` says which parts of a case's expectation matched.
    pub fn of(g: &Grading, status: Status, parts: &[(ScorePart, bool)]) -> Grade {
        let parts: Vec<PartResult> = g
            .score
            .iter()
            .map(|(part, weight)| {
                let passed =
                    status != Status::Skipped && parts.iter().any(|(p, ok)| p == part && *ok);
                PartResult {
                    part: *part,
                    passed,
                    points: if passed { *weight } else { 0.0 },
                    max_points: *weight,
                }
            })
            .collect();
        let (points, max_points) = match status {
            Status::Skipped => (0.0, 0.0),
            Status::Passed => (g.points, g.points),
            _ => (parts.iter().map(|p| p.points).sum(), g.points),
        };
        Grade {
            points: round_points(points),
            max_points: round_points(max_points),
            hidden: g.hidden,
            parts,
        }
    }
}

/// Which parts of an expectation the observation matched (for `score`).
pub fn matched_parts(
    expected: &Expectation,
    observed: Option<&Observed>,
) -> Vec<(ScorePart, bool)> {
    let Some(o) = observed else {
        return Vec::new();
    };
    match expected {
        Expectation::Accepted { server_saw, status } => {
            let accepted = o.outcome == Outcome::Accepted;
            vec![
                (ScorePart::Outcome, accepted),
                (
                    ScorePart::ServerSaw,
                    accepted
                        && server_saw.as_ref().is_none_or(|spec| {
                            crate::identity::mismatches(spec, o.server_saw.as_ref()).is_empty()
                        }),
                ),
                (
                    ScorePart::Status,
                    accepted && status.is_none_or(|s| o.http_status == Some(s)),
                ),
            ]
        }
        Expectation::Rejected { by, reason } => {
            let rejected = o.outcome == Outcome::Rejected;
            vec![
                (ScorePart::Outcome, rejected),
                (ScorePart::By, rejected && o.by == Some(*by)),
                (ScorePart::Reason, rejected && o.reason == Some(*reason)),
            ]
        }
    }
}

/// The result of a certificate check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    pub line: usize,
    /// The certificate or authority checked.
    pub certificate: String,
    pub status: Status,
    /// Each property checked; a failed one carries its message.
    pub properties: Vec<Property>,
    /// For a failed check: each failed property's message (or why the certificate could not be read); for a skipped one, why.
    pub messages: Vec<String>,
    pub grade: Grade,
}

/// The facts of a case, as the report records them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseContext {
    pub server: String,
    /// The certificate the client presented, if any.
    pub client_certificate: Option<String>,
    /// The certificate the server presented.
    pub server_certificate: String,
    /// Authorities the client trusted.
    pub client_trusts: Vec<String>,
    /// Authorities the server trusted for client certificates.
    pub server_trusts: Vec<String>,
    pub server_name: String,
    /// The time at which both sides verified certificates (RFC 3339).
    pub verification_time: String,
}

impl CaseContext {
    pub fn of(
        lab: &Lab,
        case: &crate::lab::Case,
        verification_time: time::OffsetDateTime,
    ) -> CaseContext {
        let authority = |i: &usize| lab.authorities[*i].name.clone();
        let server = &lab.servers[case.server];
        CaseContext {
            server: server.name.clone(),
            client_certificate: case
                .client
                .certificate
                .map(|i| lab.certificates[i].name.clone()),
            server_certificate: lab.certificates[server.certificate].name.clone(),
            client_trusts: case.client.trust.iter().map(authority).collect(),
            server_trusts: server.trust.iter().map(authority).collect(),
            server_name: case.client.server_name.clone(),
            verification_time: verification_time
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub line: usize,
    pub context: CaseContext,
    pub status: Status,
    pub expected: Expectation,
    pub observed: Option<Observed>,
    /// For a failed case: each difference; for an errored case: why it could not run.
    pub messages: Vec<String>,
    /// For a rejected case: what the rejection means and the usual fix.
    pub explanation: Option<crate::explain::Explanation>,
    pub grade: Grade,
}

#[derive(Debug, Clone)]
pub struct LabResult {
    pub file: PathBuf,
    pub lab: String,
    /// Certificate checks, run before the cases.
    pub checks: Vec<CheckResult>,
    pub cases: Vec<CaseResult>,
    /// Whether the lab gives points explicitly.
    pub graded: bool,
    /// Why the lab could not run, if it could not.
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl LabResult {
    /// Cases and checks with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.cases.iter().filter(|c| c.status == status).count()
            + self.checks.iter().filter(|c| c.status == status).count()
    }

    /// Points earned and counted maximum over the lab's checks and cases.
    pub fn points(&self) -> (f64, f64) {
        let grades = self
            .checks
            .iter()
            .map(|c| &c.grade)
            .chain(self.cases.iter().map(|c| &c.grade));
        let (mut p, mut m) = (0.0, 0.0);
        for g in grades {
            p += g.points;
            m += g.max_points;
        }
        (round_points(p), round_points(m))
    }
}

/// Runs labs, at most `jobs` at a time, and returns their results in input order.
pub async fn run_all(labs: Vec<Lab>, jobs: usize) -> Vec<LabResult> {
    run_all_with_progress(labs, jobs, Arc::new(|_: &LabResult| {})).await
}

/// Called as each lab finishes, in completion order.
pub type Progress = Arc<dyn Fn(&LabResult) + Send + Sync>;

/// Like [`run_all`], reporting each finished lab to `progress`.
pub async fn run_all_with_progress(
    labs: Vec<Lab>,
    jobs: usize,
    progress: Progress,
) -> Vec<LabResult> {
    let limit = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut handles = Vec::new();
    for lab in labs {
        let limit = limit.clone();
        let progress = progress.clone();
        handles.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = run_lab(&lab).await;
            progress(&result);
            result
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        match h.await {
            Ok(r) => out.push(r),
            Err(e) => out.push(LabResult {
                file: PathBuf::new(),
                lab: "?".into(),
                checks: Vec::new(),
                cases: Vec::new(),
                graded: false,
                error: Some(format!("internal error: lab task failed: {e}")),
                duration_ms: 0,
            }),
        }
    }
    out
}

/// The result of a lab none of whose checks and cases could run, each an error with `why`.
pub fn errored(lab: &Lab, why: String, started: Instant) -> LabResult {
    LabResult {
        file: lab.file.clone(),
        lab: lab.name.clone(),
        graded: lab.graded,
        checks: lab
            .checks
            .iter()
            .map(|c| CheckResult {
                name: c.name.clone(),
                line: c.line,
                certificate: lab.name_of(c.certificate).to_string(),
                status: Status::Error,
                properties: Vec::new(),
                messages: vec![why.clone()],
                grade: Grade::of(&c.grading, Status::Error, &[]),
            })
            .collect(),
        cases: lab
            .cases
            .iter()
            .map(|c| CaseResult {
                name: c.name.clone(),
                line: c.line,
                context: CaseContext::of(
                    lab,
                    c,
                    c.clock(lab).unwrap_or_else(time::OffsetDateTime::now_utc),
                ),
                status: Status::Error,
                expected: c.expect.clone(),
                observed: None,
                messages: vec![why.clone()],
                explanation: None,
                grade: Grade::of(&c.grading, Status::Error, &[]),
            })
            .collect(),
        error: Some(why),
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// Runs one lab end to end.
pub async fn run_lab(lab: &Lab) -> LabResult {
    let started = Instant::now();
    let for_pki = lab.clone();
    let pki = match tokio::task::spawn_blocking(move || pki::build(&for_pki)).await {
        Ok(Ok(p)) => Arc::new(p),
        Ok(Err(e)) => return errored(lab, format!("cannot build the PKI: {e}"), started),
        Err(e) => return errored(lab, format!("PKI generation crashed: {e}"), started),
    };
    tracing::debug!(lab = %lab.name, ms = started.elapsed().as_millis() as u64, "PKI built");
    run_lab_with(lab, pki, started).await
}

/// Runs one lab with a PKI already built (e.g. one that was also exported).
pub async fn run_lab_with_pki(lab: &Lab, pki: Arc<pki::Pki>) -> LabResult {
    run_lab_with(lab, pki, Instant::now()).await
}

/// Why an item that requires `requires` cannot run, given the results so far; `None` when every prerequisite passed
/// (a prerequisite not in this run, e.g. filtered out, does not hold it back).
fn unmet(requires: &[String], done: &HashMap<String, Status>) -> Option<String> {
    let why: Vec<String> = requires
        .iter()
        .filter_map(|r| {
            let what = match done.get(r)? {
                Status::Passed => return None,
                Status::Failed => "failed",
                Status::Error => "could not run",
                Status::Skipped => "was skipped",
            };
            Some(format!("`{r}`, which {what}"))
        })
        .collect();
    (!why.is_empty()).then(|| format!("skipped: requires {}", why.join(" and ")))
}

/// The certificates a case's server and client need, and why any of them is unusable (missing or broken files).
fn case_problems(lab: &Lab, pki: &pki::Pki, case: &crate::lab::Case) -> Vec<String> {
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
    for r in chain_refs(&server.chain) {
        add(only_cert(r));
    }
    for t in &server.trust {
        add(only_cert(CertRef::Authority(*t)));
    }
    if let Some(c) = case.client.certificate {
        add(pki.problem(CertRef::Certificate(c)));
    }
    for r in chain_refs(&case.client.chain) {
        add(only_cert(r));
    }
    for t in &case.client.trust {
        add(only_cert(CertRef::Authority(*t)));
    }
    for p in &case.client.pins {
        if let Pin::Key(r) = p {
            add(only_cert(*r));
        }
    }
    out
}

/// Runs the lab's certificate checks, in order.
pub fn run_checks(
    lab: &Lab,
    pki: &pki::Pki,
    done: &mut HashMap<String, Status>,
) -> Vec<CheckResult> {
    let at = lab.at.unwrap_or_else(time::OffsetDateTime::now_utc);
    let mut out = Vec::new();
    for check in &lab.checks {
        let (status, properties, messages) = match unmet(&check.grading.requires, done) {
            Some(why) => (Status::Skipped, Vec::new(), vec![why]),
            None => match certcheck::evaluate(lab, pki, check, at) {
                Ok(props) => {
                    let messages: Vec<String> =
                        props.iter().filter_map(|p| p.message.clone()).collect();
                    let status = if messages.is_empty() {
                        Status::Passed
                    } else {
                        Status::Failed
                    };
                    (status, props, messages)
                }
                Err(why) => (Status::Failed, Vec::new(), vec![why]),
            },
        };
        done.insert(check.name.clone(), status);
        out.push(CheckResult {
            name: check.name.clone(),
            line: check.line,
            certificate: lab.name_of(check.certificate).to_string(),
            status,
            properties,
            messages,
            grade: Grade::of(&check.grading, status, &[]),
        });
    }
    out
}

async fn run_lab_with(lab: &Lab, pki: Arc<pki::Pki>, started: Instant) -> LabResult {
    let span = tracing::info_span!("lab", lab = %lab.name);
    let _enter = span.enter();
    // Explanations and messages use what the loaded files say (subjects, validity), not placeholders.
    let refined = pki::with_loaded_facts(lab, &pki);
    let lab = &refined;

    let mut done: HashMap<String, Status> = HashMap::new();
    let checks = run_checks(lab, &pki, &mut done);

    let mut servers: HashMap<usize, RunningServer> = HashMap::new();
    for (i, s) in lab.servers.iter().enumerate() {
        if !lab.cases.iter().any(|c| c.server == i) {
            continue;
        }
        // A server whose certificate or trust anchors could not be loaded does not start; its cases fail with why.
        let unusable = std::iter::once(pki.problem(CertRef::Certificate(s.certificate)))
            .chain(s.trust.iter().map(|t| {
                pki.cert_problems
                    .get(&CertRef::Authority(*t))
                    .map(String::as_str)
            }))
            .any(|p| p.is_some());
        if unusable {
            continue;
        }
        let config = match tls::server_config_at(lab, &pki, s, lab.at) {
            Ok(c) => c,
            Err(e) => return with_checks(errored(lab, e.to_string(), started), checks),
        };
        match RunningServer::start(&s.name, config).await {
            Ok(r) => {
                servers.insert(i, r);
            }
            Err(e) => {
                return with_checks(
                    errored(
                        lab,
                        format!("server `{}` could not listen on 127.0.0.1: {e}", s.name),
                        started,
                    ),
                    checks,
                )
            }
        }
    }

    let mut cases = Vec::new();
    for case in &lab.cases {
        let clock = case.clock(lab);
        let context = CaseContext::of(
            lab,
            case,
            clock.unwrap_or_else(time::OffsetDateTime::now_utc),
        );
        let not_run = |status: Status, messages: Vec<String>| CaseResult {
            name: case.name.clone(),
            line: case.line,
            context: context.clone(),
            status,
            expected: case.expect.clone(),
            observed: None,
            messages,
            explanation: None,
            grade: Grade::of(&case.grading, status, &[]),
        };
        let result = if let Some(why) = unmet(&case.grading.requires, &done) {
            not_run(Status::Skipped, vec![why])
        } else {
            let problems = case_problems(lab, &pki, case);
            match servers.get(&case.server) {
                _ if !problems.is_empty() => not_run(Status::Failed, problems),
                None => not_run(
                    Status::Error,
                    vec![format!(
                        "server `{}` did not start",
                        lab.servers[case.server].name
                    )],
                ),
                Some(server) => match run_case(lab, &pki, case, server).await {
                    Ok(observed) => {
                        let messages = verdict::judge(&case.expect, &observed);
                        let status = if messages.is_empty() {
                            Status::Passed
                        } else {
                            Status::Failed
                        };
                        CaseResult {
                            name: case.name.clone(),
                            line: case.line,
                            context: context.clone(),
                            status,
                            expected: case.expect.clone(),
                            explanation: crate::explain::explain(
                                lab,
                                case,
                                &observed,
                                case.clock(lab)
                                    .unwrap_or_else(time::OffsetDateTime::now_utc),
                            ),
                            grade: Grade::of(
                                &case.grading,
                                status,
                                &matched_parts(&case.expect, Some(&observed)),
                            ),
                            observed: Some(observed),
                            messages,
                        }
                    }
                    Err(why) => not_run(Status::Error, vec![why]),
                },
            }
        };
        tracing::info!(case = %case.name, status = ?result.status, "case done");
        done.insert(case.name.clone(), result.status);
        cases.push(result);
    }
    LabResult {
        file: lab.file.clone(),
        lab: lab.name.clone(),
        checks,
        cases,
        graded: lab.graded,
        error: None,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// A lab result with the checks that did run before the lab errored.
fn with_checks(mut r: LabResult, checks: Vec<CheckResult>) -> LabResult {
    r.checks = checks;
    r
}

async fn run_case(
    lab: &Lab,
    pki: &pki::Pki,
    case: &crate::lab::Case,
    server: &RunningServer,
) -> Result<Observed, String> {
    let clock = case.clock(lab);
    let config =
        tls::client_config_at(pki, &case.client, &case.name, clock).map_err(|e| e.to_string())?;
    // A case with its own clock needs the server to verify at that time too: a configuration for this connection only.
    let server_override = match case.at {
        Some(at) if Some(at) != lab.at => Some(
            tls::server_config_at(lab, pki, &lab.servers[case.server], Some(at))
                .map_err(|e| e.to_string())?,
        ),
        _ => None,
    };
    let started = Instant::now();
    let (socket, local) = client::bind_local()
        .map_err(|e| format!("cannot bind a client socket on 127.0.0.1: {e}"))?;
    let verdict_rx = server.expect_connection(local, server_override);
    let client_obs = client::run(
        socket,
        server.addr,
        config,
        &case.client.server_name,
        client::CLIENT_WAIT,
    )
    .await;
    // The server reports as soon as its handshake ends; bound the wait in case it never saw the connection.
    let never_connected = matches!(
        client_obs.failure,
        Some(client::ClientFailure::Refused(_) | client::ClientFailure::Timeout("connect"))
    );
    let server_verdict = if never_connected {
        None
    } else {
        tokio::time::timeout(SERVER_WAIT + Duration::from_secs(1), verdict_rx)
            .await
            .ok()
            .and_then(Result::ok)
    };
    if server_verdict.is_none() {
        server.forget(local);
    }
    let ms = started.elapsed().as_millis() as u64;
    tracing::debug!(case = %case.name, server = ?server_verdict, client = ?client_obs.failure, "observed");
    Ok(verdict::observe(server_verdict.as_ref(), &client_obs, ms))
}
