//! The built-in verifier under test: for a SERVER testcase a rustls client at the testcase's time
//! verifies a built-in server presenting the chain; for a CLIENT testcase a rustls server requiring a
//! client certificate verifies a built-in client presenting it. One real handshake over 127.0.0.1 each;
//! the verdict is the verifying side's own rustls error, classified by [`crate::reason::classify`].

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{stand_in_rule, Observed, TIMEOUT};
use crate::lab::limbo::{PeerName, Testcase, ValidationKind};
use crate::reason::{classify, find_tls_error, Side, Verdict};
use crate::tls::limbo::{self as tls, ChainVerdict, HelperIdentity, PeerKey};

/// The HTTP answer of the presenting server once the handshake is done.
pub const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

/// The note of every CLIENT testcase, before limbo's names.
pub const NAMES_NOT_CHECKED: &str = "names not checked: a TLS server does not check a client certificate's names (limbo's expected_peer_names: ";

/// The longest request the presenting server reads before it answers.
const MAX_REQUEST: usize = 16 * 1024;

/// Runs `tc` against the built-in verifier; `notes` gets what the reader needs besides the verdict.
pub async fn observe(
    tc: &Testcase,
    key: PeerKey,
    helper: &HelperIdentity,
    notes: &mut Vec<String>,
) -> Observed {
    let (roots, left_out) = tls::anchors(tc);
    notes.extend(left_out);
    match tc.kind {
        ValidationKind::Server => server_testcase(tc, roots, key, notes).await,
        ValidationKind::Client => client_testcase(tc, roots, key, helper, notes).await,
    }
}

/// The rustls name a SERVER testcase verifies for, or why it has none.
pub fn server_name(tc: &Testcase) -> Result<ServerName<'static>, String> {
    match &tc.name {
        Some(PeerName::Dns(n)) => ServerName::try_from(n.clone())
            .map_err(|e| format!("rustls cannot take `{n}` as a DNS name to verify: {e}")),
        Some(PeerName::Ip(a)) => Ok(ServerName::IpAddress((*a).into())),
        None => Err("no expected peer name".into()),
    }
}

async fn server_testcase(
    tc: &Testcase,
    roots: rustls::RootCertStore,
    key: PeerKey,
    notes: &mut Vec<String>,
) -> Observed {
    let name = match server_name(tc) {
        Ok(n) => n,
        Err(why) => return Observed::NotApplicable { why },
    };
    let error = |detail: String| Observed::Error { detail };
    let (client, verdict) = match tls::verifying_client(tc, roots) {
        Ok(c) => c,
        Err(e) => return error(format!("rustls refuses the client's configuration: {e}")),
    };
    let stand_in = key.stand_in.is_some();
    let server = match tls::presenting_server(tls::presented_chain(tc), key.key) {
        Ok(s) => s,
        Err(e) => return error(format!("rustls refuses the server's configuration: {e}")),
    };
    let (addr, serving) = match serve_once(server).await {
        Ok(s) => s,
        Err(e) => return error(format!("cannot listen on 127.0.0.1: {e}")),
    };
    let outcome = tokio::time::timeout(TIMEOUT, connect(client, name, addr)).await;
    serving.abort();
    match outcome {
        Err(_) => error(format!("no verdict within {} s", TIMEOUT.as_secs())),
        Ok(Ok(())) => Observed::Accepted,
        Ok(Err(e)) => match find_tls_error(&e).map(classify) {
            Some(Verdict::Rejected { reason, detail }) => {
                note_before_chain(verdict.as_ref(), notes);
                stand_in_rule(
                    stand_in,
                    accepted(verdict.as_ref()),
                    Side::Client,
                    Some(reason),
                    detail,
                    notes,
                )
            }
            Some(Verdict::AlertReceived { alert }) => error(format!(
                "the presenting server (not under test) sent alert {alert}"
            )),
            None => error(format!("the connection failed outside TLS: {e}")),
        },
    }
}

async fn client_testcase(
    tc: &Testcase,
    roots: rustls::RootCertStore,
    key: PeerKey,
    helper: &HelperIdentity,
    notes: &mut Vec<String>,
) -> Observed {
    notes.push(format!(
        "{NAMES_NOT_CHECKED}{})",
        tc.client_names.join(", ")
    ));
    let error = |detail: String| Observed::Error { detail };
    let (server, verdict) = match tls::verifying_server(tc, roots, helper) {
        Ok(s) => s,
        Err(e) => return error(format!("rustls refuses the server's configuration: {e}")),
    };
    let stand_in = key.stand_in.is_some();
    let client = match tls::presenting_client(helper, tls::presented_chain(tc), key.key) {
        Ok(c) => c,
        Err(e) => return error(format!("rustls refuses the client's configuration: {e}")),
    };
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
        Ok(l) => l,
        Err(e) => return error(format!("cannot listen on 127.0.0.1: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return error(format!("cannot listen on 127.0.0.1: {e}")),
    };
    let serving = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        answer(TlsAcceptor::from(server), stream).await
    });
    let name = ServerName::try_from("localhost").expect("`localhost` is a DNS name");
    // In TLS 1.3 the client's handshake ends before the server has read its certificate: the request and
    // its answer (or the server's alert) are the round trip that shows the server's verdict.
    let client_side = tokio::time::timeout(TIMEOUT, connect(client, name, addr)).await;
    let server_side = tokio::time::timeout(TIMEOUT, serving).await;
    match server_side {
        Err(_) => error(format!("no verdict within {} s", TIMEOUT.as_secs())),
        Ok(Err(e)) => error(format!("the server's task failed: {e}")),
        Ok(Ok(Ok(()))) => match client_side {
            Ok(Ok(())) => Observed::Accepted,
            Ok(Err(e)) => error(format!(
                "the server completed but the presenting client failed: {e}"
            )),
            Err(_) => error(format!("no verdict within {} s", TIMEOUT.as_secs())),
        },
        Ok(Ok(Err(e))) => match find_tls_error(&e).map(classify) {
            Some(Verdict::Rejected { reason, detail }) => {
                note_before_chain(Some(&verdict), notes);
                stand_in_rule(
                    stand_in,
                    accepted(Some(&verdict)),
                    Side::Server,
                    Some(reason),
                    detail,
                    notes,
                )
            }
            Some(Verdict::AlertReceived { alert }) => error(format!(
                "the presenting client (not under test) sent alert {alert}"
            )),
            None => error(format!("the connection failed outside TLS: {e}")),
        },
    }
}

/// Notes [`super::REFUSED_BEFORE_CHAIN`] when the verifier under test refused the handshake before its
/// certificate verifier was called (`verdict` recorded nothing): the refusal is of the message that
/// carries the chain (rustls's size limit on a handshake message, say), not of the chain's content.
fn note_before_chain(verdict: Option<&ChainVerdict>, notes: &mut Vec<String>) {
    if verdict.is_some_and(|v| v.get().is_none()) {
        notes.push(super::REFUSED_BEFORE_CHAIN.to_string());
    }
}

fn accepted(verdict: Option<&ChainVerdict>) -> bool {
    matches!(verdict.and_then(ChainVerdict::get), Some(Ok(())))
}

/// Listens on 127.0.0.1 and serves one connection with `config`, answering [`RESPONSE`] after the
/// handshake. Returns the address and the serving task.
pub async fn serve_once(
    config: Arc<rustls::ServerConfig>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        answer(TlsAcceptor::from(config), stream).await
    });
    Ok((addr, task))
}

/// The server's part of one connection: the handshake, the request (up to its blank line, or EOF), the
/// answer.
async fn answer(acceptor: TlsAcceptor, stream: TcpStream) -> std::io::Result<()> {
    let mut tls = acceptor.accept(stream).await?;
    let mut request = Vec::new();
    let mut buf = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
        match tls.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
            // A client that closes without close_notify (s_client at EOF of its input) ends the request.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
    }
    // A client that sent nothing and left (openssl s_client with its input closed) gets no answer.
    if !request.is_empty() {
        tls.write_all(RESPONSE).await?;
    }
    let _ = tls.shutdown().await;
    Ok(())
}

/// The client's part: the handshake, a request, the whole answer.
pub async fn connect(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    addr: SocketAddr,
) -> std::io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let mut tls = TlsConnector::from(config).connect(name, stream).await?;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: limbo\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    match tls.read_to_end(&mut answer).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(e),
    }
    // The built-in server's `HTTP/1.1 200`, or `openssl s_server -www`'s `HTTP/1.0 200 ok`.
    if answer.starts_with(b"HTTP/1.") && answer.get(8..12) == Some(b" 200") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "the server answered {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(40)])
        )))
    }
}
