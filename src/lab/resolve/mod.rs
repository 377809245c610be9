//! Turns what the user wrote (`spec`) into the validated model, one `impl Resolver` block per concern:
//! [`pki`] (authorities, certificates, CRLs), [`vars`] (path variables, `from:`), [`servers`], [`cases`]
//! (clients and expectations) and [`grading`] (certificate checks, points, `requires`).

mod cases;
mod grading;
mod pki;
mod servers;
mod vars;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ::time::OffsetDateTime;

use crate::lab::error::{did_you_mean, LabError, LoadError};
use crate::lab::load::Origin;
use crate::lab::time::parse_time;
use crate::lab::{CertRef, Lab, Vars};
use crate::spec::yaml::Positions;
use crate::spec::LabFile;

/// Name indices of a lab's authorities and certificates.
struct Names<'a> {
    authorities: &'a HashMap<String, usize>,
    certificates: &'a HashMap<String, usize>,
    /// Authorities that publish a CRL.
    crls: HashSet<String>,
}

pub(in crate::lab) struct Resolver<'a> {
    pub(in crate::lab) path: &'a Path,
    pub(in crate::lab) positions: &'a Positions,
    /// Included files, for errors in the definitions they bring.
    pub(in crate::lab) origins: &'a [Origin],
    pub(in crate::lab) now: OffsetDateTime,
    /// Path variables from the command line; the lab's `vars` give defaults.
    pub(in crate::lab) vars: &'a Vars,
}

impl Resolver<'_> {
    fn err(
        &self,
        field: &str,
        token: Option<&str>,
        error: LabError,
        help: Option<String>,
    ) -> LoadError {
        let (file, positions, source, included_by) = self.origin(field);
        let help = match (help, included_by) {
            (h, None) => h,
            (Some(h), Some(lab)) => Some(format!("{h} (in a file included by {})", lab.display())),
            (None, Some(lab)) => Some(format!("this file is included by {}", lab.display())),
        };
        LoadError {
            file: file.to_path_buf(),
            pos: Some(positions.value(field)),
            error,
            token: token.map(str::to_string),
            help,
            source: source.map(str::to_string),
        }
    }

    /// The file that defines `field`: an included one, or the lab itself.
    /// The last item is the including lab, when `field` comes from an included file.
    fn origin(&self, field: &str) -> (&Path, &Positions, Option<&str>, Option<&Path>) {
        for o in self.origins {
            let defines = o.prefixes.iter().any(|p| {
                field == p
                    || field
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            });
            if defines {
                return (&o.path, &o.positions, Some(&o.source), Some(self.path));
            }
        }
        (self.path, self.positions, None, None)
    }

    /// An error about a mapping key itself (a name), pointing at the key.
    fn key_err(&self, field: &str, token: &str, error: LabError) -> LoadError {
        LoadError {
            pos: Some(self.origin(field).1.key(field)),
            ..self.err(field, Some(token), error, None)
        }
    }

    fn invalid(&self, field: &str, token: &str, why: impl Into<String>) -> LoadError {
        self.err(
            field,
            Some(token),
            LabError::Invalid {
                field: field.to_string(),
                why: why.into(),
            },
            None,
        )
    }

    fn resolve(
        &self,
        field: &str,
        name: &str,
        kind: &'static str,
        names: &HashMap<String, usize>,
    ) -> Result<usize, LoadError> {
        names.get(name).copied().ok_or_else(|| {
            let mut help = did_you_mean(name, names.keys());
            if help.is_none() {
                let mut known: Vec<&String> = names.keys().collect();
                known.sort();
                help = Some(if known.is_empty() {
                    format!("the lab defines no {kind}")
                } else {
                    format!(
                        "defined {kind} names: {}",
                        known
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            }
            self.err(
                field,
                Some(name),
                LabError::UnknownName {
                    field: field.to_string(),
                    kind,
                    name: name.to_string(),
                },
                help,
            )
        })
    }

    pub(in crate::lab) fn lab(&self, file: LabFile) -> Result<Lab, LoadError> {
        if file.lab.trim().is_empty() {
            return Err(self.invalid("lab", "", "the lab needs a name"));
        }
        for name in file.certificates.keys() {
            if file.authorities.contains_key(name) {
                return Err(self.key_err(
                    &format!("certificates.{name}"),
                    name,
                    LabError::DuplicateName { name: name.clone() },
                ));
            }
        }
        for (kind, names) in [
            ("authorities", file.authorities.keys().collect::<Vec<_>>()),
            ("certificates", file.certificates.keys().collect()),
            ("servers", file.servers.keys().collect()),
        ] {
            for name in names {
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    || name.starts_with('.')
                {
                    let field = format!("{kind}.{name}");
                    return Err(self.key_err(
                        &field,
                        name,
                        LabError::Invalid {
                            field: field.clone(),
                            why: "names may use letters, digits, `-`, `_` and `.` (they become directory and file names)".into(),
                        },
                    ));
                }
            }
        }
        let mut authorities = self.authorities(&file.authorities)?;
        let authority_index: HashMap<String, usize> = authorities
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.clone(), i))
            .collect();
        let mut certificates = Vec::new();
        let mut certificate_index = HashMap::new();
        for (name, c) in &file.certificates {
            certificate_index.insert(name.clone(), certificates.len());
            certificates.push(self.certificate(name, c, &authority_index)?);
        }
        let mut names = Names {
            authorities: &authority_index,
            certificates: &certificate_index,
            crls: HashSet::new(),
        };
        for a in authorities.iter_mut() {
            a.crl = self.crl(
                &a.name,
                &file.authorities[&a.name],
                &names,
                &certificates,
                &file.authorities,
            )?;
        }
        // A loaded authority signs only with its key; a loaded certificate is presented only with its key.
        let keyless = |i: usize| {
            authorities[i]
                .from
                .as_ref()
                .is_some_and(|f| f.key.is_none())
        };
        for a in &authorities {
            if let (None, Some(i)) = (&a.from, a.issuer) {
                if keyless(i) {
                    return Err(self.invalid(
                        &format!("authorities.{}.issuer", a.name),
                        &authorities[i].name,
                        format!("authority `{}` is loaded without a key (`from.key`) and cannot sign `{}`", authorities[i].name, a.name),
                    ));
                }
            }
        }
        for c in &certificates {
            if c.from.is_none() && keyless(c.issuer) {
                return Err(self.invalid(
                    &format!("certificates.{}.issuer", c.name),
                    &authorities[c.issuer].name,
                    format!(
                        "authority `{}` is loaded without a key (`from.key`) and cannot sign `{}`",
                        authorities[c.issuer].name, c.name
                    ),
                ));
            }
        }
        let publishes_crl = authorities.iter().any(|a| a.crl.is_some());
        names.crls = authorities
            .iter()
            .filter(|a| a.crl.is_some())
            .map(|a| a.name.clone())
            .collect();
        let mut servers = Vec::new();
        let mut server_index = HashMap::new();
        for (name, s) in &file.servers {
            server_index.insert(name.clone(), servers.len());
            servers.push(self.server(name, s, &names, publishes_crl)?);
        }
        for s in &servers {
            self.presentable(
                &format!("servers.{}.certificate", s.name),
                &certificates[s.certificate],
            )?;
        }
        let at = match &file.at {
            Some(t) => Some(self.time("at", t)?),
            None => None,
        };
        for name in file.vars.keys() {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                let field = format!("vars.{name}");
                return Err(self.key_err(
                    &field,
                    name,
                    LabError::Invalid {
                        field: field.clone(),
                        why: "a variable name uses letters, digits and `_`".into(),
                    },
                ));
            }
        }
        let mut checks = Vec::new();
        let mut case_names = HashSet::new();
        for (i, c) in file.checks.iter().enumerate() {
            let field = format!("checks[{i}]");
            if !case_names.insert(c.name.clone()) {
                return Err(self.err(
                    &format!("{field}.name"),
                    Some(&c.name),
                    LabError::DuplicateCase {
                        name: c.name.clone(),
                    },
                    Some(
                        "check and case names identify results in reports; make each unique".into(),
                    ),
                ));
            }
            let check = self.check(&field, c, &names, &certificates, &authorities)?;
            let earlier: Vec<&str> = file.checks[..i].iter().map(|c| c.name.as_str()).collect();
            self.requires(&field, &c.requires, &earlier, &c.name, "an earlier check")?;
            checks.push(check);
        }
        let mut cases = Vec::new();
        for (i, c) in file.cases.iter().enumerate() {
            let field = format!("cases[{i}]");
            if !case_names.insert(c.name.clone()) {
                return Err(self.err(
                    &format!("{field}.name"),
                    Some(&c.name),
                    LabError::DuplicateCase {
                        name: c.name.clone(),
                    },
                    Some("case names identify results in reports; make each unique".into()),
                ));
            }
            let case = self.case(&field, c, &servers, &server_index, &names, publishes_crl)?;
            if let Some(cert) = case.client.certificate {
                self.presentable(&format!("{field}.client.certificate"), &certificates[cert])?;
            }
            let earlier: Vec<&str> = file
                .checks
                .iter()
                .map(|c| c.name.as_str())
                .chain(file.cases[..i].iter().map(|c| c.name.as_str()))
                .collect();
            self.requires(
                &field,
                &c.requires,
                &earlier,
                &c.name,
                "a check or an earlier case",
            )?;
            cases.push(case);
        }
        if cases.is_empty() && checks.is_empty() {
            return Err(self.invalid("cases", "cases", "the lab has no cases to run"));
        }
        for case in &mut cases {
            for t in &file.tags {
                if !case.tags.contains(t) {
                    case.tags.push(t.clone());
                }
            }
        }
        Ok(Lab {
            name: file.lab,
            description: file.description,
            file: self.path.to_path_buf(),
            authorities,
            certificates,
            servers,
            cases,
            at,
            variant: Vec::new(),
            graded: file
                .cases
                .iter()
                .any(|c| c.points.is_some() || c.score.is_some())
                || file.checks.iter().any(|c| c.points.is_some()),
            checks,
        })
    }

    /// Resolves a name that may be an authority or a certificate.
    fn cert_ref(&self, field: &str, name: &str, names: &Names) -> Result<CertRef, LoadError> {
        if let Some(i) = names.authorities.get(name) {
            return Ok(CertRef::Authority(*i));
        }
        let all: HashMap<String, usize> = names
            .certificates
            .iter()
            .chain(names.authorities.iter())
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        self.resolve(field, name, "certificate or authority", &all)?;
        Ok(CertRef::Certificate(names.certificates[name]))
    }

    fn time(&self, field: &str, s: &str) -> Result<OffsetDateTime, LoadError> {
        parse_time(s, self.now).map_err(|why| self.invalid(field, s, why))
    }

    fn names(
        &self,
        field: &str,
        names: &[String],
        kind: &'static str,
        index: &HashMap<String, usize>,
    ) -> Result<Vec<usize>, LoadError> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| self.resolve(&format!("{field}[{i}]"), n, kind, index))
            .collect()
    }
}
