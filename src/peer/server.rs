//! Server commands: a free port, starting the program, probing it until it is ready (TCP, or a TLS answer),
//! and, when it never listens where it should, the sockets it does listen on (from /proc).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::lab::command::{Loopback, Ready};
use crate::peer::process::{describe_exit, tail_block, ChildProcess, CommandSpec};
use crate::peer::procfs;
use crate::peer::PeerError;

/// A free port on 127.0.0.1 (and, when possible, also free on ::1).
pub fn free_port() -> std::io::Result<u16> {
    for _ in 0..20 {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = l.local_addr()?.port();
        if std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, port)).is_ok()
            || std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_err()
        {
            return Ok(port);
        }
    }
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// Something already accepts connections at one of `candidates`: where /proc tells, a socket listening
/// there (found without connecting, so nothing — a one-shot server included — sees a connection);
/// elsewhere, whatever accepts a TCP connection within 300 ms.
pub async fn in_use(candidates: &[SocketAddr]) -> Option<SocketAddr> {
    if let Some(sockets) = procfs::tcp_sockets() {
        return candidates
            .iter()
            .copied()
            .find(|a| sockets.iter().any(|s| s.listening && covers(&s.local, a)));
    }
    for a in candidates {
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(a)).await
        {
            return Some(*a);
        }
    }
    None
}

/// Why a server command never became ready.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NotReady {
    /// The process exited (`exit`, as [`describe_exit`] words it) before anything listened at `wanted`.
    #[error("{exit} before listening on {wanted}")]
    Exited { exit: String, wanted: String },
    /// `addr` accepted TCP connections but never answered a TLS handshake within `secs` seconds.
    #[error("{addr} accepted TCP connections but never answered a TLS handshake within {secs} s")]
    NoTls { addr: SocketAddr, secs: f64 },
    /// Nothing accepted a connection at `wanted` within `secs` seconds; `listening` are the TCP
    /// addresses the process group listens on instead (empty: none, or /proc is unavailable).
    #[error("nothing accepted a connection on {wanted} within {secs} s; {}", elsewhere(.listening))]
    Silent {
        wanted: String,
        secs: f64,
        listening: Vec<SocketAddr>,
    },
}

fn elsewhere(listening: &[SocketAddr]) -> String {
    if listening.is_empty() {
        "the process listens on no TCP port".to_string()
    } else {
        format!(
            "the process listens on {} instead",
            listening
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Waits until the server command accepts (and, for [`Ready::Tls`], answers TLS) at one of `candidates`;
/// returns that address. Where /proc is available, only the started process's own listening sockets
/// count (its scope: see [`ChildProcess`]), and readiness is read from them without connecting — a
/// one-shot server (`openssl s_server -naccept 1`) keeps its only connection for the case; its TLS is
/// then judged by the case's own handshake. Where /proc is unavailable, [`Ready::Tls`] probes with a
/// TLS handshake. Probes back off from 25 ms to 250 ms.
///
/// # Errors
/// [`NotReady`] when the process exits first or `timeout` runs out.
pub async fn wait_ready(
    child: &mut ChildProcess,
    candidates: &[SocketAddr],
    ready: Ready,
    timeout: Duration,
) -> Result<SocketAddr, NotReady> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(25);
    let mut tcp_only: Option<SocketAddr> = None;
    let wanted = candidates
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    loop {
        if let Some(status) = child.try_exit() {
            child.drain().await;
            return Err(NotReady::Exited {
                exit: describe_exit(status),
                wanted,
            });
        }
        // Readiness is the started process's own: where /proc tells which sockets its scope listens
        // on, an address is only probed once one of them covers it (whoever else answers there does
        // not count), and TCP readiness needs no connection at all.
        let own = child.listening();
        for a in candidates {
            match &own {
                Some(own) if !own.iter().any(|l| covers(l, a)) => continue,
                Some(_) => return Ok(*a),
                _ => {}
            }
            let Ok(Ok(tcp)) =
                tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(a)).await
            else {
                continue;
            };
            if ready == Ready::Tcp {
                return Ok(*a);
            }
            if tls_answers(tcp).await {
                return Ok(*a);
            }
            tcp_only = Some(*a);
        }
        if started.elapsed() >= timeout {
            let secs = timeout.as_secs_f64();
            return Err(match tcp_only {
                Some(addr) => NotReady::NoTls { addr, secs },
                None => NotReady::Silent {
                    wanted,
                    secs,
                    listening: child.listening().unwrap_or_default(),
                },
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Whether a TLS handshake attempt over `tcp` gets any TLS answer.
async fn tls_answers(tcp: TcpStream) -> bool {
    let connector = tokio_rustls::TlsConnector::from(crate::tls::probe_config());
    // `localhost` is a valid DNS name: this cannot fail.
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("valid name");
    match tokio::time::timeout(Duration::from_secs(3), connector.connect(name, tcp)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => crate::reason::find_tls_error(&e).is_some(),
        Err(_) => false,
    }
}

/// The TCP addresses the process group `pgid` listens on (from /proc; empty where /proc is unavailable).
pub fn listening_sockets(pgid: u32) -> Vec<SocketAddr> {
    let Some(table) = procfs::processes() else {
        return Vec::new();
    };
    let mut inodes = std::collections::HashSet::new();
    for p in table.iter().filter(|p| p.pgrp == pgid as i32) {
        inodes.extend(procfs::socket_inodes(p.pid));
    }
    let mut out: Vec<SocketAddr> = procfs::tcp_sockets()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.listening && inodes.contains(&s.inode))
        .map(|s| s.local)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether a socket listening on `listening` accepts connections to `wanted`: the same port, and the
/// same address or the unspecified address (`0.0.0.0`, or `::`, which also takes IPv4 by default).
fn covers(listening: &SocketAddr, wanted: &SocketAddr) -> bool {
    listening.port() == wanted.port()
        && (listening.ip() == wanted.ip()
            || (listening.ip().is_unspecified() && (listening.is_ipv6() || wanted.is_ipv4())))
}

/// The addresses in `listening` that are not loopback (`0.0.0.0` and `::` included).
pub fn not_loopback(listening: &[SocketAddr]) -> Vec<SocketAddr> {
    listening
        .iter()
        .filter(|a| !a.ip().to_canonical().is_loopback())
        .copied()
        .collect()
}

/// A server command that is running and ready.
pub struct RunningCommand {
    pub child: ChildProcess,
    /// Where it answered.
    pub addr: SocketAddr,
    /// The command line, for messages.
    pub command: String,
}

/// Starts a server command listening on `listen` at `port` and waits (at most `timeout`) until it is
/// `ready`; returns it with the address it answered on.
///
/// # Errors
/// [`PeerError::PortInUse`] when something already accepts connections there, [`PeerError::Spawn`] when
/// the program cannot start, [`PeerError::NotReady`] when it never becomes ready,
/// [`PeerError::NotLoopback`] when, once ready, it also listens on an address other than loopback; on
/// failure the process (and everything it started) is already stopped and reaped.
pub async fn start_server(
    spec: &CommandSpec,
    listen: &Loopback,
    port: u16,
    ready: Ready,
    timeout: Duration,
) -> Result<RunningCommand, PeerError> {
    let candidates = listen.candidates(port);
    if let Some(addr) = in_use(&candidates).await {
        return Err(PeerError::PortInUse {
            addr,
            command: spec.display(),
        });
    }
    let mut child = ChildProcess::spawn(spec).map_err(PeerError::Spawn)?;
    match wait_ready(&mut child, &candidates, ready, timeout).await {
        Ok(addr) => {
            // Loopback only: a server reachable from other machines fails (it would also take the
            // port on every interface from other runs and programs).
            let exposed = not_loopback(&child.listening().unwrap_or_default());
            if !exposed.is_empty() {
                child.stop().await;
                child.drain().await;
                return Err(PeerError::NotLoopback {
                    command: spec.display(),
                    addrs: exposed,
                });
            }
            tracing::info!(command = %spec.display(), %addr, "server command ready");
            Ok(RunningCommand {
                child,
                addr,
                command: spec.display(),
            })
        }
        Err(why) => {
            child.stop().await;
            child.drain().await;
            Err(PeerError::NotReady {
                command: spec.display(),
                why,
                output: tail_block("its output", &child.tail()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_addresses_cover() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(covers(&a("127.0.0.1:4443"), &a("127.0.0.1:4443")));
        assert!(covers(&a("0.0.0.0:4443"), &a("127.0.0.1:4443")));
        assert!(covers(&a("[::]:4443"), &a("127.0.0.1:4443")));
        assert!(covers(&a("[::]:4443"), &a("[::1]:4443")));
        assert!(!covers(&a("0.0.0.0:4443"), &a("[::1]:4443")));
        assert!(!covers(&a("127.0.0.1:4444"), &a("127.0.0.1:4443")));
        assert_eq!(
            not_loopback(&[a("127.0.0.1:1"), a("[::1]:1"), a("0.0.0.0:1"), a("[::]:1")]),
            vec![a("0.0.0.0:1"), a("[::]:1")]
        );
    }
}
