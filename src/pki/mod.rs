//! The lab's PKI, generated with rcgen: keys (in parallel), authorities in issuer order, then leaves.

pub mod export;

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CidrSubnet,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, RsaKeySize, SanType,
    SerialNumber,
};
use std::collections::HashMap;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::lab::{CertRef, Lab, NameConstraints, San, Source, Subtree};
use crate::lab::{KeyType, KeyUsage, RevocationReasonSpec, Subject, Usage};

/// A certificate with its key, ready for rustls and for export.
#[derive(Debug, Clone)]
pub struct Issued {
    pub name: String,
    pub der: CertificateDer<'static>,
    pub pem: String,
    key_der: Option<Arc<PrivateKeyDer<'static>>>,
    /// The private key as PEM; empty for a certificate loaded without one.
    pub key_pem: String,
    /// The intermediates between this certificate and its root, nearest first (the root itself is not included).
    pub intermediates: Vec<CertificateDer<'static>>,
    /// The serial number written into the certificate.
    pub serial: SerialNumber,
    /// For an authority that publishes one: its CRL, DER and PEM.
    pub crl: Option<(CertificateRevocationListDer<'static>, String)>,
}

impl Issued {
    /// The private key (PKCS#8 when generated; as written in the file when loaded). A certificate loaded without
    /// a key gives an empty one, which no provider loads: validation refuses to present such a certificate.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        match &self.key_der {
            Some(k) => k.clone_key(),
            None => PrivateKeyDer::Pkcs8(Vec::new().into()),
        }
    }

    /// Whether the private key is known.
    pub fn has_key(&self) -> bool {
        self.key_der.is_some()
    }

    /// A stand-in for a certificate that could not be loaded or issued; [`Pki::problem`] says why.
    fn unusable(name: &str) -> Issued {
        Issued {
            name: name.to_string(),
            der: CertificateDer::from(Vec::new()),
            pem: String::new(),
            key_der: None,
            key_pem: String::new(),
            intermediates: Vec::new(),
            serial: SerialNumber::from(0u64),
            crl: None,
        }
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
    /// Certificates that could not be loaded (file missing or malformed) or issued (their issuer is unusable), with why.
    pub cert_problems: HashMap<CertRef, String>,
    /// Loaded certificates whose key could not be used (missing, malformed, not the certificate's), with why; the certificate itself can still be checked.
    pub key_problems: HashMap<CertRef, String>,
}

impl Pki {
    /// The certificate (and key) a [`CertRef`] names.
    pub fn get(&self, r: CertRef) -> &Issued {
        match r {
            CertRef::Authority(i) => &self.authorities[i],
            CertRef::Certificate(i) => &self.certificates[i],
        }
    }

    /// Why a certificate cannot be used in a handshake or to sign, if it cannot.
    pub fn problem(&self, r: CertRef) -> Option<&str> {
        self.cert_problems
            .get(&r)
            .or_else(|| self.key_problems.get(&r))
            .map(String::as_str)
    }

    /// Every CRL the lab publishes.
    pub fn crls(&self) -> Vec<CertificateRevocationListDer<'static>> {
        self.authorities
            .iter()
            .filter_map(|a| a.crl.as_ref().map(|c| c.0.clone()))
            .collect()
    }
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
    #[error("cannot sign the CRL of `{name}`: {source}")]
    Crl { name: String, source: rcgen::Error },
}

/// Generates every key and certificate of `lab`.
pub fn build(lab: &Lab) -> Result<Pki, PkiError> {
    let wanted: Vec<(String, KeyType)> = lab
        .authorities
        .iter()
        .filter(|a| a.from.is_none())
        .map(|a| (a.name.clone(), a.key))
        .chain(
            lab.certificates
                .iter()
                .filter(|c| c.from.is_none())
                .map(|c| (c.name.clone(), c.key)),
        )
        .collect();
    let mut keys = generate_keys(&wanted)?.into_iter();
    let mut cert_problems = HashMap::new();
    let mut key_problems = HashMap::new();

    let mut issuers: Vec<Option<Issuer<'static, KeyPair>>> = Vec::new();
    let mut authorities: Vec<Issued> = Vec::new();
    for (index, a) in lab.authorities.iter().enumerate() {
        let me = CertRef::Authority(index);
        if let Some(source) = &a.from {
            let (issued, signer) = load(&a.name, source, me, &mut cert_problems, &mut key_problems);
            let intermediates = match a.issuer {
                Some(i) => authorities[i].chain_without_root(&lab.authorities[i].issuer),
                None => Vec::new(),
            };
            let issuer = signer.and_then(|k| Issuer::from_ca_cert_der(&issued.der, k).ok());
            authorities.push(Issued {
                intermediates,
                ..issued
            });
            issuers.push(issuer);
            continue;
        }
        let key = keys.next().expect("one key per generated authority");
        if let Some(i) = a.issuer {
            if issuers[i].is_none() {
                let why = unusable_issuer(lab, &a.name, i, &cert_problems, &key_problems);
                cert_problems.insert(me, why);
                authorities.push(Issued::unusable(&a.name));
                issuers.push(None);
                continue;
            }
        }
        let mut params = base_params(&a.subject, a.serial, a.not_before, a.not_after);
        params.is_ca = if a.ca {
            IsCa::Ca(match a.path_len {
                Some(n) => BasicConstraints::Constrained(n),
                None => BasicConstraints::Unconstrained,
            })
        } else {
            IsCa::ExplicitNoCa
        };
        params.name_constraints = a.name_constraints.as_ref().map(name_constraints);
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
                let signer = issuers[i].as_ref().expect("checked above");
                let cert = params.signed_by(&key, signer).map_err(issue)?;
                (
                    cert,
                    authorities[i].chain_without_root(&lab.authorities[i].issuer),
                )
            }
        };
        authorities.push(issued(
            &a.name,
            cert,
            &key,
            intermediates,
            params.serial_number.clone(),
        ));
        issuers.push(Some(Issuer::new(params, key)));
    }

    let mut certificates = Vec::new();
    for (index, c) in lab.certificates.iter().enumerate() {
        let me = CertRef::Certificate(index);
        let intermediates =
            authorities[c.issuer].chain_without_root(&lab.authorities[c.issuer].issuer);
        if let Some(source) = &c.from {
            let (issued, _) = load(&c.name, source, me, &mut cert_problems, &mut key_problems);
            certificates.push(Issued {
                intermediates,
                ..issued
            });
            continue;
        }
        let key = keys.next().expect("one key per generated certificate");
        let Some(signer) = issuers[c.issuer].as_ref() else {
            let why = unusable_issuer(lab, &c.name, c.issuer, &cert_problems, &key_problems);
            cert_problems.insert(me, why);
            certificates.push(Issued::unusable(&c.name));
            continue;
        };
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
        params.key_usages = match &c.key_usage {
            Some(bits) => bits.iter().map(|b| key_usage(*b)).collect(),
            None => {
                let mut v = vec![KeyUsagePurpose::DigitalSignature];
                if matches!(
                    c.key,
                    KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096
                ) {
                    v.push(KeyUsagePurpose::KeyEncipherment);
                }
                v
            }
        };
        if c.unknown_critical_extension {
            // ASN.1 NULL as the value of a private-arc OID nobody implements.
            let mut ext = rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 55555, 1],
                vec![0x05, 0x00],
            );
            ext.set_criticality(true);
            params.custom_extensions.push(ext);
        }
        if c.ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            if !params.key_usages.contains(&KeyUsagePurpose::KeyCertSign) {
                params.key_usages.push(KeyUsagePurpose::KeyCertSign);
            }
        }
        params.extended_key_usages = match c.usage {
            Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Usage::Both => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            Usage::None => vec![],
            Usage::CodeSigning => vec![ExtendedKeyUsagePurpose::CodeSigning],
        };
        let cert = params
            .signed_by(&key, signer)
            .map_err(|e| PkiError::Issue {
                name: c.name.clone(),
                source: e,
            })?;
        certificates.push(issued(
            &c.name,
            cert,
            &key,
            intermediates,
            params.serial_number.clone(),
        ));
    }
    for (i, a) in lab.authorities.iter().enumerate() {
        let Some(crl) = &a.crl else { continue };
        let revoked_certs = crl
            .revoked
            .iter()
            .map(|r| {
                let target = match r.target {
                    CertRef::Authority(t) => &authorities[t],
                    CertRef::Certificate(t) => &certificates[t],
                };
                RevokedCertParams {
                    serial_number: target.serial.clone(),
                    revocation_time: r.at,
                    reason_code: Some(revocation_reason(r.reason)),
                    invalidity_date: None,
                }
            })
            .collect();
        let params = CertificateRevocationListParams {
            this_update: crl.this_update,
            next_update: crl.next_update,
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let fail = |e| PkiError::Crl {
            name: a.name.clone(),
            source: e,
        };
        let Some(signer) = issuers[i].as_ref() else {
            // A loaded authority whose files are broken publishes no CRL; its problem is recorded.
            continue;
        };
        let signed = params.signed_by(signer).map_err(fail)?;
        let pem = signed.pem().map_err(fail)?;
        authorities[i].crl = Some((signed.der().clone(), pem));
    }
    Ok(Pki {
        authorities,
        certificates,
        cert_problems,
        key_problems,
    })
}

/// Why `name` could not be issued: its issuer (authority `issuer`) is unusable.
fn unusable_issuer(
    lab: &Lab,
    name: &str,
    issuer: usize,
    cert_problems: &HashMap<CertRef, String>,
    key_problems: &HashMap<CertRef, String>,
) -> String {
    let r = CertRef::Authority(issuer);
    let why = cert_problems
        .get(&r)
        .or_else(|| key_problems.get(&r))
        .map_or("it cannot sign".to_string(), |w| w.clone());
    format!(
        "cannot issue `{name}`: its issuer `{}` is unusable: {why}",
        lab.authorities[issuer].name
    )
}

/// Files larger than this are not certificates or keys.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads a small file, with a message that names it by its label and reads the same on every machine.
fn read_small(path: &std::path::Path, label: &str) -> Result<Vec<u8>, String> {
    let fail = |e: std::io::Error| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ if path.is_dir() => "it is a directory".to_string(),
            _ => e.to_string(),
        };
        format!("{label}: cannot read: {why}")
    };
    let meta = std::fs::metadata(path).map_err(fail)?;
    if meta.is_dir() {
        return Err(format!("{label}: cannot read: it is a directory"));
    }
    if meta.len() > MAX_PEM_BYTES {
        return Err(format!(
            "{label}: larger than 1 MiB; not a certificate or key"
        ));
    }
    std::fs::read(path).map_err(fail)
}

/// Parses a certificate file: PEM (the first certificate) or DER.
pub fn parse_certificate_file(
    bytes: &[u8],
    label: &str,
) -> Result<CertificateDer<'static>, String> {
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
    use x509_parser::prelude::FromDer;
    x509_parser::certificate::X509Certificate::from_der(&der)
        .map_err(|e| format!("{label}: not a valid X.509 certificate: {e}"))?;
    Ok(der)
}

/// Loads a certificate (and its key) from files. Problems are recorded under `me`; a broken certificate
/// gives a stand-in. Returns the key as a signer when the key loaded and matches.
fn load(
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
    use x509_parser::prelude::FromDer;
    let (serial, spki) = match x509_parser::certificate::X509Certificate::from_der(&der) {
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
    let pem = pem_of("CERTIFICATE", &der);
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
        let text = String::from_utf8_lossy(&bytes);
        if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(format!(
                "{key_label}: the private key is encrypted; the lab needs it unencrypted (`openssl genrsa` without `-aes256`)"
            ));
        }
        let der = PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
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

fn pem_of(tag: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {tag}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {tag}-----\n"));
    out
}

fn revocation_reason(r: RevocationReasonSpec) -> RevocationReason {
    match r {
        RevocationReasonSpec::Unspecified => RevocationReason::Unspecified,
        RevocationReasonSpec::KeyCompromise => RevocationReason::KeyCompromise,
        RevocationReasonSpec::CaCompromise => RevocationReason::CaCompromise,
        RevocationReasonSpec::AffiliationChanged => RevocationReason::AffiliationChanged,
        RevocationReasonSpec::Superseded => RevocationReason::Superseded,
        RevocationReasonSpec::CessationOfOperation => RevocationReason::CessationOfOperation,
        RevocationReasonSpec::CertificateHold => RevocationReason::CertificateHold,
        RevocationReasonSpec::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
        RevocationReasonSpec::AaCompromise => RevocationReason::AaCompromise,
    }
}

fn key_usage(k: KeyUsage) -> KeyUsagePurpose {
    match k {
        KeyUsage::DigitalSignature => KeyUsagePurpose::DigitalSignature,
        KeyUsage::ContentCommitment => KeyUsagePurpose::ContentCommitment,
        KeyUsage::KeyEncipherment => KeyUsagePurpose::KeyEncipherment,
        KeyUsage::DataEncipherment => KeyUsagePurpose::DataEncipherment,
        KeyUsage::KeyAgreement => KeyUsagePurpose::KeyAgreement,
        KeyUsage::KeyCertSign => KeyUsagePurpose::KeyCertSign,
        KeyUsage::CrlSign => KeyUsagePurpose::CrlSign,
    }
}

fn name_constraints(nc: &NameConstraints) -> rcgen::NameConstraints {
    let subtree = |s: &Subtree| match s {
        Subtree::Dns(v) => GeneralSubtree::DnsName(v.clone()),
        Subtree::Email(v) => GeneralSubtree::Rfc822Name(v.clone()),
        Subtree::Ip(addr, prefix) => {
            GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*addr, *prefix))
        }
    };
    rcgen::NameConstraints {
        permitted_subtrees: nc.permitted.iter().map(subtree).collect(),
        excluded_subtrees: nc.excluded.iter().map(subtree).collect(),
    }
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
    serial: Option<SerialNumber>,
) -> Issued {
    Issued {
        name: name.to_string(),
        der: cert.der().clone(),
        pem: cert.pem(),
        key_der: Some(Arc::new(PrivateKeyDer::Pkcs8(key.serialize_der().into()))),
        key_pem: key.serialize_pem(),
        intermediates,
        serial: serial.unwrap_or_else(|| SerialNumber::from(0u64)),
        crl: None,
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

/// `lab` with the subject, names and validity of every loaded certificate read from its file, in place of
/// the placeholders validation left (explanations and warnings then name what the files say).
pub fn with_loaded_facts(lab: &Lab, pki: &Pki) -> Lab {
    use x509_parser::prelude::FromDer;
    let mut out = lab.clone();
    let facts = |der: &[u8]| -> Option<(
        Subject,
        time::OffsetDateTime,
        time::OffsetDateTime,
        Vec<San>,
    )> {
        let (_, x) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
        let first = |it: &mut dyn Iterator<
            Item = &x509_parser::x509::AttributeTypeAndValue<'_>,
        >| { it.next().and_then(|a| a.as_str().ok().map(str::to_string)) };
        let s = x.subject();
        let subject = Subject {
            country: first(&mut s.iter_country()),
            state: first(&mut s.iter_state_or_province()),
            locality: first(&mut s.iter_locality()),
            organization: first(&mut s.iter_organization()),
            unit: first(&mut s.iter_organizational_unit()),
            common_name: first(&mut s.iter_common_name()),
        };
        let mut san = Vec::new();
        if let Ok(Some(ext)) = x.subject_alternative_name() {
            for g in &ext.value.general_names {
                match g {
                    x509_parser::extensions::GeneralName::DNSName(d) => {
                        san.push(San::Dns(d.to_string()))
                    }
                    x509_parser::extensions::GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            san.push(San::Ip(a.into()));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            san.push(San::Ip(a.into()));
                        }
                    }
                    _ => {}
                }
            }
        }
        Some((
            subject,
            x.validity().not_before.to_datetime(),
            x.validity().not_after.to_datetime(),
            san,
        ))
    };
    for (i, a) in out.authorities.iter_mut().enumerate() {
        if a.from.is_none() || pki.cert_problems.contains_key(&CertRef::Authority(i)) {
            continue;
        }
        if let Some((subject, nb, na, _)) = facts(&pki.authorities[i].der) {
            a.subject = subject;
            a.not_before = nb;
            a.not_after = na;
        }
    }
    for (i, c) in out.certificates.iter_mut().enumerate() {
        if c.from.is_none() || pki.cert_problems.contains_key(&CertRef::Certificate(i)) {
            continue;
        }
        if let Some((subject, nb, na, san)) = facts(&pki.certificates[i].der) {
            c.subject = subject;
            c.not_before = nb;
            c.not_after = na;
            c.san = san;
        }
    }
    out
}
