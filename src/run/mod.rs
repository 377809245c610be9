//! Runs validated labs: one PKI per lab, one in-process server per server definition, the cases in file order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::lab::command::Loopback;
use crate::lab::ScorePart;
use crate::lab::{CertRef, Chain, Expectation, Grading, Lab, Pin, ServerKind};
use crate::peer;
use crate::peer::process;
use crate::pki;
use crate::pki::export;
use crate::reason::Outcome;
use crate::tls;
use crate::tls::client;
use crate::tls::server::{RunningServer, SERVER_WAIT};
use crate::verdict::certcheck::{self, Property};
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
                    // A skipped case's parts leave the total with it.
                    max_points: if status == Status::Skipped {
                        0.0
                    } else {
                        *weight
                    },
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

/// Which parts of an expectation the observation matched (for `score`); `stdout` is a client command's output.
pub fn matched_parts(
    expected: &Expectation,
    checks: &crate::lab::Checks,
    observed: Option<&Observed>,
    stdout: Option<&str>,
) -> Vec<(ScorePart, bool)> {
    let Some(o) = observed else {
        return Vec::new();
    };
    let outcome_ok = match expected {
        Expectation::Accepted { .. } => o.outcome == Outcome::Accepted,
        Expectation::Rejected { .. } => o.outcome == Outcome::Rejected,
    };
    let mut out = vec![(ScorePart::Outcome, outcome_ok)];
    match expected {
        Expectation::Accepted { server_saw, status } => {
            out.push((
                ScorePart::ServerSaw,
                outcome_ok
                    && server_saw.as_ref().is_none_or(|spec| {
                        crate::tls::identity::mismatches(spec, o.server_saw.as_ref()).is_empty()
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
    let only = |c: crate::lab::Checks| verdict::judge_checks(&c, o, stdout).is_empty();
    out.push((
        ScorePart::Alert,
        only(crate::lab::Checks {
            alert: checks.alert.clone(),
            ..Default::default()
        }),
    ));
    out.push((
        ScorePart::Exit,
        only(crate::lab::Checks {
            exit: checks.exit,
            ..Default::default()
        }),
    ));
    out.push((
        ScorePart::Output,
        only(crate::lab::Checks {
            output: checks.output.clone(),
            ..Default::default()
        }),
    ));
    out
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
    /// For an external server: the address it answered on (a `localhost` server is probed on 127.0.0.1 and ::1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_address: Option<String>,
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
            server_address: None,
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
    pub explanation: Option<crate::verdict::explain::Explanation>,
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

/// What a case observed (and a client command's stdout and output tail), or why it could not run:
/// `Failed` when the submission's files are missing or broken, `Error` when a program could not run.
type CaseRun = Result<(Observed, Option<String>, Vec<String>), (Status, String)>;

/// A server of a running lab.
enum Endpoint {
    BuiltIn(RunningServer),
    Command(peer::RunningCommand),
    Target(Loopback),
    /// It could not start: every case against it is not run with this message; `Failed` when the
    /// submission's files are missing or broken, `Error` when the program could not start.
    Failed(Status, String),
}

/// Locks on fixed ports, so that labs of one run that use the same port (the seed's 4443) take turns.
fn port_lock(port: u16) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<u16, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    locks.entry(port).or_default().clone()
}

/// The fixed ports a lab's servers listen on.
fn fixed_ports(lab: &Lab) -> Vec<u16> {
    let mut ports: Vec<u16> = lab
        .servers
        .iter()
        .filter_map(|s| match &s.kind {
            ServerKind::BuiltIn { listen: Some(a) } => Some(a.port()),
            ServerKind::Command(c) => Some(c.listen.port),
            _ => None,
        })
        .filter(|p| *p != 0)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Whether the lab runs a command (and so needs its PKI exported).
fn has_commands(lab: &Lab) -> bool {
    lab.servers
        .iter()
        .any(|s| matches!(s.kind, ServerKind::Command(_)))
        || lab.cases.iter().any(|c| c.client.command.is_some())
}

/// The lab file's directory, absolute.
fn lab_dir(lab: &Lab) -> PathBuf {
    let dir = lab.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    std::fs::canonicalize(&dir).unwrap_or(dir)
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

/// A lab result with the checks that did run before the lab errored.
fn with_checks(mut r: LabResult, checks: Vec<CheckResult>) -> LabResult {
    r.checks = checks;
    r
}

async fn run_lab_with(lab: &Lab, pki: Arc<pki::Pki>, started: Instant) -> LabResult {
    let span = tracing::info_span!("lab", lab = %lab.name);
    let _enter = span.enter();
    // Explanations and messages use what the loaded files say (subjects, validity), not placeholders.
    let refined = pki::with_loaded_facts(lab, &pki);
    let lab = &refined;

    let mut done: HashMap<String, Status> = HashMap::new();
    let checks = run_checks(lab, &pki, &mut done);
    let errored = |lab: &Lab, why: String, started: Instant| {
        with_checks(errored(lab, why, started), checks.clone())
    };

    let mut _port_guards = Vec::new();
    for port in fixed_ports(lab) {
        _port_guards.push(port_lock(port).lock_owned().await);
    }

    // External programs read the PKI from files: the seed layout, DIR/NAME/NAME.crt and so on.
    let export_dir = if has_commands(lab) {
        let dir = match tempfile::Builder::new().prefix("mtls-lab-pki-").tempdir() {
            Ok(d) => d,
            Err(e) => {
                return errored(
                    lab,
                    format!("cannot create a directory for the PKI: {e}"),
                    started,
                )
            }
        };
        if let Err(e) =
            export::export_with(lab, &pki, dir.path(), true, Some(export::RUN_P12_PASSWORD))
        {
            return errored(lab, format!("cannot export the PKI: {e}"), started);
        }
        Some(dir)
    } else {
        None
    };
    let pki_path = export_dir
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .unwrap_or_default();
    let lab_dir = lab_dir(lab);

    let mut servers: HashMap<usize, Endpoint> = HashMap::new();
    for (i, s) in lab.servers.iter().enumerate() {
        if !lab.cases.iter().any(|c| c.server == i) {
            continue;
        }
        // A server whose certificate or trust anchors could not be loaded does not start; its cases fail with why.
        let unusable: Vec<String> =
            std::iter::once(pki.problem(CertRef::Certificate(s.certificate)))
                .chain(s.trust.iter().map(|t| {
                    pki.cert_problems
                        .get(&CertRef::Authority(*t))
                        .map(String::as_str)
                }))
                .flatten()
                .map(str::to_string)
                .collect();
        if !unusable.is_empty() {
            servers.insert(i, Endpoint::Failed(Status::Failed, unusable.join("; ")));
            continue;
        }
        let endpoint = match &s.kind {
            ServerKind::BuiltIn { listen } => {
                let config = match tls::server_config_at(lab, &pki, s, lab.at) {
                    Ok(c) => c,
                    Err(e) => return errored(lab, e.to_string(), started),
                };
                let addr = listen.unwrap_or((std::net::Ipv4Addr::LOCALHOST, 0).into());
                match RunningServer::start_on(&s.name, config, addr).await {
                    Ok(r) => Endpoint::BuiltIn(r),
                    Err(e) => {
                        return errored(
                            lab,
                            format!("server `{}` could not listen on {addr}: {e}", s.name),
                            started,
                        )
                    }
                }
            }
            ServerKind::Target(t) => Endpoint::Target(t.clone()),
            ServerKind::Command(c) => {
                let port = match c.listen.port {
                    0 => match peer::free_port() {
                        Ok(p) => p,
                        Err(e) => {
                            return errored(lab, format!("cannot find a free port: {e}"), started)
                        }
                    },
                    p => p,
                };
                let first = c.listen.candidates(port)[0];
                let vars = peer::Vars {
                    pki: &pki_path,
                    lab_dir: &lab_dir,
                    server: Some((&c.listen.host, first)),
                };
                let mut spec = peer::expand_command(&c.template, &vars);
                if spec.cwd.is_none() {
                    spec.cwd = Some(pki_path.clone());
                }
                match peer::start_server(&spec, &c.listen, port, c.ready, c.start_timeout).await {
                    Ok(r) => Endpoint::Command(r),
                    // Issue rule: a program that cannot do its part makes its cases errors (exit 3).
                    Err(e) => Endpoint::Failed(
                        Status::Error,
                        format!("server `{}`: {}", s.name, e.message),
                    ),
                }
            }
        };
        servers.insert(i, endpoint);
    }

    let mut cases = Vec::new();
    for case in &lab.cases {
        let endpoint = servers
            .get_mut(&case.server)
            .expect("every server with cases was started");
        let clock = case.clock(lab);
        let mut context = CaseContext::of(
            lab,
            case,
            clock.unwrap_or_else(time::OffsetDateTime::now_utc),
        );
        let not_run = |context: CaseContext, status: Status, messages: Vec<String>| CaseResult {
            name: case.name.clone(),
            line: case.line,
            context,
            status,
            expected: case.expect.clone(),
            observed: None,
            messages,
            explanation: None,
            grade: Grade::of(&case.grading, status, &[]),
        };
        if let Some(why) = unmet(&case.grading.requires, &done) {
            let result = not_run(context, Status::Skipped, vec![why]);
            done.insert(case.name.clone(), result.status);
            cases.push(result);
            continue;
        }
        let problems = case_problems(lab, &pki, case);
        if !problems.is_empty() {
            // The submission's files are missing or broken: the student's fault, a failure.
            let result = not_run(context, Status::Failed, problems);
            done.insert(case.name.clone(), result.status);
            cases.push(result);
            continue;
        }
        // Err: why the case could not run, with its status (`Error` for a program that could not run).
        let runner = |why: String| (Status::Error, why);
        let outcome: CaseRun = match endpoint {
            Endpoint::Failed(status, why) => Err((*status, why.clone())),
            Endpoint::BuiltIn(server) => match &case.client.command {
                None => run_case(lab, &pki, case, server)
                    .await
                    .map(|o| (o, None, Vec::new()))
                    .map_err(runner),
                Some(cmd) => {
                    run_command_case(lab, &pki, case, cmd, server, &pki_path, &lab_dir).await
                }
            },
            Endpoint::Command(running) => {
                if let Some(status) = running.child.try_exit() {
                    running.child.drain().await;
                    // The program under test stopped: its cases cannot run, an error.
                    Err((
                        Status::Error,
                        format!(
                            "server `{}` (`{}`) {} during the run\n{}",
                            lab.servers[case.server].name,
                            running.command,
                            process::describe_exit(status),
                            process::tail_block("its output", &running.child.tail())
                        ),
                    ))
                } else {
                    context.server_address = Some(running.addr.to_string());
                    let addr = running.addr;
                    let observed = run_case_against(lab, &pki, case, addr).await;
                    // Give the server a moment to write what it logs about this connection.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let mut tail = running.child.tail();
                    if let Some(status) = running.child.try_exit() {
                        running.child.drain().await;
                        tail = running.child.tail();
                        tail.push(format!(
                            "[the server command {} during this case]",
                            process::describe_exit(status)
                        ));
                    }
                    observed.map(|o| (o, None, tail)).map_err(runner)
                }
            }
            Endpoint::Target(t) => {
                let candidates = t.candidates(t.port);
                let addr = peer::in_use(&candidates).await.unwrap_or(candidates[0]);
                context.server_address = Some(addr.to_string());
                run_case_against(lab, &pki, case, addr)
                    .await
                    .map(|o| (o, None, Vec::new()))
                    .map_err(runner)
            }
        };
        let result = match outcome {
            Ok((observed, stdout, tail)) => {
                let mut messages = verdict::judge(&case.expect, &observed);
                messages.extend(verdict::judge_checks(
                    &case.checks,
                    &observed,
                    stdout.as_deref(),
                ));
                let status = if messages.is_empty() {
                    Status::Passed
                } else {
                    Status::Failed
                };
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
                    grade: Grade::of(
                        &case.grading,
                        status,
                        &matched_parts(
                            &case.expect,
                            &case.checks,
                            Some(&observed),
                            stdout.as_deref(),
                        ),
                    ),
                    explanation: crate::verdict::explain::explain(
                        lab,
                        case,
                        &observed,
                        case.clock(lab)
                            .unwrap_or_else(time::OffsetDateTime::now_utc),
                    ),
                    observed: Some(observed),
                    messages,
                }
            }
            Err((status, why)) => not_run(context, status, vec![why]),
        };
        tracing::info!(case = %case.name, status = ?result.status, "case done");
        done.insert(case.name.clone(), result.status);
        cases.push(result);
    }
    for (_, endpoint) in servers.iter_mut() {
        if let Endpoint::Command(running) = endpoint {
            let status = running.child.stop().await;
            tracing::debug!(command = %running.command, status = %process::describe_exit(status), "server command stopped");
        }
    }
    drop(servers);
    drop(export_dir);
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

/// A case of the built-in client against an external server (a command or a target) at `addr`.
async fn run_case_against(
    lab: &Lab,
    pki: &pki::Pki,
    case: &crate::lab::Case,
    addr: SocketAddr,
) -> Result<Observed, String> {
    let clock = case.clock(lab);
    let config =
        tls::client_config_at(pki, &case.client, &case.name, clock).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (socket, _local) = client::bind_local_for(addr)
        .map_err(|e| format!("cannot bind a client socket on loopback: {e}"))?;
    let client_obs = client::run(
        socket,
        addr,
        config,
        &case.client.server_name,
        client::CLIENT_WAIT,
    )
    .await;
    let ms = started.elapsed().as_millis() as u64;
    tracing::debug!(case = %case.name, client = ?client_obs.failure, "observed (external server)");
    Ok(verdict::observe_external_server(&client_obs, ms))
}

/// A case of a client command against a built-in server: returns the observation, the command's stdout and its output's tail.
async fn run_command_case(
    lab: &Lab,
    pki: &pki::Pki,
    case: &crate::lab::Case,
    command: &crate::lab::ClientCommand,
    server: &RunningServer,
    pki_path: &Path,
    lab_dir: &Path,
) -> CaseRun {
    let server_override = match case.at {
        Some(at) if Some(at) != lab.at => Some(
            tls::server_config_at(lab, pki, &lab.servers[case.server], Some(at))
                .map_err(|e| (Status::Error, e.to_string()))?,
        ),
        _ => None,
    };
    let vars = peer::Vars {
        pki: pki_path,
        lab_dir,
        server: Some(("localhost", server.addr)),
    };
    let mut spec = peer::expand_command(&command.template, &vars);
    if spec.cwd.is_none() {
        spec.cwd = Some(pki_path.to_path_buf());
    }
    let started = Instant::now();
    let mut verdicts_rx = server.expect_any(server_override);
    let run = peer::run_client(&spec, command.timeout).await;
    // A verdict the server reaches as the command exits may still be on its way.
    let mut verdicts = Vec::new();
    let settle = Instant::now() + Duration::from_millis(500);
    loop {
        // Wait for a first verdict; once there is one, only briefly for more.
        let until = if verdicts.is_empty() {
            settle
        } else {
            (Instant::now() + Duration::from_millis(30)).min(settle)
        };
        match tokio::time::timeout_at(until.into(), verdicts_rx.recv()).await {
            Ok(Some(v)) => verdicts.push(v),
            _ => break,
        }
    }
    server.forget_any();
    // A client program that could not be started or hung: the case could not run, an error.
    let run = run.map_err(|e| (Status::Error, e.message))?;
    let ms = started.elapsed().as_millis() as u64;
    tracing::debug!(case = %case.name, exit = %run.exit_text, verdicts = ?verdicts, "observed (client command)");
    let observed = verdict::observe_command(&verdicts, run.code, &run.exit_text, ms);
    Ok((observed, Some(run.stdout), run.tail))
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
