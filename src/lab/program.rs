//! Known programs: which program a command line runs (curl, `openssl s_client`/`s_server`, a Python
//! script), and which reasons each can report in its own words. The words themselves are read by
//! `verdict::programs`; this module is what a lab needs at load time to accept `reason:` for an
//! external peer whose program says it.

use crate::reason::{Reason, Side};

/// A program the runner knows how to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Curl,
    /// `openssl s_client`.
    OpensslClient,
    /// `openssl s_server`.
    OpensslServer,
    /// A Python script (its `ssl` module's errors), client or server.
    Python,
}

/// The reasons OpenSSL's verify strings name (`X509_verify_cert_error_string`), which curl, `openssl`
/// and Python print when their verifier refuses a certificate.
pub const VERIFY_REASONS: &[Reason] = &[
    Reason::UnknownIssuer,
    Reason::Expired,
    Reason::NotYetValid,
    Reason::WrongPurpose,
    Reason::NameMismatch,
    Reason::Revoked,
    Reason::RevocationUnknown,
    Reason::IssuerNotCa,
    Reason::PathLenExceeded,
    Reason::NameConstraints,
];

impl Program {
    /// The program's name, for details.
    pub fn name(self) -> &'static str {
        match self {
            Program::Curl => "curl",
            Program::OpensslClient => "openssl s_client",
            Program::OpensslServer => "openssl s_server",
            Program::Python => "python",
        }
    }

    /// Whether the program can play `side` (curl and `s_client` are clients, `s_server` a server).
    pub fn plays(self, side: Side) -> bool {
        match self {
            Program::Curl | Program::OpensslClient => side == Side::Client,
            Program::OpensslServer => side == Side::Server,
            Program::Python => true,
        }
    }

    /// Whether the program, playing `side`, reports `reason` in its own words: the verify strings, and
    /// curl's pin mismatch, and a server's "peer did not return a certificate".
    pub fn reports(self, side: Side, reason: Reason) -> bool {
        if !self.plays(side) {
            return false;
        }
        VERIFY_REASONS.contains(&reason)
            || match (self, reason) {
                (Program::Curl, Reason::PinMismatch) => true,
                (_, Reason::CertificateRequired) => side == Side::Server,
                // A client's handshake signature that its certificate's key did not make (Python's
                // `[SSL: BAD_SIGNATURE]`).
                (Program::Python, Reason::BadSignature) => side == Side::Server,
                // A server's CertificateVerify signature that its certificate's key did not make
                // (OpenSSL's `bad signature`, which curl and `s_client` print).
                (Program::Curl | Program::OpensslClient, Reason::BadSignature) => {
                    side == Side::Client
                }
                // A server certificate OpenSSL cannot decode while curl's handshake reads it.
                (Program::Curl, Reason::BadEncoding) => side == Side::Client,
                _ => false,
            }
    }

    /// The reasons the program reports playing `side`, for messages.
    pub fn reasons(self, side: Side) -> Vec<Reason> {
        let mut out: Vec<Reason> = VERIFY_REASONS.to_vec();
        out.extend([
            Reason::PinMismatch,
            Reason::CertificateRequired,
            Reason::BadSignature,
        ]);
        out.retain(|r| self.reports(side, *r));
        out
    }
}

/// The program a command line runs: argv\[0\]'s basename (`curl`, `openssl s_client`, `openssl
/// s_server`, `python3` or `python` running a script; under Debian's `faketime TIME` wrapper, the program it runs); for `sh -c SCRIPT`, the last command of the
/// script's last pipeline (whose exit status is the shell's).
pub fn identify(argv: &[String]) -> Option<Program> {
    let base = argv.first()?.rsplit('/').next()?;
    match base {
        // `faketime TIME program …` runs the program at another clock.
        "faketime" => identify(argv.get(2..)?),
        "curl" => Some(Program::Curl),
        "openssl" => match argv.get(1).map(String::as_str) {
            Some("s_client") => Some(Program::OpensslClient),
            Some("s_server") => Some(Program::OpensslServer),
            _ => None,
        },
        b if b == "python" || b.starts_with("python3") => {
            // A script (or `-m module`), not `python -c`.
            (argv.len() > 1 && argv[1] != "-c").then_some(Program::Python)
        }
        "sh" | "bash" | "dash" if argv.get(1).map(String::as_str) == Some("-c") => {
            let script = argv.get(2)?;
            let last = script
                .rsplit(['|', ';', '&', '\n'])
                .map(str::trim)
                .find(|s| !s.is_empty())?;
            let words: Vec<String> = last.split_whitespace().map(str::to_string).collect();
            identify(&words)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn programs_are_known_by_argv0() {
        assert_eq!(
            identify(&argv(&["/usr/bin/curl", "-sS"])),
            Some(Program::Curl)
        );
        assert_eq!(
            identify(&argv(&["openssl", "s_client", "-connect", "x"])),
            Some(Program::OpensslClient)
        );
        assert_eq!(
            identify(&argv(&["openssl", "s_server", "-accept", "127.0.0.1:1"])),
            Some(Program::OpensslServer)
        );
        assert_eq!(identify(&argv(&["openssl", "x509"])), None);
        assert_eq!(
            identify(&argv(&["python3", "client.py"])),
            Some(Program::Python)
        );
        assert_eq!(identify(&argv(&["python3", "-c", "print(1)"])), None);
        assert_eq!(
            identify(&argv(&[
                "sh",
                "-c",
                "printf 'GET /' | openssl s_client -quiet -connect a:1"
            ])),
            Some(Program::OpensslClient)
        );
        assert_eq!(identify(&argv(&["wget", "x"])), None);
        assert_eq!(
            identify(&argv(&["/usr/bin/faketime", "@1700000000", "curl", "-sS"])),
            Some(Program::Curl)
        );
    }

    #[test]
    fn what_each_program_reports() {
        assert!(Program::Curl.reports(Side::Client, Reason::NameMismatch));
        assert!(Program::Curl.reports(Side::Client, Reason::PinMismatch));
        assert!(!Program::Curl.reports(Side::Server, Reason::UnknownIssuer));
        assert!(!Program::Python.reports(Side::Client, Reason::PinMismatch));
        assert!(Program::Python.reports(Side::Server, Reason::CertificateRequired));
        assert!(!Program::Python.reports(Side::Client, Reason::CertificateRequired));
        assert!(Program::OpensslServer.reports(Side::Server, Reason::Expired));
        assert!(!Program::OpensslClient.reports(Side::Client, Reason::HandshakeFailure));
    }
}
