//! `mtls-lab check`: load every lab (printing each error), then print `check`'s warnings, rustc-style.

use mtls_lab::diag::{self, Severity};
use mtls_lab::lab::{self, lint};
use mtls_lab::report::safe::escape_controls;

use super::args::{exit, CheckArgs};
use super::load::load_all;
use super::term::{self, Painter};

/// Checks the labs of `args`; returns OK, or INPUT for an invalid lab or, with `--deny-warnings`, a warning.
pub fn check(args: CheckArgs) -> u8 {
    let painter = Painter::new(args.color);
    let now = time::OffsetDateTime::now_utc();
    let Some(labs) = load_all(&args.paths, now, painter, &args.vars.map()) else {
        return exit::INPUT;
    };
    let warnings: usize = labs.iter().map(|l| print_warnings(l, now, painter)).sum();
    let cases: usize = labs.iter().map(|l| l.cases.len()).sum();
    term::emit(&format!(
        "{} lab(s), {cases} case(s) checked: {warnings} warning(s)\n",
        labs.len()
    ));
    if warnings > 0 && args.deny_warnings {
        exit::INPUT
    } else {
        exit::OK
    }
}

/// Prints the warnings of `lab` on stderr, each pointing at the first word of its line; returns how many.
fn print_warnings(lab: &lab::Lab, now: time::OffsetDateTime, painter: Painter) -> usize {
    let source = std::fs::read_to_string(&lab.file).ok();
    let warnings = lint::warnings(lab, now);
    for w in &warnings {
        let col = source
            .as_deref()
            .and_then(|s| s.lines().nth(w.line.saturating_sub(1)))
            .and_then(|t| t.find(|c: char| c.is_alphanumeric()))
            .map_or(1, |i| i + 1);
        let d = diag::Diagnostic {
            severity: Severity::Warning,
            file: &lab.file,
            pos: Some(lab::Pos { line: w.line, col }),
            message: w.message.clone(),
            token: None,
            help: w.help.as_deref(),
            source: source.as_deref(),
        };
        eprint!(
            "{}",
            painter.diagnostic(
                Severity::Warning,
                &escape_controls(&diag::render_diagnostic(&d))
            )
        );
    }
    warnings.len()
}
