//! The built-in HTTPS server: hyper over tokio-rustls on 127.0.0.1, reporting its own verdict for each connection.
//!
//! A client registers its local address before it connects; the server sends the verdict of the
//! connection from that address on the registered channel, so one server serves many cases. A client
//! command's connections (whose addresses are not known in advance) are taken while
//! [`RunningServer::expect_any`] is set, if a [`PeerFilter`] admits them; any other connection is
//! stray: served, counted, and never part of a verdict.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::tls::identity::Identity;
use crate::tls::negotiated::Negotiated;

/// How long the server waits for a handshake, and for a request after it.
pub const SERVER_WAIT: Duration = Duration::from_secs(10);

/// What the server decided about one connection.
#[derive(Debug, Clone)]
// One per connection, sent once: the size of an acceptance does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ServerVerdict {
    /// The handshake completed; the client's identity, if it presented a certificate.
    Accepted {
        client: Option<Identity>,
        version: Option<String>,
        /// What the handshake negotiated, with the SNI the client sent.
        negotiated: Negotiated,
    },
    /// The handshake failed with this rustls error on the server.
    Tls(rustls::Error),
    /// The handshake failed below TLS (closed, reset).
    Io(String),
    /// The client did not finish the handshake in time.
    Timeout,
}

/// One connection as a live log shows it (`serve`): sent when its first HTTP request arrives, or
/// when it ends without one (a failed handshake, a client that sent nothing).
#[derive(Debug, Clone)]
pub struct ConnectionLog {
    pub peer: SocketAddr,
    pub verdict: ServerVerdict,
    /// The first request line, e.g. `GET / HTTP/1.1`.
    pub request: Option<String>,
}

type LogSender = tokio::sync::mpsc::UnboundedSender<ConnectionLog>;

/// A registered connection: where to report its verdict, and the configuration to accept it with (the server's own when `None`).
type Registration = (oneshot::Sender<ServerVerdict>, Option<Arc<ServerConfig>>);

/// Connections the server reports on: by the client's address, or (for a client command, whose
/// address is not known in advance) every connection from an unregistered address.
#[derive(Default)]
struct Registrations {
    by_peer: HashMap<SocketAddr, Registration>,
    any: Option<(
        tokio::sync::mpsc::UnboundedSender<ServerVerdict>,
        Option<Arc<ServerConfig>>,
    )>,
}

type Registry = Arc<Mutex<Registrations>>;

/// Decides whether a connection from an unregistered address (the peer's address, then the server's)
/// may count for [`RunningServer::expect_any`]; one it refuses is stray. It may block briefly (it runs
/// off the async threads).
pub type PeerFilter = Arc<dyn Fn(SocketAddr, SocketAddr) -> bool + Send + Sync>;

/// Where a verdict goes.
enum Report {
    Once(oneshot::Sender<ServerVerdict>),
    Each(tokio::sync::mpsc::UnboundedSender<ServerVerdict>),
}

/// A server running in this process until dropped.
pub struct RunningServer {
    pub name: String,
    pub addr: SocketAddr,
    registry: Registry,
    filter: Arc<Mutex<Option<PeerFilter>>>,
    strays: Arc<AtomicUsize>,
    log: Arc<Mutex<Option<LogSender>>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Binds 127.0.0.1 on an ephemeral port and starts accepting.
    pub async fn start(name: &str, config: Arc<ServerConfig>) -> std::io::Result<RunningServer> {
        Self::start_on(name, config, (std::net::Ipv4Addr::LOCALHOST, 0).into()).await
    }

    /// Binds `addr` (a fixed port, for programs that connect to one) and starts accepting.
    pub async fn start_on(
        name: &str,
        config: Arc<ServerConfig>,
        addr: SocketAddr,
    ) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let registry: Registry = Arc::default();
        let filter: Arc<Mutex<Option<PeerFilter>>> = Arc::default();
        let strays: Arc<AtomicUsize> = Arc::default();
        let log: Arc<Mutex<Option<LogSender>>> = Arc::default();
        let log_in = log.clone();
        let acceptor = TlsAcceptor::from(config);
        let reg = registry.clone();
        let (filter_in, strays_in) = (filter.clone(), strays.clone());
        let server_name = name.to_string();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let reg = reg.clone();
                let (filter, strays) = (filter_in.clone(), strays_in.clone());
                let server_name = server_name.clone();
                let log = log_in.lock().ok().and_then(|l| l.clone());
                tokio::spawn(async move {
                    let registered = reg.lock().ok().and_then(|mut r| {
                        r.by_peer
                            .remove(&peer)
                            .map(|(tx, config)| (Report::Once(tx), config))
                    });
                    let registration = match registered {
                        Some(r) => Some(r),
                        None => {
                            let any = reg.lock().ok().and_then(|r| {
                                r.any
                                    .as_ref()
                                    .map(|(tx, config)| (Report::Each(tx.clone()), config.clone()))
                            });
                            let ours = match (&any, tcp.local_addr()) {
                                (Some(_), Ok(local)) => admitted(&filter, peer, local).await,
                                _ => false,
                            };
                            if !ours {
                                strays.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(server = %server_name, %peer, "stray connection (from no process this run started, or from one that had already exited): served, but it decides no verdict");
                            }
                            any.filter(|_| ours)
                        }
                    };
                    let (report, acceptor) = match registration {
                        Some((tx, Some(config))) => (Some(tx), TlsAcceptor::from(config)),
                        Some((tx, None)) => (Some(tx), acceptor),
                        None => (None, acceptor),
                    };
                    let log = log.map(|tx| (tx, peer));
                    serve(acceptor, tcp, report, &server_name, log).await;
                });
            }
        });
        tracing::debug!(server = name, %addr, "listening");
        Ok(RunningServer {
            name: name.to_string(),
            addr,
            registry,
            filter,
            strays,
            log,
            task,
        })
    }

    /// Streams one [`ConnectionLog`] per connection accepted from now on.
    pub fn log_connections(&self) -> tokio::sync::mpsc::UnboundedReceiver<ConnectionLog> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut l) = self.log.lock() {
            *l = Some(tx);
        }
        rx
    }

    /// Sets what decides whether an unregistered connection may count for [`RunningServer::expect_any`]
    /// (without one, every unregistered connection counts while `expect_any` is set).
    pub fn set_unregistered_filter(&self, filter: PeerFilter) {
        if let Ok(mut f) = self.filter.lock() {
            *f = Some(filter);
        }
    }

    /// How many connections so far were stray: from an address no case registered, and refused by the
    /// filter or arriving while no client command was expected.
    pub fn strays(&self) -> usize {
        self.strays.load(Ordering::Relaxed)
    }

    /// Asks for the verdict on the connection that will come from `client`, accepted with `config` when given
    /// (a per-case configuration, e.g. with the case's virtual clock) instead of the server's own.
    pub fn expect_connection(
        &self,
        client: SocketAddr,
        config: Option<Arc<ServerConfig>>,
    ) -> oneshot::Receiver<ServerVerdict> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut r) = self.registry.lock() {
            r.by_peer.insert(client, (tx, config));
        }
        rx
    }

    /// Asks for the verdict on every connection from an address nobody registered (a client command's),
    /// until [`RunningServer::forget_any`].
    pub fn expect_any(
        &self,
        config: Option<Arc<ServerConfig>>,
    ) -> tokio::sync::mpsc::UnboundedReceiver<ServerVerdict> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut r) = self.registry.lock() {
            r.any = Some((tx, config));
        }
        rx
    }

    /// Stops reporting on unregistered connections.
    pub fn forget_any(&self) {
        if let Ok(mut r) = self.registry.lock() {
            r.any = None;
        }
    }

    /// Withdraws a registration whose connection never came.
    pub fn forget(&self, client: SocketAddr) {
        if let Ok(mut r) = self.registry.lock() {
            r.by_peer.remove(&client);
        }
    }
}

impl RunningServer {
    /// Stops accepting and returns once the listening socket is closed, so that another server can
    /// bind its address at once (dropping it stops it too, the socket closing a moment later).
    pub async fn stop(mut self) {
        self.task.abort();
        // The task ends cancelled; its listener is dropped with it.
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether `filter` (none: yes) lets the connection from `peer` to `local` count.
async fn admitted(filter: &Mutex<Option<PeerFilter>>, peer: SocketAddr, local: SocketAddr) -> bool {
    let Some(f) = filter.lock().ok().and_then(|f| f.clone()) else {
        return true;
    };
    tokio::task::spawn_blocking(move || f(peer, local))
        .await
        .unwrap_or(false)
}

async fn serve(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    report: Option<Report>,
    server_name: &str,
    log: Option<(LogSender, SocketAddr)>,
) {
    let send = |report: Option<Report>, v: ServerVerdict| {
        if let Some((tx, peer)) = &log {
            let _ = tx.send(ConnectionLog {
                peer: *peer,
                verdict: v.clone(),
                request: None,
            });
        }
        match report {
            Some(Report::Once(tx)) => {
                let _ = tx.send(v);
            }
            Some(Report::Each(tx)) => {
                let _ = tx.send(v);
            }
            None => {}
        }
    };
    let tls = match tokio::time::timeout(SERVER_WAIT, acceptor.accept(tcp)).await {
        Err(_) => return send(report, ServerVerdict::Timeout),
        Ok(Err(e)) => {
            tracing::debug!(server = server_name, error = %e, "handshake failed");
            let verdict = match crate::reason::find_tls_error(&e) {
                Some(t) => ServerVerdict::Tls(t.clone()),
                None => ServerVerdict::Io(e.to_string()),
            };
            return send(report, verdict);
        }
        Ok(Ok(tls)) => tls,
    };
    let conn = tls.get_ref().1;
    let client = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| Identity::from_der(c));
    let version = conn.protocol_version().map(version_name);
    let negotiated = Negotiated {
        sni: conn.server_name().map(str::to_string),
        ..Negotiated::of(conn)
    };
    tracing::debug!(server = server_name, client = ?client.as_ref().map(Identity::short), "handshake accepted");
    let accepted = ServerVerdict::Accepted {
        client: client.clone(),
        version,
        negotiated,
    };
    // The log line waits for the first request (or the end of the connection).
    let pending = Arc::new(Mutex::new(log.map(|(tx, peer)| {
        (
            tx,
            ConnectionLog {
                peer,
                verdict: accepted.clone(),
                request: None,
            },
        )
    })));
    let send = |report: Option<Report>, v: ServerVerdict| match report {
        Some(Report::Once(tx)) => {
            let _ = tx.send(v);
        }
        Some(Report::Each(tx)) => {
            let _ = tx.send(v);
        }
        None => {}
    };
    send(report, accepted);
    let body = Bytes::from(greeting(server_name, client.as_ref()));
    let first = pending.clone();
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let body = body.clone();
        if let Some((tx, mut entry)) = first.lock().ok().and_then(|mut p| p.take()) {
            entry.request = Some(format!(
                "{} {} {:?}",
                req.method(),
                req.uri(),
                req.version()
            ));
            let _ = tx.send(entry);
        }
        async move {
            Ok::<_, Infallible>(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Full::new(body))
                    .unwrap_or_default(),
            )
        }
    });
    let _ = tokio::time::timeout(
        SERVER_WAIT,
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service),
    )
    .await;
    if let Some((tx, entry)) = pending.lock().ok().and_then(|mut p| p.take()) {
        let _ = tx.send(entry);
    }
}

/// The response body: the client identity the server saw, like the seed's server logs it.
fn greeting(server: &str, client: Option<&Identity>) -> String {
    serde_json::json!({ "server": server, "client": client }).to_string() + "\n"
}

/// `TLSv1.3` and so on, as OpenSSL names versions.
pub fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        other => format!("{other:?}"),
    }
}
