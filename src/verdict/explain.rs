//! Learner-facing explanations: for each reason code, what happened with the case's facts filled in, and the usual fix.

use serde::Serialize;

use crate::lab::{Case, CertRef, Lab};
use crate::reason::Reason;
use crate::reason::Side;
use crate::verdict::Observed;

/// What a rejection means and how it is usually fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub reason: Reason,
    /// What happened, with the case's names filled in.
    pub what: String,
    /// The usual fix.
    pub fix: String,
}

fn authority_list(lab: &Lab, idx: &[CertRef]) -> String {
    if idx.is_empty() {
        return "nothing".to_string();
    }
    idx.iter()
        .map(|r| format!("`{}`", lab.name_of(*r)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn subject_cn(lab: &Lab, authority: usize) -> String {
    let a = &lab.authorities[authority];
    a.subject.common_name.clone().map_or_else(
        || format!("`{}`", a.name),
        |cn| format!("`{}` (CN={cn})", a.name),
    )
}

/// The explanation of `observed` for `case`, when it was rejected.
pub fn explain(
    lab: &Lab,
    case: &Case,
    observed: &Observed,
    verified_at: time::OffsetDateTime,
) -> Option<Explanation> {
    let reason = observed.reason?;
    let server = &lab.servers[case.server];
    // The certificate the rejecting side verified, and what that side trusted.
    let (verified, trusted, verifier, peer) = match observed.by {
        Some(Side::Server) => (
            case.client.certificate,
            &server.trust,
            "the server",
            "client",
        ),
        _ => (
            Some(server.certificate),
            &case.client.trust,
            "the client",
            "server",
        ),
    };
    let cert = verified.map(|c| &lab.certificates[c]);
    let cert_name = cert.map_or("(none)".to_string(), |c| format!("`{}`", c.name));
    let time = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let (what, fix) = match reason {
        Reason::CertificateRequired => (
            format!("server `{}` requires a client certificate, and the client sent none.", server.name),
            "Present a certificate issued by an authority the server trusts: with curl, `--cert client.crt --key client.key`; in Python, `context.load_cert_chain('client.crt', 'client.key')` before connecting.".to_string(),
        ),
        Reason::UnknownIssuer => {
            let issuer = cert.map_or("?".to_string(), |c| match c.issuer {
                Some(i) => subject_cn(lab, i),
                None => "itself: it is self-signed".to_string(),
            });
            (
                format!(
                    "{verifier} could not chain the {peer} certificate {cert_name} (issued by {issuer}) to an authority it trusts; it trusted {}.",
                    authority_list(lab, trusted)
                ),
                format!(
                    "Make {verifier} trust the issuing CA (curl `--cacert ca.crt`; Python `context.load_verify_locations('ca.crt')`), or have the {peer} send its intermediates with its certificate."
                ),
            )
        }
        Reason::BadSignature => (
            format!(
                "the {peer} certificate {cert_name} names a trusted issuer, but its signature does not verify with that issuer's key: it was signed by another CA with the same name."
            ),
            "Issue the certificate from the real CA; a CA is identified by its key, not by its name.".to_string(),
        ),
        Reason::Expired => (
            format!(
                "the {peer} certificate {cert_name} expired at {} (verified at {}).",
                cert.map_or("?".into(), |c| time(c.not_after)),
                time(verified_at)
            ),
            "Renew the certificate (e.g. `openssl x509 -req -days 365 ...`) and install the new one.".to_string(),
        ),
        Reason::NotYetValid => (
            format!(
                "the {peer} certificate {cert_name} is valid only from {}.",
                cert.map_or("?".into(), |c| time(c.not_before))
            ),
            "Check the clocks of both machines, or issue a certificate whose validity starts now.".to_string(),
        ),
        Reason::NameMismatch => (
            format!(
                "the client asked for `{}`, but the server certificate {cert_name} lists [{}]; TLS clients ignore the CN.",
                case.client.server_name,
                cert.map(|c| c.san.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
            ),
            "Connect with a name the certificate lists, or reissue it with the name as a subjectAltName (openssl: `-addext \"subjectAltName=DNS:localhost,IP:127.0.0.1\"`).".to_string(),
        ),
        Reason::WrongPurpose => (
            format!(
                "the {peer} certificate {cert_name} does not allow {} authentication (extended key usage).",
                if observed.by == Some(Side::Server) { "TLS client" } else { "TLS server" }
            ),
            format!(
                "Reissue it with `extendedKeyUsage = {}` (openssl: in the extension file given to `-extfile`).",
                if observed.by == Some(Side::Server) { "clientAuth" } else { "serverAuth" }
            ),
        ),
        Reason::Revoked => (
            format!("the {peer} certificate {cert_name} is on its issuer's revocation list."),
            "Issue a new certificate with a new key; a revoked certificate cannot be reinstated.".to_string(),
        ),
        Reason::RevocationUnknown => (
            format!("{verifier} checks revocation, but has no current CRL for an authority in the chain of {cert_name}."),
            "Give the verifier the CRL of every authority in the chain (or check the end entity only), and keep CRLs fresh.".to_string(),
        ),
        Reason::CaUsedAsLeaf => (
            format!("the {peer} presented a CA certificate ({cert_name}) as its own identity."),
            "Present an end-entity certificate issued by the CA, not the CA certificate itself.".to_string(),
        ),
        Reason::IssuerNotCa => (
            format!("a certificate in the chain of {cert_name} was issued by a certificate that is not a CA."),
            "Issue certificates only from authorities (basicConstraints CA:TRUE).".to_string(),
        ),
        Reason::PathLenExceeded => (
            format!("the chain of {cert_name} has more intermediates than an authority's path length allows."),
            "Shorten the chain, or raise the authority's pathLenConstraint.".to_string(),
        ),
        Reason::ChainTooLong => (
            format!(
                "the chain of {cert_name} has {} intermediates between it and the authority {verifier} trusts; rustls-webpki builds paths through at most {} intermediates (a fixed limit of the verifier, not a pathLenConstraint of any certificate).",
                cert.and_then(|c| c.issuer).map_or("?".to_string(), |i| crate::lab::lint::intermediates_below_anchor(lab, i, trusted).to_string()),
                crate::lab::lint::MAX_INTERMEDIATES,
            ),
            format!(
                "Shorten the chain to at most {} intermediates, or trust an intermediate closer to the {peer} certificate. OpenSSL's default depth limit is 100, so `openssl verify` may accept this chain.",
                crate::lab::lint::MAX_INTERMEDIATES,
            ),
        ),
        Reason::NameConstraints => (
            format!("a name in {cert_name} is outside the names its authority may certify (name constraints)."),
            "Use a name the authority permits, or issue from an authority without that constraint.".to_string(),
        ),
        Reason::PinMismatch => (
            format!("the server's public key ({cert_name}) is not the one the client pinned."),
            "Update the pin to the server's current key (SPKI SHA-256), or present the pinned key.".to_string(),
        ),
        Reason::ProtocolVersion => (
            format!(
                "the client offered {} and server `{}` accepts {}: no version in common.",
                versions(&case.client.versions),
                server.name,
                versions(&server.versions)
            ),
            "Enable a common TLS version on both sides (TLS 1.2 and 1.3 are both safe).".to_string(),
        ),
        Reason::HandshakeFailure => (
            "the peers could not agree on the handshake parameters (cipher suite, group or signature scheme).".to_string(),
            "Enable at least one common cipher suite and key exchange group on both sides.".to_string(),
        ),
        Reason::UnsupportedAlgorithm | Reason::UnsupportedCertVersion | Reason::BadEncoding => (
            format!("{verifier} cannot process {cert_name}: {}.", observed.detail.as_deref().unwrap_or("unsupported certificate")),
            "Issue an X.509 v3 certificate with a common algorithm (RSA 2048+ or ECDSA P-256/P-384, SHA-256).".to_string(),
        ),
        Reason::ConnectionRefused => (
            "nothing accepted the connection at the server's address.".to_string(),
            "Check that the server is running and listening on that address and port.".to_string(),
        ),
        Reason::ConnectionClosed if observed.by == Some(Side::Server) => (
            format!("server `{}` closed the connection without sending a TLS alert, during or right after the handshake: it ended the connection without saying why.", server.name),
            "Look at the server's log for why it refused the client (a missing or untrusted client certificate is the usual cause); a server that refuses should send an alert that says why, as OpenSSL and rustls do.".to_string(),
        ),
        Reason::ConnectionClosed => (
            "the connection was closed before either side reported a TLS verdict.".to_string(),
            "Look at the server's log: it may have crashed, or it may not speak TLS on that port.".to_string(),
        ),
        Reason::Timeout => (
            "a peer did not answer in time.".to_string(),
            "Check that the server speaks TLS on that port and is not blocked waiting for input.".to_string(),
        ),
        Reason::Other => (
            format!("{verifier} rejected the handshake: {}.", observed.detail.as_deref().unwrap_or("no detail")),
            "Read the detail; it is rustls's own wording.".to_string(),
        ),
    };
    Some(Explanation { reason, what, fix })
}

fn versions(v: &[crate::lab::TlsVersion]) -> String {
    v.iter()
        .map(|v| match v {
            crate::lab::TlsVersion::Tls12 => "TLS 1.2",
            crate::lab::TlsVersion::Tls13 => "TLS 1.3",
        })
        .collect::<Vec<_>>()
        .join(" and ")
}
