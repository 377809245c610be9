//! Semantic warnings on a valid lab, found without generating keys or opening sockets (`mtls-lab check`).
//!
//! Each warning names a case whose expectation cannot come true as written: `accepted` where a side
//! must refuse, a reason the named side cannot give ([`side_can_give`]), `accepted` with a server name
//! the server certificate does not carry, an expiry the case's clock rules out; or certificates that
//! break a rule verifiers rely on (two serials alike under one issuer).

use std::net::IpAddr;

use crate::lab::{CertRef, Expectation, Lab, San, ServerKind};
use crate::reason::{Reason, Side};
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

/// Every warning about `lab` at `now` (cases with their own clock use it), in file order.
pub fn warnings(lab: &Lab, now: time::OffsetDateTime) -> Vec<Warning> {
    let mut out = accepted_warnings(lab, now);
    out.extend(side_warnings(lab));
    out.extend(server_name_warnings(lab));
    out.extend(clock_warnings(lab, now));
    out.extend(duplicate_serials(lab));
    out.sort_by_key(|w| w.line);
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

/// Whether `side`'s verifier can reject for `reason`: a server never checks a server name or a pin and
/// never connects; a client never asks for a client certificate. Every other reason either side can give.
pub fn side_can_give(side: Side, reason: Reason) -> bool {
    match reason {
        Reason::CertificateRequired => side == Side::Server,
        Reason::NameMismatch | Reason::PinMismatch | Reason::ConnectionRefused => {
            side == Side::Client
        }
        _ => true,
    }
}

/// Cases that expect a rejection by a side that cannot give its reason.
fn side_warnings(lab: &Lab) -> Vec<Warning> {
    let mut out = Vec::new();
    for case in &lab.cases {
        let Expectation::Rejected {
            by: Some(by),
            reason: Some(reason),
        } = case.expect
        else {
            continue;
        };
        if side_can_give(by, reason) {
            continue;
        }
        let (side, other) = match by {
            Side::Server => ("server", "client"),
            Side::Client => ("client", "server"),
        };
        let why = match reason {
            Reason::CertificateRequired => "only a server asks for a client certificate",
            Reason::NameMismatch => "only a client checks the server's name",
            Reason::PinMismatch => "only a client pins the server's key",
            _ => "only the client connects",
        };
        out.push(Warning {
            line: case.line,
            message: format!(
                "case `{}` expects a rejection by the {side} for `{}`, which the {side} cannot give: {why}",
                case.name,
                reason.code()
            ),
            help: Some(format!(
                "expect `{{ outcome: rejected, by: {other}, reason: {} }}`",
                reason.code()
            )),
        });
    }
    out
}

/// Whether the server certificate name `san` covers `name` as a TLS client checks it (RFC 6125): a DNS
/// name case-insensitively, a wildcard `*.` for exactly one label, an IP address only as an iPAddress.
pub fn name_covers(san: &San, name: &str) -> bool {
    // A fully qualified name's trailing dot is not part of the name (rustls-webpki drops it).
    let name = name.strip_suffix('.').unwrap_or(name);
    match (san, name.parse::<IpAddr>()) {
        (San::Ip(ip), Ok(asked)) => *ip == asked,
        (San::Dns(d), Err(_)) => {
            let (d, name) = (d.to_ascii_lowercase(), name.to_ascii_lowercase());
            match d.strip_prefix("*.") {
                Some(base) => name
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == base),
                None => d == name,
            }
        }
        _ => false,
    }
}

/// Cases that expect `accepted` from the built-in client with a server name the server certificate
/// does not carry.
fn server_name_warnings(lab: &Lab) -> Vec<Warning> {
    let mut out = Vec::new();
    for case in &lab.cases {
        if !matches!(case.expect, Expectation::Accepted { .. }) || case.client.command.is_some() {
            continue;
        }
        let cert = &lab.certificates[lab.servers[case.server].certificate];
        if cert.from.is_some() {
            continue; // Loaded: its names are known only when the files are read.
        }
        let name = &case.client.server_name;
        if cert.san.iter().any(|s| name_covers(s, name)) {
            continue;
        }
        let listed = cert
            .san
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Warning {
            line: case.line,
            message: format!(
                "case `{}` expects `accepted`, but the client asks for `{name}` and server certificate `{}` carries [{listed}]",
                case.name, cert.name
            ),
            help: Some(
                "set the client's `server_name` to a name the certificate carries, add it to the certificate's `san`, or expect `{ outcome: rejected, by: client, reason: name_mismatch }`".to_string(),
            ),
        });
    }
    out
}

/// The certificates a side presents (leaf first) and whether its verifier is built in (its clock is
/// the case's clock; a program's is its own).
fn presented(lab: &Lab, case: &crate::lab::Case, side: Side) -> (Vec<CertRef>, bool) {
    let server = &lab.servers[case.server];
    match side {
        // What the client presents, verified by the server.
        Side::Server => (
            case.client
                .certificate
                .map(|c| lab.presented_chain(c, &case.client.chain))
                .unwrap_or_default(),
            matches!(server.kind, ServerKind::BuiltIn { .. }),
        ),
        Side::Client => (
            lab.presented_chain(server.certificate, &server.chain),
            case.client.command.is_none(),
        ),
    }
}

/// Cases whose expectation the case's clock rules out: `accepted` with an intermediate outside its
/// validity (the leaf is [`accepted_warnings`]'), and a rejection for `expired` or `not_yet_valid` by
/// a built-in verifier to which nothing presented is expired (or not yet valid) at that clock.
fn clock_warnings(lab: &Lab, now: time::OffsetDateTime) -> Vec<Warning> {
    let mut out = Vec::new();
    let validity = |r: CertRef| match r {
        CertRef::Certificate(i) => {
            let c = &lab.certificates[i];
            (c.from.is_some(), c.not_before, c.not_after, &c.name)
        }
        CertRef::Authority(i) => {
            let a = &lab.authorities[i];
            (a.from.is_some(), a.not_before, a.not_after, &a.name)
        }
    };
    for case in &lab.cases {
        let at = case.clock(lab).unwrap_or(now);
        let when = if case.clock(lab).is_some() {
            "at the case's clock (`at:`)"
        } else {
            "now"
        };
        match case.expect {
            Expectation::Accepted { .. } if case.client.command.is_none() => {
                for side in [Side::Client, Side::Server] {
                    let (chain, _) = presented(lab, case, side);
                    let server = &lab.servers[case.server];
                    let trust = if side == Side::Server {
                        &server.trust
                    } else {
                        &case.client.trust
                    };
                    // Only the intermediates the verifier's path goes through are checked.
                    for r in lab.path(&chain, trust).certs.into_iter().skip(1) {
                        let (loaded, from, until, name) = validity(r);
                        let problem = if loaded {
                            None
                        } else if until < at {
                            Some(if when == "now" {
                                "has already expired"
                            } else {
                                "has expired"
                            })
                        } else if from > at {
                            Some("is not valid yet")
                        } else {
                            None
                        };
                        if let Some(p) = problem {
                            out.push(Warning {
                                line: case.line,
                                message: format!(
                                    "case `{}` expects `accepted`, but intermediate `{name}`, sent in the chain, {p}{}",
                                    case.name,
                                    if when == "now" { String::new() } else { format!(" {when}") }
                                ),
                                help: Some(format!(
                                    "renew `{name}` (its `valid:`), or expect `{{ outcome: rejected, by: {}, reason: {} }}`",
                                    if side == Side::Client { "client" } else { "server" },
                                    if until < at { "expired" } else { "not_yet_valid" }
                                )),
                            });
                        }
                    }
                }
            }
            Expectation::Rejected {
                by: Some(by),
                reason: Some(reason @ (Reason::Expired | Reason::NotYetValid)),
            } => {
                let (chain, built_in) = presented(lab, case, by);
                if !built_in || chain.is_empty() {
                    continue;
                }
                let facts: Vec<_> = chain.iter().map(|r| validity(*r)).collect();
                if facts.iter().any(|f| f.0) {
                    continue;
                }
                let possible = facts.iter().any(|(_, from, until, _)| match reason {
                    Reason::Expired => *until < at,
                    _ => *from > at,
                });
                if possible {
                    continue;
                }
                let (side, other) = match by {
                    Side::Server => ("server", "client"),
                    Side::Client => ("client", "server"),
                };
                let names = facts
                    .iter()
                    .map(|f| format!("`{}`", f.3))
                    .collect::<Vec<_>>()
                    .join(", ");
                out.push(Warning {
                    line: case.line,
                    message: format!(
                        "case `{}` expects the {side} to reject for `{}`, but every certificate the {other} presents ({names}) is valid {when}",
                        case.name,
                        reason.code()
                    ),
                    help: Some(if reason == Reason::Expired {
                        "give the case a clock after the certificate's end (`at: +400d`), or a certificate whose `valid: { until: … }` has passed".to_string()
                    } else {
                        "give the case a clock before the certificate's start (`at: -1d`), or a certificate whose `valid: { from: … }` is still ahead".to_string()
                    }),
                });
            }
            _ => {}
        }
    }
    out
}

/// Warnings for cases expecting `accepted` that cannot be accepted as written.
fn accepted_warnings(lab: &Lab, now: time::OffsetDateTime) -> Vec<Warning> {
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
