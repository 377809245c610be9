//! `mtls-lab pki`: write one lab's certificates, keys and CRLs (and PKCS#12 files) to a directory.

use mtls_lab::lab;
use mtls_lab::pki::export::{self, ExportError};
use mtls_lab::report::safe::clean;

use super::args::{exit, PkiArgs};

/// Exports the PKI of `args.lab`; returns OK, INPUT for an invalid lab, a matrix lab or a non-empty
/// directory without `--force`, a link or non-regular file where a file goes, RUN when the PKI cannot be built or a file cannot be written.
pub fn pki(args: PkiArgs) -> u8 {
    let path = &args.lab;
    let lab = match lab::load_all_with(path, time::OffsetDateTime::now_utc(), &args.vars.map()) {
        Ok(mut l) if l.len() == 1 => l.remove(0),
        Ok(_) => {
            eprintln!(
                "error: {}: this lab declares a matrix; export one variant at a time",
                path.display()
            );
            return exit::INPUT;
        }
        Err(e) => {
            eprint!("{}", clean(&e.render()));
            return exit::INPUT;
        }
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
        Ok(files) => {
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
