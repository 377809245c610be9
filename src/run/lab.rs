//! Running labs: [`run_all`] runs several at a time; [`run_lab`] runs one end to end — build the PKI,
//! run the certificate checks, take the lab's fixed ports (from labs of this run and from other runs on this
//! machine), export the PKI for external programs, start the servers, run the cases in file order, stop
//! the servers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::lab::{Lab, ServerKind};
use crate::peer::netns;
use crate::peer::portlock::{self, PortLockError};
use crate::pki::export::{self, ExportError};
use crate::pki::{self, Pki, PkiError};
use crate::run::case;
use crate::run::checks::run_checks;
use crate::run::endpoint;
use crate::run::result::{errored, CheckResult, LabResult, Status};
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
/// lab runs no command), and the lab file's directory.
pub(super) struct Workspace<'a> {
    pub pki: &'a Pki,
    pub pki_path: &'a Path,
    pub lab_dir: &'a Path,
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
    let limit = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut handles = Vec::new();
    for (lab, source) in labs {
        let limit = limit.clone();
        let progress = progress.clone();
        handles.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = run_lab_from(&lab, source).await;
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

/// Runs one lab end to end. Never fails: a lab that cannot run gives a result whose error says why and
/// whose checks and cases are errors.
pub async fn run_lab(lab: &Lab) -> LabResult {
    run_lab_from(lab, pki::Source::Fresh).await
}

/// Like [`run_lab`], the PKI from `source`: generated, with keys from the key cache, or built already.
pub async fn run_lab_from(lab: &Lab, source: pki::Source) -> LabResult {
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
    run_lab_with(lab, pki, started).await
}

/// Runs one lab with a PKI already built (e.g. one that was also exported).
pub async fn run_lab_with_pki(lab: &Lab, pki: Arc<Pki>) -> LabResult {
    run_lab_with(lab, pki, Instant::now()).await
}

async fn run_lab_with(lab: &Lab, pki: Arc<Pki>, started: Instant) -> LabResult {
    let span = tracing::info_span!("lab", lab = %lab.name);
    let _enter = span.enter();
    // Explanations and messages use what the loaded files say (subjects, validity), not placeholders.
    let refined = pki::with_loaded_facts(lab, &pki);
    let lab = &refined;

    let mut done: HashMap<String, Status> = HashMap::new();
    let checks = run_checks(lab, &pki, &mut done);
    let failed = |why: LabError, checks: Vec<CheckResult>| LabResult {
        checks,
        ..errored(lab, why.to_string(), started)
    };

    // Fixed ports: labs of this run take turns (in-process lock), and so do other runs on this machine
    // (a lock file per port); always taken in ascending port order, so two labs never wait on each other.
    let mut _port_guards = Vec::new();
    let mut _port_files = Vec::new();
    // In a private network namespace (`run --isolate`) no other run shares the ports: no lock file.
    let shared_network = !netns::isolated();
    if !shared_network {
        if let Some(target) = lab
            .servers
            .iter()
            .find(|s| matches!(s.kind, ServerKind::Target(_)))
        {
            return failed(LabError::IsolatedTarget(target.name.clone()), checks);
        }
    }
    for port in fixed_ports(lab) {
        _port_guards.push(port_lock(port).lock_owned().await);
        if !shared_network {
            continue;
        }
        match portlock::acquire(port, &lab.file, portlock::port_wait()).await {
            Ok(held) => _port_files.push(held),
            Err(e) => return failed(LabError::Port(e), checks),
        }
    }
    let export_dir = match export_for_commands(lab, &pki) {
        Ok(d) => d,
        Err(e) => return failed(e, checks),
    };
    let pki_path = export_dir
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .unwrap_or_default();
    let lab_dir = lab_dir(lab);
    let work = Workspace {
        pki: &pki,
        pki_path: &pki_path,
        lab_dir: &lab_dir,
    };

    let mut servers = match endpoint::start_all(lab, &work).await {
        Ok(s) => s,
        Err(e) => return failed(e, checks),
    };
    let mut cases = Vec::new();
    for c in &lab.cases {
        let endpoint = servers
            .get_mut(&c.server)
            .expect("every server with cases was started");
        let result = case::run(lab, &work, c, endpoint, &done).await;
        tracing::info!(case = %c.name, status = ?result.status, "case done");
        done.insert(c.name.clone(), result.status);
        cases.push(result);
    }
    endpoint::stop_all(&mut servers).await;
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
