//! curl and `openssl s_client` as the verifier under test: a built-in server presents the testcase's
//! chain on 127.0.0.1 and answers HTTP 200; the program trusts only the testcase's anchors, checks its
//! name at its time (`-attime` for s_client, `faketime` for curl) with its CRLs, and its exit status and
//! words are read by [`crate::verdict::programs::read`]. A program's local failure is an error, never a
//! rejection.

use std::path::Path;

use super::builtin::serve_once;
use super::{stand_in_rule, Observed, TIMEOUT};
use crate::lab::limbo::{PeerName, Testcase, Verifier};
use crate::peer::process::CommandSpec;
use crate::reason::Side;
use crate::tls::limbo::{self as tls, PeerKey};
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

/// curl trusting only the anchors, connecting to 127.0.0.1 whatever the name, under `faketime` at the
/// testcase's time.
pub fn curl(tc: &Testcase, dir: &Path, port: u16) -> CommandSpec {
    let mut argv: Vec<String> = Vec::new();
    if let (Some(at), Some(faketime)) = (tc.at, crate::lab::program::faketime()) {
        argv.extend([
            faketime.display().to_string(),
            format!("@{}", at.unix_timestamp()),
        ]);
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
        env: vec![("TZ".into(), "UTC".into())],
    }
}
