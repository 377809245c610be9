//! `mtls-lab list`: the cases `run` would run, as `LAB › CASE` lines or as JSON.

use serde::Serialize;

use mtls_lab::lab::{select, Lab};
use mtls_lab::report::safe::escape_controls;

use super::args::{exit, ListArgs, ListFormat};
use super::load::load_all;
use super::term::{self, Painter};

/// Lists the selected cases of the labs of `args`; returns OK, or INPUT for an invalid lab.
pub fn list(args: ListArgs) -> u8 {
    let now = time::OffsetDateTime::now_utc();
    let Some(labs) = load_all(&args.paths, now, Painter::plain(), &args.vars.map()) else {
        return exit::INPUT;
    };
    let Some(labs) = super::battery::only(labs, args.selection.battery.as_deref(), now) else {
        return exit::INPUT;
    };
    let labs = select::selected(labs, &args.selection.filter, args.selection.partition);
    match args.format {
        ListFormat::Text => {
            for l in &labs {
                for c in &l.cases {
                    // A derived case that cannot apply here says so, and why.
                    let line = match skipped(c) {
                        Some(why) => format!("{} › {}  [skipped: {why}]\n", l.name, c.name),
                        None => format!("{} › {}\n", l.name, c.name),
                    };
                    term::emit(&escape_controls(&line));
                }
            }
        }
        ListFormat::Json => term::emit(&json(&labs)),
    }
    exit::OK
}

/// One case in `list --format json`; the fields are in alphabetical order, as the first version wrote them.
#[derive(Serialize)]
struct Item<'a> {
    case: &'a str,
    expect: String,
    file: String,
    lab: &'a str,
    line: usize,
    server: &'a str,
    /// Why a battery's derived case will be skipped (it cannot apply here); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'a str>,
}

/// Why case `c`, derived by a battery, will be skipped, if it will.
fn skipped(c: &mtls_lab::lab::Case) -> Option<&str> {
    c.derived.as_ref()?.skipped.as_deref()
}

/// The cases of `labs` as a pretty-printed JSON array, with a final newline.
fn json(labs: &[Lab]) -> String {
    let items: Vec<Item<'_>> = labs
        .iter()
        .flat_map(|l| {
            l.cases.iter().map(move |c| Item {
                case: &c.name,
                expect: mtls_lab::verdict::expectation_summary(&c.expect),
                file: l.file.display().to_string(),
                lab: &l.name,
                line: c.line,
                server: &l.servers[c.server].name,
                skipped: skipped(c),
            })
        })
        .collect();
    format!(
        "{}\n",
        serde_json::to_string_pretty(&items).unwrap_or_default()
    )
}
