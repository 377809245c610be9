//! The built-in client: hyper over tokio-rustls, one connection and one `GET /` per case, every wait bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpSocket;
use tokio_rustls::TlsConnector;

use crate::reason::find_tls_error;
use crate::tls::identity::Identity;
use crate::tls::server::version_name;

/// How long the client waits, by default, for TCP connect, the handshake, and the response.
pub const CLIENT_WAIT: Duration = Duration::from_secs(10);

/// Where the client stopped, when it did not get a response.
#[derive(Debug, Clone)]
pub enum ClientFailure {
    /// The TCP connection was refused.
    Refused(String),
    /// A wait ran out at this stage.
    Timeout(&'static str),
    /// A rustls error surfaced on the client.
    Tls(rustls::Error),
    /// The transport failed with no rustls error (closed, reset, broken pipe).
    Io(String),
}

/// Everything the client observed.
#[derive(Debug, Clone, Default)]
pub struct ClientObservation {
    pub failure: Option<ClientFailure>,
    /// Whether the client's own handshake completed (in TLS 1.3 it does before the server checks the client's certificate).
    pub handshake_done: bool,
    pub version: Option<String>,
    pub server: Option<Identity>,
    pub status: Option<u16>,
    pub body: Option<String>,
    /// Whether the handshake resumed an earlier session (load mode's `--resume`; a case never does).
    pub resumed: bool,
}

/// How far the built-in client goes after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// `GET /` and the whole response, as every case does.
    Request,
    /// No request: the client sends close_notify and reads until the server closes, so that a server
    /// that rejects the client's certificate after the client's handshake completed (TLS 1.3) is still
    /// seen through its alert (load mode's `--handshake-only`).
    HandshakeOnly,
}

/// Binds a local port on the loopback interface; the caller registers it with the server before connecting.
pub fn bind_local() -> std::io::Result<(TcpSocket, SocketAddr)> {
    let socket = TcpSocket::new_v4()?;
    socket.bind((std::net::Ipv4Addr::LOCALHOST, 0).into())?;
    let local = socket.local_addr()?;
    Ok((socket, local))
}

/// Binds a local port on the loopback interface of `addr`'s family (127.0.0.1 or ::1).
pub fn bind_local_for(addr: SocketAddr) -> std::io::Result<(TcpSocket, SocketAddr)> {
    if addr.is_ipv4() {
        return bind_local();
    }
    let socket = TcpSocket::new_v6()?;
    socket.bind((std::net::Ipv6Addr::LOCALHOST, 0).into())?;
    let local = socket.local_addr()?;
    Ok((socket, local))
}

/// Connects with `config`, verifies `server_name`, sends `GET /` and reads the response.
///
/// Each of the three stages (connect, handshake, response) may take up to `wait`.
pub async fn run(
    socket: TcpSocket,
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    server_name: &str,
    wait: Duration,
) -> ClientObservation {
    run_with(socket, addr, config, server_name, wait, Exchange::Request).await
}

/// Like [`run`], going only as far as `exchange` says after the handshake.
pub async fn run_with(
    socket: TcpSocket,
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    server_name: &str,
    wait: Duration,
    exchange: Exchange,
) -> ClientObservation {
    let mut obs = ClientObservation::default();
    let fail = |mut obs: ClientObservation, f: ClientFailure| {
        obs.failure = Some(f);
        obs
    };
    let tcp = match tokio::time::timeout(wait, socket.connect(addr)).await {
        Err(_) => return fail(obs, ClientFailure::Timeout("connect")),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return fail(obs, ClientFailure::Refused(format!("{addr}: {e}")))
        }
        Ok(Err(e)) => return fail(obs, ClientFailure::Io(e.to_string())),
        Ok(Ok(tcp)) => tcp,
    };
    let name = match ServerName::try_from(server_name.to_string()) {
        Ok(n) => n,
        Err(e) => {
            return fail(
                obs,
                ClientFailure::Io(format!("server name `{server_name}`: {e}")),
            )
        }
    };
    let tls = match tokio::time::timeout(wait, TlsConnector::from(config).connect(name, tcp)).await
    {
        Err(_) => return fail(obs, ClientFailure::Timeout("handshake")),
        Ok(Err(e)) => return fail(obs, io_failure(&e)),
        Ok(Ok(tls)) => tls,
    };
    obs.handshake_done = true;
    let conn = tls.get_ref().1;
    obs.version = conn.protocol_version().map(version_name);
    obs.resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    obs.server = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| Identity::from_der(c));
    if exchange == Exchange::HandshakeOnly {
        return match tokio::time::timeout(wait, close_and_drain(tls)).await {
            Err(_) => fail(obs, ClientFailure::Timeout("close")),
            Ok(Err(f)) => fail(obs, f),
            Ok(Ok(())) => obs,
        };
    }

    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(tls)).await {
            Ok(pair) => pair,
            Err(e) => return fail(obs, hyper_failure(&e)),
        };
    let conn_task = tokio::spawn(connection);
    let request = hyper::Request::get("/")
        .header("host", server_name)
        .header(
            "user-agent",
            concat!("mtls-lab/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new());
    let request = match request {
        Ok(r) => r,
        Err(e) => return fail(obs, ClientFailure::Io(e.to_string())),
    };
    let exchange = async {
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        // A body with neither Content-Length nor chunked encoding ends when the server closes the
        // connection (RFC 9112 §6.3): a server that closes without close_notify (Python's `ssl` does)
        // has still sent the whole body.
        let delimited = response
            .headers()
            .contains_key(hyper::header::CONTENT_LENGTH)
            || response
                .headers()
                .contains_key(hyper::header::TRANSFER_ENCODING);
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Ok(data) = f.into_data() {
                        bytes.extend_from_slice(&data);
                    }
                }
                Err(e) if !delimited && closed_without_notify(&e) => break,
                Err(e) => return Err(e),
            }
        }
        Ok::<_, hyper::Error>((status, Bytes::from(bytes)))
    };
    match tokio::time::timeout(wait, exchange).await {
        Err(_) => {
            conn_task.abort();
            fail(obs, ClientFailure::Timeout("response"))
        }
        Ok(Ok((status, body))) => {
            obs.status = Some(status);
            obs.body = Some(String::from_utf8_lossy(&body).into_owned());
            conn_task.abort();
            obs
        }
        Ok(Err(e)) => {
            // In TLS 1.3 the server's alert may surface in send_request or only in the connection task.
            let mut failure = hyper_failure(&e);
            if !matches!(failure, ClientFailure::Tls(_)) {
                if let Ok(Ok(Err(conn_err))) =
                    tokio::time::timeout(Duration::from_secs(2), conn_task).await
                {
                    if let f @ ClientFailure::Tls(_) = hyper_failure(&conn_err) {
                        failure = f;
                    }
                }
            }
            fail(obs, failure)
        }
    }
}

/// Sends close_notify and reads until the server closes: an alert it sends (a certificate it rejects
/// after the client's TLS 1.3 handshake completed) is the failure; a close, with or without its own
/// close_notify, is none.
async fn close_and_drain(
    mut tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> Result<(), ClientFailure> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // close_notify without closing the TCP connection: the server closes first, so the client's port
    // is not left in TIME_WAIT.
    tls.get_mut().1.send_close_notify();
    if let Err(e) = tls.flush().await {
        if let f @ ClientFailure::Tls(_) = io_failure(&e) {
            return Err(f);
        }
    }
    let mut buf = [0u8; 1024];
    loop {
        match tls.read(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io_failure(&e)),
        }
    }
}

/// Whether the connection ended without TLS close_notify (rustls's `UnexpectedEof`).
fn closed_without_notify(e: &hyper::Error) -> bool {
    let mut err: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = err {
        if let Some(io) = x.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::UnexpectedEof {
                return true;
            }
        }
        err = x.source();
    }
    false
}

fn io_failure(e: &std::io::Error) -> ClientFailure {
    match find_tls_error(e) {
        Some(t) => ClientFailure::Tls(t.clone()),
        None => ClientFailure::Io(e.to_string()),
    }
}

fn hyper_failure(e: &hyper::Error) -> ClientFailure {
    match find_tls_error(e) {
        Some(t) => ClientFailure::Tls(t.clone()),
        None => ClientFailure::Io(e.to_string()),
    }
}
