//! `mtls-lab battery LAB CASE`: `run LAB --battery CASE` (or `list` with `--list`): one case and the
//! standard failure cases derived from it.

use mtls_lab::lab::{battery, Lab};

use super::args::{BatteryArgs, ListArgs, RunArgs, Selection};

/// Runs or lists the battery of `args`; returns the exit code of `run` or `list`.
pub fn battery(args: BatteryArgs) -> u8 {
    let selection = Selection {
        filter: Vec::new(),
        partition: None,
        battery: Some(args.case),
    };
    if args.list {
        return super::list::list(ListArgs {
            paths: vec![args.lab],
            selection,
            format: args.format,
            vars: args.vars,
        });
    }
    super::run::run(RunArgs {
        paths: vec![args.lab],
        selection,
        reports: args.reports,
        jobs: None,
        fail_fast: false,
        color: args.color,
        explain: args.explain,
        trace: false,
        vars: args.vars,
        show_hidden: false,
        pki: None,
        no_cache: false,
        isolate: false,
        submissions: None,
        gradebook_csv: None,
        gradebook_json: None,
    })
}

/// The labs with only `case` and its battery when `case` is given (`--battery`), else as they are;
/// `None` once the error is printed.
pub fn only(labs: Vec<Lab>, case: Option<&str>, now: time::OffsetDateTime) -> Option<Vec<Lab>> {
    let Some(case) = case else { return Some(labs) };
    match battery::only(labs, case, now) {
        Ok(labs) => Some(labs),
        // The message names the case already; any other says which case it is about.
        Err(e @ battery::BatteryError::NoSuchCase { .. }) => {
            eprintln!("error: {e}");
            None
        }
        Err(e) => {
            eprintln!("error: case `{case}`: {e}");
            None
        }
    }
}
