//! The verdict core as units: from what each side saw to one observed outcome (`observe`, and for external
//! peers `observe_external_server` and `observe_command`), and from expected vs observed to the failure
//! messages (`judge`, `judge_checks`). The side and the reason of a rejection are checked one at a time:
//! the other side rejecting for the same reason fails, the expected side rejecting for another reason
//! fails, and a side without a reason fails on the other side's rejection.

use mtls_lab::lab::{Checks, Expectation};
use mtls_lab::reason::{pin_mismatch_error, Reason};
use mtls_lab::spec::{IdentitySpec, Outcome, Side};
use mtls_lab::tls::client::{ClientFailure, ClientObservation};
use mtls_lab::tls::identity::Identity;
use mtls_lab::tls::server::ServerVerdict;
use mtls_lab::verdict::{
    expectation_summary, judge, judge_checks, observe, observe_command, observe_external_server,
    CommandRun, Observed,
};
use rustls::{AlertDescription as A, CertificateError as C, Error as E};

fn rejected_by(by: Side, reason: Reason) -> Observed {
    Observed {
        outcome: Outcome::Rejected,
        by: Some(by),
        reason: Some(reason),
        detail: Some("detail".into()),
        alert_sent: None,
        alert: None,
        tls_version: None,
        server_saw: None,
        client_saw: None,
        negotiated: Default::default(),
        http_status: None,
        duration_ms: 1,
        exit_status: None,
        external: None,
        server_exit: None,
    }
}

fn accepted(seen: Option<Identity>, status: Option<u16>) -> Observed {
    Observed {
        outcome: Outcome::Accepted,
        by: None,
        reason: None,
        server_saw: seen,
        http_status: status,
        ..rejected_by(Side::Server, Reason::Other)
    }
}

fn expect(by: Option<Side>, reason: Option<Reason>) -> Expectation {
    Expectation::Rejected { by, reason }
}

fn alice() -> Identity {
    Identity {
        subject: "O=Test Lab, CN=alice".into(),
        common_name: Some("alice".into()),
        organization: Some("Test Lab".into()),
        ..Identity::default()
    }
}

// ---- judge: the side and the reason, one at a time ----

#[test]
fn the_other_side_rejecting_for_the_same_reason_fails_and_shows_both_sides() {
    let want = expect(Some(Side::Server), Some(Reason::UnknownIssuer));
    assert_eq!(
        judge(&want, &rejected_by(Side::Client, Reason::UnknownIssuer)),
        ["expected rejected by server: unknown_issuer, observed rejected by client: unknown_issuer"]
    );
    let want = expect(Some(Side::Client), Some(Reason::Expired));
    assert_eq!(
        judge(&want, &rejected_by(Side::Server, Reason::Expired)),
        ["expected rejected by client: expired, observed rejected by server: expired"]
    );
}

#[test]
fn the_expected_side_rejecting_for_another_reason_fails_and_shows_both_reasons() {
    let want = expect(Some(Side::Server), Some(Reason::CertificateRequired));
    assert_eq!(
        judge(&want, &rejected_by(Side::Server, Reason::UnknownIssuer)),
        ["expected rejected by server: certificate_required, observed rejected by server: unknown_issuer"]
    );
    let want = expect(Some(Side::Client), Some(Reason::NameMismatch));
    assert_eq!(
        judge(&want, &rejected_by(Side::Client, Reason::UnknownIssuer)),
        ["expected rejected by client: name_mismatch, observed rejected by client: unknown_issuer"]
    );
}

#[test]
fn a_side_without_a_reason_fails_on_the_other_sides_rejection() {
    let want = expect(Some(Side::Server), None);
    assert_eq!(
        judge(&want, &rejected_by(Side::Client, Reason::UnknownIssuer)),
        ["expected rejected by server, observed rejected by client: unknown_issuer"]
    );
    // ... and passes on any rejection by that side.
    assert!(judge(&want, &rejected_by(Side::Server, Reason::Revoked)).is_empty());
    let mut open = rejected_by(Side::Server, Reason::Other);
    open.reason = None;
    assert!(judge(&want, &open).is_empty());
    // An expected reason is not met by a rejection whose reason stayed open.
    assert_eq!(
        judge(&expect(Some(Side::Server), Some(Reason::Revoked)), &open),
        ["expected rejected by server: revoked, observed rejected by server"]
    );
}

#[test]
fn the_exact_side_and_reason_pass() {
    for by in [Side::Server, Side::Client] {
        for reason in [Reason::UnknownIssuer, Reason::CertificateRequired] {
            assert!(judge(&expect(Some(by), Some(reason)), &rejected_by(by, reason)).is_empty());
        }
    }
}

#[test]
fn a_rejection_expected_and_an_acceptance_observed_fails() {
    assert_eq!(
        judge(
            &expect(Some(Side::Server), Some(Reason::CertificateRequired)),
            &accepted(None, Some(200))
        ),
        ["expected rejected by server: certificate_required, observed accepted"]
    );
}

#[test]
fn a_rejection_without_a_tls_verdict_is_a_side_of_its_own() {
    // A client command that failed outside TLS: a program error, no side, no reason.
    let mut none = rejected_by(Side::Client, Reason::Other);
    none.outcome = Outcome::ProgramError;
    none.by = None;
    none.reason = None;
    none.exit_status = Some(58);
    let want = expect(None, None);
    assert!(judge(&want, &none).is_empty());
    assert_eq!(
        judge(&want, &rejected_by(Side::Client, Reason::UnknownIssuer)),
        ["expected a program error (the client command fails outside TLS, no verifier rejects), observed rejected by client: unknown_issuer"]
    );
    assert_eq!(
        judge(&expect(Some(Side::Client), None), &none),
        ["expected rejected by client, observed a program error (exit status 58)"]
    );
    assert_eq!(none.summary(), "a program error (exit status 58)");
}

#[test]
fn an_acceptance_is_judged_on_outcome_identity_and_status() {
    let plain = Expectation::Accepted {
        server_saw: None,
        status: None,
    };
    assert!(judge(&plain, &accepted(None, Some(200))).is_empty());
    assert_eq!(
        judge(
            &plain,
            &rejected_by(Side::Server, Reason::CertificateRequired)
        ),
        ["expected accepted, observed rejected by server: certificate_required"]
    );

    let strict = Expectation::Accepted {
        server_saw: Some(IdentitySpec {
            common_name: Some("alice".into()),
            ..IdentitySpec::default()
        }),
        status: Some(200),
    };
    assert!(judge(&strict, &accepted(Some(alice()), Some(200))).is_empty());
    // A rejection is reported once, without identity or status messages.
    assert_eq!(
        judge(&strict, &rejected_by(Side::Client, Reason::Expired)),
        ["expected accepted, observed rejected by client: expired"]
    );
    assert_eq!(
        judge(&strict, &accepted(Some(alice()), Some(404))),
        ["HTTP status: expected 200, observed 404"]
    );
    assert_eq!(
        judge(&strict, &accepted(Some(alice()), None)),
        ["HTTP status: expected 200, observed none"]
    );
    let bob = Identity {
        common_name: Some("bob".into()),
        ..alice()
    };
    assert_eq!(
        judge(&strict, &accepted(Some(bob), Some(500))),
        [
            "CN: expected `alice`, the server saw `bob`",
            "HTTP status: expected 200, observed 500"
        ]
    );
    assert_eq!(
        judge(&strict, &accepted(None, Some(200))),
        ["the server saw no client certificate"]
    );
}

#[test]
fn summaries_name_side_and_reason() {
    assert_eq!(accepted(None, None).summary(), "accepted");
    assert_eq!(
        rejected_by(Side::Client, Reason::PinMismatch).summary(),
        "rejected by client: pin_mismatch"
    );
    assert_eq!(
        expectation_summary(&expect(Some(Side::Server), Some(Reason::Revoked))),
        "rejected by server: revoked"
    );
    assert_eq!(
        expectation_summary(&expect(Some(Side::Server), None)),
        "rejected by server"
    );
    assert_eq!(
        expectation_summary(&Expectation::Accepted {
            server_saw: None,
            status: Some(200)
        }),
        "accepted"
    );
}

#[test]
fn alert_exit_output_and_server_output_checks() {
    let mut o = rejected_by(Side::Server, Reason::CertificateRequired);
    o.alert = Some("certificate_required".into());
    o.exit_status = Some(56);
    let checks =
        |alert: Option<&str>, exit: Option<i32>, output: Option<&str>, server: Option<&str>| {
            Checks {
                alert: alert.map(str::to_string),
                exit,
                output: output.map(str::to_string),
                server_output: server.map(str::to_string),
                negotiated: Default::default(),
            }
        };
    assert!(judge_checks(&checks(None, None, None, None), &o, None, None).is_empty());
    assert!(judge_checks(
        &checks(
            Some("certificate_required"),
            Some(56),
            Some("alert"),
            Some("commonName: labclient")
        ),
        &o,
        Some("tls alert certificate required"),
        Some("subject: commonName: labclient\n")
    )
    .is_empty());
    assert_eq!(
        judge_checks(
            &checks(
                Some("unknown_ca"),
                Some(0),
                Some("hello"),
                Some("labclient")
            ),
            &o,
            Some("bye"),
            Some("commonName: someone-else")
        ),
        [
            "alert: expected unknown_ca, observed certificate_required",
            "exit status: expected 0, observed 56",
            "output: expected stdout to contain \"hello\"",
            "server output: expected the server command to print \"labclient\" during this case",
        ]
    );
    o.alert = None;
    o.exit_status = None;
    assert_eq!(
        judge_checks(
            &checks(Some("unknown_ca"), Some(0), Some("x"), Some("y")),
            &o,
            None,
            None
        ),
        [
            "alert: expected unknown_ca, observed none",
            "exit status: expected 0, observed none (killed by a signal)",
            "output: expected stdout to contain \"x\"",
            "server output: expected the server command to print \"y\" during this case",
        ]
    );
}

// ---- observe: built-in server and client ----

fn client_failing(f: ClientFailure) -> ClientObservation {
    ClientObservation {
        failure: Some(f),
        ..ClientObservation::default()
    }
}

fn tls(e: E) -> ClientFailure {
    ClientFailure::Tls(e)
}

#[test]
fn the_servers_own_rejection_decides_and_the_client_contributes_the_alert() {
    let server = ServerVerdict::Tls(E::NoCertificatesPresented);
    let client = ClientObservation {
        version: Some("TLSv1.2".into()),
        ..client_failing(tls(E::AlertReceived(A::CertificateRequired)))
    };
    let o = observe(Some(&server), &client, 42);
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (
            Outcome::Rejected,
            Some(Side::Server),
            Some(Reason::CertificateRequired)
        )
    );
    assert_eq!(o.detail.as_deref(), Some("peer sent no certificates"));
    assert_eq!(o.alert_sent.as_deref(), Some("certificate_required"));
    assert_eq!(o.alert.as_deref(), Some("certificate_required"));
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(o.duration_ms, 42);
    assert_eq!(o.external, None);

    // In TLS 1.3 the client may have seen only a closed connection: still the server's rejection.
    let closed = client_failing(ClientFailure::Io("connection reset".into()));
    let o = observe(Some(&server), &closed, 1);
    assert_eq!(
        (o.by, o.reason, o.alert.as_deref()),
        (Some(Side::Server), Some(Reason::CertificateRequired), None)
    );
    // A client that rejected too (its own verdict) does not take the server's place.
    let both = client_failing(tls(E::InvalidCertificate(C::Expired)));
    let o = observe(Some(&server), &both, 1);
    assert_eq!(
        (o.by, o.reason, o.alert),
        (Some(Side::Server), Some(Reason::CertificateRequired), None)
    );
}

#[test]
fn the_clients_own_rejection_decides_and_the_server_contributes_the_alert() {
    let server = ServerVerdict::Tls(E::AlertReceived(A::UnknownCA));
    let client = client_failing(tls(E::InvalidCertificate(C::UnknownIssuer)));
    let o = observe(Some(&server), &client, 1);
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (
            Outcome::Rejected,
            Some(Side::Client),
            Some(Reason::UnknownIssuer)
        )
    );
    assert_eq!(
        o.detail.as_deref(),
        Some("invalid peer certificate: UnknownIssuer")
    );
    assert_eq!(o.alert_sent.as_deref(), Some("unknown_ca"));
    assert_eq!(o.alert.as_deref(), Some("unknown_ca"));

    let pin = client_failing(tls(pin_mismatch_error("AAAA".into())));
    for server in [
        None,
        Some(ServerVerdict::Timeout),
        Some(ServerVerdict::Io("reset".into())),
    ] {
        let o = observe(server.as_ref(), &pin, 1);
        assert_eq!(
            (o.by, o.reason, o.alert_sent.as_deref(), o.alert),
            (
                Some(Side::Client),
                Some(Reason::PinMismatch),
                Some("certificate_unknown"),
                None
            ),
            "{server:?}"
        );
    }
}

#[test]
fn an_acceptance_needs_both_sides_and_a_response() {
    let server = ServerVerdict::Accepted {
        client: Some(alice()),
        version: Some("TLSv1.3".into()),
        negotiated: Default::default(),
    };
    let client = ClientObservation {
        status: Some(200),
        version: Some("TLSv1.2".into()),
        server: Some(Identity {
            common_name: Some("localhost".into()),
            ..Identity::default()
        }),
        handshake_done: true,
        ..ClientObservation::default()
    };
    let o = observe(Some(&server), &client, 1);
    assert_eq!((o.outcome, o.by, o.reason), (Outcome::Accepted, None, None));
    assert_eq!(o.server_saw, Some(alice()));
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(o.http_status, Some(200));
    assert_eq!(
        o.client_saw.and_then(|i| i.common_name).as_deref(),
        Some("localhost")
    );
    // The server's version is preferred; the client's stands in when the server gave none.
    let quiet = ServerVerdict::Accepted {
        client: None,
        version: None,
        negotiated: Default::default(),
    };
    let o = observe(Some(&quiet), &client, 1);
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1.2"));

    // A response without the server's acceptance is no acceptance.
    let o = observe(None, &client, 1);
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (
            Outcome::Rejected,
            Some(Side::Client),
            Some(Reason::ConnectionClosed)
        )
    );
    assert_eq!(
        o.detail.as_deref(),
        Some("the client got a response but the server reported no accepted handshake")
    );
    // An acceptance by the server without a response is no acceptance either.
    let no_response = ClientObservation {
        status: None,
        ..client.clone()
    };
    assert_eq!(
        observe(Some(&server), &no_response, 1).outcome,
        Outcome::Rejected
    );
}

#[test]
fn an_alert_without_the_servers_verdict_is_read_where_it_names_one_reason() {
    let client = client_failing(tls(E::AlertReceived(A::UnknownCA)));
    let o = observe(None, &client, 1);
    assert_eq!(
        (o.by, o.reason, o.alert.as_deref(), o.alert_sent),
        (
            Some(Side::Server),
            Some(Reason::UnknownIssuer),
            Some("unknown_ca"),
            None
        )
    );
    assert_eq!(
        o.detail.as_deref(),
        Some("client: received fatal alert: UnknownCA; the server's own verdict was not available")
    );
    let o = observe(
        Some(&ServerVerdict::Timeout),
        &client_failing(tls(E::AlertReceived(A::BadCertificate))),
        1,
    );
    assert_eq!(
        (o.by, o.reason, o.alert.as_deref()),
        (Some(Side::Server), None, Some("bad_certificate"))
    );
}

#[test]
fn transport_failures_when_no_verifier_decided() {
    let cases = [
        (
            None,
            ClientFailure::Refused("127.0.0.1:1: refused".into()),
            Reason::ConnectionRefused,
            "127.0.0.1:1: refused",
        ),
        (
            Some(ServerVerdict::Timeout),
            ClientFailure::Refused("refused".into()),
            Reason::ConnectionRefused,
            "refused",
        ),
        (
            None,
            ClientFailure::Timeout("handshake"),
            Reason::Timeout,
            "no answer within the handshake wait",
        ),
        (
            Some(ServerVerdict::Timeout),
            ClientFailure::Io("reset".into()),
            Reason::Timeout,
            "the server's handshake wait ran out",
        ),
        (
            Some(ServerVerdict::Io("eof".into())),
            ClientFailure::Io("broken pipe".into()),
            Reason::ConnectionClosed,
            "broken pipe",
        ),
    ];
    for (server, failure, reason, detail) in cases {
        let o = observe(server.as_ref(), &client_failing(failure.clone()), 1);
        assert_eq!(
            (o.outcome, o.by, o.reason, o.detail.as_deref()),
            (
                Outcome::Rejected,
                Some(Side::Client),
                Some(reason),
                Some(detail)
            ),
            "{server:?} {failure:?}"
        );
        assert_eq!((o.alert_sent, o.alert), (None, None));
    }
}

// ---- an external server: only the built-in client is observable ----

#[test]
fn an_external_servers_rejection_is_read_from_its_alert() {
    let o = observe_external_server(
        &client_failing(tls(E::AlertReceived(A::CertificateRequired))),
        7,
    );
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (
            Outcome::Rejected,
            Some(Side::Server),
            Some(Reason::CertificateRequired)
        )
    );
    assert_eq!(
        (o.alert.as_deref(), o.alert_sent.as_deref()),
        (Some("certificate_required"), None)
    );
    assert_eq!(
        o.detail.as_deref(),
        Some("the server sent the alert certificate_required")
    );
    assert_eq!((o.external, o.duration_ms), (Some(Side::Server), 7));

    // An alert that names no single reason leaves the reason open.
    let o = observe_external_server(
        &client_failing(tls(E::AlertReceived(A::CertificateExpired))),
        1,
    );
    assert_eq!(
        (o.by, o.reason, o.alert.as_deref()),
        (Some(Side::Server), None, Some("certificate_expired"))
    );
    assert_eq!(
        o.detail.as_deref(),
        Some("the server sent the alert certificate_expired")
    );
}

#[test]
fn against_an_external_server_the_client_still_rejects_on_its_own() {
    let o = observe_external_server(
        &client_failing(tls(E::InvalidCertificate(C::UnknownIssuer))),
        1,
    );
    assert_eq!(
        (o.by, o.reason, o.alert_sent.as_deref(), o.alert),
        (
            Some(Side::Client),
            Some(Reason::UnknownIssuer),
            Some("unknown_ca"),
            None
        )
    );
    assert_eq!(o.external, Some(Side::Server));
    let o = observe_external_server(&client_failing(ClientFailure::Refused("refused".into())), 1);
    assert_eq!(
        (o.by, o.reason),
        (Some(Side::Client), Some(Reason::ConnectionRefused))
    );
}

#[test]
fn an_external_server_that_answers_accepted_the_client() {
    let client = ClientObservation {
        status: Some(204),
        version: Some("TLSv1.3".into()),
        handshake_done: true,
        ..ClientObservation::default()
    };
    let o = observe_external_server(&client, 1);
    assert_eq!((o.outcome, o.by, o.reason), (Outcome::Accepted, None, None));
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(o.http_status, Some(204));
    // The identity the server saw is not observable.
    assert_eq!(o.server_saw, None);
    // No response: not an acceptance.
    let o = observe_external_server(&ClientObservation::default(), 1);
    assert_eq!(
        (o.outcome, o.reason),
        (Outcome::Rejected, Some(Reason::ConnectionClosed))
    );
}

// ---- a client command against a built-in server ----

const EXIT: &str = "exited with status 35";

/// A client command that is no known program (its words are not read), with its exit status.
fn command(exit: Option<i32>, exit_text: &str) -> CommandRun<'_> {
    CommandRun {
        program: None,
        exit,
        exit_text,
        output: "",
        rules: &[],
    }
}

#[test]
fn a_command_rejected_by_the_server_is_the_servers_verdict() {
    let verdicts = [
        ServerVerdict::Io("early probe".into()),
        ServerVerdict::Tls(E::NoCertificatesPresented),
    ];
    let o = observe_command(&verdicts, command(Some(35), EXIT), 9);
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (
            Outcome::Rejected,
            Some(Side::Server),
            Some(Reason::CertificateRequired)
        )
    );
    assert_eq!(o.detail.as_deref(), Some("peer sent no certificates"));
    assert_eq!(o.alert_sent.as_deref(), Some("certificate_required"));
    assert_eq!(o.alert, None);
    assert_eq!(
        (o.exit_status, o.external, o.duration_ms),
        (Some(35), Some(Side::Client), 9)
    );
}

#[test]
fn a_command_that_sent_an_alert_rejected_as_the_client() {
    let verdicts = [
        ServerVerdict::Accepted {
            client: None,
            version: None,
            negotiated: Default::default(),
        },
        ServerVerdict::Tls(E::AlertReceived(A::UnknownCA)),
    ];
    let o = observe_command(&verdicts, command(Some(60), "exited with status 60"), 1);
    assert_eq!(
        (o.by, o.reason, o.alert.as_deref(), o.alert_sent),
        (
            Some(Side::Client),
            Some(Reason::UnknownIssuer),
            Some("unknown_ca"),
            None
        )
    );
    assert_eq!(
        o.detail.as_deref(),
        Some("the client command sent the alert unknown_ca; it exited with status 60")
    );
    let o = observe_command(
        &[ServerVerdict::Tls(E::AlertReceived(A::BadCertificate))],
        command(Some(60), "exited with status 60"),
        1,
    );
    assert_eq!(
        (o.by, o.reason, o.alert.as_deref()),
        (Some(Side::Client), None, Some("bad_certificate"))
    );
}

#[test]
fn a_command_after_an_accepted_handshake_is_judged_by_its_exit_status() {
    let verdicts = [ServerVerdict::Accepted {
        client: Some(alice()),
        version: Some("TLSv1.3".into()),
        negotiated: Default::default(),
    }];
    let o = observe_command(&verdicts, command(Some(0), "exited with status 0"), 1);
    assert_eq!((o.outcome, o.by, o.reason), (Outcome::Accepted, None, None));
    assert_eq!(o.server_saw, Some(alice()));
    assert_eq!(o.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(o.detail, None);

    // A non-zero exit after an accepted handshake is a program error, never a rejection.
    let o = observe_command(&verdicts, command(Some(35), EXIT), 1);
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (Outcome::ProgramError, None, None)
    );
    assert_eq!(
        o.detail.as_deref(),
        Some("the server accepted the handshake, but the client command exited with status 35")
    );
    assert_eq!(o.server_saw, Some(alice()));
    let o = observe_command(&verdicts, command(None, "was killed by signal 9"), 1);
    assert_eq!(o.outcome, Outcome::ProgramError);
    assert_eq!(
        o.detail.as_deref(),
        Some("the server accepted the handshake, but the client command was killed by signal 9")
    );
}

#[test]
fn a_command_that_never_completed_a_handshake_says_what_the_server_saw() {
    let cases: [(&[ServerVerdict], Outcome, Option<Side>, &str); 3] = [
        (
            &[ServerVerdict::Io("connection reset by peer".into())],
            Outcome::Rejected,
            Some(Side::Client),
            "the client command exited with status 35 without completing a handshake (the server saw: connection reset by peer)",
        ),
        (
            &[ServerVerdict::Timeout],
            Outcome::Rejected,
            Some(Side::Client),
            "the client command exited with status 35 without completing a handshake (the server's handshake wait ran out)",
        ),
        (
            // Never connecting is the program's own failure, not a rejection.
            &[],
            Outcome::ProgramError,
            None,
            "the client command exited with status 35; it never connected to the server",
        ),
    ];
    for (verdicts, outcome, by, detail) in cases {
        let o = observe_command(verdicts, command(Some(35), EXIT), 1);
        assert_eq!(
            (o.outcome, o.by, o.reason, o.detail.as_deref()),
            (outcome, by, None, Some(detail)),
            "{verdicts:?}"
        );
        assert_eq!((o.alert, o.alert_sent), (None, None));
    }
}

/// A client command killed by a signal before any handshake completed, with no words of its own, failed
/// on its own: a program error, never a rejection by the client.
#[test]
fn a_command_killed_mid_handshake_is_a_program_error() {
    let verdicts = [ServerVerdict::Io("connection reset by peer".into())];
    let o = observe_command(&verdicts, command(None, "was killed by signal 11"), 1);
    assert_eq!(
        (o.outcome, o.by, o.reason),
        (Outcome::ProgramError, None, None)
    );
    assert_eq!(
        o.detail.as_deref(),
        Some("the client command was killed by signal 11 without completing a handshake (the server saw: connection reset by peer)")
    );
}

// ---- the lab's own rules (`verdicts:`) ----

fn rule(
    output: &str,
    exit: Option<i32>,
    means: mtls_lab::lab::RuleVerdict,
) -> mtls_lab::lab::VerdictRule {
    mtls_lab::lab::VerdictRule {
        output: output.into(),
        exit,
        means,
    }
}

/// A rule with an exit status matches only when the words and the status both match; a client-side
/// rule records the alert the command sent, a server-side one does not.
#[test]
fn a_client_commands_rule_needs_its_words_and_its_exit_together() {
    use mtls_lab::lab::RuleVerdict::Refused;
    let rules = [rule(
        "REFUSED",
        Some(3),
        Refused {
            side: Side::Client,
            reason: Some(Reason::NameMismatch),
        },
    )];
    let alerted = [ServerVerdict::Tls(E::AlertReceived(A::BadCertificate))];
    let run = |exit, output| CommandRun {
        program: None,
        exit: Some(exit),
        exit_text: "exited",
        output,
        rules: &rules,
    };
    // The words without the status, and the status without the words: no rule, the alert decides.
    for (exit, output) in [(4, "REFUSED: bad cert\n"), (3, "something else\n")] {
        let o = observe_command(&alerted, run(exit, output), 1);
        assert_eq!(
            (o.by, o.reason, o.detail.as_deref()),
            (
                Some(Side::Client),
                None,
                Some("the client command sent the alert bad_certificate; it exited")
            ),
            "{exit} {output:?}"
        );
    }
    let o = observe_command(&alerted, run(3, "REFUSED: bad cert\n"), 1);
    assert_eq!(
        (o.outcome, o.by, o.reason, o.alert.as_deref()),
        (
            Outcome::Rejected,
            Some(Side::Client),
            Some(Reason::NameMismatch),
            Some("bad_certificate")
        )
    );
    let server_side = [rule(
        "REFUSED",
        None,
        Refused {
            side: Side::Server,
            reason: Some(Reason::CertificateRequired),
        },
    )];
    let o = observe_command(
        &alerted,
        CommandRun {
            rules: &server_side,
            ..run(3, "REFUSED\n")
        },
        1,
    );
    assert_eq!(
        (o.by, o.reason, o.alert),
        (Some(Side::Server), Some(Reason::CertificateRequired), None)
    );
}

/// A server command's rule never overrides the built-in client's own rejection; it decides a rejection
/// the client saw only as the server's alert.
#[test]
fn a_server_commands_rule_leaves_the_built_in_clients_rejection_alone() {
    let rules = [rule(
        "denied",
        None,
        mtls_lab::lab::RuleVerdict::Refused {
            side: Side::Server,
            reason: Some(Reason::CertificateRequired),
        },
    )];
    let mut own = rejected_by(Side::Client, Reason::UnknownIssuer);
    mtls_lab::verdict::apply_server_rules(&mut own, &rules, "denied\n");
    assert_eq!(
        (own.by, own.reason),
        (Some(Side::Client), Some(Reason::UnknownIssuer))
    );
    let mut seen = rejected_by(Side::Server, Reason::Other);
    mtls_lab::verdict::apply_server_rules(&mut seen, &rules, "denied\n");
    assert_eq!(
        (seen.by, seen.reason),
        (Some(Side::Server), Some(Reason::CertificateRequired))
    );
}

/// A command that never connected says so, with the last line it printed.
#[test]
fn a_command_that_never_connected_quotes_its_last_line() {
    let o = observe_command(
        &[],
        CommandRun {
            output: "starting\nboom: no such file\n\n",
            ..command(Some(2), "exited with status 2")
        },
        1,
    );
    assert_eq!(o.outcome, Outcome::ProgramError);
    assert_eq!(
        o.detail.as_deref(),
        Some("the client command exited with status 2; it never connected to the server; its last line: boom: no such file")
    );
}

// ---- a client command against a server command: only the programs' words ----

/// Only a server that says it completed the handshake (or curl's exit 0) makes an exit 0 an acceptance,
/// with the version the server named; a non-zero exit after it is the client's program error; with
/// neither, nobody is blamed: undecided.
#[test]
fn two_programs_are_judged_by_what_the_server_said_it_completed() {
    use mtls_lab::lab::program::Program;
    use mtls_lab::verdict::{observe_programs, ServerWords};
    let completed = "mtls-lab: TLS handshake completed (TLSv1.3)\n";
    let server = |output| ServerWords {
        program: Some(Program::Python),
        output,
        rules: &[],
    };
    let client = |exit, exit_text| CommandRun {
        output: "hello\n",
        ..command(Some(exit), exit_text)
    };
    let o = observe_programs(client(0, "exited with status 0"), server(completed), 1);
    assert_eq!(
        (o.outcome, o.tls_version.as_deref()),
        (Outcome::Accepted, Some("TLSv1.3"))
    );
    let o = observe_programs(client(1, "exited with status 1"), server(completed), 1);
    assert_eq!(o.outcome, Outcome::ProgramError);
    assert_eq!(
        o.detail.as_deref(),
        Some("the server command completed the handshake, but the client command exited with status 1; its last line: hello")
    );
    for (exit, text) in [(0, "exited with status 0"), (1, "exited with status 1")] {
        let o = observe_programs(client(exit, text), server("listening\n"), 1);
        assert_eq!(
            (o.outcome, o.by, o.reason),
            (Outcome::Undecided, None, None),
            "{exit}"
        );
    }
}
