//! The rustls/webpki classification, table-driven over synthetic errors: every `rustls::Error` a verifier or a
//! negotiation can return, every `CertificateError`, and every webpki error wrapped as
//! `CertificateError::Other(OtherError(Arc<webpki::Error>))` (rustls 0.23 maps some of them to specific
//! variants before they reach us; the others arrive wrapped, and the day rustls changes its mapping the
//! wrapped arms take over). Each row gives the reason and the alert this side sends.
#![allow(deprecated)] // the deprecated rustls and webpki variants are rows of the tables too

use std::sync::Arc;
use std::time::Duration;

use mtls_lab::reason::{
    alert_name, alert_sent, classify, find_tls_error, pin_mismatch_error, readable_from_alert,
    reason_for_alert, received_alert_name, PinMismatch, Reason, Verdict, ALERT_NAMES,
    ALERT_REASONS,
};
use rustls::pki_types::{AlgorithmIdentifier, ServerName, UnixTime};
use rustls::{
    AlertDescription as A, CertRevocationListError as Crl, CertificateError as C, Error as E,
    ExtendedKeyPurpose, OtherError, PeerIncompatible as P, PeerMisbehaved,
};
use webpki::Error as W;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn wrapped(w: W) -> E {
    E::InvalidCertificate(C::Other(OtherError(Arc::new(w))))
}

/// The reason `classify` gives a rejection, checking that its detail is rustls's own wording.
fn rejected(e: &E) -> Reason {
    match classify(e) {
        Verdict::Rejected { reason, detail } => {
            assert_eq!(detail, e.to_string(), "{e:?}");
            reason
        }
        v => panic!("{e:?} classified as {v:?}"),
    }
}

/// Asserts reason and alert sent for every row, and reports every wrong row at once.
fn check(rows: Vec<(E, Reason, &str)>) {
    let wrong: Vec<String> = rows
        .iter()
        .filter_map(|(e, reason, alert)| {
            let got = (rejected(e), alert_sent(e));
            let want = (*reason, Some(alert.to_string()));
            (got != want).then(|| format!("{e:?}: got {got:?}, expected {want:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_certificate_error_has_its_reason_and_alert() {
    let name = ServerName::try_from("other.lab").unwrap().to_owned();
    let sig_ctx = || C::UnsupportedSignatureAlgorithmContext {
        signature_algorithm_id: vec![1, 2, 3],
        supported_algorithms: vec![AlgorithmIdentifier::from_slice(&[6, 1, 0])],
    };
    let rows: Vec<(C, Reason, &str)> = vec![
        (C::BadEncoding, Reason::BadEncoding, "bad_certificate"),
        (C::Expired, Reason::Expired, "certificate_expired"),
        (
            C::ExpiredContext {
                time: at(200),
                not_after: at(100),
            },
            Reason::Expired,
            "certificate_expired",
        ),
        (C::NotValidYet, Reason::NotYetValid, "certificate_expired"),
        (
            C::NotValidYetContext {
                time: at(100),
                not_before: at(200),
            },
            Reason::NotYetValid,
            "certificate_expired",
        ),
        (C::Revoked, Reason::Revoked, "certificate_revoked"),
        (
            C::UnhandledCriticalExtension,
            Reason::BadEncoding,
            "bad_certificate",
        ),
        (C::UnknownIssuer, Reason::UnknownIssuer, "unknown_ca"),
        (
            C::UnknownRevocationStatus,
            Reason::RevocationUnknown,
            "unknown_ca",
        ),
        (
            C::ExpiredRevocationList,
            Reason::RevocationUnknown,
            "unknown_ca",
        ),
        (
            C::ExpiredRevocationListContext {
                time: at(200),
                next_update: at(100),
            },
            Reason::RevocationUnknown,
            "unknown_ca",
        ),
        (C::BadSignature, Reason::BadSignature, "decrypt_error"),
        (
            C::UnsupportedSignatureAlgorithm,
            Reason::UnsupportedAlgorithm,
            "decrypt_error",
        ),
        (sig_ctx(), Reason::UnsupportedAlgorithm, "decrypt_error"),
        (
            C::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id: vec![1, 2, 3],
                public_key_algorithm_id: vec![4, 5, 6],
            },
            Reason::UnsupportedAlgorithm,
            "decrypt_error",
        ),
        (C::NotValidForName, Reason::NameMismatch, "bad_certificate"),
        (
            C::NotValidForNameContext {
                expected: name,
                presented: vec!["DnsName(\"server.lab\")".into()],
            },
            Reason::NameMismatch,
            "bad_certificate",
        ),
        (
            C::InvalidPurpose,
            Reason::WrongPurpose,
            "unsupported_certificate",
        ),
        (
            C::InvalidPurposeContext {
                required: ExtendedKeyPurpose::ClientAuth,
                presented: vec![ExtendedKeyPurpose::ServerAuth],
            },
            Reason::WrongPurpose,
            "unsupported_certificate",
        ),
        (
            C::InvalidOcspResponse,
            Reason::Other,
            "bad_certificate_status_response",
        ),
        (
            C::ApplicationVerificationFailure,
            Reason::Other,
            "access_denied",
        ),
    ];
    check(
        rows.into_iter()
            .map(|(c, r, a)| (E::InvalidCertificate(c), r, a))
            .collect(),
    );
}

#[test]
fn every_webpki_error_wrapped_as_other_is_recovered() {
    let sig = || webpki::UnsupportedSignatureAlgorithmContext {
        signature_algorithm_id: vec![1, 2, 3],
        supported_algorithms: vec![],
    };
    let sig_for_key = || webpki::UnsupportedSignatureAlgorithmForPublicKeyContext {
        signature_algorithm_id: vec![1, 2, 3],
        public_key_algorithm_id: vec![4, 5, 6],
    };
    let rows: Vec<(W, Reason)> = vec![
        (W::BadDer, Reason::BadEncoding),
        (W::BadDerTime, Reason::BadEncoding),
        (W::CaUsedAsEndEntity, Reason::CaUsedAsLeaf),
        (W::CertDistrusted, Reason::Other),
        (
            W::CertExpired {
                time: at(200),
                not_after: at(100),
            },
            Reason::Expired,
        ),
        (
            W::CertNotValidForName(webpki::InvalidNameContext {
                expected: ServerName::try_from("other.lab").unwrap().to_owned(),
                presented: vec![],
            }),
            Reason::NameMismatch,
        ),
        (
            W::CertNotValidYet {
                time: at(100),
                not_before: at(200),
            },
            Reason::NotYetValid,
        ),
        (W::CertRevoked, Reason::Revoked),
        (
            W::CrlExpired {
                time: at(200),
                next_update: at(100),
            },
            Reason::RevocationUnknown,
        ),
        (W::EmptyEkuExtension, Reason::WrongPurpose),
        (W::EndEntityUsedAsCa, Reason::IssuerNotCa),
        (W::ExtensionValueInvalid, Reason::BadEncoding),
        (W::InvalidCertValidity, Reason::BadEncoding),
        (W::InvalidCrlNumber, Reason::Other),
        (W::InvalidNetworkMaskConstraint, Reason::Other),
        (W::InvalidSerialNumber, Reason::BadEncoding),
        (W::InvalidCrlSignatureForPublicKey, Reason::Other),
        (W::InvalidSignatureForPublicKey, Reason::BadSignature),
        (W::IssuerNotCrlSigner, Reason::Other),
        (W::MalformedDnsIdentifier, Reason::BadEncoding),
        (W::MalformedExtensions, Reason::BadEncoding),
        (W::MalformedNameConstraint, Reason::BadEncoding),
        (W::MaximumNameConstraintComparisonsExceeded, Reason::Other),
        (W::MaximumPathBuildCallsExceeded, Reason::Other),
        (W::MaximumPathDepthExceeded, Reason::ChainTooLong),
        (W::MaximumSignatureChecksExceeded, Reason::Other),
        (W::NameConstraintViolation, Reason::NameConstraints),
        (W::PathLenConstraintViolated, Reason::PathLenExceeded),
        (W::RequiredEkuNotFound, Reason::WrongPurpose),
        (
            W::RequiredEkuNotFoundContext(webpki::RequiredEkuNotFoundContext {
                required: webpki::KeyUsage::client_auth(),
                present: vec![vec![1, 3, 6, 1, 5, 5, 7, 3, 1]],
            }),
            Reason::WrongPurpose,
        ),
        (W::SignatureAlgorithmMismatch, Reason::Other),
        (
            W::TrailingData(webpki::DerTypeId::Certificate),
            Reason::BadEncoding,
        ),
        (W::UnknownIssuer, Reason::UnknownIssuer),
        (W::UnknownRevocationStatus, Reason::RevocationUnknown),
        (W::UnsupportedCertVersion, Reason::UnsupportedCertVersion),
        (W::UnsupportedCriticalExtension, Reason::BadEncoding),
        (W::UnsupportedCrlIssuingDistributionPoint, Reason::Other),
        (W::UnsupportedCrlVersion, Reason::Other),
        (W::UnsupportedDeltaCrl, Reason::Other),
        (W::UnsupportedIndirectCrl, Reason::Other),
        (W::UnsupportedNameType, Reason::Other),
        (W::UnsupportedRevocationReason, Reason::Other),
        (W::UnsupportedRevocationReasonsPartitioning, Reason::Other),
        (W::UnsupportedCrlSignatureAlgorithm, Reason::Other),
        (
            W::UnsupportedCrlSignatureAlgorithmContext(sig()),
            Reason::Other,
        ),
        (
            W::UnsupportedSignatureAlgorithm,
            Reason::UnsupportedAlgorithm,
        ),
        (
            W::UnsupportedSignatureAlgorithmContext(sig()),
            Reason::UnsupportedAlgorithm,
        ),
        (
            W::UnsupportedCrlSignatureAlgorithmForPublicKey,
            Reason::Other,
        ),
        (
            W::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(sig_for_key()),
            Reason::Other,
        ),
        (
            W::UnsupportedSignatureAlgorithmForPublicKey,
            Reason::UnsupportedAlgorithm,
        ),
        (
            W::UnsupportedSignatureAlgorithmForPublicKeyContext(sig_for_key()),
            Reason::UnsupportedAlgorithm,
        ),
    ];
    // rustls sends certificate_unknown for every error wrapped as `Other`.
    check(
        rows.into_iter()
            .map(|(w, r)| (wrapped(w), r, "certificate_unknown"))
            .collect(),
    );
}

#[test]
fn pins_and_foreign_errors_wrapped_as_other() {
    let pin = pin_mismatch_error("AAAA".into());
    assert!(pin.to_string().contains("AAAA"), "{pin}");
    assert_eq!(
        PinMismatch {
            presented: "AAAA".into()
        }
        .to_string(),
        "server public key sha256/AAAA is not pinned"
    );
    let foreign = E::InvalidCertificate(C::Other(OtherError(Arc::new(std::io::Error::other(
        "not webpki",
    )))));
    check(vec![
        (pin, Reason::PinMismatch, "certificate_unknown"),
        (foreign, Reason::Other, "certificate_unknown"),
    ]);
}

#[test]
fn every_peer_incompatibility_is_a_version_or_a_handshake_failure() {
    let version = [
        P::ServerDoesNotSupportTls12Or13,
        P::ServerTlsVersionIsDisabledByOurConfig,
        P::SupportedVersionsExtensionRequired,
        P::Tls12NotOffered,
        P::Tls12NotOfferedOrEnabled,
    ];
    let other = [
        P::EcPointsExtensionRequired,
        P::ExtendedMasterSecretExtensionRequired,
        P::IncorrectCertificateTypeExtension,
        P::KeyShareExtensionRequired,
        P::NamedGroupsExtensionRequired,
        P::NoCertificateRequestSignatureSchemesInCommon,
        P::NoCipherSuitesInCommon,
        P::NoEcPointFormatsInCommon,
        P::NoKxGroupsInCommon,
        P::NoSignatureSchemesInCommon,
        P::NullCompressionRequired,
        P::ServerSentHelloRetryRequestWithUnknownExtension,
        P::SignatureAlgorithmsExtensionRequired,
        P::Tls13RequiredForQuic,
        P::UncompressedEcPointsRequired,
        P::UnsolicitedCertificateTypeExtension,
        P::ServerRejectedEncryptedClientHello(None),
    ];
    check(
        version
            .into_iter()
            .map(|p| {
                (
                    E::PeerIncompatible(p),
                    Reason::ProtocolVersion,
                    "protocol_version",
                )
            })
            .chain(other.into_iter().map(|p| {
                (
                    E::PeerIncompatible(p),
                    Reason::HandshakeFailure,
                    "handshake_failure",
                )
            }))
            .collect(),
    );
}

#[test]
fn other_errors_a_side_can_raise() {
    let crl = [
        Crl::BadSignature,
        Crl::IssuerInvalidForCrl,
        Crl::InvalidCrlNumber,
        Crl::ParseError,
        Crl::UnsupportedCrlVersion,
        Crl::UnsupportedSignatureAlgorithm,
    ];
    let mut rows: Vec<(E, Reason, &str)> = crl
        .into_iter()
        .map(|c| {
            (
                E::InvalidCertRevocationList(c),
                Reason::RevocationUnknown,
                "handshake_failure",
            )
        })
        .collect();
    rows.extend([
        (
            E::NoCertificatesPresented,
            Reason::CertificateRequired,
            "certificate_required",
        ),
        // A peer that misbehaved: `other` (not a negotiation failure), and rustls sends illegal_parameter.
        (
            E::PeerMisbehaved(PeerMisbehaved::AttemptedDowngradeToTls12WhenTls13IsSupported),
            Reason::Other,
            "illegal_parameter",
        ),
        (
            E::PeerMisbehaved(PeerMisbehaved::BadCertChainExtensions),
            Reason::Other,
            "illegal_parameter",
        ),
        (
            E::InvalidMessage(rustls::InvalidMessage::MissingData("x")),
            Reason::Other,
            "handshake_failure",
        ),
        (
            E::General("something else".into()),
            Reason::Other,
            "handshake_failure",
        ),
        (E::DecryptError, Reason::Other, "handshake_failure"),
    ]);
    check(rows);
}

#[test]
fn a_received_alert_is_the_peers_rejection_not_this_sides() {
    for (alert, name) in [
        (A::UnknownCA, "unknown_ca"),
        (A::CertificateRequired, "certificate_required"),
        (A::BadCertificate, "bad_certificate"),
        (A::HandshakeFailure, "handshake_failure"),
    ] {
        let e = E::AlertReceived(alert);
        assert_eq!(
            classify(&e),
            Verdict::AlertReceived {
                alert: name.to_string()
            }
        );
        assert_eq!(alert_sent(&e), None, "{e:?}");
        assert_eq!(received_alert_name(&e).as_deref(), Some(name));
    }
    assert_eq!(received_alert_name(&E::NoCertificatesPresented), None);
    assert_eq!(received_alert_name(&E::DecryptError), None);
}

#[test]
fn alert_names_are_the_rfc_names() {
    let all = [
        (A::CloseNotify, "close_notify"),
        (A::UnexpectedMessage, "unexpected_message"),
        (A::BadRecordMac, "bad_record_mac"),
        (A::RecordOverflow, "record_overflow"),
        (A::HandshakeFailure, "handshake_failure"),
        (A::BadCertificate, "bad_certificate"),
        (A::UnsupportedCertificate, "unsupported_certificate"),
        (A::CertificateRevoked, "certificate_revoked"),
        (A::CertificateExpired, "certificate_expired"),
        (A::CertificateUnknown, "certificate_unknown"),
        (A::IllegalParameter, "illegal_parameter"),
        (A::UnknownCA, "unknown_ca"),
        (A::AccessDenied, "access_denied"),
        (A::DecodeError, "decode_error"),
        (A::DecryptError, "decrypt_error"),
        (A::ProtocolVersion, "protocol_version"),
        (A::InsufficientSecurity, "insufficient_security"),
        (A::InternalError, "internal_error"),
        (A::InappropriateFallback, "inappropriate_fallback"),
        (A::UserCanceled, "user_canceled"),
        (A::MissingExtension, "missing_extension"),
        (A::UnsupportedExtension, "unsupported_extension"),
        (A::UnrecognisedName, "unrecognized_name"),
        (
            A::BadCertificateStatusResponse,
            "bad_certificate_status_response",
        ),
        (A::UnknownPSKIdentity, "unknown_psk_identity"),
        (A::CertificateRequired, "certificate_required"),
        (A::NoApplicationProtocol, "no_application_protocol"),
    ];
    for (alert, name) in all {
        assert_eq!(alert_name(alert), name);
    }
    let names: Vec<&str> = all.iter().map(|(_, n)| *n).collect();
    assert_eq!(ALERT_NAMES, &names[..]);
}

#[test]
fn only_unambiguous_alerts_name_a_reason() {
    let readable = [
        ("certificate_required", Reason::CertificateRequired),
        ("unknown_ca", Reason::UnknownIssuer),
        ("certificate_revoked", Reason::Revoked),
        ("unsupported_certificate", Reason::WrongPurpose),
        ("protocol_version", Reason::ProtocolVersion),
    ];
    assert_eq!(ALERT_REASONS, &readable[..]);
    for name in ALERT_NAMES {
        let want = readable.iter().find(|(a, _)| a == name).map(|(_, r)| *r);
        assert_eq!(reason_for_alert(name), want, "{name}");
    }
    assert_eq!(reason_for_alert("no_such_alert"), None);
    for r in Reason::ALL {
        assert_eq!(
            readable_from_alert(*r),
            readable.iter().any(|(_, x)| x == r),
            "{r}"
        );
    }
}

#[test]
fn transport_reasons_are_exactly_the_three_wire_failures() {
    for r in Reason::ALL {
        let transport = matches!(
            r,
            Reason::ConnectionClosed | Reason::ConnectionRefused | Reason::Timeout
        );
        assert_eq!(r.is_transport(), transport, "{r}");
        assert_eq!(r.to_string(), r.code());
    }
}

/// An error whose source is an io::Error holding a rustls error, as hyper wraps them.
#[derive(Debug)]
struct Outer(std::io::Error);
impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outer")
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn the_rustls_error_is_found_inside_io_errors_and_error_chains() {
    let tls = E::AlertReceived(A::UnknownCA);
    assert_eq!(find_tls_error(&tls), Some(&tls));
    let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone());
    assert_eq!(find_tls_error(&io), Some(&tls));
    let outer = Outer(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        tls.clone(),
    ));
    assert_eq!(find_tls_error(&outer), Some(&tls));
    let plain = Outer(std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "broken pipe",
    ));
    assert_eq!(find_tls_error(&plain), None);
    assert_eq!(
        find_tls_error(&std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        None
    );
}
