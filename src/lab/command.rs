//! Commands, addresses and waits as a lab writes them: command templates with `{...}` placeholders, loopback
//! addresses and readiness probes (durations are [`super::time`]'s, re-exported here). Their expansion over a run's values is `peer`'s.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub use super::time::parse_duration;

/// One `{...}` placeholder of a command's argument, working directory or environment value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `{cert:NAME}`: the PEM certificate of a certificate or authority.
    Cert(String),
    /// `{key:NAME}`: its PKCS#8 PEM private key.
    Key(String),
    /// `{chain:NAME}`: the certificate followed by its intermediates.
    Chain(String),
    /// `{crl:NAME}`: an authority's CRL (PEM).
    Crl(String),
    /// `{p12:NAME}`: PKCS#12 of the certificate, its key and its chain up to the root (password `mtls-lab`).
    P12(String),
    /// `{pin:NAME}`: curl's `sha256//BASE64` pin of the certificate's public key (RFC 7469).
    Pin(String),
    /// `{pki}`: the directory the PKI was exported to.
    Pki,
    /// `{dir}`: the directory of the lab file (absolute).
    Dir,
    /// `{host}`: the server's host name (`localhost`, or the IP address given).
    Host,
    /// `{ip}`: the server's IP address.
    Ip,
    /// `{port}`: the server's port.
    Port,
    /// `{addr}`: `IP:PORT` (IPv6 in brackets).
    Addr,
    /// `{url}`: `https://HOST:PORT/`.
    Url,
}

/// Why a command template does not parse; [`TemplateError::token`] is the text to underline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateError {
    /// A `{` without its `}`; `token` is the rest of the text from it.
    Unclosed { token: String },
    /// `{KIND:NAME}` with an unknown kind.
    UnknownKind { token: String, kind: String },
    /// `{NAME}` that is no placeholder.
    UnknownPlaceholder { token: String },
    /// A `}` without its `{`.
    Unmatched,
}

impl TemplateError {
    /// The offending text of the template.
    pub fn token(&self) -> &str {
        match self {
            TemplateError::Unclosed { token }
            | TemplateError::UnknownKind { token, .. }
            | TemplateError::UnknownPlaceholder { token } => token,
            TemplateError::Unmatched => "}",
        }
    }
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Unclosed { .. } => {
                f.write_str("unclosed `{` (write `{{` for a literal brace)")
            }
            TemplateError::UnknownKind { kind, .. } => write!(
                f,
                "unknown placeholder kind `{kind}`: use cert, key, chain, crl, p12 or pin"
            ),
            TemplateError::UnknownPlaceholder { token } => write!(
                f,
                "unknown placeholder `{token}`: use {{cert:NAME}}, {{key:NAME}}, {{chain:NAME}}, {{crl:NAME}}, {{p12:NAME}}, {{pin:NAME}}, {{pki}}, {{dir}}, {{host}}, {{ip}}, {{port}}, {{addr}} or {{url}}"
            ),
            TemplateError::Unmatched => {
                f.write_str("unmatched `}` (write `}}` for a literal brace)")
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// Why an address is not a loopback `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// A host that is neither `localhost` nor an IP address.
    #[error("`{value}` is not `localhost` or an IP address")]
    NotHost { value: String },
    /// No `:PORT`.
    #[error("`{value}` is not HOST:PORT, e.g. `localhost:4443`")]
    NotHostPort { value: String },
    /// An IP address off the loopback interface.
    #[error("`{value}` is not a loopback address: labs run on loopback only (127.0.0.1, ::1, localhost)")]
    NotLoopback { value: String },
    /// A port that is not a number from 0 to 65535.
    #[error("`{value}` is not a port number")]
    NotPort { value: String },
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Var(Placeholder),
}

/// Parses a template: `{{` and `}}` are literal braces.
///
/// # Errors
/// [`TemplateError`]: an unclosed or unmatched brace, or an unknown placeholder; its `token()` is the offending text.
pub fn parse_template(s: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|x| x.1) == Some('{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek().map(|x| x.1) == Some('}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let Some(end) = s[i..].find('}') else {
                    return Err(TemplateError::Unclosed {
                        token: s[i..].to_string(),
                    });
                };
                let inner = &s[i + 1..i + end];
                let token = format!("{{{inner}}}");
                let var = match inner.split_once(':') {
                    Some((kind, name)) => {
                        let name = name.to_string();
                        match kind {
                            "cert" => Placeholder::Cert(name),
                            "key" => Placeholder::Key(name),
                            "chain" => Placeholder::Chain(name),
                            "crl" => Placeholder::Crl(name),
                            "p12" => Placeholder::P12(name),
                            "pin" => Placeholder::Pin(name),
                            _ => {
                                return Err(TemplateError::UnknownKind {
                                    token,
                                    kind: kind.to_string(),
                                })
                            }
                        }
                    }
                    None => match inner {
                        "pki" => Placeholder::Pki,
                        "dir" => Placeholder::Dir,
                        "host" => Placeholder::Host,
                        "ip" => Placeholder::Ip,
                        "port" => Placeholder::Port,
                        "addr" => Placeholder::Addr,
                        "url" => Placeholder::Url,
                        _ => return Err(TemplateError::UnknownPlaceholder { token }),
                    },
                };
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Var(var));
                while chars.peek().is_some_and(|(j, _)| *j <= i + end) {
                    chars.next();
                }
            }
            '}' => return Err(TemplateError::Unmatched),
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// A command of a lab, its parts parsed.
#[derive(Debug, Clone)]
pub struct CommandTemplate {
    pub argv: Vec<Vec<Piece>>,
    pub cwd: Option<Vec<Piece>>,
    pub env: Vec<(String, Vec<Piece>)>,
}

impl CommandTemplate {
    /// The known program the command runs ([`super::program::identify`] over its literal text, a
    /// placeholder standing as `{}`).
    pub fn program(&self) -> Option<super::program::Program> {
        let argv: Vec<String> = self
            .argv
            .iter()
            .map(|a| {
                a.iter()
                    .map(|p| match p {
                        Piece::Text(t) => t.as_str(),
                        Piece::Var(_) => "{}",
                    })
                    .collect()
            })
            .collect();
        super::program::identify(&argv)
    }
}

/// A loopback address as a lab writes it: `localhost:4443`, `127.0.0.1:8443`, `[::1]:8443`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loopback {
    pub host: String,
    /// 0: a free port is chosen when the lab runs.
    pub port: u16,
}

impl Loopback {
    /// Parses `HOST:PORT` where HOST is `localhost` or a loopback IP address.
    ///
    /// # Errors
    /// [`AddressError`]: no port, a port or host that does not parse, or an address off loopback.
    pub fn parse(s: &str) -> Result<Loopback, AddressError> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| AddressError::NotHostPort {
                value: s.to_string(),
            })?;
        let port: u16 = port.parse().map_err(|_| AddressError::NotPort {
            value: port.to_string(),
        })?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host != "localhost" {
            let ip: IpAddr = host.parse().map_err(|_| AddressError::NotHost {
                value: host.to_string(),
            })?;
            if !ip.is_loopback() {
                return Err(AddressError::NotLoopback {
                    value: host.to_string(),
                });
            }
        }
        Ok(Loopback {
            host: host.to_string(),
            port,
        })
    }

    /// The addresses to try, in order: both 127.0.0.1 and ::1 for `localhost`.
    pub fn candidates(&self, port: u16) -> Vec<SocketAddr> {
        match self.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            ],
        }
    }

    /// `127.0.0.1:4443 or [::1]:4443`.
    pub fn describe(&self, port: u16) -> String {
        self.candidates(port)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

impl std::fmt::Display for Loopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// How a server command is known to be ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// A TCP connection is accepted.
    Tcp,
    /// A TCP connection is accepted and a TLS handshake attempt gets a TLS answer (any: a ServerHello or an alert).
    Tls,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        assert_eq!(
            Loopback::parse("localhost:4443")
                .unwrap()
                .candidates(4443)
                .len(),
            2
        );
        assert!(Loopback::parse("10.0.0.1:80").is_err());
        assert_eq!(Loopback::parse("[::1]:80").unwrap().host, "::1");
    }
}
