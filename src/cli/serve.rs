//! `mtls-lab serve`: a lab's built-in servers, running until Ctrl-C, with one line per connection.

use std::path::PathBuf;

use mtls_lab::pki::export;
use mtls_lab::report::safe::clean;
use mtls_lab::run::serve;

use super::args::{exit, ServeArgs};
use super::pki::load_variant;

/// Serves until Ctrl-C, SIGTERM or SIGHUP (INTERRUPTED); INPUT for an invalid lab, an unknown server
/// or a refused `--out`; RUN when the PKI cannot be built or written or a server cannot listen.
pub fn serve(args: ServeArgs) -> u8 {
    let path = &args.lab;
    let lab = match load_variant(path, &args.vars, args.variant.as_ref()) {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    let (temp, out): (Option<tempfile::TempDir>, PathBuf) = match &args.out {
        Some(dir) => (None, dir.clone()),
        None => match tempfile::Builder::new().prefix("mtls-lab-serve-").tempdir() {
            Ok(t) => {
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
            Err(e) => {
                eprintln!("error: a temporary directory: {e}");
                return exit::RUN;
            }
        },
    };
    if let Err(e) = export::check_out(&lab, &out, args.force) {
        eprintln!("{}", clean(&format!("error: {e}")));
        return exit::INPUT;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::RUN;
        }
    };
    let code = runtime.block_on(async {
        // Signals are watched before anything slow happens.
        let stop = signals();
        let pki = match mtls_lab::pki::build(&lab) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{}", clean(&format!("error: {e}")));
                return exit::RUN;
            }
        };
        if let Err(e) = export::export_p12(
            &lab,
            &pki,
            &out,
            args.force,
            Some(export::RUN_P12_PASSWORD),
            false,
        ) {
            eprintln!("{}", clean(&format!("error: {e}")));
            return exit::RUN;
        }
        let mut serving = match serve::start(&lab, &pki, args.server.as_deref()).await {
            Ok(s) => s,
            Err(e @ (serve::ServeError::NoSuchServer(..) | serve::ServeError::NotBuiltIn(_))) => {
                eprintln!("{}", clean(&format!("error: {e}")));
                return exit::INPUT;
            }
            Err(e) => {
                eprintln!("{}", clean(&format!("error: {e}")));
                return exit::RUN;
            }
        };
        let json = args.json;
        let shown = out.display().to_string();
        let shown = clean(&shown);
        say(
            json,
            format!(
                "lab `{}`: its PKI is in {shown} (.p12 password {}){}",
                clean(&lab.name),
                export::RUN_P12_PASSWORD,
                if temp.is_some() {
                    ", removed on exit"
                } else {
                    ""
                }
            ),
        );
        for s in &serving.servers {
            say(json, format!("{}: {}", clean(&s.name), serve::url(s.addr)));
        }
        say(json, "one line per connection; Ctrl-C stops".to_string());
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                entry = serving.connections.recv() => match entry {
                    // serde_json escapes control characters itself.
                    Some((server, log)) if args.json => println!("{}", serve::json(&server, &log)),
                    Some((server, log)) => {
                        println!("{}", clean(&serve::line(&server, &log)));
                        for l in serve::explanation(&lab, &server, &log) {
                            println!("      {}", clean(&l));
                        }
                    }
                    None => break,
                },
            }
        }
        drop(serving);
        eprintln!("stopped");
        exit::INTERRUPTED
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    drop(temp);
    code
}

/// Resolves on the first Ctrl-C, SIGTERM or SIGHUP (handlers installed when called).
fn signals() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    let [int, term, hup] = [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ]
    .map(|k| signal(k).ok());
    async fn recv(s: Option<Signal>) {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    async move {
        tokio::select! {
            _ = recv(int) => {}
            _ = recv(term) => {}
            _ = recv(hup) => {}
        }
    }
}

/// A line about the servers: on stdout, or on stderr under `--json` (stdout then holds only JSON).
fn say(json: bool, line: String) {
    if json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}
