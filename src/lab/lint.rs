//! Semantic warnings on a valid lab, found without generating keys or opening sockets (`mtls-lab check`).
//!
//! Each warning names a case whose expectation cannot come true as written, or certificates that
//! break a rule verifiers rely on (two serials alike under one issuer).

use crate::lab::{CertRef, Expectation, Lab};
use crate::spec::ClientAuth;

/// A warning about one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
    pub help: Option<String>,
}

/// The most intermediates rustls-webpki builds a path through, between the end entity and the trust
/// anchor (`MAX_SUB_CA_COUNT` in its verify_cert.rs); a longer chain is refused with
/// `MaximumPathDepthExceeded` (`chain_too_long`). OpenSSL's default depth limit is 100.
pub const MAX_INTERMEDIATES: usize = 6;

/// The authorities between a certificate issued by `issuer` and the first of `trusted` above it (or
/// its root when none is): the intermediates a verifier's path goes through.
pub fn intermediates_below_anchor(lab: &Lab, issuer: usize, trusted: &[CertRef]) -> usize {
    let mut n = 0;
    let mut a = issuer;
    while !trusted.contains(&CertRef::Authority(a)) {
        match lab.authorities[a].issuer {
            // Issuers come before the authorities they sign, so this ends; the bound is belt and braces.
            Some(up) if n < lab.authorities.len() => {
                n += 1;
                a = up;
            }
            _ => break,
        }
    }
    n
}

/// The trust anchors that can verify certificate `certificate`, nearest first: the certificate itself when
/// it is self-signed, then every authority a chain from it may pass through ([`Lab::issuers_of`]).
fn anchors_of(lab: &Lab, certificate: usize) -> Vec<CertRef> {
    let own = lab.certificates[certificate]
        .issuer
        .is_none()
        .then_some(CertRef::Certificate(certificate));
    own.into_iter()
        .chain(
            lab.issuers_of(certificate)
                .into_iter()
                .map(CertRef::Authority),
        )
        .collect()
}

fn names(lab: &Lab, refs: &[CertRef]) -> String {
    refs.iter()
        .map(|r| format!("`{}`", lab.name_of(*r)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Warnings for cases expecting `accepted` that cannot be accepted as written, and for duplicate
/// serials; in file order within each kind.
pub fn warnings(lab: &Lab, now: time::OffsetDateTime) -> Vec<Warning> {
    let mut out = case_warnings(lab, now);
    out.extend(duplicate_serials(lab));
    out
}

/// Two certificates with the same explicit serial under one issuer: RFC 5280 4.1.2.2 requires serials
/// unique per issuer, and a CRL names a certificate by issuer and serial, so revoking one revokes both
/// (what a renewal that kept the serial does). One warning at the later certificate of each pair.
fn duplicate_serials(lab: &Lab) -> Vec<Warning> {
    // (issuer, serial, name, line, what) of every generated certificate and authority with a fixed serial.
    let mut issued: Vec<(usize, u64, &str, usize, &str)> = Vec::new();
    for a in &lab.authorities {
        if let (Some(issuer), Some(serial), None) = (a.issuer, a.serial, &a.from) {
            issued.push((issuer, serial, &a.name, a.line, "authority"));
        }
    }
    for c in &lab.certificates {
        if let (Some(issuer), Some(serial), None) = (c.issuer, c.serial, &c.from) {
            issued.push((issuer, serial, &c.name, c.line, "certificate"));
        }
    }
    issued.sort_by_key(|i| i.3);
    let mut out = Vec::new();
    for (k, (issuer, serial, name, line, what)) in issued.iter().enumerate() {
        let Some(first) = issued[..k]
            .iter()
            .find(|e| e.0 == *issuer && e.1 == *serial)
        else {
            continue;
        };
        out.push(Warning {
            line: *line,
            message: format!(
                "{what} `{name}` has serial {serial}, like `{}`, and both are issued by `{}`: a CRL names a certificate by issuer and serial, so revoking one revokes the other",
                first.2, lab.authorities[*issuer].name
            ),
            help: Some(format!(
                "give `{name}` a serial of its own (serials are unique per issuer: RFC 5280, 4.1.2.2)"
            )),
        });
    }
    out
}

/// Warnings for cases expecting `accepted` that cannot be accepted as written.
fn case_warnings(lab: &Lab, now: time::OffsetDateTime) -> Vec<Warning> {
    let mut out = Vec::new();
    for case in &lab.cases {
        // A client command's certificate and trust are in its own arguments: nothing to check here.
        if !matches!(case.expect, Expectation::Accepted { .. }) || case.client.command.is_some() {
            continue;
        }
        // Certificates are checked at the case's virtual clock, as the handshake will check them.
        let now = case.clock(lab).unwrap_or(now);
        let server = &lab.servers[case.server];
        let mut warn = |message: String, help: Option<String>| {
            out.push(Warning {
                line: case.line,
                message,
                help,
            })
        };
        let chain = anchors_of(lab, server.certificate);
        if !chain.iter().any(|a| case.client.trust.contains(a)) {
            warn(
                format!(
                    "case `{}` expects `accepted`, but its client trusts none of the authorities behind server certificate `{}` ({})",
                    case.name,
                    lab.certificates[server.certificate].name,
                    names(lab, &chain)
                ),
                Some(format!(
                    "add `{}` to the client's `trust`, or expect `{{ outcome: rejected, by: client, reason: unknown_issuer }}`",
                    chain.last().map_or("?", |r| lab.name_of(*r))
                )),
            );
        }
        match (case.client.certificate, server.client_auth) {
            (None, ClientAuth::Required) => warn(
                format!(
                    "case `{}` expects `accepted`, but server `{}` requires a client certificate and the client presents none",
                    case.name, server.name
                ),
                Some("give the client a `certificate`, or expect `{ outcome: rejected, by: server, reason: certificate_required }`".into()),
            ),
            (Some(c), ClientAuth::Required | ClientAuth::Optional) => {
                let chain = anchors_of(lab, c);
                if !chain.iter().any(|a| server.trust.contains(a)) {
                    warn(
                        format!(
                            "case `{}` expects `accepted`, but server `{}` trusts none of the authorities behind client certificate `{}` ({})",
                            case.name,
                            server.name,
                            lab.certificates[c].name,
                            names(lab, &chain)
                        ),
                        Some("add the client's authority to the server's `trust`, or expect `{ outcome: rejected, by: server, reason: unknown_issuer }`".into()),
                    );
                }
            }
            _ => {}
        }
        // The client's certificate is sent only to a server that asks for one.
        let client_sent = case
            .client
            .certificate
            .filter(|_| server.client_auth != ClientAuth::None);
        let verified = [
            ("client", Some(server.certificate), &case.client.trust),
            ("server", client_sent, &server.trust),
        ];
        for (verifier, cert, trust) in verified {
            let Some(c) = cert else { continue };
            let cert = &lab.certificates[c];
            let Some(issuer) = cert.issuer else { continue }; // Self-signed: no intermediates.
            let n = intermediates_below_anchor(lab, issuer, trust);
            if n > MAX_INTERMEDIATES && cert.from.is_none() {
                warn(
                    format!(
                        "case `{}` expects `accepted`, but the chain of certificate `{}` has {n} intermediates below the authority the {verifier} trusts, and rustls-webpki builds paths through at most {MAX_INTERMEDIATES}",
                        case.name, cert.name
                    ),
                    Some(format!(
                        "shorten the chain, trust an intermediate closer to `{}`, or expect `{{ outcome: rejected, by: {verifier}, reason: chain_too_long }}`",
                        cert.name
                    )),
                );
            }
        }
        let presented = std::iter::once(server.certificate).chain(client_sent);
        for c in presented {
            let cert = &lab.certificates[c];
            if cert.from.is_some() {
                continue; // Loaded: its dates are known only when the files are read.
            }
            if cert.not_after < now {
                warn(
                    format!(
                        "case `{}` expects `accepted`, but certificate `{}` has already expired",
                        case.name, cert.name
                    ),
                    None,
                );
            } else if cert.not_before > now {
                warn(
                    format!(
                        "case `{}` expects `accepted`, but certificate `{}` is not valid yet",
                        case.name, cert.name
                    ),
                    None,
                );
            }
        }
    }
    out
}
