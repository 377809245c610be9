//! `mtls-lab pki`: write one lab's certificates, keys and CRLs (and PKCS#12 files) to a directory.

use mtls_lab::lab;
use mtls_lab::pki::export::{self, ExportError};
use mtls_lab::pki::{build_in, persist, PersistError, Pki};
use mtls_lab::report::safe::clean;

use super::args::{exit, PkiArgs, VarArgs, VariantSelection};

/// Exports the PKI of `args.lab` to `--out` (or `--pki`) DIR, updating a PKI directory written before;
/// returns OK, INPUT for an invalid lab, a matrix lab without one `--variant`, a non-empty directory that
/// is not a PKI directory without `--force` (or `--pki`), a link or non-regular file where a file goes,
/// RUN when the PKI cannot be built or a file cannot be written.
pub fn pki(args: PkiArgs) -> u8 {
    let path = &args.lab;
    let now = time::OffsetDateTime::now_utc();
    let lab = match load_variant_at(path, &args.vars, args.variant.as_ref(), now) {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    let (dir, force) = match (&args.out, &args.pki) {
        (Some(out), _) => (out.clone(), args.force),
        (None, Some(pki)) => (pki.clone(), true),
        // clap requires one of them.
        (None, None) => return exit::INPUT,
    };
    let option = if args.out.is_some() { "--out" } else { "--pki" };
    if let Err(code) = check_dir(option, &dir) {
        return code;
    }
    // --p12-password implies --p12.
    let password = match (args.p12 || args.p12_ca_key, args.p12_password) {
        (_, Some(p)) => Some(p),
        (true, None) => Some(export::RUN_P12_PASSWORD.to_string()),
        (false, None) => None,
    };
    let p12 = password.as_deref().map(|p| (p, args.p12_ca_key));
    let (pki, summary) = match persist_into(&lab, &dir, force, Some(args.force), now, p12) {
        Ok(done) => done,
        Err(code) => return code,
    };
    let mut files = summary.files.len();
    let mut written = summary.written.len();
    if args.openssl_script {
        match export::write_openssl_script(&lab, &pki, &dir) {
            Ok(_) => {
                files += 1;
                written += 1;
            }
            Err(e) => {
                eprintln!("{}", clean(&format!("error: {e}")));
                return exit::RUN;
            }
        }
    }
    let shown = dir.display().to_string();
    let shown = clean(&shown);
    if written == files {
        println!("wrote {files} files to {shown}");
    } else {
        println!("wrote {written} of {files} files to {shown}; the others were up to date");
    }
    exit::OK
}

/// Checks the directory `dir` given to `option` (`--out`, `--pki`) before anything is loaded or made: a
/// symbolic link to nothing (a directory is never created through a link) or something that is not a
/// directory is refused with INPUT, after printing why. A missing directory is fine (it is created).
pub(super) fn check_dir(option: &str, dir: &std::path::Path) -> Result<(), u8> {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return Ok(());
    };
    let why = match std::fs::metadata(dir) {
        Err(_) if meta.file_type().is_symlink() => {
            "is a symbolic link to nothing (a PKI directory is never created through a link)"
        }
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(m) if m.is_file() => "is a file, not a directory",
        _ => "is not a directory",
    };
    eprintln!(
        "{}",
        clean(&format!("error: {option}: {} {why}", dir.display()))
    );
    Err(exit::INPUT)
}

/// Builds the PKI of `lab` (loaded at `now`) in the PKI directory `dir` and writes it back ([`build_in`]):
/// a directory written before is updated, keeping what has not changed. A non-empty directory without a
/// state file is refused (INPUT) unless `force`; so is a directory whose state file says it was made for
/// another lab unless `replace_other` is `Some(true)` (`pki --force`; `None`: never, as for `run` and
/// `serve`), and a link where a file goes, before any key is
/// made. Prints each note (what was made again and why) on stderr. Errors with the exit code after
/// printing why.
pub(super) fn persist_into(
    lab: &lab::Lab,
    dir: &std::path::Path,
    force: bool,
    replace_other: Option<bool>,
    now: time::OffsetDateTime,
    p12: Option<(&str, bool)>,
) -> Result<(Pki, persist::Summary), u8> {
    if let Err(other) = persist::check_owner(dir, lab) {
        if replace_other != Some(true) {
            let hint = match replace_other {
                Some(_) => "use another directory, or --force to replace it with this lab's PKI",
                None => "use another directory",
            };
            eprintln!(
                "{}",
                clean(&format!(
                    "error: {} holds the PKI of lab {other}, not of lab {}; {hint}",
                    dir.display(),
                    persist::LabIdentity::of(lab)
                ))
            );
            return Err(exit::INPUT);
        }
    }
    let state = std::fs::symlink_metadata(dir.join(persist::STATE_FILE)).is_ok();
    if let Err(e) = export::check_out(lab, dir, force || state) {
        eprintln!("{}", clean(&format!("error: {e}")));
        return Err(exit::INPUT);
    }
    match build_in(lab, dir, now, p12) {
        Ok((pki, summary)) => {
            for note in &summary.notes {
                eprintln!("{}", clean(&format!("{}: {note}", dir.display())));
            }
            Ok((pki, summary))
        }
        Err(PersistError::Write(e @ (ExportError::NotEmpty(_) | ExportError::Unsafe { .. }))) => {
            eprintln!("{}", clean(&format!("error: {e}")));
            Err(exit::INPUT)
        }
        Err(e) => {
            eprintln!("{}", clean(&format!("error: {e}")));
            Err(exit::RUN)
        }
    }
}

/// Loads the lab file `path` with the `--var` values and picks the variant `--variant` names; on an
/// invalid lab or a selection that names no single variant it prints why (control characters escaped)
/// and gives INPUT as the error.
pub(super) fn load_variant(
    path: &std::path::Path,
    vars: &VarArgs,
    variant: Option<&VariantSelection>,
) -> Result<lab::Lab, u8> {
    load_variant_at(path, vars, variant, time::OffsetDateTime::now_utc())
}

/// [`load_variant`], the lab's offsets taken from `now`.
pub(super) fn load_variant_at(
    path: &std::path::Path,
    vars: &VarArgs,
    variant: Option<&VariantSelection>,
    now: time::OffsetDateTime,
) -> Result<lab::Lab, u8> {
    let labs = lab::load_all_with(path, now, &vars.map()).map_err(|e| {
        eprint!("{}", clean(&e.render()));
        exit::INPUT
    })?;
    pick_variant(labs, variant.map(|v| v.0.as_slice())).map_err(|message| {
        eprintln!(
            "{}",
            clean(&format!("error: {}: {message}", path.display()))
        );
        exit::INPUT
    })
}

/// The one lab `selection` (`--variant`) names among a file's variants: a lab without a matrix needs
/// none (and takes none); a matrix lab needs pairs that every value of exactly one variant matches.
/// The error lists the variants to choose from.
fn pick_variant(
    mut labs: Vec<lab::Lab>,
    selection: Option<&[(String, String)]>,
) -> Result<lab::Lab, String> {
    let matrix = labs.len() != 1 || !labs[0].variant.is_empty();
    let label = |l: &lab::Lab| {
        l.variant
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let list = |labs: &[&lab::Lab]| {
        labs.iter()
            .map(|l| format!("\n  --variant {}", label(l)))
            .collect::<String>()
    };
    let Some(selection) = selection else {
        if !matrix {
            return Ok(labs.remove(0));
        }
        let all: Vec<&lab::Lab> = labs.iter().collect();
        return Err(format!(
            "this lab declares a matrix of {} variants; choose one with --variant:{}",
            labs.len(),
            list(&all)
        ));
    };
    if !matrix {
        return Err("--variant: this lab declares no matrix".to_string());
    }
    let matching: Vec<usize> = (0..labs.len())
        .filter(|&i| {
            selection
                .iter()
                .all(|(k, v)| labs[i].variant.iter().any(|(vk, vv)| vk == k && vv == v))
        })
        .collect();
    let wanted = selection
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    match matching.as_slice() {
        [one] => Ok(labs.swap_remove(*one)),
        [] => {
            let all: Vec<&lab::Lab> = labs.iter().collect();
            Err(format!(
                "--variant {wanted} matches none of the {} variants:{}",
                labs.len(),
                list(&all)
            ))
        }
        several => {
            let some: Vec<&lab::Lab> = several.iter().map(|&i| &labs[i]).collect();
            Err(format!(
                "--variant {wanted} matches {} variants; name one:{}",
                several.len(),
                list(&some)
            ))
        }
    }
}
