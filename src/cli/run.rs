//! `mtls-lab run`: load and select labs, write a skeleton report, run (in parallel, or one lab after
//! another with `--fail-fast`) until done or interrupted, print the console report, write the reports.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mtls_lab::lab::{select, Lab};
use mtls_lab::report::{self, Format};
use mtls_lab::run::{self, LabResult, Status};

use super::args::{exit, Reports, RunArgs};
use super::load::load_or_errors;
use super::term::{self, Painter};

/// Runs the labs of `args`; returns the exit code: OK, FAILED, INPUT (nothing run), RUN (something
/// could not run, or a report could not be written) or INTERRUPTED.
pub fn run(args: RunArgs) -> u8 {
    let painter = Painter::new(args.color);
    let now = time::OffsetDateTime::now_utc();
    let labs = match load_or_errors(&args.paths, now, painter, &args.vars.map()) {
        Ok(labs) => labs,
        Err(failed) => {
            // Reports say why nothing ran, so a grading platform never finds its file missing.
            write_reports(&args.reports, &failed, args.show_hidden);
            return exit::INPUT;
        }
    };
    let labs = select::selected(labs, &args.selection.filter, args.selection.partition);
    if labs.is_empty() {
        eprintln!("error: no case matches the filter and partition given");
        return exit::INPUT;
    }
    // A skeleton first: if the run is killed (a platform's timeout), the reports already list every item as not run.
    write_reports(&args.reports, &skeleton(&labs), args.show_hidden);
    let total = labs.len();
    let results = match execute(labs, args.jobs, args.fail_fast) {
        Ok(results) => results,
        Err(code) => return code,
    };
    let shown = report::view(&results, args.show_hidden);
    term::emit(&report::console_with(&shown, args.explain, &painter));
    if results.len() < total {
        eprintln!(
            "--fail-fast: stopped after the first failing lab; {} lab(s) not run",
            total - results.len()
        );
    }
    let code = exit_code(&results);
    if write_reports(&args.reports, &results, args.show_hidden) {
        code
    } else {
        exit::RUN
    }
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

/// Runs `labs` on a new runtime, `jobs` at a time (default: the number of cores), or one after another
/// up to the first lab with a case not passed with `fail_fast`. Errors with the exit code when the
/// runtime cannot start (RUN) or a signal stopped the run (INTERRUPTED, after stopping every child
/// process group).
fn execute(labs: Vec<Lab>, jobs: Option<usize>, fail_fast: bool) -> Result<Vec<LabResult>, u8> {
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            exit::RUN
        })?;
    let total = labs.len();
    let work = async move {
        if fail_fast {
            run_until_failure(&labs).await
        } else {
            run::run_all_with_progress(labs, jobs, term::progress(total)).await
        }
    };
    let finished = runtime.block_on(async {
        tokio::select! {
            r = work => Some(r),
            _ = interrupted() => None,
        }
    });
    finished.ok_or_else(|| {
        let n = mtls_lab::peer::process::kill_all();
        eprintln!("interrupted: stopped {n} child process group(s); no report written");
        runtime.shutdown_timeout(Duration::from_secs(3));
        exit::INTERRUPTED
    })
}

/// Runs `labs` one after another, stopping after the first with a case that did not pass.
async fn run_until_failure(labs: &[Lab]) -> Vec<LabResult> {
    let mut out = Vec::new();
    for lab in labs {
        let r = run::run_lab(lab).await;
        let stop = r.cases.iter().any(|c| c.status != Status::Passed);
        out.push(r);
        if stop {
            break;
        }
    }
    out
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP; never, if no signal can be watched.
async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let hup = signal(SignalKind::hangup());
    match (term, hup) {
        (Ok(mut term), Ok(mut hup)) => {
            tokio::select! {
                r = tokio::signal::ctrl_c() => {
                    if r.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        _ => {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
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
/// status only unless `show_hidden`; false if one could not be written (each failure is printed).
fn write_reports(reports: &Reports, results: &[LabResult], show_hidden: bool) -> bool {
    let wanted: [(&Option<PathBuf>, Format); 5] = [
        (&reports.report_json, Format::Json),
        (&reports.report_junit, Format::Junit),
        (&reports.report_tap, Format::Tap),
        (&reports.report_gradescope, Format::Gradescope),
        (&reports.report_classroom, Format::Classroom),
    ];
    let mut ok = true;
    for (path, format) in wanted {
        let Some(path) = path else { continue };
        if let Err(e) = report::write_atomic(path, &format.render(results, show_hidden)) {
            eprintln!(
                "error: cannot write the {} report {}: {e}",
                format.name(),
                path.display()
            );
            ok = false;
        }
    }
    ok
}
