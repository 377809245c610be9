//! The terminal: whether to colour, colours chosen from what is printed (a status, a severity), never
//! by matching rendered text; stdout that survives a closed pipe; the progress line; tracing on stderr.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mtls_lab::diag::Severity;
use mtls_lab::report::console::Style;
use mtls_lab::run::{self, Status};

use super::args::ColorChoice;

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// Paints text for the terminal, or leaves it as it is when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Painter {
    color: bool,
}

impl Painter {
    /// Colour as `--color` asks: `auto` colours when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn new(choice: ColorChoice) -> Painter {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        Painter { color }
    }

    /// Never colours.
    pub fn plain() -> Painter {
        Painter { color: false }
    }

    /// `text` in `code`, then reset; `text` unchanged without colour.
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// A whole `error: ...` line, in red.
    pub fn error(self, text: &str) -> String {
        self.paint(RED, text)
    }

    /// A diagnostic rendered by `diag` (which starts with its severity's label, `error:` or
    /// `warning:`), with that label in red or yellow.
    pub fn diagnostic(self, severity: Severity, rendered: &str) -> String {
        let (label, code) = match severity {
            Severity::Error => ("error:", RED),
            Severity::Warning => ("warning:", YELLOW),
        };
        match rendered.strip_prefix(label) {
            Some(rest) if self.color => format!("{}{rest}", self.paint(code, label)),
            _ => rendered.to_string(),
        }
    }
}

/// The console report's status words: PASS green, FAIL and ERROR red, SKIP yellow.
impl Style for Painter {
    fn tag(&self, status: Status, word: &str) -> String {
        let code = match status {
            Status::Passed => GREEN,
            Status::Failed | Status::Error => RED,
            Status::Skipped => YELLOW,
        };
        self.paint(code, word)
    }
}

/// Writes to stdout; a closed pipe (`mtls-lab list | head`) ends output quietly instead of panicking.
pub fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// A one-line progress display on stderr, when stderr is a terminal: `[3/26 labs] seed-mtls`; erased
/// after the last of `total` labs.
pub fn progress(total: usize) -> run::Progress {
    if !std::io::stderr().is_terminal() {
        return Arc::new(|_: &run::LabResult| {});
    }
    let done = AtomicUsize::new(0);
    Arc::new(move |r: &run::LabResult| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        let end = if n == total { "\r\x1b[2K" } else { "" };
        let lab = mtls_lab::report::safe::escape_controls(&r.lab);
        eprint!("\r\x1b[2K[{n}/{total} labs] {lab}{end}");
    })
}

/// Logs to stderr: warnings by default, more with `-v` (per case) and `-vv` (handshakes); `RUST_LOG` overrides.
pub fn init_tracing(verbose: u8, color: Option<super::args::ColorChoice>) {
    let default = match verbose {
        0 => "warn",
        1 => "mtls_lab=info",
        _ => "mtls_lab=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Escape codes only for a terminal: CI logs and a grader's captured output get plain text.
    // `--color` decides where given: never means no escape code in the log either.
    let ansi = match color {
        Some(super::args::ColorChoice::Never) => false,
        Some(super::args::ColorChoice::Always) => true,
        _ => {
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(|| RedactedStderr)
        .try_init();
}

/// Standard error for log lines, with private-key blocks redacted as in every report (each event is
/// written in one piece, so a block within one event is found whole).
struct RedactedStderr;

impl std::io::Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(mtls_lab::report::safe::redact_keys(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
