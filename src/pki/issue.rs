//! What rcgen issues: the parameters of authorities, leaf certificates and CRLs, from the validated model.
//!
//! Authorities get keyCertSign, cRLSign and digitalSignature and basicConstraints CA:TRUE (unless the lab
//! asks for a broken one); leaves get digitalSignature (and keyEncipherment for RSA, as OpenSSL's
//! defaults do) and the extended key usage of their `usage`. Serial numbers are random 128-bit positive
//! integers unless the lab fixes one (RFC 5280 §4.1.2.2: at most 20 octets, positive).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CidrSubnet,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::lab::{Authority, CertRef, Certificate, Crl, NameConstraints, San, Subtree};
use crate::lab::{EkuPurpose, KeyType, KeyUsage, RevocationReasonSpec, Subject};
use crate::pki::Issued;

/// The parameters of authority `a` (its issuer, if any, signs them; the caller sets the authority key
/// identifier then).
pub fn authority_params(a: &Authority) -> CertificateParams {
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
    params.key_usages = match &a.key_usage {
        Some(bits) => bits.iter().map(|b| key_usage(*b)).collect(),
        None => vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ],
    };
    params.extended_key_usages = extended_key_usages(a.eku.as_deref());
    if a.unknown_critical_extension {
        params.custom_extensions.push(unknown_critical_extension());
    }
    params
}

/// The purposes of an extended key usage extension, in the lab's order; none (no extension) for `None`.
fn extended_key_usages(eku: Option<&[EkuPurpose]>) -> Vec<ExtendedKeyUsagePurpose> {
    eku.unwrap_or_default()
        .iter()
        .map(|p| match p {
            EkuPurpose::Any => ExtendedKeyUsagePurpose::Any,
            EkuPurpose::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
            EkuPurpose::CodeSigning => ExtendedKeyUsagePurpose::CodeSigning,
            EkuPurpose::EmailProtection => ExtendedKeyUsagePurpose::EmailProtection,
            EkuPurpose::OcspSigning => ExtendedKeyUsagePurpose::OcspSigning,
            EkuPurpose::Oid(arcs) => ExtendedKeyUsagePurpose::Other(arcs.clone()),
            EkuPurpose::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
            EkuPurpose::TimeStamping => ExtendedKeyUsagePurpose::TimeStamping,
        })
        .collect()
}

/// A critical extension no verifier implements: ASN.1 NULL as the value of a private-arc OID.
fn unknown_critical_extension() -> rcgen::CustomExtension {
    let mut ext =
        rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![0x05, 0x00]);
    ext.set_criticality(true);
    ext
}

/// The parameters of leaf certificate `c`.
///
/// # Errors
/// rcgen's error when a subjectAltName is not an IA5 string (validation has already checked the names).
pub fn leaf_params(c: &Certificate) -> Result<CertificateParams, rcgen::Error> {
    let mut params = base_params(&c.subject, c.serial, c.not_before, c.not_after);
    params.use_authority_key_identifier_extension = true;
    params.subject_alt_names = c.san.iter().map(san_type).collect::<Result<_, _>>()?;
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
        params.custom_extensions.push(unknown_critical_extension());
    }
    if c.ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        if !params.key_usages.contains(&KeyUsagePurpose::KeyCertSign) {
            params.key_usages.push(KeyUsagePurpose::KeyCertSign);
        }
    }
    params.extended_key_usages = extended_key_usages(c.eku.as_deref());
    Ok(params)
}

/// The parameters of a CRL (number 1, SHA-256 key identifier) listing `crl.revoked`; `serial_of` gives the
/// serial number of each revoked certificate.
pub fn crl_params(
    crl: &Crl,
    serial_of: impl Fn(CertRef) -> SerialNumber,
) -> CertificateRevocationListParams {
    let revoked_certs = crl
        .revoked
        .iter()
        .map(|r| RevokedCertParams {
            serial_number: serial_of(r.target),
            revocation_time: r.at,
            reason_code: Some(revocation_reason(r.reason)),
            invalidity_date: None,
        })
        .collect();
    CertificateRevocationListParams {
        this_update: crl.this_update,
        next_update: crl.next_update,
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    }
}

/// A generated certificate with its key (PKCS#8), ready for rustls and for export.
pub fn issued(
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
        key_der: Some(Arc::new(PrivateKeyDer::Pkcs8(
            super::keys::pkcs8_der(key).into(),
        ))),
        key_pem: super::keys::pkcs8_pem(key),
        intermediates,
        serial: serial.unwrap_or_else(|| SerialNumber::from(0u64)),
        crl: None,
    }
}

/// The fields every certificate shares: subject, validity and serial (random unless fixed).
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

/// The subject of certificate `der` with each attribute's string type kept (PrintableString, UTF8String,
/// IA5String), so that a certificate issued under it names an issuer byte for byte as the original
/// (webpki matches names exactly, RFC 5280 §7.1); `None` when it does not parse or holds an attribute
/// of another type or a multi-valued RDN.
pub fn name_as_encoded(der: &[u8]) -> Option<DistinguishedName> {
    use x509_parser::der_parser::asn1_rs::Tag;
    use x509_parser::prelude::FromDer;
    let (_, x) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let mut dn = DistinguishedName::new();
    for rdn in x.subject().iter() {
        let mut attrs = rdn.iter();
        let attr = attrs.next()?;
        if attrs.next().is_some() {
            return None;
        }
        let oid: Vec<u64> = attr.attr_type().iter()?.collect();
        let text = std::str::from_utf8(attr.attr_value().data).ok()?;
        let value = match attr.attr_value().header.tag() {
            Tag::PrintableString => rcgen::DnValue::PrintableString(text.try_into().ok()?),
            Tag::Ia5String => rcgen::DnValue::Ia5String(text.try_into().ok()?),
            Tag::Utf8String => rcgen::DnValue::Utf8String(text.to_string()),
            _ => return None,
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Some(dn)
}

/// A subjectAltName entry as rcgen writes it (RFC 5280 §4.2.1.6: dNSName, iPAddress, URI, rfc822Name).
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

/// The CRL reason code (RFC 5280 §5.3.1).
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

/// A keyUsage bit (RFC 5280 §4.2.1.3).
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

/// Permitted and excluded subtrees (RFC 5280 §4.2.1.10).
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
