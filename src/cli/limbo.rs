//! `mtls-lab limbo FILE`: x509-limbo testcases through real handshakes against each verifier under
//! test; the console report, `--json`, and the exit code against `--exceptions`.

use std::sync::Arc;

use mtls_lab::lab::limbo::{self, Exceptions, Verifier};
use mtls_lab::report::limbo as report;

use super::args::{exit, LimboArgs, LimboVerifier};

/// Runs `args`; returns 0 when every disagreement is a listed exception and no exception is stale, 1
/// otherwise, 2 on bad input (the limbo file, the exceptions file, the JSON path), 3 when the run
/// cannot start or a testcase could not run.
pub fn limbo(args: LimboArgs, verbose: u8) -> u8 {
    let suite = match limbo::load(&args.file, args.filter.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INPUT;
        }
    };
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
    if let Some(out) = &args.json {
        let same = |p: &std::path::Path| std::fs::canonicalize(p).ok();
        let inputs = [Some(&args.file), args.exceptions.as_ref()];
        if same(out).is_some() && inputs.iter().flatten().any(|i| same(i) == same(out)) {
            eprintln!(
                "error: --json {} is an input of the run: choose another file",
                out.display()
            );
            return exit::INPUT;
        }
    }
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
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let suite = Arc::new(suite);
    println!(
        "limbo: {} ({} testcase{})",
        args.file.display(),
        suite.testcases.len(),
        if suite.testcases.len() == 1 { "" } else { "s" }
    );
    let empty = Exceptions::default();
    let ex = exceptions.as_ref().unwrap_or(&empty);
    let mut runs = Vec::new();
    let mut code = exit::OK;
    let mut verifiers: Vec<Verifier> = args.verifiers.iter().map(|v| verifier(*v)).collect();
    verifiers.dedup();
    for v in verifiers {
        match runtime.block_on(mtls_lab::run::limbo::run(suite.clone(), v, jobs)) {
            Ok(run) => {
                for line in report::console(&run, ex, verbose > 0) {
                    println!("{line}");
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
    if let Some(out) = &args.json {
        let text = report::json(
            &args.file.display().to_string(),
            args.filter.as_deref(),
            &runs,
            exceptions.as_ref(),
        );
        if let Err(e) = mtls_lab::report::write_atomic(out, &text) {
            eprintln!("error: cannot write {}: {e}", out.display());
            return exit::RUN;
        }
    }
    code
}

fn verifier(v: LimboVerifier) -> Verifier {
    match v {
        LimboVerifier::Builtin => Verifier::Builtin,
        LimboVerifier::Curl => Verifier::Curl,
        LimboVerifier::Openssl => Verifier::Openssl,
    }
}
