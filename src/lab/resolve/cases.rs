//! Resolving cases: the server a case connects to, its client (built-in or command), and its expectation
//! and checks, each computed once.

use std::collections::{HashMap, HashSet};

use super::{Names, Resolver};
use crate::lab::command;
use crate::lab::error::{did_you_mean, LabError, LoadError, Problem};
use crate::lab::program::Program;
use crate::lab::{
    Case, Certificate, Checks, Client, ClientCommand, Expectation, Outcome, San, Server,
    ServerKind, Side, CLIENT_COMMAND_TIMEOUT,
};

/// The known programs of a case's server command and client command, and the (side, reason) verdicts
/// the lab's own rules (`verdicts:`) on them name.
#[derive(Debug, Clone, Default)]
pub(super) struct Programs {
    pub server: Option<Program>,
    pub client: Option<Program>,
    pub named_by_rules: Vec<(Side, crate::reason::Reason)>,
}
use crate::spec::{self, Expect, ExpectFull, LabFile};

impl Resolver<'_> {
    /// Resolves the cases, in order, leaving out (and reporting) those with an error; each name goes into
    /// `item_names`, which holds the checks' names already. A case whose server has an error is left out
    /// unchecked: what it may expect depends on that server.
    pub(super) fn cases(
        &self,
        file: &LabFile,
        names: &Names,
        certificates: &[Option<Certificate>],
        servers: &[Option<Server>],
        server_index: &HashMap<String, usize>,
        item_names: &mut HashSet<String>,
    ) -> Vec<Case> {
        let mut cases = Vec::new();
        // The lab's clock (an error in it is reported already).
        let lab_at = file
            .at
            .as_ref()
            .and_then(|t| Some((self.time("at", t).ok()?, t.as_str())));
        for (i, c) in file.cases.iter().enumerate() {
            let field = format!("cases[{i}]");
            if !item_names.insert(c.name.clone()) {
                self.report(self.err(
                    &format!("{field}.name"),
                    Some(&c.name),
                    LabError::DuplicateCase {
                        name: c.name.clone(),
                    },
                    Some("case names identify results in reports; make each unique".into()),
                ));
                continue;
            }
            let earlier: Vec<&str> = file
                .checks
                .iter()
                .map(|c| c.name.as_str())
                .chain(file.cases[..i].iter().map(|c| c.name.as_str()))
                .collect();
            let case = self
                .case(&field, c, servers, server_index, names)
                .and_then(|case| {
                    let Some(case) = case else { return Ok(None) };
                    if let Some(Some(cert)) = case.client.certificate.map(|i| &certificates[i]) {
                        self.presentable(&format!("{field}.client.certificate"), cert)?;
                    }
                    for i in case.client.select_by_ca_names.iter().flatten() {
                        if let Some(cert) = &certificates[*i] {
                            self.presentable(&format!("{field}.client.certificates"), cert)?;
                        }
                    }
                    if let Some(server) = &servers[case.server] {
                        self.clock_reaches(&field, c, &case, lab_at, server)?;
                    }
                    self.resume(&field, c, &file.cases[..i])?;
                    let what = "a check or an earlier case";
                    self.requires(&field, &c.requires, &earlier, &c.name, what)?;
                    Ok(Some(case))
                });
            cases.extend(self.keep(case).flatten());
        }
        cases
    }

    /// Resolves one case: its server, its client, its expectation and checks (each computed once), its grading.
    fn case(
        &self,
        field: &str,
        c: &spec::CaseSpec,
        servers: &[Option<Server>],
        server_index: &HashMap<String, usize>,
        names: &Names,
    ) -> Result<Option<Case>, Box<LoadError>> {
        if c.name.trim().is_empty() {
            return Err(self.invalid(
                &format!("{field}.name"),
                "",
                Problem::NoName { kind: "case" },
            ));
        }
        let index = self.case_server(field, c, servers, server_index)?;
        let Some(server) = &servers[index] else {
            return Ok(None);
        };
        let client = self.client(field, c, server, names)?;
        let at = match &c.at {
            Some(t) => Some(self.time(&format!("{field}.at"), t)?),
            None => None,
        };
        let ef = format!("{field}.expect");
        let external_server = server.is_external();
        let client_command = client.command.is_some();
        // The known programs on each side, whose own words can name a reason no alert names.
        let programs = Programs {
            server: match &server.kind {
                ServerKind::Command(c) => c.template.program(),
                _ => None,
            },
            client: client.command.as_ref().and_then(|c| c.template.program()),
            named_by_rules: {
                let server_rules = match &server.kind {
                    ServerKind::Command(c) => c.verdicts.as_slice(),
                    _ => &[],
                };
                let client_rules = client.command.as_ref().map_or(&[][..], |c| &c.verdicts);
                server_rules
                    .iter()
                    .chain(client_rules)
                    .filter_map(|r| match r.means {
                        crate::lab::RuleVerdict::Refused {
                            side,
                            reason: Some(reason),
                        } => Some((side, reason)),
                        _ => None,
                    })
                    .collect()
            },
        };
        let server_command = matches!(server.kind, ServerKind::Command(_));
        let expect = self.expectation(&ef, &c.expect, external_server, client_command, programs)?;
        let checks = self.checks(&ef, &c.expect, external_server, client_command)?;
        if let Expect::Full(ExpectFull {
            server_output: Some(_),
            ..
        }) = &c.expect
        {
            if !server_command {
                return Err(self.invalid(
                    &format!("{ef}.server_output"),
                    "server_output",
                    Problem::ServerOutputWithoutCommand,
                ));
            }
        }
        if let Some(crate::spec::BatterySpec::Full(b)) = &c.battery {
            if let Some(p) = b.points.filter(|p| !(0.0..=1e6).contains(p)) {
                return Err(self.invalid(
                    &format!("{field}.battery.points"),
                    &p.to_string(),
                    Problem::BadPoints,
                ));
            }
        }
        let grading = self.grading(
            field,
            c.points,
            c.score.as_ref(),
            &c.requires,
            c.hidden,
            Some((&expect, &checks)),
        )?;
        Ok(Some(Case {
            name: c.name.clone(),
            line: self.positions.value(field).line,
            server: index,
            client,
            expect,
            checks,
            at,
            tags: c.tags.clone(),
            grading,
            derived: None,
        }))
    }

    /// Refuses a virtual clock (`at:`, the case's or the lab's) that an external program of the case cannot
    /// run at: a target (already running), a case's own clock against a server command (started once,
    /// at the lab's clock), and any program when libfaketime is not installed to run it there ([`crate::lab::faketime`]).
    fn clock_reaches(
        &self,
        field: &str,
        c: &spec::CaseSpec,
        case: &Case,
        lab_at: Option<(time::OffsetDateTime, &str)>,
        server: &Server,
    ) -> Result<(), Box<LoadError>> {
        let (at_field, token, whose) = match (&c.at, lab_at) {
            (Some(t), _) => (format!("{field}.at"), t.as_str(), "this case's clock"),
            (None, Some((_, t))) => ("at".to_string(), t, "the lab's clock"),
            (None, None) => return Ok(()),
        };
        let refuse = |problem: Problem, help: &str| {
            self.err(
                &at_field,
                Some(token),
                LabError::invalid(&at_field, problem),
                Some(format!("case `{}`: {help}", case.name)),
            )
        };
        let faketime = crate::lab::faketime::library().is_some();
        let install = "install libfaketime (apt-get install libfaketime; or name it in $MTLS_LAB_LIBFAKETIME) to run the program at the lab's clock, or remove `at:`";
        match &server.kind {
            ServerKind::Target(_) => {
                return Err(refuse(
                    Problem::ClockTarget {
                        whose,
                        server: server.name.clone(),
                    },
                    "remove `at:`, or start the server from the lab as a `command` (run under libfaketime at the lab's clock)",
                ))
            }
            ServerKind::Command(_) if case.at.is_some() && case.at != lab_at.map(|(t, _)| t) => {
                return Err(refuse(
                    Problem::ClockServerCommandOnce {
                        server: server.name.clone(),
                    },
                    "set `at:` on the lab, or test this case against a built-in server",
                ))
            }
            ServerKind::Command(_) if !faketime => {
                return Err(refuse(
                    Problem::ClockNeedsFaketime {
                        whose,
                        peer: format!("server command `{}`", server.name),
                    },
                    install,
                ))
            }
            _ => {}
        }
        if case.client.command.is_some() && !faketime {
            return Err(refuse(
                Problem::ClockNeedsFaketime {
                    whose,
                    peer: "client command".to_string(),
                },
                install,
            ));
        }
        Ok(())
    }

    /// The server a case connects to: the one it names, or the lab's only server.
    fn case_server(
        &self,
        field: &str,
        c: &spec::CaseSpec,
        servers: &[Option<Server>],
        server_index: &HashMap<String, usize>,
    ) -> Result<usize, Box<LoadError>> {
        match &c.server {
            Some(s) => self.resolve(&format!("{field}.server"), s, "server", server_index),
            None if servers.len() == 1 => Ok(0),
            None => Err(self.err(
                field,
                None,
                LabError::invalid(
                    format!("{field}.server"),
                    if servers.is_empty() {
                        Problem::NoServer
                    } else {
                        Problem::WhichServer
                    },
                ),
                None,
            )),
        }
    }

    /// A case's client command, if it has one; a command is configured by its own arguments, not by the
    /// built-in client's fields, and runs against a built-in server.
    fn client_command(
        &self,
        cf: &str,
        cl: &spec::ClientSpec,
        server: &Server,
        names: &Names,
    ) -> Result<Option<ClientCommand>, Box<LoadError>> {
        let Some(argv) = &cl.command else {
            for (f, given) in [
                ("cwd", cl.cwd.is_some()),
                ("env", !cl.env.is_empty()),
                ("timeout", cl.timeout.is_some()),
                ("verdicts", !cl.verdicts.is_empty()),
            ] {
                if given {
                    return Err(self.invalid(
                        &format!("{cf}.{f}"),
                        f,
                        Problem::CommandOnly {
                            field: f,
                            side: Side::Client,
                        },
                    ));
                }
            }
            return Ok(None);
        };
        for (f, given) in [
            ("certificate", cl.certificate.is_some()),
            ("trust", cl.trust.is_some()),
            ("server_name", cl.server_name.is_some()),
            ("tls", cl.tls.is_some()),
            ("ciphers", cl.ciphers.is_some()),
            ("chain", cl.chain.is_some()),
            ("revocation", cl.revocation.is_some()),
            ("pin", cl.pin.is_some()),
            ("sni", cl.sni.is_some()),
            ("alpn", cl.alpn.is_some()),
            ("groups", cl.groups.is_some()),
            ("certificates", cl.certificates.is_some()),
            ("select", cl.select.is_some()),
        ] {
            if given {
                return Err(self.err(
                    &format!("{cf}.{f}"),
                    Some(f),
                    LabError::invalid(format!("{cf}.{f}"), Problem::BuiltInClientOnly { field: f }),
                    Some("pass the certificate, key and CA to the command with placeholders, e.g. `--cert {cert:client}`".into()),
                ));
            }
        }
        // Against a server command, both programs' words decide; a target says nothing.
        if matches!(server.kind, ServerKind::Target(_)) {
            return Err(self.invalid(
                &format!("{cf}.command"),
                "command",
                Problem::ClientCommandAgainstExternal {
                    server: server.name.clone(),
                },
            ));
        }
        let timeout = match &cl.timeout {
            Some(t) => command::parse_duration(t)
                .map_err(|why| self.invalid(&format!("{cf}.timeout"), t, why))?,
            None => CLIENT_COMMAND_TIMEOUT,
        };
        Ok(Some(ClientCommand {
            template: self.command(cf, argv, cl.cwd.as_ref(), &cl.env, names)?,
            timeout,
            verdicts: self.verdict_rules(cf, &cl.verdicts, Side::Client)?,
        }))
    }

    /// A case's client: a command, or the built-in client with its certificate, trust, name, versions,
    /// suites, chain, revocation checking and pins.
    fn client(
        &self,
        field: &str,
        c: &spec::CaseSpec,
        server: &Server,
        names: &Names,
    ) -> Result<Client, Box<LoadError>> {
        let cf = format!("{field}.client");
        let cl = &c.client;
        let command = self.client_command(&cf, cl, server, names)?;
        let trust_names = match (&cl.trust, &command) {
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
        let (certificate, select_by_ca_names) = self.client_certificates(&cf, cl, names)?;
        let trust = self.trust(&format!("{cf}.trust"), &trust_names, names)?;
        let server_name = c
            .client
            .server_name
            .clone()
            .unwrap_or_else(|| "localhost".into());
        if rustls::pki_types::ServerName::try_from(server_name.as_str()).is_err() {
            return Err(self.invalid(
                &format!("{cf}.server_name"),
                &server_name,
                Problem::NotServerName,
            ));
        }
        let versions = self.versions(&format!("{cf}.tls"), cl.tls.as_deref())?;
        let pins = self.pins(
            &format!("{cf}.pin"),
            cl.pin.as_deref().unwrap_or_default(),
            names,
        )?;
        if cl.pin.as_ref().is_some_and(|p| p.is_empty()) {
            return Err(self.invalid(&format!("{cf}.pin"), "[]", Problem::EmptyPins));
        }
        if trust.is_empty() && (!pins.is_empty() || cl.revocation.is_some()) {
            let what = if pins.is_empty() { "revocation" } else { "pin" };
            return Err(self.invalid(
                &format!("{cf}.trust"),
                "[]",
                Problem::VerifyWithoutTrust { what },
            ));
        }
        let (sni, alpn, groups) = self.client_handshake(&cf, cl)?;
        Ok(Client {
            sni,
            alpn,
            groups,
            select_by_ca_names,
            resume: c.resume.clone(),
            certificate,
            trust,
            server_name,
            ciphers: self.ciphers(&format!("{cf}.ciphers"), cl.ciphers.as_deref(), &versions)?,
            versions,
            chain: self.chain(&format!("{cf}.chain"), cl.chain.as_ref(), names)?,
            revocation: self.revocation(
                &format!("{cf}.revocation"),
                cl.revocation.as_ref(),
                names,
            )?,
            pins,
            command,
            key_of: None,
        })
    }

    /// `expect.alert`, `expect.exit`, `expect.output`, and which fields an external peer makes unobservable.
    pub(super) fn checks(
        &self,
        field: &str,
        e: &Expect,
        external_server: bool,
        client_command: bool,
    ) -> Result<Checks, Box<LoadError>> {
        let Expect::Full(f) = e else {
            return Ok(Checks::default());
        };
        if let Some(a) = &f.alert {
            if f.outcome == Outcome::Accepted {
                return Err(self.invalid(&format!("{field}.alert"), a, Problem::AlertOnAccepted));
            }
            if !crate::reason::ALERT_NAMES.contains(&a.as_str()) {
                let names: Vec<String> = crate::reason::ALERT_NAMES
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                return Err(self.err(
                    &format!("{field}.alert"),
                    Some(a),
                    LabError::invalid(
                        format!("{field}.alert"),
                        Problem::UnknownAlert { name: a.clone() },
                    ),
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
                        Problem::ClientCommandCheck { field: name },
                    ));
                }
            }
        }
        if client_command && f.status.is_some() {
            return Err(self.invalid(
                &format!("{field}.status"),
                "status",
                Problem::StatusOfCommand,
            ));
        }
        if external_server && f.server_saw.is_some() {
            return Err(self.invalid(
                &format!("{field}.server_saw"),
                "server_saw",
                Problem::ServerSawOfExternal,
            ));
        }
        Ok(Checks {
            alert: f.alert.clone(),
            exit: f.exit,
            output: f.output.clone(),
            server_output: f.server_output.clone(),
            negotiated: self.negotiated_expect(field, e, client_command)?,
        })
    }

    pub(super) fn expectation(
        &self,
        field: &str,
        e: &Expect,
        external_server: bool,
        client_command: bool,
        programs: Programs,
    ) -> Result<Expectation, Box<LoadError>> {
        let full = match e {
            Expect::Short(Outcome::Accepted) => {
                return Ok(Expectation::Accepted {
                    server_saw: None,
                    status: None,
                })
            }
            // `program_error` is observed, never written (not deserialized).
            Expect::Short(Outcome::Rejected | Outcome::ProgramError | Outcome::Undecided) => {
                return Err(self.err(
                    field,
                    Some("rejected"),
                    LabError::invalid(field, Problem::BareRejection),
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
                        Problem::RejectionFieldOnAccepted,
                    ));
                }
                self.accepted(field, server_saw, status)
            }
            Outcome::Rejected | Outcome::ProgramError | Outcome::Undecided => {
                if server_saw.is_some() || status.is_some() {
                    let f = if server_saw.is_some() {
                        "server_saw"
                    } else {
                        "status"
                    };
                    return Err(self.invalid(
                        &format!("{field}.{f}"),
                        f,
                        Problem::AcceptanceFieldOnRejected,
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
                        LabError::invalid(format!("{field}.by"), Problem::MissingBy),
                        help.clone(),
                    )
                })?;
                // The rejecting side is an external program: only its alert (or exit status) is observable.
                let external = match by {
                    Side::Server => external_server,
                    Side::Client => client_command,
                };
                if external {
                    // A known program names its own reasons (curl's name mismatch, a server's missing
                    // certificate); any other only through its alert.
                    if let Some(r) = reason {
                        self.observable_reason(field, by, r, client_command, programs)?;
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
                        LabError::invalid(format!("{field}.reason"), Problem::MissingReason),
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

    /// An accepted expectation: `server_saw.none` with no identity fields, and each expected SAN parsed.
    fn accepted(
        &self,
        field: &str,
        server_saw: Option<crate::lab::IdentitySpec>,
        status: Option<u16>,
    ) -> Result<Expectation, Box<LoadError>> {
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
                    Problem::NoneWithIdentity,
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

    /// Whether `by`, an external program, can be seen rejecting for `r`: a reason an alert names, one the
    /// known program reports in its own words, one the lab's `verdicts:` rules name, or an external
    /// server's close without an alert, seen by the built-in client.
    fn observable_reason(
        &self,
        field: &str,
        by: Side,
        r: crate::reason::Reason,
        client_command: bool,
        programs: Programs,
    ) -> Result<(), Box<LoadError>> {
        let program = match by {
            Side::Server => programs.server,
            Side::Client => programs.client,
        };
        // An external server that closes without an alert is seen by the built-in client.
        let closed_by_server =
            by == Side::Server && !client_command && r == crate::reason::Reason::ConnectionClosed;
        if !crate::reason::readable_from_alert(r)
            && !program.is_some_and(|p| p.reports(by, r))
            && !programs.named_by_rules.contains(&(by, r))
            && !closed_by_server
        {
            let readable: Vec<&str> = crate::reason::ALERT_REASONS
                .iter()
                .map(|(_, r)| r.code())
                .collect();
            return Err(self.err(
                &format!("{field}.reason"),
                Some(r.code()),
                LabError::invalid(
                    format!("{field}.reason"),
                    Problem::ReasonNotObservable { side: by, reason: r },
                ),
                Some(match program.filter(|p| p.plays(by)) {
                    Some(p) => format!(
                        "expect the alert instead, e.g. `alert: certificate_expired`, or one of the reasons an alert names: {}; or one {} reports in its own words: {}",
                        readable.join(", "),
                        p.name(),
                        p.reasons(by).iter().map(|r| r.code()).collect::<Vec<_>>().join(", ")
                    ),
                    None => format!(
                        "expect the alert instead, e.g. `alert: certificate_expired`, or one of the reasons an alert names: {}",
                        readable.join(", ")
                    ),
                }),
            ));
        }
        Ok(())
    }
}
