//! `mtls-lab limbo FILE`: x509-limbo testcases through real handshakes against each verifier under
//! test; the console report, `--json`, and the exit code against `--exceptions`; a signal stops the
//! programs under test (as `run` does) and leaves the results finished so far, marked interrupted.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mtls_lab::lab::limbo::{self, Exceptions, Verifier};
use mtls_lab::report::limbo as report;
use mtls_lab::report::{Destination, Format};
use mtls_lab::run::limbo::Finished;

use super::args::{exit, LimboArgs, LimboVerifier};

/// Where the console report goes: stdout, or stderr when the JSON report goes to stdout. Writing to a
/// closed stdout (`limbo ... | head -1`) turns `closed` true instead of panicking.
struct Console {
    to_stderr: bool,
    closed: bool,
}

impl Console {
    /// Writes `line`; false once stdout is closed.
    fn line(&mut self, line: &str) -> bool {
        if self.to_stderr {
            eprintln!("{line}");
            return true;
        }
        if !self.closed {
            let mut out = std::io::stdout().lock();
            self.closed = writeln!(out, "{line}").and_then(|()| out.flush()).is_err();
        }
        !self.closed
    }
}

/// Runs `args`; returns 0 when every disagreement is a listed exception and no exception is stale (or
/// when standard output was closed: the reader went away), 1 otherwise, 2 on bad input (the limbo file,
/// the exceptions file, the JSON path, a `--filter` that matches no testcase), 3 when the run cannot
/// start or a testcase could not run, 130 when a signal stopped it.
pub fn limbo(args: LimboArgs, verbose: u8) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit::RUN;
        }
    };
    // The signals `run` watches, watched the same way from here on: while the files load (a large limbo
    // file takes a moment) one exits INTERRUPTED at once, nothing having run.
    let loading = Arc::new(AtomicBool::new(true));
    let mut stopped = super::run::watch_signals(&runtime, loading.clone(), || {
        eprintln!("interrupted while loading; nothing was run");
    });
    let suite = match limbo::load(&args.file, &args.filter) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INPUT;
        }
    };
    if suite.testcases.is_empty() && !args.filter.is_empty() {
        let filters: Vec<String> = args.filter.iter().map(|f| format!("`{f}`")).collect();
        eprintln!(
            "error: no testcase id of {} ({} testcases) contains {}: --filter matches a substring of the id",
            args.file.display(),
            suite.all_ids.len(),
            filters.join(" or ")
        );
        return exit::INPUT;
    }
    let exceptions = match &args.exceptions {
        Some(path) => match limbo::load_exceptions(path, &suite) {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INPUT;
            }
        },
        None => None,
    };
    // The JSON path is checked before anything runs: not an input, not a link or device, writable.
    if let Some(out) = &args.json {
        let inputs: Vec<PathBuf> = [Some(&args.file), args.exceptions.as_ref()]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let problems = mtls_lab::report::check_destinations(&[(Format::Json, out)], &inputs);
        for p in &problems {
            eprintln!(
                "{}",
                mtls_lab::report::safe::clean(&format!("error: --json: {p}"))
            );
        }
        if !problems.is_empty() {
            eprintln!("nothing was run");
            return exit::INPUT;
        }
    }
    // Every verifier's programs are looked for before anything runs: one error, not one per testcase.
    let mut verifiers: Vec<Verifier> = args.verifiers.iter().map(|v| verifier(*v)).collect();
    verifiers.dedup();
    let mut missing = false;
    for v in &verifiers {
        if let Err(e) = mtls_lab::run::limbo::ready(&suite, *v) {
            eprintln!("error: {}: {e}", v.name());
            missing = true;
        }
    }
    if missing {
        eprintln!("nothing was run");
        return exit::RUN;
    }
    let json_to_stdout = args
        .json
        .as_deref()
        .is_some_and(|p| Destination::of(p) == Destination::Stdout);
    let mut console = Console {
        to_stderr: json_to_stdout,
        closed: false,
    };
    loading.store(false, Ordering::SeqCst);
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let suite = Arc::new(suite);
    let total = suite.testcases.len();
    if !console.line(&format!(
        "limbo: {} ({} testcase{})",
        args.file.display(),
        total,
        if total == 1 { "" } else { "s" }
    )) {
        return exit::OK;
    }
    let empty = Exceptions::default();
    let ex = exceptions.as_ref().unwrap_or(&empty);
    let mut runs = Vec::new();
    let mut code = exit::OK;
    for v in verifiers {
        let finished = Finished::default();
        let started = Instant::now();
        let outcome = runtime.block_on(async {
            let run = mtls_lab::run::limbo::run(suite.clone(), v, jobs, finished.clone());
            let outcome = tokio::select! {
                r = run => Some(r),
                _ = stopped.wait_for(|s| *s) => None,
            };
            // Whatever a program left behind that escaped its scope (re-parented here, the subreaper).
            if outcome.is_some() {
                mtls_lab::peer::process::sweep_descendants().await;
            }
            outcome
        });
        let Some(outcome) = outcome else {
            // The run's tasks were aborted with its future (their programs stopped, their temporary
            // directories removed); what escaped is stopped here, as `run` does.
            let n = mtls_lab::peer::process::kill_all();
            runtime.shutdown_timeout(Duration::from_secs(3));
            mtls_lab::peer::process::kill_all();
            let run =
                mtls_lab::run::limbo::partial(v, &finished, started.elapsed().as_millis() as u64);
            let ran = run.results.len();
            let mut lines = report::console(&run, ex, verbose > 0);
            if let Some(summary) = lines.last_mut() {
                summary.push_str(&format!("; interrupted: {ran} of {total} testcases ran"));
            }
            for line in lines {
                console.line(&line);
            }
            runs.push(run);
            eprintln!(
                "interrupted: stopped {n} child process group(s); {}: {ran} of {total} testcases ran before the signal",
                v.name()
            );
            write_json(&args, &runs, exceptions.as_ref(), true, &mut console);
            return exit::INTERRUPTED;
        };
        match outcome {
            Ok(run) => {
                for line in report::console(&run, ex, verbose > 0) {
                    if !console.line(&line) {
                        return exit::OK;
                    }
                }
                if run.counts().errors > 0 {
                    code = exit::RUN;
                } else if !report::check(&run, ex).clean() && code == exit::OK {
                    code = exit::FAILED;
                }
                runs.push(run);
            }
            Err(e) => {
                eprintln!("error: {}: {e}", v.name());
                code = exit::RUN;
            }
        }
    }
    if !write_json(&args, &runs, exceptions.as_ref(), false, &mut console) {
        return exit::RUN;
    }
    if console.closed {
        return exit::OK;
    }
    code
}

/// Writes the JSON report when `--json` asks for it (`-`: standard output); false, after saying why,
/// when it cannot be written.
fn write_json(
    args: &LimboArgs,
    runs: &[mtls_lab::run::limbo::VerifierRun],
    exceptions: Option<&Exceptions>,
    interrupted: bool,
    console: &mut Console,
) -> bool {
    let Some(out) = &args.json else {
        return true;
    };
    let text = report::json(
        &args.file.display().to_string(),
        &args.filter,
        runs,
        exceptions,
        interrupted,
    );
    match Destination::of(out) {
        Destination::Stdout => {
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{text}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                console.closed = true;
            }
            true
        }
        Destination::File(path) => write_file(&path, &text),
    }
}

/// Writes the JSON report to the file `path`; false, after saying why, when it cannot. The why is the
/// error's kind (the system's words name the temporary file the report went through first), or our own
/// words for a target refused as it is (a link, not a regular file).
fn write_file(path: &Path, text: &str) -> bool {
    match mtls_lab::report::write_atomic(path, &format!("{text}\n")) {
        Ok(()) => true,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::Other => e.to_string(),
                kind => kind.to_string(),
            };
            eprintln!(
                "{}",
                mtls_lab::report::safe::clean(&format!(
                    "error: cannot write the JSON report {}: {why}",
                    path.display()
                ))
            );
            false
        }
    }
}

fn verifier(v: LimboVerifier) -> Verifier {
    match v {
        LimboVerifier::Builtin => Verifier::Builtin,
        LimboVerifier::Curl => Verifier::Curl,
        LimboVerifier::Openssl => Verifier::Openssl,
    }
}
