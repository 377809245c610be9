//! `mtls-lab run`: load and select labs, write a skeleton report, run (in parallel, or one lab after
//! another with `--fail-fast`) until done or interrupted, print the console report, write the reports.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mtls_lab::lab::{discover, select, Lab};
use mtls_lab::pki;
use mtls_lab::report::{self, Destination, Format};
use mtls_lab::run::{self, LabResult, Status};
use tokio::sync::watch;

use super::args::{exit, Reports, RunArgs};
use super::load::load_each;
use super::pki::persist_into;
use super::serve::key_cache;
use super::term::{self, Painter};

/// Runs the labs of `args`; returns the exit code: OK, FAILED, INPUT (a lab file was invalid — the
/// valid ones still run, and every report lists each invalid one as a lab that could not run — or
/// nothing could run), RUN (something could not run, or a report could not be written) or INTERRUPTED.
pub fn run(args: RunArgs) -> u8 {
    if args.submissions.is_some() {
        return super::class::run(args);
    }
    let painter = Painter::new(args.color);
    let reports = wanted(&args.reports);
    // Report paths are checked before anything is loaded or run: a lab file is never overwritten, and
    // nothing is written through a link or onto a device.
    let lab_files = discover::lab_files(&args.paths).unwrap_or_default();
    let inputs: Vec<PathBuf> = args
        .paths
        .iter()
        .cloned()
        .chain(lab_files.clone())
        .collect();
    if !reports_ok(&reports, &inputs, painter) {
        return exit::INPUT;
    }
    if let Some(dir) = &args.pki {
        if let Err(code) = super::pki::check_dir("--pki", dir) {
            return code;
        }
        let asked: Vec<(Format, &Path)> = reports.iter().map(|(f, p)| (*f, p.as_path())).collect();
        let problems = report::check_outside(&asked, dir);
        for p in &problems {
            eprintln!(
                "{}",
                painter.error(&report::safe::clean(&format!("error: {p}")))
            );
        }
        if !problems.is_empty() {
            eprintln!("nothing was run");
            return exit::INPUT;
        }
    }
    // The console report goes to stderr when a report goes to stdout.
    let to_stdout = reports
        .iter()
        .any(|(_, p)| Destination::of(p) == Destination::Stdout);
    // A private network namespace is a thread's: it is entered while this is the only thread.
    if args.isolate {
        let isolation = mtls_lab::peer::netns::enter();
        eprintln!("isolation: {isolation}");
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
    // Signals are watched from here on: one during loading (a large lab can take a while) leaves
    // reports that say nothing ran, and exits INTERRUPTED.
    let loading = Arc::new(AtomicBool::new(true));
    let stop_loading = {
        let reports = reports.clone();
        let files = if inputs.len() > args.paths.len() {
            inputs[args.paths.len()..].to_vec()
        } else {
            args.paths.clone()
        };
        let show_hidden = args.show_hidden;
        move || {
            let not_run: Vec<LabResult> = files
                .into_iter()
                .map(|f| {
                    LabResult::not_loaded(
                        f,
                        "not run: interrupted while the labs were loading".into(),
                    )
                })
                .collect();
            write_reports(&reports, &not_run, show_hidden, true);
            eprintln!("interrupted while loading the labs; nothing was run");
        }
    };
    let stopped = watch_signals(&runtime, loading.clone(), stop_loading);
    let now = time::OffsetDateTime::now_utc();
    let loaded = load_each(&args.paths, now, painter, &args.vars.map());
    loading.store(false, Ordering::SeqCst);
    let (labs, invalid) = match loaded {
        Ok((labs, invalid)) if !labs.is_empty() => (labs, invalid),
        Ok((_, failed)) | Err(failed) => {
            // Reports say why nothing ran, so a grading platform never finds its file missing.
            write_reports(&reports, &failed, args.show_hidden, true);
            if !failed.is_empty() {
                eprintln!("{} lab file(s) invalid; nothing was run", failed.len());
            }
            return exit::INPUT;
        }
    };
    if !invalid.is_empty() {
        eprintln!(
            "{} lab file(s) invalid: the other labs run, and every report lists each invalid one as a lab that could not run",
            invalid.len()
        );
    }
    // The files labs read (`from:`) are inputs too.
    let read: Vec<PathBuf> = inputs
        .into_iter()
        .chain(labs.iter().flat_map(source_files))
        .collect();
    if !reports_ok(&reports, &read, painter) {
        return exit::INPUT;
    }
    let labs = match super::battery::only(labs, args.selection.battery.as_deref(), now) {
        Some(labs) => labs,
        None => return exit::INPUT,
    };
    let labs = select::selected(labs, &args.selection.filter, args.selection.partition);
    if labs.is_empty() {
        eprintln!("error: no case matches the filter and partition given");
        if !invalid.is_empty() {
            write_reports(&reports, &invalid, args.show_hidden, true);
        }
        return exit::INPUT;
    }
    // A skeleton first: if the run is killed (a platform's timeout), the reports already list every item
    // as not run. Standard output cannot be replaced, so a report there is written once, at the end (or
    // as the skeleton when interrupted).
    let skeleton = with_invalid(skeleton(&labs), &invalid, &lab_files);
    write_reports(&reports, &skeleton, args.show_hidden, false);
    let total = labs.len();
    let labs = match pki_sources(labs, args.pki.as_deref(), args.no_cache, now) {
        Ok(labs) => labs,
        Err(code) => {
            write_stdout_report(&reports, &skeleton, args.show_hidden);
            return code;
        }
    };
    let results = match execute(runtime, stopped, labs, args.jobs, args.fail_fast) {
        Ok(results) => with_invalid(results, &invalid, &lab_files),
        Err(code) => {
            if code == exit::INTERRUPTED {
                write_stdout_report(&reports, &skeleton, args.show_hidden);
            }
            return code;
        }
    };
    let shown = report::view(&results, args.show_hidden);
    let console = report::console_traced(&shown, args.explain, args.trace, &painter);
    if to_stdout {
        eprint!("{console}");
    } else {
        term::emit(&console);
    }
    if results.len() < total {
        eprintln!(
            "--fail-fast: stopped after the first failing lab; {} lab(s) not run",
            total - results.len()
        );
    }
    let code = if invalid.is_empty() {
        exit_code(&results)
    } else {
        exit::INPUT
    };
    if write_reports(&reports, &results, args.show_hidden, true) {
        code
    } else {
        exit::RUN
    }
}

/// The reports asked for: each format with its path as given (`-` for standard output).
fn wanted(reports: &Reports) -> Vec<(Format, PathBuf)> {
    [
        (&reports.report_json, Format::Json),
        (&reports.report_junit, Format::Junit),
        (&reports.report_tap, Format::Tap),
        (&reports.report_gradescope, Format::Gradescope),
        (&reports.report_classroom, Format::Classroom),
        (&reports.report_html, Format::Html),
    ]
    .into_iter()
    .filter_map(|(p, f)| p.clone().map(|p| (f, p)))
    .collect()
}

/// Checks every report path against `inputs` (see [`report::check_destinations`]); prints each problem.
fn reports_ok(reports: &[(Format, PathBuf)], inputs: &[PathBuf], painter: Painter) -> bool {
    let asked: Vec<(Format, &Path)> = reports.iter().map(|(f, p)| (*f, p.as_path())).collect();
    let problems = report::check_destinations(&asked, inputs);
    for p in &problems {
        eprintln!(
            "{}",
            painter.error(&report::safe::clean(&format!("error: {p}")))
        );
    }
    if !problems.is_empty() {
        eprintln!("nothing was run");
    }
    problems.is_empty()
}

/// The files a lab reads its certificates and keys from (`from:`).
fn source_files(lab: &Lab) -> Vec<PathBuf> {
    let sources = lab
        .authorities
        .iter()
        .filter_map(|a| a.from.as_ref())
        .chain(lab.certificates.iter().filter_map(|c| c.from.as_ref()));
    sources
        .flat_map(|s| std::iter::once(s.cert.clone()).chain(s.key.iter().map(|(k, _)| k.clone())))
        .collect()
}

/// `results` with the invalid lab files' results, all in the order of `files` (as discovery found
/// them; the labs of one file stay together, in their order).
fn with_invalid(
    results: Vec<LabResult>,
    invalid: &[LabResult],
    files: &[PathBuf],
) -> Vec<LabResult> {
    if invalid.is_empty() {
        return results;
    }
    let mut all: Vec<LabResult> = results.into_iter().chain(invalid.iter().cloned()).collect();
    all.sort_by_key(|r| files.iter().position(|f| *f == r.file));
    all
}

/// Where each lab's PKI comes from: with `--pki DIR`, built now in DIR (DIR/LAB for each of several
/// labs), keeping what has not changed (each note on stderr); else keys from the key cache unless
/// `no_cache`. Errors (INPUT, RUN) after printing why, when a PKI directory cannot be used; nothing has
/// run then.
fn pki_sources(
    labs: Vec<Lab>,
    dir: Option<&Path>,
    no_cache: bool,
    now: time::OffsetDateTime,
) -> Result<Vec<(Lab, pki::Source)>, u8> {
    let Some(dir) = dir else {
        let source = match key_cache(no_cache) {
            Some(c) => pki::Source::Cache(c),
            None => pki::Source::Fresh,
        };
        return Ok(labs.into_iter().map(|l| (l, source.clone())).collect());
    };
    let several = labs.len() > 1;
    let dirs: Vec<PathBuf> = labs.iter().map(|l| pki::dir_for(dir, l, several)).collect();
    for (i, d) in dirs.iter().enumerate() {
        if let Some(j) = dirs[..i].iter().position(|other| other == d) {
            eprintln!(
                "{}",
                report::safe::clean(&format!(
                    "error: --pki: labs `{}` ({}) and `{}` ({}) would share the PKI directory {}; run them separately",
                    labs[j].name,
                    labs[j].file.display(),
                    labs[i].name,
                    labs[i].file.display(),
                    d.display()
                ))
            );
            eprintln!("nothing was run");
            return Err(exit::INPUT);
        }
    }
    let mut out = Vec::new();
    for (lab, d) in labs.into_iter().zip(dirs) {
        let (built, _) = persist_into(&lab, &d, true, None, now, None).inspect_err(|_| {
            eprintln!("nothing was run");
        })?;
        out.push((lab, pki::Source::Built(Arc::new(built))));
    }
    Ok(out)
}

/// Every lab as not run, for the reports written before the run starts.
fn skeleton(labs: &[Lab]) -> Vec<LabResult> {
    labs.iter()
        .map(|l| {
            run::errored(
                l,
                "not run: the run stopped before this ran".into(),
                Instant::now(),
            )
        })
        .collect()
}

/// Runs `labs` on `runtime`, `jobs` labs and `jobs` cases at a time (default: the number of cores), or one after another
/// up to the first lab with a case not passed with `fail_fast`. Errors with INTERRUPTED when a signal
/// stopped the run (`stopped` turned true), after stopping every child process group.
fn execute(
    runtime: tokio::runtime::Runtime,
    mut stopped: watch::Receiver<bool>,
    labs: Vec<(Lab, pki::Source)>,
    jobs: Option<usize>,
    fail_fast: bool,
) -> Result<Vec<LabResult>, u8> {
    let jobs = jobs.unwrap_or_else(run::default_jobs);
    let total = labs.len();
    let work = async move {
        if fail_fast {
            run_until_failure(labs, jobs).await
        } else {
            run::run_all_from(labs, jobs, term::progress(total)).await
        }
    };
    let finished = runtime.block_on(async {
        let finished = tokio::select! {
            r = work => Some(r),
            _ = stopped.wait_for(|s| *s) => None,
        };
        // Whatever a lab left behind that escaped its scope was re-parented here (the subreaper).
        if finished.is_some() {
            mtls_lab::peer::process::sweep_descendants().await;
        }
        finished
    });
    finished.ok_or_else(|| {
        let n = mtls_lab::peer::process::kill_all();
        eprintln!(
            "interrupted: stopped {n} child process group(s); the reports list what did not run"
        );
        runtime.shutdown_timeout(Duration::from_secs(3));
        exit::INTERRUPTED
    })
}

/// Runs `labs` one after another (up to `jobs` cases at a time), stopping after the first with a case
/// that did not pass.
async fn run_until_failure(labs: Vec<(Lab, pki::Source)>, jobs: usize) -> Vec<LabResult> {
    let mut out = Vec::new();
    for (lab, source) in labs {
        let r = run::run_lab_from(&lab, source, jobs).await;
        let stop = r.cases.iter().any(|c| c.status != Status::Passed);
        out.push(r);
        if stop {
            break;
        }
    }
    out
}

/// Watches Ctrl-C, SIGTERM and SIGHUP from now on (the handlers are installed before this returns):
/// the receiver turns true on the first. If that comes while `loading`, `stop_loading` runs and the
/// process exits INTERRUPTED (no child process runs yet). A signal that cannot be watched is ignored.
pub(super) fn watch_signals(
    runtime: &tokio::runtime::Runtime,
    loading: Arc<AtomicBool>,
    stop_loading: impl FnOnce() + Send + 'static,
) -> watch::Receiver<bool> {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    let (tx, rx) = watch::channel(false);
    let signals = {
        let _inside = runtime.enter();
        [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ]
        .map(|k| signal(k).ok())
    };
    async fn recv(s: Option<Signal>) {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    runtime.spawn(async move {
        let [int, term, hup] = signals;
        tokio::select! {
            _ = recv(int) => {}
            _ = recv(term) => {}
            _ = recv(hup) => {}
        }
        let _ = tx.send(true);
        if loading.load(Ordering::SeqCst) {
            stop_loading();
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    });
    rx
}

/// RUN when anything could not run, FAILED when a check or case failed, else OK.
fn exit_code(results: &[LabResult]) -> u8 {
    if report::any_error(results) {
        exit::RUN
    } else if report::totals(results).failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// Writes every report asked for, JSON with every detail, the others with hidden items as name and
/// status only unless `show_hidden`; a report to standard output only when `stdout` (it cannot be
/// replaced later). False if one could not be written (each failure is printed).
fn write_reports(
    reports: &[(Format, PathBuf)],
    results: &[LabResult],
    show_hidden: bool,
    stdout: bool,
) -> bool {
    let mut ok = true;
    for (format, path) in reports {
        match Destination::of(path) {
            Destination::Stdout if stdout => term::emit(&format.render(results, show_hidden)),
            Destination::Stdout => {}
            Destination::File(path) => {
                if let Err(e) = report::write_atomic(&path, &format.render(results, show_hidden)) {
                    eprintln!(
                        "error: cannot write the {} report {}: {e}",
                        format.name(),
                        path.display()
                    );
                    ok = false;
                }
            }
        }
    }
    ok
}

/// Writes the report that goes to standard output, if any (the skeleton, when the run was interrupted).
fn write_stdout_report(reports: &[(Format, PathBuf)], results: &[LabResult], show_hidden: bool) {
    for (format, path) in reports {
        if Destination::of(path) == Destination::Stdout {
            term::emit(&format.render(results, show_hidden));
        }
    }
}
