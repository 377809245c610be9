//! Resolving the handshake's settings and assertions: a server's certificates by SNI, ALPN and groups on
//! both sides, a client's SNI, and what `expect` says the handshake negotiated.

use rustls::pki_types::ServerName;

use super::{Names, Resolver};
use crate::lab::error::{LoadError, Problem};
use crate::lab::{CaNames, ClientAuth, GroupName, NegotiatedExpect, San, ServerKind, Sni};
use crate::spec::{self, AlpnExpect, CaNamesMode, CaNamesSpec, Expect, SelectSpec, SniSpec};

/// A server's handshake settings: certificates by SNI, ALPN protocols, groups.
pub(super) type ServerHandshake = (
    Vec<(String, usize)>,
    Vec<String>,
    Option<Vec<GroupName>>,
    CaNames,
);

/// A built-in client's `certificate` and, with `select: by_ca_names`, those it chooses among.
pub(super) type ClientCertificates = (Option<usize>, Option<Vec<usize>>);

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
                ("ca_names", s.ca_names.is_some()),
                ("tickets", s.tickets.is_some()),
                ("share_sessions_with", s.share_sessions_with.is_some()),
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
        let cf = format!("{field}.ca_names");
        let ca_names = match &s.ca_names {
            None | Some(CaNamesSpec::Mode(CaNamesMode::Trusted)) => CaNames::Trusted,
            Some(CaNamesSpec::Mode(CaNamesMode::None)) => CaNames::Empty,
            Some(CaNamesSpec::List(list)) => {
                CaNames::List(self.names(&cf, list, "authority", names.authorities)?)
            }
        };
        if s.ca_names.is_some() && s.client_auth == Some(ClientAuth::None) {
            return Err(self.invalid(
                &cf,
                "ca_names",
                Problem::Handshake {
                    why: "CA names go in the request for a client certificate; this server (`client_auth: none`) asks for none",
                },
            ));
        }
        Ok((by_name, alpn, groups, ca_names))
    }

    /// A case's `resume`: the name of an earlier case whose client is the built-in one, for a case whose
    /// client is the built-in one.
    pub(super) fn resume(
        &self,
        field: &str,
        c: &spec::CaseSpec,
        earlier: &[spec::CaseSpec],
    ) -> Result<(), Box<LoadError>> {
        let Some(name) = &c.resume else {
            return Ok(());
        };
        let f = format!("{field}.resume");
        let refuse = |why: &'static str| Err(self.invalid(&f, name, Problem::Handshake { why }));
        if c.client.command.is_some() {
            return refuse("the built-in client resumes sessions; a client command keeps its own (e.g. `openssl s_client -sess_out FILE`, then `-sess_in FILE`)");
        }
        match earlier.iter().find(|e| &e.name == name) {
            None => {
                let names: Vec<String> = earlier.iter().map(|e| e.name.clone()).collect();
                Err(self.err(
                    &f,
                    Some(name),
                    crate::lab::error::LabError::invalid(
                        &f,
                        Problem::Handshake {
                            why: "`resume` names an earlier case of this lab",
                        },
                    ),
                    crate::lab::error::did_you_mean(name, names.iter()),
                ))
            }
            Some(e) if e.client.command.is_some() => refuse(
                "that case's client is a command: only a built-in client's session can be resumed",
            ),
            Some(e) => {
                let identity = |c: &spec::ClientSpec| {
                    format!(
                        "{:?}",
                        (
                            &c.certificate,
                            &c.certificates,
                            &c.select,
                            &c.trust,
                            &c.chain,
                            &c.pin,
                            &c.revocation,
                            &c.server_name,
                            &c.sni
                        )
                    )
                };
                if identity(&e.client) != identity(&c.client) {
                    return refuse("a resuming client is the earlier case's client: give it the same `certificate`, `trust`, `server_name`, `sni`, `chain`, `pin` and `revocation`");
                }
                Ok(())
            }
        }
    }

    /// The server whose sessions server `name` shares (`share_sessions_with: other`): a built-in server
    /// other than itself that shares no other server's sessions itself (name the one holding them).
    pub(super) fn session_group(
        &self,
        name: &str,
        other: &str,
        file: &spec::LabFile,
        server_index: &std::collections::HashMap<String, usize>,
        servers: &[Option<crate::lab::Server>],
    ) -> Result<usize, Box<LoadError>> {
        let field = format!("servers.{name}.share_sessions_with");
        let index = self.resolve(&field, other, "server", server_index)?;
        let refuse =
            |why: &'static str| Err(self.invalid(&field, other, Problem::Handshake { why }));
        if other == name {
            return refuse("a server shares its own sessions already: name another server");
        }
        if file.servers[other].share_sessions_with.is_some() {
            return refuse(
                "that server shares another server's sessions: name the server that holds them",
            );
        }
        if let Some(Some(s)) = servers.get(index) {
            if !matches!(s.kind, ServerKind::BuiltIn { .. }) {
                return refuse("sessions are shared between built-in servers");
            }
            if Some(s.sessions.tickets) != file.servers[name].tickets.or(Some(false)) {
                return refuse(
                    "servers sharing sessions resume the same way: give both the same `tickets`",
                );
            }
        }
        Ok(index)
    }

    /// A built-in client's certificates to choose from (`certificates`, `select`): `(certificate,
    /// select_by_ca_names)`. Several certificates need `select: by_ca_names`; `certificate` and
    /// `certificates` do not go together.
    pub(super) fn client_certificates(
        &self,
        cf: &str,
        cl: &spec::ClientSpec,
        names: &Names,
    ) -> Result<ClientCertificates, Box<LoadError>> {
        let certificate = match &cl.certificate {
            Some(n) => Some(self.resolve(
                &format!("{cf}.certificate"),
                n,
                "certificate",
                names.certificates,
            )?),
            None => None,
        };
        let by_ca_names = cl.select == Some(SelectSpec::ByCaNames);
        let Some(list) = &cl.certificates else {
            return Ok((
                certificate,
                by_ca_names.then(|| certificate.into_iter().collect()),
            ));
        };
        let f = format!("{cf}.certificates");
        let refuse = |token: &str, why: &'static str| {
            Err(self.invalid(&f, token, Problem::Handshake { why }))
        };
        if cl.certificate.is_some() {
            return refuse(
                "certificates",
                "give either `certificate` (one) or `certificates` (several, with `select: by_ca_names`)",
            );
        }
        if list.is_empty() {
            return refuse(
                "[]",
                "list at least one certificate, or leave `certificates` out to present none",
            );
        }
        if !by_ca_names {
            return refuse(
                "certificates",
                "a client holding several certificates chooses one: add `select: by_ca_names`",
            );
        }
        let all = self.names(&f, list, "certificate", names.certificates)?;
        Ok((all.first().copied(), Some(all)))
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
        if client_command && f.ca_names.is_some() {
            return Err(self.invalid(
                &format!("{field}.ca_names"),
                "ca_names",
                Problem::Handshake {
                    why: "this is what the built-in client saw; a client command's view is not observable",
                },
            ));
        }
        Ok(NegotiatedExpect {
            client_saw: f.client_saw.clone(),
            tls_version: f.tls_version,
            cipher_suite: f.cipher_suite,
            group: f.group,
            signature_scheme: f.signature_scheme,
            alpn,
            ca_names: f.ca_names.clone(),
            resumed: f.resumed,
        })
    }
}

/// Whether `name` is a DNS name (not an IP address) rustls can send as SNI.
fn is_dns_name(name: &str) -> bool {
    matches!(ServerName::try_from(name), Ok(ServerName::DnsName(_)))
}
