//! Known programs in their own words: how curl, `openssl s_client` and Python's `ssl` report a TLS
//! failure — exit status and exact error text — read as a verdict ([`Said`]) of the program's own side.
//!
//! Every entry carries the message it was taken from, as the program printed it here (curl 7.88.1 with
//! OpenSSL 3.0, OpenSSL 3.0 `s_client` and `verify`, Python 3.11 `ssl`), against certificates made with
//! `mtls-lab pki`. The verify strings are OpenSSL's (`X509_verify_cert_error_string`), which all three
//! print: curl after `SSL certificate problem: `, `s_client` after `verify error:num=N:`, Python after
//! `certificate verify failed: `.
//!
//! Which program a command runs, and which reasons each can report, is the lab's
//! ([`crate::lab::program`]): a lab is checked against it when it is loaded.
//!
//! A Python server command runs with a `sitecustomize` ([`PYTHON_SERVER_HOOK`]): `socketserver` (under
//! the seed's `http.server`) drops a failed TLS handshake without a word, so the hook prints Python's
//! own `ssl` error for each, and a line for each completed one.
//!
//! The x509-limbo runs (`mtls-lab limbo`) added the verify strings of name constraints, issuers and IP
//! addresses, and OpenSSL's refusal of a server's CertificateVerify signature, as they saw them.

use crate::reason::Reason;

pub use crate::lab::program::{identify, Program};

/// What a program said about a connection, in its own words (`message`: the line it printed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// Its own verifier refused the peer's certificate; `reason` is `None` when the words name no single reason.
    Refused {
        reason: Option<Reason>,
        message: String,
    },
    /// It received this alert: the peer refused.
    AlertReceived { alert: String, message: String },
    /// It failed before or outside TLS: its own files, its arguments, the HTTP exchange after an accepted
    /// handshake.
    ProgramError { message: String },
    /// A server program completed a TLS handshake (its own words, or the Python hook's line).
    Completed { message: String },
}

/// One line of an OpenSSL verify string: the text, the reason it names, and where it was seen.
pub struct VerifyString {
    pub text: &'static str,
    pub reason: Reason,
    /// The real output it was taken from.
    pub seen: &'static str,
}

/// OpenSSL's certificate verification errors, as curl, `s_client` and Python print them.
pub const VERIFY_STRINGS: &[VerifyString] = &[
    VerifyString {
        text: "unable to get local issuer certificate",
        reason: Reason::UnknownIssuer,
        seen: "curl: (60) SSL certificate problem: unable to get local issuer certificate",
    },
    VerifyString {
        text: "self-signed certificate in certificate chain",
        reason: Reason::UnknownIssuer,
        seen: "curl: (60) SSL certificate problem: self-signed certificate in certificate chain",
    },
    VerifyString {
        text: "self-signed certificate",
        reason: Reason::UnknownIssuer,
        seen: "openssl verify: error 18 at 0 depth lookup: self-signed certificate",
    },
    VerifyString {
        text: "certificate has expired",
        reason: Reason::Expired,
        seen: "verify error:num=10:certificate has expired",
    },
    VerifyString {
        text: "certificate is not yet valid",
        reason: Reason::NotYetValid,
        seen: "openssl verify: error 9 at 0 depth lookup: certificate is not yet valid",
    },
    VerifyString {
        text: "unsuitable certificate purpose",
        reason: Reason::WrongPurpose,
        seen: "verify error:num=26:unsuitable certificate purpose",
    },
    VerifyString {
        text: "hostname mismatch",
        reason: Reason::NameMismatch,
        seen: "verify error:num=62:hostname mismatch",
    },
    VerifyString {
        text: "Hostname mismatch, certificate is not valid for",
        reason: Reason::NameMismatch,
        seen: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'localhost'. (_ssl.c:1006)",
    },
    VerifyString {
        text: "IP address mismatch, certificate is not valid for",
        reason: Reason::NameMismatch,
        seen: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, certificate is not valid for '127.0.0.1'. (_ssl.c:1006)",
    },
    VerifyString {
        text: "certificate revoked",
        reason: Reason::Revoked,
        seen: "openssl verify -crl_check: error 23 at 0 depth lookup: certificate revoked",
    },
    VerifyString {
        text: "unable to get certificate CRL",
        reason: Reason::RevocationUnknown,
        seen: "openssl verify -crl_check: error 3 at 0 depth lookup: unable to get certificate CRL",
    },
    VerifyString {
        text: "invalid CA certificate",
        reason: Reason::IssuerNotCa,
        seen: "openssl verify: error 79 at 1 depth lookup: invalid CA certificate",
    },
    VerifyString {
        text: "path length constraint exceeded",
        reason: Reason::PathLenExceeded,
        seen: "openssl verify: error 25 at 2 depth lookup: path length constraint exceeded",
    },
    VerifyString {
        text: "permitted subtree violation",
        reason: Reason::NameConstraints,
        seen: "openssl verify: error 47 at 0 depth lookup: permitted subtree violation",
    },
    VerifyString {
        text: "excluded subtree violation",
        reason: Reason::NameConstraints,
        seen: "verify error:num=48:excluded subtree violation",
    },
    VerifyString {
        text: "unsupported name constraint type",
        reason: Reason::NameConstraints,
        seen: "verify error:num=51:unsupported name constraint type",
    },
    // Raised while names are checked against name constraints (OpenSSL's `nc_match`).
    VerifyString {
        text: "unsupported or invalid name syntax",
        reason: Reason::NameConstraints,
        seen: "verify error:num=53:unsupported or invalid name syntax",
    },
    VerifyString {
        text: "unable to get issuer certificate",
        reason: Reason::UnknownIssuer,
        seen: "verify error:num=2:unable to get issuer certificate",
    },
    VerifyString {
        text: "IP address mismatch",
        reason: Reason::NameMismatch,
        seen: "verify error:num=64:IP address mismatch",
    },
];

/// A fixed message of one program: an exit status (`None`: any) and text, and what it says.
pub struct Rule {
    pub program: Program,
    pub exit: Option<i32>,
    /// Text the output must contain.
    pub text: &'static str,
    pub means: Means,
    /// The real output it was taken from.
    pub seen: &'static str,
}

/// What a [`Rule`] means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Means {
    Refused(Reason),
    ProgramError,
    /// A server program completed a handshake.
    Completed,
}

/// Messages that are not OpenSSL verify strings or alerts.
pub const RULES: &[Rule] = &[
    Rule {
        program: Program::OpensslServer,
        exit: None,
        text: "peer did not return a certificate",
        means: Means::Refused(Reason::CertificateRequired),
        seen: "401718CED37F0000:error:0A0000C7:SSL routines:tls_process_client_certificate:peer did not return a certificate:../ssl/statem/statem_srvr.c:3517:",
    },
    Rule {
        program: Program::Python,
        exit: None,
        text: "PEER_DID_NOT_RETURN_A_CERTIFICATE",
        means: Means::Refused(Reason::CertificateRequired),
        seen: "mtls-lab: TLS handshake failed: ssl.SSLError: [SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE] peer did not return a certificate (_ssl.c:1006)",
    },
    Rule {
        program: Program::Python,
        exit: None,
        text: "[SSL: BAD_SIGNATURE]",
        means: Means::Refused(Reason::BadSignature),
        seen: "mtls-lab: TLS handshake failed: ssl.SSLError: [SSL: BAD_SIGNATURE] bad signature (_ssl.c:1006)",
    },
    Rule {
        program: Program::Python,
        exit: None,
        text: "mtls-lab: TLS handshake completed",
        means: Means::Completed,
        seen: "mtls-lab: TLS handshake completed (TLSv1.3)",
    },
    Rule {
        program: Program::Python,
        exit: None,
        text: "Connection refused",
        means: Means::ProgramError,
        seen: "Connection refused. Is the server running?",
    },
    Rule {
        program: Program::Curl,
        exit: Some(60),
        text: "SSL: no alternative certificate subject name matches target host name",
        means: Means::Refused(Reason::NameMismatch),
        seen: "curl: (60) SSL: no alternative certificate subject name matches target host name 'localhost'",
    },
    // The server's CertificateVerify signature does not verify with its certificate's key (OpenSSL's
    // SSL_R_BAD_SIGNATURE, raised after the chain was verified): a certificate presented with a key that
    // is not its own.
    Rule {
        program: Program::Curl,
        exit: Some(35),
        text: "SSL routines::bad signature",
        means: Means::Refused(Reason::BadSignature),
        seen: "curl: (35) OpenSSL/3.0.19: error:0A00007B:SSL routines::bad signature",
    },
    Rule {
        program: Program::OpensslClient,
        exit: None,
        text: "tls_process_cert_verify:bad signature",
        means: Means::Refused(Reason::BadSignature),
        seen: "40F75EC5297F0000:error:0A00007B:SSL routines:tls_process_cert_verify:bad signature:../ssl/statem/statem_lib.c:545:",
    },
    // curl prints the first error of OpenSSL's queue: for an RSA CertificateVerify signature that does not
    // verify, RSA's own words come before `bad signature`; a signature of another key type's scheme is
    // `wrong signature type`. Each follows the verification of the chain.
    // Whichever of RSA's words comes first depends on the signature's bytes: `first octet invalid`, `last
    // octet invalid`, `salt length recovery failed`, `data too large for modulus` were all seen. A curl
    // that presents no key of its own meets RSA only in the server's signatures.
    Rule {
        program: Program::Curl,
        exit: Some(35),
        text: "rsa routines::",
        means: Means::Refused(Reason::BadSignature),
        seen: "curl: (35) OpenSSL/3.0.19: error:02000085:rsa routines::first octet invalid",
    },
    Rule {
        program: Program::Curl,
        exit: Some(35),
        text: "SSL routines::wrong signature type",
        means: Means::Refused(Reason::BadSignature),
        seen: "curl: (35) OpenSSL/3.0.19: error:0A000172:SSL routines::wrong signature type",
    },
    Rule {
        program: Program::OpensslClient,
        exit: None,
        text: "tls12_check_peer_sigalg:wrong signature type",
        means: Means::Refused(Reason::BadSignature),
        seen: "404726E61F7F0000:error:0A000172:SSL routines:tls12_check_peer_sigalg:wrong signature type:../ssl/t1_lib.c:1498:",
    },
    // A certificate OpenSSL cannot process (its extensions, or its issuer's key, do not decode), refused
    // while the handshake reads it.
    Rule {
        program: Program::Curl,
        exit: Some(35),
        text: "X509 V3 routines::invalid certificate",
        means: Means::Refused(Reason::BadEncoding),
        seen: "curl: (35) OpenSSL/3.0.19: error:1100009E:X509 V3 routines::invalid certificate",
    },
    Rule {
        program: Program::Curl,
        exit: Some(35),
        text: "digital envelope routines::decode error",
        means: Means::Refused(Reason::BadEncoding),
        seen: "curl: (35) OpenSSL/3.0.19: error:03000072:digital envelope routines::decode error",
    },
    Rule {
        program: Program::Curl,
        exit: Some(90),
        text: "SSL: public key does not match pinned public key",
        means: Means::Refused(Reason::PinMismatch),
        seen: "curl: (90) SSL: public key does not match pinned public key",
    },
    Rule {
        program: Program::Curl,
        exit: Some(58),
        text: "unable to set private key file",
        means: Means::ProgramError,
        seen: "curl: (58) unable to set private key file: 'pki/client/clent.key' type PEM",
    },
    Rule {
        program: Program::Curl,
        exit: Some(58),
        text: "could not load PEM client certificate",
        means: Means::ProgramError,
        seen: "curl: (58) could not load PEM client certificate from pki/client/clent.crt, OpenSSL error error:80000002:system library::No such file or directory, (no key found, wrong pass phrase, or wrong file format?)",
    },
    Rule {
        program: Program::Curl,
        exit: Some(77),
        text: "error setting certificate file",
        means: Means::ProgramError,
        seen: "curl: (77) error setting certificate file: pki/ca/ca.cr",
    },
    Rule {
        program: Program::Curl,
        exit: Some(2),
        text: "is unknown",
        means: Means::ProgramError,
        seen: "curl: option --bogus: is unknown",
    },
    Rule {
        program: Program::Curl,
        exit: Some(7),
        text: "Failed to connect",
        means: Means::ProgramError,
        seen: "curl: (7) Failed to connect to localhost port 5449 after 0 ms: Couldn't connect to server",
    },
    Rule {
        program: Program::Curl,
        exit: Some(22),
        text: "The requested URL returned error",
        means: Means::ProgramError,
        seen: "curl: (22) The requested URL returned error: 404",
    },
    Rule {
        program: Program::OpensslClient,
        exit: None,
        text: "Could not open file or uri for loading",
        means: Means::ProgramError,
        seen: "Could not open file or uri for loading client certificate private key from pki/client/clent.key",
    },
    Rule {
        program: Program::OpensslClient,
        exit: None,
        text: "Unknown option",
        means: Means::ProgramError,
        seen: "s_client: Unknown option: -bogus",
    },
    Rule {
        program: Program::Python,
        exit: None,
        text: "FileNotFoundError",
        means: Means::ProgramError,
        seen: "FileNotFoundError: [Errno 2] No such file or directory",
    },
    Rule {
        program: Program::Python,
        exit: None,
        text: "[SSL] PEM lib",
        means: Means::ProgramError,
        seen: "ssl.SSLError: [SSL] PEM lib (_ssl.c:3926)",
    },
];

/// Where each program puts an OpenSSL verify string.
const VERIFY_PREFIXES: &[(Program, &str)] = &[
    // curl: (60) SSL certificate problem: certificate has expired
    (Program::Curl, "SSL certificate problem: "),
    // verify error:num=10:certificate has expired / Verify return code: 10 (certificate has expired)
    (Program::OpensslClient, "verify error:num="),
    // [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)
    (Program::Python, "certificate verify failed: "),
    // depth=0 O = Elsewhere, CN = stranger / verify error:num=20:unable to get local issuer certificate
    (Program::OpensslServer, "verify error:num="),
];

/// OpenSSL's names of the alerts it received (`ssl/ssl_err.c`, seen as `tlsv13 alert certificate required`
/// from curl, `s_client` and Python, and `sslv3 alert handshake failure` over TLS 1.2), as RFC names.
const ALERT_PREFIXES: &[&str] = &["tlsv13 alert ", "tlsv1 alert ", "sslv3 alert "];

/// The `sitecustomize.py` a Python server command runs with: each failed server-side handshake's
/// `ssl` error and each completed one, on stderr, as Python words them.
pub const PYTHON_SERVER_HOOK: &str = r#"# Written by mtls-lab for a Python server command. socketserver (under http.server) drops a
# failed TLS handshake without a word: this prints Python's own ssl error for each, and a line for
# each completed one, on stderr, so that the runner can read the server's verdict.
import ssl as _ssl
import sys as _sys


def _mtls_lab_hook(cls):
    handshake = cls.do_handshake

    def do_handshake(self, *args, **kwargs):
        try:
            result = handshake(self, *args, **kwargs)
        except (_ssl.SSLWantReadError, _ssl.SSLWantWriteError):
            raise
        except _ssl.SSLError as e:
            if getattr(self, "server_side", False):
                print(f"mtls-lab: TLS handshake failed: {type(e).__module__}.{type(e).__name__}: {e}",
                      file=_sys.stderr, flush=True)
            raise
        if getattr(self, "server_side", False):
            print(f"mtls-lab: TLS handshake completed ({self.version()})", file=_sys.stderr, flush=True)
        return result

    cls.do_handshake = do_handshake


_mtls_lab_hook(_ssl.SSLSocket)
_mtls_lab_hook(_ssl.SSLObject)
"#;

/// Reads what `program` said, given its exit status (`None`: killed by a signal) and its output (stdout
/// and stderr); `None` when its words say nothing this module knows.
pub fn read(program: Program, exit: Option<i32>, output: &str) -> Option<Said> {
    // `s_client` without -verify_return_error prints verify errors and goes on: only a failed run refuses.
    // curl exits 0 only after a response: any refusal in its output was another command's.
    if matches!(program, Program::OpensslClient | Program::Curl) && exit == Some(0) {
        return None;
    }
    // `s_client` and `s_server` go on after a verify error unless they refuse: then OpenSSL's
    // `tls_post_process_server_certificate:certificate verify failed` (or `tls_process_client_certificate:…`)
    // follows. A verify error alone, with a failure for another reason (the peer's alert), is no refusal.
    let refused = !matches!(program, Program::OpensslServer | Program::OpensslClient)
        || output.contains("certificate verify failed");
    if let Some(said) = verify_failure(program, output).filter(|_| refused) {
        return Some(said);
    }
    if let Some(rule) = RULES.iter().find(|r| {
        r.program == program && r.exit.is_none_or(|e| exit == Some(e)) && output.contains(r.text)
    }) {
        let message = line_with(output, rule.text);
        return Some(match rule.means {
            Means::Refused(reason) => Said::Refused {
                reason: Some(reason),
                message,
            },
            Means::ProgramError => Said::ProgramError { message },
            Means::Completed => Said::Completed { message },
        });
    }
    if let Some(said) = alert_received(output) {
        return Some(said);
    }
    match (program, exit) {
        // curl's "peer certificate cannot be authenticated" with words not listed above.
        (Program::Curl, Some(60)) => Some(Said::Refused {
            reason: None,
            message: line_with(output, "curl: (60)"),
        }),
        // A Python script that crashed: its traceback's last line.
        (Program::Python, Some(c))
            if c != 0 && output.contains("Traceback (most recent call last)") =>
        {
            Some(Said::ProgramError {
                message: output
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            })
        }
        _ => None,
    }
}

/// An OpenSSL verify string after the program's prefix.
fn verify_failure(program: Program, output: &str) -> Option<Said> {
    let prefix = VERIFY_PREFIXES
        .iter()
        .find(|(p, _)| *p == program)
        .map(|(_, s)| *s)?;
    let line = output.lines().find(|l| l.contains(prefix))?;
    let after = &line[line.find(prefix)? + prefix.len()..];
    // s_client: `10:certificate has expired`.
    let after = match program {
        Program::OpensslClient | Program::OpensslServer => {
            after.split_once(':').map_or(after, |(_, s)| s)
        }
        _ => after,
    };
    // The longest string that starts the text (`self-signed certificate` is a prefix of another).
    let reason = VERIFY_STRINGS
        .iter()
        .filter(|v| after.starts_with(v.text))
        .max_by_key(|v| v.text.len())
        .map(|v| v.reason);
    Some(Said::Refused {
        reason,
        message: line.trim().to_string(),
    })
}

/// An alert the program received, named the way OpenSSL names it (`tlsv13 alert certificate required`).
fn alert_received(output: &str) -> Option<Said> {
    for line in output.lines() {
        for prefix in ALERT_PREFIXES {
            if let Some(at) = line.find(prefix) {
                let rest = &line[at + prefix.len()..];
                let words: Vec<&str> = rest
                    .split(|c: char| !(c.is_ascii_lowercase() || c == ' '))
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect();
                if words.is_empty() {
                    continue;
                }
                return Some(Said::AlertReceived {
                    alert: words.join("_"),
                    message: line.trim().to_string(),
                });
            }
        }
    }
    None
}

/// The first line of `output` containing `text`, trimmed.
fn line_with(output: &str, text: &str) -> String {
    output
        .lines()
        .find(|l| l.contains(text))
        .unwrap_or(text)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl s_client` without -verify_return_error prints a verify error and goes on; when the
    /// server then refuses it (its alert), the refusal is the server's, not the client's: a verify error
    /// is a refusal only with OpenSSL's `certificate verify failed`. curl's exit 0 refuses nothing.
    #[test]
    fn a_verify_error_openssl_went_on_after_is_no_refusal() {
        let went_on = "depth=0 CN = localhost\nverify error:num=20:unable to get local issuer certificate\n4077:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../ssl/record/rec_layer_s3.c:1584:SSL alert number 40\n";
        match read(Program::OpensslClient, Some(1), went_on) {
            Some(Said::AlertReceived { alert, .. }) => assert_eq!(alert, "handshake_failure"),
            other => panic!("{other:?}"),
        }
        let refused = "verify error:num=62:hostname mismatch\n4077:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889:\n";
        match read(Program::OpensslClient, Some(1), refused) {
            Some(Said::Refused { reason, .. }) => assert_eq!(reason, Some(Reason::NameMismatch)),
            other => panic!("{other:?}"),
        }
        let two_curls =
            "curl: (60) SSL certificate problem: unable to get local issuer certificate\nhello\n";
        assert!(read(Program::Curl, Some(0), two_curls).is_none());
    }

    /// The fallbacks after the tables: curl's exit 60 in words no table lists is a refusal with no single
    /// reason; a Python script that crashed is a program error with its traceback's last line; a
    /// traceback in the output of a script that exited 0 is neither.
    #[test]
    fn curl_60_and_a_python_traceback_are_read_after_the_tables() {
        let curl =
            "curl: (60) SSL certificate problem: some words no table lists\nMore details here";
        match read(Program::Curl, Some(60), curl) {
            Some(Said::Refused { reason, message }) => {
                assert_eq!(reason, None);
                assert_eq!(
                    message,
                    "curl: (60) SSL certificate problem: some words no table lists"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(read(Program::Curl, Some(61), "curl: (61) something else").is_none());
        let traceback = "Traceback (most recent call last):\n  File \"client.py\", line 3, in <module>\nZeroDivisionError: division by zero\n\n";
        match read(Program::Python, Some(1), traceback) {
            Some(Said::ProgramError { message }) => {
                assert_eq!(message, "ZeroDivisionError: division by zero")
            }
            other => panic!("{other:?}"),
        }
        assert!(read(Program::Python, Some(0), traceback).is_none());
        assert!(read(Program::Python, Some(1), "no traceback here").is_none());
    }

    /// Every entry's real message reads as the entry says.
    #[test]
    fn every_entry_reads_its_own_message() {
        for r in RULES {
            let said = read(r.program, r.exit.or(Some(1)), r.seen).expect(r.seen);
            match (r.means, said) {
                (Means::Refused(want), Said::Refused { reason, .. }) => {
                    assert_eq!(reason, Some(want), "{}", r.seen)
                }
                (Means::ProgramError, Said::ProgramError { .. }) => {}
                (Means::Completed, Said::Completed { .. }) => {}
                (m, s) => panic!("{}: {m:?} read as {s:?}", r.seen),
            }
        }
        for v in VERIFY_STRINGS {
            for (p, prefix) in VERIFY_PREFIXES {
                let text = match p {
                    Program::OpensslClient | Program::OpensslServer => {
                        format!("{prefix}1:{}\ncertificate verify failed", v.text)
                    }
                    _ => format!("{prefix}{}", v.text),
                };
                assert_eq!(
                    read(*p, Some(1), &text),
                    Some(Said::Refused {
                        reason: Some(v.reason),
                        message: text.lines().next().unwrap_or_default().to_string()
                    }),
                    "{text}"
                );
            }
        }
    }

    /// What the lab allows a program to report is what this module reads from it.
    #[test]
    fn every_reason_read_is_one_the_lab_allows() {
        use crate::reason::Side;
        for v in VERIFY_STRINGS {
            assert!(
                crate::lab::program::VERIFY_REASONS.contains(&v.reason),
                "{}",
                v.text
            );
        }
        for r in RULES {
            if let Means::Refused(reason) = r.means {
                let side = if r.program.plays(Side::Client)
                    && !matches!(
                        r.text,
                        "PEER_DID_NOT_RETURN_A_CERTIFICATE" | "[SSL: BAD_SIGNATURE]"
                    ) {
                    Side::Client
                } else {
                    Side::Server
                };
                assert!(r.program.reports(side, reason), "{}", r.seen);
            }
        }
    }

    #[test]
    fn alerts_received_are_named_as_the_rfc_does() {
        let line = "curl: (56) OpenSSL SSL_read: OpenSSL/3.0.19: error:0A00045C:SSL routines::tlsv13 alert certificate required, errno 0";
        assert_eq!(
            read(Program::Curl, Some(56), line),
            Some(Said::AlertReceived {
                alert: "certificate_required".into(),
                message: line.into()
            })
        );
        let line = "ssl.SSLError: [SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure (_ssl.c:1006)";
        assert!(matches!(
            read(Program::Python, Some(1), line),
            Some(Said::AlertReceived { alert, .. }) if alert == "handshake_failure"
        ));
    }

    #[test]
    fn s_client_that_went_on_is_not_a_refusal() {
        let out = "verify error:num=20:unable to get local issuer certificate\nVerify return code: 21 (unable to verify the first certificate)";
        assert_eq!(read(Program::OpensslClient, Some(0), out), None);
    }
}
