//! Key generation: every generated authority's and certificate's key, on all cores at once (RSA keys
//! dominate the time a PKI takes).

use rcgen::{KeyPair, RsaKeySize};
use rustls::pki_types::PrivatePkcs8KeyDer;

use crate::lab::{KeyType, Lab, SignatureAlgorithm};
use crate::pki::PkiError;

/// The keys `lab` generates, in order: each authority without `from:` that owns its key (no `key_of`), then
/// each certificate without `from:`.
pub fn wanted(lab: &Lab) -> Vec<(String, KeyType)> {
    lab.authorities
        .iter()
        .filter(|a| a.from.is_none() && a.key_of.is_none())
        .map(|a| (a.name.clone(), a.key))
        .chain(
            lab.certificates
                .iter()
                .filter(|c| c.from.is_none())
                .map(|c| (c.name.clone(), c.key)),
        )
        .collect()
}

/// One key of type `key`: RSA with PKCS#1 v1.5 SHA-256 signatures, ECDSA on its curve's hash, or Ed25519.
pub fn generate_key(key: KeyType) -> Result<KeyPair, rcgen::Error> {
    match rsa_bits(key) {
        Some(2048) => KeyPair::generate_rsa_for(algorithm(key), RsaKeySize::_2048),
        Some(3072) => KeyPair::generate_rsa_for(algorithm(key), RsaKeySize::_3072),
        Some(_) => KeyPair::generate_rsa_for(algorithm(key), RsaKeySize::_4096),
        None => KeyPair::generate_for(algorithm(key)),
    }
}

/// `key`'s private key as unencrypted PKCS#8 DER, Ed25519 in version 1 (RFC 5208: no public key).
///
/// rcgen (through aws-lc-rs) writes Ed25519 keys as PKCS#8 v2 (RFC 5958, with the public key), which
/// OpenSSL 3.0 (`openssl pkey`, and so Python's `ssl` and curl linked to it) refuses to read; every
/// program reads v1, the form `openssl genpkey -algorithm ED25519` writes. aws-lc-rs's own encoder
/// (`Ed25519KeyPair::to_pkcs8v1`) re-encodes it. Other key types are returned as rcgen writes them.
pub fn pkcs8_der(key: &KeyPair) -> Vec<u8> {
    let der = key.serialize_der();
    if key.algorithm() != &rcgen::PKCS_ED25519 {
        return der;
    }
    let v1 = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&der)
        .ok()
        .and_then(|k| k.to_pkcs8v1().ok());
    // A key rcgen generated always parses; were it ever not to, v2 is still a valid PKCS#8 key.
    v1.map_or(der, |doc| doc.as_ref().to_vec())
}

/// [`pkcs8_der`] as a `PRIVATE KEY` PEM block.
pub fn pkcs8_pem(key: &KeyPair) -> String {
    crate::pki::export::pem_block("PRIVATE KEY", &pkcs8_der(key))
}

/// rcgen's signature algorithm for a `key` of this type signing with `signature`; `None` where rcgen has none
/// (validation refuses those: [`KeyType::signatures`] lists what fits).
pub fn rcgen_algorithm(
    key: KeyType,
    signature: SignatureAlgorithm,
) -> Option<&'static rcgen::SignatureAlgorithm> {
    use SignatureAlgorithm as S;
    let rsa = matches!(key, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096);
    Some(match (key, signature) {
        (_, S::RsaPkcs1Sha256) if rsa => &rcgen::PKCS_RSA_SHA256,
        (_, S::RsaPkcs1Sha384) if rsa => &rcgen::PKCS_RSA_SHA384,
        (_, S::RsaPkcs1Sha512) if rsa => &rcgen::PKCS_RSA_SHA512,
        (KeyType::EcdsaP256, S::EcdsaSha256) => &rcgen::PKCS_ECDSA_P256_SHA256,
        (KeyType::EcdsaP384, S::EcdsaSha384) => &rcgen::PKCS_ECDSA_P384_SHA384,
        (KeyType::EcdsaP521, S::EcdsaSha256) => &rcgen::PKCS_ECDSA_P521_SHA256,
        (KeyType::EcdsaP521, S::EcdsaSha384) => &rcgen::PKCS_ECDSA_P521_SHA384,
        (KeyType::EcdsaP521, S::EcdsaSha512) => &rcgen::PKCS_ECDSA_P521_SHA512,
        (KeyType::Ed25519, S::Ed25519) => &rcgen::PKCS_ED25519,
        _ => return None,
    })
}

/// The key (PKCS#8 `der`, of type `key`) as an rcgen signer using `signature` (the key's own algorithm when
/// `None`): what a cross-signed authority or an issuer's `signature:` signs with.
///
/// # Errors
/// `rcgen::Error::UnsupportedSignatureAlgorithm` when rcgen cannot sign so (validation refuses it first), or
/// rcgen's error reading the key.
pub fn signer(
    der: &[u8],
    key: KeyType,
    signature: Option<SignatureAlgorithm>,
) -> Result<KeyPair, rcgen::Error> {
    let signature = signature.unwrap_or(key.signatures()[0]);
    let alg = rcgen_algorithm(key, signature).ok_or(rcgen::Error::UnsupportedSignatureAlgorithm)?;
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), alg)
}

/// The signature algorithm a key of type `key` signs with.
fn algorithm(key: KeyType) -> &'static rcgen::SignatureAlgorithm {
    match key {
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        KeyType::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyType::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyType::EcdsaP521 => &rcgen::PKCS_ECDSA_P521_SHA512,
        KeyType::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

/// The modulus size of an RSA key type; `None` for the others.
fn rsa_bits(key: KeyType) -> Option<usize> {
    match key {
        KeyType::Rsa2048 => Some(2048),
        KeyType::Rsa3072 => Some(3072),
        KeyType::Rsa4096 => Some(4096),
        _ => None,
    }
}

/// The key type as a lab file writes it (`rsa4096`, `ecdsa-p256`, ...).
pub fn label(key: KeyType) -> &'static str {
    match key {
        KeyType::Rsa2048 => "rsa2048",
        KeyType::Rsa3072 => "rsa3072",
        KeyType::Rsa4096 => "rsa4096",
        KeyType::EcdsaP256 => "ecdsa-p256",
        KeyType::EcdsaP384 => "ecdsa-p384",
        KeyType::EcdsaP521 => "ecdsa-p521",
        KeyType::Ed25519 => "ed25519",
    }
}

/// A PKCS#8 PEM private key read back (from a PKI directory or the key cache) as a key of type `key`:
/// `None` unless it parses as that algorithm and, for RSA, has that modulus size, so that a key of another
/// type or size put in its place is never used.
pub fn parse_key(pem: &str, key: KeyType) -> Option<KeyPair> {
    let pair = KeyPair::from_pkcs8_pem_and_sign_algo(pem, algorithm(key)).ok()?;
    if let Some(bits) = rsa_bits(key) {
        use x509_parser::prelude::FromDer;
        let spki = rcgen::PublicKeyData::subject_public_key_info(&pair);
        let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki).ok()?;
        match info.parsed().ok()? {
            x509_parser::public_key::PublicKey::RSA(rsa) if rsa.key_size() == bits => {}
            _ => return None,
        }
    }
    Some(pair)
}

/// Where a key of a build came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Generated by this build.
    Generated,
    /// Taken from the key cache.
    Cached,
    /// Read back from the PKI directory.
    Kept,
}

/// The `wanted` keys (name and type, in [`wanted`] order): each one `prior` gives (a key read back), else
/// one from `cache` for `lab_file`, else generated on all cores (and then stored in `cache`; a key that
/// cannot be stored is only logged). Returns them in the same order, with where each came from.
///
/// # Errors
/// [`PkiError::KeyGeneration`] for the first key (in order) that rcgen could not generate.
pub fn obtain_keys(
    wanted: &[(String, KeyType)],
    mut prior: impl FnMut(usize) -> Option<KeyPair>,
    cache: Option<(&super::cache::KeyCache, &std::path::Path)>,
) -> Result<Vec<(KeyPair, KeyOrigin)>, PkiError> {
    let mut have: Vec<Option<(KeyPair, KeyOrigin)>> = Vec::with_capacity(wanted.len());
    for (i, (name, key)) in wanted.iter().enumerate() {
        let found = prior(i).map(|k| (k, KeyOrigin::Kept)).or_else(|| {
            let (cache, lab_file) = cache?;
            cache
                .get(lab_file, name, *key)
                .map(|k| (k, KeyOrigin::Cached))
        });
        have.push(found);
    }
    let missing: Vec<(String, KeyType)> = wanted
        .iter()
        .zip(&have)
        .filter(|(_, h)| h.is_none())
        .map(|(w, _)| w.clone())
        .collect();
    let mut fresh = generate_keys(&missing)?.into_iter().zip(missing);
    have.into_iter()
        .map(|h| match h {
            Some(k) => Ok(k),
            None => {
                let (pair, (name, key)) =
                    fresh.next().expect("one generated key per key not found");
                if let Some((cache, lab_file)) = cache {
                    if let Err(e) = cache.put(lab_file, &name, key, &pair) {
                        tracing::warn!("cannot store the key of `{name}` in the key cache: {e}");
                    }
                }
                Ok((pair, KeyOrigin::Generated))
            }
        })
        .collect()
}

/// Generates the `wanted` keys (name and type) on all cores; returns them in the same order.
///
/// # Errors
/// [`PkiError::KeyGeneration`] for the first key (in order) that rcgen could not generate.
pub fn generate_keys(wanted: &[(String, KeyType)]) -> Result<Vec<KeyPair>, PkiError> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(wanted.len().max(1));
    let mut slots: Vec<Option<Result<KeyPair, rcgen::Error>>> =
        (0..wanted.len()).map(|_| None).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((_, key)) = wanted.get(i) else { break };
                let k = generate_key(*key);
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(k);
                }
            });
        }
    });
    slots
        .into_iter()
        .zip(wanted)
        .map(|(slot, (name, key))| match slot {
            Some(Ok(k)) => Ok(k),
            Some(Err(source)) => Err(PkiError::KeyGeneration {
                name: name.clone(),
                key: *key,
                source,
            }),
            None => Err(PkiError::KeyGeneration {
                name: name.clone(),
                key: *key,
                source: rcgen::Error::KeyGenerationUnavailable,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What validation lets through ([`KeyType::signatures`]) is exactly what rcgen can sign.
    #[test]
    fn every_signature_validation_allows_is_one_rcgen_signs_and_no_other() {
        use SignatureAlgorithm as S;
        let keys = [
            KeyType::Rsa2048,
            KeyType::EcdsaP256,
            KeyType::EcdsaP384,
            KeyType::EcdsaP521,
            KeyType::Ed25519,
        ];
        let algs = [
            S::RsaPkcs1Sha256,
            S::RsaPkcs1Sha384,
            S::RsaPkcs1Sha512,
            S::RsaPssSha256,
            S::RsaPssSha384,
            S::RsaPssSha512,
            S::EcdsaSha256,
            S::EcdsaSha384,
            S::EcdsaSha512,
            S::Ed25519,
        ];
        for key in keys {
            let der = generate_key(key).unwrap().serialize_der();
            for alg in algs {
                let allowed = key.signatures().contains(&alg);
                assert_eq!(
                    rcgen_algorithm(key, alg).is_some(),
                    allowed,
                    "{key:?} {alg:?}"
                );
                assert_eq!(
                    signer(&der, key, Some(alg)).is_ok(),
                    allowed,
                    "{key:?} {alg:?}"
                );
            }
        }
    }
}
