//! Writes a lab's PKI to disk as PEM files, one directory per certificate name, the layout the seed lab's openssl commands produce.
//!
//! `DIR/NAME/NAME.crt` (the certificate), `NAME.key` (its PKCS#8 private key, mode 0600),
//! `NAME.chain.pem` (the certificate followed by its intermediates), for an authority
//! that publishes a CRL `NAME.crl`, and on request `NAME.p12` (PKCS#12: key, certificate, chain, root; mode 0600).

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::lab::Lab;
use crate::pki::{Issued, Pki};

/// Why an export did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0} is not empty; use --force to overwrite the files in it")]
    NotEmpty(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// DER bytes as one PEM block with 64-character lines.
pub fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The certificate followed by its intermediates, nearest first, as PEM.
pub fn chain_pem(issued: &Issued) -> String {
    let mut out = issued.pem.clone();
    for der in &issued.intermediates {
        out.push_str(&pem_block("CERTIFICATE", der));
    }
    out
}

/// Writes every certificate, key and CRL of `lab` under `dir`; refuses a non-empty `dir` unless `force`.
/// Returns the files written, in order.
pub fn export(lab: &Lab, pki: &Pki, dir: &Path, force: bool) -> Result<Vec<PathBuf>, ExportError> {
    export_with(lab, pki, dir, force, None)
}

/// The password of the PKCS#12 files the runner exports for external peers (`{p12:NAME}`).
pub const RUN_P12_PASSWORD: &str = "mtls-lab";

/// The root authority above authority `a` (itself when it is a root).
fn root_of(lab: &Lab, mut a: usize) -> usize {
    while let Some(up) = lab.authorities[a].issuer {
        a = up;
    }
    a
}

/// PKCS#12 (PBES2 with AES-256-CBC and PBKDF2-SHA256, HMAC-SHA256 MAC, as OpenSSL 3 writes by default) of
/// `issued`'s key and its chain: the certificate, its intermediates, and its root unless it is the root.
pub fn pkcs12(issued: &Issued, root: Option<&Issued>, password: &str) -> Result<Vec<u8>, String> {
    use p12_keystore::{
        Certificate, KeyStore, KeyStoreEntry, LocalKeyId, PrivateKey, PrivateKeyChain,
    };
    let mut certs = Vec::new();
    let ders = std::iter::once(&issued.der)
        .chain(issued.intermediates.iter())
        .chain(root.map(|r| &r.der));
    for der in ders {
        certs.push(Certificate::from_der(der).map_err(|e| e.to_string())?);
    }
    let key = PrivateKey::from_der(issued.key().secret_der()).map_err(|e| e.to_string())?;
    let key_id = {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &issued.der);
        LocalKeyId(digest.as_ref().to_vec())
    };
    let mut store = KeyStore::new();
    store.add_entry(
        &issued.name,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(key_id, key, certs)),
    );
    store.writer(password).write().map_err(|e| e.to_string())
}

/// Like [`export`]; with `p12_password`, also writes `NAME.p12` for every certificate and authority.
pub fn export_with(
    lab: &Lab,
    pki: &Pki,
    dir: &Path,
    force: bool,
    p12_password: Option<&str>,
) -> Result<Vec<PathBuf>, ExportError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() && !force {
            return Err(ExportError::NotEmpty(dir.to_path_buf()));
        }
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    let all = pki.authorities.iter().chain(pki.certificates.iter());
    debug_assert_eq!(
        pki.authorities.len() + pki.certificates.len(),
        lab.authorities.len() + lab.certificates.len()
    );
    for issued in all {
        let sub = dir.join(&issued.name);
        std::fs::create_dir_all(&sub).map_err(io(&sub))?;
        let name = &issued.name;
        let files = [
            (format!("{name}.crt"), issued.pem.clone(), false),
            (format!("{name}.key"), issued.key_pem.clone(), true),
            (
                format!("{name}.chain.pem"),
                if issued.pem.is_empty() {
                    String::new()
                } else {
                    chain_pem(issued)
                },
                false,
            ),
        ];
        for (file, text, secret) in files {
            // A loaded certificate without a key (or one that could not be loaded) has nothing to write.
            if text.is_empty() {
                continue;
            }
            let path = sub.join(file);
            write_file(&path, text.as_bytes(), secret)?;
            written.push(path);
        }
        // A certificate that could not be loaded, or was loaded without its key, gets no .p12.
        let p12_password = p12_password.filter(|_| !issued.pem.is_empty() && issued.has_key());
        if let Some(password) = p12_password {
            let root = match lab.authorities.iter().position(|a| a.name == issued.name) {
                Some(a) if lab.authorities[a].issuer.is_none() => None,
                Some(a) => Some(&pki.authorities[root_of(lab, a)]),
                None => lab
                    .certificates
                    .iter()
                    .position(|c| c.name == issued.name)
                    .map(|c| &pki.authorities[root_of(lab, lab.certificates[c].issuer)]),
            };
            let root = root.filter(|r| !r.pem.is_empty());
            let path = sub.join(format!("{name}.p12"));
            let bytes = pkcs12(issued, root, password).map_err(|e| ExportError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
            write_file(&path, &bytes, true)?;
            written.push(path);
        }
        if let Some((_, crl_pem)) = &issued.crl {
            let path = sub.join(format!("{name}.crl"));
            write_file(&path, crl_pem.as_bytes(), false)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Writes a file; a secret one is created with mode 0600 (and set to 0600 if it already existed).
fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), ExportError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(io(path))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(path))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    f.write_all(bytes).map_err(io(path))?;
    Ok(())
}
