//! The lab file's handshake fields: key-exchange groups, signature schemes, ALPN and SNI as written, for
//! the servers' and clients' negotiation settings and for `expect`'s assertions on what was negotiated.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A key-exchange group (TLS supported group), as IANA names it, lower-cased: the groups rustls's
/// aws-lc-rs provider implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupName {
    /// X25519 (RFC 8446); rustls's first choice.
    X25519,
    /// NIST P-256 (secp256r1).
    Secp256r1,
    /// NIST P-384 (secp384r1).
    Secp384r1,
    /// The hybrid of X25519 and ML-KEM-768 (post-quantum; TLS 1.3 only).
    X25519mlkem768,
    /// The hybrid of P-256 and ML-KEM-768 (post-quantum; TLS 1.3 only).
    Secp256r1mlkem768,
    /// ML-KEM-768 alone (post-quantum; TLS 1.3 only).
    Mlkem768,
    /// ML-KEM-1024 alone (post-quantum; TLS 1.3 only).
    Mlkem1024,
}

impl GroupName {
    /// The name as written in lab files and reports, e.g. `x25519`.
    pub fn code(self) -> &'static str {
        match self {
            GroupName::X25519 => "x25519",
            GroupName::Secp256r1 => "secp256r1",
            GroupName::Secp384r1 => "secp384r1",
            GroupName::X25519mlkem768 => "x25519mlkem768",
            GroupName::Secp256r1mlkem768 => "secp256r1mlkem768",
            GroupName::Mlkem768 => "mlkem768",
            GroupName::Mlkem1024 => "mlkem1024",
        }
    }
}

/// A signature scheme (RFC 8446 §4.2.3), as IANA names it: the scheme the server signed the handshake with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureSchemeName {
    /// ECDSA on P-256 with SHA-256.
    EcdsaSecp256r1Sha256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaSecp384r1Sha384,
    /// ECDSA on P-521 with SHA-512.
    EcdsaSecp521r1Sha512,
    /// Ed25519.
    Ed25519,
    /// RSASSA-PSS with SHA-256 (RSA keys).
    RsaPssRsaeSha256,
    /// RSASSA-PSS with SHA-384 (RSA keys).
    RsaPssRsaeSha384,
    /// RSASSA-PSS with SHA-512 (RSA keys).
    RsaPssRsaeSha512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (TLS 1.2 only).
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (TLS 1.2 only).
    RsaPkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (TLS 1.2 only).
    RsaPkcs1Sha512,
}

impl SignatureSchemeName {
    /// The name as written in lab files and reports, e.g. `ecdsa_secp256r1_sha256`.
    pub fn code(self) -> &'static str {
        match self {
            SignatureSchemeName::EcdsaSecp256r1Sha256 => "ecdsa_secp256r1_sha256",
            SignatureSchemeName::EcdsaSecp384r1Sha384 => "ecdsa_secp384r1_sha384",
            SignatureSchemeName::EcdsaSecp521r1Sha512 => "ecdsa_secp521r1_sha512",
            SignatureSchemeName::Ed25519 => "ed25519",
            SignatureSchemeName::RsaPssRsaeSha256 => "rsa_pss_rsae_sha256",
            SignatureSchemeName::RsaPssRsaeSha384 => "rsa_pss_rsae_sha384",
            SignatureSchemeName::RsaPssRsaeSha512 => "rsa_pss_rsae_sha512",
            SignatureSchemeName::RsaPkcs1Sha256 => "rsa_pkcs1_sha256",
            SignatureSchemeName::RsaPkcs1Sha384 => "rsa_pkcs1_sha384",
            SignatureSchemeName::RsaPkcs1Sha512 => "rsa_pkcs1_sha512",
        }
    }
}

/// The ALPN protocol a case expects: a protocol name such as `h2`, or `false` for none negotiated.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum AlpnExpect {
    /// The protocol both sides must have agreed on.
    Protocol(String),
    /// `false`: no protocol was agreed (one side offered none).
    Flag(bool),
}

impl<'de> Deserialize<'de> for AlpnExpect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AlpnExpect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ALPN protocol name such as `h2`, or `false` for none")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AlpnExpect, E> {
                Ok(AlpnExpect::Protocol(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<AlpnExpect, E> {
                Ok(AlpnExpect::Flag(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a client sends as SNI: `true` (default: the name it verifies, unless that is an IP address),
/// `false` (none), or another name than the one it verifies.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum SniSpec {
    /// `true`: the name it verifies; `false`: no SNI at all.
    Flag(bool),
    /// A DNS name sent as SNI while the client still verifies `server_name`.
    Name(String),
}

impl<'de> Deserialize<'de> for SniSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SniSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`true`, `false`, or a DNS name to send as SNI")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SniSpec, E> {
                Ok(SniSpec::Name(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SniSpec, E> {
                Ok(SniSpec::Flag(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The CA names a server advertises in its CertificateRequest (RFC 8446 §4.2.4, RFC 5246 §7.4.4):
/// `trusted` (default: the subjects of the authorities it trusts), `none`, or a list of authority names.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum CaNamesSpec {
    /// `trusted` or `none`.
    Mode(CaNamesMode),
    /// These authorities' subjects, by name (names under `authorities`).
    List(Vec<String>),
}

/// A named choice of CA names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaNamesMode {
    /// The subjects of the authorities in `trust` (rustls's default).
    Trusted,
    /// No names: the client may send any certificate.
    None,
}

impl<'de> Deserialize<'de> for CaNamesSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CaNamesSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`trusted`, `none`, or a list of authority names such as `[root]`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CaNamesSpec, E> {
                CaNamesMode::deserialize(de::value::StrDeserializer::<E>::new(v))
                    .map(CaNamesSpec::Mode)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<CaNamesSpec, A::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(CaNamesSpec::List)
            }
        }
        d.deserialize_any(V)
    }
}

/// How a client holding certificates chooses the one it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SelectSpec {
    /// Always send `certificate` (the default; what curl and OpenSSL do).
    Always,
    /// Send the first certificate whose chain has a certificate issued by one of the CA names the server advertised, and none when none does (Go's crypto/tls, Java, browsers); any certificate when the server advertised no names.
    ByCaNames,
}

pub(super) fn ca_names_example() -> serde_json::Value {
    serde_json::json!(["root"])
}

pub(super) fn certificates_example() -> serde_json::Value {
    serde_json::json!(["client-under-intermediate", "client-under-root"])
}

pub(super) fn select_example() -> serde_json::Value {
    serde_json::json!("by_ca_names")
}

pub(super) fn alpn_example() -> Vec<&'static str> {
    vec!["h2", "http/1.1"]
}

pub(super) fn groups_example() -> Vec<&'static str> {
    vec!["x25519", "secp256r1"]
}

pub(super) fn sni_certificates_example() -> serde_json::Value {
    serde_json::json!({ "api.lab.test": "api", "www.lab.test": "www" })
}

pub(super) fn client_saw_example() -> serde_json::Value {
    serde_json::json!({ "CN": "localhost" })
}

pub(super) fn group_example() -> serde_json::Value {
    serde_json::json!("x25519")
}

pub(super) fn signature_scheme_example() -> serde_json::Value {
    serde_json::json!("ecdsa_secp256r1_sha256")
}

pub(super) fn cipher_suite_example() -> serde_json::Value {
    serde_json::json!("TLS13_AES_128_GCM_SHA256")
}

pub(super) fn tls_version_example() -> serde_json::Value {
    serde_json::json!("1.3")
}

pub(super) fn sni_example() -> serde_json::Value {
    serde_json::json!("www.lab.test")
}
