//! `mtls-lab load`: repeat cases of one lab with many concurrent clients, a live progress line on a
//! terminal, then the summary (text or JSON) and the exit code.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mtls_lab::report::safe::clean;
use mtls_lab::run::load::{self, LoadPlan, LoadProgress, LoadSummary, Until};
use mtls_lab::tls::client::Exchange;

use super::args::{exit, LoadArgs};
use super::pki::load_variant;

/// How long a load runs when neither `--duration` nor `--count` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Runs the load of `args`; returns OK (every verdict as expected), FAILED (some verdict was not),
/// INPUT (bad arguments or lab: nothing ran), RUN (the lab could not be staged, or some connection could
/// not run at all) or INTERRUPTED.
pub fn load(args: LoadArgs) -> u8 {
    let lab = match load_variant(&args.lab, &args.vars, args.variant.as_ref()) {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    let plan = LoadPlan {
        cases: args.cases.clone(),
        connections: args.connections as usize,
        until: match (args.count, args.duration) {
            (Some(n), _) => Until::Count(n),
            (None, Some(d)) => Until::Duration(d),
            (None, None) => Until::Duration(DEFAULT_DURATION),
        },
        exchange: if args.handshake_only {
            Exchange::HandshakeOnly
        } else {
            Exchange::Request
        },
        resume: args.resume,
    };
    if let Err(e) = load::plan_cases(&lab, &plan) {
        eprintln!("{}", clean(&format!("error: {}: {e}", args.lab.display())));
        return exit::INPUT;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::RUN;
        }
    };
    let progress = Arc::new(LoadProgress::default());
    let finished = Arc::new(AtomicBool::new(false));
    let ticker = std::io::stderr()
        .is_terminal()
        .then(|| progress_line(progress.clone(), finished.clone()));
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = load::run_load(&lab, &plan, progress.clone()) => Some(r),
            _ = interrupted() => None,
        }
    });
    finished.store(true, Ordering::SeqCst);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    let Some(outcome) = outcome else {
        let n = mtls_lab::peer::process::kill_all();
        eprintln!("interrupted: stopped {n} child process group(s)");
        runtime.shutdown_timeout(Duration::from_secs(3));
        return exit::INTERRUPTED;
    };
    let summary = match outcome {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", clean(&format!("error: {e}")));
            return if e.is_input() { exit::INPUT } else { exit::RUN };
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&summary) {
            Ok(j) => super::term::emit(&format!("{j}\n")),
            Err(e) => {
                eprintln!("error: cannot write the summary as JSON: {e}");
                return exit::RUN;
            }
        }
    } else {
        super::term::emit(&text(&summary));
    }
    if summary.errors > 0 {
        exit::RUN
    } else if summary.wrong > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP (a signal that cannot be watched never comes).
async fn interrupted() {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    async fn recv(s: Option<Signal>) {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        _ = recv(signal(SignalKind::interrupt()).ok()) => {}
        _ = recv(signal(SignalKind::terminate()).ok()) => {}
        _ = recv(signal(SignalKind::hangup()).ok()) => {}
    }
}

/// A thread redrawing `[12.3 s] 4,210 handshakes, 1,402/s, 0 wrong` on stderr every 250 ms until
/// `finished`, then erasing it.
fn progress_line(
    progress: Arc<LoadProgress>,
    finished: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let started = Instant::now();
        while !finished.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(250));
            let done = progress.done.load(Ordering::Relaxed);
            let wrong = progress.wrong.load(Ordering::Relaxed);
            let secs = started.elapsed().as_secs_f64();
            eprint!(
                "\r\x1b[2K[{secs:.1} s] {done} handshakes, {:.0}/s, {wrong} wrong",
                done as f64 / secs.max(0.001)
            );
        }
        eprint!("\r\x1b[2K");
    })
}

/// The summary as text: what ran, the rate and latency, then each case's verdicts with their counts
/// (a verdict other than the case's expectation marked WRONG), then the totals.
pub fn text(s: &LoadSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let until = match (s.count, s.duration_ms) {
        (Some(n), _) => format!("--count {n}"),
        (None, Some(ms)) => format!("--duration {ms}ms"),
        (None, None) => String::new(),
    };
    let what = match (s.handshake_only, s.resume) {
        (true, true) => "handshakes only, resuming sessions",
        (true, false) => "handshakes only",
        (false, true) => "handshake and GET /, resuming sessions",
        (false, false) => "handshake and GET /",
    };
    let _ = writeln!(
        out,
        "load {}: {} connections, {until} ({what})",
        clean(&s.lab),
        s.connections
    );
    let _ = writeln!(
        out,
        "  {} handshakes in {:.2} s: {:.1} handshakes/s{}",
        s.handshakes,
        s.elapsed_ms / 1000.0,
        s.handshakes_per_second,
        if s.resume {
            format!(", {} resumed", s.resumed)
        } else {
            String::new()
        }
    );
    let l = &s.latency_ms;
    let _ = writeln!(
        out,
        "  latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        l.p50, l.p90, l.p99, l.max
    );
    for c in &s.cases {
        let _ = writeln!(
            out,
            "  {} (weight {}; expected {}): {} handshakes",
            clean(&c.name),
            c.weight,
            c.expected,
            c.handshakes
        );
        for v in &c.verdicts {
            let mark = if v.as_expected { "" } else { "WRONG  " };
            let _ = writeln!(out, "    {:>8}  {mark}{}", v.count, clean(&v.verdict));
        }
    }
    let _ = writeln!(
        out,
        "{} wrong verdict{}, {} error{}",
        s.wrong,
        if s.wrong == 1 { "" } else { "s" },
        s.errors,
        if s.errors == 1 { "" } else { "s" }
    );
    out
}
