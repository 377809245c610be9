//! From what each side saw to one observed outcome: the built-in client against the built-in server
//! ([`observe`]), against an external server ([`observe_external_server`]), or a client command against
//! the built-in server ([`observe_command`]).
//!
//! The reason always comes from the side whose own rustls error rejected the handshake; the other side
//! contributes only the alert it received. In TLS 1.3 the client's handshake completes before the server
//! checks the client's certificate (RFC 8446 §4.4.2), so the server's in-process verdict is authoritative.

use serde::Serialize;

use crate::lab::{RuleVerdict, VerdictRule};
use crate::reason::{alert_sent, classify, reason_for_alert, received_alert_name, Reason, Verdict};
use crate::reason::{Outcome, Side};
use crate::tls::client::{ClientFailure, ClientObservation};
use crate::tls::identity::Identity;
use crate::tls::negotiated::Negotiated;
use crate::tls::server::ServerVerdict;
use crate::verdict::programs::{self, Program, Said};

/// What actually happened in one case.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Observed {
    pub outcome: Outcome,
    /// The side that rejected (for transport reasons: the side that observed the failure).
    pub by: Option<Side>,
    pub reason: Option<Reason>,
    /// The rejecting side's own error, as rustls words it.
    pub detail: Option<String>,
    /// The TLS alert the rejecting side sent, as rustls decides it.
    pub alert_sent: Option<String>,
    /// The TLS alert the other side received, when it saw one (in TLS 1.3 a client may see only a closed connection).
    pub alert: Option<String>,
    /// The negotiated TLS version, when the handshake got that far.
    pub tls_version: Option<String>,
    /// The client identity the server saw.
    pub server_saw: Option<Identity>,
    /// The server identity the client saw.
    pub client_saw: Option<Identity>,
    /// What the handshake negotiated: the server's view where it has one, else the built-in client's.
    #[serde(flatten)]
    pub negotiated: Negotiated,
    /// The HTTP status of the response.
    pub http_status: Option<u16>,
    pub duration_ms: u64,
    /// The exit status of a client command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// The side that is an external program, whose own verdict is not observable (its reason is read from its alert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<Side>,
    /// For a program error of a server command: how it ended (`the server command exited with status 0`).
    #[serde(skip)]
    pub server_exit: Option<String>,
}

impl Observed {
    /// `accepted`, or `rejected by server: certificate_required`.
    pub fn summary(&self) -> String {
        match self.outcome {
            Outcome::Accepted => "accepted".into(),
            Outcome::Rejected => rejection(self.by, self.reason),
            Outcome::ProgramError => match (&self.server_exit, self.exit_status) {
                (Some(exit), _) => format!("a program error ({exit})"),
                (None, Some(c)) => format!("a program error (exit status {c})"),
                (None, None) => "a program error (killed by a signal)".into(),
            },
            Outcome::Undecided => {
                "undecided (neither program's words say whether the handshake went through or who refused it)"
                    .into()
            }
        }
    }
}

/// `rejected by server: certificate_required`; `by` is `None` when no TLS verifier decided.
pub(crate) fn rejection(by: Option<Side>, reason: Option<Reason>) -> String {
    let by = match by {
        Some(Side::Server) => "server",
        Some(Side::Client) => "client",
        None => {
            return "a program error (the client command fails outside TLS, no verifier rejects)"
                .to_string()
        }
    };
    match reason {
        Some(r) => format!("rejected by {by}: {}", r.code()),
        None => format!("rejected by {by}"),
    }
}

fn received_alert(e: &rustls::Error) -> Option<String> {
    match classify(e) {
        Verdict::AlertReceived { alert } => Some(alert),
        Verdict::Rejected { .. } => None,
    }
}

/// Combines the server's verdict (`None`: it never reported one) and the client's observation.
pub fn observe(
    server: Option<&ServerVerdict>,
    client: &ClientObservation,
    duration_ms: u64,
) -> Observed {
    let mut o = Observed {
        outcome: Outcome::Rejected,
        by: None,
        reason: None,
        detail: None,
        alert_sent: None,
        alert: None,
        tls_version: client.version.clone(),
        server_saw: None,
        client_saw: client.server.clone(),
        negotiated: client.negotiated.clone(),
        http_status: client.status,
        duration_ms,
        exit_status: None,
        external: None,
        server_exit: None,
    };
    let client_tls = match &client.failure {
        Some(ClientFailure::Tls(e)) => Some(e),
        _ => None,
    };
    // 1. The server's own verifier (or negotiation) rejected.
    if let Some(ServerVerdict::Tls(e)) = server {
        if let Verdict::Rejected { reason, detail } = classify(e) {
            o.by = Some(Side::Server);
            o.reason = Some(reason);
            o.detail = Some(detail);
            o.alert_sent = alert_sent(e);
            o.alert = client_tls.and_then(received_alert);
            return o;
        }
    }
    // 2. The client's own verifier (or negotiation) rejected.
    if let Some(e) = client_tls {
        if let Verdict::Rejected { reason, detail } = classify(e) {
            o.by = Some(Side::Client);
            o.reason = Some(reason);
            o.detail = Some(detail);
            o.alert_sent = alert_sent(e);
            o.alert = match server {
                Some(ServerVerdict::Tls(s)) => received_alert(s),
                _ => None,
            };
            return o;
        }
    }
    // 3. Both sides completed and the server answered.
    if let (
        Some(ServerVerdict::Accepted {
            client: seen,
            version,
            negotiated,
        }),
        None,
        Some(_),
    ) = (server, &client.failure, client.status)
    {
        o.outcome = Outcome::Accepted;
        o.server_saw = seen.clone();
        o.tls_version = version.clone().or(o.tls_version);
        o.negotiated = negotiated.clone().or(&client.negotiated);
        return o;
    }
    // 4. The client received an alert, but the server's own verdict is missing: the server rejected;
    //    the reason is read from the alert only where one alert means one reason.
    if let Some(ClientFailure::Tls(e)) = &client.failure {
        let alert = received_alert(e);
        o.by = Some(Side::Server);
        o.reason = alert.as_deref().and_then(reason_for_alert);
        o.alert = alert;
        o.detail = Some(format!(
            "client: {e}; the server's own verdict was not available"
        ));
        return o;
    }
    // 5. Nobody's verifier decided: what the transport showed.
    o.by = Some(Side::Client);
    let (reason, detail) = match (&client.failure, server) {
        (Some(ClientFailure::Refused(m)), _) => (Reason::ConnectionRefused, m.clone()),
        (Some(ClientFailure::Timeout(stage)), _) => (
            Reason::Timeout,
            format!("no answer within the {stage} wait"),
        ),
        (_, Some(ServerVerdict::Timeout)) => (
            Reason::Timeout,
            "the server's handshake wait ran out".into(),
        ),
        (Some(ClientFailure::Tls(_)), _) => unreachable!("handled in step 4"),
        (Some(ClientFailure::Io(m)), _) => (Reason::ConnectionClosed, m.clone()),
        (None, _) => (
            Reason::ConnectionClosed,
            "the client got a response but the server reported no accepted handshake".into(),
        ),
    };
    o.reason = Some(reason);
    o.detail = Some(detail);
    o
}

/// Like [`observe`] for a client that sent no request (load mode's `--handshake-only`): both
/// handshakes completing, with the server accepting and the client seeing no alert before the close,
/// is an acceptance without an HTTP status; everything else is decided as [`observe`] decides it.
pub fn observe_handshake(
    server: Option<&ServerVerdict>,
    client: &ClientObservation,
    duration_ms: u64,
) -> Observed {
    let mut o = observe(server, client, duration_ms);
    if let (
        Some(ServerVerdict::Accepted {
            client: seen,
            version,
            negotiated,
        }),
        None,
        true,
    ) = (server, &client.failure, client.handshake_done)
    {
        o.outcome = Outcome::Accepted;
        o.by = None;
        o.reason = None;
        o.detail = None;
        o.server_saw = seen.clone();
        o.tls_version = version.clone().or(o.tls_version);
        o.negotiated = negotiated.clone().or(&client.negotiated);
    }
    o
}

/// The outcome against an external server: only the built-in client is observable. A rejection by
/// the server shows as the alert the client received; its reason is read from the alert where the
/// alert names one reason ([`crate::reason::ALERT_REASONS`]), and is otherwise left open. A connection
/// the server closes without an alert is `connection_closed`, by the server.
pub fn observe_external_server(client: &ClientObservation, duration_ms: u64) -> Observed {
    external(client, duration_ms, false)
}

/// Like [`observe_external_server`] for a client that sent no request (load mode's
/// `--handshake-only`): a completed handshake followed by a close without an alert is an acceptance.
pub fn observe_external_handshake(client: &ClientObservation, duration_ms: u64) -> Observed {
    external(client, duration_ms, true)
}

fn external(client: &ClientObservation, duration_ms: u64, handshake_only: bool) -> Observed {
    // With no server verdict to wait for, a response over a completed handshake is an acceptance
    // (without a request: a completed handshake the server closed without an alert).
    let went_through = ServerVerdict::Accepted {
        client: None,
        version: client.version.clone(),
        negotiated: Negotiated::default(),
    };
    let done = if handshake_only {
        client.handshake_done
    } else {
        client.status.is_some()
    };
    let server = (client.failure.is_none() && done).then_some(&went_through);
    let mut o = if handshake_only {
        observe_handshake(server, client, duration_ms)
    } else {
        observe(server, client, duration_ms)
    };
    o.external = Some(Side::Server);
    if let Some(ClientFailure::Tls(e)) = &client.failure {
        if let Some(alert) = received_alert_name(e) {
            o.by = Some(Side::Server);
            o.reason = reason_for_alert(&alert);
            o.alert = Some(alert.clone());
            o.alert_sent = None;
            o.detail = Some(format!("the server sent the alert {alert}"));
        }
    }
    if let Some(ClientFailure::Io(m)) = &client.failure {
        // The built-in client does not hang up by itself: a connection closed (or reset) without an
        // alert during or right after the handshake was closed by the server program — the way a
        // server that refuses a client without telling it does.
        o.by = Some(Side::Server);
        o.reason = Some(Reason::ConnectionClosed);
        o.alert = None;
        o.alert_sent = None;
        o.detail = Some(format!(
            "the server closed the connection without sending an alert ({m})"
        ));
    }
    if o.outcome == Outcome::Accepted {
        // The server's own view (the client identity it saw) is not observable.
        o.server_saw = None;
    }
    o
}

/// What a client command did, as [`observe_command`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct CommandRun<'a> {
    /// The known program it runs ([`programs::identify`]), whose words are read.
    pub program: Option<Program>,
    /// Its exit code; `None` when killed by a signal.
    pub exit: Option<i32>,
    /// `exited with status 1`.
    pub exit_text: &'a str,
    /// Its output (stdout and stderr).
    pub output: &'a str,
    /// The lab's rules for its words (`verdicts:`), read before the known programs' maps.
    pub rules: &'a [VerdictRule],
}

/// The first of a lab's rules (`verdicts:`) that a program's words match, as a verdict: `whose` is
/// `client command` or `server command`.
fn rule_verdict(
    rules: &[VerdictRule],
    exit: Option<i32>,
    output: &str,
    whose: &str,
) -> Option<(RuleVerdict, String)> {
    let rule = rules.iter().find(|r| {
        let exit_ok = match r.exit {
            Some(e) => exit == Some(e),
            None => true,
        };
        exit_ok && output.contains(r.output.as_str())
    })?;
    let line = output
        .lines()
        .find(|l| l.contains(rule.output.as_str()))
        .map_or(rule.output.as_str(), str::trim);
    Some((
        rule.means,
        format!("the {whose} said `{line}`, which the lab's `verdicts` rule reads as"),
    ))
}

/// Applies a lab rule's verdict to `o`; `alert_reason` stands in for a reason the rule does not name.
fn apply_rule(
    o: &mut Observed,
    (means, said): (RuleVerdict, String),
    alert_reason: Option<Reason>,
) {
    match means {
        RuleVerdict::ProgramError => program_error(o, format!("{said} a program error")),
        RuleVerdict::Refused { side, reason } => {
            o.outcome = Outcome::Rejected;
            o.by = Some(side);
            o.reason = reason.or(alert_reason);
            o.detail = Some(format!(
                "{said} a rejection by the {}{}",
                match side {
                    Side::Client => "client",
                    Side::Server => "server",
                },
                reason.map_or(String::new(), |r| format!(": {}", r.code()))
            ));
        }
    }
}

/// A server command's words read by the lab's rules (`verdicts:`) when the built-in client is its peer:
/// a rule that matches what the server printed during the case decides, unless the built-in client's
/// own verifier rejected (its verdict is authoritative).
pub fn apply_server_rules(o: &mut Observed, rules: &[VerdictRule], server_output: &str) {
    if o.by == Some(Side::Client) && o.outcome == Outcome::Rejected {
        return;
    }
    if let Some(v) = rule_verdict(rules, None, server_output, "server command") {
        let alert_reason = o.alert.as_deref().and_then(reason_for_alert);
        apply_rule(o, v, alert_reason);
    }
}

/// A known server program's own words when the built-in client is its peer: where the client saw the
/// server refuse (its alert, or a close without one), the reason the server itself gives decides over
/// the one read from its alert (OpenSSL sends `unknown_ca` for an issuer that is not a CA, a path too
/// long, …). Never turns another outcome into a rejection: the built-in client's view stays.
pub fn apply_server_words(o: &mut Observed, program: Option<Program>, server_output: &str) {
    if o.outcome != Outcome::Rejected || o.by != Some(Side::Server) {
        return;
    }
    let Some(program) = program.filter(|p| p.plays(Side::Server)) else {
        return;
    };
    if let Some(Said::Refused {
        reason: Some(reason),
        message,
    }) = programs::read(program, None, server_output)
    {
        o.reason = Some(reason);
        o.detail = Some(format!("{} refused the client: {message}", program.name()));
    }
}

/// The outcome of a client command against a built-in server:
///
/// 1. the server's own rustls verdict decides a rejection by the server (the alert the command received,
///    when it names one, is recorded);
/// 2. a known program's own words ([`programs`]) decide its side: a refusal is a rejection by the client
///    with the program's reason, whether or not it sent an alert (curl checks names and pins after the
///    handshake, without one); a failure before or outside TLS is a program error;
/// 3. otherwise an alert the server received from the command is a rejection by the client (its reason
///    read from the alert where it names one), and so is a connection it dropped mid-handshake;
/// 4. otherwise exit 0 after an accepted handshake is `accepted`, and anything else (a non-zero exit
///    after an accepted handshake, a command that never connected) is a program error: no TLS verifier
///    rejected anything.
pub fn observe_command(
    verdicts: &[ServerVerdict],
    run: CommandRun<'_>,
    duration_ms: u64,
) -> Observed {
    let exit_text = run.exit_text;
    let mut o = Observed {
        outcome: Outcome::Rejected,
        by: Some(Side::Client),
        reason: None,
        detail: None,
        alert_sent: None,
        alert: None,
        tls_version: None,
        server_saw: None,
        client_saw: None,
        negotiated: Negotiated::default(),
        http_status: None,
        duration_ms,
        exit_status: run.exit,
        external: Some(Side::Client),
        server_exit: None,
    };
    let said = run
        .program
        .and_then(|p| programs::read(p, run.exit, run.output).map(|s| (p, s)));
    let server_rejection = verdicts.iter().find_map(|v| match v {
        ServerVerdict::Tls(e) => match classify(e) {
            Verdict::Rejected { reason, detail } => Some((reason, detail, alert_sent(e))),
            Verdict::AlertReceived { .. } => None,
        },
        _ => None,
    });
    if let Some((reason, detail, sent)) = server_rejection {
        o.by = Some(Side::Server);
        o.reason = Some(reason);
        o.detail = Some(detail);
        o.alert_sent = sent;
        // What the client program says it received.
        if let Some((_, Said::AlertReceived { alert, .. })) = &said {
            o.alert = Some(alert.clone());
        }
        return o;
    }
    let client_alert = verdicts.iter().find_map(|v| match v {
        ServerVerdict::Tls(e) => received_alert_name(e),
        _ => None,
    });
    // The lab's own rules for the command's words come before the known programs' maps.
    if let Some(v) = rule_verdict(run.rules, run.exit, run.output, "client command") {
        apply_rule(
            &mut o,
            v,
            client_alert.as_deref().and_then(reason_for_alert),
        );
        if o.by == Some(Side::Client) {
            o.alert = client_alert;
        }
        return o;
    }
    let accepted = verdicts.iter().find_map(|v| match v {
        ServerVerdict::Accepted {
            client,
            version,
            negotiated,
        } => Some((client.clone(), version.clone(), negotiated.clone())),
        _ => None,
    });
    if let Some((seen, version, negotiated)) = &accepted {
        o.tls_version = version.clone();
        o.server_saw = seen.clone();
        o.negotiated = negotiated.clone();
    }
    match said {
        Some((program, Said::Refused { reason, message })) => {
            o.reason = reason.or_else(|| client_alert.as_deref().and_then(reason_for_alert));
            o.detail = Some(format!("{} refused the server: {message}", program.name()));
            o.alert = client_alert;
            return o;
        }
        Some((program, Said::ProgramError { message })) => {
            program_error(
                &mut o,
                format!(
                    "{} failed outside TLS ({exit_text}): {message}",
                    program.name()
                ),
            );
            return o;
        }
        // An alert the client program received with no rejection by the built-in server: the server
        // did not reject; read below like any other command.
        Some((_, Said::AlertReceived { .. } | Said::Completed { .. })) | None => {}
    }
    if let Some(alert) = client_alert {
        o.reason = reason_for_alert(&alert);
        o.detail = Some(format!(
            "the client command sent the alert {alert}; it {exit_text}"
        ));
        o.alert = Some(alert);
        return o;
    }
    if accepted.is_some() {
        if run.exit == Some(0) {
            o.outcome = Outcome::Accepted;
            o.by = None;
        } else {
            // No verifier rejected anything: the TLS handshake went through.
            program_error(
                &mut o,
                format!(
                    "the server accepted the handshake, but the client command {exit_text}{}",
                    last_line(run.output)
                ),
            );
        }
        return o;
    }
    let seen = verdicts.iter().find_map(|v| match v {
        ServerVerdict::Io(m) => Some(format!(" (the server saw: {m})")),
        ServerVerdict::Timeout => Some(" (the server's handshake wait ran out)".to_string()),
        _ => None,
    });
    if verdicts.is_empty() {
        // It never reached the server: no TLS verifier rejected anything.
        program_error(
            &mut o,
            format!(
                "the client command {exit_text}; it never connected to the server{}",
                last_line(run.output)
            ),
        );
        return o;
    }
    if run.exit.is_none() {
        // Killed by a signal mid-handshake, with no words of its own: its failure, not a refusal.
        program_error(
            &mut o,
            format!(
                "the client command {exit_text} without completing a handshake{}",
                seen.unwrap_or_default()
            ),
        );
        return o;
    }
    o.detail = Some(format!(
        "the client command {exit_text} without completing a handshake{}",
        seen.unwrap_or_default()
    ));
    o
}

/// `; its last line: …` for a program's output, or nothing when it printed nothing.
fn last_line(output: &str) -> String {
    output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map_or(String::new(), |l| format!("; its last line: {l}"))
}

/// Marks `o` as a program that failed before or outside TLS: no side's verifier rejected anything.
/// A server command that exited while its case ran (`exit_text`: `exited with status 1`) failed on its
/// own — a crash closes connections just as a refusal without an alert does — unless the case was
/// decided before it went: accepted, refused by the built-in client's own verifier, or refused by the
/// server with a TLS alert the client received (a crash sends none). Then the verdict stands and the
/// exit is noted in the detail.
pub fn server_program_exited(o: &mut Observed, exit_text: &str) {
    let decided = match (o.outcome, o.by) {
        (Outcome::Accepted, _) => true,
        (Outcome::Rejected, Some(Side::Client)) => o.external == Some(Side::Server),
        (Outcome::Rejected, Some(Side::Server)) => o.alert.is_some(),
        _ => false,
    };
    if decided {
        if o.outcome == Outcome::Rejected {
            let was = o.detail.take().unwrap_or_default();
            o.detail = Some(format!("{was}; the server command then {exit_text}"));
        }
        return;
    }
    let was = o.detail.take().unwrap_or_default();
    program_error(
        o,
        format!("the server command {exit_text} during this case (the client saw: {was})"),
    );
    o.server_exit = Some(format!("the server command {exit_text}"));
}

fn program_error(o: &mut Observed, detail: String) {
    o.outcome = Outcome::ProgramError;
    o.by = None;
    o.reason = None;
    o.detail = Some(detail);
}

/// What a server command printed while a case ran, as [`observe_programs`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct ServerWords<'a> {
    /// The known program it runs ([`programs::identify`]).
    pub program: Option<Program>,
    /// The lines it printed during the case.
    pub output: &'a str,
    /// The lab's rules for its words (`verdicts:`).
    pub rules: &'a [VerdictRule],
}

/// The outcome of a client command against a server command: only the programs' own words decide.
///
/// 1. the client program's refusal ([`programs::read`]) is a rejection by the client, with its reason;
///    the alert the server program says it received is recorded;
/// 2. the server program's refusal (`peer did not return a certificate`, a verify error) is a rejection
///    by the server, with its reason; the alert the client program says it received is recorded;
/// 3. a client program's failure outside TLS is a program error;
/// 4. an alert one program says it received is a rejection by the other (its reason read from the alert
///    where one alert means one reason);
/// 5. exit 0 is `accepted` when curl says so (it exits 0 only after a response) or the server program
///    says it completed the handshake; a non-zero exit after a completed handshake is a program error;
/// 6. anything else is `undecided`: nobody is blamed on a guess.
pub fn observe_programs(
    client: CommandRun<'_>,
    server: ServerWords<'_>,
    duration_ms: u64,
) -> Observed {
    let mut o = Observed {
        outcome: Outcome::Rejected,
        by: None,
        reason: None,
        detail: None,
        alert_sent: None,
        alert: None,
        tls_version: None,
        server_saw: None,
        client_saw: None,
        negotiated: Negotiated::default(),
        http_status: None,
        duration_ms,
        exit_status: client.exit,
        // Both sides are programs; the server's own view (the identity it saw) is not observable.
        external: Some(Side::Server),
        server_exit: None,
    };
    // The lab's own rules come first: the client command's, then the server command's.
    if let Some(v) = rule_verdict(client.rules, client.exit, client.output, "client command")
        .or_else(|| rule_verdict(server.rules, None, server.output, "server command"))
    {
        apply_rule(&mut o, v, None);
        return o;
    }
    let client_said = client
        .program
        .and_then(|p| programs::read(p, client.exit, client.output).map(|s| (p, s)));
    let server_said = server
        .program
        .and_then(|p| programs::read(p, None, server.output).map(|s| (p, s)));
    let client_received = match &client_said {
        Some((_, Said::AlertReceived { alert, .. })) => Some(alert.clone()),
        _ => None,
    };
    let server_received = match &server_said {
        Some((_, Said::AlertReceived { alert, .. })) => Some(alert.clone()),
        _ => None,
    };
    let exit_text = client.exit_text;
    if let Some((p, Said::Refused { reason, message })) = &client_said {
        o.by = Some(Side::Client);
        o.reason = reason.or_else(|| server_received.as_deref().and_then(reason_for_alert));
        o.detail = Some(format!("{} refused the server: {message}", p.name()));
        o.alert = server_received;
        return o;
    }
    if let Some((p, Said::Refused { reason, message })) = &server_said {
        o.by = Some(Side::Server);
        o.reason = reason.or_else(|| client_received.as_deref().and_then(reason_for_alert));
        o.detail = Some(format!("{} refused the client: {message}", p.name()));
        o.alert = client_received;
        return o;
    }
    if let Some((p, Said::ProgramError { message })) = &client_said {
        program_error(
            &mut o,
            format!("{} failed outside TLS ({exit_text}): {message}", p.name()),
        );
        return o;
    }
    if let Some((alert, side, message)) = client_received
        .map(|a| (a, Side::Server, "the client command received"))
        .or(server_received.map(|a| (a, Side::Client, "the server command received")))
    {
        o.by = Some(side);
        o.reason = reason_for_alert(&alert);
        o.detail = Some(format!("{message} the alert {alert}"));
        o.alert = Some(alert);
        return o;
    }
    let completed = matches!(server_said, Some((_, Said::Completed { .. })));
    if completed || client.program == Some(Program::Curl) {
        match client.exit {
            Some(0) => {
                o.outcome = Outcome::Accepted;
                o.tls_version = server_said.as_ref().and_then(|(_, s)| match s {
                    Said::Completed { message } => message
                        .split_once('(')
                        .and_then(|(_, v)| v.split_once(')'))
                        .map(|(v, _)| v.to_string()),
                    _ => None,
                });
                return o;
            }
            _ if completed => {
                program_error(
                    &mut o,
                    format!(
                        "the server command completed the handshake, but the client command {exit_text}{}",
                        last_line(client.output)
                    ),
                );
                return o;
            }
            _ => {}
        }
    }
    o.outcome = Outcome::Undecided;
    o.detail = Some(format!(
        "the client command {exit_text}{}; the server command said {}",
        last_line(client.output),
        match last_line(server.output).strip_prefix("; its last line: ") {
            Some(l) => format!("nothing this runner reads as a verdict (its last line: {l})"),
            None => "nothing during this case".to_string(),
        }
    ));
    o
}
