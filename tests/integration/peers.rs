//! Real peers: the seed's own server.py and client.py, curl and openssl s_client, targets, bad commands,
//! Ctrl-C and PKCS#12 — exact side, reason and alert for every case, and no process left behind.
//!
//! These tests need python3, curl and openssl (`.ci/run` installs them); they fail when one is missing.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common;

use common::{case, mtls, root};
use mtls_lab::reason::Reason;
use mtls_lab::run::{LabResult, Status};
use mtls_lab::spec::{Outcome, Side};

fn require(tool: &str, arg: &str) {
    let ok = std::process::Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{tool}` is required for these tests (.ci/run installs it)"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn run_file(path: &str) -> LabResult {
    let lab = mtls_lab::lab::load(&root().join(path), time::OffsetDateTime::now_utc())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    runtime().block_on(mtls_lab::run::run_lab(&lab))
}

fn run_inline(yaml: &str) -> LabResult {
    let lab = common::lab(yaml);
    runtime().block_on(mtls_lab::run::run_lab(&lab))
}

/// Pids of live (non-zombie) processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            out.push(pid);
        }
    }
    out
}

fn assert_no_process(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_with(marker);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left behind matching {marker:?}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_port_free(port: u16) {
    assert!(
        std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], port).into(),
            Duration::from_millis(300)
        )
        .is_err(),
        "something still listens on 127.0.0.1:{port}"
    );
}

/// Asserts the observed side, reason and alert of a case, and that it passed.
fn assert_verdict(
    r: &LabResult,
    name: &str,
    by: Option<Side>,
    reason: Option<Reason>,
    alert: Option<&str>,
) {
    let c = case(r, name);
    let o = c
        .observed
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: not run: {:?}", c.messages));
    let outcome = if by.is_some() {
        Outcome::Rejected
    } else {
        Outcome::Accepted
    };
    assert_eq!(
        (o.outcome, o.by, o.reason, o.alert.as_deref()),
        (outcome, by, reason, alert),
        "{name}: observed {o:#?}"
    );
    assert_eq!(c.status, Status::Passed, "{name}: {:?}", c.messages);
}

#[test]
fn the_seeds_server_py_runs_unmodified_and_is_tested_by_the_runners_clients() {
    require("python3", "--version");
    let _turn = common::seed_port();
    let r = run_file("labs/peers/seed-python-server.yaml");
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_verdict(&r, "valid client is accepted", None, None, None);
    assert_verdict(
        &r,
        "no client certificate is rejected",
        Some(Side::Server),
        Some(Reason::CertificateRequired),
        Some("certificate_required"),
    );
    assert_verdict(
        &r,
        "client from another CA is rejected",
        Some(Side::Server),
        Some(Reason::UnknownIssuer),
        Some("unknown_ca"),
    );
    // certificate_expired names no single reason: the reason stays open, the alert is exact.
    assert_verdict(
        &r,
        "expired client is rejected",
        Some(Side::Server),
        Some(Reason::Expired),
        Some("certificate_expired"),
    );
    let accepted = case(&r, "valid client is accepted");
    assert_eq!(accepted.observed.as_ref().unwrap().http_status, Some(200));
    // It answered on one of the loopback addresses probed for `localhost`.
    let addr = accepted.context.server_address.clone().unwrap();
    assert!(addr == "127.0.0.1:4443" || addr == "[::1]:4443", "{addr}");
    // The copy in the repository is the seed's, byte for byte.
    let seed = std::fs::read_to_string(root().join("labs/seed/server/server.py")).unwrap();
    assert!(seed.contains("server_address = ('localhost', 4443)"));
    assert!(seed.contains("ssl_context.load_verify_locations('../ca/ca.crt')"));
    assert_no_process("seed/server/server.py");
    assert_port_free(4443);
}

#[test]
fn the_seeds_client_py_goes_through_with_the_lab_ca_and_refuses_another() {
    require("python3", "--version");
    let _turn = common::seed_port();
    let r = run_file("labs/peers/seed-python-client.yaml");
    assert_verdict(
        &r,
        "client.py goes through with the lab's server",
        None,
        None,
        None,
    );
    let o = case(&r, "client.py goes through with the lab's server")
        .observed
        .clone()
        .unwrap();
    assert_eq!(o.exit_status, Some(0));
    assert_eq!(
        o.server_saw.and_then(|s| s.common_name).as_deref(),
        Some("labclient")
    );

    let r = run_file("labs/peers/seed-python-client-impostor.yaml");
    assert_verdict(
        &r,
        "client.py refuses a server from another CA",
        Some(Side::Client),
        Some(Reason::UnknownIssuer),
        Some("unknown_ca"),
    );
    assert_no_process("seed/client/client.py");
    assert_port_free(4443);
}

#[test]
fn curl_and_openssl_with_and_without_a_client_certificate() {
    require("curl", "--version");
    require("openssl", "version");
    let _turn = common::seed_port();
    let r = run_file("labs/peers/curl-and-openssl.yaml");
    assert_verdict(&r, "curl with the client certificate", None, None, None);
    assert_verdict(&r, "curl with the client's PKCS#12 file", None, None, None);
    assert_verdict(
        &r,
        "curl trusting the lab CA without a client certificate",
        Some(Side::Server),
        Some(Reason::CertificateRequired),
        // curl says which alert it received: `tlsv13 alert certificate required`.
        Some("certificate_required"),
    );
    assert_verdict(
        &r,
        "curl without the lab CA (the seed's step 3)",
        Some(Side::Client),
        Some(Reason::UnknownIssuer),
        Some("unknown_ca"),
    );
    assert_verdict(
        &r,
        "openssl s_client with the client certificate",
        None,
        None,
        None,
    );
    assert_verdict(
        &r,
        "openssl s_client trusting the lab CA without a client certificate",
        Some(Side::Server),
        Some(Reason::CertificateRequired),
        Some("certificate_required"),
    );
    assert_verdict(
        &r,
        "openssl s_client without the lab CA",
        Some(Side::Client),
        Some(Reason::UnknownIssuer),
        Some("unknown_ca"),
    );
    let exit = |n: &str| case(&r, n).observed.as_ref().unwrap().exit_status;
    assert_eq!(exit("curl with the client certificate"), Some(0));
    assert_eq!(
        exit("curl trusting the lab CA without a client certificate"),
        Some(56)
    );
    assert_eq!(
        exit("curl without the lab CA (the seed's step 3)"),
        Some(60)
    );
}

const PKI: &str = r#"
authorities:
  ca: { subject: { CN: Peers CA } }
  other-ca: { subject: { CN: Other CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }
  client: { issuer: ca, subject: { CN: alice }, usage: client }
  stranger: { issuer: other-ca, subject: { CN: mallory }, usage: client }
"#;

/// A lab with one server command and one case against it.
fn server_command_lab(name: &str, server: &str) -> String {
    format!(
        "lab: {name}\n{PKI}servers:\n  ext:\n    certificate: server\n    trust: [ca]\n{server}\ncases:\n  - name: valid client\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n"
    )
}

fn error_message(r: &LabResult) -> String {
    let c = &r.cases[0];
    assert_eq!(c.status, Status::Error, "{:?}", c.messages);
    assert!(c.observed.is_none());
    c.messages.join("\n")
}

#[test]
fn a_command_that_does_not_exist_is_an_error() {
    let _turn = common::seed_port();
    let r = run_inline(&server_command_lab(
        "missing-program",
        "    command: [no-such-program-mtls-lab, --serve]",
    ));
    let m = error_message(&r);
    assert!(
        m.contains("cannot start `no-such-program-mtls-lab --serve`")
            && m.contains("was not found"),
        "{m}"
    );
}

#[test]
fn a_command_that_exits_early_is_an_error_with_its_last_lines() {
    require("python3", "--version");
    let _turn = common::seed_port();
    let marker = "mtls-peers-exits-early";
    let r = run_inline(&server_command_lab(
        "exits-early",
        &format!("    command: [python3, -c, \"import sys; print('cannot load server.crt # {marker}', file=sys.stderr); sys.exit(1)\"]"),
    ));
    let m = error_message(&r);
    assert!(
        m.contains("exited with status 1 before listening on 127.0.0.1:")
            && m.contains("cannot load server.crt"),
        "{m}"
    );
    assert_no_process(marker);
}

#[test]
fn a_command_that_never_becomes_ready_is_stopped_and_an_error() {
    require("python3", "--version");
    let _turn = common::seed_port();
    let marker = "mtls-peers-never-ready";
    let started = Instant::now();
    let r = run_inline(&server_command_lab(
        "never-ready",
        &format!("    command: [python3, -c, \"import time; time.sleep(60) # {marker}\"]\n    start_timeout: 1s"),
    ));
    let m = error_message(&r);
    assert!(
        m.contains("nothing accepted a connection on 127.0.0.1:")
            && m.contains("within 1 s")
            && m.contains("listens on no TCP port"),
        "{m}"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_no_process(marker);
}

#[test]
fn a_command_listening_on_another_address_is_an_error_naming_it() {
    require("python3", "--version");
    let _turn = common::seed_port();
    let marker = "mtls-peers-wrong-port";
    let r = run_inline(&server_command_lab(
        "wrong-port",
        &format!("    command: [python3, -c, \"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); time.sleep(60) # {marker}\"]\n    start_timeout: 3s"),
    ));
    let m = error_message(&r);
    assert!(
        m.contains("nothing accepted a connection on 127.0.0.1:")
            && m.contains("the process listens on 127.0.0.1:")
            && m.contains("instead"),
        "{m}"
    );
    assert_no_process(marker);
}

#[test]
fn a_fixed_port_already_in_use_is_an_error_not_a_hang() {
    let _turn = common::seed_port();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let r = run_inline(&server_command_lab(
        "port-in-use",
        &format!("    command: [python3, -c, pass]\n    listen: 127.0.0.1:{port}"),
    ));
    let m = error_message(&r);
    assert!(
        m.contains(&format!("127.0.0.1:{port} is already in use")),
        "{m}"
    );
}

#[test]
fn bad_commands_exit_3_from_the_command_line() {
    let _turn = common::seed_port();
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("missing.yaml");
    std::fs::write(
        &lab,
        server_command_lab("missing-cli", "    command: [no-such-program-mtls-lab]"),
    )
    .unwrap();
    let o = mtls(dir.path(), &["run", "missing.yaml"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("ERROR missing-cli › valid client: not run")
            && stdout.contains("error: server `ext`: cannot start `no-such-program-mtls-lab`"),
        "{stdout}"
    );
}

#[test]
fn a_failed_case_shows_the_server_commands_output() {
    require("openssl", "version");
    let _turn = common::seed_port();
    // A TLS server that asks no client certificate (and prints ACCEPT): the lab expects a rejection.
    let yaml = format!(
        "lab: tail\n{PKI}servers:\n  ext:\n    certificate: server\n    trust: [ca]\n    command: [openssl, s_server, -accept, \"127.0.0.1:{{port}}\", -cert, \"{{cert:server}}\", -key, \"{{key:server}}\", -www]\n    listen: 127.0.0.1:0\ncases:\n  - name: server must require a certificate\n    client: {{ trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: certificate_required }}\n"
    );
    let r = run_inline(&yaml);
    let c = &r.cases[0];
    assert_eq!(c.status, Status::Failed, "{:?}", c.messages);
    assert_eq!(c.observed.as_ref().unwrap().outcome, Outcome::Accepted);
    assert!(
        c.messages
            .iter()
            .any(|m| m.starts_with("the server command's output") && m.contains("ACCEPT")),
        "{:?}",
        c.messages
    );
    assert_no_process("s_server -accept");
}

#[test]
fn a_target_already_running_is_tested_with_the_runners_clients() {
    // The target is the built-in server of one lab; a second lab with the same PKI points at it.
    let server_lab = common::lab(&format!(
        "lab: target-server\n{PKI}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: unused\n    client: {{ trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: certificate_required }}\n"
    ));
    let pki = std::sync::Arc::new(mtls_lab::pki::build(&server_lab).unwrap());
    let rt = runtime();
    let server = rt.block_on(async {
        let config =
            mtls_lab::tls::server_config(&server_lab, &pki, &server_lab.servers[0]).unwrap();
        mtls_lab::tls::server::RunningServer::start("web", config)
            .await
            .unwrap()
    });
    let target = common::lab(&format!(
        "lab: target\n{PKI}servers:\n  running: {{ certificate: server, trust: [ca], target: \"{}\" }}\ncases:\n  - name: valid client\n    client: {{ certificate: client, trust: [ca] }}\n    expect: {{ outcome: accepted, status: 200 }}\n  - name: no client certificate\n    client: {{ trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: certificate_required, alert: certificate_required }}\n  - name: client from another CA\n    client: {{ certificate: stranger, trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: unknown_issuer }}\n  - name: client trusting another CA\n    client: {{ certificate: client, trust: [other-ca] }}\n    expect: {{ outcome: rejected, by: client, reason: unknown_issuer }}\n",
        server.addr
    ));
    let r = rt.block_on(mtls_lab::run::run_lab_with_pki(&target, pki.clone()));
    assert_verdict(&r, "valid client", None, None, None);
    assert_verdict(
        &r,
        "no client certificate",
        Some(Side::Server),
        Some(Reason::CertificateRequired),
        Some("certificate_required"),
    );
    assert_verdict(
        &r,
        "client from another CA",
        Some(Side::Server),
        Some(Reason::UnknownIssuer),
        Some("unknown_ca"),
    );
    assert_verdict(
        &r,
        "client trusting another CA",
        Some(Side::Client),
        Some(Reason::UnknownIssuer),
        None,
    );
    drop(server);
}

#[test]
fn a_target_needs_no_private_key_for_its_certificate() {
    // The running target is the built-in server of one lab; its PKI is exported, and the second lab
    // loads the target's certificate from its file alone (`from: { cert }`, no key).
    let server_lab = common::lab(&format!(
        "lab: keyless-target-server\n{PKI}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: unused\n    client: {{ trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: certificate_required }}\n"
    ));
    let pki = mtls_lab::pki::build(&server_lab).unwrap();
    let dir = tempfile::tempdir().unwrap();
    mtls_lab::pki::export::export(&server_lab, &pki, dir.path(), false).unwrap();
    let rt = runtime();
    let server = rt.block_on(async {
        let config =
            mtls_lab::tls::server_config(&server_lab, &pki, &server_lab.servers[0]).unwrap();
        mtls_lab::tls::server::RunningServer::start("web", config)
            .await
            .unwrap()
    });
    let d = dir.path().display();
    let certificates = format!(
        "authorities:\n  ca: {{ from: {{ cert: {d}/ca/ca.crt }} }}\ncertificates:\n  server: {{ issuer: ca, from: {{ cert: {d}/server/server.crt }} }}\n  client: {{ issuer: ca, from: {{ cert: {d}/client/client.crt, key: {d}/client/client.key }} }}\n"
    );
    let target = common::lab(&format!(
        "lab: keyless-target\n{certificates}servers:\n  running: {{ certificate: server, trust: [ca], target: \"{}\" }}\ncases:\n  - name: valid client\n    client: {{ certificate: client, trust: [ca] }}\n    expect: {{ outcome: accepted, status: 200 }}\n  - name: no client certificate\n    client: {{ trust: [ca] }}\n    expect: {{ outcome: rejected, by: server, reason: certificate_required, alert: certificate_required }}\n",
        server.addr
    ));
    let r = rt.block_on(mtls_lab::run::run_lab(&target));
    assert_verdict(&r, "valid client", None, None, None);
    assert_verdict(
        &r,
        "no client certificate",
        Some(Side::Server),
        Some(Reason::CertificateRequired),
        Some("certificate_required"),
    );
    drop(server);
    // A peer that presents the certificate still needs its key: a built-in server, a server command,
    // a client.
    let refused = |servers: &str, client: &str| {
        let yaml = format!(
            "lab: keyless\n{certificates}servers:\n{servers}\ncases:\n  - name: c\n    client: {client}\n    expect: accepted\n"
        );
        match mtls_lab::lab::parse(
            Path::new("bad.yaml"),
            &yaml,
            time::OffsetDateTime::now_utc(),
        ) {
            Ok(_) => panic!("accepted:\n{yaml}"),
            Err(e) => e.render(),
        }
    };
    let why = "certificate `server` is loaded without a key (`from.key`); a peer cannot present it";
    let e = refused(
        "  web: { certificate: server, trust: [ca] }",
        "{ certificate: client, trust: [ca] }",
    );
    assert!(e.contains(why) && e.contains("--> bad.yaml:8:23"), "{e}");
    let e = refused(
        "  web: { certificate: server, trust: [ca], command: [./srv, \"{port}\"] }",
        "{ certificate: client, trust: [ca] }",
    );
    assert!(e.contains(why), "{e}");
    let e = refused(
        "  web: { certificate: client, trust: [ca], target: \"127.0.0.1:1\" }",
        "{ certificate: server, trust: [ca] }",
    );
    assert!(e.contains(why) && e.contains("--> bad.yaml:11:28"), "{e}");
}

#[test]
fn expectations_an_external_peer_cannot_show_are_refused_at_load_time() {
    let bad = |server: &str, client: &str, expect: &str| {
        let yaml = format!(
            "lab: bad\n{PKI}servers:\n  web:\n    certificate: server\n    trust: [ca]\n{server}\ncases:\n  - name: c\n    client: {client}\n    expect: {expect}\n"
        );
        match mtls_lab::lab::parse(
            Path::new("bad.yaml"),
            &yaml,
            time::OffsetDateTime::now_utc(),
        ) {
            Ok(_) => panic!("accepted:\n{yaml}"),
            Err(e) => e.render(),
        }
    };
    // A program mtls-lab does not know (a Python or `openssl s_server` server names `expired` in its
    // own words, and may be expected to: tests/integration/programs.rs).
    let ext = "    command: [./my-server, --port, \"{port}\"]";
    let e = bad(
        ext,
        "{ trust: [ca], certificate: client }",
        "{ outcome: rejected, by: server, reason: expired }",
    );
    assert!(
        e.contains("cases[0].expect.reason") && e.contains("only observable through the alert"),
        "{e}"
    );
    let e = bad(
        ext,
        "{ trust: [ca], certificate: client }",
        "{ outcome: accepted, server_saw: { CN: alice } }",
    );
    assert!(
        e.contains("server_saw") && e.contains("not observable"),
        "{e}"
    );
    let e = bad("", "{ command: [curl, \"{cert:nope}\"] }", "accepted");
    assert!(
        e.contains("cases[0].client.command[1]: no certificate or authority named `nope`")
            && e.contains("bad.yaml:"),
        "{e}"
    );
    let e = bad("", "{ command: [curl, \"{nope}\"] }", "accepted");
    assert!(e.contains("unknown placeholder `{nope}`"), "{e}");
    let e = bad("", "{ command: [curl], certificate: client }", "accepted");
    assert!(e.contains("configures the built-in client"), "{e}");
    let e = bad("", "{ trust: [ca] }", "{ outcome: accepted, exit: 0 }");
    assert!(e.contains("checks a client command"), "{e}");
    let e = bad(
        "",
        "{ command: [curl] }",
        "{ outcome: rejected, by: client, alert: unknown_cert }",
    );
    assert!(e.contains("not a TLS alert name"), "{e}");
    let e = bad("    listen: 10.0.0.1:443", "{ trust: [ca] }", "accepted");
    assert!(e.contains("not a loopback address"), "{e}");
    let e = bad(
        "    command: [x]\n    target: 127.0.0.1:1",
        "{ trust: [ca] }",
        "accepted",
    );
    assert!(e.contains("not both"), "{e}");
}

#[test]
fn ctrl_c_stops_every_child_and_exits_130() {
    require("python3", "--version");
    let _turn = common::seed_port();
    let dir = tempfile::tempdir().unwrap();
    let marker = "mtls-peers-ctrl-c";
    // A server command that only accepts TCP: the case's handshake waits, and Ctrl-C comes meanwhile.
    let lab = format!(
        "lab: interrupted\n{PKI}servers:\n  ext:\n    certificate: server\n    trust: [ca]\n    command: [python3, -c, \"import os, socket, time; open('{{dir}}/pid', 'w').write(str(os.getpid())); s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', {{port}})); s.listen(); time.sleep(120) # {marker}\"]\n    ready: tcp\ncases:\n  - name: hangs in the handshake\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n"
    );
    std::fs::write(dir.path().join("interrupted.yaml"), lab).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .current_dir(dir.path())
        .args(["run", "interrupted.yaml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = dir.path().join("pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    let server_pid: i32 = loop {
        if let Some(p) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "the server command never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(500));
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: stopped 1 child process group"),
        "{stderr}"
    );
    assert_no_process(marker);
    assert!(
        !Path::new(&format!("/proc/{server_pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{server_pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")),
        "the server command {server_pid} is still running"
    );
}

#[test]
fn pki_writes_pkcs12_files_that_openssl_reads() {
    require("openssl", "version");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p12.yaml"),
        format!("lab: p12\n{PKI}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: c\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n"),
    )
    .unwrap();
    let o = mtls(
        dir.path(),
        &[
            "pki",
            "p12.yaml",
            "--out",
            "pki",
            "--p12-password",
            "s3cret",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let p12 = dir.path().join("pki/client/client.p12");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&p12).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let read = std::process::Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(&p12)
        .args(["-passin", "pass:s3cret", "-nodes"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2, "{text}");
    assert_eq!(text.matches("BEGIN PRIVATE KEY").count(), 1, "{text}");
    assert!(
        text.contains("CN = alice") && text.contains("CN = Peers CA"),
        "{text}"
    );
    let wrong = std::process::Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(&p12)
        .args(["-passin", "pass:wrong", "-nodes"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    // Without --p12 nothing of the kind is written.
    let o = mtls(dir.path(), &["pki", "p12.yaml", "--out", "plain"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!dir.path().join("plain/client/client.p12").exists());
}

#[test]
fn client_commands_that_cannot_run_or_hang_are_errors_and_are_stopped() {
    require("python3", "--version");
    let _turn = common::seed_port();
    let marker = "mtls-peers-client-hangs";
    let r = run_inline(&format!(
        "lab: bad-clients\n{PKI}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: missing\n    client: {{ command: [no-such-client-mtls-lab, \"{{url}}\"] }}\n    expect: accepted\n  - name: hangs\n    client: {{ command: [python3, -c, \"import time; time.sleep(60) # {marker}\"], timeout: 1s }}\n    expect: accepted\n  - name: exits 3 without connecting\n    client: {{ command: [python3, -c, \"import sys; print('no route'); sys.exit(3)\"] }}\n    expect: {{ outcome: rejected, exit: 3, output: no route }}\n"
    ));
    let missing = case(&r, "missing");
    assert_eq!(missing.status, Status::Error);
    assert!(
        missing.messages[0].contains("`no-such-client-mtls-lab` was not found"),
        "{:?}",
        missing.messages
    );
    let hangs = case(&r, "hangs");
    assert_eq!(hangs.status, Status::Error);
    assert!(
        hangs.messages[0].contains("did not exit within 1 s (stopped)"),
        "{:?}",
        hangs.messages
    );
    assert_no_process(marker);
    // A command that never reaches the server: no TLS verifier rejected anything (`by` is none).
    let never = case(&r, "exits 3 without connecting");
    let o = never.observed.as_ref().unwrap();
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (Outcome::ProgramError, None, None),
        "{o:#?}"
    );
    assert_eq!(never.status, Status::Passed, "{:?}", never.messages);
    let o = case(&r, "exits 3 without connecting")
        .observed
        .clone()
        .unwrap();
    assert_eq!(o.exit_status, Some(3));
    assert!(
        o.detail.unwrap().contains("never connected to the server"),
        "detail"
    );
}
