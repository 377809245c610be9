//! `mtls-lab pki`: write one lab's certificates, keys and CRLs (and PKCS#12 files) to a directory.

use mtls_lab::lab;
use mtls_lab::pki::export::{self, ExportError};
use mtls_lab::report::safe::clean;

use super::args::{exit, PkiArgs, VarArgs, VariantSelection};

/// Exports the PKI of `args.lab`; returns OK, INPUT for an invalid lab, a matrix lab or a non-empty
/// directory without `--force`, a link or non-regular file where a file goes, RUN when the PKI cannot be built or a file cannot be written.
pub fn pki(args: PkiArgs) -> u8 {
    let path = &args.lab;
    let lab = match load_variant(path, &args.vars, args.variant.as_ref()) {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    // Before any key is generated: a non-empty directory without --force, or a link planted where a
    // file or directory will be written, is refused.
    if let Err(e) = export::check_out(&lab, &args.out, args.force) {
        eprintln!("{}", clean(&format!("error: {e}")));
        return exit::INPUT;
    }
    let pki = match mtls_lab::pki::build(&lab) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}", clean(&format!("error: {e}")));
            return exit::RUN;
        }
    };
    // --p12-password implies --p12.
    let password = match (args.p12 || args.p12_ca_key, args.p12_password) {
        (_, Some(p)) => Some(p),
        (true, None) => Some(export::RUN_P12_PASSWORD.to_string()),
        (false, None) => None,
    };
    match export::export_p12(
        &lab,
        &pki,
        &args.out,
        args.force,
        password.as_deref(),
        args.p12_ca_key,
    ) {
        Ok(mut files) => {
            if args.openssl_script {
                match export::write_openssl_script(&lab, &pki, &args.out) {
                    Ok(f) => files.push(f),
                    Err(e) => {
                        eprintln!("{}", clean(&format!("error: {e}")));
                        return exit::RUN;
                    }
                }
            }
            println!("wrote {} files to {}", files.len(), args.out.display());
            exit::OK
        }
        Err(e @ (ExportError::NotEmpty(_) | ExportError::Unsafe { .. })) => {
            eprintln!("{}", clean(&format!("error: {e}")));
            exit::INPUT
        }
        Err(e) => {
            eprintln!("{}", clean(&format!("error: {e}")));
            exit::RUN
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
    let labs =
        lab::load_all_with(path, time::OffsetDateTime::now_utc(), &vars.map()).map_err(|e| {
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
