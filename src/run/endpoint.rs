//! A lab's servers, started once before its cases: the built-in server (in this process), a server command
//! (started and probed until ready), or a target someone else runs; and stopped after the cases.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::lab::command::Loopback;
use crate::lab::{CertRef, Lab, Server, ServerKind};
use crate::peer::process;
use crate::peer::{self, PeerError, RunningCommand};
use crate::run::lab::{LabError, Workspace};
use crate::run::result::Status;
use crate::tls;
use crate::tls::server::RunningServer;

/// A server of a running lab.
pub(super) enum Endpoint {
    BuiltIn(RunningServer),
    Command(RunningCommand),
    Target(Loopback),
    /// It could not start: every case against it is not run, with this reason.
    Down(EndpointDown),
}

/// Why a server did not start; each of its cases reports it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointDown {
    /// Its certificate or trust anchors could not be loaded (the submission's files are missing or
    /// broken): its cases fail. Each entry is one file's problem.
    #[error("{}", .0.join("; "))]
    Unusable(Vec<String>),
    /// The server command `server` listens on an address other than loopback (`error` names it): it
    /// was stopped, and its cases fail (the submission's fault).
    #[error("server `{server}`: {error}")]
    NotLoopback {
        server: String,
        error: Box<PeerError>,
    },
    /// The server command `server` could not start or never became ready: its cases are errors.
    #[error("server `{server}`: {error}")]
    NotStarted {
        server: String,
        error: Box<PeerError>,
    },
}

impl EndpointDown {
    /// `Failed` when the submission's files are broken or its server listens beyond loopback (the
    /// student's fault), `Error` when a program could not run (exit code 3).
    pub fn status(&self) -> Status {
        match self {
            EndpointDown::Unusable(_) | EndpointDown::NotLoopback { .. } => Status::Failed,
            EndpointDown::NotStarted { .. } => Status::Error,
        }
    }
}

/// Starts every server that has a case, indexed like `Lab::servers`.
///
/// # Errors
/// [`LabError`] when the lab cannot run at all: a built-in server's configuration is refused or it cannot
/// listen, or no free port is left for a server command. Servers already started are stopped (dropped).
/// A server command that fails to start is not an error here: it becomes [`Endpoint::Down`].
pub(super) async fn start_all(
    lab: &Lab,
    work: &Workspace<'_>,
) -> Result<HashMap<usize, Endpoint>, LabError> {
    let mut servers = HashMap::new();
    let turns = taking_turns(lab);
    for (i, s) in lab.servers.iter().enumerate() {
        if !lab.cases.iter().any(|c| c.server == i) || turns.contains(&i) {
            continue;
        }
        servers.insert(i, start(lab, work, s).await?);
    }
    Ok(servers)
}

/// The servers with cases that share a fixed port with another server with cases (a battery's derived
/// servers for a client command that connects to one fixed address): [`start_all`] leaves them out, and
/// each takes the port for its cases ([`take_turn`]).
pub(super) fn taking_turns(lab: &Lab) -> Vec<usize> {
    let with_cases: Vec<(usize, u16)> = lab
        .servers
        .iter()
        .enumerate()
        .filter(|(i, _)| lab.cases.iter().any(|c| c.server == *i))
        .filter_map(|(i, s)| fixed_port(s).map(|p| (i, p)))
        .collect();
    with_cases
        .iter()
        .filter(|(i, p)| with_cases.iter().any(|(j, q)| j != i && q == p))
        .map(|(i, _)| *i)
        .collect()
}

/// The fixed port server `s` listens on, if it has one.
pub(super) fn fixed_port(s: &Server) -> Option<u16> {
    match &s.kind {
        ServerKind::BuiltIn { listen: Some(a) } => Some(a.port()),
        ServerKind::Command(c) => Some(c.listen.port),
        _ => None,
    }
    .filter(|p| *p != 0)
}

/// Makes server `server` (one [`taking_turns`]) the one running on its fixed port: stops the server
/// of `servers` on that port, if another, and starts this one, unless it runs already.
///
/// # Errors
/// [`LabError`] as [`start_all`] gives it.
pub(super) async fn take_turn(
    lab: &Lab,
    work: &Workspace<'_>,
    servers: &mut HashMap<usize, Endpoint>,
    server: usize,
) -> Result<(), LabError> {
    if servers.contains_key(&server) {
        return Ok(());
    }
    let port = fixed_port(&lab.servers[server]);
    let holders: Vec<usize> = servers
        .keys()
        .copied()
        .filter(|i| fixed_port(&lab.servers[*i]) == port)
        .collect();
    for i in holders {
        if let Some(e) = servers.remove(&i) {
            stop(e).await;
        }
    }
    let endpoint = start(lab, work, &lab.servers[server]).await?;
    servers.insert(server, endpoint);
    Ok(())
}

/// Starts one server.
async fn start(lab: &Lab, work: &Workspace<'_>, s: &Server) -> Result<Endpoint, LabError> {
    let pki = work.pki;
    // A server whose certificate or trust anchors could not be loaded does not start; its cases fail with why.
    let unusable: Vec<String> = std::iter::once(pki.problem(CertRef::Certificate(s.certificate)))
        .chain(
            s.trust
                .iter()
                .map(|t| pki.cert_problems.get(t).map(String::as_str)),
        )
        .flatten()
        .map(str::to_string)
        .collect();
    if !unusable.is_empty() {
        return Ok(Endpoint::Down(EndpointDown::Unusable(unusable)));
    }
    Ok(match &s.kind {
        ServerKind::BuiltIn { listen } => {
            let config = tls::server_config_sharing(lab, pki, s, lab.at, work.sessions)
                .map_err(LabError::Tls)?;
            let addr: SocketAddr = listen.unwrap_or((std::net::Ipv4Addr::LOCALHOST, 0).into());
            let server = RunningServer::start_on(&s.name, config, addr)
                .await
                .map_err(|error| LabError::Listen {
                    server: s.name.clone(),
                    addr,
                    error,
                })?;
            // A connection nobody registered counts for a client command only when it comes from one
            // of this process's commands; any other is stray and decides nothing.
            server.set_unregistered_filter(std::sync::Arc::new(process::connection_is_ours));
            Endpoint::BuiltIn(server)
        }
        ServerKind::Target(t) => Endpoint::Target(t.clone()),
        ServerKind::Command(c) => {
            let port = match c.listen.port {
                0 => peer::free_port().map_err(LabError::FreePort)?,
                p => p,
            };
            let first = c.listen.candidates(port)[0];
            let vars = peer::Vars {
                pki: work.pki_path,
                lab_dir: work.lab_dir,
                server: Some((&c.listen.host, first)),
            };
            let mut spec = peer::expand_command(&c.template, &vars);
            if spec.cwd.is_none() {
                spec.cwd = Some(work.pki_path.to_path_buf());
            }
            if c.template.program() == Some(crate::lab::program::Program::Python) {
                python_hook(&mut spec, work.pki_path);
            }
            at_clock(&mut spec, lab.at);
            match peer::start_server(&spec, &c.listen, port, c.ready, c.start_timeout).await {
                Ok(r) => Endpoint::Command(r),
                Err(error @ PeerError::NotLoopback { .. }) => {
                    Endpoint::Down(EndpointDown::NotLoopback {
                        server: s.name.clone(),
                        error: Box::new(error),
                    })
                }
                // Issue rule: a program that cannot do its part makes its cases errors (exit 3).
                Err(error) => Endpoint::Down(EndpointDown::NotStarted {
                    server: s.name.clone(),
                    error: Box::new(error),
                }),
            }
        }
    })
}

/// Stops every server command (TERM, then KILL after a grace period) and reaps it; built-in servers stop
/// when dropped.
pub(super) async fn stop_all(servers: &mut HashMap<usize, Endpoint>) {
    for (_, endpoint) in servers.drain() {
        stop(endpoint).await;
    }
}

/// Stops one server: a command (TERM, then KILL after a grace period, reaped), or a built-in server
/// (its listening socket closed when this returns).
async fn stop(endpoint: Endpoint) {
    match endpoint {
        Endpoint::Command(mut running) => {
            let status = running.child.stop().await;
            tracing::debug!(command = %running.command, status = %process::describe_exit(status), "server command stopped");
        }
        Endpoint::BuiltIn(server) => server.stop().await,
        Endpoint::Target(_) | Endpoint::Down(_) => {}
    }
}

/// Runs a command at the clock `at` (the lab's, or its case's) with libfaketime preloaded
/// ([`crate::lab::faketime::environment`]): its clock starts there and runs on, and every process it
/// starts (a `sh -c` script's commands) inherits it. The command's own `env:` keeps its `LD_PRELOAD`
/// (after libfaketime) and wins for any other of these variables (`FAKETIME_DONT_FAKE_MONOTONIC: "0"`
/// fakes the monotonic clock too). Loading refused a clock for a program when libfaketime is missing.
pub(super) fn at_clock(spec: &mut peer::process::CommandSpec, at: Option<time::OffsetDateTime>) {
    let Some(at) = at else { return };
    let preload = (spec.env.iter())
        .find(|(k, _)| k == "LD_PRELOAD")
        .map(|(_, v)| v.clone());
    let Some(clock) = crate::lab::faketime::environment(at, preload.as_deref()) else {
        return;
    };
    for (name, value) in clock {
        match spec.env.iter().position(|(k, _)| *k == name) {
            Some(i) if name == "LD_PRELOAD" => spec.env[i].1 = value,
            Some(_) => {}
            None => spec.env.push((name, value)),
        }
    }
}

/// Runs a Python server command with [`crate::verdict::programs::PYTHON_SERVER_HOOK`] as its
/// `sitecustomize` (first on `PYTHONPATH`), so that it says how each TLS handshake ended; the file goes
/// into `.mtls-lab-python/` of the exported PKI. Without it (it cannot be written) the server's words
/// are its own only.
fn python_hook(spec: &mut peer::process::CommandSpec, pki: &std::path::Path) {
    let dir = pki.join(".mtls-lab-python");
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(
            dir.join("sitecustomize.py"),
            crate::verdict::programs::PYTHON_SERVER_HOOK,
        )
    });
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot write the Python server hook");
        return;
    }
    let theirs = spec
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PYTHONPATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("PYTHONPATH").ok())
        .filter(|v| !v.is_empty());
    let path = match theirs {
        Some(t) => format!("{}:{t}", dir.display()),
        None => dir.display().to_string(),
    };
    spec.env.retain(|(k, _)| k != "PYTHONPATH");
    spec.env.push(("PYTHONPATH".into(), path));
}
