//! Batteries: from one case that completes mTLS, the standard failure cases derived at the model level —
//! extra authorities (an unknown CA, a rogue CA with the trusted CA's name), copies of the leaves (expired,
//! not yet valid, another name, the other purpose, `ca: true`, revoked), built-in servers presenting them,
//! and one derived [`Case`] per failure with its exact expectation, so that the PKI, TLS, run, verdict and
//! report stages run them as they run written cases.

use ::time::{Duration, OffsetDateTime};

use crate::lab::loaded;
use crate::lab::{
    Authority, Case, CertRef, Certificate, Chain, ClientAuth, Expectation, Grading, KeyType, Lab,
    Revocation, RevocationReasonSpec, Server, ServerKind, Side, Subject,
};
use crate::reason::{readable_from_alert, Reason};

mod client_side;
mod copies;
mod server_side;

/// The peer a battery tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tested {
    /// The case's server; the built-in client presents bad certificates.
    Server,
    /// The case's client; built-in servers present bad certificates.
    Client,
}

/// Which peers a battery tests: the case's server, its client, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    Server,
    Client,
    Both,
}

/// What a case asks for with `battery:` (or `mtls-lab battery LAB CASE`).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `None`: the external program of the case, or both peers when both are built in.
    pub test: Option<Test>,
    /// Points of each derived case; `None`: 1.
    pub points: Option<f64>,
}

/// One standard failure of a battery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Failure {
    // Testing a server: what the built-in client presents.
    NoClientCertificate,
    ClientUnknownCa,
    ClientRogueCa,
    ClientSelfSigned,
    ClientExpired,
    ClientNotYetValid,
    ClientServerAuthOnly,
    ClientCaCertificate,
    ClientRevoked,
    ClientIntermediateLeftOut,
    ClientKeyMismatch,
    // Testing a client: what a built-in server presents.
    ServerExpired,
    ServerNotYetValid,
    ServerOtherName,
    ServerUnknownCa,
    ServerRogueCa,
    ServerClientAuthOnly,
    ServerRevoked,
    ServerIntermediateLeftOut,
    ServerSelfSigned,
}

impl Failure {
    /// The standard set, testing a server, in the README's order.
    pub const SERVER_SET: &'static [Failure] = &[
        Failure::NoClientCertificate,
        Failure::ClientUnknownCa,
        Failure::ClientRogueCa,
        Failure::ClientSelfSigned,
        Failure::ClientExpired,
        Failure::ClientNotYetValid,
        Failure::ClientServerAuthOnly,
        Failure::ClientCaCertificate,
        Failure::ClientRevoked,
        Failure::ClientIntermediateLeftOut,
        Failure::ClientKeyMismatch,
    ];

    /// The standard set, testing a client, in the README's order.
    pub const CLIENT_SET: &'static [Failure] = &[
        Failure::ServerExpired,
        Failure::ServerNotYetValid,
        Failure::ServerOtherName,
        Failure::ServerUnknownCa,
        Failure::ServerRogueCa,
        Failure::ServerClientAuthOnly,
        Failure::ServerRevoked,
        Failure::ServerIntermediateLeftOut,
        Failure::ServerSelfSigned,
    ];

    /// The failure as the derived case's name says it (`expired client certificate`).
    pub fn title(self) -> &'static str {
        match self {
            Failure::NoClientCertificate => "no client certificate",
            Failure::ClientUnknownCa => "client certificate from an unknown CA",
            Failure::ClientRogueCa => {
                "client certificate from a rogue CA with the trusted CA's name"
            }
            Failure::ClientSelfSigned => "self-signed client certificate",
            Failure::ClientExpired => "expired client certificate",
            Failure::ClientNotYetValid => "client certificate not yet valid",
            Failure::ClientServerAuthOnly => "client certificate with only serverAuth EKU",
            Failure::ClientCaCertificate => "CA certificate as client certificate",
            Failure::ClientRevoked => "revoked client certificate",
            Failure::ClientIntermediateLeftOut => "client intermediate left out",
            Failure::ClientKeyMismatch => "client certificate with a key that does not match",
            Failure::ServerExpired => "expired server certificate",
            Failure::ServerNotYetValid => "server certificate not yet valid",
            Failure::ServerOtherName => "server certificate for another name",
            Failure::ServerUnknownCa => "server certificate from an unknown CA",
            Failure::ServerRogueCa => {
                "server certificate from a rogue CA with the trusted CA's name"
            }
            Failure::ServerClientAuthOnly => "server certificate with only clientAuth EKU",
            Failure::ServerRevoked => "revoked server certificate",
            Failure::ServerIntermediateLeftOut => "server intermediate left out",
            Failure::ServerSelfSigned => "self-signed server certificate",
        }
    }

    /// The side that must refuse, and why (rustls's verdict; the README lists them).
    pub fn expected(self) -> (Side, Reason) {
        let (side, reason) = match self {
            Failure::NoClientCertificate => (Side::Server, Reason::CertificateRequired),
            Failure::ClientUnknownCa
            | Failure::ClientSelfSigned
            | Failure::ClientIntermediateLeftOut => (Side::Server, Reason::UnknownIssuer),
            Failure::ClientRogueCa | Failure::ClientKeyMismatch => {
                (Side::Server, Reason::BadSignature)
            }
            Failure::ClientExpired => (Side::Server, Reason::Expired),
            Failure::ClientNotYetValid => (Side::Server, Reason::NotYetValid),
            Failure::ClientServerAuthOnly => (Side::Server, Reason::WrongPurpose),
            Failure::ClientCaCertificate => (Side::Server, Reason::CaUsedAsLeaf),
            Failure::ClientRevoked => (Side::Server, Reason::Revoked),
            Failure::ServerExpired => (Side::Client, Reason::Expired),
            Failure::ServerNotYetValid => (Side::Client, Reason::NotYetValid),
            Failure::ServerOtherName => (Side::Client, Reason::NameMismatch),
            Failure::ServerUnknownCa
            | Failure::ServerIntermediateLeftOut
            | Failure::ServerSelfSigned => (Side::Client, Reason::UnknownIssuer),
            Failure::ServerRogueCa => (Side::Client, Reason::BadSignature),
            Failure::ServerClientAuthOnly => (Side::Client, Reason::WrongPurpose),
            Failure::ServerRevoked => (Side::Client, Reason::Revoked),
        };
        (side, reason)
    }
}

/// The alert a refusal for `reason` sends whichever TLS stack refuses, where there is one: `decrypt_error`
/// for a signature that does not verify (RFC 8446 §4.4.3 for CertificateVerify; rustls and OpenSSL
/// for a certificate's signature too), `certificate_expired` for an expired certificate (RFC 8446
/// §6.2). Not yet valid, for one, is `certificate_expired` from rustls, `bad_certificate` from OpenSSL.
pub fn alert_for(reason: Reason) -> Option<&'static str> {
    match reason {
        Reason::BadSignature => Some("decrypt_error"),
        Reason::Expired => Some("certificate_expired"),
        _ => None,
    }
}

/// What makes a case a derived one: the written case it comes from, the failure, the peer under test, and
/// why it is skipped when it cannot apply.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Derived {
    /// The written case's name.
    pub of: String,
    pub failure: Failure,
    pub tested: Tested,
    /// The peer under test, as the matrix names it (`server web (command)`, `client (built-in)`).
    pub peer: String,
    /// Why the failure cannot apply here (no intermediate, no CRL, no CA key); the case is then skipped.
    pub skipped: Option<String>,
}

/// The name of a derived case: `CASE › battery: FAILURE`.
pub fn case_name(of: &str, failure: Failure) -> String {
    format!("{of} › battery: {}", failure.title())
}

/// Why a case cannot carry a battery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatteryError {
    /// The case does not expect `accepted`.
    #[error(
        "a battery derives failures from a case that completes mTLS; this case expects a rejection"
    )]
    NotAccepted,
    /// Testing a server needs the built-in client with a certificate.
    #[error("testing the server needs the built-in client presenting a certificate (`client.certificate`, no `command`)")]
    NoClientCertificate,
    /// Testing a client needs the built-in server.
    #[error(
        "testing the client needs the built-in server (the case's server is an external program)"
    )]
    ExternalServer,
    /// Testing the server of a case whose server does not ask for client certificates.
    #[error("testing the server needs a server that asks for client certificates (`client_auth: none` here)")]
    NoClientAuth,
    /// `mtls-lab battery LAB CASE` names a case no lab has; the closest written case names, best first.
    #[error("no case named `{case}` in the labs given{}", closest_names(.closest))]
    NoSuchCase { case: String, closest: Vec<String> },
    /// Neither peer can be tested (a client command against a server command).
    #[error("a battery needs one built-in peer: a client command against a server command leaves no peer to vary")]
    NoBuiltInPeer,
}

/// `; the closest: `A`, `B`` for a [`BatteryError::NoSuchCase`] message, or where to find the names.
fn closest_names(names: &[String]) -> String {
    if names.is_empty() {
        return "; `mtls-lab list LAB` lists its cases".to_string();
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("; the closest: {}", quoted.join(", "))
}

/// Of the written cases of `labs`, the (at most three) names closest to `case` (Jaro-Winkler above 0.7,
/// or one edit), best first.
fn closest(labs: &[Lab], case: &str) -> Vec<String> {
    let mut scored: Vec<(f64, &str)> = labs
        .iter()
        .flat_map(|l| &l.cases)
        .filter(|c| c.derived.is_none())
        .map(|c| (strsim::jaro_winkler(case, &c.name), c.name.as_str()))
        .filter(|(score, name)| *score > 0.7 || strsim::damerau_levenshtein(case, name) <= 1)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// Keeps, of `labs`, only the case named `case` and its battery (derived here with the standard set unless
/// the lab declares one for it), as `mtls-lab battery LAB CASE` runs and lists them, with the earlier
/// cases whose sessions it resumes (`resume`); labs without the case are left out.
///
/// # Errors
/// [`BatteryError::NoSuchCase`] when no lab has the case; the errors of [`derive()`].
pub fn only(labs: Vec<Lab>, case: &str, now: OffsetDateTime) -> Result<Vec<Lab>, BatteryError> {
    let closest = closest(&labs, case);
    let mut out = Vec::new();
    for mut lab in labs {
        let Some(index) = lab.cases.iter().position(|c| c.name == case) else {
            continue;
        };
        let derived = lab
            .cases
            .iter()
            .any(|c| c.derived.as_ref().is_some_and(|d| d.of == case));
        if !derived {
            let request = Request {
                test: None,
                points: None,
            };
            derive(&mut lab, index, &request, now)?;
        }
        // The earlier cases whose sessions it resumes (`resume`) run before it, as in a whole run.
        let mut keep = vec![case.to_string()];
        let mut at = index;
        while let Some(earlier) = lab.cases[at].client.resume.clone() {
            match lab.cases.iter().position(|c| c.name == earlier) {
                Some(i) if !keep.contains(&earlier) => {
                    keep.push(earlier);
                    at = i;
                }
                _ => break,
            }
        }
        lab.cases
            .retain(|c| keep.contains(&c.name) || c.derived.as_ref().is_some_and(|d| d.of == case));
        out.push(lab);
    }
    if out.is_empty() {
        return Err(BatteryError::NoSuchCase {
            case: case.to_string(),
            closest,
        });
    }
    Ok(out)
}

/// Adds the battery of case `index` to `lab`: the derived authorities, certificates, servers and cases (the
/// cases right after it). `now` is the time relative times were resolved from (the case's clock by default).
///
/// # Errors
/// [`BatteryError`] when the case does not complete mTLS or has no built-in peer to vary.
pub fn derive(
    lab: &mut Lab,
    index: usize,
    request: &Request,
    now: OffsetDateTime,
) -> Result<(), BatteryError> {
    let case = lab.cases[index].clone();
    if !matches!(case.expect, Expectation::Accepted { .. }) {
        return Err(BatteryError::NotAccepted);
    }
    let server = lab.servers[case.server].clone();
    let builtin_client = case.client.command.is_none();
    let builtin_server = matches!(server.kind, ServerKind::BuiltIn { .. });
    let test = match request.test {
        Some(t) => t,
        None if builtin_client && builtin_server => Test::Both,
        None if builtin_client => Test::Server,
        None if builtin_server => Test::Client,
        None => return Err(BatteryError::NoBuiltInPeer),
    };
    let tests_server = matches!(test, Test::Server | Test::Both);
    let tests_client = matches!(test, Test::Client | Test::Both);
    if tests_server {
        if !builtin_client || case.client.certificate.is_none() {
            return Err(BatteryError::NoClientCertificate);
        }
        if server.client_auth == ClientAuth::None {
            return Err(BatteryError::NoClientAuth);
        }
    }
    if tests_client && !builtin_server {
        return Err(BatteryError::ExternalServer);
    }
    let clock = case.clock(lab).unwrap_or(now);
    let mut d = Deriver {
        lab,
        case,
        server,
        clock,
        grading: Grading {
            points: request.points.unwrap_or(1.0),
            ..Grading::default()
        },
        out: Vec::new(),
    };
    if tests_server {
        for f in Failure::SERVER_SET {
            d.server_failure(*f);
        }
    }
    if tests_client {
        for f in Failure::CLIENT_SET {
            d.client_failure(*f);
        }
    }
    let derived = std::mem::take(&mut d.out);
    if request.points.is_some() {
        lab.graded = true;
    }
    lab.cases.splice(index + 1..index + 1, derived);
    Ok(())
}

/// Derives one battery's items into a lab.
struct Deriver<'l> {
    lab: &'l mut Lab,
    case: Case,
    server: Server,
    clock: OffsetDateTime,
    grading: Grading,
    out: Vec<Case>,
}

/// A copy of a leaf, changed by `edit`.
type Edit<'e> = &'e dyn Fn(&mut Certificate);

impl Deriver<'_> {
    /// A derived case from the written one, expecting `failure`'s verdict, changed by `edit`.
    fn push(&mut self, failure: Failure, tested: Tested, edit: impl FnOnce(&mut Case)) {
        let (side, mut reason) = failure.expected();
        // OpenSSL matches an issuer by key identifier as well as name: the rogue CA is never a candidate
        // (docs/catalogue.md, `rogue-ca-by-key-id`).
        if self.openssl(tested)
            && matches!(failure, Failure::ClientRogueCa | Failure::ServerRogueCa)
        {
            reason = Reason::UnknownIssuer;
        }
        let mut c = self.case.clone();
        c.name = case_name(&self.case.name, failure);
        c.expect = Expectation::Rejected {
            by: Some(side),
            reason: Some(reason),
        };
        c.checks = Default::default();
        // It runs only when the written case's handshake is accepted (`run::case`): a peer that refuses
        // the valid certificates would otherwise earn the points of refusing bad ones.
        c.grading = Grading {
            requires: self.case.grading.requires.clone(),
            hidden: self.case.grading.hidden,
            ..self.grading.clone()
        };
        c.derived = Some(Derived {
            of: self.case.name.clone(),
            failure,
            tested,
            peer: self.peer(tested),
            skipped: None,
        });
        // A derived case makes its own full handshake, sending the certificate (and key) it is given.
        c.client.resume = None;
        edit(&mut c);
        // A server whose own words are not observable (a target, a command of no known program) is
        // judged by the alert it sends: a reason no alert names alone is expected as the alert TLS
        // stacks send for it, else by the side alone (a skipped case keeps the reason it would expect).
        let skipped = c.derived.as_ref().is_some_and(|d| d.skipped.is_some());
        if tested == Tested::Server
            && !skipped
            && !readable_from_alert(reason)
            && self.unseen(reason)
        {
            c.expect = Expectation::Rejected {
                by: Some(side),
                reason: None,
            };
            // A same-name rogue CA is refused as `bad_signature` (`decrypt_error`) by a stack that takes
            // the trusted CA by name (rustls), as `unknown_issuer` (`unknown_ca`) by one that also matches
            // key identifiers (OpenSSL): both are right, so an unseen server is held to its side alone.
            if !matches!(failure, Failure::ClientRogueCa | Failure::ServerRogueCa) {
                c.checks.alert = alert_for(reason).map(str::to_string);
            }
        }
        if c.client.certificate != self.case.client.certificate || c.client.key_of.is_some() {
            c.client.select_by_ca_names = None;
        }
        self.out.push(c);
    }

    /// Whether the server's own verdict for `reason` is not observable: a target; a command of no known
    /// program, or of one that does not say `reason` in its words (`openssl s_server` and a bad
    /// CertificateVerify), unless the lab gives `verdicts:` rules for it.
    fn unseen(&self, reason: Reason) -> bool {
        match &self.server.kind {
            ServerKind::Target(_) => true,
            ServerKind::Command(c) if c.verdicts.is_empty() => c
                .template
                .program()
                .is_none_or(|p| !p.reports(Side::Server, reason)),
            _ => false,
        }
    }

    /// Whether the peer under test is a known OpenSSL-based program (Python's `ssl`, curl, openssl), whose
    /// verifier differs from rustls's in the ways docs/catalogue.md lists.
    fn openssl(&self, tested: Tested) -> bool {
        match tested {
            Tested::Server => match &self.server.kind {
                ServerKind::Command(c) => c.template.program().is_some(),
                _ => false,
            },
            Tested::Client => self
                .case
                .client
                .command
                .as_ref()
                .is_some_and(|c| c.template.program().is_some()),
        }
    }

    /// Whether the server under test is neither built in nor a known program (a target, a command such
    /// as nginx), so which TLS library verifies its clients is unknown.
    fn implementation_unknown(&self) -> bool {
        match &self.server.kind {
            ServerKind::BuiltIn { .. } => false,
            ServerKind::Command(c) => c.template.program().is_none(),
            ServerKind::Target(_) => true,
        }
    }

    /// A derived case that cannot apply here, skipped with `why`.
    fn skip(&mut self, failure: Failure, tested: Tested, why: String) {
        self.push(failure, tested, |c| {
            if let Some(d) = &mut c.derived {
                d.skipped = Some(why);
            }
        });
    }

    /// The peer under test, as the matrix names it.
    fn peer(&self, tested: Tested) -> String {
        match tested {
            Tested::Server => {
                let kind = match &self.server.kind {
                    ServerKind::BuiltIn { .. } => "built-in",
                    ServerKind::Command(_) => "command",
                    ServerKind::Target(_) => "target",
                };
                format!("server {} ({kind})", self.server.name)
            }
            Tested::Client => match &self.case.client.command {
                Some(_) => "client (command)".to_string(),
                None => "client (built-in)".to_string(),
            },
        }
    }

    /// Whether authority `a` can sign new certificates (its key is generated, or loaded with it).
    fn can_sign(&self, a: usize) -> bool {
        self.lab.authorities[a]
            .from
            .as_ref()
            .is_none_or(|s| s.key.is_some())
    }

    /// The root at the top of authority `a`'s chain.
    fn root_of(&self, mut a: usize) -> usize {
        while let Some(i) = self.lab.authorities[a].issuer {
            a = i;
        }
        a
    }

    /// A new authority (a self-signed root with a `key` key, its name encoded as authority `name_of`'s
    /// file encodes it) named `name`, or the one derived earlier under that name when it is the same
    /// declaration (valid at the same clock); else named `name-2`, `name-3`… ([`copies::same_or_next`]).
    fn authority(
        &mut self,
        name: String,
        subject: Subject,
        key: KeyType,
        name_of: Option<usize>,
    ) -> usize {
        let line = self.case.line;
        let a = Authority {
            name: name.clone(),
            line,
            subject,
            issuer: None,
            key,
            not_before: self.clock - Duration::hours(1),
            not_after: self.clock + Duration::days(3650),
            path_len: None,
            serial: None,
            ca: true,
            name_constraints: None,
            key_of: None,
            signature: None,
            eku: None,
            key_usage: None,
            unknown_critical_extension: false,
            crl: None,
            from: None,
            name_of,
        };
        let existing = |n: &str| {
            let i = self.lab.authorities.iter().position(|x| x.name == n)?;
            let mut x = self.lab.authorities[i].clone();
            x.line = line;
            Some((i, x))
        };
        match copies::same_or_next(&name, &a, |x: &mut Authority, n| x.name = n, existing) {
            Ok(i) => i,
            Err(a) => {
                self.lab.authorities.push(a);
                self.lab.authorities.len() - 1
            }
        }
    }

    /// An authority the lab never trusts.
    fn unknown_ca(&mut self) -> usize {
        let subject = Subject {
            organization: Some("mtls-lab battery".into()),
            common_name: Some("Unknown Battery CA".into()),
            ..Subject::default()
        };
        self.authority(
            "battery-unknown-ca".into(),
            subject,
            KeyType::EcdsaP256,
            None,
        )
    }

    /// The authority whose name a rogue CA copies for the peer verifying `leaf` presented with `chain`:
    /// the trust anchor the verifier's path reaches ([`Lab::path`]: the first authority on the way up
    /// from the leaf that the verifier trusts, so an intermediate trusted directly, or the anchor a
    /// cross-signed chain reaches through the certificates presented). A verifier whose trust the lab does
    /// not know (a client command) or that reaches none is taken to trust the root above the leaf's issuer.
    ///
    /// # Errors
    /// Why not: the verifier trusts the certificate itself (`trust:` naming it), not a CA.
    fn anchor(
        &self,
        leaf: usize,
        chain: &Chain,
        trust: &[CertRef],
        issuer: usize,
    ) -> Result<usize, String> {
        let presented = self.lab.presented_chain(leaf, chain);
        match self.lab.path(&presented, trust).anchor {
            Some(CertRef::Authority(a)) => Ok(a),
            Some(CertRef::Certificate(c)) => Err(format!(
                "the verifier trusts the certificate `{}` itself (`trust`), not a CA: there is no trusted CA's name to copy",
                self.lab.certificates[c].name
            )),
            None => Ok(self.root_of(issuer)),
        }
    }

    /// A rogue root with the subject and key type of authority `anchor`, the CA the verifier trusts (its
    /// own key: a key of another type would be refused for its algorithm first; for RSA, 2048 bits
    /// whatever the anchor's size: the signature fails the same). An authority loaded from a file gives its
    /// name and key type as its file says them, read now, and the rogue's name is encoded as the file
    /// encodes it (`name_of`). A leaf it issues names the anchor as its issuer, so a verifier that finds
    /// issuers by name takes the anchor and refuses the signature (`bad_signature`).
    ///
    /// # Errors
    /// Why not: the loaded authority's file cannot be read.
    fn rogue_ca(&mut self, anchor: usize) -> Result<usize, String> {
        let r = &self.lab.authorities[anchor];
        let name = format!("{}.battery-rogue", r.name);
        let (subject, key, name_of) = match &r.from {
            None => (r.subject.clone(), r.key, None),
            Some(source) => {
                let facts = loaded::facts(source)
                    .map_err(|e| format!("the trusted CA's name cannot be read: {e}"))?;
                let key = match facts.key {
                    KeyType::Rsa3072 | KeyType::Rsa4096 => KeyType::Rsa2048,
                    k => k,
                };
                (facts.subject, key, Some(anchor))
            }
        };
        Ok(self.authority(name, subject, key, name_of))
    }

    /// Why the file certificate `leaf` is loaded from cannot be read, if it cannot; `None` for a
    /// generated one.
    fn unreadable(&self, leaf: usize) -> Option<String> {
        loaded::facts(self.lab.certificates[leaf].from.as_ref()?).err()
    }

    /// A copy of leaf `leaf` named `NAME.battery-SUFFIX`, issued by `issuer` (`None`: self-signed) and
    /// changed by `edit`; a new random serial (never the original's). Another battery's copy under that
    /// name is shared only when it is the same declaration (same issuer, same clock); else the copy is
    /// named `…-2`, `…-3` ([`copies::same_or_next`]).
    fn leaf(&mut self, leaf: usize, suffix: &str, issuer: Option<usize>, edit: Edit<'_>) -> usize {
        let mut c = self.lab.certificates[leaf].clone();
        let name = format!("{}.battery-{suffix}", c.name);
        c.name = name.clone();
        c.issuer = issuer;
        c.signature = None;
        c.serial = None;
        // A copy is generated, even of a certificate loaded from files: with the subject and key type its
        // file gives (read now), or the placeholders when it cannot be read (the case using the original
        // then fails with why).
        if let Some(facts) = c.from.as_ref().and_then(|f| loaded::facts(f).ok()) {
            c.subject = facts.subject;
            c.key = facts.key;
        }
        c.from = None;
        c.not_before = self.clock - Duration::hours(1);
        c.not_after = self.clock + Duration::days(90);
        edit(&mut c);
        let existing = |n: &str| {
            let i = self.lab.certificates.iter().position(|x| x.name == n)?;
            Some((i, self.lab.certificates[i].clone()))
        };
        match copies::same_or_next(&name, &c, |x: &mut Certificate, n| x.name = n, existing) {
            Ok(i) => i,
            Err(c) => {
                self.lab.certificates.push(c);
                self.lab.certificates.len() - 1
            }
        }
    }

    /// A built-in server like the case's, on an ephemeral port (or the case's fixed one, for a client
    /// command), presenting certificate `cert` with `chain`.
    fn server_with(&mut self, suffix: &str, cert: usize, chain: Chain) -> usize {
        let name = format!("{}.battery-{suffix}", self.server.name);
        let mut s = self.server.clone();
        s.name = name.clone();
        // A client command connecting to the case's fixed address finds each derived server there: they
        // take turns on it, one case at a time (`run::endpoint::take_turn`). Otherwise an ephemeral port.
        let listen = match s.kind {
            ServerKind::BuiltIn { listen: Some(a) } if self.case.client.command.is_some() => {
                Some(a)
            }
            _ => None,
        };
        s.kind = ServerKind::BuiltIn { listen };
        s.certificate = cert;
        s.chain = chain;
        // It presents `cert` whatever SNI it receives, and keeps sessions of its own.
        s.sni_certificates.clear();
        s.sessions.group = self.lab.servers.len();
        let group = s.sessions.group;
        let existing = |n: &str| {
            let i = self.lab.servers.iter().position(|x| x.name == n)?;
            let mut x = self.lab.servers[i].clone();
            x.sessions.group = group;
            Some((i, x))
        };
        match copies::same_or_next(&name, &s, |x: &mut Server, n| x.name = n, existing) {
            Ok(i) => i,
            Err(s) => {
                self.lab.servers.push(s);
                self.lab.servers.len() - 1
            }
        }
    }

    /// Whether a revoked copy can be checked: the verifier (`who`) checks CRLs, `issuer` publishes one, and
    /// the verifier has it (`revocation.crls`, when it names the CRLs it has).
    fn revocable(
        &self,
        issuer: usize,
        check: Option<&crate::lab::RevocationCheck>,
        who: &str,
    ) -> Result<(), String> {
        let Some(check) = check else {
            return Err(format!("the {who} checks no CRL (`revocation`)"));
        };
        let name = &self.lab.authorities[issuer].name;
        if self.lab.authorities[issuer].crl.is_none() {
            return Err(format!("the issuer `{name}` publishes no CRL"));
        }
        if check.crls.as_ref().is_some_and(|l| !l.contains(&issuer)) {
            return Err(format!(
                "the {who} has no CRL of the issuer `{name}` (`revocation.crls`): it cannot know the copy is revoked"
            ));
        }
        Ok(())
    }

    /// Adds certificate `cert` to the CRL of `issuer` (which publishes one).
    fn revoke(&mut self, issuer: usize, cert: usize) {
        if let Some(crl) = &mut self.lab.authorities[issuer].crl {
            let at = crl.this_update - Duration::hours(1);
            crl.revoked.push(Revocation {
                target: crate::lab::CertRef::Certificate(cert),
                reason: RevocationReasonSpec::KeyCompromise,
                at,
            });
        }
    }
}

/// The request a case's `battery:` makes.
pub(crate) fn request(spec: &crate::spec::BatterySpec) -> Request {
    use crate::spec::{BatterySpec, BatteryTest};
    let test = |t: &Option<BatteryTest>| {
        t.map(|t| match t {
            BatteryTest::Server => Test::Server,
            BatteryTest::Client => Test::Client,
            BatteryTest::Both => Test::Both,
        })
    };
    match spec {
        BatterySpec::Set(_) => Request {
            test: None,
            points: None,
        },
        BatterySpec::Full(f) => Request {
            test: test(&f.test),
            points: f.points,
        },
    }
}
