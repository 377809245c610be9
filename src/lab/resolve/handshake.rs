//! Resolving the handshake's settings and assertions: a server's certificates by SNI, ALPN and groups on
//! both sides, a client's SNI, and what `expect` says the handshake negotiated.

use rustls::pki_types::ServerName;

use super::{Names, Resolver};
use crate::lab::error::{LoadError, Problem};
use crate::lab::{GroupName, NegotiatedExpect, San, ServerKind, Sni};
use crate::spec::{self, AlpnExpect, Expect, SniSpec};

/// A server's handshake settings: certificates by SNI, ALPN protocols, groups.
pub(super) type ServerHandshake = (Vec<(String, usize)>, Vec<String>, Option<Vec<GroupName>>);

/// A built-in client's handshake settings: SNI, ALPN protocols, groups.
pub(super) type ClientHandshake = (Sni, Vec<String>, Option<Vec<GroupName>>);

impl Resolver<'_> {
    /// The handshake settings of server `field` (`kind` already resolved): each `sni_certificates` key a DNS
    /// name and each value a certificate, ALPN protocols of 1 to 255 bytes, at least one group. All three
    /// configure the built-in server only.
    pub(super) fn server_handshake(
        &self,
        field: &str,
        s: &spec::ServerSpec,
        kind: &ServerKind,
        names: &Names,
    ) -> Result<ServerHandshake, Box<LoadError>> {
        if !matches!(kind, ServerKind::BuiltIn { .. }) {
            for (f, given) in [
                ("sni_certificates", !s.sni_certificates.is_empty()),
                ("alpn", s.alpn.is_some()),
                ("groups", s.groups.is_some()),
            ] {
                if given {
                    return Err(self.invalid(
                        &format!("{field}.{f}"),
                        f,
                        Problem::BuiltInServerOnly { field: f },
                    ));
                }
            }
        }
        let mut by_name = Vec::new();
        let sf = format!("{field}.sni_certificates");
        for (name, cert) in &s.sni_certificates {
            if !is_dns_name(name) {
                return Err(self.invalid(
                    &sf,
                    name,
                    Problem::Handshake {
                        why: "a key of `sni_certificates` is a DNS name a client sends as SNI (clients send no SNI for an IP address)",
                    },
                ));
            }
            let index = self.resolve(&sf, cert, "certificate", names.certificates)?;
            by_name.push((name.to_ascii_lowercase(), index));
        }
        let alpn = self.alpn(&format!("{field}.alpn"), s.alpn.as_deref())?;
        let groups = self.groups(&format!("{field}.groups"), s.groups.as_deref())?;
        Ok((by_name, alpn, groups))
    }

    /// A built-in client's SNI, ALPN protocols and groups.
    pub(super) fn client_handshake(
        &self,
        cf: &str,
        cl: &spec::ClientSpec,
    ) -> Result<ClientHandshake, Box<LoadError>> {
        let sni = match &cl.sni {
            None | Some(SniSpec::Flag(true)) => Sni::Verified,
            Some(SniSpec::Flag(false)) => Sni::Omitted,
            Some(SniSpec::Name(n)) => {
                if !is_dns_name(n) {
                    return Err(self.invalid(
                        &format!("{cf}.sni"),
                        n,
                        Problem::Handshake {
                            why: "SNI carries a DNS name (RFC 6066 §3): write a name, `true` or `false`",
                        },
                    ));
                }
                Sni::Name(n.clone())
            }
        };
        let alpn = self.alpn(&format!("{cf}.alpn"), cl.alpn.as_deref())?;
        let groups = self.groups(&format!("{cf}.groups"), cl.groups.as_deref())?;
        Ok((sni, alpn, groups))
    }

    fn alpn(&self, field: &str, alpn: Option<&[String]>) -> Result<Vec<String>, Box<LoadError>> {
        let Some(list) = alpn else {
            return Ok(Vec::new());
        };
        if list.is_empty() {
            return Err(self.invalid(
                field,
                "[]",
                Problem::Handshake {
                    why: "list at least one ALPN protocol, or leave `alpn` out to offer none",
                },
            ));
        }
        for (i, p) in list.iter().enumerate() {
            if p.is_empty() || p.len() > 255 {
                return Err(self.invalid(
                    &format!("{field}[{i}]"),
                    p,
                    Problem::Handshake {
                        why: "an ALPN protocol name is 1 to 255 bytes (RFC 7301 §3.1), e.g. `h2`, `http/1.1`",
                    },
                ));
            }
        }
        Ok(list.to_vec())
    }

    fn groups(
        &self,
        field: &str,
        groups: Option<&[GroupName]>,
    ) -> Result<Option<Vec<GroupName>>, Box<LoadError>> {
        match groups {
            None => Ok(None),
            Some([]) => Err(self.invalid(
                field,
                "[]",
                Problem::Handshake {
                    why: "list at least one key-exchange group, or leave `groups` out for all",
                },
            )),
            Some(g) => Ok(Some(g.to_vec())),
        }
    }

    /// What `expect` (at `field`) says the handshake negotiated. `client_saw` and `signature_scheme` are
    /// seen by the built-in client only.
    pub(super) fn negotiated_expect(
        &self,
        field: &str,
        e: &Expect,
        client_command: bool,
    ) -> Result<NegotiatedExpect, Box<LoadError>> {
        let Expect::Full(f) = e else {
            return Ok(NegotiatedExpect::default());
        };
        if client_command {
            for (name, given) in [
                ("client_saw", f.client_saw.is_some()),
                ("signature_scheme", f.signature_scheme.is_some()),
            ] {
                if given {
                    return Err(self.invalid(
                        &format!("{field}.{name}"),
                        name,
                        Problem::Handshake {
                            why: "this is what the built-in client saw; a client command's view is not observable",
                        },
                    ));
                }
            }
        }
        if let Some(s) = &f.client_saw {
            for (i, san) in s.san.iter().enumerate() {
                San::parse(san).map_err(|why| {
                    self.invalid(&format!("{field}.client_saw.san[{i}]"), san, why)
                })?;
            }
        }
        let alpn =
            match &f.alpn {
                None => None,
                Some(AlpnExpect::Flag(false)) => Some(None),
                Some(AlpnExpect::Flag(true)) => return Err(self.invalid(
                    &format!("{field}.alpn"),
                    "true",
                    Problem::Handshake {
                        why: "name the protocol agreed, e.g. `alpn: h2`, or write `false` for none",
                    },
                )),
                Some(AlpnExpect::Protocol(p)) => Some(Some(p.clone())),
            };
        Ok(NegotiatedExpect {
            client_saw: f.client_saw.clone(),
            tls_version: f.tls_version,
            cipher_suite: f.cipher_suite,
            group: f.group,
            signature_scheme: f.signature_scheme,
            alpn,
        })
    }
}

/// Whether `name` is a DNS name (not an IP address) rustls can send as SNI.
fn is_dns_name(name: &str) -> bool {
    matches!(ServerName::try_from(name), Ok(ServerName::DnsName(_)))
}
