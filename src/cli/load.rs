//! Loading the labs named on the command line: discovery, then every file, printing each diagnostic.

use std::path::PathBuf;

use mtls_lab::diag::Severity;
use mtls_lab::lab::{self, discover};
use mtls_lab::report::safe::escape_controls;
use mtls_lab::run::LabResult;

use super::term::Painter;

/// Every lab of `paths` (directories expanded), or `None` once every diagnostic is printed.
pub fn load_all(
    paths: &[PathBuf],
    now: time::OffsetDateTime,
    painter: Painter,
    vars: &lab::Vars,
) -> Option<Vec<lab::Lab>> {
    load_or_errors(paths, now, painter, vars).ok()
}

/// Every lab of `paths`; when any is invalid, prints every diagnostic and returns instead, per bad
/// file, a lab result that says why, so that reports can still be written.
pub fn load_or_errors(
    paths: &[PathBuf],
    now: time::OffsetDateTime,
    painter: Painter,
    vars: &lab::Vars,
) -> Result<Vec<lab::Lab>, Vec<LabResult>> {
    let (labs, bad) = load_each(paths, now, painter, vars)?;
    if !bad.is_empty() {
        eprintln!("{} lab file(s) invalid; nothing was run", bad.len());
        return Err(bad);
    }
    Ok(labs)
}

/// Every valid lab of `paths`, and per invalid file a lab result that says why (each diagnostic is
/// printed), in discovery order; `Err` when the paths themselves cannot be searched.
pub fn load_each(
    paths: &[PathBuf],
    now: time::OffsetDateTime,
    painter: Painter,
    vars: &lab::Vars,
) -> Result<(Vec<lab::Lab>, Vec<LabResult>), Vec<LabResult>> {
    let files = match discover::lab_files(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "{}",
                painter.error(&escape_controls(&format!("error: {e}")))
            );
            let file = paths.first().cloned().unwrap_or_default();
            return Err(vec![LabResult::not_loaded(file, e.to_string())]);
        }
    };
    let mut labs = Vec::new();
    let mut bad = Vec::new();
    for f in &files {
        match lab::load_all_with(f, now, vars) {
            Ok(l) => labs.extend(l),
            Err(errors) => {
                for e in &errors {
                    // A lab's own text may hold control characters: escaped, never sent to the terminal.
                    eprint!(
                        "{}",
                        painter.diagnostic(Severity::Error, &escape_controls(&e.render()))
                    );
                }
                bad.push(LabResult::not_loaded(
                    f.clone(),
                    format!("invalid lab file: {errors}"),
                ));
            }
        }
    }
    Ok((labs, bad))
}
