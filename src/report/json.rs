//! The JSON report: every lab, check and case with every detail (hidden ones included), the totals and
//! the points; `version` changes only when a field changes meaning or goes away.

use serde::Serialize;

use super::{points, totals, Totals};
use crate::lab::{Expectation, IdentitySpec, NegotiatedExpect, TlsVersion};
use crate::reason::{Outcome, Reason, Side};
use crate::run::{Grade, LabResult, Status};
use crate::verdict::Observed;

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    tool: &'static str,
    summary: JsonSummary,
    labs: Vec<JsonLab<'a>>,
    /// The battery matrix, when the run had a battery.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    battery: Vec<super::battery::Battery>,
}

#[derive(Serialize)]
struct JsonSummary {
    #[serde(flatten)]
    totals: Totals,
    points: f64,
    max_points: f64,
}

#[derive(Serialize)]
struct JsonLab<'a> {
    file: String,
    lab: &'a str,
    error: Option<&'a str>,
    duration_ms: u64,
    points: f64,
    max_points: f64,
    checks: Vec<JsonCheck<'a>>,
    cases: Vec<JsonCase<'a>>,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    name: &'a str,
    line: usize,
    status: Status,
    certificate: &'a str,
    #[serde(flatten)]
    grade: &'a Grade,
    properties: &'a [crate::verdict::certcheck::Property],
    messages: &'a [String],
}

#[derive(Serialize)]
struct JsonCase<'a> {
    name: &'a str,
    line: usize,
    status: Status,
    #[serde(flatten)]
    context: &'a crate::run::CaseContext,
    expected: JsonExpected<'a>,
    observed: Option<&'a Observed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<&'a crate::verdict::explain::Explanation>,
    messages: &'a [String],
    #[serde(flatten)]
    grade: &'a Grade,
}

#[derive(Serialize)]
struct JsonExpected<'a> {
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<Side>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_saw: Option<JsonIdentitySpec<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_saw: Option<JsonIdentitySpec<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher_suite: Option<crate::lab::CipherSuiteName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature_scheme: Option<&'static str>,
    /// `false`: no protocol agreed.
    #[serde(skip_serializing_if = "Option::is_none")]
    alpn: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_names: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resumed: Option<bool>,
}

fn identity_json(s: &IdentitySpec) -> JsonIdentitySpec<'_> {
    JsonIdentitySpec {
        common_name: s.common_name.as_deref(),
        organization: s.organization.as_deref(),
        unit: s.unit.as_deref(),
        san: &s.san,
        none: s.none,
    }
}

/// Adds what the case expects the handshake to have negotiated.
fn with_negotiated<'a>(mut j: JsonExpected<'a>, n: &'a NegotiatedExpect) -> JsonExpected<'a> {
    j.client_saw = n.client_saw.as_ref().map(identity_json);
    j.tls_version = n.tls_version.map(|v| match v {
        TlsVersion::Tls12 => "1.2",
        TlsVersion::Tls13 => "1.3",
    });
    j.cipher_suite = n.cipher_suite;
    j.group = n.group.map(|g| g.code());
    j.signature_scheme = n.signature_scheme.map(|s| s.code());
    j.ca_names = n.ca_names.as_deref();
    j.resumed = n.resumed;
    j.alpn = n.alpn.as_ref().map(|a| match a {
        Some(p) => serde_json::Value::String(p.clone()),
        None => serde_json::Value::Bool(false),
    });
    j
}

#[derive(Serialize)]
struct JsonIdentitySpec<'a> {
    #[serde(rename = "CN", skip_serializing_if = "Option::is_none")]
    common_name: Option<&'a str>,
    #[serde(rename = "O", skip_serializing_if = "Option::is_none")]
    organization: Option<&'a str>,
    #[serde(rename = "OU", skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    san: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    none: bool,
}

fn expected_json(e: &Expectation) -> JsonExpected<'_> {
    match e {
        Expectation::Accepted { server_saw, status } => JsonExpected {
            outcome: Outcome::Accepted,
            by: None,
            reason: None,
            server_saw: server_saw.as_ref().map(identity_json),
            status: *status,
            client_saw: None,
            tls_version: None,
            cipher_suite: None,
            group: None,
            signature_scheme: None,
            alpn: None,
            ca_names: None,
            resumed: None,
        },
        Expectation::Rejected { by, reason } => JsonExpected {
            outcome: Outcome::Rejected,
            by: *by,
            reason: *reason,
            server_saw: None,
            status: None,
            client_saw: None,
            tls_version: None,
            cipher_suite: None,
            group: None,
            signature_scheme: None,
            alpn: None,
            ca_names: None,
            resumed: None,
        },
    }
}

/// The JSON report of a run.
pub fn json(results: &[LabResult]) -> String {
    let (p, m) = points(results);
    let report = JsonReport {
        version: 1,
        tool: concat!("mtls-lab ", env!("CARGO_PKG_VERSION")),
        summary: JsonSummary {
            totals: totals(results),
            points: p,
            max_points: m,
        },
        labs: results
            .iter()
            .map(|l| JsonLab {
                file: l.file.display().to_string(),
                lab: &l.lab,
                error: l.error.as_deref(),
                duration_ms: l.duration_ms,
                points: l.points().0,
                max_points: l.points().1,
                checks: l
                    .checks
                    .iter()
                    .map(|c| JsonCheck {
                        name: &c.name,
                        line: c.line,
                        status: c.status,
                        certificate: &c.certificate,
                        grade: &c.grade,
                        properties: &c.properties,
                        messages: &c.messages,
                    })
                    .collect(),
                cases: l
                    .cases
                    .iter()
                    .map(|c| JsonCase {
                        name: &c.name,
                        line: c.line,
                        status: c.status,
                        context: &c.context,
                        expected: with_negotiated(expected_json(&c.expected), &c.negotiated),
                        observed: c.observed.as_ref(),
                        explanation: c.explanation.as_ref(),
                        messages: &c.messages,
                        grade: &c.grade,
                    })
                    .collect(),
            })
            .collect(),
        battery: super::battery::matrix(results),
    };
    let mut s =
        serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
