//! Reason codes, and the one place that names rustls's (and rustls-webpki's) error variants to classify them.

use std::fmt;

use rustls::{AlertDescription, CertificateError, Error as TlsError, PeerIncompatible};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a handshake was rejected: stable snake_case codes, documented one per line in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A malformed certificate.
    BadEncoding,
    /// A signature in the chain does not verify (e.g. a rogue CA with a trusted CA's name).
    BadSignature,
    /// A CA certificate was presented as an end-entity certificate.
    CaUsedAsLeaf,
    /// The server requires a client certificate and the client sent none.
    CertificateRequired,
    /// The chain has more intermediates than the verifier builds paths through (rustls-webpki: six),
    /// whatever the authorities' path length constraints say.
    ChainTooLong,
    /// The TCP connection was closed or reset before the exchange finished.
    ConnectionClosed,
    /// Nothing listens on the server's address.
    ConnectionRefused,
    /// The certificate's validity period has ended.
    Expired,
    /// The peers share no cipher suite, group or signature scheme, or the handshake failed otherwise.
    HandshakeFailure,
    /// An issuer in the chain is not a CA (basicConstraints missing or cA false).
    IssuerNotCa,
    /// The certificate does not carry the name the client asked for.
    NameMismatch,
    /// The client offered ALPN protocols and the server accepts none of them (RFC 7301 §3.2).
    NoApplicationProtocol,
    /// A name in the chain violates an authority's name constraints.
    NameConstraints,
    /// The certificate's validity period has not started.
    NotYetValid,
    /// A chain is longer than an authority's path length constraint allows.
    PathLenExceeded,
    /// The server's public key does not match the client's pin.
    PinMismatch,
    /// The peers share no TLS version.
    ProtocolVersion,
    /// The certificate's revocation status could not be determined.
    RevocationUnknown,
    /// The certificate was revoked by its issuer.
    Revoked,
    /// A wait ran out before the peer answered.
    Timeout,
    /// The chain does not lead to a trusted authority (unknown CA or missing intermediate).
    UnknownIssuer,
    /// A signature or key algorithm the verifier does not support.
    UnsupportedAlgorithm,
    /// A certificate that is not X.509 version 3.
    UnsupportedCertVersion,
    /// The certificate's extended key usage does not allow this use (server or client authentication).
    WrongPurpose,
    /// A rejection no other code describes; the detail says what the verifier reported.
    Other,
}

impl Reason {
    /// Every reason code, in the README's order.
    pub const ALL: &'static [Reason] = &[
        Reason::CertificateRequired,
        Reason::UnknownIssuer,
        Reason::BadSignature,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::NameMismatch,
        Reason::WrongPurpose,
        Reason::Revoked,
        Reason::RevocationUnknown,
        Reason::CaUsedAsLeaf,
        Reason::IssuerNotCa,
        Reason::PathLenExceeded,
        Reason::ChainTooLong,
        Reason::NameConstraints,
        Reason::UnsupportedAlgorithm,
        Reason::UnsupportedCertVersion,
        Reason::BadEncoding,
        Reason::PinMismatch,
        Reason::ProtocolVersion,
        Reason::HandshakeFailure,
        Reason::NoApplicationProtocol,
        Reason::ConnectionRefused,
        Reason::ConnectionClosed,
        Reason::Timeout,
        Reason::Other,
    ];

    /// The code as written in lab files and reports.
    pub fn code(self) -> &'static str {
        match self {
            Reason::BadEncoding => "bad_encoding",
            Reason::BadSignature => "bad_signature",
            Reason::CaUsedAsLeaf => "ca_used_as_leaf",
            Reason::CertificateRequired => "certificate_required",
            Reason::ChainTooLong => "chain_too_long",
            Reason::ConnectionClosed => "connection_closed",
            Reason::ConnectionRefused => "connection_refused",
            Reason::Expired => "expired",
            Reason::HandshakeFailure => "handshake_failure",
            Reason::IssuerNotCa => "issuer_not_ca",
            Reason::NameMismatch => "name_mismatch",
            Reason::NameConstraints => "name_constraints",
            Reason::NoApplicationProtocol => "no_application_protocol",
            Reason::NotYetValid => "not_yet_valid",
            Reason::PathLenExceeded => "path_len_exceeded",
            Reason::PinMismatch => "pin_mismatch",
            Reason::ProtocolVersion => "protocol_version",
            Reason::RevocationUnknown => "revocation_unknown",
            Reason::Revoked => "revoked",
            Reason::Timeout => "timeout",
            Reason::UnknownIssuer => "unknown_issuer",
            Reason::UnsupportedAlgorithm => "unsupported_algorithm",
            Reason::UnsupportedCertVersion => "unsupported_cert_version",
            Reason::WrongPurpose => "wrong_purpose",
            Reason::Other => "other",
        }
    }

    /// Whether this reason is observed on the wire (no verifier decided it).
    pub fn is_transport(self) -> bool {
        matches!(
            self,
            Reason::ConnectionClosed | Reason::ConnectionRefused | Reason::Timeout
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The error a pinning client verifier returns when the server's key is not pinned.
#[derive(Debug)]
pub struct PinMismatch {
    /// SHA-256 of the server's SubjectPublicKeyInfo, base64.
    pub presented: String,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server public key sha256/{} is not pinned",
            self.presented
        )
    }
}

impl std::error::Error for PinMismatch {}

/// Wraps a [`PinMismatch`] the way rustls expects a verifier error.
pub fn pin_mismatch_error(presented: String) -> TlsError {
    TlsError::InvalidCertificate(CertificateError::Other(rustls::OtherError(
        std::sync::Arc::new(PinMismatch { presented }),
    )))
}

/// The error of a verifier that reaches no trust anchor (rustls's `UnknownIssuer`): what a verifier that
/// trusts nothing reports for every certificate.
pub fn unknown_issuer_error() -> TlsError {
    TlsError::InvalidCertificate(CertificateError::UnknownIssuer)
}

/// The error of a verifier that cannot read the presented certificate (rustls's `BadEncoding`).
pub fn bad_encoding_error() -> TlsError {
    TlsError::InvalidCertificate(CertificateError::BadEncoding)
}

/// What one side's own rustls error says about a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// This side's verifier (or negotiation) rejected the handshake.
    Rejected { reason: Reason, detail: String },
    /// The peer rejected and told this side with an alert.
    AlertReceived { alert: String },
}

/// Classifies a rustls error as seen by the side that holds it.
pub fn classify(err: &TlsError) -> Verdict {
    let rejected = |reason: Reason| Verdict::Rejected {
        reason,
        detail: err.to_string(),
    };
    match err {
        TlsError::AlertReceived(alert) => Verdict::AlertReceived {
            alert: alert_name(*alert),
        },
        TlsError::NoCertificatesPresented => rejected(Reason::CertificateRequired),
        TlsError::InvalidCertificate(e) => rejected(certificate_reason(e)),
        TlsError::PeerIncompatible(p) => rejected(incompatible_reason(p)),
        TlsError::InvalidCertRevocationList(_) => rejected(Reason::RevocationUnknown),
        TlsError::NoApplicationProtocol => rejected(Reason::NoApplicationProtocol),
        // Anything else (a malformed message, a peer that misbehaved) is not a negotiation failure:
        // report it as `other`, with rustls's own words in the detail.
        _ => rejected(Reason::Other),
    }
}

fn incompatible_reason(p: &PeerIncompatible) -> Reason {
    match p {
        PeerIncompatible::ServerDoesNotSupportTls12Or13
        | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
        | PeerIncompatible::SupportedVersionsExtensionRequired
        | PeerIncompatible::Tls12NotOffered
        | PeerIncompatible::Tls12NotOfferedOrEnabled => Reason::ProtocolVersion,
        _ => Reason::HandshakeFailure,
    }
}

fn certificate_reason(e: &CertificateError) -> Reason {
    #[allow(deprecated)]
    match e {
        CertificateError::BadEncoding => Reason::BadEncoding,
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => Reason::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            Reason::NotYetValid
        }
        CertificateError::Revoked => Reason::Revoked,
        CertificateError::UnknownIssuer => Reason::UnknownIssuer,
        CertificateError::UnknownRevocationStatus
        | CertificateError::ExpiredRevocationList
        | CertificateError::ExpiredRevocationListContext { .. } => Reason::RevocationUnknown,
        CertificateError::BadSignature => Reason::BadSignature,
        CertificateError::UnsupportedSignatureAlgorithm
        | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            Reason::UnsupportedAlgorithm
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            Reason::NameMismatch
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            Reason::WrongPurpose
        }
        CertificateError::UnhandledCriticalExtension => Reason::BadEncoding,
        CertificateError::Other(other) => other_reason(other),
        _ => Reason::Other,
    }
}

/// Recovers the precise rustls-webpki (or mtls-lab) error that rustls wraps as `CertificateError::Other`.
#[allow(deprecated)]
fn other_reason(other: &rustls::OtherError) -> Reason {
    use webpki::Error as W;
    if other.0.downcast_ref::<PinMismatch>().is_some() {
        return Reason::PinMismatch;
    }
    let Some(w) = other.0.downcast_ref::<W>() else {
        return Reason::Other;
    };
    match w {
        W::CaUsedAsEndEntity => Reason::CaUsedAsLeaf,
        W::EndEntityUsedAsCa => Reason::IssuerNotCa,
        W::PathLenConstraintViolated => Reason::PathLenExceeded,
        // webpki's fixed limit of six intermediates (verify_cert.rs `MAX_SUB_CA_COUNT`), not a constraint
        // any certificate carries.
        W::MaximumPathDepthExceeded => Reason::ChainTooLong,
        W::NameConstraintViolation => Reason::NameConstraints,
        W::UnsupportedCertVersion => Reason::UnsupportedCertVersion,
        W::BadDer
        | W::BadDerTime
        | W::ExtensionValueInvalid
        | W::InvalidCertValidity
        | W::InvalidSerialNumber
        | W::MalformedDnsIdentifier
        | W::MalformedExtensions
        | W::MalformedNameConstraint
        | W::TrailingData(_)
        | W::UnsupportedCriticalExtension => Reason::BadEncoding,
        W::EmptyEkuExtension | W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) => {
            Reason::WrongPurpose
        }
        W::UnsupportedSignatureAlgorithm
        | W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKey
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => Reason::UnsupportedAlgorithm,
        W::CertRevoked => Reason::Revoked,
        W::UnknownRevocationStatus | W::CrlExpired { .. } => Reason::RevocationUnknown,
        W::UnknownIssuer => Reason::UnknownIssuer,
        W::InvalidSignatureForPublicKey => Reason::BadSignature,
        W::CertExpired { .. } => Reason::Expired,
        W::CertNotValidYet { .. } => Reason::NotYetValid,
        W::CertNotValidForName(_) => Reason::NameMismatch,
        _ => Reason::Other,
    }
}

/// The alert this side sends for an error it raised, as rustls decides it.
pub fn alert_sent(err: &TlsError) -> Option<String> {
    let alert = match err {
        TlsError::InvalidCertificate(e) => AlertDescription::from(e.clone()),
        TlsError::NoCertificatesPresented => AlertDescription::CertificateRequired,
        TlsError::PeerIncompatible(p) => match incompatible_reason(p) {
            Reason::ProtocolVersion => AlertDescription::ProtocolVersion,
            _ => AlertDescription::HandshakeFailure,
        },
        TlsError::PeerMisbehaved(_) => AlertDescription::IllegalParameter,
        TlsError::NoApplicationProtocol => AlertDescription::NoApplicationProtocol,
        TlsError::AlertReceived(_) => return None,
        _ => AlertDescription::HandshakeFailure,
    };
    Some(alert_name(alert))
}

/// A TLS alert's name in snake_case, as RFC 8446 spells it.
pub fn alert_name(alert: AlertDescription) -> String {
    let debug = format!("{alert:?}");
    let mut out = String::with_capacity(debug.len() + 4);
    for (i, ch) in debug.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    // RFC names: "unknown_ca", "unknown_psk_identity", "unrecognized_name" (rustls spells it `UnrecognisedName`).
    out.replace("unknown_c_a", "unknown_ca")
        .replace("p_s_k", "psk")
        .replace("unrecognised", "unrecognized")
}

/// The reason an alert names unambiguously, for a peer whose own verdict is not observable (an external
/// program): the reason is then read from the alert it sent, and only where one alert means one reason.
/// `unknown_ca` is read as `unknown_issuer` although a peer checking revocation sends it for an unknown
/// revocation status too (documented in the README); `certificate_expired` (expired or not yet valid),
/// `bad_certificate` and `certificate_unknown` name no single reason.
pub const ALERT_REASONS: &[(&str, Reason)] = &[
    ("certificate_required", Reason::CertificateRequired),
    ("unknown_ca", Reason::UnknownIssuer),
    ("certificate_revoked", Reason::Revoked),
    ("unsupported_certificate", Reason::WrongPurpose),
    ("protocol_version", Reason::ProtocolVersion),
];
// Not read from alerts: `handshake_failure` (TLS 1.2 OpenSSL servers send it for a missing client
// certificate, others for no shared cipher suite) and `decrypt_error` (a bad chain signature or a
// bad CertificateVerify) each name several reasons.

/// TLS alert names (RFC 8446 and RFC 5246), as `expect.alert` accepts them.
pub const ALERT_NAMES: &[&str] = &[
    "close_notify",
    "unexpected_message",
    "bad_record_mac",
    "record_overflow",
    "handshake_failure",
    "bad_certificate",
    "unsupported_certificate",
    "certificate_revoked",
    "certificate_expired",
    "certificate_unknown",
    "illegal_parameter",
    "unknown_ca",
    "access_denied",
    "decode_error",
    "decrypt_error",
    "protocol_version",
    "insufficient_security",
    "internal_error",
    "inappropriate_fallback",
    "user_canceled",
    "missing_extension",
    "unsupported_extension",
    "unrecognized_name",
    "bad_certificate_status_response",
    "unknown_psk_identity",
    "certificate_required",
    "no_application_protocol",
];

/// The reason an alert name determines (see [`ALERT_REASONS`]).
pub fn reason_for_alert(alert: &str) -> Option<Reason> {
    ALERT_REASONS
        .iter()
        .find(|(a, _)| *a == alert)
        .map(|(_, r)| *r)
}

/// The alerts a verifier sends when it refuses a certificate for `reason`: rustls's (its
/// `CertificateError` → `AlertDescription` mapping) and OpenSSL's (`ssl_x509err2alert`). Empty when
/// no alert goes with the reason alone. A refusal whose program did not say why is consistent with
/// `reason` when it sent one of these.
pub fn alerts_for(reason: Reason) -> &'static [&'static str] {
    match reason {
        Reason::Expired => &["certificate_expired"],
        // rustls: certificate_expired; OpenSSL (X509_V_ERR_CERT_NOT_YET_VALID): bad_certificate.
        Reason::NotYetValid => &["certificate_expired", "bad_certificate"],
        Reason::NameMismatch => &["bad_certificate"],
        Reason::UnknownIssuer => &["unknown_ca"],
        Reason::BadSignature => &["decrypt_error"],
        Reason::WrongPurpose => &["unsupported_certificate"],
        Reason::Revoked => &["certificate_revoked"],
        Reason::CertificateRequired => &["certificate_required"],
        _ => &[],
    }
}

/// Whether a reason can be read from an alert (a rejection by an external program can only be expected with these).
pub fn readable_from_alert(reason: Reason) -> bool {
    ALERT_REASONS.iter().any(|(_, r)| *r == reason)
}

/// The alert a rustls error says this side received, if it is one.
pub fn received_alert_name(err: &TlsError) -> Option<String> {
    match err {
        TlsError::AlertReceived(a) => Some(alert_name(*a)),
        _ => None,
    }
}

/// Finds the rustls error inside an error chain (io::Error hides it from `source()`).
pub fn find_tls_error<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a TlsError> {
    loop {
        if let Some(r) = e.downcast_ref::<TlsError>() {
            return Some(r);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<TlsError>()) {
                return Some(r);
            }
        }
        e = e.source()?;
    }
}

/// Whether the handshake (and the HTTP request over it) went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The handshake completed on both sides and the server answered.
    Accepted,
    /// One side rejected the handshake.
    Rejected,
    /// Observed only: a program that failed before or outside TLS (its own files, its arguments, a crash,
    /// an HTTP error after an accepted handshake): no side's verifier rejected anything. A lab expects it
    /// as `{ outcome: rejected, exit: N }` with no `by`; nothing else matches it.
    #[serde(skip_deserializing)]
    #[schemars(skip)]
    ProgramError,
    /// Observed only: two external programs, and neither one's words say whether the handshake went
    /// through or who refused it. No expectation matches it.
    #[serde(skip_deserializing)]
    #[schemars(skip)]
    Undecided,
}

/// A side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The TLS client.
    Client,
    /// The TLS server.
    Server,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_follow_the_rfc() {
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(
            alert_name(AlertDescription::CertificateRequired),
            "certificate_required"
        );
        assert_eq!(alert_name(AlertDescription::DecryptError), "decrypt_error");
    }

    #[test]
    fn codes_round_trip_through_serde() {
        for r in Reason::ALL {
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.code()));
        }
    }

    #[test]
    fn webpki_errors_wrapped_as_other_are_recovered() {
        let e = TlsError::InvalidCertificate(CertificateError::Other(rustls::OtherError(
            std::sync::Arc::new(webpki::Error::CaUsedAsEndEntity),
        )));
        assert!(matches!(
            classify(&e),
            Verdict::Rejected {
                reason: Reason::CaUsedAsLeaf,
                ..
            }
        ));
    }
}
