//! From expected vs observed to pass or fail: each difference as one sentence, empty when the case passes.

use crate::lab::{Checks, Expectation, NegotiatedExpect, TlsVersion};
use crate::reason::Outcome;
use crate::tls::identity;
use crate::verdict::observe::{rejection, Observed};

/// `accepted` or `rejected by server: certificate_required`, for an expectation.
pub fn expectation_summary(e: &Expectation) -> String {
    match e {
        Expectation::Accepted { .. } => "accepted".into(),
        Expectation::Rejected { by, reason } => rejection(*by, *reason),
    }
}

/// Whether `observed` is a derived (battery) case's refusal by the expected side whose program did not
/// say why, with an alert a refusal for the expected reason sends ([`crate::reason::alerts_for`]): a
/// client command that refuses an expired server silently, sending `certificate_expired`. A battery
/// asks whether the peer refuses; its reason is then not observed, so nothing claims it — the case
/// passes as "refused (reason not said)" and `observed.detail` says so. Written cases stay exact.
pub fn reason_unsaid(case: &crate::lab::Case, observed: &mut Observed) -> bool {
    let Expectation::Rejected {
        by: Some(by),
        reason: Some(reason),
    } = case.expect
    else {
        return false;
    };
    if case.derived.is_none()
        || observed.outcome != Outcome::Rejected
        || observed.by != Some(by)
        || observed.reason.is_some()
    {
        return false;
    }
    let alerts = crate::reason::alerts_for(reason);
    let Some(alert) = [&observed.alert_sent, &observed.alert]
        .into_iter()
        .flatten()
        .find(|a| alerts.contains(&a.as_str()))
        .cloned()
    else {
        return false;
    };
    let note = format!(
        "the program did not say why; the alert it sent, {alert}, is one a refusal for `{}` sends",
        reason.code()
    );
    observed.detail = Some(match observed.detail.take() {
        Some(d) if !d.is_empty() => format!("{d}; {note}"),
        _ => note,
    });
    true
}

/// Every way `observed` differs from `expected`; empty when the case passes.
pub fn judge(expected: &Expectation, observed: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    match expected {
        Expectation::Accepted { server_saw, status } => {
            if observed.outcome != Outcome::Accepted {
                out.push(format!(
                    "expected accepted, observed {}",
                    observed.summary()
                ));
                return out;
            }
            if let Some(spec) = server_saw {
                out.extend(identity::mismatches(spec, observed.server_saw.as_ref()));
            }
            if let Some(want) = status {
                if observed.http_status != Some(*want) {
                    out.push(format!(
                        "HTTP status: expected {want}, observed {}",
                        observed
                            .http_status
                            .map_or("none".into(), |s| s.to_string())
                    ));
                }
            }
        }
        Expectation::Rejected { by, reason } => {
            // `by: None` expects a program error, and only a program error matches it.
            let outcome = if by.is_some() {
                Outcome::Rejected
            } else {
                Outcome::ProgramError
            };
            if observed.outcome != outcome
                || observed.by != *by
                || reason.is_some_and(|r| observed.reason != Some(r))
            {
                out.push(format!(
                    "expected {}, observed {}",
                    rejection(*by, *reason),
                    observed.summary()
                ));
            }
        }
    }
    out
}

/// The checks of `expect.alert`, `expect.exit`, `expect.output` and `expect.server_output`; `stdout` is
/// a client command's, `server_output` what a server command printed during the case.
pub fn judge_checks(
    checks: &Checks,
    observed: &Observed,
    stdout: Option<&str>,
    server_output: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(want) = &checks.alert {
        if observed.alert.as_deref() != Some(want.as_str()) {
            out.push(format!(
                "alert: expected {want}, observed {}",
                observed.alert.as_deref().unwrap_or("none")
            ));
        }
    }
    if let Some(want) = checks.exit {
        if observed.exit_status != Some(want) {
            out.push(format!(
                "exit status: expected {want}, observed {}",
                observed
                    .exit_status
                    .map_or("none (killed by a signal)".into(), |c| c.to_string())
            ));
        }
    }
    if let Some(want) = &checks.output {
        if !stdout.unwrap_or_default().contains(want.as_str()) {
            out.push(format!("output: expected stdout to contain {want:?}"));
        }
    }
    out.extend(judge_negotiated(&checks.negotiated, observed));
    if let Some(want) = &checks.server_output {
        if !server_output.unwrap_or_default().contains(want.as_str()) {
            out.push(format!(
                "server output: expected the server command to print {want:?} during this case"
            ));
        }
    }
    out
}

/// Every way what the handshake negotiated differs from `expected` (`client_saw`, version, suite, group,
/// signature scheme, ALPN); a value the handshake did not get to is `none`.
pub fn judge_negotiated(expected: &NegotiatedExpect, observed: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(spec) = &expected.client_saw {
        out.extend(identity::mismatches_of(
            spec,
            observed.client_saw.as_ref(),
            identity::Peer::Client,
        ));
    }
    let n = &observed.negotiated;
    let mut compare = |what: &str, want: Option<&str>, got: Option<&str>| {
        if want != got {
            out.push(format!(
                "{what}: expected {}, observed {}",
                want.unwrap_or("none"),
                got.unwrap_or("none")
            ));
        }
    };
    if let Some(v) = expected.tls_version {
        let want = match v {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        };
        compare("TLS version", Some(want), observed.tls_version.as_deref());
    }
    if let Some(c) = expected.cipher_suite {
        let want = serde_json::to_value(c).ok();
        compare(
            "cipher suite",
            want.as_ref().and_then(|v| v.as_str()),
            n.cipher_suite.as_deref(),
        );
    }
    if let Some(g) = expected.group {
        compare("key-exchange group", Some(g.code()), n.group.as_deref());
    }
    if let Some(s) = expected.signature_scheme {
        compare(
            "signature scheme",
            Some(s.code()),
            n.signature_scheme.as_deref(),
        );
    }
    if let Some(a) = &expected.alpn {
        compare("ALPN", a.as_deref(), n.alpn.as_deref());
    }
    if let Some(want) = expected.resumed {
        let word = |r: bool| if r { "resumed" } else { "a full handshake" };
        match n.resumed {
            Some(got) if got == want => {}
            Some(got) => out.push(format!(
                "resumption: expected {}, observed {}",
                word(want),
                word(got)
            )),
            None => out.push(format!(
                "resumption: expected {}, observed no completed handshake",
                word(want)
            )),
        }
    }
    if let Some(want) = &expected.ca_names {
        let list = |l: &[String]| format!("[{}]", l.join(", "));
        match &n.ca_names {
            Some(got) if got == want => {}
            Some(got) => out.push(format!(
                "CA names: expected {}, the server advertised {}",
                list(want),
                list(got)
            )),
            None => out.push(format!(
                "CA names: expected {}, observed none (the server did not ask for a client certificate)",
                list(want)
            )),
        }
    }
    out
}
