//! A certificate as a learner reads it (`mtls-lab show`): what `openssl x509 -text` shows that matters for
//! mTLS, one field a line, and the chain above it. Never a private key.

use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// `AB:CD:...` of a digest.
fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The key's type and size, e.g. `ECDSA P-256`, `RSA 2048`, `Ed25519`.
pub(crate) fn key_type(cert: &X509Certificate<'_>) -> String {
    let spki = &cert.tbs_certificate.subject_pki;
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.3.101.112" => return "Ed25519".into(),
        "1.3.101.113" => return "Ed448".into(),
        _ => {}
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(k)) => format!("RSA {}", k.key_size()),
        // x509-parser counts the bytes of a P-521 point (66 per coordinate): 528 bits.
        Ok(PublicKey::EC(k)) => format!(
            "ECDSA P-{}",
            match k.key_size() {
                528 => 521,
                n => n,
            }
        ),
        Ok(k) => format!("{} bits", k.key_size()),
        Err(_) => spki.algorithm.algorithm.to_id_string(),
    }
}

/// The fields of a DER certificate, one `label: value` a line, indented by two spaces; `None` if it
/// does not parse.
pub fn describe(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut out = Vec::new();
    let mut line = |k: &str, v: String| out.push(format!("  {k:<20} {v}"));
    line("subject:", cert.subject().to_string());
    line("issuer:", cert.issuer().to_string());
    line("serial:", cert.raw_serial_as_string());
    let v = cert.validity();
    line("not before:", v.not_before.to_string());
    line("not after:", v.not_after.to_string());
    line("key:", key_type(&cert));
    let sans = super::inspect::san_entries(&cert)
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>();
    line(
        "subject alt names:",
        if sans.is_empty() {
            "(none)".into()
        } else {
            sans.join(", ")
        },
    );
    let critical = |c: bool| if c { " (critical)" } else { "" };
    match cert.basic_constraints() {
        Ok(Some(b)) => line(
            "basic constraints:",
            format!(
                "CA:{}{}{}",
                if b.value.ca { "TRUE" } else { "FALSE" },
                b.value
                    .path_len_constraint
                    .map_or(String::new(), |p| format!(", pathlen:{p}")),
                critical(b.critical)
            ),
        ),
        _ => line("basic constraints:", "(none)".into()),
    }
    match cert.key_usage() {
        Ok(Some(k)) => line("key usage:", format!("{}{}", k.value, critical(k.critical))),
        _ => line("key usage:", "(none)".into()),
    }
    match cert.extended_key_usage() {
        Ok(Some(e)) => {
            let u = e.value;
            let names = super::inspect::eku_names(u);
            line(
                "extended key usage:",
                format!("{}{}", names.join(", "), critical(e.critical)),
            );
        }
        _ => line("extended key usage:", "(none)".into()),
    }
    if let Ok(Some(n)) = cert.name_constraints() {
        let list = |t: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| {
            t.as_ref().map_or("(none)".to_string(), |t| {
                t.iter()
                    .map(|s| s.base.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
        line(
            "name constraints:",
            format!(
                "permitted {}; excluded {}",
                list(&n.value.permitted_subtrees),
                list(&n.value.excluded_subtrees)
            ),
        );
    }
    let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    line("SHA-256 fingerprint:", colon_hex(sha256.as_ref()));
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    line("SHA-1 fingerprint:", colon_hex(sha1.as_ref()));
    line(
        "public key pin:",
        super::export::spki_pin(der).unwrap_or_default(),
    );
    Some(out.join("\n") + "\n")
}

/// What a chain drawing shows of one certificate (the HTML report's boxes): never a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The subject as a distinguished name, e.g. `CN=localhost, O=Lab`.
    pub subject: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// notBefore, RFC 3339 to the second.
    pub not_before: String,
    /// notAfter, RFC 3339 to the second.
    pub not_after: String,
    /// The key's type and size, e.g. `ECDSA P-256`.
    pub key: String,
    /// The subjectAltName entries as `dns:…`, `ip:…`.
    pub sans: Vec<String>,
    /// basicConstraints cA (false when the extension is absent).
    pub ca: bool,
    /// basicConstraints pathLenConstraint, when given.
    pub path_len: Option<u32>,
}

/// The [`Summary`] of a DER certificate; `None` if it does not parse.
pub fn summary(der: &[u8]) -> Option<Summary> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let v = cert.validity();
    let (ca, path_len) = match cert.basic_constraints() {
        Ok(Some(b)) => (b.value.ca, b.value.path_len_constraint),
        _ => (false, None),
    };
    Some(Summary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: rfc3339_seconds(v.not_before.to_datetime()),
        not_after: rfc3339_seconds(v.not_after.to_datetime()),
        key: key_type(&cert),
        sans: super::inspect::san_entries(&cert)
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect(),
        ca,
        path_len,
    })
}

/// A time as RFC 3339, to the second (`2026-11-30T08:00:00Z`).
pub fn rfc3339_seconds(t: time::OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}
