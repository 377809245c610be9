//! Running labs: [`run_all`] runs several at a time; [`run_lab`] runs one end to end — build the PKI,
//! run the certificate checks, take the lab's fixed ports (from labs of this run and from other runs on this
//! machine), export the PKI for external programs, start the servers (`stage`), run the cases — those
//! that can, several at a time (`batches`), with their results in file order — and stop the servers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::lab::{Lab, ServerKind};
use crate::peer::netns;
use crate::peer::portlock::{self, PortLockError};
use crate::pki::export::{self, ExportError};
use crate::pki::{self, Pki, PkiError};
use crate::run::case;
use crate::run::checks::run_checks;
use crate::run::endpoint;
use crate::run::result::{errored, LabResult, Status};
use crate::tls::TlsSetupError;

/// Why a lab could not run at all; every check and case then reports it ([`errored`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// The PKI could not be exported for external programs.
    #[error("cannot export the PKI: {0}")]
    Export(ExportError),
    /// No temporary directory for the exported PKI.
    #[error("cannot create a directory for the PKI: {0}")]
    ExportDir(std::io::Error),
    /// No free port for a server command.
    #[error("cannot find a free port: {0}")]
    FreePort(std::io::Error),
    /// The built-in server `server` could not listen on `addr`.
    #[error("server `{server}` could not listen on {addr}: {error}")]
    Listen {
        server: String,
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
    /// The run is in a private network namespace (`--isolate`), where the server `0` someone else
    /// runs (`target:`) cannot be reached.
    #[error("server `{0}` is a target run outside mtls-lab, which this run cannot reach from its private network namespace (--isolate); run without --isolate")]
    IsolatedTarget(String),
    /// A fixed port could not be taken from other mtls-lab runs on this machine.
    #[error(transparent)]
    Port(PortLockError),
    /// rcgen could not generate the PKI.
    #[error("cannot build the PKI: {0}")]
    Pki(Box<PkiError>),
    /// The thread generating the PKI panicked.
    #[error("PKI generation crashed: {0}")]
    PkiCrashed(tokio::task::JoinError),
    /// rustls refused a built-in server's configuration.
    #[error(transparent)]
    Tls(TlsSetupError),
}

/// What the servers and cases of a running lab share: its PKI, where that PKI was exported (empty when the
/// lab runs no command), the lab file's directory, and the TLS sessions of its servers and clients.
pub(super) struct Workspace<'a> {
    pub pki: &'a Pki,
    pub pki_path: &'a Path,
    pub lab_dir: &'a Path,
    pub sessions: &'a crate::tls::sessions::SessionStores,
}

/// Runs labs, at most `jobs` at a time, and returns their results in input order.
pub async fn run_all(labs: Vec<Lab>, jobs: usize) -> Vec<LabResult> {
    run_all_with_progress(labs, jobs, Arc::new(|_: &LabResult| {})).await
}

/// Called as each lab finishes, in completion order.
pub type Progress = Arc<dyn Fn(&LabResult) + Send + Sync>;

/// Like [`run_all`], reporting each finished lab to `progress`. A lab whose task panicked gives a result
/// with the error `internal error: lab task failed: …`.
pub async fn run_all_with_progress(
    labs: Vec<Lab>,
    jobs: usize,
    progress: Progress,
) -> Vec<LabResult> {
    let labs = labs.into_iter().map(|l| (l, pki::Source::Fresh)).collect();
    run_all_from(labs, jobs, progress).await
}

/// Like [`run_all_with_progress`], each lab's PKI from its [`pki::Source`].
pub async fn run_all_from(
    labs: Vec<(Lab, pki::Source)>,
    jobs: usize,
    progress: Progress,
) -> Vec<LabResult> {
    let limit = Arc::new(Semaphore::new(jobs.max(1)));
    // One bound for the cases of every lab: at most `jobs` handshakes at a time in the whole run.
    let case_jobs = Arc::new(Semaphore::new(jobs.max(1)));
    let mut handles = Vec::new();
    for (lab, source) in labs {
        let limit = limit.clone();
        let progress = progress.clone();
        let case_jobs = case_jobs.clone();
        handles.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = run_lab_sharing(&lab, source, &case_jobs).await;
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

/// Runs one lab end to end, up to [`default_jobs`] of its cases at a time. Never fails: a lab that
/// cannot run gives a result whose error says why and whose checks and cases are errors.
pub async fn run_lab(lab: &Lab) -> LabResult {
    run_lab_jobs(lab, default_jobs()).await
}

/// Like [`run_lab`], with at most `jobs` cases at a time (1: one after another); the results are the
/// same, in file order.
pub async fn run_lab_jobs(lab: &Lab, jobs: usize) -> LabResult {
    run_lab_from(lab, pki::Source::Fresh, jobs).await
}

/// Like [`run_lab_jobs`], the PKI from `source`: generated, with keys from the key cache, or built
/// already.
pub async fn run_lab_from(lab: &Lab, source: pki::Source, jobs: usize) -> LabResult {
    run_lab_sharing(lab, source, &Arc::new(Semaphore::new(jobs.max(1)))).await
}

/// Like [`run_lab_from`], its cases taking permits from `jobs`.
async fn run_lab_sharing(lab: &Lab, source: pki::Source, jobs: &Arc<Semaphore>) -> LabResult {
    let started = Instant::now();
    let for_pki = lab.clone();
    let build = move || match source {
        pki::Source::Built(p) => Ok(p),
        pki::Source::Cache(cache) => {
            pki::build_with(&for_pki, Some(&cache), None).map(|(p, _)| Arc::new(p))
        }
        _ => pki::build(&for_pki).map(Arc::new),
    };
    let pki = match tokio::task::spawn_blocking(build).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return errored(lab, LabError::Pki(Box::new(e)).to_string(), started),
        Err(e) => return errored(lab, LabError::PkiCrashed(e).to_string(), started),
    };
    tracing::debug!(lab = %lab.name, ms = started.elapsed().as_millis() as u64, "PKI built");
    run_lab_in(lab, pki, started, jobs).await
}

/// Runs one lab with a PKI already built (e.g. one that was also exported).
pub async fn run_lab_with_pki(lab: &Lab, pki: Arc<Pki>) -> LabResult {
    let jobs = Arc::new(Semaphore::new(default_jobs()));
    run_lab_in(lab, pki, Instant::now(), &jobs).await
}

/// The number of cores (2 when it cannot be read): `run`'s default for `--jobs`.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Runs one lab with its PKI built; its cases take permits from `jobs` while they run (see [`batches`]).
async fn run_lab_in(
    lab: &Lab,
    pki: Arc<Pki>,
    started: Instant,
    jobs: &Arc<Semaphore>,
) -> LabResult {
    let span = tracing::info_span!("lab", lab = %lab.name);
    // Explanations and messages use what the loaded files say (subjects, validity), not placeholders.
    let lab = Arc::new(pki::with_loaded_facts(lab, &pki));

    let mut done: HashMap<String, Status> = HashMap::new();
    // The cases whose handshake was accepted, whatever their checks: a battery's derived cases run after them.
    let mut accepted: std::collections::HashSet<String> = std::collections::HashSet::new();
    let checks = run_checks(&lab, &pki, &mut done);
    let mut staged = match stage(&lab, &pki).instrument(span.clone()).await {
        Ok(s) => s,
        Err(why) => {
            return LabResult {
                checks,
                ..errored(&lab, why.to_string(), started)
            }
        }
    };
    let mut cases = Vec::with_capacity(lab.cases.len());
    for batch in batches(&lab, &staged.servers) {
        let results = match batch {
            Batch::Alone(i) => {
                let c = &lab.cases[i];
                let work = Workspace {
                    pki: &pki,
                    pki_path: &staged.pki_path,
                    lab_dir: &staged.lab_dir,
                    sessions: &staged.sessions,
                };
                // A server taking turns on a fixed port starts for its cases, the one before it stopped.
                let turn = endpoint::take_turn(&lab, &work, &mut staged.servers, c.server)
                    .instrument(span.clone())
                    .await;
                if let Err(why) = turn {
                    vec![errored(&lab, why.to_string(), Instant::now())
                        .cases
                        .swap_remove(i)]
                } else {
                    let endpoint = staged
                        .servers
                        .get_mut(&c.server)
                        .expect("every server with cases was started, or took its turn");
                    vec![
                        case::run(&lab, &work, c, endpoint, &done, &accepted)
                            .instrument(span.clone())
                            .await,
                    ]
                }
            }
            Batch::Together(indices) => {
                let shared = Arc::new(Shared {
                    servers: std::mem::take(&mut staged.servers),
                    done: done.clone(),
                    accepted: accepted.clone(),
                });
                let results = together(&lab, &pki, &staged, &shared, indices, jobs, &span).await;
                // Every task that held a clone of `shared` has ended (each was awaited).
                staged.servers = Arc::try_unwrap(shared)
                    .map(|s| s.servers)
                    .unwrap_or_else(|_| unreachable!("every case task was awaited"));
                results
            }
        };
        for result in results {
            tracing::info!(parent: &span, case = %result.name, status = ?result.status, "case done");
            if result
                .observed
                .as_ref()
                .is_some_and(|o| o.outcome == crate::reason::Outcome::Accepted)
            {
                accepted.insert(result.name.clone());
            }
            done.insert(result.name.clone(), result.status);
            cases.push(result);
        }
    }
    staged.stop().await;
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

/// Cases that run at once, or one alone.
enum Batch {
    /// A case that needs its server to itself, or the results of the cases before it.
    Alone(usize),
    /// Consecutive cases that may run at the same time.
    Together(Vec<usize>),
}

/// The lab's cases in file order, grouped: consecutive cases of the built-in client against a built-in
/// server (or a server that did not start) run together, a case that requires one of them (or is derived from one) in the next group; every other case runs
/// alone, after the cases before it and before the cases after it. A client command's connections are
/// told apart from the others only while nothing else connects, a server command's output and a
/// target's state are shared by its connections, `requires` reads the results before it, and `resume`
/// offers the session an earlier case made: those stay serial, so every result is the one a serial run
/// gives. Built-in client connections are told apart by their local address ([`crate::tls::server::RunningServer::expect_connection`]).
fn batches(lab: &Lab, servers: &HashMap<usize, endpoint::Endpoint>) -> Vec<Batch> {
    let concurrent = |c: &crate::lab::Case| {
        c.client.command.is_none()
            && c.client.resume.is_none()
            && matches!(
                servers.get(&c.server),
                Some(endpoint::Endpoint::BuiltIn(_) | endpoint::Endpoint::Down(_))
            )
    };
    let mut out = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    for (i, c) in lab.cases.iter().enumerate() {
        if concurrent(c) {
            // A case requiring one of the batch (or derived from one) runs in the next, after the
            // results it reads.
            let reads_batch = c
                .grading
                .requires
                .iter()
                .chain(c.derived.as_ref().map(|d| &d.of))
                .any(|r| run.iter().any(|&j| lab.cases[j].name == *r));
            if reads_batch {
                out.push(Batch::Together(std::mem::take(&mut run)));
            }
            run.push(i);
            continue;
        }
        if !run.is_empty() {
            out.push(Batch::Together(std::mem::take(&mut run)));
        }
        out.push(Batch::Alone(i));
    }
    if !run.is_empty() {
        out.push(Batch::Together(run));
    }
    out
}

/// What the cases of a batch run together share: the lab's servers, and the results before the batch
/// (statuses for `requires`, the cases whose handshake was accepted for a battery's derived cases).
struct Shared {
    servers: HashMap<usize, endpoint::Endpoint>,
    done: HashMap<String, Status>,
    accepted: std::collections::HashSet<String>,
}

/// Runs the cases `indices` at the same time, each as its own task holding a permit of `jobs`, and
/// returns their results in the order of `indices`. A task that panicked gives an error result.
async fn together(
    lab: &Arc<Lab>,
    pki: &Arc<Pki>,
    staged: &Staged,
    shared: &Arc<Shared>,
    indices: Vec<usize>,
    jobs: &Arc<Semaphore>,
    span: &tracing::Span,
) -> Vec<crate::run::result::CaseResult> {
    let mut handles = Vec::with_capacity(indices.len());
    for &i in &indices {
        let (lab, pki, shared, jobs) = (lab.clone(), pki.clone(), shared.clone(), jobs.clone());
        let (pki_path, lab_dir) = (staged.pki_path.clone(), staged.lab_dir.clone());
        let sessions = staged.sessions.clone();
        handles.push(tokio::spawn(
            async move {
                let _permit = jobs.acquire_owned().await;
                let c = &lab.cases[i];
                let endpoint = shared
                    .servers
                    .get(&c.server)
                    .expect("every server with cases was started");
                let work = Workspace {
                    pki: &pki,
                    pki_path: &pki_path,
                    lab_dir: &lab_dir,
                    sessions: &sessions,
                };
                case::run_shared(&lab, &work, c, endpoint, &shared.done, &shared.accepted).await
            }
            .instrument(span.clone()),
        ));
    }
    let mut out = Vec::with_capacity(handles.len());
    for (h, &i) in handles.into_iter().zip(&indices) {
        out.push(match h.await {
            Ok(r) => r,
            Err(e) => {
                let mut r = errored(lab, String::new(), Instant::now())
                    .cases
                    .swap_remove(i);
                r.messages = vec![format!("internal error: case task failed: {e}")];
                r
            }
        });
    }
    out
}

/// A lab ready to run its cases: its fixed ports taken, its PKI exported for commands (when it runs
/// any), its servers started. [`Staged::stop`] stops the servers; dropping it releases the rest.
pub(super) struct Staged {
    pub servers: HashMap<usize, endpoint::Endpoint>,
    pub pki_path: PathBuf,
    pub lab_dir: PathBuf,
    /// The TLS sessions of the lab's servers and clients (`resume`, `share_sessions_with`).
    pub sessions: Arc<crate::tls::sessions::SessionStores>,
    _export_dir: Option<tempfile::TempDir>,
    _port_files: Vec<portlock::PortLock>,
    _port_guards: Vec<tokio::sync::OwnedMutexGuard<()>>,
}

impl Staged {
    /// Stops every server command and releases the ports and the exported PKI.
    pub async fn stop(mut self) {
        endpoint::stop_all(&mut self.servers).await;
    }
}

/// Makes `lab` ready to run its cases with `pki`: fixed ports taken — labs of this run take turns
/// (in-process lock), and so do other runs on this machine (a lock file per port), always in ascending
/// port order, so two labs never wait on each other — the PKI exported for external programs, the
/// servers started.
///
/// # Errors
/// [`LabError`] when the lab cannot run at all: a target under `--isolate`, a port held too long, the
/// export, or a built-in server that cannot start.
pub(super) async fn stage(lab: &Lab, pki: &Pki) -> Result<Staged, LabError> {
    let mut port_guards = Vec::new();
    let mut port_files = Vec::new();
    // In a private network namespace (`run --isolate`) no other run shares the ports: no lock file.
    let shared_network = !netns::isolated();
    if !shared_network {
        if let Some(target) = lab
            .servers
            .iter()
            .find(|s| matches!(s.kind, ServerKind::Target(_)))
        {
            return Err(LabError::IsolatedTarget(target.name.clone()));
        }
    }
    for port in fixed_ports(lab) {
        port_guards.push(port_lock(port).lock_owned().await);
        if !shared_network {
            continue;
        }
        port_files.push(
            portlock::acquire(port, &lab.file, portlock::port_wait())
                .await
                .map_err(LabError::Port)?,
        );
    }
    let export_dir = export_for_commands(lab, pki)?;
    let pki_path = export_dir
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .unwrap_or_default();
    let lab_dir = lab_dir(lab);
    let sessions = Arc::new(crate::tls::sessions::SessionStores::default());
    let servers = {
        let work = Workspace {
            pki,
            pki_path: &pki_path,
            lab_dir: &lab_dir,
            sessions: &sessions,
        };
        endpoint::start_all(lab, &work).await?
    };
    Ok(Staged {
        servers,
        pki_path,
        lab_dir,
        sessions,
        _export_dir: export_dir,
        _port_files: port_files,
        _port_guards: port_guards,
    })
}

/// External programs read the PKI from files: exports it to a temporary directory (the seed layout,
/// `DIR/NAME/NAME.crt` and so on, with PKCS#12 files) when the lab runs a command; `None` otherwise.
fn export_for_commands(lab: &Lab, pki: &Pki) -> Result<Option<tempfile::TempDir>, LabError> {
    if !has_commands(lab) {
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("mtls-lab-pki-")
        .tempdir()
        .map_err(LabError::ExportDir)?;
    export::export_with(lab, pki, dir.path(), true, Some(export::RUN_P12_PASSWORD))
        .map_err(LabError::Export)?;
    Ok(Some(dir))
}

/// Locks on fixed ports, so that labs of one run that use the same port (the seed's 4443) take turns
/// (other runs are kept out by [`portlock`]).
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
        .filter_map(endpoint::fixed_port)
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
