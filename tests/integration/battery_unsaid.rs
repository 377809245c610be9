//! A client under test that refuses every bad server silently (it prints nothing and exits 0): a derived
//! case whose alert names several reasons (`certificate_expired`, `bad_certificate`) is refused by the
//! client with the alert OpenSSL sends for its reason, so it passes as "refused (reason not said)" — the
//! refusal observed, the reason not claimed — and takes its points; where one alert means one reason
//! (`unknown_ca`) the reason is read from it; a written case with the same silence stays exact and fails.

use crate::common;

use common::case;
use mtls_lab::lab::battery::{self, Failure};
use mtls_lab::report::battery::{matrix, Verdict};
use mtls_lab::run::Status;
use mtls_lab::spec::{Outcome, Side};

/// The seed's client, verifying as the seed does, but swallowing every error without a word.
const SILENT_CLIENT: &str = "import ssl, sys, urllib.request\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\nctx.load_verify_locations('../ca/ca.crt')\nctx.load_cert_chain('../client/client.crt', '../client/client.key')\ntry:\n    print(urllib.request.urlopen(sys.argv[1], context=ctx).read().decode())\nexcept Exception:\n    pass\n";

fn lab(script: &std::path::Path) -> String {
    format!(
        r#"
lab: battery-silent-client
authorities:
  ca: {{ subject: {{ O: Battery Lab, CN: Battery CA }} }}
certificates:
  server: {{ issuer: ca, subject: {{ CN: localhost }}, san: [dns:localhost, ip:127.0.0.1], usage: server }}
  client: {{ issuer: ca, subject: {{ O: Battery Lab, CN: battery-client }}, usage: client }}
servers:
  web: {{ certificate: server, trust: [ca] }}
cases:
  - name: silent client goes through
    client:
      command: [python3, "{0}", "{{url}}"]
      cwd: "{{pki}}/client"
    expect: {{ outcome: accepted, server_saw: {{ CN: battery-client }} }}
    battery: standard
  - name: written expired case stays exact
    server: web
    client:
      command: [python3, "{0}", "{{url}}"]
      cwd: "{{pki}}/client"
    at: +3650d
    expect: {{ outcome: rejected, by: client, reason: expired }}
"#,
        script.display()
    )
}

#[test]
fn a_client_that_refuses_silently_is_refused_reason_not_said_and_keeps_its_points() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("silent_client.py");
    std::fs::write(&script, SILENT_CLIENT).unwrap();
    let r = common::run(&lab(&script));
    let of = "silent client goes through";
    common::assert_accepted(&r, of);
    let m = matrix(std::slice::from_ref(&r));
    assert_eq!(m.len(), 1, "{m:#?}");
    use Failure as F;
    use Verdict as V;
    let rows: Vec<(Failure, Verdict)> = m[0].rows.iter().map(|r| (r.failure, r.verdict)).collect();
    assert_eq!(
        rows,
        vec![
            (F::ServerExpired, V::RefusedReasonNotSaid),
            (F::ServerNotYetValid, V::RefusedReasonNotSaid),
            (F::ServerOtherName, V::RefusedReasonNotSaid),
            // One alert, one reason: read from the alert (`unknown_ca`, `unsupported_certificate`).
            (F::ServerUnknownCa, V::RefusedRightReason),
            (F::ServerRogueCa, V::RefusedRightReason),
            (F::ServerClientAuthOnly, V::RefusedRightReason),
            (F::ServerRevoked, V::Skipped),
            (F::ServerIntermediateLeftOut, V::Skipped),
            (F::ServerSelfSigned, V::RefusedRightReason),
        ]
    );
    assert_eq!(m[0].refused_reason_not_said, 3);
    // Each: refused by the client, no reason claimed, OpenSSL's alert for the reason, full points.
    for (f, alert) in [
        (F::ServerExpired, "certificate_expired"),
        (F::ServerNotYetValid, "bad_certificate"),
        (F::ServerOtherName, "bad_certificate"),
    ] {
        let c = case(&r, &battery::case_name(of, f));
        let o = c.observed.as_ref().expect("observed");
        assert_eq!(
            (c.status, o.outcome, o.by, o.reason, o.alert.as_deref()),
            (
                Status::Passed,
                Outcome::Rejected,
                Some(Side::Client),
                None,
                Some(alert)
            ),
            "{f:?}: {o:#?}"
        );
        let detail = o.detail.as_deref().unwrap_or_default();
        assert!(
            detail.contains(&format!(
                "the program did not say why; the alert it sent, {alert}, is one a refusal for `"
            )),
            "{detail}"
        );
        assert_eq!(c.grade.points, c.grade.max_points, "{f:?}");
    }
    // A written case is held to its reason: the same silence fails it.
    let written = case(&r, "written expired case stays exact");
    assert_eq!(written.status, Status::Failed, "{:?}", written.messages);
    assert!(
        written.messages[0]
            .starts_with("expected rejected by client: expired, observed rejected by client"),
        "{:?}",
        written.messages
    );
}
