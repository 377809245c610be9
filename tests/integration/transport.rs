//! Verdicts that no certificate verifier decides: refused, closed, hung peers, and failed negotiation, over real sockets.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use mtls_lab::reason::Reason;
use mtls_lab::spec::{Outcome, Side};
use mtls_lab::tls::client::{self, ClientObservation};
use mtls_lab::tls::server::RunningServer;
use mtls_lab::verdict::{observe, Observed};
use mtls_lab::{pki, tls};

const LAB: &str = r#"
lab: transport
authorities:
  ca: { subject: { CN: Transport CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, usage: server }
  client: { issuer: ca, subject: { CN: alice }, usage: client }
servers:
  web: { certificate: server, trust: [ca] }
cases:
  - name: valid
    client: { certificate: client, trust: [ca] }
    expect: accepted
"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs the built-in client of the lab's only case against `addr`, with a short wait.
async fn client_against(addr: std::net::SocketAddr, wait: Duration) -> ClientObservation {
    let lab = common::lab(LAB);
    let pki = pki::build(&lab).unwrap();
    let config = tls::client_config(&pki, &lab.cases[0].client, "valid").unwrap();
    let (socket, _) = client::bind_local().unwrap();
    client::run(socket, addr, config, "localhost", wait).await
}

fn assert_transport(o: &Observed, reason: Reason) {
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (Outcome::Rejected, Some(Side::Client), Some(reason)),
        "{o:#?}"
    );
}

#[test]
fn connection_refused_when_nothing_listens() {
    runtime().block_on(async {
        // Bind then drop a listener: its port is free and refuses connections.
        let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let obs = client_against(addr, Duration::from_secs(5)).await;
        assert_transport(&observe(None, &obs, 0), Reason::ConnectionRefused);
    });
}

#[test]
fn connection_closed_when_the_peer_hangs_up_during_the_handshake() {
    runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            drop(tcp);
        });
        let obs = client_against(addr, Duration::from_secs(5)).await;
        assert_transport(&observe(None, &obs, 0), Reason::ConnectionClosed);
    });
}

#[test]
fn timeout_when_the_peer_never_answers() {
    runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(tcp);
        });
        let started = std::time::Instant::now();
        let obs = client_against(addr, Duration::from_millis(500)).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the wait was not bounded"
        );
        assert_transport(&observe(None, &obs, 0), Reason::Timeout);
        hold.abort();
    });
}

#[test]
fn handshake_failure_when_no_cipher_suite_is_shared() {
    runtime().block_on(async {
        let lab = common::lab(LAB);
        let pki = Arc::new(pki::build(&lab).unwrap());
        let only = |suite| {
            Arc::new(rustls::crypto::CryptoProvider {
                cipher_suites: vec![suite],
                ..rustls::crypto::aws_lc_rs::default_provider()
            })
        };
        let server_provider =
            only(rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256);
        let client_provider =
            only(rustls::crypto::aws_lc_rs::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256);
        let cert = &pki.certificates[0];
        let server_config = rustls::ServerConfig::builder_with_provider(server_provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(cert.chain(), cert.key())
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.authorities[0].der.clone()).unwrap();
        let client_config = rustls::ClientConfig::builder_with_provider(client_provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server = RunningServer::start("web", Arc::new(server_config))
            .await
            .unwrap();
        let (socket, local) = client::bind_local().unwrap();
        let verdict = server.expect_connection(local, None);
        let obs = client::run(
            socket,
            server.addr,
            Arc::new(client_config),
            "localhost",
            Duration::from_secs(5),
        )
        .await;
        let verdict = tokio::time::timeout(Duration::from_secs(5), verdict)
            .await
            .unwrap()
            .unwrap();
        let o = observe(Some(&verdict), &obs, 0);
        assert_eq!(
            (o.by, o.reason),
            (Some(Side::Server), Some(Reason::HandshakeFailure)),
            "{o:#?}"
        );
        assert_eq!(o.alert.as_deref(), Some("handshake_failure"));
        // For this reason, not merely any server-side protocol error.
        assert!(
            o.detail
                .as_deref()
                .unwrap_or_default()
                .contains("NoCipherSuitesInCommon"),
            "{o:#?}"
        );
    });
}

#[test]
fn an_alert_without_the_servers_own_verdict_is_the_servers_rejection() {
    // The client received certificate_required but the server's verdict never arrived: the server
    // rejected (an alert is sent by the rejecting side), and only this unambiguous alert names a reason.
    let mut obs = ClientObservation {
        failure: Some(client::ClientFailure::Tls(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired,
        ))),
        ..ClientObservation::default()
    };
    let o = observe(None, &obs, 0);
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (
            Outcome::Rejected,
            Some(Side::Server),
            Some(Reason::CertificateRequired)
        )
    );
    obs.failure = Some(client::ClientFailure::Tls(rustls::Error::AlertReceived(
        rustls::AlertDescription::HandshakeFailure,
    )));
    let o = observe(None, &obs, 0);
    assert_eq!(
        (o.by, o.reason),
        (Some(Side::Server), None),
        "handshake_failure names several reasons"
    );
}
