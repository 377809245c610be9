//! curl and `openssl s_client` as the verifier under test: a built-in server presents the testcase's
//! chain on 127.0.0.1 and answers HTTP 200; the program trusts only the testcase's anchors, checks its
//! name at its time (`-attime` for s_client, libfaketime for curl) with its CRLs, and its exit status and
//! words are read by [`crate::verdict::programs::read`]. A program's local failure is an error, never a
//! rejection.

use std::path::Path;

use super::builtin::serve_once;
use super::{stand_in_rule, Observed, TIMEOUT};
use crate::lab::limbo::{PeerName, Testcase, Verifier};
use crate::peer::process::CommandSpec;
use crate::reason::Side;
use crate::tls::limbo::{self as tls, HelperIdentity, PeerKey};
use crate::verdict::programs::{read, Program, Said};

/// Runs `tc` (a SERVER testcase) against curl or `openssl s_client`.
pub async fn observe(
    tc: &Testcase,
    verifier: Verifier,
    key: PeerKey,
    notes: &mut Vec<String>,
) -> Observed {
    let error = |detail: String| Observed::Error { detail };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return error(format!("cannot make a temporary directory: {e}")),
    };
    if let Err(e) = write_files(dir.path(), tc) {
        return error(format!("cannot write the testcase's files: {e}"));
    }
    let stand_in = key.stand_in.is_some();
    let server = match tls::presenting_server(tls::presented_chain(tc), key.key) {
        Ok(s) => s,
        Err(e) => return error(format!("rustls refuses the server's configuration: {e}")),
    };
    let (addr, serving) = match serve_once(server).await {
        Ok(s) => s,
        Err(e) => return error(format!("cannot listen on 127.0.0.1: {e}")),
    };
    let (program, spec) = match verifier {
        Verifier::Curl => (Program::Curl, curl(tc, dir.path(), addr.port())),
        _ => (Program::OpensslClient, openssl(tc, dir.path(), addr.port())),
    };
    let ran = crate::peer::run_client(&spec, TIMEOUT).await;
    serving.abort();
    let run = match ran {
        Ok(r) => r,
        Err(e) => return error(e.to_string()),
    };
    let output = format!("{}{}", run.stdout, run.stderr);
    if run.code == Some(0) {
        return Observed::Accepted;
    }
    match read(program, run.code, &output) {
        Some(Said::Refused { reason, message }) => {
            // The program's verifier judges the chain before the CertificateVerify signature: a refused
            // signature (OpenSSL's `bad signature`) after a chain it did not refuse is the stand-in's.
            let signature = reason == Some(crate::reason::Reason::BadSignature);
            stand_in_rule(stand_in, signature, Side::Client, reason, message, notes)
        }
        Some(Said::AlertReceived { alert, message }) => error(format!(
            "the presenting server (not under test) sent alert {alert}: {message}"
        )),
        Some(Said::ProgramError { message }) => error(format!("{}: {message}", program.name())),
        Some(Said::Completed { message }) => error(format!("{}: {message}", program.name())),
        None => error(format!(
            "{} {}, in words this tool does not read: {}",
            program.name(),
            run.exit_text,
            run.tail.last().map_or("(no output)", String::as_str)
        )),
    }
}

/// Whether `program` is an executable file in a directory of `PATH` (as the spawn would find it).
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The anchors, the CRLs and an empty CA directory (so that no default one is read).
fn write_files(dir: &Path, tc: &Testcase) -> std::io::Result<()> {
    std::fs::write(dir.join("trusted.pem"), &tc.pem.trusted)?;
    if !tc.pem.crls.is_empty() {
        std::fs::write(dir.join("crls.pem"), &tc.pem.crls)?;
    }
    std::fs::create_dir(dir.join("capath"))
}

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).display().to_string()
}

/// `openssl s_client` trusting only the anchors, at the testcase's time, checking its name.
pub fn openssl(tc: &Testcase, dir: &Path, port: u16) -> CommandSpec {
    let mut argv: Vec<String> = [
        "openssl",
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-CAfile",
        &path(dir, "trusted.pem"),
        "-no-CApath",
        "-no-CAstore",
        "-verify_return_error",
        "-tls1_3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(at) = tc.at {
        argv.extend(["-attime".into(), at.unix_timestamp().to_string()]);
    }
    match &tc.name {
        Some(PeerName::Dns(n)) => argv.extend([
            "-verify_hostname".into(),
            n.clone(),
            "-servername".into(),
            n.clone(),
        ]),
        Some(PeerName::Ip(a)) => argv.extend(["-verify_ip".into(), a.to_string()]),
        None => {}
    }
    if !tc.crls.is_empty() {
        argv.extend(["-CRL".into(), path(dir, "crls.pem"), "-crl_check".into()]);
    }
    CommandSpec {
        argv,
        cwd: None,
        env: Vec::new(),
    }
}

/// curl trusting only the anchors, connecting to 127.0.0.1 whatever the name, its clock stopped at the
/// testcase's time with libfaketime preloaded ([`crate::lab::faketime::frozen_environment`]: a running
/// clock, or an offset in whole seconds, crossed `notBefore` in the testcases one second away from it).
pub fn curl(tc: &Testcase, dir: &Path, port: u16) -> CommandSpec {
    let mut argv: Vec<String> = Vec::new();
    let mut env = vec![("TZ".to_string(), "UTC".to_string())];
    if let Some(clock) = tc.at.and_then(crate::lab::faketime::frozen_environment) {
        env.extend(clock);
    }
    // An IPv6 address is bracketed in the URL and in --connect-to (curl's HOST:PORT:CONNECT-TO-HOST:PORT).
    let host = match &tc.name {
        Some(PeerName::Ip(std::net::IpAddr::V6(a))) => format!("[{a}]"),
        Some(n) => n.to_string(),
        None => "localhost".into(),
    };
    argv.extend(
        [
            "curl",
            "--silent",
            "--show-error",
            "--noproxy",
            "*",
            "--max-time",
            "10",
            "--tlsv1.3",
            "--cacert",
            &path(dir, "trusted.pem"),
            "--capath",
            &path(dir, "capath"),
            "--connect-to",
            &format!("{host}:443:127.0.0.1:{port}"),
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    if !tc.crls.is_empty() {
        argv.extend(["--crlfile".into(), path(dir, "crls.pem")]);
    }
    argv.push(format!("https://{host}/"));
    CommandSpec {
        argv,
        cwd: None,
        env,
    }
}

/// Runs `tc` (a CLIENT testcase) against `openssl s_server -Verify 1 -verify_return_error -www`, trusting
/// only the anchors at the testcase's time: a built-in rustls client presents the chain (trusting the
/// helper root the server presents), and the server's words say why it refused. A TLS server checks no
/// client name (noted).
pub async fn observe_server(
    tc: &Testcase,
    key: PeerKey,
    helper: &HelperIdentity,
    notes: &mut Vec<String>,
) -> Observed {
    notes.push(format!(
        "{}{})",
        super::builtin::NAMES_NOT_CHECKED,
        tc.client_names.join(", ")
    ));
    let error = |detail: String| Observed::Error { detail };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return error(format!("cannot make a temporary directory: {e}")),
    };
    let written = write_files(dir.path(), tc)
        .and_then(|()| std::fs::write(dir.path().join("server.pem"), helper.cert_pem()))
        .and_then(|()| write_private(&dir.path().join("server.key"), &helper.key_pem()));
    if let Err(e) = written {
        return error(format!("cannot write the testcase's files: {e}"));
    }
    let stand_in = key.stand_in.is_some();
    let client = match tls::presenting_client(helper, tls::presented_chain(tc), key.key) {
        Ok(c) => c,
        Err(e) => return error(format!("rustls refuses the client's configuration: {e}")),
    };
    let port = match crate::peer::free_port() {
        Ok(p) => p,
        Err(e) => return error(format!("no free port on 127.0.0.1: {e}")),
    };
    let spec = s_server(tc, dir.path(), port);
    let listen = match crate::lab::command::Loopback::parse(&format!("127.0.0.1:{port}")) {
        Ok(l) => l,
        Err(e) => return error(e.to_string()),
    };
    let mut server = match crate::peer::start_server(
        &spec,
        &listen,
        port,
        crate::lab::command::Ready::Tcp,
        TIMEOUT,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return error(e.to_string()),
    };
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a DNS name");
    let client_side =
        tokio::time::timeout(TIMEOUT, super::builtin::connect(client, name, server.addr)).await;
    // `-naccept 1`: the server exits once its one connection is over.
    let status = server.child.wait_for(TIMEOUT).await;
    server.child.stop().await;
    server.child.drain().await;
    let output = format!("{}{}", server.child.stdout(), server.child.stderr());
    let code = status.and_then(|s| s.code());
    match (client_side, read(Program::OpensslServer, code, &output)) {
        (_, Some(Said::Refused { reason, message })) => {
            let signature = reason == Some(crate::reason::Reason::BadSignature);
            stand_in_rule(stand_in, signature, Side::Server, reason, message, notes)
        }
        (Ok(Ok(())), _) => Observed::Accepted,
        (Ok(Err(e)), said) => error(format!(
            "the presenting client failed ({e}) and openssl s_server's words say {}",
            said.map_or("nothing this tool reads".to_string(), |s| format!("{s:?}"))
        )),
        (Err(_), _) => error(format!("no verdict within {} s", TIMEOUT.as_secs())),
    }
}

/// Writes a private key file: created new, 0600, never through a symlink.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// `openssl s_server` requiring a client certificate verified against only the anchors, at the
/// testcase's time, answering one connection (`-www`: HTTP 200 with a status page).
pub fn s_server(tc: &Testcase, dir: &Path, port: u16) -> CommandSpec {
    let mut argv: Vec<String> = [
        "openssl",
        "s_server",
        "-accept",
        &format!("127.0.0.1:{port}"),
        "-naccept",
        "1",
        "-cert",
        &path(dir, "server.pem"),
        "-key",
        &path(dir, "server.key"),
        "-CAfile",
        &path(dir, "trusted.pem"),
        "-no-CApath",
        "-no-CAstore",
        "-Verify",
        "1",
        "-verify_return_error",
        "-tls1_3",
        "-www",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(at) = tc.at {
        argv.extend(["-attime".into(), at.unix_timestamp().to_string()]);
    }
    if !tc.crls.is_empty() {
        argv.extend(["-CRL".into(), path(dir, "crls.pem"), "-crl_check".into()]);
    }
    CommandSpec {
        argv,
        cwd: None,
        env: Vec::new(),
    }
}
