//! Resolving servers and what peers share with them: TLS versions, cipher suites, chains, revocation
//! checking, pins, listen and target addresses, and external commands with their placeholders.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use super::{Names, Resolver};
use crate::lab::command::{self, CommandTemplate, Loopback, Ready};
use crate::lab::error::{LabError, LoadError, Problem};
use crate::lab::{
    CertRef, Certificate, Chain, CipherSuiteName, ClientAuth, Pin, RevocationCheck, RuleVerdict,
    Server, ServerCommand, ServerKind, Side, TlsVersion, VerdictRule, START_TIMEOUT,
};
use crate::spec::{self, ChainMode, ChainSpec, LabFile, Policy, RevocationDepth};

impl Resolver<'_> {
    /// Resolves every server, with its name index (a server with an error is `None`); a built-in server
    /// or a server command presents only a certificate it has the key of. A target needs no key: it runs
    /// with its own, and its certificate only tells what it presents.
    pub(super) fn servers(
        &self,
        file: &LabFile,
        names: &Names,
        certificates: &[Option<Certificate>],
    ) -> (Vec<Option<Server>>, HashMap<String, usize>) {
        let mut servers = Vec::new();
        let mut server_index = HashMap::new();
        for (name, s) in &file.servers {
            server_index.insert(name.clone(), servers.len());
            let server = self.server(name, s, names).and_then(|s| {
                // A certificate with an error of its own (`None`) is reported already.
                let target = matches!(s.kind, ServerKind::Target(_));
                if let (false, Some(certificate)) = (target, &certificates[s.certificate]) {
                    let field = format!("servers.{}.certificate", s.name);
                    self.presentable(&field, certificate)?;
                }
                Ok(s)
            });
            servers.push(self.keep(server));
        }
        (servers, server_index)
    }

    pub(super) fn chain(
        &self,
        field: &str,
        c: Option<&ChainSpec>,
        names: &Names,
    ) -> Result<Chain, Box<LoadError>> {
        Ok(match c {
            None | Some(ChainSpec::Mode(ChainMode::Full)) => Chain::Full,
            Some(ChainSpec::Mode(ChainMode::Leaf)) => Chain::Leaf,
            Some(ChainSpec::List(list)) => Chain::List(
                list.iter()
                    .enumerate()
                    .map(|(i, n)| self.cert_ref(&format!("{field}[{i}]"), n, names))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// A verifier's trust anchors: authorities, or certificates trusted directly.
    pub(super) fn trust(
        &self,
        field: &str,
        trust: &[String],
        names: &Names,
    ) -> Result<Vec<CertRef>, Box<LoadError>> {
        trust
            .iter()
            .enumerate()
            .map(|(i, n)| self.cert_ref(&format!("{field}[{i}]"), n, names))
            .collect()
    }

    /// A verifier's revocation checking, with the CRLs it has (`crls`, each an authority that publishes one).
    pub(super) fn revocation(
        &self,
        field: &str,
        r: Option<&spec::RevocationCheckSpec>,
        names: &Names,
    ) -> Result<Option<RevocationCheck>, Box<LoadError>> {
        let Some(r) = r else { return Ok(None) };
        if names.crls.is_empty() {
            return Err(self.err(
                field,
                None,
                LabError::invalid(field, Problem::RevocationWithoutCrl),
                Some("give an authority `revokes: [...]` or `crl: {}` to publish a CRL".into()),
            ));
        }
        let crls = match &r.crls {
            None => None,
            Some(list) => {
                let mut out = Vec::new();
                for (i, n) in list.iter().enumerate() {
                    let f = format!("{field}.crls[{i}]");
                    let a = self.resolve(&f, n, "authority", names.authorities)?;
                    if !names.crls.contains(n.as_str()) {
                        return Err(self.invalid(
                            &f,
                            n,
                            Problem::NoCrl {
                                authority: n.clone(),
                            },
                        ));
                    }
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
                Some(out)
            }
        };
        Ok(Some(RevocationCheck {
            end_entity_only: r.check == Some(RevocationDepth::EndEntity),
            allow_unknown: r.unknown == Some(Policy::Allow),
            deny_expired: r.expired == Some(Policy::Deny),
            crls,
        }))
    }

    pub(super) fn ciphers(
        &self,
        field: &str,
        c: Option<&[CipherSuiteName]>,
        versions: &[TlsVersion],
    ) -> Result<Option<Vec<CipherSuiteName>>, Box<LoadError>> {
        let Some(c) = c else { return Ok(None) };
        if !c.iter().any(|s| versions.contains(&s.version())) {
            return Err(self.invalid(field, "ciphers", Problem::CiphersOutsideVersions));
        }
        Ok(Some(c.to_vec()))
    }

    pub(super) fn pins(
        &self,
        field: &str,
        pins: &[String],
        names: &Names,
    ) -> Result<Vec<Pin>, Box<LoadError>> {
        use base64::Engine;
        let mut out = Vec::new();
        for (i, p) in pins.iter().enumerate() {
            let f = format!("{field}[{i}]");
            // `sha256//BASE64` is curl's `--pinnedpubkey` form, `sha256/BASE64` HPKP's.
            if let Some(b64) = p
                .strip_prefix("sha256//")
                .or_else(|| p.strip_prefix("sha256/"))
            {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| self.invalid(&f, p, Problem::PinNotBase64 { error: e }))?;
                let hash: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| self.invalid(&f, p, Problem::PinLength))?;
                out.push(Pin::Sha256(hash));
            } else {
                out.push(Pin::Key(self.cert_ref(&f, p, names)?));
            }
        }
        Ok(out)
    }

    pub(super) fn server(
        &self,
        name: &str,
        s: &spec::ServerSpec,
        names: &Names,
    ) -> Result<Server, Box<LoadError>> {
        let field = format!("servers.{name}");
        let certificate = self.resolve(
            &format!("{field}.certificate"),
            &s.certificate,
            "certificate",
            names.certificates,
        )?;
        // `trust: []` with client authentication is a server that trusts nothing: it refuses every client
        // certificate (`unknown_issuer`), as an OpenSSL server with an empty CA list does.
        let trust = self.trust(&format!("{field}.trust"), &s.trust, names)?;
        let client_auth = s.client_auth.unwrap_or(ClientAuth::Required);
        let versions = self.versions(&format!("{field}.tls"), s.tls.as_deref())?;
        let kind = self.server_kind(&field, s, names)?;
        Ok(Server {
            name: name.to_string(),
            kind,
            certificate,
            trust,
            client_auth,
            ciphers: self.ciphers(&format!("{field}.ciphers"), s.ciphers.as_deref(), &versions)?,
            versions,
            chain: self.chain(&format!("{field}.chain"), s.chain.as_ref(), names)?,
            revocation: self.revocation(
                &format!("{field}.revocation"),
                s.revocation.as_ref(),
                names,
            )?,
        })
    }

    pub(super) fn server_kind(
        &self,
        field: &str,
        s: &spec::ServerSpec,
        names: &Names,
    ) -> Result<ServerKind, Box<LoadError>> {
        let listen = match &s.listen {
            Some(l) => Some(
                Loopback::parse(l)
                    .map_err(|why| self.invalid(&format!("{field}.listen"), l, why))?,
            ),
            None => None,
        };
        let command_only = [
            ("cwd", s.cwd.is_some()),
            ("env", !s.env.is_empty()),
            ("ready", s.ready.is_some()),
            ("start_timeout", s.start_timeout.is_some()),
            ("verdicts", !s.verdicts.is_empty()),
        ];
        match (&s.command, &s.target) {
            (Some(_), Some(t)) => {
                Err(self.invalid(&format!("{field}.target"), t, Problem::CommandAndTarget))
            }
            (None, target) => {
                if let Some((f, _)) = command_only.iter().find(|(_, given)| *given) {
                    return Err(self.invalid(
                        &format!("{field}.{f}"),
                        f,
                        Problem::CommandOnly {
                            field: f,
                            side: Side::Server,
                        },
                    ));
                }
                match target {
                    Some(t) => {
                        if listen.is_some() {
                            return Err(self.invalid(
                                &format!("{field}.listen"),
                                "listen",
                                Problem::ListenWithTarget,
                            ));
                        }
                        let l = Loopback::parse(t)
                            .map_err(|why| self.invalid(&format!("{field}.target"), t, why))?;
                        if l.port == 0 {
                            return Err(self.invalid(
                                &format!("{field}.target"),
                                t,
                                Problem::TargetWithoutPort,
                            ));
                        }
                        Ok(ServerKind::Target(l))
                    }
                    None => {
                        let addr = match listen {
                            None => None,
                            Some(l) => {
                                let ip = match l.host.parse::<IpAddr>() {
                                    Ok(ip) => ip,
                                    Err(_) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                                };
                                Some(SocketAddr::new(ip, l.port))
                            }
                        };
                        Ok(ServerKind::BuiltIn { listen: addr })
                    }
                }
            }
            (Some(argv), None) => {
                let template = self.command(field, argv, s.cwd.as_ref(), &s.env, names)?;
                let listen = listen.unwrap_or(Loopback {
                    host: "127.0.0.1".into(),
                    port: 0,
                });
                let start_timeout = match &s.start_timeout {
                    Some(t) => command::parse_duration(t)
                        .map_err(|why| self.invalid(&format!("{field}.start_timeout"), t, why))?,
                    None => START_TIMEOUT,
                };
                Ok(ServerKind::Command(ServerCommand {
                    template,
                    listen,
                    ready: match s.ready {
                        Some(spec::ReadySpec::Tcp) => Ready::Tcp,
                        _ => Ready::Tls,
                    },
                    start_timeout,
                    verdicts: self.verdict_rules(field, &s.verdicts, Side::Server)?,
                }))
            }
        }
    }

    /// Parses a command's argv, working directory and environment, checking every placeholder's name.
    /// The rules of a command's `verdicts:` (`field` is the command's peer), checked: `output` is not
    /// empty; either `side` (with an optional `reason`) or `program_error: true`; a server command's rules
    /// take no `exit`.
    pub(super) fn verdict_rules(
        &self,
        field: &str,
        rules: &[spec::VerdictRuleSpec],
        of: Side,
    ) -> Result<Vec<VerdictRule>, Box<LoadError>> {
        let mut out = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let f = format!("{field}.verdicts[{i}]");
            let bad = |key: &str, token: &str, problem: Problem| {
                self.invalid(&format!("{f}.{key}"), token, problem)
            };
            if r.output.is_empty() {
                return Err(bad("output", "", Problem::VerdictRule { why: "`output` is the text the program's output must contain; it cannot be empty" }));
            }
            if let (Some(e), Side::Server) = (r.exit, of) {
                return Err(bad("exit", &e.to_string(), Problem::VerdictRule { why: "a server command's words are read while it runs: its rules take no `exit`" }));
            }
            let means = match (r.program_error, r.side, r.reason) {
                (true, None, None) => RuleVerdict::ProgramError,
                (true, _, _) => {
                    return Err(bad("program_error", "program_error", Problem::VerdictRule { why: "a program error is no TLS verdict: give either `program_error: true` or `side` and `reason`, not both" }))
                }
                (false, Some(side), reason) => RuleVerdict::Refused { side, reason },
                (false, None, Some(reason)) => {
                    return Err(bad("reason", reason.code(), Problem::VerdictRule { why: "name the side that refused: `side: client` or `side: server`" }))
                }
                (false, None, None) => {
                    return Err(self.invalid(&f, "output", Problem::VerdictRule { why: "say what the words mean: `side` (and `reason`), or `program_error: true`" }))
                }
            };
            out.push(VerdictRule {
                output: r.output.clone(),
                exit: r.exit,
                means,
            });
        }
        Ok(out)
    }

    pub(super) fn command(
        &self,
        field: &str,
        argv: &[String],
        cwd: Option<&String>,
        env: &BTreeMap<String, String>,
        names: &Names,
    ) -> Result<CommandTemplate, Box<LoadError>> {
        if argv.is_empty() || argv[0].trim().is_empty() {
            return Err(self.invalid(
                &format!("{field}.command"),
                "command",
                Problem::EmptyCommand,
            ));
        }
        let template = |f: String, text: &str| -> Result<Vec<command::Piece>, Box<LoadError>> {
            // `${NAME}` path variables first (e.g. the submission's directory), then `{placeholders}`.
            let text = &self.substitute(&f, text, |v| self.command_value(v))?;
            if text.contains('\0') {
                return Err(self.invalid(&f, "\\0", Problem::NulInCommand));
            }
            let pieces = command::parse_template(text).map_err(|e| {
                let token = e.token().to_string();
                self.invalid(&f, &token, e)
            })?;
            for p in &pieces {
                let command::Piece::Var(v) = p else { continue };
                use command::Placeholder as P;
                let (name, crl) = match v {
                    P::Cert(n) | P::Key(n) | P::Chain(n) | P::P12(n) | P::Pin(n) => (n, false),
                    P::Crl(n) => (n, true),
                    _ => continue,
                };
                if crl {
                    self.resolve(&f, name, "authority", names.authorities)?;
                    if !names.crls.contains(name.as_str()) {
                        return Err(self.invalid(
                            &f,
                            name,
                            Problem::NoCrl {
                                authority: name.clone(),
                            },
                        ));
                    }
                } else if !names.authorities.contains_key(name.as_str()) {
                    let all: HashMap<String, usize> = names
                        .certificates
                        .iter()
                        .chain(names.authorities.iter())
                        .map(|(k, v)| (k.clone(), *v))
                        .collect();
                    self.resolve(&f, name, "certificate or authority", &all)?;
                }
            }
            Ok(pieces)
        };
        let argv = argv
            .iter()
            .enumerate()
            .map(|(i, a)| template(format!("{field}.command[{i}]"), a))
            .collect::<Result<Vec<_>, _>>()?;
        let cwd = match cwd {
            Some(c) => Some(template(format!("{field}.cwd"), c)?),
            None => None,
        };
        let mut vars = Vec::new();
        for (k, v) in env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(self.invalid(&format!("{field}.env.{k}"), k, Problem::BadEnvName));
            }
            vars.push((k.clone(), template(format!("{field}.env.{k}"), v)?));
        }
        Ok(CommandTemplate {
            argv,
            cwd,
            env: vars,
        })
    }

    pub(super) fn versions(
        &self,
        field: &str,
        v: Option<&[TlsVersion]>,
    ) -> Result<Vec<TlsVersion>, Box<LoadError>> {
        match v {
            None => Ok(vec![TlsVersion::Tls13, TlsVersion::Tls12]),
            Some([]) => Err(self.invalid(field, "[]", Problem::NoVersions)),
            Some(v) => {
                let mut out = Vec::new();
                for x in [TlsVersion::Tls13, TlsVersion::Tls12] {
                    if v.contains(&x) {
                        out.push(x);
                    }
                }
                Ok(out)
            }
        }
    }
}
