//! `mtls-lab show`: one certificate of a lab as a learner reads it, and its chain.

use mtls_lab::pki::{persist, show};
use mtls_lab::report::safe::clean;

use super::args::{exit, ShowArgs};
use super::pki::load_variant;

/// Prints the certificate or authority `args.name` of the lab; INPUT for an invalid lab, an unknown
/// name, or a `--pki` that is not a PKI directory made for this lab; RUN when the PKI cannot be built.
pub fn show(args: ShowArgs) -> u8 {
    let path = &args.lab;
    let lab = match load_variant(path, &args.vars, args.variant.as_ref()) {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    // The chain by names: the certificate, then each authority above it.
    let mut chain: Vec<(&str, Option<usize>)> = Vec::new();
    if let Some(c) = lab.certificates.iter().find(|c| c.name == args.name) {
        chain.push((&c.name, None));
        let mut a = c.issuer;
        while let Some(i) = a {
            chain.push((&lab.authorities[i].name, Some(i)));
            a = lab.authorities[i].issuer;
        }
    } else if let Some(start) = lab.authorities.iter().position(|a| a.name == args.name) {
        let mut a = Some(start);
        while let Some(i) = a {
            chain.push((&lab.authorities[i].name, Some(i)));
            a = lab.authorities[i].issuer;
        }
    } else {
        let names: Vec<String> = lab
            .authorities
            .iter()
            .map(|a| format!("`{}`", a.name))
            .chain(lab.certificates.iter().map(|c| format!("`{}`", c.name)))
            .collect();
        eprintln!(
            "{}",
            clean(&format!(
                "error: {}: no certificate or authority named `{}`; the lab has {}",
                path.display(),
                args.name,
                names.join(", ")
            ))
        );
        return exit::INPUT;
    }
    // --pki DIR must be a PKI directory made for this lab.
    if let Some(dir) = &args.pki {
        let problem = if !dir.exists() {
            Some(format!("{} does not exist", dir.display()))
        } else if !dir.is_dir() {
            Some(format!("{} is not a directory", dir.display()))
        } else {
            match persist::recorded_lab(dir) {
                Err(why) => Some(format!("{} is not a PKI directory: {why}", dir.display())),
                Ok(Some(other)) if other != persist::LabIdentity::of(&lab) => Some(format!(
                    "{} holds the PKI of lab {other}, not of lab {}",
                    dir.display(),
                    persist::LabIdentity::of(&lab)
                )),
                Ok(_) => None,
            }
        };
        if let Some(problem) = problem {
            eprintln!("{}", clean(&format!("error: --pki: {problem}")));
            return exit::INPUT;
        }
    }
    // The DER of each certificate of the chain: from --pki's files, or a PKI generated now.
    let ders: Vec<Option<Vec<u8>>> = match &args.pki {
        Some(dir) => chain
            .iter()
            .map(|(name, _)| {
                let text = std::fs::read(dir.join(name).join(format!("{name}.crt"))).ok()?;
                let (_, pem) = x509_parser::pem::parse_x509_pem(&text).ok()?;
                Some(pem.contents)
            })
            .collect(),
        None => {
            let pki = match mtls_lab::pki::build(&lab) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{}", clean(&format!("error: {e}")));
                    return exit::RUN;
                }
            };
            chain
                .iter()
                .map(|(name, _)| {
                    pki.authorities
                        .iter()
                        .chain(pki.certificates.iter())
                        .find(|i| i.name == *name)
                        .map(|i| i.der.to_vec())
                })
                .collect()
        }
    };
    let mut out = String::new();
    for (k, (name, authority)) in chain.iter().enumerate() {
        let what = if authority.is_some() {
            "authority"
        } else {
            "certificate"
        };
        let mut above = match (chain.get(k + 1), authority) {
            (Some((up, _)), _) => format!(", issued by `{up}`"),
            (None, Some(_)) => ", self-signed (a root)".to_string(),
            (None, None) => ", self-signed".to_string(),
        };
        if let Some(owner) = authority.and_then(|a| lab.authorities[a].key_of) {
            above.push_str(&format!(
                ", with the key of `{}` (cross-signed)",
                lab.authorities[owner].name
            ));
        }
        if k == 0 {
            out.push_str(&format!("{what} `{name}`{above}\n"));
        } else {
            out.push_str(&format!("\nin its chain: {what} `{name}`{above}\n"));
        }
        match ders[k].as_deref().and_then(show::describe) {
            Some(text) => out.push_str(&text),
            None => out.push_str("  (no certificate could be read)\n"),
        }
    }
    print!("{}", clean(&out));
    exit::OK
}
