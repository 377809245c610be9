//! What a run produces: each case's and check's [`Status`] and [`Grade`], and one [`LabResult`] per lab,
//! which the reports read. [`errored`] is the one constructor for a lab that could not run.

use std::path::PathBuf;
use std::time::Instant;

use crate::lab::battery::Derived;
use crate::lab::{Case, Expectation, Grading, Lab, NegotiatedExpect, ScorePart};
use crate::verdict::certcheck::Property;
use crate::verdict::explain::Explanation;
use crate::verdict::Observed;

/// A case's final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// The case could not be run (its lab's PKI or server failed, or its client could not be configured).
    Error,
    /// Not run because an item it requires did not pass; its points leave the total.
    Skipped,
}

/// The points an item earned, and the most it could earn in this run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Grade {
    pub points: f64,
    /// The item's points, or 0 when it was skipped (a skipped item's points leave the total).
    pub max_points: f64,
    /// Student-facing output shows only the item's name and whether it passed.
    pub hidden: bool,
    /// For a case with `score`: each part, whether it matched, and its points.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartResult>,
}

/// One scored part of a case's expectation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartResult {
    pub part: ScorePart,
    pub passed: bool,
    pub points: f64,
    pub max_points: f64,
}

/// Rounds points to 4 decimals, so that sums of fractions print the same everywhere.
pub fn round_points(p: f64) -> f64 {
    // `+ 0.0` turns the -0.0 of an empty float sum into 0.
    (p * 10_000.0).round() / 10_000.0 + 0.0
}

impl Grade {
    /// The grade of an item with `status`; `parts` says which parts of a case's expectation matched.
    pub fn of(g: &Grading, status: Status, parts: &[(ScorePart, bool)]) -> Grade {
        let parts: Vec<PartResult> = g
            .score
            .iter()
            .map(|(part, weight)| {
                let passed =
                    status != Status::Skipped && parts.iter().any(|(p, ok)| p == part && *ok);
                PartResult {
                    part: *part,
                    passed,
                    points: if passed { *weight } else { 0.0 },
                    // A skipped case's parts leave the total with it.
                    max_points: if status == Status::Skipped {
                        0.0
                    } else {
                        *weight
                    },
                }
            })
            .collect();
        let (points, max_points) = match status {
            Status::Skipped => (0.0, 0.0),
            Status::Passed => (g.points, g.points),
            _ => (parts.iter().map(|p| p.points).sum(), g.points),
        };
        Grade {
            points: round_points(points),
            max_points: round_points(max_points),
            hidden: g.hidden,
            parts,
        }
    }
}

/// The result of a certificate check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    pub line: usize,
    /// The certificate or authority checked.
    pub certificate: String,
    pub status: Status,
    /// Each property checked; a failed one carries its message.
    pub properties: Vec<Property>,
    /// For a failed check: each failed property's message (or why the certificate could not be read); for a skipped one, why.
    pub messages: Vec<String>,
    pub grade: Grade,
}

/// The facts of a case, as the report records them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseContext {
    pub server: String,
    /// The certificate the client presented, if any.
    pub client_certificate: Option<String>,
    /// The certificate the server presented.
    pub server_certificate: String,
    /// Authorities the client trusted.
    pub client_trusts: Vec<String>,
    /// Authorities the server trusted for client certificates.
    pub server_trusts: Vec<String>,
    pub server_name: String,
    /// The time at which both sides verified certificates (RFC 3339, to the second).
    pub verification_time: String,
    /// For an external server: the address it answered on (a `localhost` server is probed on 127.0.0.1 and ::1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_address: Option<String>,
    /// The case's tags (the lab's and its own), for the HTML report's filter.
    #[serde(skip)]
    pub tags: Vec<String>,
    /// The certificates each side presented, as the HTML report draws them; filled in when the case runs.
    #[serde(skip)]
    pub chains: Chains,
}

/// The certificate chains of a case, leaf first: what the server presented, and what the client did;
/// with what each built-in side sends besides (for the readable trace, `run --trace`).
#[derive(Debug, Clone, Default)]
pub struct Chains {
    pub server: Vec<Presented>,
    /// Empty when the client presented no certificate.
    pub client: Vec<Presented>,
    /// What the client's ClientHello carries, when the client is built in (a program's is its own).
    pub hello: Option<Hello>,
    /// The CA names of the server's CertificateRequest (the subjects of the authorities it trusts, as
    /// rustls sends them, or those its `ca_names` declares), when the built-in server asks for a certificate; `None` when it does not ask
    /// or is a program.
    pub ca_names: Option<Vec<String>>,
    /// The external program's output, its last lines (client command, or server command during the case).
    pub program_output: Vec<String>,
    /// The one TLS version both built-in sides allow (`TLSv1.2`, `TLSv1.3`), when there is exactly one:
    /// the version of any handshake that gets past the hellos.
    pub only_version: Option<String>,
}

/// What the built-in client's ClientHello carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// server_name (SNI): the name sent (`server_name`, or the case's `sni`); `None` for an IP address,
    /// which TLS does not send, or with `sni: false`.
    pub sni: Option<String>,
    /// supported_versions, newest first.
    pub versions: Vec<String>,
    /// application_layer_protocol_negotiation; empty when none is offered.
    pub alpn: Vec<String>,
}

/// One certificate a side presented: its name in the lab and what it says.
#[derive(Debug, Clone)]
pub struct Presented {
    /// The lab's name of the certificate or authority.
    pub name: String,
    /// Whether it is one of the lab's authorities (an intermediate).
    pub authority: bool,
    /// What the certificate says; `None` when it could not be read.
    pub summary: Option<crate::pki::show::Summary>,
}

impl Chains {
    /// The chains of `case` as its peers present them (`Lab::presented_chain`), read from `pki`.
    pub fn of(lab: &Lab, pki: &crate::pki::Pki, case: &Case) -> Chains {
        let presented = |leaf: usize, chain: &crate::lab::Chain| {
            lab.presented_chain(leaf, chain)
                .into_iter()
                .map(|r| Presented {
                    name: lab.name_of(r).to_string(),
                    authority: matches!(r, crate::lab::CertRef::Authority(_)),
                    summary: crate::pki::show::summary(&pki.get(r).der),
                })
                .collect()
        };
        let server = &lab.servers[case.server];
        let versions = |v: &[crate::lab::TlsVersion]| {
            let mut names: Vec<String> = v
                .iter()
                .map(|v| match v {
                    crate::lab::TlsVersion::Tls12 => "TLS 1.2".to_string(),
                    crate::lab::TlsVersion::Tls13 => "TLS 1.3".to_string(),
                })
                .collect();
            names.sort();
            names.reverse();
            names
        };
        Chains {
            // The certificate the server chooses for the SNI the client sends.
            server: presented(
                server.certificate_for(case.client.sni_sent()),
                &server.chain,
            ),
            client: case
                .client
                .certificate
                .map(|c| presented(c, &case.client.chain))
                .unwrap_or_default(),
            hello: case.client.command.is_none().then(|| Hello {
                sni: case.client.sni_sent().map(str::to_string),
                versions: versions(&case.client.versions),
                alpn: case.client.alpn.clone(),
            }),
            ca_names: (!server.is_external() && server.client_auth != crate::lab::ClientAuth::None)
                .then(|| {
                    let named: Vec<crate::lab::CertRef> = match &server.ca_names {
                        crate::lab::CaNames::Trusted => server.trust.clone(),
                        crate::lab::CaNames::Empty => Vec::new(),
                        crate::lab::CaNames::List(list) => list
                            .iter()
                            .map(|&a| crate::lab::CertRef::Authority(a))
                            .collect(),
                    };
                    named
                        .iter()
                        .map(|r| {
                            crate::pki::show::summary(&pki.get(*r).der)
                                .map_or_else(|| lab.name_of(*r).to_string(), |s| s.subject)
                        })
                        .collect()
                }),
            program_output: Vec::new(),
            only_version: {
                let common: Vec<_> = case
                    .client
                    .versions
                    .iter()
                    .filter(|v| server.versions.contains(v))
                    .collect();
                match common.as_slice() {
                    [v] if case.client.command.is_none() && !server.is_external() => {
                        Some(match v {
                            crate::lab::TlsVersion::Tls12 => "TLSv1.2".to_string(),
                            crate::lab::TlsVersion::Tls13 => "TLSv1.3".to_string(),
                        })
                    }
                    _ => None,
                }
            },
        }
    }
}

impl CaseContext {
    /// The facts of `case` in `lab`, verified at `verification_time`; the server's address is filled in
    /// later, for an external server.
    pub fn of(lab: &Lab, case: &Case, verification_time: time::OffsetDateTime) -> CaseContext {
        let authority = |r: &crate::lab::CertRef| lab.name_of(*r).to_string();
        let server = &lab.servers[case.server];
        CaseContext {
            server: server.name.clone(),
            client_certificate: case
                .client
                .certificate
                .map(|i| lab.certificates[i].name.clone()),
            server_certificate: lab.certificates[server.certificate_for(case.client.sni_sent())]
                .name
                .clone(),
            client_trusts: case.client.trust.iter().map(authority).collect(),
            server_trusts: server.trust.iter().map(authority).collect(),
            server_name: case.client.server_name.clone(),
            verification_time: crate::pki::show::rfc3339_seconds(verification_time),
            server_address: None,
            tags: case.tags.clone(),
            chains: Chains::default(),
        }
    }
}

/// One case as it ran (or why it did not): what the reports print for it.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub line: usize,
    pub context: CaseContext,
    pub status: Status,
    pub expected: Expectation,
    /// What the case expects the handshake to have negotiated.
    pub negotiated: NegotiatedExpect,
    pub observed: Option<Observed>,
    /// For a failed case: each difference; for an errored case: why it could not run.
    pub messages: Vec<String>,
    /// For a rejected case: what the rejection means and the usual fix.
    pub explanation: Option<Explanation>,
    pub grade: Grade,
    /// For a case a battery derived: its failure and the peer under test (the reports' matrix).
    pub derived: Option<Derived>,
}

/// One lab as it ran: its checks and cases in file order, or why it could not run.
#[derive(Debug, Clone)]
pub struct LabResult {
    pub file: PathBuf,
    pub lab: String,
    /// Certificate checks, run before the cases.
    pub checks: Vec<CheckResult>,
    pub cases: Vec<CaseResult>,
    /// Whether the lab gives points explicitly.
    pub graded: bool,
    /// Why the lab could not run, if it could not.
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl LabResult {
    /// Cases and checks with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.cases.iter().filter(|c| c.status == status).count()
            + self.checks.iter().filter(|c| c.status == status).count()
    }

    /// Points earned and counted maximum over the lab's checks and cases.
    pub fn points(&self) -> (f64, f64) {
        let grades = self
            .checks
            .iter()
            .map(|c| &c.grade)
            .chain(self.cases.iter().map(|c| &c.grade));
        let (mut p, mut m) = (0.0, 0.0);
        for g in grades {
            p += g.points;
            m += g.max_points;
        }
        (round_points(p), round_points(m))
    }
}

impl LabResult {
    /// The result of a lab file that could not be loaded (`file`, with `why` rendered): no check or
    /// case, named after the file's stem, so every report lists it as one "could not run" item.
    pub fn not_loaded(file: PathBuf, why: String) -> LabResult {
        LabResult {
            lab: file
                .file_stem()
                .map_or("?".into(), |s| s.to_string_lossy().into_owned()),
            file,
            checks: Vec::new(),
            cases: Vec::new(),
            graded: false,
            error: Some(why),
            duration_ms: 0,
        }
    }

    /// Why the lab could not run, when it has no check or case to carry that (an invalid lab file,
    /// a directory without labs): every report then lists one `report::COULD_NOT_RUN` item with this
    /// message. `None` when the lab ran, or when its items already say why they did not.
    pub fn could_not_run(&self) -> Option<&str> {
        self.error
            .as_deref()
            .filter(|_| self.cases.is_empty() && self.checks.is_empty())
    }
}

/// The result of a lab that could not run (`why`): every check and case is an error with that message.
/// `started` is when the lab started, for its duration.
pub fn errored(lab: &Lab, why: String, started: Instant) -> LabResult {
    LabResult {
        file: lab.file.clone(),
        lab: lab.name.clone(),
        graded: lab.graded,
        checks: lab
            .checks
            .iter()
            .map(|c| CheckResult {
                name: c.name.clone(),
                line: c.line,
                certificate: lab.name_of(c.certificate).to_string(),
                status: Status::Error,
                properties: Vec::new(),
                messages: vec![why.clone()],
                grade: Grade::of(&c.grading, Status::Error, &[]),
            })
            .collect(),
        cases: lab
            .cases
            .iter()
            .map(|c| CaseResult {
                name: c.name.clone(),
                line: c.line,
                context: CaseContext::of(
                    lab,
                    c,
                    c.clock(lab).unwrap_or_else(time::OffsetDateTime::now_utc),
                ),
                status: Status::Error,
                expected: c.expect.clone(),
                negotiated: c.checks.negotiated.clone(),
                observed: None,
                messages: vec![why.clone()],
                explanation: None,
                grade: Grade::of(&c.grading, Status::Error, &[]),
                derived: c.derived.clone(),
            })
            .collect(),
        error: Some(why),
        duration_ms: started.elapsed().as_millis() as u64,
    }
}
