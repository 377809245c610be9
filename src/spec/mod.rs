//! The lab file as written: serde types that mirror the YAML one to one, and the JSON Schema derived from them.
//!
//! Nothing here is checked beyond its shape; `lab` turns a [`LabFile`] into a validated model.

pub mod handshake;
pub mod limbo;
pub mod schema;
pub mod starter;
pub mod yaml;

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

pub use self::handshake::{
    AlpnExpect, CaNamesMode, CaNamesSpec, GroupName, SelectSpec, SignatureSchemeName, SniSpec,
};

/// A mutual-TLS lab: a small PKI, the TLS servers to start, and the handshakes to try with the outcome each must have.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mtls-lab lab file")]
pub struct LabFile {
    /// Short name of the lab, shown in every result line.
    #[schemars(example = &"seed-mtls")]
    pub lab: String,
    /// What the lab teaches, in a sentence or two.
    #[serde(default)]
    #[schemars(example = &"One CA signs a server and a client certificate; the server requires client certificates.")]
    pub description: Option<String>,
    /// Certificate authorities by name: roots (no `issuer`) and intermediates (an `issuer` naming another authority).
    #[serde(default)]
    #[schemars(example = example_labfile_authorities())]
    pub authorities: BTreeMap<String, AuthoritySpec>,
    /// End-entity certificates by name, each issued by a named authority.
    #[serde(default)]
    #[schemars(example = example_labfile_certificates())]
    pub certificates: BTreeMap<String, CertificateSpec>,
    /// TLS servers to start on 127.0.0.1, by name.
    #[serde(default)]
    #[schemars(example = example_labfile_servers())]
    pub servers: BTreeMap<String, ServerSpec>,
    /// The handshakes to try, top to bottom, each with its expected outcome.
    #[serde(default)]
    #[schemars(example = example_labfile_cases())]
    pub cases: Vec<CaseSpec>,
    /// Virtual clock: the time at which both sides verify certificates and CRLs in every case (an offset from now such as `+400d`, or an RFC 3339 time); default now. A case's own `at` overrides it. A server or client command runs at it with libfaketime preloaded (every process it starts too); without libfaketime, or against a `target`, `at` is refused.
    #[serde(default)]
    #[schemars(example = &"+400d")]
    pub at: Option<String>,
    /// Tags for every case of this lab, for `--filter tag:NAME`.
    #[serde(default)]
    #[schemars(example = tags_example())]
    pub tags: Vec<String>,
    /// Files whose `authorities`, `certificates` and `servers` this lab uses as if written here (paths relative to this file). An included file holds only those three sections.
    #[serde(default)]
    #[schemars(example = include_example())]
    pub include: Vec<String>,
    /// Variations: each variable lists its values, and the lab runs once per combination, with `${NAME}` in the lab file replaced by the value. Values are plain scalars (letters, digits, `. _ + - : /`).
    #[serde(default)]
    #[schemars(example = matrix_example())]
    pub matrix: Option<BTreeMap<String, Vec<MatrixValue>>>,
    /// Variables for the paths in `from`, with their default values: `${NAME}` in a path is replaced by the value given with `--var NAME=VALUE` on the command line, else by the default here. A relative default is relative to this file.
    #[serde(default)]
    #[schemars(example = vars_example())]
    pub vars: BTreeMap<String, String>,
    /// Properties certificates must have (generated or loaded with `from`), each check with its own points; checks run before the cases.
    #[serde(default)]
    #[schemars(example = checks_example())]
    pub checks: Vec<CheckSpec>,
}

fn vars_example() -> serde_json::Value {
    serde_json::json!({ "submission": "submission" })
}

fn checks_example() -> serde_json::Value {
    serde_json::json!([{ "name": "server certificate names localhost", "certificate": "server", "chains_to": "ca", "san_contains": ["dns:localhost"], "points": 2 }])
}

fn tags_example() -> Vec<&'static str> {
    vec!["basics", "week-1"]
}

fn include_example() -> Vec<&'static str> {
    vec!["common/pki.yaml"]
}

fn matrix_example() -> serde_json::Value {
    serde_json::json!({ "key": ["ecdsa-p256", "rsa2048"], "tls": ["1.2", "1.3"] })
}

/// One value of a matrix variable.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MatrixValue {
    /// A string.
    Text(String),
    /// A number, as written.
    Number(f64),
    /// A boolean.
    Flag(bool),
}

/// An included file: shared PKI and server definitions.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fragment {
    /// What the shared definitions are for.
    #[serde(default)]
    #[schemars(example = example_fragment_description())]
    pub description: Option<String>,
    /// Certificate authorities by name.
    #[serde(default)]
    #[schemars(example = example_fragment_authorities())]
    pub authorities: BTreeMap<String, AuthoritySpec>,
    /// End-entity certificates by name.
    #[serde(default)]
    #[schemars(example = example_fragment_certificates())]
    pub certificates: BTreeMap<String, CertificateSpec>,
    /// TLS servers by name.
    #[serde(default)]
    #[schemars(example = example_fragment_servers())]
    pub servers: BTreeMap<String, ServerSpec>,
}

/// A certificate authority, generated when the lab runs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthoritySpec {
    /// Load the authority from PEM files instead of generating it; the generation fields (`subject`, `key`, `valid`, `path_len`, `serial`, `ca`, `name_constraints`, `key_of`, `signature`, `usage`, `key_usage`, `unknown_critical_extension`) then do not apply. With `from.key` it can sign the lab's generated certificates and CRLs.
    #[serde(default)]
    #[schemars(example = example_authorityspec_from())]
    pub from: Option<FromSpec>,
    /// The authority's distinguished name (required unless `from` loads it or `key_of` lends it). Give every authority a distinct one.
    #[serde(default)]
    #[schemars(example = example_authorityspec_subject())]
    pub subject: Option<Subject>,
    /// The authority that signs this one; omit it for a self-signed root.
    #[serde(default)]
    #[schemars(example = &"root")]
    pub issuer: Option<String>,
    /// Key type; default `ecdsa-p256` (with `key_of`: the named authority's).
    #[serde(default)]
    #[schemars(example = example_authorityspec_key())]
    pub key: Option<KeyType>,
    /// Validity period; default from one hour ago until ten years from now.
    #[serde(default)]
    #[schemars(example = example_authorityspec_valid())]
    pub valid: Option<Validity>,
    /// Maximum number of intermediates that may follow this authority in a chain (basicConstraints pathLenConstraint); default unlimited.
    #[serde(default)]
    #[schemars(example = 0)]
    pub path_len: Option<u8>,
    /// Serial number; default a random, unique one.
    #[serde(default)]
    #[schemars(example = 4096)]
    pub serial: Option<u64>,
    /// `false` issues this authority's certificate with basicConstraints `cA: FALSE`: it still signs what names it as issuer, but verifiers must refuse it as an issuer (`issuer_not_ca`). Default `true`.
    #[serde(default)]
    #[schemars(example = false)]
    pub ca: Option<bool>,
    /// Name constraints written into this authority's certificate: every name in a chain below it must be inside `permitted` (when given) and outside `excluded`.
    #[serde(default)]
    #[schemars(example = example_authorityspec_name_constraints())]
    pub name_constraints: Option<NameConstraintsSpec>,
    /// Certificates (or intermediate authorities) this authority revokes, by name; each must be issued directly by this authority. Giving `revokes` (even `[]`) makes the authority publish a CRL.
    #[serde(default)]
    #[schemars(example = example_authorityspec_revokes())]
    pub revokes: Option<Vec<RevocationSpec>>,
    /// The authority's CRL: its validity window. Giving `crl` (or `revokes`) makes the authority publish a CRL; default from one hour ago for seven days.
    #[serde(default)]
    #[schemars(example = example_authorityspec_crl())]
    pub crl: Option<CrlSpec>,
    /// Cross-signing: this authority's certificate carries the key (and, unless `subject` is given, the subject) of the named authority, under its own `issuer`. One subject and key then has two certificates, and a chain through either verifies what that key signed. The named authority must be generated and own its key (no `key_of` of its own); `key` does not apply.
    #[serde(default)]
    #[schemars(example = &"new-root")]
    pub key_of: Option<String>,
    /// The signature algorithm this authority signs with (certificates, CRLs, and its own certificate when it is a root); default the key's own (`rsa-pkcs1-sha256` for RSA, `ecdsa-sha256`/`-sha384`/`-sha512` for P-256/P-384/P-521, `ed25519`). It must fit the key: refused at load otherwise.
    #[serde(default)]
    #[schemars(example = &"ecdsa-sha256")]
    pub signature: Option<SignatureAlgorithm>,
    /// Extended key usage written into the authority's certificate (verifiers such as rustls-webpki and OpenSSL then refuse chains through it for other purposes); default none (no extension). Written as for certificates: a word, or a list of purposes and dotted OIDs.
    #[serde(default)]
    #[schemars(example = example_authorityspec_usage())]
    pub usage: Option<UsageSpec>,
    /// Key usage bits; default `[key_cert_sign, crl_sign, digital_signature]`. `[]` writes no key usage extension.
    #[serde(default)]
    #[schemars(example = example_authorityspec_key_usage())]
    pub key_usage: Option<Vec<KeyUsage>>,
    /// `true` adds a critical extension that no verifier understands (private OID 1.3.6.1.4.1.55555.1): a verifier must then refuse every chain through this authority (`bad_encoding`). Default `false`.
    #[serde(default)]
    #[schemars(example = true)]
    pub unknown_critical_extension: Option<bool>,
}

fn example_authorityspec_usage() -> serde_json::Value {
    serde_json::json!("client")
}

fn example_authorityspec_key_usage() -> serde_json::Value {
    serde_json::json!(["key_cert_sign", "digital_signature"])
}

/// A signature algorithm an issuer signs with (as rcgen can sign it): the key type must fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256 (RSA keys).
    RsaPkcs1Sha256,
    /// RSA PKCS#1 v1.5 with SHA-384 (RSA keys).
    RsaPkcs1Sha384,
    /// RSA PKCS#1 v1.5 with SHA-512 (RSA keys).
    RsaPkcs1Sha512,
    /// RSA-PSS with SHA-256: refused at load, rcgen cannot sign RSA-PSS.
    RsaPssSha256,
    /// RSA-PSS with SHA-384: refused at load, rcgen cannot sign RSA-PSS.
    RsaPssSha384,
    /// RSA-PSS with SHA-512: refused at load, rcgen cannot sign RSA-PSS.
    RsaPssSha512,
    /// ECDSA with SHA-256 (P-256 and P-521 keys).
    EcdsaSha256,
    /// ECDSA with SHA-384 (P-384 and P-521 keys).
    EcdsaSha384,
    /// ECDSA with SHA-512 (P-521 keys).
    EcdsaSha512,
    /// Ed25519 (Ed25519 keys).
    Ed25519,
}

impl SignatureAlgorithm {
    /// The name as a lab writes it.
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            SignatureAlgorithm::RsaPkcs1Sha384 => "rsa-pkcs1-sha384",
            SignatureAlgorithm::RsaPkcs1Sha512 => "rsa-pkcs1-sha512",
            SignatureAlgorithm::RsaPssSha256 => "rsa-pss-sha256",
            SignatureAlgorithm::RsaPssSha384 => "rsa-pss-sha384",
            SignatureAlgorithm::RsaPssSha512 => "rsa-pss-sha512",
            SignatureAlgorithm::EcdsaSha256 => "ecdsa-sha256",
            SignatureAlgorithm::EcdsaSha384 => "ecdsa-sha384",
            SignatureAlgorithm::EcdsaSha512 => "ecdsa-sha512",
            SignatureAlgorithm::Ed25519 => "ed25519",
        }
    }
}

/// Extended key usage: a word (`server`, `client`, `both`, `none`, `code_signing`), or a list of purposes
/// (`server`, `client`, `code_signing`, `email_protection`, `time_stamping`, `ocsp_signing`, `any` for
/// anyExtendedKeyUsage) and dotted OIDs such as `2.5.29.37.0`, written into the extension in that order.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum UsageSpec {
    /// One of the named usages.
    Named(Usage),
    /// Purposes and dotted OIDs.
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for UsageSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UsageSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`server`, `client`, `both`, `none`, `code_signing`, or a list of purposes and dotted OIDs such as `[client, 2.5.29.37.0]`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UsageSpec, E> {
                Usage::deserialize(de::value::StrDeserializer::<E>::new(v)).map(UsageSpec::Named)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<UsageSpec, A::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(UsageSpec::List)
            }
        }
        d.deserialize_any(V)
    }
}

/// PEM files to load a certificate (and its private key) from. Paths are relative to the lab file and may use `${NAME}` variables (`vars`, `--var NAME=VALUE`). A missing, malformed or mismatched file fails the cases and checks that need it, with a message naming the file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FromSpec {
    /// The certificate, PEM (the first certificate in the file is used).
    #[schemars(example = &"${submission}/ca/ca.crt")]
    pub cert: String,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1, unencrypted); needed to sign or to present the certificate.
    #[serde(default)]
    #[schemars(example = &"${submission}/ca/ca.key")]
    pub key: Option<String>,
}

/// Properties a certificate must have. Every property given is checked, and each one that fails gets its own message; the check passes when all hold.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// What the check shows, as a sentence; unique among the lab's checks and cases.
    #[schemars(example = &"server certificate names localhost")]
    pub name: String,
    /// The certificate or authority checked (a name under `certificates` or `authorities`).
    #[schemars(example = &"server")]
    pub certificate: String,
    /// The authority the certificate must chain to: each signature up to it verifies, through the lab's other authorities as intermediates.
    #[serde(default)]
    #[schemars(example = &"ca")]
    pub chains_to: Option<String>,
    /// Subject fields that must match exactly (fields not given are not checked).
    #[serde(default)]
    #[schemars(example = example_checkspec_subject())]
    pub subject: Option<Subject>,
    /// Subject alternative names the certificate must carry, written as in `certificates.*.san`.
    #[serde(default)]
    #[schemars(example = san_example())]
    pub san_contains: Vec<String>,
    /// The TLS use the extended key usage must allow: `server`, `client` or `both` (a certificate without the extension allows every use).
    #[serde(default)]
    #[schemars(example = example_checkspec_eku())]
    pub eku: Option<Purpose>,
    /// The key's algorithm and minimum size.
    #[serde(default)]
    #[schemars(example = example_checkspec_key())]
    pub key: Option<KeyCheck>,
    /// `true`: a CA certificate (basicConstraints cA TRUE); `false`: an end-entity certificate.
    #[serde(default)]
    #[schemars(example = false)]
    pub ca: Option<bool>,
    /// The basicConstraints path length the certificate must carry, exactly.
    #[serde(default)]
    #[schemars(example = 0)]
    pub path_len: Option<u8>,
    /// Key usage bits the certificate must allow (a certificate without the extension allows every use).
    #[serde(default)]
    #[schemars(example = example_checkspec_key_usage())]
    pub key_usage: Vec<KeyUsage>,
    /// `true`: within its validity period at verification time (the lab's `at`, else now).
    #[serde(default)]
    #[schemars(example = true)]
    pub valid_now: Option<bool>,
    /// At least this much validity left at verification time (`30d`, `12w`; units s, m, h, d, w).
    #[serde(default)]
    #[schemars(example = &"30d")]
    pub valid_for_at_least: Option<String>,
    /// `true`: an X.509 version 3 certificate (TLS verifiers refuse older versions).
    #[serde(default)]
    #[schemars(example = true)]
    pub v3: Option<bool>,
    /// `true`: the private key loaded with `from.key` belongs to the certificate.
    #[serde(default)]
    #[schemars(example = true)]
    pub key_matches: Option<bool>,
    /// Points for the check, all or nothing; default 1.
    #[serde(default)]
    #[schemars(example = 2)]
    pub points: Option<f64>,
    /// Checks (by name) that must pass first; when one did not, this check is skipped, with the reason, and its points leave the total.
    #[serde(default)]
    #[schemars(example = example_requires())]
    pub requires: Vec<String>,
    /// `true`: student-facing output shows only the check's name and whether it passed.
    #[serde(default)]
    #[schemars(example = true)]
    pub hidden: bool,
}

/// A TLS use of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// TLS server authentication (serverAuth).
    Server,
    /// TLS client authentication (clientAuth).
    Client,
    /// Both.
    Both,
}

/// A key requirement.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCheck {
    /// The key algorithm.
    #[serde(rename = "type")]
    #[schemars(example = example_keycheck_type())]
    pub kind: KeyAlgorithm,
    /// The minimum key size in bits (RSA modulus; curve size for ECDSA: 256, 384, 521; 256 for Ed25519).
    #[serde(default)]
    #[schemars(example = 2048)]
    pub min_bits: Option<u32>,
}

/// A key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyAlgorithm {
    /// RSA.
    Rsa,
    /// ECDSA on a NIST curve.
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

/// A part of a case's expectation that can earn points of its own: each names a field of `expect`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    JsonSchema,
    serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ScorePart {
    /// The outcome (accepted or rejected) is as expected.
    Outcome,
    /// For a rejection: the expected side rejected.
    By,
    /// For a rejection: for the expected reason.
    Reason,
    /// For an acceptance: the server saw the expected client identity.
    ServerSaw,
    /// For an acceptance: the expected HTTP status.
    Status,
    /// The TLS alert the other side received (`expect.alert`).
    Alert,
    /// A client command's exit status (`expect.exit`).
    Exit,
    /// Text a client command's output must contain (`expect.output`).
    Output,
    /// Text a server command must have printed while the case ran (`expect.server_output`).
    ServerOutput,
    /// What the handshake negotiated: every one of `client_saw`, `tls_version`, `cipher_suite`, `group`, `signature_scheme`, `alpn`, `ca_names` and `resumed` the case expects.
    Negotiated,
}

fn example_requires() -> Vec<&'static str> {
    vec!["CA certificate is a CA"]
}

fn example_checkspec_subject() -> serde_json::Value {
    serde_json::json!({"CN": "localhost", "O": "MyLabServer"})
}

fn example_checkspec_eku() -> serde_json::Value {
    serde_json::json!("server")
}

fn example_checkspec_key() -> serde_json::Value {
    serde_json::json!({"type": "rsa", "min_bits": 2048})
}

fn example_keycheck_type() -> serde_json::Value {
    serde_json::json!("rsa")
}

fn example_checkspec_key_usage() -> serde_json::Value {
    serde_json::json!(["key_cert_sign", "crl_sign"])
}

fn example_casespec_score() -> serde_json::Value {
    serde_json::json!({"outcome": 2, "server_saw": 1})
}

fn example_authorityspec_from() -> serde_json::Value {
    serde_json::json!({"cert": "${submission}/ca/ca.crt", "key": "${submission}/ca/ca.key"})
}

fn example_certificatespec_from() -> serde_json::Value {
    serde_json::json!({"cert": "${submission}/server/server.crt", "key": "${submission}/server/server.key"})
}

/// Name constraints of an authority. Each entry is `dns:SUFFIX` (e.g. `dns:lab.test`, which also permits its subdomains), `ip:ADDRESS/PREFIX` (e.g. `ip:10.0.0.0/8`) or `email:DOMAIN`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameConstraintsSpec {
    /// Subtrees names must fall inside; empty or omitted: no restriction.
    #[serde(default)]
    #[schemars(example = permitted_example())]
    pub permitted: Vec<String>,
    /// Subtrees names must stay out of, even when permitted.
    #[serde(default)]
    #[schemars(example = excluded_example())]
    pub excluded: Vec<String>,
}

fn permitted_example() -> Vec<&'static str> {
    vec!["dns:lab.test", "ip:127.0.0.0/8"]
}

fn excluded_example() -> Vec<&'static str> {
    vec!["dns:secret.lab.test"]
}

/// One revocation entry of an authority's CRL.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationSpec {
    /// The revoked certificate (a name under `certificates`, or an intermediate under `authorities`), issued by this authority.
    #[schemars(example = &"client")]
    pub certificate: String,
    /// The CRL reason code; default `unspecified`.
    #[serde(default)]
    #[schemars(example = example_revocationspec_reason())]
    pub reason: Option<RevocationReasonSpec>,
    /// When it was revoked: an offset from now or an RFC 3339 time; default one hour ago.
    #[serde(default)]
    #[schemars(example = &"-1h")]
    pub at: Option<String>,
}

/// A CRL reason code (RFC 5280 section 5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReasonSpec {
    /// No reason given.
    Unspecified,
    /// The certificate's private key was compromised.
    KeyCompromise,
    /// The issuing CA's key was compromised.
    CaCompromise,
    /// The subject's name or affiliation changed.
    AffiliationChanged,
    /// The certificate was replaced.
    Superseded,
    /// The certificate is no longer needed.
    CessationOfOperation,
    /// The certificate is on hold (temporarily revoked).
    CertificateHold,
    /// The privileges of the certificate were withdrawn.
    PrivilegeWithdrawn,
    /// An attribute authority was compromised.
    AaCompromise,
}

/// The validity window of an authority's CRL. Each end is an offset from now or an RFC 3339 time.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrlSpec {
    /// thisUpdate; default one hour ago.
    #[serde(default)]
    #[schemars(example = &"-1h")]
    pub this_update: Option<String>,
    /// nextUpdate; default seven days after thisUpdate. Verifiers ignore an expired CRL unless `revocation.expired: deny`.
    #[serde(default)]
    #[schemars(example = &"+7d")]
    pub next_update: Option<String>,
}

/// Revocation checking by a verifier, against the CRLs of every authority of the lab that publishes one (or those listed in `crls`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationCheckSpec {
    /// Which certificates are checked: `chain` (every certificate below the trust anchor; default) or `end_entity` (the leaf only).
    #[serde(default)]
    #[schemars(example = example_revocationcheckspec_check())]
    pub check: Option<RevocationDepth>,
    /// What to do with a certificate whose issuer published no CRL: `deny` (default; `revocation_unknown`) or `allow`.
    #[serde(default)]
    #[schemars(example = example_revocationcheckspec_unknown())]
    pub unknown: Option<Policy>,
    /// What to do with a CRL past its nextUpdate: `allow` (default: the CRL is still used) or `deny` (`revocation_unknown`).
    #[serde(default)]
    #[schemars(example = example_revocationcheckspec_expired())]
    pub expired: Option<Policy>,
    /// The CRLs this verifier has, by the name of the authority that publishes each; default every CRL of the lab. A verifier missing an authority's CRL cannot determine the status of what it issued (`revocation_unknown`, unless `unknown: allow`).
    #[serde(default)]
    #[schemars(example = example_revocationcheckspec_crls())]
    pub crls: Option<Vec<String>>,
}

fn example_revocationcheckspec_crls() -> serde_json::Value {
    serde_json::json!(["root", "issuing-ca"])
}

/// How deep revocation checking goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationDepth {
    /// Every certificate in the chain except the trust anchor.
    Chain,
    /// Only the end-entity certificate.
    EndEntity,
}

/// Deny or allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Reject the handshake.
    Deny,
    /// Let it through.
    Allow,
}

/// What a peer sends as its certificate chain: `full` (the certificate and its intermediates; default), `leaf` (the certificate alone), or an explicit list of names (authorities or certificates) sent after the certificate, in order.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum ChainSpec {
    /// `full` or `leaf`.
    Mode(ChainMode),
    /// The certificates sent after the leaf, by name.
    List(Vec<String>),
}

/// A named chain shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChainMode {
    /// The certificate followed by every intermediate up to (not including) the root.
    Full,
    /// The certificate alone.
    Leaf,
}

impl<'de> Deserialize<'de> for ChainSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ChainSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "`full`, `leaf`, or a list of certificate names such as `[wrong-intermediate]`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChainSpec, E> {
                ChainMode::deserialize(de::value::StrDeserializer::<E>::new(v)).map(ChainSpec::Mode)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<ChainSpec, A::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(ChainSpec::List)
            }
        }
        d.deserialize_any(V)
    }
}

/// A TLS cipher suite, as IANA names it (the suites rustls implements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
pub enum CipherSuiteName {
    /// TLS 1.3 AES-128-GCM.
    #[serde(rename = "TLS13_AES_128_GCM_SHA256")]
    Tls13Aes128GcmSha256,
    /// TLS 1.3 AES-256-GCM.
    #[serde(rename = "TLS13_AES_256_GCM_SHA384")]
    Tls13Aes256GcmSha384,
    /// TLS 1.3 ChaCha20-Poly1305.
    #[serde(rename = "TLS13_CHACHA20_POLY1305_SHA256")]
    Tls13Chacha20Poly1305Sha256,
    /// TLS 1.2 ECDHE with ECDSA certificates, AES-128-GCM.
    #[serde(rename = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")]
    EcdheEcdsaAes128GcmSha256,
    /// TLS 1.2 ECDHE with ECDSA certificates, AES-256-GCM.
    #[serde(rename = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")]
    EcdheEcdsaAes256GcmSha384,
    /// TLS 1.2 ECDHE with ECDSA certificates, ChaCha20-Poly1305.
    #[serde(rename = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")]
    EcdheEcdsaChacha20Poly1305Sha256,
    /// TLS 1.2 ECDHE with RSA certificates, AES-128-GCM.
    #[serde(rename = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")]
    EcdheRsaAes128GcmSha256,
    /// TLS 1.2 ECDHE with RSA certificates, AES-256-GCM.
    #[serde(rename = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")]
    EcdheRsaAes256GcmSha384,
    /// TLS 1.2 ECDHE with RSA certificates, ChaCha20-Poly1305.
    #[serde(rename = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")]
    EcdheRsaChacha20Poly1305Sha256,
}

impl CipherSuiteName {
    /// The TLS version the suite belongs to.
    pub fn version(self) -> TlsVersion {
        match self {
            CipherSuiteName::Tls13Aes128GcmSha256
            | CipherSuiteName::Tls13Aes256GcmSha384
            | CipherSuiteName::Tls13Chacha20Poly1305Sha256 => TlsVersion::Tls13,
            _ => TlsVersion::Tls12,
        }
    }
}

/// An end-entity (leaf) certificate, generated when the lab runs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    /// Load the certificate from PEM files instead of generating it; the generation fields (`subject`, `san`, `key`, `valid`, `usage`, `key_usage`, `serial`, `ca`, `unknown_critical_extension`, `signature`) then do not apply. `from.key` is needed to present it in a handshake.
    #[serde(default)]
    #[schemars(example = example_certificatespec_from())]
    pub from: Option<FromSpec>,
    /// The authority that signs this certificate, or `self` for a self-signed certificate (signed with its own key; trusted only by naming it in `trust`). For a loaded certificate: the authority expected to have signed it, whose intermediates are sent with it.
    #[schemars(example = &"ca")]
    pub issuer: String,
    /// The certificate's distinguished name (required unless `from` loads it).
    #[serde(default)]
    #[schemars(example = example_certificatespec_subject())]
    pub subject: Option<Subject>,
    /// Subject alternative names: `dns:NAME`, `ip:ADDRESS`, `uri:URI`, `email:ADDRESS`. A bare name is a DNS name, a bare address an IP address. An empty list writes no SAN extension (TLS clients then ignore the CN and reject the name).
    #[serde(default)]
    #[schemars(example = san_example())]
    pub san: Option<Vec<String>>,
    /// Key type; default `ecdsa-p256`.
    #[serde(default)]
    #[schemars(example = example_certificatespec_key())]
    pub key: Option<KeyType>,
    /// Validity period; default from one hour ago until 90 days from now.
    #[serde(default)]
    #[schemars(example = example_certificatespec_valid())]
    pub valid: Option<Validity>,
    /// Extended key usage: `server`, `client`, `both` (default), `none` (no extension), `code_signing`, or a list of purposes and dotted OIDs such as `[client, 2.5.29.37.0]` (anyExtendedKeyUsage).
    #[serde(default)]
    #[schemars(example = example_certificatespec_usage())]
    pub usage: Option<UsageSpec>,
    /// Key usage bits; default `[digital_signature]`, plus `key_encipherment` for RSA keys. `[]` writes no key usage extension.
    #[serde(default)]
    #[schemars(example = key_usage_example())]
    pub key_usage: Option<Vec<KeyUsage>>,
    /// Serial number; default a random, unique one.
    #[serde(default)]
    #[schemars(example = 1001)]
    pub serial: Option<u64>,
    /// `true` adds a critical extension that no verifier understands (private OID 1.3.6.1.4.1.55555.1): a verifier must then refuse the certificate (`bad_encoding`). Default `false`.
    #[serde(default)]
    #[schemars(example = true)]
    pub unknown_critical_extension: Option<bool>,
    /// `true` issues this leaf with basicConstraints `cA: TRUE` (and key usage keyCertSign): a CA certificate presented as an end entity (`ca_used_as_leaf`). Default `false`.
    #[serde(default)]
    #[schemars(example = true)]
    pub ca: Option<bool>,
    /// For a self-signed certificate (`issuer: self`): the signature algorithm it signs itself with, as for authorities; default the key's own.
    #[serde(default)]
    #[schemars(example = &"ecdsa-sha256")]
    pub signature: Option<SignatureAlgorithm>,
}

fn key_usage_example() -> Vec<&'static str> {
    vec!["digital_signature"]
}

/// A key usage bit (RFC 5280 section 4.2.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyUsage {
    /// digitalSignature: the key signs handshakes (ECDHE).
    DigitalSignature,
    /// nonRepudiation (contentCommitment).
    ContentCommitment,
    /// keyEncipherment: the key encrypts keys (RSA key exchange).
    KeyEncipherment,
    /// dataEncipherment.
    DataEncipherment,
    /// keyAgreement.
    KeyAgreement,
    /// keyCertSign: the key signs certificates.
    KeyCertSign,
    /// cRLSign: the key signs CRLs.
    CrlSign,
}

fn san_example() -> Vec<&'static str> {
    vec!["dns:localhost", "ip:127.0.0.1"]
}

/// A distinguished name. Every field is optional; give at least a CN.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Country (two letters).
    #[serde(rename = "C", default)]
    #[schemars(example = &"US")]
    pub country: Option<String>,
    /// State or province.
    #[serde(rename = "ST", default)]
    #[schemars(example = &"State")]
    pub state: Option<String>,
    /// Locality (city).
    #[serde(rename = "L", default)]
    #[schemars(example = &"City")]
    pub locality: Option<String>,
    /// Organization.
    #[serde(rename = "O", default)]
    #[schemars(example = &"MyLabCA")]
    pub organization: Option<String>,
    /// Organizational unit.
    #[serde(rename = "OU", default)]
    #[schemars(example = &"Security")]
    pub unit: Option<String>,
    /// Common name.
    #[serde(rename = "CN", default)]
    #[schemars(example = &"Lab Certificate Authority")]
    pub common_name: Option<String>,
}

/// A key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// RSA, 2048-bit modulus.
    Rsa2048,
    /// RSA, 3072-bit modulus.
    Rsa3072,
    /// RSA, 4096-bit modulus (takes a second or more to generate).
    Rsa4096,
    /// ECDSA on NIST P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// ECDSA on NIST P-521 with SHA-512.
    EcdsaP521,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// The name as a lab writes it.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
            KeyType::Rsa4096 => "rsa4096",
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::EcdsaP521 => "ecdsa-p521",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// The signature algorithms rcgen signs with using a key of this type, the key's own first.
    pub fn signatures(self) -> &'static [SignatureAlgorithm] {
        use SignatureAlgorithm as S;
        match self {
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                &[S::RsaPkcs1Sha256, S::RsaPkcs1Sha384, S::RsaPkcs1Sha512]
            }
            KeyType::EcdsaP256 => &[S::EcdsaSha256],
            KeyType::EcdsaP384 => &[S::EcdsaSha384],
            KeyType::EcdsaP521 => &[S::EcdsaSha512, S::EcdsaSha256, S::EcdsaSha384],
            KeyType::Ed25519 => &[S::Ed25519],
        }
    }
}

/// A validity period. Each end is an offset from now (`-1d`, `+365d`, `12h`; units s, m, h, d, w) or an absolute RFC 3339 time (`2030-01-01T00:00:00Z`) or date (`2030-01-01`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    /// Start of validity (notBefore); default one hour ago.
    #[serde(default)]
    #[schemars(example = &"-1h")]
    pub from: Option<String>,
    /// End of validity (notAfter).
    #[serde(default)]
    #[schemars(example = &"+365d")]
    pub until: Option<String>,
}

/// Extended key usage written into a leaf certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    /// TLS server authentication only.
    Server,
    /// TLS client authentication only.
    Client,
    /// Both server and client authentication.
    Both,
    /// No extended key usage extension at all (any use).
    None,
    /// Code signing only: an EKU extension with neither TLS purpose.
    CodeSigning,
}

/// A built-in HTTPS server (hyper over rustls) started on 127.0.0.1 with an ephemeral port.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// The certificate the server presents (a name under `certificates`), sent with its intermediates.
    #[schemars(example = &"server")]
    pub certificate: String,
    /// Trust anchors for client certificates: names under `authorities`, or under `certificates` to trust a (self-signed) certificate directly. `[]` with `client_auth: required` or `optional` trusts nothing: every client certificate is refused (`unknown_issuer`).
    #[serde(default)]
    #[schemars(example = trust_example())]
    pub trust: Vec<String>,
    /// Whether the server asks for a client certificate; default `required`.
    #[serde(default)]
    #[schemars(example = example_serverspec_client_auth())]
    pub client_auth: Option<ClientAuth>,
    /// TLS versions the server accepts; default both 1.2 and 1.3.
    #[serde(default)]
    #[schemars(example = tls_example())]
    pub tls: Option<Vec<TlsVersion>>,
    /// Cipher suites the server accepts, by IANA name; default every suite rustls implements.
    #[serde(default)]
    #[schemars(example = ciphers_example())]
    pub ciphers: Option<Vec<CipherSuiteName>>,
    /// The chain the server sends: `full` (default), `leaf`, or the names sent after its certificate.
    #[serde(default)]
    #[schemars(example = example_serverspec_chain())]
    pub chain: Option<ChainSpec>,
    /// Check client certificates against the lab's CRLs; default no revocation checking.
    #[serde(default)]
    #[schemars(example = example_serverspec_revocation())]
    pub revocation: Option<RevocationCheckSpec>,
    /// More certificates, chosen by the SNI the client sends: each key is a DNS name, each value a name under `certificates`; a client that sends another name or none gets `certificate`. Built-in server only.
    #[serde(default)]
    #[schemars(example = handshake::sni_certificates_example())]
    pub sni_certificates: BTreeMap<String, String>,
    /// ALPN protocols the server accepts, in its order of preference (it picks the first the client offers); a client offering only others is refused with `no_application_protocol`. Default none: the server ignores the client's ALPN. The built-in server speaks HTTP/1.1 whatever was agreed. Built-in server only.
    #[serde(default)]
    #[schemars(example = handshake::alpn_example())]
    pub alpn: Option<Vec<String>>,
    /// Key-exchange groups the server accepts, by name; default every group rustls implements. Built-in server only.
    #[serde(default)]
    #[schemars(example = handshake::groups_example())]
    pub groups: Option<Vec<GroupName>>,
    /// The CA names the server advertises when it asks for a client certificate: `trusted` (default: the subjects of the authorities in `trust`), `none`, or a list of authority names. Built-in server only.
    #[serde(default)]
    #[schemars(example = handshake::ca_names_example())]
    pub ca_names: Option<CaNamesSpec>,
    /// `true`: resume with stateless session tickets (RFC 5077 in TLS 1.2; TLS 1.3 tickets) sealed with the server's ticket keys; default `false`: resume from the server's session cache (TLS 1.2 session IDs, TLS 1.3 tickets naming a cache entry). Built-in server only.
    #[serde(default)]
    #[schemars(example = true)]
    pub tickets: Option<bool>,
    /// Another built-in server whose session cache and ticket keys this one shares (two virtual hosts of one deployment, or a server whose client-certificate policy changed): a session made on either may be offered to both. The built-in server resumes only a session made under the same client-certificate policy (`client_auth`, `trust`, `revocation`, like OpenSSL's session ID context) and otherwise makes a full handshake.
    #[serde(default)]
    #[schemars(example = &"open")]
    pub share_sessions_with: Option<String>,
    /// The address the server listens on: for the built-in server `127.0.0.1:PORT` (default an ephemeral port; a fixed port is for client commands that connect to one); for a server `command`, the loopback address it listens on, `localhost:4443`, `127.0.0.1:8443` or `[::1]:8443` (port 0 or omitted: a free port, passed as `{port}`).
    #[serde(default)]
    #[schemars(example = &"localhost:4443")]
    pub listen: Option<String>,
    /// An external server: the command to start instead of the built-in server, as a list (argv). Arguments may use placeholders such as `{cert:server}`, `{key:server}`, `{cert:ca}`, `{port}` (see the README). `certificate`, `trust` and `client_auth` then describe how the command is set up (for reports and `check`).
    #[serde(default)]
    #[schemars(example = command_example())]
    pub command: Option<Vec<String>>,
    /// Working directory of the server command (placeholders allowed; relative to the lab file's directory); default the exported PKI's directory.
    #[serde(default)]
    #[schemars(example = &"{pki}/server")]
    pub cwd: Option<String>,
    /// Environment variables added for the server command (placeholders allowed). `PYTHONUNBUFFERED=1` is always set.
    #[serde(default)]
    #[schemars(example = server_env_example())]
    pub env: BTreeMap<String, String>,
    /// How the runner knows the server command is ready: `tls` (default: it accepts a TCP connection and answers a TLS handshake) or `tcp` (it accepts a TCP connection).
    #[serde(default)]
    #[schemars(example = &"tls")]
    pub ready: Option<ReadySpec>,
    /// How long the server command may take to become ready: `10s` (default), `500ms`, `1m`.
    #[serde(default)]
    #[schemars(example = &"10s")]
    pub start_timeout: Option<String>,
    /// Rules for reading the server command's words, tried in order before the runner's own maps of known programs: text it prints during a case that means a verdict (see `VerdictRuleSpec`). A server command's rules take no `exit`.
    #[serde(default)]
    #[schemars(example = server_verdicts_example())]
    pub verdicts: Vec<VerdictRuleSpec>,
    /// An external server that is already running at this loopback address (`HOST:PORT`); the runner starts nothing.
    #[serde(default)]
    #[schemars(example = &"127.0.0.1:8443")]
    pub target: Option<String>,
}

fn command_example() -> Vec<&'static str> {
    vec!["python3", "{dir}/seed/server/server.py"]
}

fn server_env_example() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("SERVER_CERT", "{cert:server}"),
        ("SERVER_KEY", "{key:server}"),
    ])
}

fn client_env_example() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([("SSL_CERT_FILE", "{cert:ca}")])
}

fn client_command_example() -> Vec<&'static str> {
    vec![
        "curl",
        "--fail",
        "--cacert",
        "{cert:ca}",
        "--cert",
        "{cert:client}",
        "--key",
        "{key:client}",
        "{url}",
    ]
}

/// How a server command is known to be ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadySpec {
    /// It accepts a TCP connection.
    Tcp,
    /// It accepts a TCP connection and answers a TLS handshake attempt (with any certificate or alert).
    Tls,
}

fn ciphers_example() -> Vec<&'static str> {
    vec!["TLS13_AES_128_GCM_SHA256"]
}

fn trust_example() -> Vec<&'static str> {
    vec!["ca"]
}

fn tls_example() -> Vec<&'static str> {
    vec!["1.3"]
}

/// Client authentication policy of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// A client must present a certificate that chains to a trusted authority.
    Required,
    /// A client may present no certificate; one it presents must be valid.
    Optional,
    /// The server does not ask for a client certificate.
    None,
}

/// A TLS protocol version: `1.2` or `1.3` (quoted or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "1.3")]
    Tls13,
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TlsVersion;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a TLS version, 1.2 or 1.3")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TlsVersion, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TlsVersion, E> {
                match v.trim() {
                    "1.2" | "TLS1.2" | "tls1.2" => Ok(TlsVersion::Tls12),
                    "1.3" | "TLS1.3" | "tls1.3" => Ok(TlsVersion::Tls13),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// One handshake to try.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// What the case shows, as a sentence; unique within the lab.
    #[schemars(example = &"valid client is accepted")]
    pub name: String,
    /// Tags for `--filter tag:NAME` (added to the lab's tags).
    #[serde(default)]
    #[schemars(example = tags_example())]
    pub tags: Vec<String>,
    /// The server to connect to (a name under `servers`); may be omitted when the lab has one server.
    #[serde(default)]
    #[schemars(example = &"web")]
    pub server: Option<String>,
    /// The client that connects.
    #[schemars(example = example_casespec_client())]
    pub client: ClientSpec,
    /// Virtual clock for this case: the time at which both sides verify (an offset from now such as `+400d`, or an RFC 3339 time); default the lab's `at`, else now. A client command runs at it with libfaketime preloaded (refused without it); against a server command only the lab's `at` is allowed, and against a `target` none.
    #[serde(default)]
    #[schemars(example = &"+400d")]
    pub at: Option<String>,
    /// Resume the TLS session of an earlier case (its name): the built-in client offers the session ticket or session ID it got there, to this case's server (the same server, or one sharing its sessions with `share_sessions_with`). Built-in client only.
    #[serde(default)]
    #[schemars(example = &"valid client is accepted")]
    pub resume: Option<String>,
    /// The outcome the handshake must have.
    #[schemars(example = example_casespec_expect())]
    pub expect: Expect,
    /// Points for the case, all or nothing; default 1. Use `score` instead to split them.
    #[serde(default)]
    #[schemars(example = 3)]
    pub points: Option<f64>,
    /// Points per part of the expectation, instead of `points`: each key names a field of `expect` (`outcome`, `by`, `reason`, `server_saw`, `status`, `alert`, `exit`, `output`, `server_output`, or `negotiated` for all of `client_saw`, `tls_version`, `cipher_suite`, `group`, `signature_scheme`, `alpn`, `ca_names`, `resumed`) and earns its points when that part matches (every part after a wrong outcome fails). The case's points are their sum.
    #[serde(default)]
    #[schemars(example = example_casespec_score())]
    pub score: Option<BTreeMap<ScorePart, f64>>,
    /// Checks or earlier cases (by name) that must pass first; when one did not, this case is skipped, with the reason, and its points leave the total, so one mistake does not cost points twice.
    #[serde(default)]
    #[schemars(example = example_requires())]
    pub requires: Vec<String>,
    /// `true`: student-facing output (console, JUnit, TAP, Gradescope, Classroom) shows only the case's name and whether it passed; the JSON report keeps every detail.
    #[serde(default)]
    #[schemars(example = true)]
    pub hidden: bool,
    /// Derive the standard failure cases from this case (which must expect `accepted`): `standard`, or `{ set: standard, test: server | client | both, points: N }` (N points for each derived case). See the README's "Batteries".
    #[serde(default)]
    #[schemars(example = &"standard")]
    pub battery: Option<BatterySpec>,
}

// Deserialized by hand (below) so that a wrong set, field or type is said at the field with what is
// allowed: an untagged enum says only that nothing matched, at the case.
/// A battery of derived failure cases: the set's name, or the full form.
#[derive(Debug, Clone, JsonSchema)]
#[serde(untagged)]
pub enum BatterySpec {
    /// `standard`: every standard failure for the side(s) under test.
    Set(BatterySet),
    /// The set, which side is tested and the points of each derived case.
    Full(BatteryFull),
}

/// What a battery may be, for messages.
const BATTERY_FORMS: &str =
    "`standard` or { set: standard, test: server | client | both, points: N }";

impl<'de> Deserialize<'de> for BatterySpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Battery;
        impl<'de> serde::de::Visitor<'de> for Battery {
            type Value = BatterySpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(BATTERY_FORMS)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<BatterySpec, E> {
                match v {
                    "standard" => Ok(BatterySpec::Set(BatterySet::Standard)),
                    // `unknown variant` with its names, so that the loader suggests the closest.
                    _ => Err(E::custom(format!(
                        "unknown variant `{v}`, expected {BATTERY_FORMS}"
                    ))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<BatterySpec, A::Error> {
                BatteryFull::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(BatterySpec::Full)
            }
        }
        d.deserialize_any(Battery)
    }
}

/// A named set of derived failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatterySet {
    /// Every standard failure of the README's "Batteries" list.
    Standard,
}

/// The full form of a battery.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatteryFull {
    /// The set of failures.
    #[schemars(example = &"standard")]
    pub set: BatterySet,
    /// The peer under test: `server` (the built-in client presents bad certificates), `client` (built-in servers present bad certificates) or `both`; default: the case's external program, or both for two built-in peers.
    #[serde(default)]
    #[schemars(example = &"server")]
    pub test: Option<BatteryTest>,
    /// Points for each derived case; default 1 (shown only when the lab gives points).
    #[serde(default)]
    #[schemars(example = 1)]
    pub points: Option<f64>,
}

/// The peer a battery tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatteryTest {
    /// The case's server.
    Server,
    /// The case's client.
    Client,
    /// Both.
    Both,
}

/// A built-in client (hyper over rustls) that connects, verifies the server and sends `GET /`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// The certificate the client presents (a name under `certificates`); omit it to present none.
    #[serde(default)]
    #[schemars(example = &"client")]
    pub certificate: Option<String>,
    /// Trust anchors the client verifies the server with: names under `authorities`, or under `certificates` to trust a (self-signed) certificate directly; `[]` trusts nothing. Required for the built-in client; not used with `command`.
    #[serde(default)]
    #[schemars(example = trust_example())]
    pub trust: Option<Vec<String>>,
    /// The name the client verifies in the server's certificate (DNS name or IP address); default `localhost`.
    #[serde(default)]
    #[schemars(example = &"localhost")]
    pub server_name: Option<String>,
    /// TLS versions the client offers; default both 1.2 and 1.3.
    #[serde(default)]
    #[schemars(example = tls_example())]
    pub tls: Option<Vec<TlsVersion>>,
    /// Cipher suites the client offers, by IANA name; default every suite rustls implements.
    #[serde(default)]
    #[schemars(example = ciphers_example())]
    pub ciphers: Option<Vec<CipherSuiteName>>,
    /// The chain the client sends: `full` (default), `leaf`, or the names sent after its certificate.
    #[serde(default)]
    #[schemars(example = example_clientspec_chain())]
    pub chain: Option<ChainSpec>,
    /// Check the server's certificate against the lab's CRLs; default no revocation checking.
    #[serde(default)]
    #[schemars(example = example_clientspec_revocation())]
    pub revocation: Option<RevocationCheckSpec>,
    /// The SNI the client sends: `true` (default: `server_name`, unless it is an IP address), `false` (none), or another DNS name than the one it verifies.
    #[serde(default)]
    #[schemars(example = handshake::sni_example())]
    pub sni: Option<SniSpec>,
    /// ALPN protocols the client offers, in its order of preference; default none.
    #[serde(default)]
    #[schemars(example = handshake::alpn_example())]
    pub alpn: Option<Vec<String>>,
    /// Key-exchange groups the client offers, by name, its first choice first; default every group rustls implements.
    #[serde(default)]
    #[schemars(example = handshake::groups_example())]
    pub groups: Option<Vec<GroupName>>,
    /// Several certificates the client holds (names under `certificates`), instead of `certificate`; it chooses among them with `select: by_ca_names`.
    #[serde(default)]
    #[schemars(example = handshake::certificates_example())]
    pub certificates: Option<Vec<String>>,
    /// How the client chooses the certificate it sends: `always` (default: `certificate`, whatever the server asks) or `by_ca_names` (the first whose chain has a certificate issued by a CA name the server advertised; none when none matches).
    #[serde(default)]
    #[schemars(example = handshake::select_example())]
    pub select: Option<SelectSpec>,
    /// Public-key pins: after normal verification the server's SubjectPublicKeyInfo SHA-256 must equal one of these. Each is a certificate or authority name (its key is pinned) or a literal `sha256//BASE64` (curl's `--pinnedpubkey` form) or `sha256/BASE64`.
    #[serde(default)]
    #[schemars(example = pin_example())]
    pub pin: Option<Vec<String>>,
    /// An external client: a command (argv) run against the built-in server instead of the built-in client, e.g. curl, `openssl s_client`, `python3 client.py`. Placeholders as for server commands, plus the server's `{host}`, `{ip}`, `{port}`, `{addr}` and `{url}`. Only `cwd`, `env` and `timeout` go with it.
    #[serde(default)]
    #[schemars(example = client_command_example())]
    pub command: Option<Vec<String>>,
    /// Working directory of the client command (placeholders allowed; relative to the lab file's directory); default the exported PKI's directory.
    #[serde(default)]
    #[schemars(example = &"{pki}/client")]
    pub cwd: Option<String>,
    /// Environment variables added for the client command (placeholders allowed).
    #[serde(default)]
    #[schemars(example = client_env_example())]
    pub env: BTreeMap<String, String>,
    /// How long the client command may run: `20s` (default), `500ms`, `1m`.
    #[serde(default)]
    #[schemars(example = &"20s")]
    pub timeout: Option<String>,
    /// Rules for reading the client command's words, tried in order before the runner's own maps of known programs (curl, openssl, Python): text in its output, and optionally its exit status, that means a verdict (see `VerdictRuleSpec`).
    #[serde(default)]
    #[schemars(example = client_verdicts_example())]
    pub verdicts: Vec<VerdictRuleSpec>,
}

/// A lab's rule for a program mtls-lab does not know (`verdicts:` on a command): when the program's output contains `output` (and, for a client command, it exited with `exit`), the case's verdict is `side` refused for `reason` — or, with `program_error: true`, the program failed before or outside TLS. Checked when the lab is loaded.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictRuleSpec {
    /// Text the program's output (standard output and error) must contain, exactly as written (a substring, not a regular expression).
    #[schemars(example = &"REFUSED: bad cert")]
    pub output: String,
    /// The exit status the client command must have exited with; omit it for any. Not for a server command's rules.
    #[serde(default)]
    #[schemars(example = &3)]
    pub exit: Option<i32>,
    /// The side whose refusal the words tell: `client` or `server` (a client program may say that the server refused it).
    #[serde(default)]
    #[schemars(example = example_expectfull_by())]
    pub side: Option<Side>,
    /// The reason code the words name; omit it when they name none (the alert, where it names one, then gives it).
    #[serde(default)]
    #[schemars(example = &"unknown_issuer")]
    pub reason: Option<Reason>,
    /// `true`: the words mean the program failed before or outside TLS (a program error), not a TLS verdict; then give no `side` or `reason`.
    #[serde(default)]
    #[schemars(example = &false)]
    pub program_error: bool,
}

fn client_verdicts_example() -> serde_json::Value {
    serde_json::json!([
        { "output": "REFUSED: bad cert", "exit": 3, "side": "client", "reason": "unknown_issuer" },
        { "output": "cannot read key", "program_error": true }
    ])
}

fn server_verdicts_example() -> serde_json::Value {
    serde_json::json!([
        { "output": "rejected: no client certificate", "side": "server", "reason": "certificate_required" }
    ])
}

fn pin_example() -> Vec<&'static str> {
    vec!["server"]
}

/// The expected outcome: `accepted`, or a mapping with `outcome` and, for a rejection, `by` and `reason`.
#[derive(Debug, Clone, JsonSchema)]
#[serde(untagged)]
// One per case, read once: the size of the full form does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Expect {
    /// Shorthand: `accepted` or `rejected` with no further detail (`rejected` alone is refused: name the side and the reason).
    Short(Outcome),
    /// The full form.
    Full(ExpectFull),
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Expect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`accepted`, or a mapping such as `{ outcome: rejected, by: server, reason: certificate_required }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expect, E> {
                Outcome::deserialize(de::value::StrDeserializer::<E>::new(v)).map(Expect::Short)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Expect, A::Error> {
                ExpectFull::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Expect::Full)
            }
        }
        d.deserialize_any(V)
    }
}

/// The full form of an expectation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectFull {
    /// `accepted` or `rejected`.
    #[schemars(example = example_expectfull_outcome())]
    pub outcome: Outcome,
    /// For a rejection: the side whose verifier rejects the handshake.
    #[serde(default)]
    #[schemars(example = example_expectfull_by())]
    pub by: Option<Side>,
    /// For a rejection: why, as a reason code (see the README). Required unless the rejecting side is an external program, whose reason is only observable through its alert.
    #[serde(default)]
    #[schemars(example = example_expectfull_reason())]
    pub reason: Option<Reason>,
    /// For an acceptance: the client identity the server must have seen. Each field given must match exactly; each SAN listed must be present. `{}` with no fields means the server saw no client certificate.
    #[serde(default)]
    #[schemars(example = example_expectfull_server_saw())]
    pub server_saw: Option<IdentitySpec>,
    /// For an acceptance: the HTTP status the server must answer with (the built-in server answers 200).
    #[serde(default)]
    #[schemars(example = 200)]
    pub status: Option<u16>,
    /// For a rejection: the TLS alert the other side received (`certificate_required`, `unknown_ca`, `certificate_expired`, ...). With an external peer this is what is observable of its verdict.
    #[serde(default)]
    #[schemars(example = &"certificate_expired")]
    pub alert: Option<String>,
    /// For a client command: its exit status.
    #[serde(default)]
    #[schemars(example = 0)]
    pub exit: Option<i32>,
    /// For a client command: text its standard output must contain.
    #[serde(default)]
    #[schemars(example = &"Mutual TLS authentication worked")]
    pub output: Option<String>,
    /// For a server command: text it must have printed (stdout or stderr) while the case ran, e.g. the client identity it logs.
    #[serde(default)]
    #[schemars(example = &"commonName: labclient")]
    pub server_output: Option<String>,
    /// The server identity the client saw (fields as in `server_saw`); needs the built-in client.
    #[serde(default)]
    #[schemars(example = handshake::client_saw_example())]
    pub client_saw: Option<IdentitySpec>,
    /// The TLS version negotiated: `1.2` or `1.3`.
    #[serde(default)]
    #[schemars(example = handshake::tls_version_example())]
    pub tls_version: Option<TlsVersion>,
    /// The cipher suite negotiated, by IANA name.
    #[serde(default)]
    #[schemars(example = handshake::cipher_suite_example())]
    pub cipher_suite: Option<CipherSuiteName>,
    /// The key-exchange group negotiated (none in a resumed TLS 1.2 handshake).
    #[serde(default)]
    #[schemars(example = handshake::group_example())]
    pub group: Option<GroupName>,
    /// The signature scheme the server signed the handshake with, as the built-in client verified it (none in a resumed handshake); needs the built-in client.
    #[serde(default)]
    #[schemars(example = handshake::signature_scheme_example())]
    pub signature_scheme: Option<SignatureSchemeName>,
    /// The ALPN protocol agreed, or `false` for none.
    #[serde(default)]
    #[schemars(example = &"h2")]
    pub alpn: Option<AlpnExpect>,
    /// The CA names the server advertised when it asked for a client certificate, as authority names (a name the lab does not define is written as the distinguished name); `[]`: it asked but named none. Needs the built-in client.
    #[serde(default)]
    #[schemars(example = handshake::ca_names_example())]
    pub ca_names: Option<Vec<String>>,
    /// `true`: the handshake resumed an earlier session; `false`: it was a full handshake.
    #[serde(default)]
    #[schemars(example = true)]
    pub resumed: Option<bool>,
}

/// An identity as seen by a peer.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    /// Common name.
    #[serde(rename = "CN", default)]
    #[schemars(example = &"labclient")]
    pub common_name: Option<String>,
    /// Organization.
    #[serde(rename = "O", default)]
    #[schemars(example = &"MyLabClient")]
    pub organization: Option<String>,
    /// Organizational unit.
    #[serde(rename = "OU", default)]
    #[schemars(example = &"Students")]
    pub unit: Option<String>,
    /// Subject alternative names that must be present, written as in `certificates.*.san`.
    #[serde(default)]
    #[schemars(example = san_example())]
    pub san: Vec<String>,
    /// `true` when the server must have seen no client certificate at all.
    #[serde(default)]
    #[schemars(example = false)]
    pub none: bool,
}

pub use crate::reason::{Outcome, Reason, Side};

// Examples for the JSON Schema (editors show them on hover).

fn example_labfile_authorities() -> serde_json::Value {
    serde_json::json!({"ca": {"subject": {"O": "MyLabCA", "CN": "Lab Certificate Authority"}}})
}

fn example_labfile_certificates() -> serde_json::Value {
    serde_json::json!({"server": {"issuer": "ca", "subject": {"CN": "localhost"}, "san": ["dns:localhost"], "usage": "server"}})
}

fn example_labfile_servers() -> serde_json::Value {
    serde_json::json!({"web": {"certificate": "server", "trust": ["ca"], "client_auth": "required"}})
}

fn example_labfile_cases() -> serde_json::Value {
    serde_json::json!([{"name": "valid client is accepted", "client": {"certificate": "client", "trust": ["ca"]}, "expect": "accepted"}])
}

fn example_fragment_authorities() -> serde_json::Value {
    serde_json::json!({"ca": {"subject": {"O": "MyLabCA", "CN": "Lab Certificate Authority"}}})
}

fn example_fragment_certificates() -> serde_json::Value {
    serde_json::json!({"client": {"issuer": "ca", "subject": {"CN": "alice"}, "usage": "client"}})
}

fn example_fragment_servers() -> serde_json::Value {
    serde_json::json!({"web": {"certificate": "server", "trust": ["ca"]}})
}

fn example_fragment_description() -> serde_json::Value {
    serde_json::json!("One CA and a client certificate shared by several labs.")
}

fn example_authorityspec_crl() -> serde_json::Value {
    serde_json::json!({"this_update": "-1h", "next_update": "+7d"})
}

fn example_authorityspec_key() -> serde_json::Value {
    serde_json::json!("rsa4096")
}

fn example_authorityspec_name_constraints() -> serde_json::Value {
    serde_json::json!({"permitted": ["dns:lab.test", "ip:127.0.0.0/8"], "excluded": ["dns:admin.lab.test"]})
}

fn example_authorityspec_revokes() -> serde_json::Value {
    serde_json::json!([{"certificate": "stolen-client", "reason": "key_compromise", "at": "-1h"}])
}

fn example_authorityspec_subject() -> serde_json::Value {
    serde_json::json!({"C": "US", "O": "MyLabCA", "CN": "Lab Certificate Authority"})
}

fn example_authorityspec_valid() -> serde_json::Value {
    serde_json::json!({"from": "-1h", "until": "+365d"})
}

fn example_certificatespec_key() -> serde_json::Value {
    serde_json::json!("ecdsa-p256")
}

fn example_certificatespec_subject() -> serde_json::Value {
    serde_json::json!({"O": "MyLabClient", "CN": "labclient"})
}

fn example_certificatespec_usage() -> serde_json::Value {
    serde_json::json!("client")
}

fn example_certificatespec_valid() -> serde_json::Value {
    serde_json::json!({"from": "-30d", "until": "-1d"})
}

fn example_casespec_client() -> serde_json::Value {
    serde_json::json!({"certificate": "client", "trust": ["ca"]})
}

fn example_casespec_expect() -> serde_json::Value {
    serde_json::json!({"outcome": "rejected", "by": "server", "reason": "certificate_required"})
}

fn example_clientspec_chain() -> serde_json::Value {
    serde_json::json!("leaf")
}

fn example_clientspec_revocation() -> serde_json::Value {
    serde_json::json!({"check": "chain", "unknown": "deny"})
}

fn example_serverspec_chain() -> serde_json::Value {
    serde_json::json!("full")
}

fn example_serverspec_client_auth() -> serde_json::Value {
    serde_json::json!("required")
}

fn example_serverspec_revocation() -> serde_json::Value {
    serde_json::json!({"check": "end_entity", "unknown": "deny"})
}

fn example_expectfull_by() -> serde_json::Value {
    serde_json::json!("server")
}

fn example_expectfull_outcome() -> serde_json::Value {
    serde_json::json!("rejected")
}

fn example_expectfull_reason() -> serde_json::Value {
    serde_json::json!("certificate_required")
}

fn example_expectfull_server_saw() -> serde_json::Value {
    serde_json::json!({"CN": "labclient", "O": "MyLabClient"})
}

fn example_revocationcheckspec_check() -> serde_json::Value {
    serde_json::json!("chain")
}

fn example_revocationcheckspec_expired() -> serde_json::Value {
    serde_json::json!("allow")
}

fn example_revocationcheckspec_unknown() -> serde_json::Value {
    serde_json::json!("deny")
}

fn example_revocationspec_reason() -> serde_json::Value {
    serde_json::json!("key_compromise")
}
