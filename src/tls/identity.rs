//! The identity a peer presented, read from its certificate with x509-parser, and matched against a lab's expectation.

use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::lab::IdentitySpec;
use crate::lab::San;
use crate::pki::inspect;

/// What one side saw of the other's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The subject as OpenSSL prints it, e.g. `C=US, O=MyLabClient, CN=labclient`.
    pub subject: String,
    #[serde(rename = "CN", skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(rename = "O", skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(rename = "OU", skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub san: Vec<String>,
    pub issuer: String,
    pub serial: String,
}

impl Identity {
    /// Reads the identity of a DER certificate (subjectAltNames as `dns:…`, `ip:…`, `uri:…`, `email:…`, in
    /// certificate order); `None` if it does not parse.
    pub fn from_der(der: &[u8]) -> Option<Identity> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let subject = cert.subject();
        let names = inspect::subject(subject);
        let identity = Identity {
            subject: subject.to_string(),
            common_name: names.common_name,
            organization: names.organization,
            unit: names.unit,
            san: inspect::san_entries(&cert)
                .unwrap_or_default()
                .iter()
                .map(ToString::to_string)
                .collect(),
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string(),
        };
        Some(identity)
    }

    /// A short human form: `CN=labclient, O=MyLabClient`.
    pub fn short(&self) -> String {
        let mut parts = Vec::new();
        if let Some(cn) = &self.common_name {
            parts.push(format!("CN={cn}"));
        }
        if let Some(o) = &self.organization {
            parts.push(format!("O={o}"));
        }
        if parts.is_empty() {
            self.subject.clone()
        } else {
            parts.join(", ")
        }
    }
}

/// Checks what the server saw against `expected`; returns each mismatch as a sentence.
pub fn mismatches(expected: &IdentitySpec, seen: Option<&Identity>) -> Vec<String> {
    mismatches_of(expected, seen, Peer::Server)
}

/// The side whose view of the other's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The server's view of the client's certificate (`server_saw`).
    Server,
    /// The client's view of the server's certificate (`client_saw`).
    Client,
}

/// Checks what `who` saw of the other side's certificate against `expected`; each mismatch as a sentence.
pub fn mismatches_of(expected: &IdentitySpec, seen: Option<&Identity>, who: Peer) -> Vec<String> {
    let (saw, other) = match who {
        Peer::Server => ("the server saw", "client"),
        Peer::Client => ("the client saw", "server"),
    };
    let Some(seen) = seen else {
        return if expected.none {
            Vec::new()
        } else {
            vec![format!("{saw} no {other} certificate")]
        };
    };
    let mut out = Vec::new();
    if expected.none {
        out.push(format!(
            "expected no {other} certificate, {saw} {}",
            seen.short()
        ));
    }
    for (field, want, got) in [
        ("CN", &expected.common_name, &seen.common_name),
        ("O", &expected.organization, &seen.organization),
        ("OU", &expected.unit, &seen.unit),
    ] {
        if let Some(w) = want {
            if Some(w) != got.as_ref() {
                out.push(format!(
                    "{field}: expected `{w}`, {saw} {}",
                    got.as_ref()
                        .map_or("none".to_string(), |g| format!("`{g}`"))
                ));
            }
        }
    }
    for s in &expected.san {
        let canonical = San::parse(s)
            .map(|s| s.to_string())
            .unwrap_or_else(|_| s.clone());
        if !seen.san.contains(&canonical) {
            out.push(format!(
                "SAN `{canonical}` missing; {saw} [{}]",
                seen.san.join(", ")
            ));
        }
    }
    out
}
