//! Certificates and keys a lab loads from files (`from:`): read (at most 1 MiB), parsed (PEM or DER), the
//! key checked against the certificate; and the facts of loaded certificates read back into the model.
//!
//! A broken file never stops the run: its problem is recorded, and the cases that need it fail with why.

use std::collections::HashMap;
use std::sync::Arc;

use rcgen::{KeyPair, SerialNumber};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::lab::load::{read_regular, ReadError};
use crate::lab::{CertRef, Lab, Source};
use crate::pki::export::pem_block;
use crate::pki::inspect;
use crate::pki::{Issued, Pki};

/// Files larger than this are not certificates or keys.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads a small regular file, with a message that names it by its label and reads the same on every
/// machine. A FIFO, device or socket is refused without being opened, and no more than 1 MiB is read.
fn read_small(path: &std::path::Path, label: &str) -> Result<Vec<u8>, String> {
    read_regular(path, MAX_PEM_BYTES).map_err(|e| match e {
        ReadError::TooLarge(_) => format!("{label}: {e}; not a certificate or key"),
        e => format!("{label}: cannot read: {e}"),
    })
}

/// `bytes` without a leading UTF-8 byte order mark (editors on Windows write one; OpenSSL skips it).
fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// PEM labels of a certificate, as OpenSSL's `PEM_read_X509_AUX` reads them: `TRUSTED CERTIFICATE` (an
/// X509_AUX: the certificate's DER followed by trust settings, from `openssl x509 -trustout`) and the old
/// `X509 CERTIFICATE` besides `CERTIFICATE`.
const OTHER_CERT_LABELS: [&str; 2] = ["TRUSTED CERTIFICATE", "X509 CERTIFICATE"];

/// The first certificate block of `bytes` if it is one of [`OTHER_CERT_LABELS`] (before any
/// `CERTIFICATE` block): the certificate's DER, the trust data after it left out.
fn other_cert_block(bytes: &[u8], label: &str) -> Option<Result<Vec<u8>, String>> {
    use base64::Engine;
    let text = String::from_utf8_lossy(bytes);
    let plain = text.find("-----BEGIN CERTIFICATE-----");
    let (start, pem_label) = OTHER_CERT_LABELS
        .iter()
        .filter_map(|l| text.find(&format!("-----BEGIN {l}-----")).map(|i| (i, *l)))
        .min()?;
    if plain.is_some_and(|p| p < start) {
        return None;
    }
    let begin = format!("-----BEGIN {pem_label}-----");
    let end = format!("-----END {pem_label}-----");
    let body_start = start + begin.len();
    let Some(body_len) = text[body_start..].find(&end) else {
        return Some(Err(format!(
            "{label}: malformed PEM: no `{end}` after `{begin}`"
        )));
    };
    let body: String = text[body_start..body_start + body_len]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = match base64::engine::general_purpose::STANDARD.decode(body) {
        Ok(der) => der,
        Err(e) => return Some(Err(format!("{label}: malformed PEM: {e}"))),
    };
    // The certificate is the leading DER element; the trust settings follow it.
    Some(match X509Certificate::from_der(&der) {
        Ok((rest, _)) => Ok(der[..der.len() - rest.len()].to_vec()),
        Err(e) => Err(format!("{label}: not a valid X.509 certificate: {e}")),
    })
}

/// Parses a certificate file: PEM (the first certificate; `TRUSTED CERTIFICATE` blocks too, and a
/// leading byte order mark, as OpenSSL reads them) or DER.
pub fn parse_certificate_file(
    bytes: &[u8],
    label: &str,
) -> Result<CertificateDer<'static>, String> {
    let bytes = without_bom(bytes);
    if let Some(der) = other_cert_block(bytes, label) {
        return der.map(CertificateDer::from);
    }
    let der = match CertificateDer::pem_slice_iter(bytes).next() {
        Some(Ok(der)) => der,
        Some(Err(e)) => return Err(format!("{label}: malformed PEM: {e}")),
        None if bytes.first() == Some(&0x30) => CertificateDer::from(bytes.to_vec()),
        None => {
            let text = String::from_utf8_lossy(bytes);
            let hint = if text.contains("PRIVATE KEY-----") {
                " (it holds a private key: the certificate and key files are swapped?)"
            } else if text.contains("CERTIFICATE REQUEST-----") {
                " (it holds a certificate signing request: sign it with `openssl x509 -req`)"
            } else {
                ""
            };
            return Err(format!(
                "{label}: not a PEM certificate: no `-----BEGIN CERTIFICATE-----` block{hint}"
            ));
        }
    };
    X509Certificate::from_der(&der)
        .map_err(|e| format!("{label}: not a valid X.509 certificate: {e}"))?;
    Ok(der)
}

/// Loads a certificate (and its key) from files. Problems are recorded under `me`; a broken certificate
/// gives a stand-in. Returns the key as a signer when the key loaded and matches.
pub(super) fn load(
    name: &str,
    source: &Source,
    me: CertRef,
    cert_problems: &mut HashMap<CertRef, String>,
    key_problems: &mut HashMap<CertRef, String>,
) -> (Issued, Option<KeyPair>) {
    let der = match read_small(&source.cert, &source.cert_label)
        .and_then(|b| parse_certificate_file(&b, &source.cert_label))
    {
        Ok(der) => der,
        Err(why) => {
            cert_problems.insert(me, why);
            return (Issued::unusable(name), None);
        }
    };
    let (serial, spki) = match X509Certificate::from_der(&der) {
        Ok((_, x)) => (
            SerialNumber::from_slice(x.raw_serial()),
            x.tbs_certificate
                .subject_pki
                .subject_public_key
                .data
                .to_vec(),
        ),
        Err(_) => (SerialNumber::from(0u64), Vec::new()),
    };
    let pem = pem_block("CERTIFICATE", &der);
    let mut issued = Issued {
        name: name.to_string(),
        der,
        pem,
        key_der: None,
        key_pem: String::new(),
        intermediates: Vec::new(),
        serial,
        crl: None,
    };
    let Some((key_path, key_label)) = &source.key else {
        return (issued, None);
    };
    let key = read_small(key_path, key_label).and_then(|bytes| {
        let bytes = without_bom(&bytes);
        let text = String::from_utf8_lossy(bytes);
        if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(format!(
                "{key_label}: the private key is encrypted; the lab needs it unencrypted (`openssl genrsa` without `-aes256`)"
            ));
        }
        let der = PrivateKeyDer::from_pem_slice(bytes).map_err(|_| {
            let hint = if text.contains("BEGIN CERTIFICATE") {
                " (it holds a certificate: the certificate and key files are swapped?)"
            } else {
                ""
            };
            format!("{key_label}: not a PEM private key: no `-----BEGIN PRIVATE KEY-----` (or RSA / EC) block{hint}")
        })?;
        let pair = KeyPair::try_from(&der)
            .map_err(|e| format!("{key_label}: unsupported private key: {e}"))?;
        if pair.public_key_raw() != spki.as_slice() {
            return Err(format!(
                "{key_label} does not match {}: the key's public key is not the certificate's",
                source.cert_label
            ));
        }
        Ok((der, text.into_owned(), pair))
    });
    match key {
        Ok((der, text, pair)) => {
            issued.key_der = Some(Arc::new(der));
            issued.key_pem = text;
            (issued, Some(pair))
        }
        Err(why) => {
            key_problems.insert(me, why);
            (issued, None)
        }
    }
}

/// `lab` with the subject, names and validity of every loaded certificate read from its file, in place of
/// the placeholders validation left (explanations and warnings then name what the files say). Only DNS and
/// IP subjectAltNames are read back: they are what explanations of `name_mismatch` list.
pub fn with_loaded_facts(lab: &Lab, pki: &Pki) -> Lab {
    let mut out = lab.clone();
    for (i, a) in out.authorities.iter_mut().enumerate() {
        if a.from.is_none() || pki.cert_problems.contains_key(&CertRef::Authority(i)) {
            continue;
        }
        if let Ok((_, x)) = X509Certificate::from_der(&pki.authorities[i].der) {
            a.subject = inspect::subject(x.subject());
            a.not_before = x.validity().not_before.to_datetime();
            a.not_after = x.validity().not_after.to_datetime();
        }
    }
    for (i, c) in out.certificates.iter_mut().enumerate() {
        if c.from.is_none() || pki.cert_problems.contains_key(&CertRef::Certificate(i)) {
            continue;
        }
        if let Ok((_, x)) = X509Certificate::from_der(&pki.certificates[i].der) {
            c.subject = inspect::subject(x.subject());
            c.not_before = x.validity().not_before.to_datetime();
            c.not_after = x.validity().not_after.to_datetime();
            c.san = inspect::sans(&x)
                .into_iter()
                .filter(|s| matches!(s, crate::lab::San::Dns(_) | crate::lab::San::Ip(_)))
                .collect();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/hostile")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn trusted_certificate_and_bom_give_the_plain_certificate() {
        let plain = parse_certificate_file(&fixture("ca.crt"), "ca.crt").unwrap();
        let trusted = parse_certificate_file(&fixture("ca-trusted.crt"), "t").unwrap();
        let bom = parse_certificate_file(&fixture("ca-bom.crt"), "b").unwrap();
        assert_eq!(trusted, plain);
        assert_eq!(bom, plain);
    }

    #[test]
    fn a_broken_trusted_certificate_block_is_an_error_naming_the_file() {
        let e = parse_certificate_file(b"-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n", "x.crt")
            .unwrap_err();
        assert!(e.starts_with("x.crt: malformed PEM: no `-----END"), "{e}");
        let e = parse_certificate_file(
            b"-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED CERTIFICATE-----\n",
            "x.crt",
        )
        .unwrap_err();
        assert!(e.starts_with("x.crt: not a valid X.509 certificate"), "{e}");
    }
}
