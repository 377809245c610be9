//! The lab's PKI, generated with rcgen: keys (in parallel), authorities in issuer order, then leaves.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, RsaKeySize, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::lab::{Lab, San};
use crate::spec::{KeyType, Subject, Usage};

/// A certificate with its key, ready for rustls and for export.
#[derive(Debug, Clone)]
pub struct Issued {
    pub name: String,
    pub der: CertificateDer<'static>,
    pub pem: String,
    key_der: Arc<Vec<u8>>,
    pub key_pem: String,
    /// The intermediates between this certificate and its root, nearest first (the root itself is not included).
    pub intermediates: Vec<CertificateDer<'static>>,
}

impl Issued {
    /// The private key, in PKCS#8.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.as_ref().clone()))
    }

    /// The certificate followed by its intermediates, as a TLS peer sends it.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        std::iter::once(self.der.clone())
            .chain(self.intermediates.iter().cloned())
            .collect()
    }
}

/// Every certificate of a lab, indexed like `Lab::authorities` and `Lab::certificates`.
#[derive(Debug, Clone)]
pub struct Pki {
    pub authorities: Vec<Issued>,
    pub certificates: Vec<Issued>,
}

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot generate the {key:?} key of `{name}`: {source}")]
    KeyGeneration {
        name: String,
        key: KeyType,
        source: rcgen::Error,
    },
    #[error("cannot issue `{name}`: {source}")]
    Issue { name: String, source: rcgen::Error },
}

/// Generates every key and certificate of `lab`.
pub fn build(lab: &Lab) -> Result<Pki, PkiError> {
    let wanted: Vec<(String, KeyType)> = lab
        .authorities
        .iter()
        .map(|a| (a.name.clone(), a.key))
        .chain(lab.certificates.iter().map(|c| (c.name.clone(), c.key)))
        .collect();
    let mut keys = generate_keys(&wanted)?.into_iter();

    let mut issuers: Vec<Issuer<'static, KeyPair>> = Vec::new();
    let mut authorities: Vec<Issued> = Vec::new();
    for a in &lab.authorities {
        let key = keys.next().expect("one key per authority");
        let mut params = base_params(&a.subject, a.serial, a.not_before, a.not_after);
        params.is_ca = IsCa::Ca(match a.path_len {
            Some(n) => BasicConstraints::Constrained(n),
            None => BasicConstraints::Unconstrained,
        });
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issue = |e| PkiError::Issue {
            name: a.name.clone(),
            source: e,
        };
        let (cert, intermediates) = match a.issuer {
            None => (params.self_signed(&key).map_err(issue)?, Vec::new()),
            Some(i) => {
                params.use_authority_key_identifier_extension = true;
                let cert = params.signed_by(&key, &issuers[i]).map_err(issue)?;
                (
                    cert,
                    authorities[i].chain_without_root(&lab.authorities[i].issuer),
                )
            }
        };
        authorities.push(issued(&a.name, cert, &key, intermediates));
        issuers.push(Issuer::new(params, key));
    }

    let mut certificates = Vec::new();
    for c in &lab.certificates {
        let key = keys.next().expect("one key per certificate");
        let mut params = base_params(&c.subject, c.serial, c.not_before, c.not_after);
        params.use_authority_key_identifier_extension = true;
        params.subject_alt_names = c
            .san
            .iter()
            .map(san_type)
            .collect::<Result<_, _>>()
            .map_err(|e| PkiError::Issue {
                name: c.name.clone(),
                source: e,
            })?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if matches!(
            c.key,
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096
        ) {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.extended_key_usages = match c.usage {
            Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Usage::Both => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            Usage::None => vec![],
        };
        let cert = params
            .signed_by(&key, &issuers[c.issuer])
            .map_err(|e| PkiError::Issue {
                name: c.name.clone(),
                source: e,
            })?;
        let intermediates =
            authorities[c.issuer].chain_without_root(&lab.authorities[c.issuer].issuer);
        certificates.push(issued(&c.name, cert, &key, intermediates));
    }
    Ok(Pki {
        authorities,
        certificates,
    })
}

impl Issued {
    /// This authority's certificate and its intermediates when it is itself an intermediate; nothing for a root.
    fn chain_without_root(&self, own_issuer: &Option<usize>) -> Vec<CertificateDer<'static>> {
        match own_issuer {
            None => Vec::new(),
            Some(_) => self.chain(),
        }
    }
}

fn issued(
    name: &str,
    cert: rcgen::Certificate,
    key: &KeyPair,
    intermediates: Vec<CertificateDer<'static>>,
) -> Issued {
    Issued {
        name: name.to_string(),
        der: cert.der().clone(),
        pem: cert.pem(),
        key_der: Arc::new(key.serialize_der()),
        key_pem: key.serialize_pem(),
        intermediates,
    }
}

fn base_params(
    subject: &Subject,
    serial: Option<u64>,
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(subject);
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(match serial {
        Some(n) => SerialNumber::from(n),
        None => random_serial(),
    });
    params
}

/// The subject in the order OpenSSL prints it: C, ST, L, O, OU, CN.
pub fn distinguished_name(s: &Subject) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (ty, value) in [
        (DnType::CountryName, &s.country),
        (DnType::StateOrProvinceName, &s.state),
        (DnType::LocalityName, &s.locality),
        (DnType::OrganizationName, &s.organization),
        (DnType::OrganizationalUnitName, &s.unit),
        (DnType::CommonName, &s.common_name),
    ] {
        if let Some(v) = value {
            dn.push(ty, v.as_str());
        }
    }
    dn
}

fn san_type(san: &San) -> Result<SanType, rcgen::Error> {
    Ok(match san {
        San::Dns(v) => SanType::DnsName(v.clone().try_into()?),
        San::Ip(v) => SanType::IpAddress(*v),
        San::Uri(v) => SanType::URI(v.clone().try_into()?),
        San::Email(v) => SanType::Rfc822Name(v.clone().try_into()?),
    })
}

/// A positive 128-bit serial from the system's secure random source, unique in practice.
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    if provider.secure_random.fill(&mut bytes).is_err() {
        // No randomness at all is a broken machine; fall back to the clock rather than a constant.
        let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        bytes.copy_from_slice(&nanos.to_be_bytes());
    }
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn generate_key(key: KeyType) -> Result<KeyPair, rcgen::Error> {
    match key {
        KeyType::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyType::Rsa3072 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
        KeyType::Rsa4096 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096),
        KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::EcdsaP521 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512),
        KeyType::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
    }
}

/// Generates the keys on all cores; RSA keys dominate, so they are spread first.
fn generate_keys(wanted: &[(String, KeyType)]) -> Result<Vec<KeyPair>, PkiError> {
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
