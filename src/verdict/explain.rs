//! Learner-facing explanations: for each reason code, what happened with the case's facts filled in, and the usual fix.

use serde::Serialize;

use time::OffsetDateTime;

use crate::lab::{Case, CertRef, Lab, RevocationCheck};
use crate::reason::Reason;
use crate::reason::Side;
use crate::verdict::Observed;

use super::failing::{issuer_of, same_serial, unknown_critical, validity, verifier_has_crl};

/// What a rejection means and how it is usually fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub reason: Reason,
    /// What happened, with the case's names filled in.
    pub what: String,
    /// The usual fix.
    pub fix: String,
    /// For a certificate reason: the lab's name of the certificate that failed, found by walking the
    /// chain the rejecting side verified ([`failing`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

pub use super::failing::{failing, path, Path};

/// The authorities of `idx` as a backticked list, or `nothing`.
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

/// The facts of the side that verified: what it was given to trust, and the chain its peer presented.
struct Verifier<'a> {
    /// `the server` or `the client`.
    who: &'static str,
    /// `server` or `client`: the peer whose chain was verified.
    peer: &'static str,
    side: Side,
    /// The authorities it trusted; `None` when it is a program whose trust the lab does not know.
    trust: Option<&'a [CertRef]>,
    /// The chain the peer presented, leaf first (empty: none).
    presented: Vec<CertRef>,
    /// How it checks revocation, if it does.
    revocation: Option<&'a RevocationCheck>,
}

/// The explanation of `observed` for `case`, when it was rejected: the certificate that failed is found by
/// walking the chain the rejecting side verified at `verified_at` ([`path`], [`failing`]); facts are
/// stated only when the lab knows them (a program's own trust is not known); the fix names the option
/// of the side that must change.
pub fn explain(
    lab: &Lab,
    case: &Case,
    observed: &Observed,
    verified_at: OffsetDateTime,
) -> Option<Explanation> {
    let reason = observed.reason?;
    let server = &lab.servers[case.server];
    let v = match observed.by {
        Some(Side::Server) => Verifier {
            who: "the server",
            peer: "client",
            side: Side::Server,
            trust: Some(&server.trust),
            presented: case
                .client
                .certificate
                .map(|c| lab.presented_chain(c, &case.client.chain))
                .unwrap_or_default(),
            revocation: server.revocation.as_ref(),
        },
        _ => Verifier {
            who: "the client",
            peer: "server",
            side: Side::Client,
            trust: case
                .client
                .command
                .is_none()
                .then_some(case.client.trust.as_slice()),
            // The certificate the server chose for the SNI the client sent.
            presented: lab.presented_chain(
                server.certificate_for(case.client.sni_sent()),
                &server.chain,
            ),
            revocation: case.client.revocation.as_ref(),
        },
    };
    let path = path(lab, &v.presented, v.trust.unwrap_or(&[]));
    let mut failed = failing(lab, &path, reason, verified_at, v.side, v.revocation);
    // A handshake signed with another key than the certificate's: the certificate presented is the one
    // whose key does not match, whatever its chain.
    if reason == Reason::BadSignature && v.side == Side::Server && case.client.key_of.is_some() {
        failed = case.client.certificate.map(CertRef::Certificate);
    }
    let (mut what, fix) = words(lab, case, observed, &v, &path, failed, reason, verified_at);
    if let Some(extra) = late_refusal(lab, case, observed, reason) {
        what.push(' ');
        what.push_str(&extra);
    }
    if let (Some(side), Some(detail)) = (observed.external, observed.detail.as_deref()) {
        if observed.by == Some(side) && !detail.is_empty() {
            let program = if side == Side::Server {
                "server"
            } else {
                "client"
            };
            what.push_str(&format!(
                " The {program} program's own words: \"{detail}\"."
            ));
        }
    }
    Some(Explanation {
        reason,
        what,
        fix,
        certificate: failed.map(|r| lab.name_of(r).to_string()),
    })
}

/// TLS 1.3's late refusal: the client finishes its handshake before the server checks its
/// certificate, so it learns of a refusal only when it reads.
fn late_refusal(lab: &Lab, case: &Case, observed: &Observed, reason: Reason) -> Option<String> {
    let server = &lab.servers[case.server];
    let tls13 = |v: &[crate::lab::TlsVersion]| v.contains(&crate::lab::TlsVersion::Tls13);
    let client_cert_reason = reason == Reason::CertificateRequired
        || (reason != Reason::ProtocolVersion
            && reason != Reason::HandshakeFailure
            && reason != Reason::NoApplicationProtocol
            && !reason.is_transport());
    let negotiated_13 = observed
        .tls_version
        .as_deref()
        .is_none_or(|v| v.contains("1.3"));
    (observed.by == Some(Side::Server)
        && client_cert_reason
        && negotiated_13
        && tls13(&server.versions)
        && tls13(&case.client.versions))
    .then(|| "Under TLS 1.3 the client completes its side of the handshake before the server checks its certificate, so the client learns of the refusal only on its first read (curl exit 56, Python's error on `recv`), not while connecting.".to_string())
}

/// How a certificate of the verified chain is named: `the server certificate `server``, or `the
/// intermediate `inter` (CN=…) in the server's chain`.
fn role(lab: &Lab, v: &Verifier<'_>, r: CertRef) -> String {
    match r {
        CertRef::Certificate(i) => {
            format!("the {} certificate `{}`", v.peer, lab.certificates[i].name)
        }
        CertRef::Authority(i) if v.presented.first() == Some(&r) => {
            format!("the {} certificate `{}`", v.peer, lab.authorities[i].name)
        }
        CertRef::Authority(i) => format!(
            "the intermediate {} in the {}'s chain",
            subject_cn(lab, i),
            v.peer
        ),
    }
}

/// `s` with its first letter in upper case.
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// A time to the second, RFC 3339.
fn time(t: OffsetDateTime) -> String {
    crate::pki::show::rfc3339_seconds(t)
}

/// The option that makes the verifying side trust the certificate file `file` (as `pki` exports it:
/// `NAME.crt`).
fn trust_option(side: Side, file: &str) -> String {
    match side {
        Side::Server => format!("on the server: Python `context.load_verify_locations('{file}')` with `verify_mode = CERT_REQUIRED`, nginx `ssl_client_certificate {file};`"),
        Side::Client => format!("on the client: curl `--cacert {file}`, Python `ssl.create_default_context(cafile='{file}')`"),
    }
}

/// The file `pki` exports the certificate of `r` to (`NAME.crt`, in the directory `NAME/`).
fn crt_file(lab: &Lab, r: CertRef) -> String {
    format!("{}.crt", lab.name_of(r))
}

/// The option that makes a side send its intermediates with its certificate.
fn chain_option(peer: Side) -> &'static str {
    match peer {
        Side::Server => "on the server: nginx `ssl_certificate fullchain.pem;` (certificate then intermediates), Python `context.load_cert_chain('fullchain.pem', 'server.key')`",
        Side::Client => "on the client: curl `--cert chain.pem` (certificate then intermediates), Python `context.load_cert_chain('chain.pem', 'client.key')`",
    }
}

/// The root above authority `a`.
fn root_of(lab: &Lab, mut a: usize) -> usize {
    let mut seen = 0;
    while let Some(p) = lab.authorities[a].issuer {
        a = p;
        seen += 1;
        if seen > lab.authorities.len() {
            break;
        }
    }
    a
}

/// What happened and the fix, for each reason.
#[allow(clippy::too_many_arguments)]
fn words(
    lab: &Lab,
    case: &Case,
    observed: &Observed,
    v: &Verifier<'_>,
    path: &Path,
    failed: Option<CertRef>,
    reason: Reason,
    at: OffsetDateTime,
) -> (String, String) {
    let server = &lab.servers[case.server];
    let who = v.who;
    let peer = v.peer;
    let peer_side = if v.side == Side::Server {
        Side::Client
    } else {
        Side::Server
    };
    let leaf = v.presented.first().copied();
    // A client command presents what its own arguments name: the lab does not know which certificate.
    let leaf_name = leaf.map_or_else(
        || format!("the certificate the {peer} program presented"),
        |r| format!("`{}`", lab.name_of(r)),
    );
    let failed_role = match (failed, leaf) {
        (Some(r), _) => role(lab, v, r),
        (None, Some(_)) => format!("the {peer} certificate {leaf_name}"),
        (None, None) => leaf_name.clone(),
    };
    let trusted = |v: &Verifier<'_>| match v.trust {
        Some(t) => format!(" {} trusted {}.", capitalized(who), authority_list(lab, t)),
        None => String::new(),
    };
    match reason {
        Reason::CertificateRequired if observed.negotiated.certificate_withheld => (
            format!(
                "server `{}` requires a client certificate, and the client sent none: it holds {} but chooses by the CA names the server asked for ({}), and no certificate in its chain is issued by one of them, so it withheld its certificate (as Go, Java and browsers do).",
                server.name,
                held(lab, case),
                observed.negotiated.ca_names.as_ref().map_or("none".to_string(), |n| format!("[{}]", n.join(", ")))
            ),
            "Make the server name the authority that issues the client's certificate (its `trust`, or `ca_names`), or have the client send its intermediate with its certificate so that the chain reaches a named authority.".to_string(),
        ),
        Reason::CertificateRequired if server.trust.is_empty() => (
            format!("server `{}` requires a client certificate, and the client sent none.", server.name),
            "The server trusts nothing, so even a certificate would be refused: give the server a CA to trust (its `trust`), then present a certificate that CA issued: with curl, `--cert client.crt --key client.key`; in Python, `context.load_cert_chain('client.crt', 'client.key')` before connecting.".to_string(),
        ),
        Reason::CertificateRequired => (
            format!("server `{}` requires a client certificate, and the client sent none.", server.name),
            "Present a certificate issued by an authority the server trusts: with curl, `--cert client.crt --key client.key`; in Python, `context.load_cert_chain('client.crt', 'client.key')` before connecting.".to_string(),
        ),
        Reason::UnknownIssuer => {
            let top = path.certs.last().copied();
            let issuer = top.and_then(|t| issuer_of(lab, t));
            if let (Some(CertRef::Certificate(c)), Some(top)) = (path.anchor, top) {
                if let Some(issuer) = lab.certificates[c].issuer {
                    // A CA-issued certificate in `trust:`: webpki looks for a trusted anchor that
                    // signed it, and never matches the certificate against the anchors itself.
                    let root = root_of(lab, issuer);
                    return (
                        format!(
                            "{who} could not chain {failed_role} to an authority it trusts: {who} was given `{}` itself to trust, but that certificate is issued by `{}`, not self-signed, and rustls-webpki accepts a certificate only when a trusted certificate signed it, never because it is itself on the trust list.{}",
                            lab.name_of(top),
                            lab.authorities[issuer].name,
                            trusted(v)
                        ),
                        format!(
                            "Make {who} trust `{}`, the root that issued it ({}), or trust a self-signed certificate directly.",
                            lab.authorities[root].name,
                            trust_option(v.side, &crt_file(lab, CertRef::Authority(root)))
                        ),
                    );
                }
            }
            if let Some(anchor) = path.anchor {
                // The lab says this chain reaches a trusted authority: the verifier was given another
                // certificate than the lab describes under that name.
                return (
                    format!(
                        "{who} could not chain {failed_role} to an authority it trusts, though the lab has it issued by `{}`, which {who} trusted: the certificate it was given under that name is not the one that signed (another CA with the same name, or a file from elsewhere).{}",
                        lab.name_of(anchor),
                        trusted(v)
                    ),
                    format!(
                        "Give {who} the certificate of the authority that really issued {failed_role} ({}).",
                        trust_option(v.side, &crt_file(lab, anchor))
                    ),
                );
            }
            let Some(issuer) = issuer else {
                return (
                    format!("{who} could not chain {failed_role} to an authority it trusts: it is self-signed, and {who} does not trust it.{}", trusted(v)),
                    format!(
                        "Make {who} trust it ({}), or present a certificate issued by an authority {who} trusts.",
                        trust_option(v.side, &top.map_or_else(|| "peer.crt".to_string(), |t| crt_file(lab, t)))
                    ),
                );
            };
            let root = root_of(lab, issuer);
            let what = format!(
                "{who} could not chain {failed_role} to an authority it trusts: its issuer {} is neither trusted nor sent in the chain.{}",
                subject_cn(lab, issuer),
                trusted(v)
            );
            let fix = if v.trust.is_some_and(|t| t.contains(&CertRef::Authority(root))) {
                format!(
                    "{} already trusts `{}`: have the {peer} send the intermediate `{}` with its certificate ({}).",
                    capitalized(who),
                    lab.authorities[root].name,
                    lab.authorities[issuer].name,
                    chain_option(peer_side)
                )
            } else if v.side == Side::Server && v.trust.is_some_and(|t| t.is_empty()) {
                // A server's `trust: []` is the lab's own word (a client's empty list may be a stand-in,
                // as for `serve`'s visitors).
                format!(
                    "{} trusts nothing, so no {peer} certificate can pass: give it a CA to trust, such as `{}`, the root that issued {failed_role} ({}).",
                    capitalized(who),
                    lab.authorities[root].name,
                    trust_option(v.side, &crt_file(lab, CertRef::Authority(root)))
                )
            } else {
                format!(
                    "Make {who} trust `{}`, the root that issued {failed_role} ({}); or have the {peer} present a certificate from an authority {who} trusts.",
                    lab.authorities[root].name,
                    trust_option(v.side, &crt_file(lab, CertRef::Authority(root)))
                )
            };
            (what, fix)
        }
        // The client signed its handshake with another key than its certificate's (a battery's
        // key-mismatch case): the CertificateVerify signature (RFC 8446 §4.4.3) fails, not a certificate's.
        Reason::BadSignature if v.side == Side::Server && case.client.key_of.is_some() => (
            format!(
                "The client's handshake signature (CertificateVerify) does not verify with the public key of the certificate it presented{}: it signed with another private key.",
                case.client
                    .certificate
                    .map(|c| format!(" (`{}`)", lab.certificates[c].name))
                    .unwrap_or_default()
            ),
            "Give the client the private key that belongs to its certificate: `openssl x509 -noout -pubkey -in client.crt` and `openssl pkey -pubout -in client.key` must print the same key.".to_string(),
        ),
        Reason::BadSignature => (
            format!(
                "{failed_role} names a trusted issuer, but its signature does not verify with that issuer's key: it was signed by another CA with the same name."
            ),
            "Issue the certificate from the real CA; a CA is identified by its key, not by its name.".to_string(),
        ),
        Reason::Expired => {
            let r = failed.or(leaf);
            let what = match r {
                Some(r) => format!(
                    "{failed_role} expired at {} (verified at {}).",
                    time(validity(lab, r).1),
                    time(at)
                ),
                None => format!("{failed_role} had expired when verified at {}.", time(at)),
            };
            let fix = match r {
                Some(CertRef::Authority(i)) => format!(
                    "Renew the intermediate `{}` and send the new one with the {peer}'s certificate; renewing the {peer} certificate alone does not help.",
                    lab.authorities[i].name
                ),
                _ => format!(
                    "Renew the {peer} certificate (e.g. `openssl x509 -req -days 365 ...`) and install the new one on the {peer}."
                ),
            };
            (what, fix)
        }
        Reason::NotYetValid => {
            let r = failed.or(leaf);
            let from = r.map(|r| validity(lab, r).0);
            let what = match from {
                Some(from) => format!(
                    "{failed_role} is valid only from {} (verified at {}).",
                    time(from),
                    time(at)
                ),
                None => format!("{failed_role} was not valid yet when verified at {}.", time(at)),
            };
            let early = from.map(|f| f - at);
            let fix = if let Some(early) = early.filter(|e| *e <= time::Duration::minutes(10)) {
                format!(
                    "The start is only {} s after the verifier's clock: the verifier's clock is slightly behind the issuer's. Back-date the start a few minutes when issuing (`valid: {{ from: -5m }}`; openssl `-not_before` in the past), and keep the clocks in sync (NTP).",
                    early.whole_seconds()
                )
            } else {
                "Issue a certificate whose validity has started (back-date `from:` a few minutes), or check the clock of the verifying machine.".to_string()
            };
            (what, fix)
        }
        Reason::NameMismatch => name_mismatch(lab, case, leaf),
        Reason::WrongPurpose => {
            let (auth, eku) = if v.side == Side::Server {
                ("TLS client", "clientAuth")
            } else {
                ("TLS server", "serverAuth")
            };
            match failed {
                Some(CertRef::Authority(i)) if leaf != failed => (
                    format!(
                        "{failed_role} restricts its extended key usage to purposes without {auth} authentication ({eku}); rustls-webpki and OpenSSL check the extended key usage of every certificate in the chain, so nothing issued under it may serve as a {auth} certificate, whatever the {peer} certificate {leaf_name} itself allows."
                    ),
                    format!(
                        "Issue the {peer} certificate from an authority whose extended key usage includes {eku} (or has none), or reissue the intermediate `{}` with `extendedKeyUsage = {eku}` added.",
                        lab.authorities[i].name
                    ),
                ),
                _ => (
                    format!("{failed_role} does not allow {auth} authentication (extended key usage)."),
                    format!("Reissue it with `extendedKeyUsage = {eku}` (openssl: in the extension file given to `-extfile`)."),
                ),
            }
        }
        Reason::Revoked => revoked(lab, v, failed.or(leaf), &failed_role),
        Reason::RevocationUnknown => {
            let r = failed.or(leaf);
            let issuer = r.and_then(|r| issuer_of(lab, r));
            let crl = issuer.and_then(|i| lab.authorities[i].crl.as_ref().map(|c| (i, c)));
            match crl {
                Some((i, crl)) if crl.next_update < at => (
                    format!(
                        "{who} checks revocation, and the CRL of `{}` is out of date: its nextUpdate was {}, before the verification time {}; a verifier may not trust a CRL past its nextUpdate.",
                        lab.authorities[i].name,
                        time(crl.next_update),
                        time(at)
                    ),
                    format!("Publish a fresh CRL from `{}` (nextUpdate in the future) and give it to {who}; CRLs must be reissued before nextUpdate.", lab.authorities[i].name),
                ),
                _ if issuer.is_some_and(|i| !verifier_has_crl(v.revocation, i)) => {
                    let i = issuer.unwrap_or_default();
                    let given: Vec<CertRef> = v
                        .revocation
                        .and_then(|c| c.crls.as_ref())
                        .map(|c| c.iter().map(|a| CertRef::Authority(*a)).collect())
                        .unwrap_or_default();
                    let given = if given.is_empty() {
                        "no CRL".to_string()
                    } else {
                        format!("the CRLs of {} only", authority_list(lab, &given))
                    };
                    let or_leaf = if failed.is_some() && failed != leaf {
                        ", or check the end entity only"
                    } else {
                        ""
                    };
                    (
                        format!(
                            "{who} checks revocation and was given {given}, not that of `{}`, which issued {failed_role}: so the revocation status of that certificate is unknown.",
                            lab.authorities[i].name
                        ),
                        format!(
                            "Give {who} the CRL of `{}` too (its `revocation.crls`){or_leaf}.",
                            lab.authorities[i].name
                        ),
                    )
                }
                _ => (
                    format!("{who} checks revocation, but has no usable CRL for the issuer of {failed_role}."),
                    format!("Give {who} the current CRL of every authority in the chain (or check the end entity only), signed by the authority with cRLSign."),
                ),
            }
        }
        Reason::CaUsedAsLeaf => (
            format!("the {peer} presented a CA certificate ({leaf_name}) as its own identity."),
            "Present an end-entity certificate issued by the CA, not the CA certificate itself.".to_string(),
        ),
        Reason::IssuerNotCa => {
            let issuer = failed.and_then(|r| issuer_of(lab, r));
            (
                format!(
                    "{failed_role} was issued by {}, which is not a CA (basicConstraints CA:FALSE or absent).",
                    issuer.map_or("an issuer".to_string(), |i| subject_cn(lab, i))
                ),
                "Issue certificates only from authorities (basicConstraints CA:TRUE).".to_string(),
            )
        }
        Reason::PathLenExceeded => match failed {
            Some(CertRef::Authority(i)) => (
                format!(
                    "authority `{}` allows {} intermediate(s) below it (pathLenConstraint), and the {peer}'s chain has more.",
                    lab.authorities[i].name,
                    lab.authorities[i].path_len.map_or("any".to_string(), |p| p.to_string())
                ),
                format!("Issue the {peer} certificate from an authority closer to `{}`, or raise its pathLenConstraint.", lab.authorities[i].name),
            ),
            _ => (
                format!("the chain of {leaf_name} has more intermediates than an authority's path length allows."),
                "Shorten the chain, or raise the authority's pathLenConstraint.".to_string(),
            ),
        },
        Reason::ChainTooLong => (
            format!(
                "the chain of {leaf_name} has {} intermediates between it and the authority {who} trusts; rustls-webpki builds paths through at most {} intermediates (a fixed limit of the verifier, not a pathLenConstraint of any certificate).",
                leaf.and_then(|r| issuer_of(lab, r))
                    .zip(v.trust)
                    .map_or("?".to_string(), |(i, t)| crate::lab::lint::intermediates_below_anchor(lab, i, t).to_string()),
                crate::lab::lint::MAX_INTERMEDIATES,
            ),
            format!(
                "Shorten the chain to at most {} intermediates, or trust an intermediate closer to the {peer} certificate. OpenSSL's default depth limit is 100, so `openssl verify` may accept this chain.",
                crate::lab::lint::MAX_INTERMEDIATES,
            ),
        ),
        Reason::NameConstraints => (
            format!("a name in {failed_role} is outside the names its authority may certify (name constraints)."),
            "Use a name the authority permits, or issue from an authority without that constraint.".to_string(),
        ),
        Reason::PinMismatch => (
            format!("the public key of {failed_role} is not the one the client pinned."),
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
        Reason::NoApplicationProtocol => (
            format!(
                "the client offered {} (ALPN) and server `{}` accepts only {}: none in common, so the server refused the handshake with the alert no_application_protocol.",
                // A client program offers what its own arguments name.
                if case.client.command.is_some() {
                    "application protocols of its own".to_string()
                } else {
                    format!("the application protocols {}", protocols(&case.client.alpn))
                },
                server.name,
                protocols(&server.alpn)
            ),
            "Offer a protocol the server accepts (e.g. `http/1.1` beside `h2`), or add the client's protocol to the server's `alpn` list.".to_string(),
        ),
        Reason::BadEncoding if failed.is_some_and(|r| unknown_critical(lab, r)) => (
            format!(
                "{failed_role} carries a critical extension {who} does not recognise; a verifier must reject a certificate with a critical extension it does not recognise (RFC 5280 §4.2){}.",
                if matches!(failed, Some(CertRef::Authority(_))) && failed != leaf {
                    ", so every chain through it fails"
                } else {
                    ""
                }
            ),
            format!(
                "Reissue `{}` without that extension, or mark it non-critical if verifiers may ignore it.",
                failed.map_or("", |r| lab.name_of(r))
            ),
        ),
        Reason::BadEncoding => (
            format!("{who} cannot process {failed_role}: it is malformed, or carries an extension {who} must refuse ({}).", observed.detail.as_deref().unwrap_or("no detail")),
            "Reissue the certificate with a standard tool (DER-encoded X.509 v3, no critical extension a verifier does not recognise, RFC 5280 §4.2).".to_string(),
        ),
        Reason::UnsupportedAlgorithm | Reason::UnsupportedCertVersion => (
            format!("{who} cannot process {failed_role}: {}.", observed.detail.as_deref().unwrap_or("unsupported certificate")),
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
            format!("{who} rejected the handshake: {}.", observed.detail.as_deref().unwrap_or("no detail")),
            "Read the detail; it is rustls's own wording.".to_string(),
        ),
    }
}

/// `name_mismatch`: the names the server certificate lists, and the lesson when a wildcard is used more
/// than one label down or an IP address is written as a DNS name.
fn name_mismatch(lab: &Lab, case: &Case, leaf: Option<CertRef>) -> (String, String) {
    use crate::lab::San;
    let asked = &case.client.server_name;
    let (name, sans): (String, &[San]) = match leaf {
        Some(CertRef::Certificate(i)) => (
            format!("`{}`", lab.certificates[i].name),
            &lab.certificates[i].san,
        ),
        Some(r) => (format!("`{}`", lab.name_of(r)), &[]),
        None => ("(none)".into(), &[]),
    };
    let listed = sans
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut what = format!(
        "the client asked for `{asked}`, but the server certificate {name} lists [{listed}]; TLS clients ignore the CN."
    );
    let mut fix = "Connect with a name the certificate lists, or reissue it with the name as a subjectAltName (openssl: `-addext \"subjectAltName=DNS:localhost,IP:127.0.0.1\"`).".to_string();
    let asked_ip = asked.parse::<std::net::IpAddr>().ok();
    for s in sans {
        match s {
            San::Dns(d) if asked_ip.is_some() && d == asked => {
                what.push_str(&format!(" `{d}` is written as a DNS name (dNSName), and an IP address matches only an iPAddress entry."));
                fix = format!("Reissue the certificate with `ip:{d}` (openssl: `subjectAltName=IP:{d}`), not `dns:{d}`.");
            }
            San::Dns(d) if d.starts_with("*.") => {
                let base = &d[1..];
                if asked.len() > base.len()
                    && asked
                        .to_ascii_lowercase()
                        .ends_with(&base.to_ascii_lowercase())
                    && asked[..asked.len() - base.len()].contains('.')
                {
                    what.push_str(&format!(" A wildcard covers exactly one label: `{d}` matches `a{base}`, not `{asked}`."));
                    fix = format!("Reissue the certificate with `dns:{asked}` (or a wildcard one label above it), or connect with a name one label below `{}`.", &base[1..]);
                }
            }
            _ => {}
        }
    }
    (what, fix)
}

/// `revoked`: which certificate is on which authority's CRL, and the lesson when a renewal shares the
/// serial of a revoked certificate (a CRL lists issuer and serial, not keys).
fn revoked(lab: &Lab, v: &Verifier<'_>, r: Option<CertRef>, unknown: &str) -> (String, String) {
    let Some(r) = r else {
        return (
            format!("{unknown} is on its issuer's revocation list."),
            "Issue a new certificate (a new serial number); a revoked certificate cannot be reinstated.".to_string(),
        );
    };
    let issuer = issuer_of(lab, r);
    let issuer_name = issuer.map_or("its issuer".to_string(), |i| {
        format!("`{}`", lab.authorities[i].name)
    });
    let listed = issuer
        .and_then(|i| lab.authorities[i].crl.as_ref())
        .is_some_and(|crl| crl.revoked.iter().any(|x| x.target == r));
    match same_serial(lab, r) {
        Some((serial, other)) if !listed => (
            format!(
                "{} has serial {serial}, which the revocation list (CRL) of {issuer_name} lists: it revoked `{other}`, which has the same serial.",
                role(lab, v, r)
            ),
            format!(
                "A CRL revokes by issuer and serial number, not by key: a renewal must get a new serial number. Reissue `{}` with a serial of its own (or leave `serial:` out for a random one).",
                lab.name_of(r)
            ),
        ),
        _ => (
            format!("{} is on the revocation list (CRL) of {issuer_name}.", role(lab, v, r)),
            "Issue a new certificate (a new serial number) and install it; a revoked certificate cannot be reinstated.".to_string(),
        ),
    }
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

/// `[h2, http/1.1]`, or `none`.
fn protocols(p: &[String]) -> String {
    if p.is_empty() {
        return "none".to_string();
    }
    format!("[{}]", p.join(", "))
}

/// The certificates a choosing client holds, by name: `` `a`, `b` ``.
fn held(lab: &Lab, case: &Case) -> String {
    case.client
        .select_by_ca_names
        .iter()
        .flatten()
        .map(|i| format!("`{}`", lab.certificates[*i].name))
        .collect::<Vec<_>>()
        .join(", ")
}
