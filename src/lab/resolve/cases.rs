//! Resolving cases: the server a case connects to, its client (built-in or command), and its expectation
//! and checks, each computed once.

use std::collections::HashMap;

use super::{Names, Resolver};
use crate::lab::command;
use crate::lab::error::{did_you_mean, LabError, LoadError};
use crate::lab::{
    Case, Checks, Client, ClientCommand, Expectation, Outcome, San, Server, Side,
    CLIENT_COMMAND_TIMEOUT,
};
use crate::spec::{self, Expect, ExpectFull};

impl Resolver<'_> {

    pub(super) fn case(
        &self,
        field: &str,
        c: &spec::CaseSpec,
        servers: &[Server],
        server_index: &HashMap<String, usize>,
        names: &Names,
        publishes_crl: bool,
    ) -> Result<Case, LoadError> {
        if c.name.trim().is_empty() {
            return Err(self.invalid(&format!("{field}.name"), "", "a case needs a name"));
        }
        let server = match &c.server {
            Some(s) => self.resolve(&format!("{field}.server"), s, "server", server_index)?,
            None if servers.len() == 1 => 0,
            None => {
                return Err(self.err(
                    field,
                    None,
                    LabError::Invalid {
                        field: format!("{field}.server"),
                        why: if servers.is_empty() {
                            "the lab defines no server to connect to".into()
                        } else {
                            "the lab has several servers; name the one this case connects to".into()
                        },
                    },
                    None,
                ))
            }
        };
        let cf = format!("{field}.client");
        let command = match &c.client.command {
            None => {
                for (f, given) in [
                    ("cwd", c.client.cwd.is_some()),
                    ("env", !c.client.env.is_empty()),
                    ("timeout", c.client.timeout.is_some()),
                ] {
                    if given {
                        return Err(self.invalid(
                            &format!("{cf}.{f}"),
                            f,
                            format!("`{f}` applies to a client `command` only"),
                        ));
                    }
                }
                None
            }
            Some(argv) => {
                let cl = &c.client;
                for (f, given) in [
                    ("certificate", cl.certificate.is_some()),
                    ("trust", cl.trust.is_some()),
                    ("server_name", cl.server_name.is_some()),
                    ("tls", cl.tls.is_some()),
                    ("ciphers", cl.ciphers.is_some()),
                    ("chain", cl.chain.is_some()),
                    ("revocation", cl.revocation.is_some()),
                    ("pin", cl.pin.is_some()),
                ] {
                    if given {
                        return Err(self.err(
                            &format!("{cf}.{f}"),
                            Some(f),
                            LabError::Invalid {
                                field: format!("{cf}.{f}"),
                                why: format!("`{f}` configures the built-in client; a client `command` is configured by its own arguments"),
                            },
                            Some("pass the certificate, key and CA to the command with placeholders, e.g. `--cert {cert:client}`".into()),
                        ));
                    }
                }
                if servers[server].is_external() {
                    return Err(self.invalid(
                        &format!("{cf}.command"),
                        "command",
                        format!("server `{}` is external: a client command runs against a built-in server (with two external programs nothing is observable)", servers[server].name),
                    ));
                }
                let timeout = match &cl.timeout {
                    Some(t) => command::parse_duration(t)
                        .map_err(|why| self.invalid(&format!("{cf}.timeout"), t, why))?,
                    None => CLIENT_COMMAND_TIMEOUT,
                };
                Some(ClientCommand {
                    template: self.command(&cf, argv, cl.cwd.as_ref(), &cl.env, names)?,
                    timeout,
                })
            }
        };
        let trust_names = match (&c.client.trust, &command) {
            (Some(t), _) => t.clone(),
            (None, Some(_)) => Vec::new(),
            (None, None) => {
                return Err(self.err(
                    &cf,
                    None,
                    LabError::Shape {
                        message: format!("{cf}: missing field `trust`"),
                    },
                    Some("list the authorities the client trusts, e.g. `trust: [ca]` (`[]` trusts nothing)".into()),
                ))
            }
        };
        let certificate = match &c.client.certificate {
            Some(n) => Some(self.resolve(
                &format!("{cf}.certificate"),
                n,
                "certificate",
                names.certificates,
            )?),
            None => None,
        };
        let trust = self.names(
            &format!("{cf}.trust"),
            &trust_names,
            "authority",
            names.authorities,
        )?;
        let server_name = c
            .client
            .server_name
            .clone()
            .unwrap_or_else(|| "localhost".into());
        if rustls::pki_types::ServerName::try_from(server_name.as_str()).is_err() {
            return Err(self.invalid(
                &format!("{cf}.server_name"),
                &server_name,
                "not a DNS name or IP address",
            ));
        }
        let versions = self.versions(&format!("{cf}.tls"), c.client.tls.as_deref())?;
        let pins = self.pins(
            &format!("{cf}.pin"),
            c.client.pin.as_deref().unwrap_or_default(),
            names,
        )?;
        if c.client.pin.as_ref().is_some_and(|p| p.is_empty()) {
            return Err(self.invalid(
                &format!("{cf}.pin"),
                "[]",
                "list at least one pin, or omit `pin`",
            ));
        }
        if trust.is_empty() && (!pins.is_empty() || c.client.revocation.is_some()) {
            let what = if pins.is_empty() { "revocation" } else { "pin" };
            return Err(self.invalid(
                &format!("{cf}.trust"),
                "[]",
                format!("a client with `{what}` verifies the chain first and needs at least one trusted authority"),
            ));
        }
        let at = match &c.at {
            Some(t) => Some(self.time(&format!("{field}.at"), t)?),
            None => None,
        };
        Ok(Case {
            name: c.name.clone(),
            line: self.positions.value(field).line,
            server,
            client: Client {
                certificate,
                trust,
                server_name,
                ciphers: self.ciphers(
                    &format!("{cf}.ciphers"),
                    c.client.ciphers.as_deref(),
                    &versions,
                )?,
                versions,
                chain: self.chain(&format!("{cf}.chain"), c.client.chain.as_ref(), names)?,
                revocation: self.revocation(
                    &format!("{cf}.revocation"),
                    c.client.revocation.as_ref(),
                    publishes_crl,
                )?,
                pins,
                command: command.clone(),
            },
            grading: {
                let expect = self.expectation(
                    &format!("{field}.expect"),
                    &c.expect,
                    servers[server].is_external(),
                    command.is_some(),
                )?;
                let checks = self.checks(
                    &format!("{field}.expect"),
                    &c.expect,
                    servers[server].is_external(),
                    command.is_some(),
                )?;
                self.grading(
                    field,
                    c.points,
                    c.score.as_ref(),
                    &c.requires,
                    c.hidden,
                    Some((&expect, &checks)),
                )?
            },
            expect: self.expectation(
                &format!("{field}.expect"),
                &c.expect,
                servers[server].is_external(),
                command.is_some(),
            )?,
            checks: self.checks(
                &format!("{field}.expect"),
                &c.expect,
                servers[server].is_external(),
                command.is_some(),
            )?,
            at,
            tags: c.tags.clone(),
        })
    }

    /// `expect.alert`, `expect.exit`, `expect.output`, and which fields an external peer makes unobservable.
    pub(super) fn checks(
        &self,
        field: &str,
        e: &Expect,
        external_server: bool,
        client_command: bool,
    ) -> Result<Checks, LoadError> {
        let Expect::Full(f) = e else {
            return Ok(Checks::default());
        };
        if let Some(a) = &f.alert {
            if f.outcome == Outcome::Accepted {
                return Err(self.invalid(
                    &format!("{field}.alert"),
                    a,
                    "`alert` describes a rejection; this case expects `accepted`",
                ));
            }
            if !crate::reason::ALERT_NAMES.contains(&a.as_str()) {
                let names: Vec<String> = crate::reason::ALERT_NAMES
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                return Err(self.err(
                    &format!("{field}.alert"),
                    Some(a),
                    LabError::Invalid {
                        field: format!("{field}.alert"),
                        why: format!("`{a}` is not a TLS alert name"),
                    },
                    did_you_mean(a, names.iter()),
                ));
            }
        }
        if !client_command {
            for (name, given) in [("exit", f.exit.is_some()), ("output", f.output.is_some())] {
                if given {
                    return Err(self.invalid(
                        &format!("{field}.{name}"),
                        name,
                        format!("`{name}` checks a client command; this case's client is the built-in one"),
                    ));
                }
            }
        }
        if client_command && f.status.is_some() {
            return Err(self.invalid(
                &format!("{field}.status"),
                "status",
                "the HTTP status a client command received is not observable; check its `exit` or `output` instead",
            ));
        }
        if external_server && f.server_saw.is_some() {
            return Err(self.invalid(
                &format!("{field}.server_saw"),
                "server_saw",
                "the client identity an external server saw is not observable; check its `output` in a client-command case, or drop `server_saw`",
            ));
        }
        Ok(Checks {
            alert: f.alert.clone(),
            exit: f.exit,
            output: f.output.clone(),
        })
    }

    pub(super) fn expectation(
        &self,
        field: &str,
        e: &Expect,
        external_server: bool,
        client_command: bool,
    ) -> Result<Expectation, LoadError> {
        let full = match e {
            Expect::Short(Outcome::Accepted) => {
                return Ok(Expectation::Accepted {
                    server_saw: None,
                    status: None,
                })
            }
            Expect::Short(Outcome::Rejected) => {
                return Err(self.err(
                    field,
                    Some("rejected"),
                    LabError::Invalid {
                        field: field.to_string(),
                        why: "a rejection must name the side that rejects and the reason".into(),
                    },
                    Some("write `expect: { outcome: rejected, by: server, reason: certificate_required }`".into()),
                ))
            }
            Expect::Full(f) => f,
        };
        let ExpectFull {
            outcome,
            by,
            reason,
            server_saw,
            status,
            ..
        } = full.clone();
        match outcome {
            Outcome::Accepted => {
                if by.is_some() || reason.is_some() {
                    let f = if by.is_some() { "by" } else { "reason" };
                    return Err(self.invalid(
                        &format!("{field}.{f}"),
                        f,
                        "`by` and `reason` describe a rejection; this case expects `accepted`",
                    ));
                }
                if let Some(s) = &server_saw {
                    if s.none
                        && (s.common_name.is_some()
                            || s.organization.is_some()
                            || s.unit.is_some()
                            || !s.san.is_empty())
                    {
                        return Err(self.invalid(
                            &format!("{field}.server_saw.none"),
                            "none",
                            "`none: true` means no client certificate; it cannot be combined with identity fields",
                        ));
                    }
                    for (i, san) in s.san.iter().enumerate() {
                        San::parse(san).map_err(|why| {
                            self.invalid(&format!("{field}.server_saw.san[{i}]"), san, why)
                        })?;
                    }
                }
                Ok(Expectation::Accepted { server_saw, status })
            }
            Outcome::Rejected => {
                if server_saw.is_some() || status.is_some() {
                    let f = if server_saw.is_some() {
                        "server_saw"
                    } else {
                        "status"
                    };
                    return Err(self.invalid(
                        &format!("{field}.{f}"),
                        f,
                        "`server_saw` and `status` describe an accepted connection; this case expects a rejection",
                    ));
                }
                let help = Some(
                    "a rejection names both: `by: server|client` and `reason: CODE`".to_string(),
                );
                if by.is_none() && reason.is_none() && client_command {
                    // A client command expected to fail on its own: no verifier rejects.
                    return Ok(Expectation::Rejected {
                        by: None,
                        reason: None,
                    });
                }
                let by = by.ok_or_else(|| {
                    self.err(
                        field,
                        None,
                        LabError::Invalid {
                            field: format!("{field}.by"),
                            why: "missing: which side rejects?".into(),
                        },
                        help.clone(),
                    )
                })?;
                // The rejecting side is an external program: only its alert (or exit status) is observable.
                let external = match by {
                    Side::Server => external_server,
                    Side::Client => client_command,
                };
                if external {
                    if let Some(r) = reason {
                        if !crate::reason::readable_from_alert(r) {
                            let readable: Vec<&str> = crate::reason::ALERT_REASONS
                                .iter()
                                .map(|(_, r)| r.code())
                                .collect();
                            return Err(self.err(
                                &format!("{field}.reason"),
                                Some(r.code()),
                                LabError::Invalid {
                                    field: format!("{field}.reason"),
                                    why: format!(
                                        "the {} is an external program: its reason is only observable through the alert it sends, and no alert names `{}` alone",
                                        if by == Side::Server { "server" } else { "client" },
                                        r.code()
                                    ),
                                },
                                Some(format!(
                                    "expect the alert instead, e.g. `alert: certificate_expired`, or one of the reasons an alert names: {}",
                                    readable.join(", ")
                                )),
                            ));
                        }
                    }
                    return Ok(Expectation::Rejected {
                        by: Some(by),
                        reason,
                    });
                }
                let reason = reason.ok_or_else(|| {
                    self.err(
                        field,
                        None,
                        LabError::Invalid {
                            field: format!("{field}.reason"),
                            why: "missing: why is the handshake rejected?".into(),
                        },
                        help.clone(),
                    )
                })?;
                Ok(Expectation::Rejected {
                    by: Some(by),
                    reason: Some(reason),
                })
            }
        }
    }
}
