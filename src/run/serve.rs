//! `serve`: a lab's built-in servers left running for learners' own clients (curl, a browser), and one
//! line per connection saying who connected and what each side decided, in `run`'s reason codes.

use std::net::SocketAddr;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::lab::{Lab, ServerKind};
use crate::pki::Pki;
use crate::reason::{self, Verdict};
use crate::tls::server::{ConnectionLog, RunningServer, ServerVerdict, SERVER_WAIT};

/// Why `serve` could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// `--server NAME` names no server of the lab.
    #[error("the lab has no server named `{0}`; its servers: {1}")]
    NoSuchServer(String, String),
    /// The server is a command or a target: only built-in servers are served.
    #[error("server `{0}` is not the built-in server (a `command` or `target`): `serve` starts built-in servers only")]
    NotBuiltIn(String),
    /// The lab has no built-in server at all.
    #[error("the lab has no built-in server to serve")]
    NoBuiltIn,
    #[error("server `{server}`: {message}")]
    Tls { server: String, message: String },
    #[error("server `{server}` could not listen on {addr}: {error}")]
    Listen {
        server: String,
        addr: SocketAddr,
        error: std::io::Error,
    },
}

/// The servers started, and every connection they see, tagged with the server's name.
pub struct Serving {
    pub servers: Vec<RunningServer>,
    pub connections: UnboundedReceiver<(String, ConnectionLog)>,
}

/// Starts the lab's built-in servers (only `only` when given) on their `listen` addresses, or ephemeral
/// ports on 127.0.0.1.
///
/// # Errors
/// [`ServeError`]: an unknown or non-built-in server, a configuration rustls refuses, an address in use.
pub async fn start(lab: &Lab, pki: &Pki, only: Option<&str>) -> Result<Serving, ServeError> {
    if let Some(name) = only {
        let Some(s) = lab.servers.iter().find(|s| s.name == name) else {
            let names: Vec<String> = lab
                .servers
                .iter()
                .map(|s| format!("`{}`", s.name))
                .collect();
            return Err(ServeError::NoSuchServer(name.to_string(), names.join(", ")));
        };
        if !matches!(s.kind, ServerKind::BuiltIn { .. }) {
            return Err(ServeError::NotBuiltIn(name.to_string()));
        }
    }
    let (tx, connections) = tokio::sync::mpsc::unbounded_channel();
    let mut servers = Vec::new();
    for s in &lab.servers {
        let ServerKind::BuiltIn { listen } = s.kind else {
            continue;
        };
        if only.is_some_and(|n| n != s.name) {
            continue;
        }
        let config =
            crate::tls::server_config_at(lab, pki, s, lab.at).map_err(|e| ServeError::Tls {
                server: s.name.clone(),
                message: e.to_string(),
            })?;
        let addr = listen.unwrap_or((std::net::Ipv4Addr::LOCALHOST, 0).into());
        let server = RunningServer::start_on(&s.name, config, addr)
            .await
            .map_err(|error| ServeError::Listen {
                server: s.name.clone(),
                addr,
                error,
            })?;
        // Every connection is a learner's: none is stray. Their verdicts come through the log below.
        let mut verdicts = server.expect_any(None);
        tokio::spawn(async move { while verdicts.recv().await.is_some() {} });
        let mut log = server.log_connections();
        let (tx, name) = (tx.clone(), s.name.clone());
        tokio::spawn(async move {
            while let Some(entry) = log.recv().await {
                if tx.send((name.clone(), entry)).is_err() {
                    break;
                }
            }
        });
        servers.push(server);
    }
    if servers.is_empty() {
        return Err(ServeError::NoBuiltIn);
    }
    Ok(Serving {
        servers,
        connections,
    })
}

/// The URL a learner opens for a server at `addr`: `https://localhost:PORT/` on 127.0.0.1.
pub fn url(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) if a.ip().is_loopback() => format!("https://localhost:{}/", a.port()),
        SocketAddr::V4(a) => format!("https://{}:{}/", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("https://[{}]:{}/", a.ip(), a.port()),
    }
}

/// One connection in one line: `SERVER PEER: VERDICT; client IDENTITY; TLS VERSION; "REQUEST"`, the
/// verdict in `run`'s words (`accepted`, `rejected by server: certificate_required`, ...).
pub fn line(server: &str, log: &ConnectionLog) -> String {
    let (verdict, client, version) = match &log.verdict {
        ServerVerdict::Accepted {
            client, version, ..
        } => (
            "accepted".to_string(),
            client.as_ref().map_or("none".to_string(), |c| {
                format!("{} (issuer {})", c.short(), c.issuer)
            }),
            version.clone().unwrap_or_else(|| "?".into()),
        ),
        ServerVerdict::Tls(e) => {
            let (verdict, client) = match reason::classify(e) {
                // Not a negotiation failure: e.g. plain HTTP sent to the TLS port.
                Verdict::Rejected {
                    reason: reason::Reason::Other,
                    detail,
                } => (
                    format!("not a TLS handshake (rejected by server: other): {detail}"),
                    "none".to_string(),
                ),
                Verdict::Rejected { reason, .. } => {
                    let client = if reason == reason::Reason::CertificateRequired {
                        "none"
                    } else {
                        "presented a certificate the server refused"
                    };
                    let sent = reason::alert_sent(e)
                        .map_or(String::new(), |a| format!(" (server sent alert {a})"));
                    (
                        format!("rejected by server: {}{sent}", reason.code()),
                        client.to_string(),
                    )
                }
                Verdict::AlertReceived { alert } => {
                    let code = reason::reason_for_alert(&alert).map_or("other", |r| r.code());
                    (
                        format!("rejected by client: {code} (server received alert {alert})"),
                        "unknown (the client refused the server first)".to_string(),
                    )
                }
            };
            (verdict, client, "-".to_string())
        }
        ServerVerdict::Io(e) => (format!("no TLS handshake: {e}"), "none".into(), "-".into()),
        ServerVerdict::Timeout => (
            format!("no TLS handshake within {} s", SERVER_WAIT.as_secs()),
            "none".into(),
            "-".into(),
        ),
    };
    let request = log.request.as_ref().map_or("no request".to_string(), |r| {
        format!("\"{}\"", r.escape_debug())
    });
    format!(
        "{server} {}: {verdict}; client {client}; {version}; {request}",
        log.peer
    )
}

/// One connection as a JSON object (`serve --json`): `server`, `peer`, `outcome` (`accepted`,
/// `rejected`, or `no_handshake` for a connection that never made a TLS handshake), `by` and `reason`
/// (`run`'s reason codes) and `alert` for a rejection, `client` (the identity presented, as the response
/// body names it; null when none or unknown), `version` and `request`.
pub fn json(server: &str, log: &ConnectionLog) -> serde_json::Value {
    let mut out = serde_json::json!({
        "server": server,
        "peer": log.peer.to_string(),
        "client": null,
        "version": null,
        "request": log.request,
    });
    let fields: Vec<(&str, serde_json::Value)> = match &log.verdict {
        ServerVerdict::Accepted {
            client, version, ..
        } => vec![
            ("outcome", "accepted".into()),
            ("client", serde_json::to_value(client).unwrap_or_default()),
            ("version", serde_json::to_value(version).unwrap_or_default()),
        ],
        ServerVerdict::Tls(e) => match reason::classify(e) {
            Verdict::Rejected {
                reason: reason::Reason::Other,
                detail,
            } => vec![
                ("outcome", "no_handshake".into()),
                ("detail", detail.into()),
            ],
            Verdict::Rejected { reason, detail } => vec![
                ("outcome", "rejected".into()),
                ("by", "server".into()),
                ("reason", reason.code().into()),
                (
                    "alert",
                    serde_json::to_value(reason::alert_sent(e)).unwrap_or_default(),
                ),
                ("detail", detail.into()),
            ],
            Verdict::AlertReceived { alert } => vec![
                ("outcome", "rejected".into()),
                ("by", "client".into()),
                (
                    "reason",
                    reason::reason_for_alert(&alert)
                        .map_or("other", |r| r.code())
                        .into(),
                ),
                ("alert", alert.into()),
            ],
        },
        ServerVerdict::Io(e) => vec![
            ("outcome", "no_handshake".into()),
            ("detail", e.clone().into()),
        ],
        ServerVerdict::Timeout => vec![
            ("outcome", "no_handshake".into()),
            ("detail", "timeout".into()),
        ],
    };
    for (k, v) in fields {
        out[k] = v;
    }
    out
}

/// The usual fix of a rejection, and what happened when the connection's facts are enough to say it:
/// `run`'s explanation (what happened is given for a missing client certificate only, since `serve`
/// does not know which certificate a refused client presented, nor what a client trusted). Each line
/// starts with `why:` or `fix:`. Empty for an accepted connection, one without a TLS handshake, or a
/// lab without a case on this server to take its names from.
pub fn explanation(lab: &Lab, server: &str, log: &ConnectionLog) -> Vec<String> {
    use crate::reason::{Outcome, Side};
    let ServerVerdict::Tls(e) = &log.verdict else {
        return Vec::new();
    };
    let (by, reason, detail) = match reason::classify(e) {
        Verdict::Rejected {
            reason: reason::Reason::Other,
            ..
        } => return Vec::new(),
        Verdict::Rejected { reason, detail } => (Side::Server, reason, Some(detail)),
        Verdict::AlertReceived { alert } => match reason::reason_for_alert(&alert) {
            Some(r) => (Side::Client, r, None),
            None => return Vec::new(),
        },
    };
    let Some(index) = lab.servers.iter().position(|s| s.name == server) else {
        return Vec::new();
    };
    let Some(mut case) = lab.cases.iter().find(|c| c.server == index).cloned() else {
        return Vec::new();
    };
    case.client.certificate = None;
    case.client.trust.clear();
    let observed = crate::verdict::Observed {
        outcome: Outcome::Rejected,
        by: Some(by),
        reason: Some(reason),
        detail,
        alert_sent: None,
        alert: None,
        tls_version: None,
        server_saw: None,
        client_saw: None,
        negotiated: Default::default(),
        http_status: None,
        duration_ms: 0,
        exit_status: None,
        external: None,
        server_exit: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let Some(x) = crate::verdict::explain::explain(lab, &case, &observed, lab.at.unwrap_or(now))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if reason == reason::Reason::CertificateRequired {
        out.push(format!("why: {}", x.what));
    }
    out.push(format!("fix: {}", x.fix));
    out
}
