//! Runs validated labs: one PKI per lab, one in-process server per server definition, the cases in file order.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client;
use crate::lab::{Expectation, Lab};
use crate::pki;
use crate::server::{RunningServer, SERVER_WAIT};
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
}

#[derive(Debug, Clone)]
pub struct LabResult {
    pub file: PathBuf,
    pub lab: String,
    pub cases: Vec<CaseResult>,
    /// Why the lab could not run, if it could not.
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl LabResult {
    pub fn count(&self, status: Status) -> usize {
        self.cases.iter().filter(|c| c.status == status).count()
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
                cases: Vec::new(),
                error: Some(format!("internal error: lab task failed: {e}")),
                duration_ms: 0,
            }),
        }
    }
    out
}

fn errored(lab: &Lab, why: String, started: Instant) -> LabResult {
    LabResult {
        file: lab.file.clone(),
        lab: lab.name.clone(),
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

async fn run_lab_with(lab: &Lab, pki: Arc<pki::Pki>, started: Instant) -> LabResult {
    let span = tracing::info_span!("lab", lab = %lab.name);
    let _enter = span.enter();

    let mut servers: HashMap<usize, RunningServer> = HashMap::new();
    for (i, s) in lab.servers.iter().enumerate() {
        if !lab.cases.iter().any(|c| c.server == i) {
            continue;
        }
        let config = match tls::server_config_at(lab, &pki, s, lab.at) {
            Ok(c) => c,
            Err(e) => return errored(lab, e.to_string(), started),
        };
        match RunningServer::start(&s.name, config).await {
            Ok(r) => {
                servers.insert(i, r);
            }
            Err(e) => {
                return errored(
                    lab,
                    format!("server `{}` could not listen on 127.0.0.1: {e}", s.name),
                    started,
                )
            }
        }
    }

    let mut cases = Vec::new();
    for case in &lab.cases {
        let server = &servers[&case.server];
        let clock = case.clock(lab);
        let context = CaseContext::of(
            lab,
            case,
            clock.unwrap_or_else(time::OffsetDateTime::now_utc),
        );
        let result = match run_case(lab, &pki, case, server).await {
            Ok(observed) => {
                let messages = verdict::judge(&case.expect, &observed);
                CaseResult {
                    name: case.name.clone(),
                    line: case.line,
                    context,
                    status: if messages.is_empty() {
                        Status::Passed
                    } else {
                        Status::Failed
                    },
                    expected: case.expect.clone(),
                    explanation: crate::explain::explain(
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
            Err(why) => CaseResult {
                name: case.name.clone(),
                line: case.line,
                context,
                status: Status::Error,
                expected: case.expect.clone(),
                observed: None,
                messages: vec![why],
                explanation: None,
            },
        };
        tracing::info!(case = %case.name, status = ?result.status, "case done");
        cases.push(result);
    }
    LabResult {
        file: lab.file.clone(),
        lab: lab.name.clone(),
        cases,
        error: None,
        duration_ms: started.elapsed().as_millis() as u64,
    }
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
