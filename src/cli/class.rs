//! `mtls-lab run LAB --submissions PATTERN`: grading a class. Every directory the pattern matches is
//! graded by a run of its own (this binary's `run LAB --var submission=DIR --report-json FILE`),
//! `--jobs` at a time, so that submissions share nothing but the machine: their fixed ports (the
//! seed's 4443) are held by the port locks across runs, or each run has a private network namespace
//! with `--isolate`. One summary line per submission, then the gradebook (CSV and JSON).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mtls_lab::lab::select::{glob, Partition};
use mtls_lab::report::gradebook::{self, Submission, SubmissionReport};
use mtls_lab::report::{self, safe, Format};
use mtls_lab::run;
use rustix::process::{kill_process, Pid, Signal};

use super::args::{exit, RunArgs};
use super::load::load_each;
use super::term::Painter;

/// The path variable a submission directory is bound to.
const VARIABLE: &str = "submission";

/// The runs in progress (their pids), and whether a signal asked to stop: shared with the thread that
/// watches the signals.
#[derive(Default)]
struct Runs {
    pids: Mutex<Vec<u32>>,
    stopped: AtomicBool,
}

impl Runs {
    /// Asks every run in progress to stop (SIGTERM: each stops its own programs and exits 130); no
    /// run starts after this.
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        if let Ok(pids) = self.pids.lock() {
            for pid in pids.iter() {
                if let Some(p) = i32::try_from(*pid).ok().and_then(Pid::from_raw) {
                    let _ = kill_process(p, Signal::TERM);
                }
            }
        }
    }
}

/// Watches Ctrl-C, SIGTERM and SIGHUP from now on, on a thread of its own: the first stops `runs`.
/// A signal that cannot be watched is left to its default.
fn watch_signals(runs: Arc<Runs>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let signals = {
        let _inside = rt.enter();
        [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ]
        .map(|k| signal(k).ok())
    };
    std::thread::spawn(move || {
        rt.block_on(async {
            let [int, term, hup] = signals.map(|s| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            });
            tokio::select! {
                _ = int => {}
                _ = term => {}
                _ = hup => {}
            }
        });
        runs.stop();
    });
}

/// Grades every submission `args.submissions` matches; returns the exit code: OK when every
/// submission was graded (whatever its points: the gradebook holds them, and each row keeps its own
/// run's exit code), INPUT for bad input (a pattern matching no directory, a lab without the
/// `submission` variable, an option that does not apply, an unusable gradebook path), RUN when a
/// submission could not be run at all (no report) or a gradebook could not be written, INTERRUPTED
/// when a signal stopped the runs (the gradebook is still written).
pub fn run(args: RunArgs) -> u8 {
    let painter = Painter::new(args.color);
    let error =
        |msg: String| eprintln!("{}", painter.error(&safe::clean(&format!("error: {msg}"))));
    if let Some((option, why)) = not_applicable(&args) {
        error(format!("{option} {why}"));
        return exit::INPUT;
    }
    let books: Vec<(&str, &Path)> = [
        ("CSV", args.gradebook_csv.as_deref()),
        ("JSON", args.gradebook_json.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, p)| p.map(|p| (k, p)))
    .collect();
    if !books_ok(&books, &args.paths, &error) {
        return exit::INPUT;
    }
    let pattern = args.submissions.clone().unwrap_or_default();
    let dirs = match expand(&pattern) {
        Ok(d) if !d.is_empty() => d,
        Ok(_) => {
            error(format!("--submissions `{pattern}` matches no directory"));
            return exit::INPUT;
        }
        Err(e) => {
            error(format!("--submissions `{pattern}`: {e}"));
            return exit::INPUT;
        }
    };
    let dirs = slice(dirs, args.selection.partition);
    if let Err(code) = uses_submission(&args, painter, &error) {
        return code;
    }
    let names = names(&dirs);
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            error(format!("cannot create a scratch directory: {e}"));
            return exit::RUN;
        }
    };
    let jobs = args.jobs.unwrap_or_else(run::default_jobs).min(dirs.len());
    let runs = Arc::new(Runs::default());
    watch_signals(runs.clone());
    let graded = grade_all(&args, &dirs, jobs, scratch.path(), &runs);
    // Each run says how it was isolated (`isolation: …`, its first line); the first run's is shown.
    if args.isolate {
        let log = std::fs::read_to_string(scratch.path().join("0").join("output.txt"));
        if let Some(line) = log
            .iter()
            .flat_map(|t| t.lines())
            .find(|l| l.starts_with("isolation:"))
        {
            eprintln!("{}", safe::clean(line));
        }
    }
    let submissions: Vec<Submission> = names
        .into_iter()
        .zip(graded)
        .map(|(name, (report, exit_code))| Submission {
            name,
            report,
            exit_code,
        })
        .collect();
    let mut code = exit::OK;
    for s in &submissions {
        let line = match &s.report {
            Ok(r) => format!("{}: {}", s.name, r.summary_line()),
            Err(why) => {
                code = exit::RUN;
                format!("{}: could not be run: {why}", s.name)
            }
        };
        println!("{}", safe::clean(&line));
    }
    let ran = submissions.iter().filter(|s| s.report.is_ok()).count();
    println!("graded {ran} of {} submission(s)", submissions.len());
    if runs.stopped.load(Ordering::SeqCst) {
        eprintln!("interrupted: the runs in progress were stopped; the gradebook lists what was not graded");
        code = exit::INTERRUPTED;
    }
    let book = gradebook::build(&submissions);
    for (kind, path) in books {
        let text = match kind {
            "CSV" => gradebook::csv(&book),
            _ => gradebook::json(&book),
        };
        if let Err(e) = report::write_atomic(path, &text) {
            error(format!(
                "cannot write the {kind} gradebook {}: {e}",
                path.display()
            ));
            if code != exit::INTERRUPTED {
                code = exit::RUN;
            }
        }
    }
    code
}

/// The first option given that applies to one run only and so not to a class, and why.
fn not_applicable(args: &RunArgs) -> Option<(&'static str, &'static str)> {
    const REPORT: &str =
        "writes the report of one run; with --submissions, use --gradebook-csv and --gradebook-json";
    let r = &args.reports;
    [
        (r.report_json.is_some(), "--report-json", REPORT),
        (r.report_junit.is_some(), "--report-junit", REPORT),
        (r.report_tap.is_some(), "--report-tap", REPORT),
        (r.report_gradescope.is_some(), "--report-gradescope", REPORT),
        (r.report_classroom.is_some(), "--report-classroom", REPORT),
        (r.report_html.is_some(), "--report-html", REPORT),
        (
            args.pki.is_some(),
            "--pki",
            "keeps the PKI of one run; each submission's run makes its own, from the submission's files",
        ),
        (
            args.fail_fast,
            "--fail-fast",
            "stops one run at its first failing lab; with --submissions every submission is graded whole",
        ),
    ]
    .into_iter()
    .find_map(|(given, o, why)| given.then_some((o, why)))
}

/// Checks the gradebook paths as report paths are checked ([`report::check_destinations`]: not a
/// link, a device or a lab file; distinct; in an existing directory); prints each problem.
fn books_ok(books: &[(&str, &Path)], inputs: &[PathBuf], error: &impl Fn(String)) -> bool {
    if books.iter().any(|(_, p)| p.as_os_str() == "-") {
        error("a gradebook is written to a file, not to standard output (`-`)".into());
        return false;
    }
    let asked: Vec<(Format, &Path)> = books.iter().map(|(_, p)| (Format::Json, *p)).collect();
    let mut inputs = inputs.to_vec();
    if let Ok(files) = mtls_lab::lab::discover::lab_files(&inputs) {
        inputs.extend(files);
    }
    let problems = report::check_destinations(&asked, &inputs);
    for p in &problems {
        error(p.replace("the JSON report", "the gradebook"));
    }
    problems.is_empty()
}

/// The directories `pattern` matches, sorted: `*` and `?` match within one path component (a
/// component starting with `.` only when the pattern's does); a trailing `/` changes nothing, only
/// directories are kept. Errors when a directory named without a wildcard cannot be read.
fn expand(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let mut found: Vec<PathBuf> = vec![if pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for part in pattern.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if !part.contains(['*', '?']) {
            found = found.into_iter().map(|p| p.join(part)).collect();
            continue;
        }
        let mut next = Vec::new();
        for base in &found {
            let shown = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let entries = std::fs::read_dir(shown)
                .map_err(|e| format!("cannot read the directory {}: {e}", shown.display()))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if glob(part, &name) {
                    next.push(base.join(name));
                }
            }
        }
        found = next;
    }
    let mut dirs: Vec<PathBuf> = found.into_iter().filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs.dedup();
    Ok(dirs)
}

/// The M-th of N slices of `dirs` (every N-th, from the M-th), for a CI matrix; all without a partition.
fn slice(dirs: Vec<PathBuf>, partition: Option<Partition>) -> Vec<PathBuf> {
    let Some(p) = partition else { return dirs };
    dirs.into_iter()
        .enumerate()
        .filter(|(i, _)| i % p.n == p.m - 1)
        .map(|(_, d)| d)
        .collect()
}

/// Each submission's name: its directory's name, or its whole path when two share a name.
fn names(dirs: &[PathBuf]) -> Vec<String> {
    let last = |d: &PathBuf| {
        d.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| d.display().to_string())
    };
    dirs.iter()
        .map(|d| {
            let name = last(d);
            if dirs.iter().filter(|o| last(o) == name).count() > 1 {
                d.display().to_string()
            } else {
                name
            }
        })
        .collect()
}

/// Loads the labs with the `submission` variable bound to a path no lab names, and checks that a lab
/// uses it (the loaded model mentions the path). Errors with INPUT, after saying why, when a lab file
/// is invalid or none uses the variable.
fn uses_submission(args: &RunArgs, painter: Painter, error: &impl Fn(String)) -> Result<(), u8> {
    let probe = format!(
        "/nonexistent/mtls-lab-submission-probe-{}",
        std::process::id()
    );
    let mut vars = args.vars.map();
    vars.insert(VARIABLE.into(), probe.clone());
    let now = time::OffsetDateTime::now_utc();
    let labs = match load_each(&args.paths, now, painter, &vars) {
        Ok((labs, invalid)) if invalid.is_empty() && !labs.is_empty() => labs,
        _ => {
            eprintln!("nothing was graded");
            return Err(exit::INPUT);
        }
    };
    if !format!("{labs:?}").contains(&probe) {
        error(format!(
            "no lab in {} uses the `${{{VARIABLE}}}` variable, so every submission would get the same grade; a grading lab loads the submission's files from `${{{VARIABLE}}}/…` (README, \"Grading\")",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Err(exit::INPUT);
    }
    Ok(())
}

/// One submission's report (or why there is none) and its run's exit code.
type Graded = (Result<SubmissionReport, String>, Option<u8>);

/// Grades each of `dirs`, `jobs` at a time, each by a run of its own whose JSON report and output go
/// to `scratch`; returns, in the order of `dirs`, each report (or why there is none) and the run's
/// exit code.
fn grade_all(
    args: &RunArgs,
    dirs: &[PathBuf],
    jobs: usize,
    scratch: &Path,
    runs: &Runs,
) -> Vec<Graded> {
    let next = AtomicUsize::new(0);
    let out: Vec<Mutex<Option<Graded>>> = dirs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(dir) = dirs.get(i) else { break };
                let r = if runs.stopped.load(Ordering::SeqCst) {
                    (Err("interrupted before its run started".into()), None)
                } else {
                    grade_one(args, dir, &scratch.join(i.to_string()), runs)
                };
                if let Ok(mut slot) = out[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    out.into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| (Err("its grading thread stopped".into()), None))
        })
        .collect()
}

/// Runs the labs on one submission `dir` (its report and output under `work`); returns its report, or
/// why there is none (the run could not start, was stopped, or its labs were not valid for it), and
/// the run's exit code.
fn grade_one(args: &RunArgs, dir: &Path, work: &Path, runs: &Runs) -> Graded {
    let fail = |why: String| (Err(why), None);
    if let Err(e) = std::fs::create_dir_all(work) {
        return fail(format!("cannot create {}: {e}", work.display()));
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(format!("cannot find this program to run it: {e}")),
    };
    let report = work.join("report.json");
    let log = work.join("output.txt");
    let log_file = match std::fs::File::create(&log) {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot create {}: {e}", log.display())),
    };
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .args(&args.paths)
        .arg("--var")
        .arg(format!("{VARIABLE}={}", dir.display()));
    for (k, v) in args.vars.vars.iter().filter(|(k, _)| k != VARIABLE) {
        cmd.arg("--var").arg(format!("{k}={v}"));
    }
    for f in &args.selection.filter {
        cmd.arg("--filter").arg(f);
    }
    if let Some(b) = &args.selection.battery {
        cmd.arg("--battery").arg(b);
    }
    if let Some(j) = args.jobs {
        cmd.arg("--jobs").arg(j.to_string());
    }
    if args.isolate {
        cmd.arg("--isolate");
    }
    if args.no_cache {
        cmd.arg("--no-cache");
    }
    cmd.arg("--color")
        .arg("never")
        .arg("--report-json")
        .arg(&report)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    match log_file.try_clone() {
        Ok(f) => cmd.stderr(f),
        Err(_) => cmd.stderr(Stdio::null()),
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start its run: {e}")),
    };
    let pid = child.id();
    if let Ok(mut pids) = runs.pids.lock() {
        pids.push(pid);
    }
    // A signal between the check and the spawn: this run stops too.
    if runs.stopped.load(Ordering::SeqCst) {
        runs.stop();
    }
    let waited = child.wait();
    if let Ok(mut pids) = runs.pids.lock() {
        pids.retain(|p| *p != pid);
    }
    let status = match waited {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot wait for its run: {e}")),
    };
    let code = status.code().and_then(|c| u8::try_from(c).ok());
    let last_line = || {
        std::fs::read_to_string(&log)
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_string)
            })
            .map(|l| format!(": {l}"))
            .unwrap_or_default()
    };
    if code.is_none() || code == Some(exit::INPUT) || code == Some(exit::INTERRUPTED) {
        let how = code.map_or_else(
            || "was stopped by a signal".to_string(),
            |c| format!("exited with code {c}"),
        );
        return (Err(format!("its run {how}{}", last_line())), code);
    }
    let parsed = std::fs::read_to_string(&report)
        .map_err(|e| format!("its run wrote no report ({e}){}", last_line()))
        .and_then(|t| {
            SubmissionReport::parse(&t).map_err(|e| format!("its report cannot be read: {e}"))
        });
    (parsed, code)
}
