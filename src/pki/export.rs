//! Writes a lab's PKI to disk as PEM files, one directory per certificate name, the layout the seed lab's openssl commands produce.
//!
//! `DIR/NAME/NAME.crt` (the certificate), `NAME.key` (its PKCS#8 private key, mode 0600),
//! `NAME.chain.pem` (the certificate followed by its intermediates), for an authority
//! that publishes a CRL `NAME.crl`, and on request `NAME.p12` (PKCS#12: key, certificate, chain, root; mode 0600).
//!
//! Every file is written to a new temporary file beside it, created with its final mode, and renamed
//! into place; nothing is written through a symbolic link or onto anything but a regular file.

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
    /// A path the export would write is a symbolic link, or not a regular file (a directory's name is
    /// not a directory): nothing is written through it or onto it.
    #[error("{path}: {why}; nothing was written")]
    Unsafe { path: PathBuf, why: &'static str },
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

/// curl's `--pinnedpubkey` form of a DER certificate's public key: `sha256//` and the base64 of the
/// SHA-256 of its SubjectPublicKeyInfo (RFC 7469's pin); `None` if it does not parse.
pub fn spki_pin(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        cert.tbs_certificate.subject_pki.raw,
    );
    Some(format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    ))
}

/// [`spki_pin`] of the first certificate in a PEM file.
pub fn pin_of_file(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&text).ok()?;
    spki_pin(&pem.contents)
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

/// Whether the PKI of `lab` may be exported to `dir`, checked before anything is generated or written:
/// [`ExportError::NotEmpty`] for a non-empty `dir` without `force`; [`ExportError::Unsafe`] when a
/// directory or file the export would write is a symbolic link (planted to make it write a key
/// elsewhere) or not a directory / regular file.
pub fn check_out(lab: &Lab, dir: &Path, force: bool) -> Result<(), ExportError> {
    if !dir.exists() {
        // A link to nothing: creating the directory would go through it.
        if std::fs::symlink_metadata(dir).is_ok() {
            return Err(ExportError::Unsafe {
                path: dir.to_path_buf(),
                why: "is a symbolic link to nothing (the export never writes through a link)",
            });
        }
        return Ok(());
    }
    if !dir.is_dir() {
        return Err(ExportError::Unsafe {
            path: dir.to_path_buf(),
            why: "is not a directory",
        });
    }
    let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
    if entries.next().is_some() && !force {
        return Err(ExportError::NotEmpty(dir.to_path_buf()));
    }
    check_targets(lab, dir)
}

/// Like [`export`]; with `p12_password`, also writes `NAME.p12` for every certificate and authority
/// (an authority's holds only its certificate: see [`export_p12`]).
pub fn export_with(
    lab: &Lab,
    pki: &Pki,
    dir: &Path,
    force: bool,
    p12_password: Option<&str>,
) -> Result<Vec<PathBuf>, ExportError> {
    export_p12(lab, pki, dir, force, p12_password, false)
}

/// PKCS#12 of an authority's certificate alone, no key: what a browser or a Java trust store imports
/// as a trusted CA.
pub fn pkcs12_certificate(issued: &Issued, password: &str) -> Result<Vec<u8>, String> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry};
    let cert = Certificate::from_der(&issued.der).map_err(|e| e.to_string())?;
    let mut store = KeyStore::new();
    store.add_entry(&issued.name, KeyStoreEntry::Certificate(cert));
    store.writer(password).write().map_err(|e| e.to_string())
}

/// Like [`export_with`]. An authority's `NAME.p12` holds only its certificate unless `ca_key`: a
/// learner told to "import the CA" into a browser must not import a file that lets the browser
/// present the CA itself as a client certificate.
pub fn export_p12(
    lab: &Lab,
    pki: &Pki,
    dir: &Path,
    force: bool,
    p12_password: Option<&str>,
    ca_key: bool,
) -> Result<Vec<PathBuf>, ExportError> {
    check_out(lab, dir, force)?;
    let p12 = p12_password.map(|p| (p, ca_key));
    let files = export_files(lab, pki, dir, p12, false)?;
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// Updates the export of `lab` in the existing (or new) PKI directory `dir`: writes only the files whose
/// content differs from what is there (a `.p12` is kept when it opens with the password and holds the
/// same key and certificates), fixes a key file's mode to 0600, and removes a `NAME.p12` left from an
/// earlier export whose certificate or key changed when `p12` (password, authority keys) is not given.
/// Returns every file of the export with whether it was written.
///
/// # Errors
/// [`ExportError::Unsafe`] for a link or non-regular file where a file goes; [`ExportError::Io`].
pub fn export_update(
    lab: &Lab,
    pki: &Pki,
    dir: &Path,
    p12: Option<(&str, bool)>,
) -> Result<Vec<(PathBuf, bool)>, ExportError> {
    check_out(lab, dir, true)?;
    export_files(lab, pki, dir, p12, true)
}

/// Writes (or with `update`, updates) every file of the export; returns each with whether it was written.
fn export_files(
    lab: &Lab,
    pki: &Pki,
    dir: &Path,
    p12: Option<(&str, bool)>,
    update: bool,
) -> Result<Vec<(PathBuf, bool)>, ExportError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    let all = pki.authorities.iter().chain(pki.certificates.iter());
    debug_assert_eq!(
        pki.authorities.len() + pki.certificates.len(),
        lab.authorities.len() + lab.certificates.len()
    );
    let put = |path: &Path, bytes: &[u8], secret: bool| {
        if update {
            write_if_changed(path, bytes, secret)
        } else {
            write_file(path, bytes, secret).map(|()| (path.to_path_buf(), true))
        }
    };
    for issued in all {
        let sub = dir.join(&issued.name);
        make_dir(&sub)?;
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
        let mut identity_changed = false;
        for (i, (file, text, secret)) in files.into_iter().enumerate() {
            // A loaded certificate without a key (or one that could not be loaded) has nothing to write.
            if text.is_empty() {
                continue;
            }
            let (path, changed) = put(&sub.join(file), text.as_bytes(), secret)?;
            identity_changed |= changed && i < 2;
            written.push((path, changed));
        }
        let path = sub.join(format!("{name}.p12"));
        // A certificate that could not be loaded, or was loaded without its key, gets no .p12.
        let p12_here = p12.filter(|_| !issued.pem.is_empty() && issued.has_key());
        if let Some((password, ca_key)) = p12_here {
            let root = match lab.authorities.iter().position(|a| a.name == issued.name) {
                Some(a) if lab.authorities[a].issuer.is_none() => None,
                Some(a) => Some(&pki.authorities[root_of(lab, a)]),
                None => lab
                    .certificates
                    .iter()
                    .position(|c| c.name == issued.name)
                    .and_then(|c| lab.certificates[c].issuer)
                    .map(|i| &pki.authorities[root_of(lab, i)]),
            };
            let root = root.filter(|r| !r.pem.is_empty());
            let authority = lab.authorities.iter().any(|a| a.name == issued.name);
            let key_inside = !authority || ca_key;
            if update && p12_holds(&path, password, issued, root, key_inside) {
                written.push((path, false));
            } else {
                let bytes = if key_inside {
                    pkcs12(issued, root, password)
                } else {
                    pkcs12_certificate(issued, password)
                };
                let bytes = bytes.map_err(|e| ExportError::Io {
                    path: path.clone(),
                    source: std::io::Error::other(e),
                })?;
                write_file(&path, &bytes, true)?;
                written.push((path, true));
            }
        } else if update && identity_changed && path.is_file() {
            // A .p12 of the certificate or key this update replaced would hand out the old ones.
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        if let Some((_, crl_pem)) = &issued.crl {
            let path = sub.join(format!("{name}.crl"));
            written.push(put(&path, crl_pem.as_bytes(), false)?);
        }
    }
    Ok(written)
}

/// Whether the PKCS#12 file `path` opens with `password` and holds exactly what [`pkcs12`] (with
/// `key_inside`) or [`pkcs12_certificate`] would write for `issued`: the same key and certificates.
fn p12_holds(
    path: &Path,
    password: &str,
    issued: &Issued,
    root: Option<&Issued>,
    key_inside: bool,
) -> bool {
    use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() > 1024 * 1024 {
        return false;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let Ok(store) = KeyStore::from_pkcs12(&bytes, password, Pkcs12ImportPolicy::Relaxed) else {
        return false;
    };
    let entries: Vec<&KeyStoreEntry> = store.entries().map(|(_, e)| e).collect();
    let [entry] = entries.as_slice() else {
        return false;
    };
    match (entry, key_inside) {
        (KeyStoreEntry::PrivateKeyChain(chain), true) => {
            let want: Vec<&[u8]> = std::iter::once(issued.der.as_ref())
                .chain(issued.intermediates.iter().map(|d| d.as_ref()))
                .chain(root.map(|r| r.der.as_ref()))
                .collect();
            let have: Vec<&[u8]> = chain.certs().iter().map(|c| c.as_der()).collect();
            chain.key().as_der() == issued.key().secret_der() && have == want
        }
        (KeyStoreEntry::Certificate(cert), false) => cert.as_der() == issued.der.as_ref(),
        _ => false,
    }
}

/// Writes `DIR/make-pki.sh`, the openssl commands that rebuild the lab's PKI ([`super::openssl::script`]),
/// as the other files are written (never through a link), mode 0700.
pub fn write_openssl_script(lab: &Lab, pki: &Pki, dir: &Path) -> Result<PathBuf, ExportError> {
    let path = dir.join("make-pki.sh");
    write_file(&path, super::openssl::script(lab, pki).as_bytes(), true)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(io(&path))?;
    }
    Ok(path)
}

/// The names of the files the export may write in `DIR/NAME/` for a certificate or authority `name`.
fn file_names(name: &str) -> [String; 5] {
    ["crt", "key", "chain.pem", "p12", "crl"].map(|ext| format!("{name}.{ext}"))
}

/// Why an existing `path` may not be written: a link, or not of the `dir`ectory or regular-file kind.
fn unsafe_kind(path: &Path, dir: bool) -> Result<(), ExportError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let kind = meta.file_type();
    let why = if kind.is_symlink() {
        "is a symbolic link (the export never writes through a link)"
    } else if dir && !kind.is_dir() {
        "is not a directory"
    } else if !dir && !kind.is_file() {
        "is not a regular file"
    } else {
        return Ok(());
    };
    Err(ExportError::Unsafe {
        path: path.to_path_buf(),
        why,
    })
}

/// Refuses an existing `path` that is a symbolic link or not a regular file ([`ExportError::Unsafe`]).
pub(crate) fn check_file(path: &Path) -> Result<(), ExportError> {
    unsafe_kind(path, false)
}

/// Checks every directory and file the export of `lab` may write under the existing `dir`.
fn check_targets(lab: &Lab, dir: &Path) -> Result<(), ExportError> {
    let names = lab
        .authorities
        .iter()
        .map(|a| &a.name)
        .chain(lab.certificates.iter().map(|c| &c.name));
    for name in names {
        let sub = dir.join(name);
        unsafe_kind(&sub, true)?;
        for file in file_names(name) {
            unsafe_kind(&sub.join(file), false)?;
        }
    }
    Ok(())
}

/// Creates the directory `sub` (mode 0777 less the umask) unless it exists as a real directory; a link
/// there is refused, never followed.
fn make_dir(sub: &Path) -> Result<(), ExportError> {
    match std::fs::create_dir(sub) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => unsafe_kind(sub, true),
        Err(e) => Err(io(sub)(e)),
    }
}

/// Writes a file atomically: a new temporary file in its directory, created with its final mode (0600
/// for a secret, else 0666 less the umask), then renamed over `path`. An existing link at `path` is
/// refused; the rename would replace it, never write through it.
pub(crate) fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), ExportError> {
    unsafe_kind(path, false)?;
    if let Some(parent) = path.parent() {
        unsafe_kind(parent, true)?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(if secret {
            0o600
        } else {
            0o666
        }));
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut tmp = builder.tempfile_in(dir).map_err(io(path))?;
    tmp.write_all(bytes).map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    Ok(())
}

/// Writes `path` as [`write_file`] does unless it already holds exactly `bytes` (and, for a `secret`,
/// already has mode 0600); returns the path and whether it was written.
pub(crate) fn write_if_changed(
    path: &Path,
    bytes: &[u8],
    secret: bool,
) -> Result<(PathBuf, bool), ExportError> {
    unsafe_kind(path, false)?;
    let same = std::fs::symlink_metadata(path).is_ok_and(|m| {
        #[cfg(unix)]
        let private = {
            use std::os::unix::fs::PermissionsExt;
            !secret || m.permissions().mode() & 0o777 == 0o600
        };
        #[cfg(not(unix))]
        let private = true;
        m.is_file()
            && m.len() == bytes.len() as u64
            && private
            && std::fs::read(path).is_ok_and(|have| have == bytes)
    });
    if !same {
        write_file(path, bytes, secret)?;
    }
    Ok((path.to_path_buf(), !same))
}
