//! Cross-checks the runner's verdicts with OpenSSL: every lab's PKI is exported (through the library), and for
//! each certificate chain a case validates, `openssl verify` gives its own verdict on the same files, trust,
//! purpose, name, CRLs and time. Accept/reject must agree, and the reason where OpenSSL names an equivalent,
//! except for the real differences between the two implementations listed in [`DIFFERENCES`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use mtls_lab::lab::lint::{intermediates_below_anchor, MAX_INTERMEDIATES};
use mtls_lab::lab::{CertRef, KeyUsage, Lab, RevocationCheck, San, Subtree};
use mtls_lab::pki::export::{export, pem_block};
use mtls_lab::reason::Reason;
use mtls_lab::run::CaseResult;
use mtls_lab::spec::{ClientAuth, Outcome, Side};

/// A verdict on one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accept,
    /// The runner's reason code.
    Reject(Reason),
}

/// OpenSSL's verdict: accepted, or the first `X509_V_ERR_*` code it reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenSsl {
    Accept,
    Reject(i32),
}

/// The runner reason an OpenSSL verify error code corresponds to, where there is one.
fn openssl_reason(code: i32) -> Option<Reason> {
    Some(match code {
        2 | 20 | 21 => Reason::UnknownIssuer, // UNABLE_TO_GET_ISSUER_CERT(_LOCALLY), UNABLE_TO_VERIFY_LEAF_SIGNATURE
        18 | 19 => Reason::UnknownIssuer, // DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN (untrusted)
        3 | 12 => Reason::RevocationUnknown, // UNABLE_TO_GET_CRL, CRL_HAS_EXPIRED
        7 => Reason::BadSignature,        // CERT_SIGNATURE_FAILURE
        9 => Reason::NotYetValid,         // CERT_NOT_YET_VALID
        10 => Reason::Expired,            // CERT_HAS_EXPIRED
        23 => Reason::Revoked,            // CERT_REVOKED
        79 => Reason::IssuerNotCa, // INVALID_CA (79 since OpenSSL 1.1; 24 is NO_ISSUER_PUBLIC_KEY)
        25 => Reason::PathLenExceeded, // PATH_LENGTH_EXCEEDED
        26 => Reason::WrongPurpose, // INVALID_PURPOSE
        13 | 14 => Reason::BadEncoding, // ERROR_IN_CERT_NOT_BEFORE_FIELD, ERROR_IN_CERT_NOT_AFTER_FIELD
        34 => Reason::BadEncoding,      // UNHANDLED_CRITICAL_EXTENSION
        47 | 48 => Reason::NameConstraints, // PERMITTED_VIOLATION, EXCLUDED_VIOLATION
        62 | 64 => Reason::NameMismatch, // HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
        _ => return None,
    })
}

/// Everything known about one chain check.
struct Check<'a> {
    lab: &'a Lab,
    /// The leaf's index in `lab.certificates`.
    leaf: usize,
    /// Trust anchors of the verifying side.
    trust: &'a [CertRef],
    revocation: Option<RevocationCheck>,
    /// The name the client asked for, for the server's chain.
    server_name: Option<&'a str>,
    /// The verification time (Unix seconds).
    at: i64,
    runner: Verdict,
    openssl: OpenSsl,
}

impl Check<'_> {
    fn cert(&self) -> &mtls_lab::lab::Certificate {
        &self.lab.certificates[self.leaf]
    }

    /// The leaf's issuing authority; `None` for a self-signed leaf.
    fn issuer(&self) -> Option<&mtls_lab::lab::Authority> {
        self.cert().issuer.map(|i| &self.lab.authorities[i])
    }

    /// Whether the verifier trusts the leaf's issuer itself.
    fn trusts_issuer(&self) -> bool {
        self.cert()
            .issuer
            .is_some_and(|i| self.trust.contains(&CertRef::Authority(i)))
    }

    fn is(&self, runner: Verdict, openssl: OpenSsl) -> bool {
        self.runner == runner && self.openssl == openssl
    }
}

/// A known, real difference between rustls-webpki and OpenSSL: when `applies`, the two verdicts may differ.
struct Difference {
    id: &'static str,
    why: &'static str,
    applies: fn(&Check) -> bool,
}

/// Every real difference the labs exhibit, one line each. Anything else must agree.
const DIFFERENCES: &[Difference] = &[
    Difference {
        id: "x509-v1-accepted",
        why: "OpenSSL still verifies X.509 v1 certificates (no extensions, so no purpose or name constraints to fail); webpki accepts only v3",
        applies: |c| {
            c.runner == Verdict::Reject(Reason::UnsupportedCertVersion) && c.openssl == OpenSsl::Accept
        },
    },
    Difference {
        id: "sha1-signature-accepted",
        why: "`openssl verify` at its default security level still accepts a SHA-1 signature in the chain; webpki supports no SHA-1 signature algorithm",
        applies: |c| {
            c.runner == Verdict::Reject(Reason::UnsupportedAlgorithm) && c.openssl == OpenSsl::Accept
        },
    },
    Difference {
        id: "cn-fallback",
        why: "a certificate without SANs: OpenSSL falls back to the subject CN for a host name, webpki never reads the CN",
        applies: |c| {
            c.runner == Verdict::Reject(Reason::NameMismatch)
                && c.openssl == OpenSsl::Accept
                && c.lab.certificates[c.leaf].san.is_empty()
        },
    },
    Difference {
        id: "cn-fallback-ip-only",
        why: "a certificate whose only SANs are IP addresses: OpenSSL still falls back to the CN for a host name (it looks for DNS SANs only); webpki never reads the CN",
        applies: |c| {
            c.is(Verdict::Reject(Reason::NameMismatch), OpenSsl::Accept)
                && !c.cert().san.is_empty()
                && c.cert().san.iter().all(|s| matches!(s, San::Ip(_)))
        },
    },
    Difference {
        id: "partial-wildcard",
        why: "OpenSSL matches a partial wildcard (`f*.example.test` for `foo.example.test`); webpki accepts `*` only as a whole leftmost label",
        applies: |c| {
            c.is(Verdict::Reject(Reason::NameMismatch), OpenSsl::Accept)
                && c.cert().san.iter().any(|s| {
                    matches!(s, San::Dns(d) if d.split('.').next().is_some_and(|l| l.contains('*') && l != "*"))
                })
        },
    },
    Difference {
        id: "trailing-dot-name",
        why: "a server name with a trailing dot (`localhost.`): webpki matches it to `dns:localhost`; OpenSSL's X509_check_host does not (62, hostname mismatch)",
        applies: |c| {
            c.is(Verdict::Accept, OpenSsl::Reject(62))
                && c.server_name.is_some_and(|n| n.ends_with('.'))
        },
    },
    Difference {
        id: "email-name-constraints",
        why: "webpki does not implement rfc822Name constraints and refuses every email SAN under them; OpenSSL accepts one inside the permitted subtree",
        applies: |c| {
            c.is(Verdict::Reject(Reason::NameConstraints), OpenSsl::Accept)
                && c.cert().san.iter().any(|s| matches!(s, San::Email(_)))
                && c.issuer().and_then(|a| a.name_constraints.as_ref()).is_some_and(|n| {
                    n.permitted.iter().any(|t| matches!(t, Subtree::Email(_)))
                })
        },
    },
    Difference {
        id: "cn-under-dns-constraints",
        why: "a certificate without SANs under DNS name constraints: OpenSSL checks a CN that looks like a host name against them (47); webpki does not",
        applies: |c| {
            c.is(Verdict::Accept, OpenSsl::Reject(47))
                && c.cert().san.is_empty()
                && c.issuer().and_then(|a| a.name_constraints.as_ref()).is_some_and(|n| {
                    n.permitted.iter().any(|t| matches!(t, Subtree::Dns(_)))
                })
        },
    },
    Difference {
        id: "end-entity-key-usage-ignored",
        why: "webpki does not read keyUsage on end entities; OpenSSL's TLS purposes require digitalSignature for an ECDSA key (26)",
        applies: |c| {
            c.is(Verdict::Accept, OpenSsl::Reject(26))
                && c.cert().key_usage.as_ref().is_some_and(|k| !k.contains(&KeyUsage::DigitalSignature))
        },
    },
    Difference {
        id: "non-ca-trust-anchor",
        why: "webpki keeps only a trust anchor's name, key and name constraints, so an anchor with cA=FALSE still issues; OpenSSL refuses it (79, invalid CA certificate)",
        applies: |c| {
            c.is(Verdict::Accept, OpenSsl::Reject(79))
                && c.issuer().is_some_and(|a| !a.ca)
                && c.trusts_issuer()
        },
    },
    Difference {
        id: "depth-limit",
        why: "webpki builds paths through at most six intermediates (`chain_too_long`); OpenSSL's default depth is 100",
        applies: |c| {
            c.is(Verdict::Reject(Reason::ChainTooLong), OpenSsl::Accept)
                && c.cert().issuer.is_some_and(|i| intermediates_below_anchor(c.lab, i, c.trust) > MAX_INTERMEDIATES)
        },
    },
    Difference {
        id: "first-of-two-defects",
        why: "an expired certificate with the wrong purpose: webpki checks validity first (`expired`), OpenSSL the purpose (26)",
        applies: |c| {
            c.is(Verdict::Reject(Reason::Expired), OpenSsl::Reject(26))
                && c.cert().not_after.unix_timestamp() < c.at
        },
    },
    Difference {
        id: "not-after-second",
        why: "at the exact notAfter second: webpki accepts (RFC 5280: the validity period includes notAfter), OpenSSL says expired (10)",
        applies: |c| {
            c.is(Verdict::Accept, OpenSsl::Reject(10)) && c.cert().not_after.unix_timestamp() == c.at
        },
    },
    Difference {
        id: "crl-this-update-in-future",
        why: "webpki never reads a CRL's thisUpdate; OpenSSL refuses a CRL that is not yet valid (11)",
        applies: |c| {
            c.is(Verdict::Accept, OpenSsl::Reject(11))
                && c.revocation.is_some()
                && c.issuer().and_then(|a| a.crl.as_ref()).is_some_and(|crl| crl.this_update.unix_timestamp() > c.at)
        },
    },
    Difference {
        id: "intermediate-anchor-whole-chain",
        why: "whole-chain revocation with an intermediate as the anchor: webpki checks only the certificates below the anchor; OpenSSL also wants a CRL covering the anchor (3)",
        applies: |c| {
            c.is(Verdict::Accept, OpenSsl::Reject(3))
                && c.revocation.as_ref().is_some_and(|r| !r.end_entity_only)
                && c.trusts_issuer()
                && c.issuer().is_some_and(|a| a.issuer.is_some())
        },
    },
    Difference {
        id: "twin-crl-name-order",
        why: "two authorities with one name both publish CRLs: webpki takes the first CRL naming the issuer (here the impostor's, in the order of the authorities' names) and cannot verify it; OpenSSL uses the one the issuer's key verifies",
        applies: |c| {
            let Some(issuer) = c.cert().issuer else { return false };
            let dn = |i: usize| format!("{:?}", c.lab.authorities[i].subject);
            c.is(Verdict::Reject(Reason::RevocationUnknown), OpenSsl::Accept)
                && c.revocation.is_some()
                && (0..issuer).any(|i| dn(i) == dn(issuer) && c.lab.authorities[i].crl.is_some())
        },
    },
    Difference {
        id: "ca-as-leaf",
        why: "OpenSSL accepts a certificate with cA=TRUE as the end entity; webpki refuses a CA certificate as a leaf",
        applies: |c| {
            c.runner == Verdict::Reject(Reason::CaUsedAsLeaf)
                && c.openssl == OpenSsl::Accept
                && c.lab.certificates[c.leaf].ca
        },
    },
    Difference {
        id: "rogue-ca-by-key-id",
        why: "OpenSSL matches an issuer by its key identifier as well as its name, so a rogue CA's certificate is never a candidate (unknown issuer); webpki matches names only and finds the bad signature",
        applies: |c| {
            let Some(issuer) = c.lab.certificates[c.leaf].issuer else {
                return false;
            };
            let dn = |i: usize| format!("{:?}", c.lab.authorities[i].subject);
            c.runner == Verdict::Reject(Reason::BadSignature)
                && c.openssl == OpenSsl::Reject(20)
                && !c.trust.contains(&CertRef::Authority(issuer))
                && c.trust.iter().any(|t| match t {
                    CertRef::Authority(t) => dn(*t) == dn(issuer),
                    CertRef::Certificate(_) => false,
                })
        },
    },
    Difference {
        id: "ca-without-key-cert-sign",
        why: "an issuing CA whose keyUsage lacks keyCertSign: OpenSSL refuses it as a CA (79, then 32), webpki ignores keyUsage when building a chain",
        applies: |c| {
            let no_cert_sign = |a: usize| {
                c.lab.authorities[a]
                    .key_usage
                    .as_ref()
                    .is_some_and(|k| !k.contains(&mtls_lab::lab::KeyUsage::KeyCertSign))
            };
            c.runner == Verdict::Accept
                && c.openssl == OpenSsl::Reject(79)
                && c.lab.issuers_of(c.leaf).into_iter().any(no_cert_sign)
        },
    },
    Difference {
        id: "allow-unknown-revocation",
        why: "`unknown: allow` has no OpenSSL equivalent: with CRL checking on, a missing CRL is always UNABLE_TO_GET_CRL",
        applies: |c| {
            c.runner == Verdict::Accept
                && c.openssl == OpenSsl::Reject(3)
                && c.revocation.as_ref().is_some_and(|r| r.allow_unknown)
        },
    },
    Difference {
        id: "expired-crl-ignored",
        why: "webpki uses a CRL past its nextUpdate unless told otherwise (`expired: deny`); OpenSSL always refuses an expired CRL",
        applies: |c| {
            c.runner == Verdict::Accept
                && c.openssl == OpenSsl::Reject(12)
                && c.revocation.as_ref().is_some_and(|r| !r.deny_expired)
        },
    },
];

fn openssl_available() {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => {
            eprintln!("using {}", String::from_utf8_lossy(&o.stdout).trim())
        }
        Ok(o) => panic!(
            "`openssl version` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!(
            "the `openssl` command is required for this test (apt-get install -y openssl): {e}"
        ),
    }
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// Runs `openssl verify` on `leaf` as presented in `chain` (leaf first), as the verifying side would.
#[allow(clippy::too_many_arguments)]
fn openssl_verify(
    dir: &Path,
    tag: &str,
    lab: &Lab,
    pki: &mtls_lab::pki::Pki,
    chain: &[rustls::pki_types::CertificateDer<'static>],
    leaf_name: &str,
    trust: &[CertRef],
    purpose: &str,
    server_name: Option<&str>,
    revocation: Option<RevocationCheck>,
    at: i64,
) -> (OpenSsl, String) {
    let mut cmd = Command::new("openssl");
    cmd.arg("verify").arg("-no-CApath").arg("-no-CAstore");
    if trust.is_empty() {
        cmd.arg("-no-CAfile");
    } else {
        let text: String = trust.iter().map(|t| pki.get(*t).pem.clone()).collect();
        cmd.arg("-CAfile")
            .arg(write(&dir.join(format!("{tag}.trust.pem")), &text));
        let intermediate = |t: &CertRef| match t {
            CertRef::Authority(a) => lab.authorities[*a].issuer.is_some(),
            CertRef::Certificate(_) => false,
        };
        if trust.iter().any(intermediate) {
            cmd.arg("-partial_chain");
        }
    }
    if chain.len() > 1 {
        let text: String = chain[1..]
            .iter()
            .map(|d| pem_block("CERTIFICATE", d))
            .collect();
        cmd.arg("-untrusted")
            .arg(write(&dir.join(format!("{tag}.untrusted.pem")), &text));
    }
    cmd.arg("-purpose").arg(purpose);
    match server_name.map(|n| n.parse::<std::net::IpAddr>().is_ok()) {
        Some(true) => {
            cmd.arg("-verify_ip").arg(server_name.unwrap_or_default());
        }
        Some(false) => {
            cmd.arg("-verify_hostname")
                .arg(server_name.unwrap_or_default());
        }
        None => {}
    }
    if let Some(r) = &revocation {
        cmd.arg(if r.end_entity_only {
            "-crl_check"
        } else {
            "-crl_check_all"
        });
        // The CRLs the verifier has: those it names, else every CRL of the lab.
        let crls: String = pki
            .authorities
            .iter()
            .enumerate()
            .filter(|(i, _)| r.crls.as_ref().is_none_or(|l| l.contains(i)))
            .filter_map(|(_, a)| a.crl.as_ref().map(|c| c.1.clone()))
            .collect();
        cmd.arg("-CRLfile")
            .arg(write(&dir.join(format!("{tag}.crls.pem")), &crls));
    }
    cmd.arg("-attime").arg(at.to_string());
    cmd.arg(dir.join(leaf_name).join(format!("{leaf_name}.crt")));
    let out = cmd.output().expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        return (OpenSsl::Accept, text);
    }
    // "error 10 at 0 depth lookup: certificate has expired"
    let code = text
        .lines()
        .find_map(|l| {
            l.split("error ")
                .nth(1)?
                .split(" at ")
                .next()?
                .trim()
                .parse::<i32>()
                .ok()
        })
        .unwrap_or_else(|| panic!("cannot read OpenSSL's verdict:\n{text}"));
    (OpenSsl::Reject(code), text)
}

/// The runner's verdict on the server's chain (as the client verified it), or why there is none.
fn server_chain_verdict(c: &CaseResult) -> Result<Verdict, &'static str> {
    let o = c.observed.as_ref().ok_or("case not run")?;
    match (o.outcome, o.by, o.reason) {
        (Outcome::Accepted, _, _) => Ok(Verdict::Accept),
        (_, _, Some(r)) if r.is_transport() => Err("transport failure"),
        (
            _,
            _,
            Some(
                Reason::ProtocolVersion | Reason::HandshakeFailure | Reason::NoApplicationProtocol,
            ),
        ) => Err("rejected in negotiation, before any certificate"),
        // The client verifies the server before the server sees the client's certificate.
        (_, Some(Side::Server), Some(_)) => Ok(Verdict::Accept),
        // Pins are checked only after the WebPKI verification succeeded.
        (_, Some(Side::Client), Some(Reason::PinMismatch)) => Ok(Verdict::Accept),
        (_, Some(Side::Client), Some(r)) => Ok(Verdict::Reject(r)),
        _ => Err("no verdict"),
    }
}

/// The runner's verdict on the client's chain (as the server verified it), or why there is none.
fn client_chain_verdict(
    lab: &Lab,
    case: &mtls_lab::lab::Case,
    c: &CaseResult,
) -> Result<Verdict, &'static str> {
    if case.client.certificate.is_none() {
        return Err("no client certificate sent");
    }
    if case
        .client
        .select_by_ca_names
        .as_ref()
        .is_some_and(|l| l.len() > 1)
    {
        return Err("the client chose among several certificates");
    }
    if c.observed
        .as_ref()
        .is_some_and(|o| o.negotiated.certificate_withheld)
    {
        return Err("the client withheld its certificate (no CA name matched)");
    }
    if case.client.key_of.is_some() {
        return Err("the client signs with another certificate's key: its chain is sound, its handshake signature is not");
    }
    if lab.servers[case.server].client_auth == ClientAuth::None {
        return Err("the server does not ask for a client certificate");
    }
    let o = c.observed.as_ref().ok_or("case not run")?;
    match (o.outcome, o.by, o.reason) {
        (Outcome::Accepted, _, _) => Ok(Verdict::Accept),
        (_, _, Some(r)) if r.is_transport() => Err("transport failure"),
        (
            _,
            _,
            Some(
                Reason::ProtocolVersion | Reason::HandshakeFailure | Reason::NoApplicationProtocol,
            ),
        ) => Err("rejected in negotiation, before any certificate"),
        (_, Some(Side::Client), _) => {
            Err("the client rejected first; the server never verified the client's chain")
        }
        (_, Some(Side::Server), Some(r)) => Ok(Verdict::Reject(r)),
        _ => Err("no verdict"),
    }
}

#[test]
fn openssl_agrees_with_the_runner_on_every_chain() {
    openssl_available();
    let labs_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&labs_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let tmp = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut checked = 0;
    let mut agreed = 0;
    let mut skipped: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut differences: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let mut unmapped: BTreeMap<(i32, &'static str), usize> = BTreeMap::new();

    let labs = files.iter().flat_map(|file| {
        mtls_lab::lab::load_all(file, time::OffsetDateTime::now_utc())
            .unwrap_or_else(|e| panic!("{e}"))
    });
    for lab in labs {
        let pki = Arc::new(mtls_lab::pki::build(&lab).unwrap());
        let dir = tmp.path().join(&lab.name);
        export(&lab, &pki, &dir, false).unwrap();
        let result = runtime.block_on(mtls_lab::run::run_lab_with_pki(&lab, pki.clone()));
        assert!(result.error.is_none(), "{}: {:?}", lab.name, result.error);

        for (i, (case, c)) in lab.cases.iter().zip(&result.cases).enumerate() {
            let at = time::OffsetDateTime::parse(
                &c.context.verification_time,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
            .unix_timestamp();
            let server = &lab.servers[case.server];
            let chains = [
                (
                    "server chain",
                    server_chain_verdict(c),
                    server.certificate_for(case.client.sni_sent()),
                    &server.chain,
                    case.client.trust.as_slice(),
                    "sslserver",
                    Some(case.client.server_name.as_str()),
                    case.client.revocation.clone(),
                ),
                (
                    "client chain",
                    client_chain_verdict(&lab, case, c),
                    case.client.certificate.unwrap_or(0),
                    &case.client.chain,
                    server.trust.as_slice(),
                    "sslclient",
                    None,
                    server.revocation.clone(),
                ),
            ];
            for (j, (what, runner, leaf, chain, trust, purpose, name, revocation)) in
                chains.into_iter().enumerate()
            {
                let runner = match runner {
                    Ok(v) => v,
                    Err(why) => {
                        *skipped.entry(why).or_default() += 1;
                        continue;
                    }
                };
                let presented = mtls_lab::tls::presented_chain(&pki, leaf, chain);
                let leaf_name = &lab.certificates[leaf].name;
                let (openssl, output) = openssl_verify(
                    &dir,
                    &format!("case{i}-{j}"),
                    &lab,
                    &pki,
                    &presented,
                    leaf_name,
                    trust,
                    purpose,
                    name,
                    revocation.clone(),
                    at,
                );
                checked += 1;
                let same = match (runner, openssl) {
                    (Verdict::Accept, OpenSsl::Accept) => true,
                    (Verdict::Reject(r), OpenSsl::Reject(code)) => match openssl_reason(code) {
                        Some(o) => o == r,
                        None => {
                            // OpenSSL names no equivalent reason: only accept/reject is compared.
                            *unmapped.entry((code, r.code())).or_default() += 1;
                            true
                        }
                    },
                    _ => false,
                };
                let label = format!("{} › {} ({what})", lab.name, case.name);
                if same {
                    agreed += 1;
                    continue;
                }
                let check = Check {
                    lab: &lab,
                    leaf,
                    trust,
                    revocation,
                    server_name: name,
                    at,
                    runner,
                    openssl,
                };
                match DIFFERENCES.iter().find(|d| (d.applies)(&check)) {
                    Some(d) => differences.entry(d.id).or_default().push(label),
                    None => disagreements.push(format!(
                        "{label}: runner {runner:?}, OpenSSL {openssl:?}\n    {}",
                        output.trim().replace('\n', "\n    ")
                    )),
                }
            }
        }
    }

    eprintln!("OpenSSL cross-check: {checked} chains checked, {agreed} agree");
    for d in DIFFERENCES {
        let seen = differences.get(d.id).map_or(0, Vec::len);
        eprintln!("  known difference {} ({seen}): {}", d.id, d.why);
        for l in differences.get(d.id).into_iter().flatten() {
            eprintln!("    - {l}");
        }
    }
    for ((code, reason), n) in &unmapped {
        eprintln!(
            "  {n} rejection(s) where OpenSSL error {code} has no reason code (runner: {reason})"
        );
    }
    for (why, n) in &skipped {
        eprintln!("  skipped {n}: {why}");
    }
    assert!(checked > 50, "too few chains checked: {checked}");
    // A rejection OpenSSL names with a code we do not map was compared as accept/reject only: none may remain.
    assert!(
        unmapped.is_empty(),
        "OpenSSL error codes with no reason mapping (map them in openssl_reason): {unmapped:?}"
    );
    // Every listed difference must still occur, or it is a stale exemption.
    for d in DIFFERENCES {
        assert!(
            differences.contains_key(d.id),
            "known difference `{}` no longer occurs: remove it from DIFFERENCES",
            d.id
        );
    }
    assert!(
        disagreements.is_empty(),
        "OpenSSL disagrees with the runner on {} chain(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
