//! Which certificate of the path a verifier built failed, for a reason it gave: the leaf, or the
//! intermediate or authority whose validity, EKU, CRL, pathLen or extensions the reason is about.

use time::OffsetDateTime;

use crate::lab::{CertRef, EkuPurpose, Lab, RevocationCheck};
use crate::reason::{Reason, Side};

pub use crate::lab::Path;

/// The path a verifier that trusts `trust` builds from `presented` (leaf first): [`Lab::path`].
pub fn path(lab: &Lab, presented: &[CertRef], trust: &[CertRef]) -> Path {
    lab.path(presented, trust)
}

/// The certificate that failed for `reason` in the chain `path` verified at `at`: for `expired` and
/// `not_yet_valid` the first (from the leaf) outside its validity; for `revoked` the first on its
/// issuer's CRL; for `unknown_issuer` and `bad_signature` the top one (its issuer is the unknown one);
/// for `issuer_not_ca` the one issued by a non-CA; for `path_len_exceeded` the authority whose path
/// length the chain exceeds; for `revocation_unknown` the first (the leaf only when `revocation` checks
/// the end entity only) whose issuer's CRL the verifier does not have (`revocation.crls`, every CRL of
/// the lab when unset) or whose CRL is past its nextUpdate; for `wrong_purpose` the first whose extended
/// key usage is present and lacks the purpose the verifier (`verifier` side) requires (rustls-webpki and
/// OpenSSL check it on every certificate of the chain); for `bad_encoding` the first carrying an unknown
/// critical extension (RFC 5280 §4.2), if any; for the other certificate reasons the leaf. `None` for
/// reasons that are not about a certificate.
pub fn failing(
    lab: &Lab,
    path: &Path,
    reason: Reason,
    at: OffsetDateTime,
    verifier: Side,
    revocation: Option<&RevocationCheck>,
) -> Option<CertRef> {
    let leaf = *path.certs.first()?;
    let validity = |r: CertRef| match r {
        CertRef::Certificate(i) => (
            lab.certificates[i].not_before,
            lab.certificates[i].not_after,
        ),
        CertRef::Authority(i) => (lab.authorities[i].not_before, lab.authorities[i].not_after),
    };
    let issuer_of = |r: CertRef| issuer_of(lab, r);
    let first = |p: &dyn Fn(CertRef) -> bool| path.certs.iter().copied().find(|r| p(*r));
    let found = match reason {
        Reason::Expired => first(&|r| validity(r).1 < at),
        Reason::NotYetValid => first(&|r| validity(r).0 > at),
        Reason::Revoked => first(&|r| {
            issuer_of(r)
                .and_then(|i| lab.authorities[i].crl.as_ref())
                .is_some_and(|crl| crl.revoked.iter().any(|x| x.target == r))
                || same_serial(lab, r).is_some()
        }),
        Reason::RevocationUnknown => {
            let end_entity_only = revocation.is_some_and(|c| c.end_entity_only);
            first(&|r| {
                (!end_entity_only || r == leaf)
                    && issuer_of(r).is_some_and(|i| crl_unusable(lab, revocation, i, at))
            })
        }
        Reason::WrongPurpose => first(&|r| lacks_purpose(lab, r, verifier)),
        Reason::BadEncoding => first(&|r| unknown_critical(lab, r)),
        Reason::UnknownIssuer | Reason::BadSignature => path.certs.last().copied(),
        Reason::IssuerNotCa => first(&|r| issuer_of(r).is_some_and(|i| !lab.authorities[i].ca)),
        Reason::PathLenExceeded => {
            // An authority at position j (the leaf is 0) has j - 1 intermediates below it; the anchor
            // sits above the last presented certificate.
            let above = path
                .certs
                .iter()
                .skip(1)
                .filter_map(|r| match r {
                    CertRef::Authority(i) => Some(*i),
                    CertRef::Certificate(_) => None,
                })
                .chain(path.anchor.and_then(|a| match a {
                    CertRef::Authority(i) => Some(i),
                    CertRef::Certificate(_) => None,
                }))
                .enumerate()
                .find(|(below, i)| {
                    lab.authorities[*i]
                        .path_len
                        .is_some_and(|p| usize::from(p) < *below)
                });
            above.map(|(_, i)| CertRef::Authority(i))
        }
        Reason::CaUsedAsLeaf
        | Reason::NameMismatch
        | Reason::NameConstraints
        | Reason::PinMismatch
        | Reason::UnsupportedAlgorithm
        | Reason::UnsupportedCertVersion
        | Reason::ChainTooLong => Some(leaf),
        _ => return None,
    };
    Some(found.unwrap_or(leaf))
}

/// The purpose a verifier on `side` requires of the peer's chain: a server verifies TLS clients.
fn purpose(side: Side) -> EkuPurpose {
    match side {
        Side::Server => EkuPurpose::ClientAuth,
        Side::Client => EkuPurpose::ServerAuth,
    }
}

/// Whether `r` has an extended key usage extension without the purpose a verifier on `side` requires
/// (no extension allows every purpose, RFC 5280 §4.2.1.12).
fn lacks_purpose(lab: &Lab, r: CertRef, side: Side) -> bool {
    let eku = match r {
        CertRef::Certificate(i) => lab.certificates[i].eku.as_ref(),
        CertRef::Authority(i) => lab.authorities[i].eku.as_ref(),
    };
    eku.is_some_and(|e| !e.contains(&purpose(side)))
}

/// Whether `r` carries a critical extension no verifier understands.
pub(super) fn unknown_critical(lab: &Lab, r: CertRef) -> bool {
    match r {
        CertRef::Certificate(i) => lab.certificates[i].unknown_critical_extension,
        CertRef::Authority(i) => lab.authorities[i].unknown_critical_extension,
    }
}

/// Whether a verifier checking revocation with `revocation` lacks a usable CRL of authority `i`: its
/// `crls` list leaves it out, the authority publishes none, or it is past its nextUpdate at `at`.
fn crl_unusable(
    lab: &Lab,
    revocation: Option<&RevocationCheck>,
    i: usize,
    at: OffsetDateTime,
) -> bool {
    !verifier_has_crl(revocation, i)
        || lab.authorities[i]
            .crl
            .as_ref()
            .is_none_or(|crl| crl.next_update < at)
}

/// Whether the verifier was given authority `i`'s CRL (`crls` unset: every CRL of the lab).
pub(super) fn verifier_has_crl(revocation: Option<&RevocationCheck>, i: usize) -> bool {
    revocation
        .and_then(|c| c.crls.as_ref())
        .is_none_or(|crls| crls.contains(&i))
}

/// The validity of a certificate or authority.
pub(super) fn validity(lab: &Lab, r: CertRef) -> (OffsetDateTime, OffsetDateTime) {
    match r {
        CertRef::Certificate(i) => (
            lab.certificates[i].not_before,
            lab.certificates[i].not_after,
        ),
        CertRef::Authority(i) => (lab.authorities[i].not_before, lab.authorities[i].not_after),
    }
}

/// The issuer of a certificate or authority (`None` for a root).
pub(super) fn issuer_of(lab: &Lab, r: CertRef) -> Option<usize> {
    match r {
        CertRef::Certificate(i) => lab.certificates[i].issuer,
        CertRef::Authority(i) => lab.authorities[i].issuer,
    }
}

/// A revoked certificate of the same issuer with the same (lab-given) serial as `r`: its serial and name.
pub(super) fn same_serial(lab: &Lab, r: CertRef) -> Option<(u64, String)> {
    let serial = match r {
        CertRef::Certificate(i) => lab.certificates[i].serial,
        CertRef::Authority(i) => lab.authorities[i].serial,
    }?;
    let issuer = issuer_of(lab, r)?;
    let crl = lab.authorities[issuer].crl.as_ref()?;
    crl.revoked.iter().find_map(|x| {
        let other_serial = match x.target {
            CertRef::Certificate(i) => lab.certificates[i].serial,
            CertRef::Authority(i) => lab.authorities[i].serial,
        };
        (x.target != r && other_serial == Some(serial))
            .then(|| (serial, lab.name_of(x.target).to_string()))
    })
}
