//! External peers: placeholders over the exported PKI, server commands started and probed until ready, client commands run to completion.

pub mod process;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::lab::command::{CommandTemplate, Loopback, Piece, Placeholder, Ready};
use crate::peer::process::{describe_exit, tail_block, ChildProcess, CommandSpec};

/// Where a template's placeholders point.
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    pub pki: &'a Path,
    pub lab_dir: &'a Path,
    /// The server's host name and address, when there is one.
    pub server: Option<(&'a str, SocketAddr)>,
}

/// Expands a template validated at load time.
pub fn expand(template: &[Piece], vars: &Vars) -> String {
    let file = |name: &str, ext: &str| {
        vars.pki
            .join(name)
            .join(format!("{name}.{ext}"))
            .display()
            .to_string()
    };
    let mut out = String::new();
    for p in template {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(v) => out.push_str(&match v {
                Placeholder::Cert(n) => file(n, "crt"),
                Placeholder::Key(n) => file(n, "key"),
                Placeholder::Chain(n) => file(n, "chain.pem"),
                Placeholder::Crl(n) => file(n, "crl"),
                Placeholder::P12(n) => file(n, "p12"),
                Placeholder::Pki => vars.pki.display().to_string(),
                Placeholder::Dir => vars.lab_dir.display().to_string(),
                Placeholder::Host => vars.server.map_or(String::new(), |s| s.0.to_string()),
                Placeholder::Ip => vars.server.map_or(String::new(), |s| s.1.ip().to_string()),
                Placeholder::Port => vars
                    .server
                    .map_or(String::new(), |s| s.1.port().to_string()),
                Placeholder::Addr => vars.server.map_or(String::new(), |s| s.1.to_string()),
                Placeholder::Url => vars.server.map_or(String::new(), |(h, a)| {
                    let host = if h.parse::<Ipv6Addr>().is_ok() {
                        format!("[{h}]")
                    } else {
                        h.to_string()
                    };
                    format!("https://{host}:{}/", a.port())
                }),
            }),
        }
    }
    out
}

/// The command a template names once its placeholders are filled from `vars`; a relative `cwd` is taken
/// from the lab's directory.
pub fn expand_command(template: &CommandTemplate, vars: &Vars) -> CommandSpec {
    CommandSpec {
        argv: template.argv.iter().map(|a| expand(a, vars)).collect(),
        cwd: template.cwd.as_ref().map(|c| {
            let p = PathBuf::from(expand(c, vars));
            if p.is_relative() {
                vars.lab_dir.join(p)
            } else {
                p
            }
        }),
        env: template
            .env
            .iter()
            .map(|(k, v)| (k.clone(), expand(v, vars)))
            .collect(),
    }
}

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

/// Why a server command is not usable: a message and the tail of its output.
#[derive(Debug, Clone)]
pub struct StartError {
    pub message: String,
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

/// Waits until the server command accepts (and, for [`Ready::Tls`], answers TLS) at one of `candidates`;
/// returns that address. Fails when the process exits first or the time runs out.
pub async fn wait_ready(
    child: &mut ChildProcess,
    candidates: &[SocketAddr],
    ready: Ready,
    timeout: Duration,
) -> Result<SocketAddr, String> {
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
            return Err(format!(
                "{} before listening on {wanted}",
                describe_exit(status)
            ));
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
            let mut msg = match tcp_only {
                Some(a) => format!(
                    "{a} accepted TCP connections but never answered a TLS handshake within {secs} s"
                ),
                None => format!("nothing accepted a connection on {wanted} within {secs} s"),
            };
            if tcp_only.is_none() {
                let listening = listening_sockets(child.pid());
                if listening.is_empty() {
                    msg.push_str("; the process listens on no TCP port");
                } else {
                    msg.push_str(&format!(
                        "; the process listens on {} instead",
                        listening
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            return Err(msg);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Whether a TLS handshake attempt over `tcp` gets any TLS answer.
async fn tls_answers(tcp: TcpStream) -> bool {
    let connector = tokio_rustls::TlsConnector::from(crate::tls::probe_config());
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
    /// The host name clients use (`localhost` or the IP).
    pub host: String,
    pub command: String,
}

/// Starts a server command and waits until it is ready; on failure the process is already stopped and reaped.
pub async fn start_server(
    spec: &CommandSpec,
    listen: &Loopback,
    port: u16,
    ready: Ready,
    timeout: Duration,
) -> Result<RunningCommand, StartError> {
    let candidates = listen.candidates(port);
    if let Some(busy) = in_use(&candidates).await {
        return Err(StartError {
            message: format!(
                "{busy} is already in use before `{}` started (another process accepts connections there); stop it or choose another port",
                spec.display()
            ),
        });
    }
    let mut child = ChildProcess::spawn(spec).map_err(|message| StartError { message })?;
    match wait_ready(&mut child, &candidates, ready, timeout).await {
        Ok(addr) => {
            tracing::info!(command = %spec.display(), %addr, "server command ready");
            Ok(RunningCommand {
                child,
                addr,
                host: listen.host.clone(),
                command: spec.display(),
            })
        }
        Err(why) => {
            child.stop().await;
            child.drain().await;
            Err(StartError {
                message: format!(
                    "server command `{}` {why}\n{}",
                    spec.display(),
                    tail_block("its output", &child.tail())
                ),
            })
        }
    }
}

/// What a client command did.
#[derive(Debug, Clone)]
pub struct ClientRun {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub exit_text: String,
    pub stdout: String,
    pub tail: Vec<String>,
}

/// Runs a client command to completion, at most `timeout`.
pub async fn run_client(spec: &CommandSpec, timeout: Duration) -> Result<ClientRun, StartError> {
    let mut child = ChildProcess::spawn(spec).map_err(|message| StartError { message })?;
    match child.wait_for(timeout).await {
        Some(status) => {
            child.drain().await;
            Ok(ClientRun {
                code: status.code(),
                exit_text: describe_exit(status),
                stdout: child.stdout(),
                tail: child.tail(),
            })
        }
        None => {
            child.stop().await;
            child.drain().await;
            Err(StartError {
                message: format!(
                    "client command `{}` did not exit within {} s (stopped)\n{}",
                    spec.display(),
                    timeout.as_secs_f64(),
                    tail_block("its output", &child.tail())
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::command::parse_template;

    #[test]
    fn templates_parse_and_expand() {
        let t = parse_template("--cert={cert:client} {{x}} {url}").unwrap();
        let vars = Vars {
            pki: Path::new("/p"),
            lab_dir: Path::new("/l"),
            server: Some(("localhost", "127.0.0.1:4443".parse().unwrap())),
        };
        assert_eq!(
            expand(&t, &vars),
            "--cert=/p/client/client.crt {x} https://localhost:4443/"
        );
        assert!(parse_template("{nope}").is_err());
        assert!(parse_template("{cert:x").is_err());
    }

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
