//! One connection for each pairing of peers a case can have: the built-in client against the built-in
//! server, a server command or a target; a client command against the built-in server or a server
//! command; and the repeatable connection load mode makes (`Repeatable`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ServerConfig};

use crate::lab::{Case, ClientCommand, Lab, ServerKind};
use crate::peer::process;
use crate::peer::{self, RunningCommand};
use crate::pki::Pki;
use crate::run::endpoint::Endpoint;
use crate::run::lab::Workspace;
use crate::run::result::CaseContext;
use crate::tls::client::{self, Exchange};
use crate::tls::server::{RunningServer, SERVER_WAIT};
use crate::tls::{self};
use crate::verdict::{self, Observed};

use super::case::{case_problems, CaseError, Ran};

/// The server command of `case` before the case starts: a program under test that already stopped
/// cannot run its cases — an error naming its exit and the tail of its output.
pub(super) async fn still_running(
    lab: &Lab,
    case: &Case,
    running: &mut RunningCommand,
) -> Result<(), CaseError> {
    if let Some(status) = running.child.try_exit() {
        running.child.drain().await;
        return Err(CaseError::ServerStopped {
            server: lab.servers[case.server].name.clone(),
            command: running.command.clone(),
            exit: process::describe_exit(status),
            output: process::tail_block("its output", &running.child.tail()),
        });
    }
    Ok(())
}

/// The built-in client against a server command: first checks the command is still running, then runs the
/// case against the address it answered on and keeps the tail of its output (noting when it stopped
/// during this case).
pub(super) async fn client_against_command(
    lab: &Lab,
    work: &Workspace<'_>,
    case: &Case,
    running: &mut RunningCommand,
    context: &mut CaseContext,
) -> Result<Ran, CaseError> {
    still_running(lab, case, running).await?;
    context.server_address = Some(running.addr.to_string());
    let mark = running.child.line_mark();
    let observed = client_against_external(lab, work, case, running.addr).await;
    // Give the server a moment to write what it logs about this connection; a refused handshake is
    // what its words are read for, so then its first line is waited for (on a busy machine a program
    // may print it well after the client saw the alert).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = matches!(&observed, Ok(o) if o.outcome == crate::reason::Outcome::Rejected);
    let server_output = settled_lines(running, mark, refused).await;
    let mut tail = running.child.tail();
    let mut exited = None;
    if let Some(status) = running.child.try_exit() {
        running.child.drain().await;
        tail = running.child.tail();
        tail.push(format!(
            "[the server command {} during this case]",
            process::describe_exit(status)
        ));
        exited = Some(process::describe_exit(status));
    }
    let mut observed = observed?;
    if let ServerKind::Command(c) = &lab.servers[case.server].kind {
        verdict::apply_server_words(&mut observed, c.template.program(), &server_output);
        verdict::apply_server_rules(&mut observed, &c.verdicts, &server_output);
    }
    if let Some(exit_text) = exited {
        verdict::server_program_exited(&mut observed, &exit_text);
    }
    Ok(Ran {
        observed,
        stdout: None,
        server_output: Some(server_output),
        tail,
    })
}

/// What the server command printed since `mark`, once it has been quiet for 100 ms (at most 1 s); with
/// `want_first`, quiet only counts once it printed at least one line since `mark` (still at most 1 s:
/// a program that prints nothing about a connection costs that second).
pub(super) async fn settled_lines(running: &RunningCommand, mark: u64, want_first: bool) -> String {
    let until = Instant::now() + Duration::from_secs(1);
    let mut seen = running.child.line_mark();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = running.child.line_mark();
        let waiting = want_first && now == mark;
        if (now == seen && !waiting) || Instant::now() >= until {
            break;
        }
        seen = now;
    }
    running.child.lines_since(mark).join("\n")
}

/// A client command against a server command: both are programs, and only their words decide
/// ([`verdict::observe_programs`]): the client's output and exit status, and what the server printed
/// while the command ran.
pub(super) async fn command_against_command(
    lab: &Lab,
    work: &Workspace<'_>,
    case: &Case,
    command: &ClientCommand,
    running: &mut RunningCommand,
    context: &mut CaseContext,
) -> Result<Ran, CaseError> {
    still_running(lab, case, running).await?;
    context.server_address = Some(running.addr.to_string());
    let crate::lab::ServerKind::Command(server_command) = &lab.servers[case.server].kind else {
        unreachable!("a server command's endpoint is a command")
    };
    let vars = peer::Vars {
        pki: work.pki_path,
        lab_dir: work.lab_dir,
        server: Some((&server_command.listen.host, running.addr)),
    };
    let mut spec = peer::expand_command(&command.template, &vars);
    if spec.cwd.is_none() {
        spec.cwd = Some(work.pki_path.to_path_buf());
    }
    super::endpoint::at_clock(&mut spec, case.clock(lab));
    let mark = running.child.line_mark();
    let started = Instant::now();
    let run = peer::run_client(&spec, command.timeout)
        .await
        .map_err(|e| CaseError::ClientCommand(Box::new(e)))?;
    let refused = run.code != Some(0);
    let server_output = settled_lines(running, mark, refused).await;
    let ms = started.elapsed().as_millis() as u64;
    let output = format!("{}\n{}", run.stdout, run.stderr);
    let observed = verdict::observe_programs(
        verdict::CommandRun {
            program: verdict::programs::identify(&spec.argv),
            exit: run.code,
            exit_text: &run.exit_text,
            output: &output,
            rules: &command.verdicts,
        },
        verdict::ServerWords {
            program: server_command.template.program(),
            output: &server_output,
            rules: &server_command.verdicts,
        },
        ms,
    );
    tracing::debug!(case = %case.name, exit = %run.exit_text, server = %server_output, "observed (two programs)");
    let mut tail = run.tail.clone();
    if !server_output.is_empty() {
        tail.push("[the server command, during this case:]".into());
        tail.extend(server_output.lines().map(str::to_string));
    }
    Ok(Ran {
        observed,
        stdout: Some(run.stdout),
        server_output: Some(server_output),
        tail,
    })
}

/// The built-in client against an external server (a command or a target) at `addr`: only the client's
/// side is observable ([`verdict::observe_external_server`]).
pub(super) async fn client_against_external(
    lab: &Lab,
    work: &Workspace<'_>,
    case: &Case,
    addr: SocketAddr,
) -> Result<Observed, CaseError> {
    let clock = case.clock(lab);
    let (config, notes) =
        tls::client_config_resuming(work.pki, &case.client, &case.name, clock, work.sessions)
            .map_err(CaseError::Config)?;
    let once = external_once(
        case,
        config,
        Some((&notes, work.pki)),
        addr,
        Exchange::Request,
        false,
    )
    .await?;
    Ok(once.observed)
}

/// One connection of the built-in client with `config` to the external server at `addr`, as far as
/// `exchange` goes, with what `notes` (the client's verifier's, read with the lab's PKI) saw recorded;
/// with `zero_linger` the client's socket is reset on close (load mode: no TIME_WAIT).
pub(super) async fn external_once(
    case: &Case,
    config: Arc<ClientConfig>,
    notes: Option<(&tls::negotiated::SharedNotes, &Pki)>,
    addr: SocketAddr,
    exchange: Exchange,
    zero_linger: bool,
) -> Result<Once, CaseError> {
    let started = Instant::now();
    let bind = |error| CaseError::Bind {
        on: "loopback",
        error,
    };
    let (socket, _local) = client::bind_local_for(addr).map_err(bind)?;
    if zero_linger {
        socket.set_zero_linger().map_err(bind)?;
    }
    let mut client_obs = client::run_with(
        socket,
        addr,
        config,
        connect_name(case),
        client::CLIENT_WAIT,
        exchange,
    )
    .await;
    if let Some((notes, pki)) = notes {
        note_signature(&mut client_obs, notes, pki);
    }
    let ms = started.elapsed().as_millis() as u64;
    tracing::debug!(case = %case.name, client = ?client_obs.failure, "observed (external server)");
    let observed = match exchange {
        Exchange::Request => verdict::observe_external_server(&client_obs, ms),
        Exchange::HandshakeOnly => verdict::observe_external_handshake(&client_obs, ms),
    };
    Ok(Once {
        observed,
        resumed: client_obs.resumed,
    })
}

/// The server configuration for a case with its own clock (`at:` other than the lab's), so that the
/// server verifies at that time too; `None` when the server's own configuration applies.
pub(super) fn server_override(
    lab: &Lab,
    pki: &Pki,
    sessions: &tls::sessions::SessionStores,
    case: &Case,
) -> Result<Option<Arc<ServerConfig>>, CaseError> {
    match case.at {
        Some(at) if Some(at) != lab.at => {
            let server = &lab.servers[case.server];
            tls::server_config_sharing(lab, pki, server, Some(at), sessions)
                .map(Some)
                .map_err(CaseError::Config)
        }
        _ => Ok(None),
    }
}

/// A client command against a built-in server: returns the observation, the command's stdout and its
/// output's tail. Verdicts the server reaches within 500 ms of the command's exit still count.
pub(super) async fn command_against_builtin(
    lab: &Lab,
    work: &Workspace<'_>,
    case: &Case,
    command: &ClientCommand,
    server: &RunningServer,
) -> Result<Ran, CaseError> {
    let server_override = server_override(lab, work.pki, work.sessions, case)?;
    let vars = peer::Vars {
        pki: work.pki_path,
        lab_dir: work.lab_dir,
        // `localhost` may name only 127.0.0.1 (/etc/hosts): a server on `[::1]` is named by its address.
        server: Some((builtin_host(server.addr), server.addr)),
    };
    let mut spec = peer::expand_command(&command.template, &vars);
    if spec.cwd.is_none() {
        spec.cwd = Some(work.pki_path.to_path_buf());
    }
    super::endpoint::at_clock(&mut spec, case.clock(lab));
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
    let run = run.map_err(|e| CaseError::ClientCommand(Box::new(e)))?;
    let ms = started.elapsed().as_millis() as u64;
    tracing::debug!(case = %case.name, exit = %run.exit_text, verdicts = ?verdicts, "observed (client command)");
    // Its words: everything it printed on stdout, and the last lines of stderr (in the tail).
    let output = format!("{}\n{}", run.stdout, run.stderr);
    let observed = verdict::observe_command(
        &verdicts,
        verdict::CommandRun {
            program: verdict::programs::identify(&spec.argv),
            exit: run.code,
            exit_text: &run.exit_text,
            output: &output,
            rules: &command.verdicts,
        },
        ms,
    );
    Ok(Ran {
        observed,
        stdout: Some(run.stdout),
        server_output: None,
        tail: run.tail,
    })
}

/// How a client command names a built-in server listening on `addr` (`{host}`, `{url}`).
pub(super) fn builtin_host(addr: std::net::SocketAddr) -> &'static str {
    if addr.is_ipv6() {
        "::1"
    } else {
        "localhost"
    }
}

/// The built-in client against the built-in server: both sides' verdicts are observed
/// ([`verdict::observe`]).
pub(super) async fn client_against_builtin(
    lab: &Lab,
    work: &Workspace<'_>,
    case: &Case,
    server: &RunningServer,
) -> Result<Observed, CaseError> {
    let clock = case.clock(lab);
    let (config, notes) =
        tls::client_config_resuming(work.pki, &case.client, &case.name, clock, work.sessions)
            .map_err(CaseError::Config)?;
    // A case with its own clock needs the server to verify at that time too: a configuration for this connection only.
    let server_override = server_override(lab, work.pki, work.sessions, case)?;
    let once = builtin_once(
        case,
        config,
        Some((&notes, work.pki)),
        server_override,
        server,
        Exchange::Request,
        false,
    )
    .await?;
    Ok(once.observed)
}

/// One connection of the built-in client with `config` to the built-in `server` (which accepts it with
/// `server_override` when given), as far as `exchange` goes, registered by the client's local address
/// so that the server's verdict is this connection's, with what `notes` (the client's verifier's, read
/// with the lab's PKI) saw recorded; with `zero_linger` the client's socket is reset on close (load
/// mode: no TIME_WAIT).
pub(super) async fn builtin_once(
    case: &Case,
    config: Arc<ClientConfig>,
    notes: Option<(&tls::negotiated::SharedNotes, &Pki)>,
    server_override: Option<Arc<ServerConfig>>,
    server: &RunningServer,
    exchange: Exchange,
    zero_linger: bool,
) -> Result<Once, CaseError> {
    let started = Instant::now();
    // The client binds loopback of the server's family: 127.0.0.1, or ::1 for a server on `[::1]`.
    let bind = |error| CaseError::Bind {
        on: if server.addr.is_ipv6() {
            "::1"
        } else {
            "127.0.0.1"
        },
        error,
    };
    let (socket, local) = client::bind_local_for(server.addr).map_err(bind)?;
    if zero_linger {
        socket.set_zero_linger().map_err(bind)?;
    }
    let verdict_rx = server.expect_connection(local, server_override);
    let mut client_obs = client::run_with(
        socket,
        server.addr,
        config,
        connect_name(case),
        client::CLIENT_WAIT,
        exchange,
    )
    .await;
    if let Some((notes, pki)) = notes {
        note_signature(&mut client_obs, notes, pki);
    }
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
    let observed = match exchange {
        Exchange::Request => verdict::observe(server_verdict.as_ref(), &client_obs, ms),
        Exchange::HandshakeOnly => {
            verdict::observe_handshake(server_verdict.as_ref(), &client_obs, ms)
        }
    };
    Ok(Once {
        observed,
        resumed: client_obs.resumed,
    })
}

/// One connection of a [`Repeatable`] case: what was observed, and whether the client resumed a session.
#[derive(Debug)]
pub(super) struct Once {
    pub observed: Observed,
    pub resumed: bool,
}

/// A case made ready to repeat (load mode): its files checked, its client's configuration (and, for a
/// case with its own clock, its server's) built once, with session resumption on or off.
pub(super) struct Repeatable {
    config: Arc<ClientConfig>,
    /// What the client's verifier and certificate resolver note, shared by the case's connections (each
    /// notes the same values: one case, one configuration).
    notes: tls::negotiated::SharedNotes,
    pki: Arc<Pki>,
    server_override: Option<Arc<ServerConfig>>,
}

impl Repeatable {
    /// Prepares `case` of `lab` to repeat with the built-in client: with `resume`, the client keeps
    /// rustls's in-memory session cache (shared by every connection of the case) and resumes when the
    /// server lets it (RFC 8446 §2.2); without it, every handshake is a full one.
    ///
    /// # Errors
    /// [`CaseError::Unusable`] when a file the case needs is missing or broken, [`CaseError::Config`]
    /// when rustls refuses its client's (or server's) configuration.
    pub(super) fn new(
        lab: &Lab,
        pki: &Arc<Pki>,
        case: &Case,
        resume: bool,
    ) -> Result<Self, CaseError> {
        let problems = case_problems(lab, pki, case);
        if !problems.is_empty() {
            return Err(CaseError::Unusable(problems));
        }
        let (config, notes) =
            tls::client_config_noting(pki, &case.client, &case.name, case.clock(lab))
                .map_err(CaseError::Config)?;
        let mut config = Arc::unwrap_or_clone(config);
        config.resumption = if resume {
            rustls::client::Resumption::default()
        } else {
            rustls::client::Resumption::disabled()
        };
        Ok(Repeatable {
            config: Arc::new(config),
            notes,
            pki: pki.clone(),
            server_override: server_override(
                lab,
                pki,
                &tls::sessions::SessionStores::default(),
                case,
            )?,
        })
    }

    /// One connection of the case to `endpoint`, as far as `exchange` goes, judged by the same
    /// observation as [`run`]: both sides' verdicts against the built-in server; against a server
    /// command or a target only the client's side ([`verdict::observe_external_server`]): the server
    /// program's output cannot be told apart between concurrent connections.
    ///
    /// # Errors
    /// [`CaseError::Server`] when the endpoint is down, [`CaseError::Bind`] when no client socket can
    /// be bound.
    pub(super) async fn once(
        &self,
        case: &Case,
        endpoint: &Endpoint,
        exchange: Exchange,
    ) -> Result<Once, CaseError> {
        let config = self.config.clone();
        let notes = Some((&self.notes, &*self.pki));
        match endpoint {
            Endpoint::Down(down) => Err(CaseError::Server(down.clone())),
            Endpoint::BuiltIn(server) => {
                let over = self.server_override.clone();
                builtin_once(case, config, notes, over, server, exchange, true).await
            }
            Endpoint::Command(running) => {
                external_once(case, config, notes, running.addr, exchange, true).await
            }
            Endpoint::Target(t) => {
                let candidates = t.candidates(t.port);
                let addr = peer::in_use(&candidates).await.unwrap_or(candidates[0]);
                external_once(case, config, notes, addr, exchange, true).await
            }
        }
    }
}

/// The name the built-in client opens the connection with: the SNI it sends when that differs from the
/// name it verifies (its verifier then verifies `server_name`), else `server_name`.
pub(super) fn connect_name(case: &Case) -> &str {
    match &case.client.sni {
        crate::lab::Sni::Name(n) => n,
        _ => &case.client.server_name,
    }
}

/// Records what the client's verifier saw: the scheme the server signed with, and the server's
/// certificate also when the client refused it.
pub(super) fn note_signature(
    obs: &mut client::ClientObservation,
    notes: &tls::negotiated::SharedNotes,
    pki: &Pki,
) {
    let Ok(mut n) = notes.lock() else { return };
    if let Some(scheme) = n.signature_scheme {
        obs.negotiated.signature_scheme = Some(tls::negotiated::scheme_name(scheme));
    }
    if obs.server.is_none() {
        obs.server = n.server_certificate.take();
    }
    obs.negotiated.ca_names = n.ca_names_in(pki);
    // A server that asked for a certificate made a full handshake: a resumed one never asks (RFC 8446
    // §4.3.2, RFC 5246 §7.3), so this is known even when the handshake then failed.
    if obs.negotiated.resumed.is_none() && n.ca_names.is_some() {
        obs.negotiated.resumed = Some(false);
    }
    obs.negotiated.certificate_withheld = n.withheld;
}
