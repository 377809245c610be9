//! Server commands: a free port, starting the program, probing it until it is ready (TCP, or a TLS answer),
//! and, when it never listens where it should, the sockets it does listen on (from /proc).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::lab::command::{Loopback, Ready};
use crate::peer::process::{describe_exit, tail_block, ChildProcess, CommandSpec};
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

/// Something already accepts connections at one of `candidates`.
pub async fn in_use(candidates: &[SocketAddr]) -> Option<SocketAddr> {
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
/// returns that address. Probes back off from 25 ms to 250 ms.
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
        for a in candidates {
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
                    listening: listening_sockets(child.pid()),
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
    let mut inodes = std::collections::HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|g| g.parse::<u32>().ok());
        if pgrp != Some(pgid) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" || !inodes.contains(f[9]) {
                continue;
            }
            if let Some(a) = parse_proc_addr(f[1], v6) {
                out.push(a);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn parse_proc_addr(s: &str, v6: bool) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = if v6 {
        let mut bytes = [0u8; 16];
        for (i, chunk) in bytes.chunks_mut(4).enumerate() {
            let word = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        IpAddr::V6(Ipv6Addr::from(bytes))
    } else {
        let word = u32::from_str_radix(ip, 16).ok()?;
        IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes()))
    };
    Some(SocketAddr::new(ip, port))
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
/// the program cannot start, [`PeerError::NotReady`] when it never becomes ready; on failure the
/// process is already stopped and reaped.
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
    fn proc_addresses() {
        assert_eq!(
            parse_proc_addr("0100007F:115C", false),
            Some("127.0.0.1:4444".parse().unwrap())
        );
        assert_eq!(
            parse_proc_addr("00000000000000000000000001000000:115C", true),
            Some("[::1]:4444".parse().unwrap())
        );
    }
}
