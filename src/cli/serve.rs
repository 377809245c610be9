//! `mtls-lab serve`: a lab's built-in servers, running until Ctrl-C, with one line per connection.

use std::path::PathBuf;

use mtls_lab::lab::Lab;
use mtls_lab::pki::{
    self,
    cache::{CacheError, KeyCache},
    export, persist, Pki, PkiError,
};
use mtls_lab::report::safe::clean;
use mtls_lab::run::serve;

use super::args::{exit, ServeArgs};
use super::pki::{load_variant_at, persist_into};

/// Serves until Ctrl-C, SIGTERM or SIGHUP (INTERRUPTED); INPUT for an invalid lab, an unknown server
/// or a refused `--out`; RUN when the PKI cannot be built or written or a server cannot listen.
pub fn serve(args: ServeArgs) -> u8 {
    let path = &args.lab;
    let now = time::OffsetDateTime::now_utc();
    let lab = match load_variant_at(path, &args.vars, args.variant.as_ref(), now) {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    // --pki DIR is --out DIR that also takes a non-empty directory without a state file.
    let force = args.force || args.pki.is_some();
    let option = if args.out.is_some() { "--out" } else { "--pki" };
    if let Some(dir) = args.out.as_ref().or(args.pki.as_ref()) {
        if let Err(code) = super::pki::check_dir(option, dir) {
            return code;
        }
    }
    let (temp, out): (Option<tempfile::TempDir>, PathBuf) =
        match args.out.as_ref().or(args.pki.as_ref()) {
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
    let state = std::fs::symlink_metadata(out.join(persist::STATE_FILE)).is_ok();
    if let Err(e) = export::check_out(&lab, &out, force || state) {
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
        let pki = if temp.is_some() {
            // A temporary directory: keys from the key cache unless --no-cache.
            let pki = match build_cached(&lab, args.no_cache) {
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
                force,
                Some(export::RUN_P12_PASSWORD),
                false,
            ) {
                eprintln!("{}", clean(&format!("error: {e}")));
                return exit::RUN;
            }
            pki
        } else {
            // A PKI directory: what has not changed is kept, the rest made and written back.
            let p12 = Some((export::RUN_P12_PASSWORD, false));
            match persist_into(&lab, &out, force, None, now, p12) {
                Ok((pki, _)) => pki,
                Err(code) => return code,
            }
        };
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
        let mut said = say(
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
            said &= say(json, format!("{}: {}", clean(&s.name), serve::url(s.addr)));
        }
        said &= say(json, "one line per connection; Ctrl-C stops".to_string());
        tokio::pin!(stop);
        let mut closed = !said;
        while !closed {
            tokio::select! {
                _ = &mut stop => break,
                entry = serving.connections.recv() => {
                    let text = match entry {
                        // serde_json escapes control characters itself.
                        Some((server, log)) if args.json => format!("{}\n", serve::json(&server, &log)),
                        Some((server, log)) => {
                            let mut text = format!("{}\n", clean(&serve::line(&server, &log)));
                            for l in serve::explanation(&lab, &server, &log) {
                                text.push_str(&format!("      {}\n", clean(&l)));
                            }
                            text
                        }
                        None => break,
                    };
                    // A reader that went away (`serve | head`) ends the serving, without a panic.
                    if !emit(&text) {
                        closed = true;
                        break;
                    }
                },
            }
        }
        drop(serving);
        if closed {
            eprintln!("stopped: standard output was closed");
            return exit::OK;
        }
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

/// A line about the servers: on stdout, or on stderr under `--json` (stdout then holds only JSON); false
/// when standard output is closed.
fn say(json: bool, line: String) -> bool {
    if json {
        eprintln!("{line}");
        true
    } else {
        emit(&format!("{line}\n"))
    }
}

/// Writes `text` to standard output and flushes it; false when that is closed (or fails).
fn emit(text: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

/// The PKI of `lab`, its keys from the user's key cache unless `no_cache` (a cache that cannot be used is
/// said on stderr, and the keys are generated).
pub(super) fn build_cached(lab: &Lab, no_cache: bool) -> Result<Pki, PkiError> {
    let cache = key_cache(no_cache);
    pki::build_with(lab, cache.as_ref(), None).map(|(p, _)| p)
}

/// The user's key cache, unless `no_cache`; `None` when it cannot be used, said in one warning line on
/// stderr (`warning: key cache DIR not used: why`), and the keys are generated.
pub(super) fn key_cache(no_cache: bool) -> Option<KeyCache> {
    if no_cache {
        return None;
    }
    let location = match KeyCache::location() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}", clean(&format!("warning: key cache not used: {e}")));
            return None;
        }
    };
    match KeyCache::open(&location) {
        Ok(c) => Some(c),
        Err(e) => {
            let why = match &e {
                CacheError::Unsafe { why, .. } => why.to_string(),
                CacheError::Io { source, .. } => source.to_string(),
                e => e.to_string(),
            };
            eprintln!(
                "{}",
                clean(&format!(
                    "warning: key cache {} not used: {why}",
                    location.display()
                ))
            );
            None
        }
    }
}
