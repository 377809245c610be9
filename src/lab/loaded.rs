//! What the model reads from a `from:` certificate file while it is built: the subject and the key type
//! (a battery's rogue CA takes a loaded root's name and key type, and a mismatched key is of the loaded
//! certificate's type). The one reader of subjects from X.509 names (`pki::inspect` re-exports it).

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use crate::lab::{KeyType, Source, Subject};

/// Files larger than this are not certificates (as `pki::load` reads them).
const MAX_BYTES: u64 = 1024 * 1024;

/// The subject and key type of a loaded certificate.
#[derive(Debug, Clone)]
pub struct Facts {
    pub subject: Subject,
    pub key: KeyType,
}

/// Reads the first certificate of `source`'s certificate file (PEM or DER, at most 1 MiB, a leading byte
/// order mark skipped, as `pki::load` reads it) for its [`Facts`].
///
/// # Errors
/// Why it cannot: the file cannot be read, holds no certificate, or a key of a type the lab cannot make
/// (e.g. an RSA modulus other than 2048, 3072 or 4096 bits, or a curve other than P-256, P-384, P-521).
pub fn facts(source: &Source) -> Result<Facts, String> {
    let label = &source.cert_label;
    let bytes = crate::lab::load::read_regular(Path::new(&source.cert), MAX_BYTES)
        .map_err(|e| format!("{label}: cannot read: {e}"))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let der = match CertificateDer::pem_slice_iter(bytes).next() {
        Some(Ok(der)) => der.to_vec(),
        _ if bytes.first() == Some(&0x30) => bytes.to_vec(),
        _ => return Err(format!("{label}: no certificate in it")),
    };
    let (_, x) = X509Certificate::from_der(&der)
        .map_err(|e| format!("{label}: not a valid X.509 certificate: {e}"))?;
    let key = key_type(&x)
        .ok_or_else(|| format!("{label}: its key is of a type or size the lab cannot generate"))?;
    Ok(Facts {
        subject: subject(x.subject()),
        key,
    })
}

/// The lab's key type of `x`'s public key (RSA by modulus size, ECDSA by curve, Ed25519); `None` for
/// any other.
fn key_type(x: &X509Certificate<'_>) -> Option<KeyType> {
    use x509_parser::public_key::PublicKey;
    let spki = x.public_key();
    if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" {
        return Some(KeyType::Ed25519);
    }
    match spki.parsed().ok()? {
        PublicKey::RSA(rsa) => match rsa.key_size() {
            2048 => Some(KeyType::Rsa2048),
            3072 => Some(KeyType::Rsa3072),
            4096 => Some(KeyType::Rsa4096),
            _ => None,
        },
        PublicKey::EC(_) => {
            let curve = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
            match curve.to_id_string().as_str() {
                "1.2.840.10045.3.1.7" => Some(KeyType::EcdsaP256),
                "1.3.132.0.34" => Some(KeyType::EcdsaP384),
                "1.3.132.0.35" => Some(KeyType::EcdsaP521),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The attributes of `name` the lab models: the first C, ST, L, O, OU and CN, each `None` when absent or
/// not a string.
pub fn subject(name: &X509Name<'_>) -> Subject {
    Subject {
        country: first(name.iter_country()),
        state: first(name.iter_state_or_province()),
        locality: first(name.iter_locality()),
        organization: first(name.iter_organization()),
        unit: first(name.iter_organizational_unit()),
        common_name: first(name.iter_common_name()),
    }
}

fn first<'a>(mut it: impl Iterator<Item = &'a AttributeTypeAndValue<'a>>) -> Option<String> {
    it.next().and_then(|a| a.as_str().ok().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(path: &str) -> Source {
        Source {
            cert: Path::new(env!("CARGO_MANIFEST_DIR")).join(path),
            cert_label: path.to_string(),
            key: None,
        }
    }

    #[test]
    fn an_openssl_made_ca_gives_its_subject_and_key_type() {
        let f = facts(&source("tests/fixtures/seed/good/ca/ca.crt")).unwrap();
        assert_eq!(f.key, KeyType::Rsa4096);
        assert_eq!(f.subject.country.as_deref(), Some("US"));
        assert_eq!(
            f.subject.common_name.as_deref(),
            Some("Lab Certificate Authority")
        );
    }

    #[test]
    fn a_file_that_is_not_a_certificate_says_why() {
        let e = facts(&source("tests/fixtures/seed/good/ca/ca.key")).unwrap_err();
        assert_eq!(
            e,
            "tests/fixtures/seed/good/ca/ca.key: no certificate in it"
        );
        let e = facts(&source("tests/fixtures/seed/good/ca/missing.crt")).unwrap_err();
        assert!(
            e.starts_with("tests/fixtures/seed/good/ca/missing.crt: cannot read"),
            "{e}"
        );
    }
}
