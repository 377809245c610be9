//! The `mtls-lab` command line: argument parsing and exit codes only; the work is in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
        /// Write a JSON report to FILE.
        #[arg(long, value_name = "FILE")]
        report_json: Option<PathBuf>,
        /// Labs run at the same time (default: the number of cores).
        #[arg(long, short = 'j', value_name = "N")]
        jobs: Option<usize>,
    },
    /// Print the JSON Schema of the lab format.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    ExitCode::from(match cli.command {
        Command::Schema => {
            print!("{}", mtls_lab::schema_json());
            exit::OK
        }
        Command::Run {
            paths,
            report_json,
            jobs,
        } => run_command(&paths, report_json.as_deref(), jobs),
    })
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

/// Expands directories into their `*.yaml` / `*.yml` files, sorted, recursively.
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
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
    Ok(())
}

fn run_command(paths: &[PathBuf], report_json: Option<&Path>, jobs: Option<usize>) -> u8 {
    let files = match lab_files(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INPUT;
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let mut labs = Vec::new();
    let mut bad = 0;
    for f in &files {
        match lab::load(f, now) {
            Ok(l) => labs.push(l),
            Err(e) => {
                bad += 1;
                eprint!("{}", diag::render(&e));
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} lab file(s) invalid; nothing was run");
        return exit::INPUT;
    }
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
    let results = runtime.block_on(run::run_all(labs, jobs));
    print!("{}", report::console(&results));
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
    if let Some(path) = report_json {
        if let Err(e) = report::write_atomic(path, &report::json(&results)) {
            eprintln!(
                "error: cannot write the JSON report {}: {e}",
                path.display()
            );
            code = exit::RUN;
        }
    }
    code
}
