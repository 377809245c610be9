//! Hermetic runs: no process outlives its lab (also `setsid` grandchildren, also on Ctrl-C), program
//! output is kept bounded, two runs of fixed-port labs at once give the verdicts each gives alone, a
//! stray client decides no verdict, and a server command beyond loopback fails.
//!
//! These tests need sh, setsid, curl, openssl and python3 (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::root;
use mtls_lab::run::Status;

const PKI: &str = r#"
authorities:
  ca: { subject: { CN: Hermetic CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }
  client: { issuer: ca, subject: { CN: alice }, usage: client }
"#;

/// A client command that connects with the lab's client certificate (`{url}` of the built-in server).
const CURL: &str =
    "curl --silent --show-error --cacert {cert:ca} --cert {cert:client} --key {key:client} {url}";

fn mtls_at(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mtls-lab"));
    c.current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits (at most 20 s) for `file` to hold a number.
fn read_pid(file: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(p) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts process `pid` is gone (a zombie about to be reaped by init counts as gone after 2 s of waiting).
fn assert_gone(pid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "{what} {pid} outlived the lab: {}",
            std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port free on 127.0.0.1 right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `sh -c` text that starts `sleep 300` in a new session, writing its pid to `{dir}/NAME.pid`.
fn escaping_grandchild(name: &str) -> String {
    format!("setsid sh -c 'echo $$ > {{dir}}/{name}.pid; exec sleep 300' < /dev/null > /dev/null 2>&1 & ")
}

#[test]
fn setsid_grandchildren_of_server_and_client_commands_do_not_outlive_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    let lab = format!(
        "lab: escape\n{PKI}servers:\n  ext:\n    certificate: server\n    trust: [ca]\n    command: [sh, -c, \"{}exec openssl s_server -accept 127.0.0.1:{{port}} -cert {{cert:server}} -key {{key:server}} -CAfile {{cert:ca}} -Verify 1 -www\"]\n    listen: 127.0.0.1:0\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: built-in client against the server command\n    server: ext\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n  - name: client command against the built-in server\n    server: web\n    client:\n      command: [sh, -c, \"{}{CURL}\"]\n    expect: {{ outcome: accepted, exit: 0 }}\n",
        escaping_grandchild("server-grandchild"),
        escaping_grandchild("client-grandchild"),
    );
    std::fs::write(dir.path().join("escape.yaml"), lab).unwrap();
    let o = mtls_at(dir.path(), &["run", "escape.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for name in ["server-grandchild", "client-grandchild"] {
        let pid = read_pid(&dir.path().join(format!("{name}.pid")));
        assert_gone(pid, name);
    }
}

#[test]
fn ctrl_c_stops_setsid_grandchildren_too() {
    let dir = tempfile::tempdir().unwrap();
    // A server command that only accepts TCP: the case's handshake waits, and Ctrl-C comes meanwhile.
    let lab = format!(
        "lab: interrupted\n{PKI}servers:\n  ext:\n    certificate: server\n    trust: [ca]\n    command: [sh, -c, \"{}exec python3 -c 'import socket, time; s = socket.socket(); s.bind((\\\"127.0.0.1\\\", {{port}})); s.listen(); time.sleep(120)'\"]\n    ready: tcp\ncases:\n  - name: hangs in the handshake\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n",
        escaping_grandchild("grandchild"),
    );
    std::fs::write(dir.path().join("interrupted.yaml"), lab).unwrap();
    let child = mtls_at(dir.path(), &["run", "interrupted.yaml"])
        .spawn()
        .unwrap();
    let grandchild = read_pid(&dir.path().join("grandchild.pid"));
    // The case is under way once the server is ready; give it that moment.
    std::thread::sleep(Duration::from_millis(1500));
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert_gone(grandchild, "the setsid grandchild");
}

/// The verdicts of a JSON report: (lab, case, status) in order, and the summary counts.
fn verdicts(report: &Path) -> (Vec<(String, String, String)>, serde_json::Value) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let mut out = Vec::new();
    for lab in v["labs"].as_array().unwrap() {
        for c in lab["cases"].as_array().unwrap() {
            out.push((
                lab["lab"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            ));
        }
    }
    (out, v["summary"].clone())
}

#[test]
fn two_concurrent_runs_of_the_fixed_port_labs_give_identical_passing_verdicts() {
    let _turn = common::seed_port();
    let out = tempfile::tempdir().unwrap();
    let (reports, outputs) = two_concurrent_runs(out.path(), &[]);
    for o in &outputs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
    }
    let (first, summary) = verdicts(&reports[0]);
    let (second, summary2) = verdicts(&reports[1]);
    assert_eq!(first, second);
    assert_eq!(summary, summary2);
    assert_eq!(first.len(), 9, "{first:?}");
    assert!(first.iter().all(|(_, _, s)| s == "passed"), "{first:?}");
}

#[test]
fn a_stray_client_during_a_client_command_case_decides_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The client command waits for the test's strays before it connects.
    let lab = format!(
        "lab: stray\n{PKI}servers:\n  web: {{ certificate: server, trust: [ca], listen: 127.0.0.1:{port} }}\ncases:\n  - name: the client command is accepted\n    client:\n      command: [sh, -c, \"touch {{dir}}/ready; i=0; while [ ! -e {{dir}}/go ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; {CURL}\"]\n    expect: {{ outcome: accepted, exit: 0, output: alice }}\n"
    );
    std::fs::write(dir.path().join("stray.yaml"), lab).unwrap();
    let report = dir.path().join("report.json");
    let child = mtls_at(
        dir.path(),
        &[
            "run",
            "--report-json",
            report.to_str().unwrap(),
            "stray.yaml",
        ],
    )
    .spawn()
    .unwrap();
    let ready = dir.path().join("ready");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.exists() {
        assert!(
            Instant::now() < deadline,
            "the client command never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A TLS client without a certificate (rejected by the server: a verdict, were it counted) and a
    // bare TCP connection, neither started by mtls-lab.
    let s_client = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&s_client.stdout).contains("CONNECTED"),
        "{}",
        text(&s_client)
    );
    drop(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(dir.path().join("go"), "").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (v, _) = verdicts(&report);
    assert_eq!(
        v,
        vec![(
            "stray".to_string(),
            "the client command is accepted".to_string(),
            "passed".to_string()
        )]
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        stderr.matches("stray connection").count(),
        2,
        "{}",
        text(&o)
    );
}

#[test]
fn a_server_command_listening_on_all_interfaces_fails_naming_the_address() {
    let port = free_port();
    let lab = common::lab(&format!(
        "lab: exposed\n{PKI}servers:\n  ext:\n    certificate: server\n    trust: [ca]\n    command: [openssl, s_server, -accept, \"{{port}}\", -cert, \"{{cert:server}}\", -key, \"{{key:server}}\", -www]\n    listen: 127.0.0.1:{port}\ncases:\n  - name: valid client\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n"
    ));
    let r = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(mtls_lab::run::run_lab(&lab));
    let c = &r.cases[0];
    assert_eq!(c.status, Status::Failed, "{:?}", c.messages);
    assert!(c.observed.is_none());
    let m = c.messages.join("\n");
    let any = [format!("[::]:{port}"), format!("0.0.0.0:{port}")];
    assert!(
        m.starts_with(&format!(
            "server `ext`: server command `openssl s_server -accept {port} "
        )) && m.contains("not only on loopback")
            && any.iter().any(|a| m.contains(&format!("listens on {a}"))),
        "{m}"
    );
    // It was stopped: nothing listens there any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// Whether this machine has an IPv6 loopback to bind.
fn ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn a_built_in_server_on_ipv6_loopback_gives_exact_verdicts() {
    if !ipv6_loopback() {
        eprintln!("SKIPPED a_built_in_server_on_ipv6_loopback_gives_exact_verdicts: ::1 cannot be bound on this machine");
        return;
    }
    let lab = common::lab(
        r#"
lab: ipv6
authorities:
  ca: { subject: { CN: Hermetic CA } }
  stranger-ca: { subject: { CN: Stranger CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, "ip:::1"], usage: server }
  client: { issuer: ca, subject: { CN: alice }, usage: client }
  stranger: { issuer: stranger-ca, subject: { CN: mallory }, usage: client }
servers:
  web: { certificate: server, trust: [ca], listen: "[::1]:0" }
cases:
  - name: the built-in client is accepted over ::1
    client: { certificate: client, trust: [ca] }
    expect: accepted
  - name: a client of another CA is rejected over ::1
    client: { certificate: stranger, trust: [ca] }
    expect: { outcome: rejected, by: server, reason: unknown_issuer }
  - name: a client command reaches it by its address
    client:
      command: [curl, --silent, --show-error, --cacert, "{cert:ca}", --cert, "{cert:client}", --key, "{key:client}", "{url}"]
    expect: { outcome: accepted, exit: 0, output: alice }
"#,
    );
    let r = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(mtls_lab::run::run_lab(&lab));
    assert_eq!(r.error, None);
    common::assert_accepted(&r, "the built-in client is accepted over ::1");
    common::assert_rejected(
        &r,
        "a client of another CA is rejected over ::1",
        mtls_lab::spec::Side::Server,
        mtls_lab::reason::Reason::UnknownIssuer,
    );
    common::assert_accepted(&r, "a client command reaches it by its address");
    for c in &r.cases {
        assert!(
            c.context
                .server_address
                .as_deref()
                .is_none_or(|a| a.starts_with("[::1]:")),
            "{:?}",
            c.context.server_address
        );
    }
}

/// The seed's fixed-port labs (4443): the built-in server, the student's server.py, client.py twice.
const SEED_LABS: [&str; 4] = [
    "labs/seed-mtls.yaml",
    "labs/peers/seed-python-server.yaml",
    "labs/peers/seed-python-client.yaml",
    "labs/peers/seed-python-client-impostor.yaml",
];

/// The first line of stderr of `run --isolate`: which mechanism keeps the run's ports.
fn isolation_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Two `run` processes started at once over [`SEED_LABS`] with `flags`, each writing a JSON report
/// into `dir`; returns the report paths and both outputs once both have exited.
fn two_concurrent_runs(dir: &Path, flags: &[&str]) -> (Vec<PathBuf>, Vec<Output>) {
    let reports: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("run{i}.json"))).collect();
    let children: Vec<_> = reports
        .iter()
        .map(|r| {
            let mut args = vec!["run"];
            args.extend(flags);
            args.extend(["--report-json", r.to_str().unwrap()]);
            args.extend(SEED_LABS);
            mtls_at(&root(), &args).spawn().unwrap()
        })
        .collect();
    let outputs = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    (reports, outputs)
}

const NAMESPACE: &str = "isolation: a private network namespace";

#[test]
fn two_concurrent_isolated_runs_of_the_fixed_port_labs_both_pass_each_in_its_own_namespace() {
    let _turn = common::seed_port();
    let out = tempfile::tempdir().unwrap();
    let (reports, outputs) = two_concurrent_runs(out.path(), &["--isolate"]);
    for o in &outputs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
        let line = isolation_line(o);
        if !line.starts_with(NAMESPACE) {
            // Both still pass, through the port locks; say that the namespace was not tried here.
            eprintln!("NOTE: no private network namespace on this machine; the runs used {line}");
        }
    }
    let (first, _) = verdicts(&reports[0]);
    let (second, _) = verdicts(&reports[1]);
    assert_eq!(first, second);
    assert_eq!(first.len(), 9, "{first:?}");
    assert!(first.iter().all(|(_, _, s)| s == "passed"), "{first:?}");
}

#[test]
fn an_outside_listener_on_4443_does_not_disturb_an_isolated_run() {
    let _turn = common::seed_port();
    // Someone else's server on the seed's port, on the machine's loopback, for the whole run; taken
    // through the port lock, as an mtls-lab run takes it, so other runs on this machine wait meanwhile.
    let _held = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(mtls_lab::peer::portlock::acquire(
            4443,
            Path::new("hermetic.rs"),
            Duration::from_secs(600),
        ))
        .unwrap();
    let outside = std::net::TcpListener::bind("127.0.0.1:4443").unwrap();
    let report = tempfile::tempdir().unwrap();
    let json = report.path().join("run.json");
    let mut args = vec!["run", "--isolate", "--report-json", json.to_str().unwrap()];
    args.extend(SEED_LABS);
    let o = mtls_at(&root(), &args).output().unwrap();
    let line = isolation_line(&o);
    if !line.starts_with(NAMESPACE) {
        eprintln!("SKIPPED an_outside_listener_on_4443_does_not_disturb_an_isolated_run: no private network namespace here ({line})");
        return;
    }
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (v, _) = verdicts(&json);
    assert_eq!(v.len(), 9, "{v:?}");
    assert!(v.iter().all(|(_, _, s)| s == "passed"), "{v:?}");
    // Without the namespace the same run fails: `127.0.0.1:4443 is already in use`. (Whether the
    // listener's backlog stays empty is not asserted: other tests of this binary may connect to 4443.)
    drop(outside);
}

#[test]
fn isolate_falls_back_to_port_locks_where_no_namespace_is_permitted_and_says_so() {
    let _turn = common::seed_port();
    let o = mtls_at(&root(), &["run", "--isolate", SEED_LABS[1]])
        .env("MTLS_LAB_NO_NETNS", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        isolation_line(&o),
        "isolation: port locks (one lock file per fixed port, shared with other runs on this machine): no private network namespace, MTLS_LAB_NO_NETNS is set"
    );
}

#[test]
fn a_one_shot_server_keeps_its_only_connection_for_the_case() {
    // `ready: tls` (the default) against a server that accepts exactly one connection: readiness is
    // read from its listening socket, so the case's handshake is that one connection.
    let lab = common::lab(&format!(
        "lab: one-shot\n{PKI}servers:\n  ext:\n    certificate: server\n    trust: [ca]\n    command: [openssl, s_server, -naccept, \"1\", -accept, \"127.0.0.1:{{port}}\", -cert, \"{{cert:server}}\", -key, \"{{key:server}}\", -CAfile, \"{{cert:ca}}\", -Verify, \"1\", -www]\n    ready: tls\ncases:\n  - name: the only connection is the case's\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n"
    ));
    let r = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(mtls_lab::run::run_lab(&lab));
    assert_eq!(r.error, None);
    common::assert_accepted(&r, "the only connection is the case's");
}

#[test]
fn a_port_in_use_is_found_without_connecting_to_it() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let lab = common::lab(&format!(
        "lab: in-use\n{PKI}servers:\n  ext:\n    certificate: server\n    trust: [ca]\n    command: [python3, -c, pass]\n    listen: 127.0.0.1:{port}\ncases:\n  - name: never runs\n    client: {{ certificate: client, trust: [ca] }}\n    expect: accepted\n"
    ));
    let r = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(mtls_lab::run::run_lab(&lab));
    let m = r.cases[0].messages.join("\n");
    assert!(
        m.contains(&format!("127.0.0.1:{port} is already in use")),
        "{m}"
    );
    // The listener's backlog is empty: the check made no connection.
    busy.set_nonblocking(true).unwrap();
    assert_eq!(
        busy.accept().map(|_| ()).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock)
    );
}

#[test]
fn a_process_that_escapes_its_scope_is_stopped_by_the_final_sweep() {
    let dir = tempfile::tempdir().unwrap();
    // New session and an empty environment (no scope marker); the command waits until it is
    // running, then exits, so it is re-parented to mtls-lab with nothing left to tie it to its lab.
    let lab = format!(
        "lab: sweep\n{PKI}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: the client command is accepted\n    client:\n      command: [sh, -c, \"setsid env -i sh -c 'echo $$ > {{dir}}/escapee.pid; exec sleep 300' < /dev/null > /dev/null 2>&1 & while [ ! -s {{dir}}/escapee.pid ]; do sleep 0.05; done; {CURL}\"]\n    expect: {{ outcome: accepted, exit: 0 }}\n"
    );
    std::fs::write(dir.path().join("sweep.yaml"), lab).unwrap();
    let o = mtls_at(dir.path(), &["run", "sweep.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // It was the sweep that found it (the case's own stop could not tell it was the lab's).
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("stopping processes left behind by the labs"),
        "{}",
        text(&o)
    );
    let pid = read_pid(&dir.path().join("escapee.pid"));
    assert_gone(pid, "the escaped process");
}

#[test]
fn verbose_logs_redact_a_private_key_a_program_prints() {
    let dir = tempfile::tempdir().unwrap();
    let lab = format!(
        "lab: key-in-log\n{PKI}servers:\n  web: {{ certificate: server, trust: [ca] }}\ncases:\n  - name: prints its key\n    client:\n      command: [sh, -c, \"cat {{key:client}}; {CURL}\"]\n    expect: {{ outcome: accepted, exit: 0 }}\n"
    );
    std::fs::write(dir.path().join("key.yaml"), lab).unwrap();
    let o = mtls_at(dir.path(), &["run", "-vv", "key.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("last lines of its output") && stderr.contains("[private key redacted]"),
        "{stderr}"
    );
    assert!(!stderr.contains("PRIVATE KEY-----"), "{stderr}");
}
