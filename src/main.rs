//! The `mtls-lab` command line: argument parsing and exit codes only; the work is in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use mtls_lab::lab::lint;
use mtls_lab::lab::select::{self, Filter, Partition};
use mtls_lab::{diag, lab, report, run};

/// Exit codes, documented in the README.
mod exit {
    /// Every case met its expectation.
    pub const OK: u8 = 0;
    /// Some case did not.
    pub const FAILED: u8 = 1;
    /// Invalid input: nothing was run.
    pub const INPUT: u8 = 2;
    /// The run itself could not proceed (a server could not start, a report could not be written, ...).
    pub const RUN: u8 = 3;
    /// Interrupted by Ctrl-C (SIGINT): child processes were stopped.
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Parser)]
#[command(
    name = "mtls-lab",
    version,
    about = "Run declarative mutual-TLS labs with real rustls handshakes"
)]
struct Cli {
    /// More detail on stderr (-v: per case, -vv: handshakes); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run labs: lab files, or directories searched for *.yaml.
    Run {
        /// Lab files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        selection: Selection,
        #[command(flatten)]
        reports: Reports,
        /// Labs run at the same time (default: the number of cores; 1 runs them one after another).
        #[arg(long, short = 'j', value_name = "N")]
        jobs: Option<usize>,
        /// Stop after the first lab with a failed case; the labs not run are reported as not run.
        #[arg(long)]
        fail_fast: bool,
        /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
        /// Explain every rejection (what it means and the usual fix), not only failed cases.
        #[arg(long)]
        explain: bool,
        #[command(flatten)]
        vars: VarArgs,
        /// Show the details of hidden checks and cases on the console and in every report (the JSON report always has them).
        #[arg(long)]
        show_hidden: bool,
    },
    /// Validate labs (syntax, schema, references, semantics) without generating keys or opening sockets.
    Check {
        /// Lab files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Treat warnings as errors (exit 2).
        #[arg(long)]
        deny_warnings: bool,
        #[command(flatten)]
        vars: VarArgs,
        /// Colour: auto, always, never.
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
    },
    /// List the cases that `run` would run, after filtering and partitioning.
    List {
        /// Lab files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        selection: Selection,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Write a starter lab NAME.yaml (default `my-lab`) that passes as written.
    Init {
        /// The lab's name; the file is NAME.yaml in the current directory.
        #[arg(default_value = "my-lab")]
        name: String,
    },
    /// Print the JSON Schema of the lab format.
    Schema {
        /// The schema of an included fragment (`_*.yaml`) instead.
        #[arg(long)]
        fragment: bool,
    },
    /// Write a lab's certificates, keys and CRLs as PEM files: DIR/NAME/NAME.crt, .key, .chain.pem, .crl.
    Pki {
        /// The lab file.
        lab: PathBuf,
        /// The directory to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Write into a non-empty directory, overwriting files of the same name.
        #[arg(long)]
        force: bool,
        /// Also write NAME.p12 (PKCS#12: the key, the certificate, its intermediates and root) for browsers and Java tools.
        #[arg(long)]
        p12: bool,
        /// The password of the .p12 files (default `mtls-lab`); implies --p12.
        #[arg(long, value_name = "PASSWORD")]
        p12_password: Option<String>,
        #[command(flatten)]
        vars: VarArgs,
    },
}

/// `${NAME}` values for the paths of `from` in lab files.
#[derive(clap::Args)]
struct VarArgs {
    /// Set the path variable NAME (used as `${NAME}` in `from` paths), e.g. --var submission=DIR; repeatable. A relative VALUE is relative to the current directory.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,
}

impl VarArgs {
    fn map(&self) -> lab::Vars {
        self.vars.iter().cloned().collect()
    }
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{name}` is not a variable name (letters, digits, `_`)"
        ));
    }
    if value.is_empty() {
        return Err(format!("`{name}` has an empty value"));
    }
    let value = std::path::absolute(value)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| value.to_string());
    Ok((name.to_string(), value))
}

/// Report files; each is written even when the run errors, and replaced atomically.
#[derive(clap::Args)]
struct Reports {
    /// Write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Write a JUnit XML report to FILE (one testsuite per lab, one testcase per case).
    #[arg(long, value_name = "FILE")]
    report_junit: Option<PathBuf>,
    /// Write a TAP version 14 report to FILE.
    #[arg(long, value_name = "FILE")]
    report_tap: Option<PathBuf>,
    /// Write Gradescope's results.json to FILE (tests with score, max_score, status, output; the total score).
    #[arg(long, value_name = "FILE")]
    report_gradescope: Option<PathBuf>,
    /// Write a GitHub Classroom grader result to FILE (version, status, max_score, tests).
    #[arg(long, value_name = "FILE")]
    report_classroom: Option<PathBuf>,
}

impl Reports {
    /// Writes every requested report; false if one could not be written. Every format but JSON shows hidden
    /// checks and cases as name and pass/fail only, unless `show_hidden`.
    fn write(&self, results: &[run::LabResult], show_hidden: bool) -> bool {
        let student = if show_hidden {
            report::instructor_view(results)
        } else {
            report::student_view(results)
        };
        type Render = fn(&[run::LabResult]) -> String;
        let wanted: [(&Option<PathBuf>, &str, Render, &[run::LabResult]); 5] = [
            (&self.report_json, "JSON", report::json, results),
            (&self.report_junit, "JUnit", report::junit, &student),
            (&self.report_tap, "TAP", report::tap, &student),
            (
                &self.report_gradescope,
                "Gradescope",
                report::gradescope,
                &student,
            ),
            (
                &self.report_classroom,
                "Classroom",
                report::classroom,
                &student,
            ),
        ];
        let mut ok = true;
        for (path, kind, render, results) in wanted {
            if let Some(path) = path {
                if let Err(e) = report::write_atomic(path, &render(results)) {
                    eprintln!(
                        "error: cannot write the {kind} report {}: {e}",
                        path.display()
                    );
                    ok = false;
                }
            }
        }
        ok
    }
}

#[derive(clap::Args)]
struct Selection {
    /// Run only cases whose name (or lab name) contains TEXT, or matches a glob with * and ?, or (tag:NAME) that carry a tag; repeatable (any may match).
    #[arg(long, value_name = "TEXT|GLOB|tag:NAME")]
    filter: Vec<String>,
    /// Run only the M-th of N disjoint slices of the selected cases, e.g. slice:1/4 (for CI sharding).
    #[arg(long, value_name = "slice:M/N")]
    partition: Option<Partition>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ListFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    ExitCode::from(match cli.command {
        Command::Schema { fragment } => {
            emit(&if fragment {
                mtls_lab::fragment_schema_json()
            } else {
                mtls_lab::schema_json()
            });
            exit::OK
        }
        Command::Run {
            paths,
            selection,
            reports,
            jobs,
            fail_fast,
            color,
            explain,
            vars,
            show_hidden,
        } => run_command(
            &paths,
            &selection,
            &reports,
            RunOptions {
                jobs,
                fail_fast,
                color: color.enabled(),
                explain,
                vars: vars.map(),
                show_hidden,
            },
        ),
        Command::Check {
            paths,
            deny_warnings,
            color,
            vars,
        } => check_command(&paths, deny_warnings, color.enabled(), &vars.map()),
        Command::List {
            paths,
            selection,
            format,
            vars,
        } => list_command(&paths, &selection, format, &vars.map()),
        Command::Init { name } => init_command(&name),
        Command::Pki {
            lab,
            out,
            force,
            p12,
            p12_password,
            vars,
        } => {
            let password = match (p12, p12_password) {
                (_, Some(p)) => Some(p),
                (true, None) => Some(mtls_lab::pki::export::RUN_P12_PASSWORD.to_string()),
                (false, None) => None,
            };
            pki_command(&lab, &out, force, password.as_deref(), &vars.map())
        }
    })
}

fn pki_command(
    path: &Path,
    out: &Path,
    force: bool,
    p12_password: Option<&str>,
    vars: &lab::Vars,
) -> u8 {
    let lab = match lab::load_all_with(path, time::OffsetDateTime::now_utc(), vars) {
        Ok(mut l) if l.len() == 1 => l.remove(0),
        Ok(_) => {
            eprintln!(
                "error: {}: this lab declares a matrix; export one variant at a time",
                path.display()
            );
            return exit::INPUT;
        }
        Err(e) => {
            eprint!("{}", diag::render_all(&e));
            return exit::INPUT;
        }
    };
    let pki = match mtls_lab::pki::build(&lab) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::RUN;
        }
    };
    match mtls_lab::pki::export::export_with(&lab, &pki, out, force, p12_password) {
        Ok(files) => {
            println!("wrote {} files to {}", files.len(), out.display());
            exit::OK
        }
        Err(e @ mtls_lab::pki::export::ExportError::NotEmpty(_)) => {
            eprintln!("error: {e}");
            exit::INPUT
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::RUN
        }
    }
}

/// Writes to stdout; a closed pipe (`mtls-lab list | head`) ends output quietly instead of panicking.
fn emit(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "mtls_lab=info",
        _ => "mtls_lab=debug,rustls=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Expands directories into their `*.yaml` / `*.yml` files, sorted, recursively, skipping `_*.yaml` fragments.
fn lab_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let before = out.len();
            collect_dir(p, &mut out)
                .map_err(|e| format!("{}: cannot read directory: {e}", p.display()))?;
            if out.len() == before {
                return Err(format!(
                    "{}: no *.yaml lab files in this directory",
                    p.display()
                ));
            }
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_dir(&p, out)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
            && !p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('_'))
        {
            // `_name.yaml` files are shared fragments for `include`, not labs.
            out.push(p);
        }
    }
    Ok(())
}

/// Loads every lab; on any invalid one prints every diagnostic and returns `None` (exit 2).
fn load_all(
    paths: &[PathBuf],
    now: time::OffsetDateTime,
    color: bool,
    vars: &lab::Vars,
) -> Option<Vec<lab::Lab>> {
    load_or_errors(paths, now, color, vars).ok()
}

/// Loads every lab; on any invalid one prints every diagnostic and returns, per bad file, a lab result
/// that says why, so that reports can still be written.
fn load_or_errors(
    paths: &[PathBuf],
    now: time::OffsetDateTime,
    color: bool,
    vars: &lab::Vars,
) -> Result<Vec<lab::Lab>, Vec<run::LabResult>> {
    let failed = |file: PathBuf, why: String| run::LabResult {
        lab: file
            .file_stem()
            .map_or("?".into(), |s| s.to_string_lossy().into_owned()),
        file,
        checks: Vec::new(),
        cases: Vec::new(),
        graded: false,
        error: Some(why),
        duration_ms: 0,
    };
    let files = match lab_files(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}", paint(color, RED, &format!("error: {e}")));
            let file = paths.first().cloned().unwrap_or_default();
            return Err(vec![failed(file, e)]);
        }
    };
    let mut labs = Vec::new();
    let mut bad = Vec::new();
    for f in &files {
        match lab::load_all_with(f, now, vars) {
            Ok(l) => labs.extend(l),
            Err(errors) => {
                for e in &errors {
                    eprint!("{}", paint_diagnostic(color, &diag::render(e)));
                }
                bad.push(failed(f.clone(), format!("invalid lab file: {errors}")));
            }
        }
    }
    if !bad.is_empty() {
        eprintln!("{} lab file(s) invalid; nothing was run", bad.len());
        return Err(bad);
    }
    Ok(labs)
}

fn selected(labs: Vec<lab::Lab>, selection: &Selection) -> Vec<lab::Lab> {
    let filters: Vec<Filter> = selection.filter.iter().map(|f| Filter::parse(f)).collect();
    select::select(labs, &filters, selection.partition)
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("{code}{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Colours the status word of each result line and the label of each diagnostic.
fn paint_lines(color: bool, text: &str) -> String {
    if !color {
        return text.to_string();
    }
    text.lines()
        .map(|l| {
            for (word, code) in [
                ("PASS ", GREEN),
                ("FAIL ", RED),
                ("ERROR", RED),
                ("SKIP ", YELLOW),
            ] {
                if let Some(rest) = l.strip_prefix(word) {
                    return format!("{}{rest}\n", paint(true, code, word));
                }
            }
            format!("{l}\n")
        })
        .collect()
}

fn paint_diagnostic(color: bool, text: &str) -> String {
    if !color {
        return text.to_string();
    }
    text.replacen("error:", &paint(true, RED, "error:"), 1)
        .replacen("warning:", &paint(true, YELLOW, "warning:"), 1)
}

/// How `run` runs and prints.
struct RunOptions {
    jobs: Option<usize>,
    fail_fast: bool,
    color: bool,
    explain: bool,
    vars: lab::Vars,
    show_hidden: bool,
}

/// A one-line progress display on stderr, when stderr is a terminal: `[3/26 labs] seed-mtls`.
fn progress_display(total: usize) -> run::Progress {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return std::sync::Arc::new(|_: &run::LabResult| {});
    }
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::sync::Arc::new(move |r: &run::LabResult| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let end = if n == total { "\r\x1b[2K" } else { "" };
        eprint!("\r\x1b[2K[{n}/{total} labs] {}{end}", r.lab);
    })
}

fn run_command(
    paths: &[PathBuf],
    selection: &Selection,
    reports: &Reports,
    options: RunOptions,
) -> u8 {
    let RunOptions {
        jobs,
        fail_fast,
        color,
        explain,
        vars,
        show_hidden,
    } = options;
    let now = time::OffsetDateTime::now_utc();
    let labs = match load_or_errors(paths, now, color, &vars) {
        Ok(labs) => labs,
        Err(failed) => {
            // Reports say why nothing ran, so a grading platform never finds its file missing.
            reports.write(&failed, show_hidden);
            return exit::INPUT;
        }
    };
    let labs = selected(labs, selection);
    if labs.is_empty() {
        eprintln!("error: no case matches the filter and partition given");
        return exit::INPUT;
    }
    // A skeleton first: if the run is killed (a platform's timeout), the reports already list every item as not run.
    let skeleton: Vec<run::LabResult> = labs
        .iter()
        .map(|l| {
            run::errored(
                l,
                "not run: the run stopped before this ran".into(),
                std::time::Instant::now(),
            )
        })
        .collect();
    reports.write(&skeleton, show_hidden);
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
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
    let total = labs.len();
    let work = async {
        if fail_fast {
            let mut out = Vec::new();
            for lab in &labs {
                let r = run::run_lab(lab).await;
                let stop = r.cases.iter().any(|c| c.status != run::Status::Passed);
                out.push(r);
                if stop {
                    break;
                }
            }
            out
        } else {
            run::run_all_with_progress(labs, jobs, progress_display(total)).await
        }
    };
    // Ctrl-C (or SIGTERM, SIGHUP): stop every child process group (server and client commands), then exit 130.
    let interrupted = async {
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
    };
    let results = match runtime.block_on(async {
        tokio::select! {
            r = work => Some(r),
            _ = interrupted => None,
        }
    }) {
        Some(r) => r,
        None => {
            let n = mtls_lab::peer::process::kill_all();
            eprintln!("interrupted: stopped {n} child process group(s); no report written");
            runtime.shutdown_timeout(std::time::Duration::from_secs(3));
            return exit::INTERRUPTED;
        }
    };
    let shown = if show_hidden {
        report::instructor_view(&results)
    } else {
        report::student_view(&results)
    };
    emit(&paint_lines(color, &report::console_with(&shown, explain)));
    if results.len() < total {
        eprintln!(
            "--fail-fast: stopped after the first failing lab; {} lab(s) not run",
            total - results.len()
        );
    }
    let mut code = {
        let t = report::totals(&results);
        if t.errors > 0 || results.iter().any(|r| r.error.is_some()) {
            exit::RUN
        } else if t.failed > 0 {
            exit::FAILED
        } else {
            exit::OK
        }
    };
    if !reports.write(&results, show_hidden) {
        code = exit::RUN;
    }
    code
}

fn check_command(paths: &[PathBuf], deny_warnings: bool, color: bool, vars: &lab::Vars) -> u8 {
    let now = time::OffsetDateTime::now_utc();
    let Some(labs) = load_all(paths, now, color, vars) else {
        return exit::INPUT;
    };
    let mut warnings = 0;
    for l in &labs {
        let source = std::fs::read_to_string(&l.file).ok();
        for w in lint::warnings(l, now) {
            warnings += 1;
            let col = source
                .as_deref()
                .and_then(|s| s.lines().nth(w.line.saturating_sub(1)))
                .and_then(|t| t.find(|c: char| c.is_alphanumeric()))
                .map_or(1, |i| i + 1);
            let d = diag::Diagnostic {
                severity: diag::Severity::Warning,
                file: &l.file,
                pos: Some(mtls_lab::spec::yaml::Pos { line: w.line, col }),
                message: w.message.clone(),
                token: None,
                help: w.help.as_deref(),
                source: source.as_deref(),
            };
            eprint!("{}", paint_diagnostic(color, &diag::render_diagnostic(&d)));
        }
    }
    let cases: usize = labs.iter().map(|l| l.cases.len()).sum();
    emit(&format!(
        "{} lab(s), {cases} case(s) checked: {warnings} warning(s)\n",
        labs.len()
    ));
    if warnings > 0 && deny_warnings {
        exit::INPUT
    } else {
        exit::OK
    }
}

fn list_command(
    paths: &[PathBuf],
    selection: &Selection,
    format: ListFormat,
    vars: &lab::Vars,
) -> u8 {
    let Some(labs) = load_all(paths, time::OffsetDateTime::now_utc(), false, vars) else {
        return exit::INPUT;
    };
    let labs = selected(labs, selection);
    match format {
        ListFormat::Text => {
            for l in &labs {
                for c in &l.cases {
                    emit(&format!("{} › {}\n", l.name, c.name));
                }
            }
        }
        ListFormat::Json => {
            let items: Vec<serde_json::Value> = labs
                .iter()
                .flat_map(|l| {
                    l.cases.iter().map(move |c| {
                        serde_json::json!({
                            "file": l.file.display().to_string(),
                            "lab": l.name,
                            "case": c.name,
                            "line": c.line,
                            "server": l.servers[c.server].name,
                            "expect": mtls_lab::verdict::expectation_summary(&c.expect),
                        })
                    })
                })
                .collect();
            emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&items).unwrap_or_default()
            ));
        }
    }
    exit::OK
}

fn init_command(name: &str) -> u8 {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !valid {
        eprintln!("error: `{name}` is not a lab name: use letters, digits, `-` and `_`");
        return exit::INPUT;
    }
    let path = PathBuf::from(format!("{name}.yaml"));
    if path.exists() {
        eprintln!(
            "error: {} already exists; not overwriting it",
            path.display()
        );
        return exit::INPUT;
    }
    // Inside a checkout's labs/ the committed schema is one level up; elsewhere write a copy beside the lab.
    let schema_path = if Path::new("../schemas/lab.schema.json").exists() {
        "../schemas/lab.schema.json".to_string()
    } else {
        let p = Path::new("lab.schema.json");
        if !p.exists() {
            if let Err(e) = std::fs::write(p, mtls_lab::schema_json()) {
                eprintln!("error: cannot write lab.schema.json: {e}");
                return exit::RUN;
            }
            emit("wrote lab.schema.json (for editor completion)\n");
        }
        "lab.schema.json".to_string()
    };
    if let Err(e) = std::fs::write(&path, mtls_lab::starter::starter_lab(name, &schema_path)) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return exit::RUN;
    }
    emit(&format!(
        "wrote {}; run it with: mtls-lab run {}\n",
        path.display(),
        path.display()
    ));
    exit::OK
}
