//! `mtls-lab init`: write a starter lab NAME.yaml, and a schema beside it outside a checkout.

use std::path::{Path, PathBuf};

use super::args::{exit, InitArgs};
use super::term;

/// Writes `NAME.yaml` in the current directory; returns OK, INPUT for a bad name or an existing
/// file (never overwritten), RUN when a file cannot be written.
pub fn init(args: InitArgs) -> u8 {
    let name = args.name.as_str();
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
    let Some(schema_path) = schema_path() else {
        return exit::RUN;
    };
    if let Err(e) = std::fs::write(
        &path,
        mtls_lab::spec::starter::starter_lab(name, schema_path),
    ) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return exit::RUN;
    }
    term::emit(&format!(
        "wrote {}; run it with: mtls-lab run {}\n",
        path.display(),
        path.display()
    ));
    exit::OK
}

/// The schema the starter lab points at: inside a checkout's labs/ the committed one, one level up;
/// elsewhere a copy beside the lab, written unless present. `None` (error printed) if it cannot be written.
fn schema_path() -> Option<&'static str> {
    const CHECKOUT: &str = "../schemas/lab.schema.json";
    const BESIDE: &str = "lab.schema.json";
    if Path::new(CHECKOUT).exists() {
        return Some(CHECKOUT);
    }
    if !Path::new(BESIDE).exists() {
        if let Err(e) = std::fs::write(BESIDE, mtls_lab::schema_json()) {
            eprintln!("error: cannot write lab.schema.json: {e}");
            return None;
        }
        term::emit("wrote lab.schema.json (for editor completion)\n");
    }
    Some(BESIDE)
}
