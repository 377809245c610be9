//! Certificate checks: the properties a lab's `checks` assert of a certificate, generated or loaded, each failed property with its own message.

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::lab::{CertRef, Check, Lab, San};
use crate::lab::{KeyAlgorithm, KeyUsage, Purpose, Subject};
use crate::pki::inspect::{self, SanEntry};
use crate::pki::Pki;

/// One property of a check, and why it failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Property {
    /// The property's field name in the check (`san_contains`, `eku`, ...).
    pub property: &'static str,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How a certificate is named in messages: the path it was loaded from, else `certificate `NAME``.
pub fn label(lab: &Lab, r: CertRef) -> String {
    let from = match r {
        CertRef::Authority(i) => &lab.authorities[i].from,
        CertRef::Certificate(i) => &lab.certificates[i].from,
    };
    match from {
        Some(f) => f.cert_label.clone(),
        None => format!("`{}`", lab.name_of(r)),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn dn(name: &X509Name<'_>) -> String {
    let s = name.to_string();
    if s.is_empty() {
        "an empty name".into()
    } else {
        s
    }
}

/// Evaluates every property `check` asserts, at verification time `at`. `Err` when the certificate itself could not be loaded.
pub fn evaluate(
    lab: &Lab,
    pki: &Pki,
    check: &Check,
    at: OffsetDateTime,
) -> Result<Vec<Property>, String> {
    if let Some(why) = pki.cert_problems.get(&check.certificate) {
        return Err(why.clone());
    }
    let label = label(lab, check.certificate);
    let der = &pki.get(check.certificate).der;
    let (_, x) = X509Certificate::from_der(der)
        .map_err(|e| format!("{label}: not a valid X.509 certificate: {e}"))?;
    let mut out = Vec::new();
    let mut put = |property: &'static str, failures: Vec<String>| {
        if failures.is_empty() {
            out.push(Property {
                property,
                passed: true,
                message: None,
            });
        }
        for m in failures {
            out.push(Property {
                property,
                passed: false,
                message: Some(m),
            });
        }
    };
    if let Some(target) = check.chains_to {
        put("chains_to", chains_to(lab, pki, &x, der, target, &label));
    }
    if let Some(s) = &check.subject {
        put("subject", subject(&x, s, &label));
    }
    if !check.san_contains.is_empty() {
        put("san_contains", san(&x, &check.san_contains, &label));
    }
    if let Some(p) = check.eku {
        put("eku", eku(&x, p, &label));
    }
    if let Some(k) = check.key {
        put("key", key(&x, k.kind, k.min_bits, &label));
    }
    let bc = x
        .basic_constraints()
        .ok()
        .flatten()
        .map(|b| (b.value.ca, b.value.path_len_constraint));
    if let Some(want) = check.ca {
        let is_ca = bc.is_some_and(|b| b.0);
        let m = match (want, is_ca) {
            (true, false) => vec![format!("{label}: not a CA certificate (no basicConstraints CA:TRUE); verifiers refuse it as an issuer (issuer_not_ca)")],
            (false, true) => vec![format!("{label}: a CA certificate (basicConstraints CA:TRUE) where an end-entity certificate belongs; peers refuse it (ca_used_as_leaf)")],
            _ => vec![],
        };
        put("ca", m);
    }
    if let Some(want) = check.path_len {
        let have = bc.and_then(|b| b.1);
        let m = if have == Some(u32::from(want)) {
            vec![]
        } else {
            vec![format!(
                "{label}: basicConstraints path length is {}, expected {want}",
                have.map_or("not set (unlimited)".to_string(), |n| n.to_string())
            )]
        };
        put("path_len", m);
    }
    if !check.key_usage.is_empty() {
        put("key_usage", key_usage(&x, &check.key_usage, &label));
    }
    let not_before = x.validity().not_before.to_datetime();
    let not_after = x.validity().not_after.to_datetime();
    if check.valid_now {
        let m = if at > not_after {
            vec![format!(
                "{label}: expired on {} (expired)",
                rfc3339(not_after)
            )]
        } else if at < not_before {
            vec![format!(
                "{label}: not valid until {} (not_yet_valid)",
                rfc3339(not_before)
            )]
        } else {
            vec![]
        };
        put("valid_now", m);
    }
    if let Some(d) = check.valid_for_at_least {
        let m = if not_after - at < d {
            vec![format!(
                "{label}: valid until {}, less than the {} days required from the verification time",
                rfc3339(not_after),
                d.whole_days()
            )]
        } else {
            vec![]
        };
        put("valid_for_at_least", m);
    }
    if check.v3 {
        let v = x.version().0 + 1;
        let m = if v == 3 {
            vec![]
        } else {
            vec![format!("{label}: X.509 version {v}; TLS verifiers (rustls, Python 3.13) refuse certificates that are not version 3 (unsupported_cert_version)")]
        };
        put("v3", m);
    }
    if check.key_matches {
        let m = match pki.key_problems.get(&check.certificate) {
            Some(why) => vec![why.clone()],
            None => vec![],
        };
        put("key_matches", m);
    }
    Ok(out)
}

/// Walks issuer names and signatures from the certificate up to authority `target`, through the lab's authorities.
fn chains_to(
    lab: &Lab,
    pki: &Pki,
    x: &X509Certificate<'_>,
    der: &[u8],
    target: usize,
    label: &str,
) -> Vec<String> {
    let target_name = &lab.authorities[target].name;
    if let Some(why) = pki.cert_problems.get(&CertRef::Authority(target)) {
        return vec![format!(
            "{label}: cannot check the chain: authority `{target_name}` is unusable: {why}"
        )];
    }
    let parsed: Vec<Option<X509Certificate<'_>>> = pki
        .authorities
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if pki.cert_problems.contains_key(&CertRef::Authority(i)) {
                None
            } else {
                X509Certificate::from_der(&a.der).ok().map(|(_, c)| c)
            }
        })
        .collect();
    let Some(t) = parsed[target].as_ref() else {
        return vec![format!(
            "{label}: cannot check the chain: authority `{target_name}` is not a valid certificate"
        )];
    };
    let mut current: X509Certificate<'_> = x.clone();
    let mut current_der: &[u8] = der;
    for _ in 0..8 {
        // The target itself (a self-signed root checked against itself).
        if current_der == pki.authorities[target].der.as_ref()
            && current.verify_signature(None).is_ok()
        {
            return vec![];
        }
        if current.issuer().as_raw() == t.subject().as_raw() {
            if current.verify_signature(Some(t.public_key())).is_ok() {
                return vec![];
            }
            return vec![format!(
                "{label}: its issuer is named like `{target_name}` ({}) but the signature does not verify with `{target_name}`'s key: another key signed it (bad_signature)",
                dn(t.subject())
            )];
        }
        // Up through another authority of the lab that issued it.
        let next = parsed.iter().enumerate().find(|(i, a)| {
            a.as_ref().is_some_and(|a| {
                *i != target
                    && a.subject().as_raw() == current.issuer().as_raw()
                    && pki.authorities[*i].der.as_ref() != current_der
                    && current.verify_signature(Some(a.public_key())).is_ok()
            })
        });
        match next {
            Some((i, Some(a))) => {
                current = a.clone();
                current_der = pki.authorities[i].der.as_ref();
            }
            _ => break,
        }
    }
    vec![format!(
        "{label}: does not chain to `{target_name}` ({}): it is issued by {} (unknown_issuer)",
        dn(t.subject()),
        dn(x.issuer())
    )]
}

fn subject(x: &X509Certificate<'_>, want: &Subject, label: &str) -> Vec<String> {
    let s = inspect::subject(x.subject());
    let fields: [(&str, &Option<String>, Option<String>); 6] = [
        ("C", &want.country, s.country),
        ("ST", &want.state, s.state),
        ("L", &want.locality, s.locality),
        ("O", &want.organization, s.organization),
        ("OU", &want.unit, s.unit),
        ("CN", &want.common_name, s.common_name),
    ];
    let mut out = Vec::new();
    for (f, want, have) in fields {
        let Some(want) = want else { continue };
        match have {
            Some(h) if h == *want => {}
            Some(h) => out.push(format!("{label}: subject {f} is `{h}`, expected `{want}`")),
            None => out.push(format!("{label}: subject has no {f}, expected `{want}`")),
        }
    }
    out
}

fn san(x: &X509Certificate<'_>, want: &[San], label: &str) -> Vec<String> {
    let Some(entries) = inspect::san_entries(x) else {
        return vec![format!(
            "{label}: no subjectAltName; TLS clients such as rustls and browsers ignore the CN"
        )];
    };
    // DNS names compare without case (RFC 4343); other entry kinds are not names a check asks for.
    let have: Vec<San> = entries
        .into_iter()
        .filter_map(|e| match e {
            SanEntry::Name(San::Dns(d)) => Some(San::Dns(d.to_ascii_lowercase())),
            SanEntry::Name(s) => Some(s),
            SanEntry::Other(_) => None,
        })
        .collect();
    let listed = if have.is_empty() {
        "no DNS name, IP address, URI or email".to_string()
    } else {
        have.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    want.iter()
        .filter(|w| {
            let w = match w {
                San::Dns(d) => San::Dns(d.to_ascii_lowercase()),
                other => (*other).clone(),
            };
            !have.contains(&w)
        })
        .map(|w| format!("{label}: subjectAltName lacks {w} (it has {listed})"))
        .collect()
}

fn eku(x: &X509Certificate<'_>, want: Purpose, label: &str) -> Vec<String> {
    let Ok(Some(ext)) = x.extended_key_usage() else {
        return vec![]; // No extension: every use is allowed.
    };
    let e = ext.value;
    let mut allows = Vec::new();
    for (on, name) in [
        (e.any, "anyExtendedKeyUsage"),
        (e.server_auth, "serverAuth"),
        (e.client_auth, "clientAuth"),
        (e.code_signing, "codeSigning"),
        (e.email_protection, "emailProtection"),
        (e.time_stamping, "timeStamping"),
        (e.ocsp_signing, "OCSPSigning"),
    ] {
        if on {
            allows.push(name);
        }
    }
    let allows = if allows.is_empty() {
        "nothing TLS knows".to_string()
    } else {
        allows.join(", ")
    };
    let mut out = Vec::new();
    if matches!(want, Purpose::Server | Purpose::Both) && !(e.server_auth || e.any) {
        out.push(format!("{label}: extended key usage does not allow TLS server authentication (it allows {allows}); clients reject it as a server certificate (wrong_purpose)"));
    }
    if matches!(want, Purpose::Client | Purpose::Both) && !(e.client_auth || e.any) {
        out.push(format!("{label}: extended key usage does not allow TLS client authentication (it allows {allows}); servers reject it as a client certificate (wrong_purpose)"));
    }
    out
}

/// The key's algorithm and size, e.g. (`Rsa`, 2048, "RSA 2048-bit").
fn key_facts(x: &X509Certificate<'_>) -> (Option<KeyAlgorithm>, u32, String) {
    use x509_parser::public_key::PublicKey;
    let spki = x.public_key();
    let oid = spki.algorithm.algorithm.to_id_string();
    if oid == "1.3.101.112" {
        return (Some(KeyAlgorithm::Ed25519), 256, "Ed25519".into());
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size() as u32;
            (Some(KeyAlgorithm::Rsa), bits, format!("RSA {bits}-bit"))
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            let (bits, name) = match curve.as_str() {
                "1.2.840.10045.3.1.7" => (256, "P-256"),
                "1.3.132.0.34" => (384, "P-384"),
                "1.3.132.0.35" => (521, "P-521"),
                _ => (0, "an unknown curve"),
            };
            (Some(KeyAlgorithm::Ecdsa), bits, format!("ECDSA {name}"))
        }
        _ => (None, 0, format!("of algorithm {oid}")),
    }
}

fn key(
    x: &X509Certificate<'_>,
    want: KeyAlgorithm,
    min_bits: Option<u32>,
    label: &str,
) -> Vec<String> {
    let (kind, bits, text) = key_facts(x);
    let want_name = match want {
        KeyAlgorithm::Rsa => "RSA",
        KeyAlgorithm::Ecdsa => "ECDSA",
        KeyAlgorithm::Ed25519 => "Ed25519",
    };
    if kind != Some(want) {
        return vec![format!("{label}: the key is {text}, expected {want_name}")];
    }
    match min_bits {
        Some(min) if bits < min => vec![format!(
            "{label}: the key is {text}, expected at least {min} bits"
        )],
        _ => vec![],
    }
}

fn key_usage(x: &X509Certificate<'_>, want: &[KeyUsage], label: &str) -> Vec<String> {
    let Ok(Some(ext)) = x.key_usage() else {
        return vec![]; // No extension: every use is allowed.
    };
    let ku = ext.value;
    let bits = [
        (
            KeyUsage::DigitalSignature,
            ku.digital_signature(),
            "digitalSignature",
        ),
        (
            KeyUsage::ContentCommitment,
            ku.non_repudiation(),
            "nonRepudiation",
        ),
        (
            KeyUsage::KeyEncipherment,
            ku.key_encipherment(),
            "keyEncipherment",
        ),
        (
            KeyUsage::DataEncipherment,
            ku.data_encipherment(),
            "dataEncipherment",
        ),
        (KeyUsage::KeyAgreement, ku.key_agreement(), "keyAgreement"),
        (KeyUsage::KeyCertSign, ku.key_cert_sign(), "keyCertSign"),
        (KeyUsage::CrlSign, ku.crl_sign(), "cRLSign"),
    ];
    let has: Vec<&str> = bits.iter().filter(|b| b.1).map(|b| b.2).collect();
    let has = if has.is_empty() {
        "nothing".to_string()
    } else {
        has.join(", ")
    };
    bits.iter()
        .filter(|(k, on, _)| want.contains(k) && !on)
        .map(|(_, _, name)| format!("{label}: key usage lacks {name} (it allows {has})"))
        .collect()
}
