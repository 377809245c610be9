//! Semantic warnings on a valid lab, found without generating keys or opening sockets (`mtls-lab check`).
//!
//! Each warning names a case whose expectation cannot come true as written.

use crate::lab::{CertRef, Expectation, Lab};
use crate::spec::ClientAuth;

/// A warning about one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
    pub help: Option<String>,
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

/// Warnings for cases expecting `accepted` that cannot be accepted as written.
pub fn warnings(lab: &Lab, now: time::OffsetDateTime) -> Vec<Warning> {
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
        let presented = std::iter::once(server.certificate).chain(case.client.certificate);
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
