//! External peers: the programs a lab runs. Placeholders (`{cert:NAME}`, `{url}`, …) expand over the
//! exported PKI; [`server`] starts and probes server commands, [`client`] runs client commands,
//! [`process`] keeps each in its own process group and scope, [`procfs`] reads what Linux's /proc
//! says about processes and sockets, [`portlock`] holds a fixed port across processes.

pub mod client;
pub mod netns;
pub mod portlock;
pub mod process;
pub mod procfs;
pub mod server;

use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::lab::command::{CommandTemplate, Piece, Placeholder};
use crate::peer::process::CommandSpec;

pub use client::{run_client, ClientRun};
pub use server::{
    free_port, in_use, listening_sockets, not_loopback, start_server, wait_ready, NotReady,
    RunningCommand,
};

/// Why an external program could not do its part (its cases are then errors, not failures).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The program could not be started (not found, not executable, bad working directory).
    #[error("{0}")]
    Spawn(String),
    /// Something already accepts connections at `addr` before the server command `command` started.
    #[error("{addr} is already in use before `{command}` started (another process accepts connections there); stop it or choose another port")]
    PortInUse { addr: SocketAddr, command: String },
    /// The server command `command` never became ready; `output` is the tail of its output.
    #[error("server command `{command}` {why}\n{output}")]
    NotReady {
        command: String,
        why: NotReady,
        output: String,
    },
    /// The server command `command` listens on `addrs`, which are not loopback (e.g. `0.0.0.0`: every
    /// interface); it was stopped.
    #[error("server command `{command}` listens on {}, not only on loopback: bind 127.0.0.1 or ::1 (labs keep every program on this machine)", addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    NotLoopback {
        command: String,
        addrs: Vec<SocketAddr>,
    },
    /// The client command `command` did not exit within `secs` seconds and was stopped.
    #[error("client command `{command}` did not exit within {secs} s (stopped)\n{output}")]
    ClientTimeout {
        command: String,
        secs: f64,
        output: String,
    },
}

/// Where a template's placeholders point.
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    pub pki: &'a Path,
    pub lab_dir: &'a Path,
    /// The server's host name and address, when there is one.
    pub server: Option<(&'a str, SocketAddr)>,
}

/// Expands a template validated at load time: `{cert:NAME}`, `{key:NAME}`, `{chain:NAME}`, `{crl:NAME}` and
/// `{p12:NAME}` name files of the exported PKI (`PKI/NAME/NAME.crt` and so on); `{pin:NAME}` is curl's
/// `sha256//BASE64` of `PKI/NAME/NAME.crt`'s public key; `{host}`, `{ip}`, `{port}`,
/// `{addr}` and `{url}` (`https://HOST:PORT/`, an IPv6 host in brackets, RFC 3986) the server's address,
/// empty when there is none.
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
                // Read from the exported certificate: empty if it cannot be read.
                Placeholder::Pin(n) => {
                    crate::pki::export::pin_of_file(&vars.pki.join(n).join(format!("{n}.crt")))
                        .unwrap_or_default()
                }
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
}
