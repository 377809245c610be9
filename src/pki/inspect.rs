//! Reading certificates with x509-parser: the one reader of subjectAltNames (of subjects with
//! [`crate::lab::loaded::subject`], re-exported), used by `pki`
//! (facts of loaded files), `tls` (the identity a peer presented) and `verdict` (certificate checks).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::lab::San;

/// One subjectAltName entry (RFC 5280 §4.2.1.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanEntry {
    /// A dNSName, iPAddress (4 or 16 octets), uniformResourceIdentifier or rfc822Name, as written in the
    /// certificate (DNS names keep their case).
    Name(San),
    /// Any other entry as x509-parser displays it; an iPAddress of another length is `ip:?`.
    Other(String),
}

impl fmt::Display for SanEntry {
    /// `dns:localhost`, `ip:127.0.0.1`, `uri:…`, `email:…`, or the other entry's text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SanEntry::Name(s) => s.fmt(f),
            SanEntry::Other(t) => f.write_str(t),
        }
    }
}

/// The subjectAltName entries of `cert`, in certificate order; `None` when it has no subjectAltName
/// extension or the extension does not parse.
pub fn san_entries(cert: &X509Certificate<'_>) -> Option<Vec<SanEntry>> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return None;
    };
    Some(
        ext.value
            .general_names
            .iter()
            .map(|name| match name {
                GeneralName::DNSName(d) => SanEntry::Name(San::Dns(d.to_string())),
                GeneralName::URI(u) => SanEntry::Name(San::Uri(u.to_string())),
                GeneralName::RFC822Name(e) => SanEntry::Name(San::Email(e.to_string())),
                GeneralName::IPAddress(bytes) => match ip_address(bytes) {
                    Some(ip) => SanEntry::Name(San::Ip(ip)),
                    None => SanEntry::Other("ip:?".to_string()),
                },
                other => SanEntry::Other(format!("{other}")),
            })
            .collect(),
    )
}

/// The names of `cert`'s subjectAltName that the lab models ([`SanEntry::Name`]); empty when it has none.
pub fn sans(cert: &X509Certificate<'_>) -> Vec<San> {
    san_entries(cert)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| match e {
            SanEntry::Name(s) => Some(s),
            SanEntry::Other(_) => None,
        })
        .collect()
}

/// An iPAddress entry: 4 octets for IPv4, 16 for IPv6 (RFC 5280 §4.2.1.6); `None` for any other length.
fn ip_address(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(a) = <[u8; 4]>::try_from(bytes) {
        Some(Ipv4Addr::from(a).into())
    } else if let Ok(a) = <[u8; 16]>::try_from(bytes) {
        Some(Ipv6Addr::from(a).into())
    } else {
        None
    }
}

pub use crate::lab::loaded::subject;

/// The purposes of an extendedKeyUsage extension (RFC 5280 §4.2.1.12) by OpenSSL's short names
/// (`serverAuth`, `clientAuth`, …), any other OID in dotted form, in the order OpenSSL prints them.
pub fn eku_names(u: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut names: Vec<String> = [
        (u.any, "anyExtendedKeyUsage"),
        (u.server_auth, "serverAuth"),
        (u.client_auth, "clientAuth"),
        (u.code_signing, "codeSigning"),
        (u.email_protection, "emailProtection"),
        (u.time_stamping, "timeStamping"),
        (u.ocsp_signing, "OCSPSigning"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| (*n).to_string())
    .collect();
    names.extend(u.other.iter().map(|o| o.to_id_string()));
    names
}

/// The serial number of a DER certificate, as written; `None` if it does not parse.
pub fn serial(der: &[u8]) -> Option<rcgen::SerialNumber> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(rcgen::SerialNumber::from_slice(cert.raw_serial()))
}
