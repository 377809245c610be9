//! Turns what the user wrote (`spec`) into the validated model, one `impl Resolver` block per concern:
//! [`pki`] (authorities, certificates, CRLs), [`vars`] (path variables, `from:`), [`servers`], [`cases`]
//! (clients and expectations) and [`grading`] (certificate checks, points, `requires`).

mod cases;
mod grading;
mod handshake;
mod pki;
mod servers;
mod vars;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use ::time::OffsetDateTime;

use crate::lab::error::{did_you_mean, LabError, LoadError, LoadErrors, Problem};
use crate::lab::load::Origin;
use crate::lab::time::parse_time;
use crate::lab::{battery, CertRef, Lab, Vars};
use crate::spec::yaml::Positions;
use crate::spec::LabFile;

/// Name indices of a lab's authorities and certificates.
struct Names<'a> {
    authorities: &'a HashMap<String, usize>,
    certificates: &'a HashMap<String, usize>,
    /// Authorities that publish a CRL.
    crls: HashSet<String>,
}

/// Resolves one lab file, collecting every error it finds: each item (authority, certificate, server,
/// check, case) is resolved on its own, and one with an error is left out of what later items check.
pub(in crate::lab) struct Resolver<'a> {
    path: &'a Path,
    positions: &'a Positions,
    /// Included files, for errors in the definitions they bring.
    origins: &'a [Origin],
    now: OffsetDateTime,
    /// Path variables from the command line; the lab's `vars` give defaults.
    vars: &'a Vars,
    /// Every error found so far, in the order found.
    errors: RefCell<Vec<LoadError>>,
}

impl<'a> Resolver<'a> {
    /// A resolver for the lab file at `path` (its `positions`), with the files it includes, relative
    /// times taken from `now`, and its path variables.
    pub(in crate::lab) fn new(
        path: &'a Path,
        positions: &'a Positions,
        origins: &'a [Origin],
        now: OffsetDateTime,
        vars: &'a Vars,
    ) -> Self {
        Resolver {
            path,
            positions,
            origins,
            now,
            vars,
            errors: RefCell::new(Vec::new()),
        }
    }
}

impl Resolver<'_> {
    fn err(
        &self,
        field: &str,
        token: Option<&str>,
        error: LabError,
        help: Option<String>,
    ) -> Box<LoadError> {
        let (file, positions, source, included_by) = self.origin(field);
        let help = match (help, included_by) {
            (h, None) => h,
            (Some(h), Some(lab)) => Some(format!("{h} (in a file included by {})", lab.display())),
            (None, Some(lab)) => Some(format!("this file is included by {}", lab.display())),
        };
        Box::new(LoadError {
            file: file.to_path_buf(),
            pos: Some(positions.value(field)),
            error,
            token: token.map(str::to_string),
            help,
            source: source.map(str::to_string),
        })
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
    fn key_err(&self, field: &str, token: &str, error: LabError) -> Box<LoadError> {
        Box::new(LoadError {
            pos: Some(self.origin(field).1.key(field)),
            ..*self.err(field, Some(token), error, None)
        })
    }

    /// A [`LabError::Invalid`] of `field`, underlining `token`.
    fn invalid(&self, field: &str, token: &str, problem: impl Into<Problem>) -> Box<LoadError> {
        self.err(field, Some(token), LabError::invalid(field, problem), None)
    }

    fn resolve(
        &self,
        field: &str,
        name: &str,
        kind: &'static str,
        names: &HashMap<String, usize>,
    ) -> Result<usize, Box<LoadError>> {
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

    /// Records an error and goes on.
    fn report(&self, e: Box<LoadError>) {
        self.keep::<()>(Err(e));
    }

    /// The value of `r`, or `None` with its error recorded.
    fn keep<T>(&self, r: Result<T, Box<LoadError>>) -> Option<T> {
        r.map_err(|e| self.errors.borrow_mut().push(*e)).ok()
    }

    /// Resolves a whole lab file: names first, then the PKI, servers, certificate checks and cases.
    /// Every error of the file, in the order found, when there is any.
    pub(in crate::lab) fn lab(self, file: LabFile) -> Result<Lab, LoadErrors> {
        let lab = self.resolve_lab(file);
        match LoadErrors::new(self.errors.into_inner()) {
            Some(errors) => Err(errors),
            None => Ok(lab.expect("a lab that could not be resolved has errors")),
        }
    }

    /// The lab, if no error stopped it (errors that did not stop it are recorded and may still be there).
    fn resolve_lab(&self, file: LabFile) -> Option<Lab> {
        self.lab_names(&file);
        let pki = self.pki(&file)?;
        let names = Names {
            authorities: &pki.authority_index,
            certificates: &pki.certificate_index,
            crls: pki
                .authorities
                .iter()
                .flatten()
                .filter(|a| a.crl.is_some())
                .map(|a| a.name.clone())
                .collect(),
        };
        let (servers, server_index) = self.servers(&file, &names, &pki.certificates);
        let at = match &file.at {
            Some(t) => self.keep(self.time("at", t)),
            None => None,
        };
        let mut item_names = HashSet::new();
        let checks = self.certificate_checks(&file, &names, &pki, &mut item_names);
        let mut cases = self.cases(
            &file,
            &names,
            &pki.certificates,
            &servers,
            &server_index,
            &mut item_names,
        );
        if file.cases.is_empty() && file.checks.is_empty() {
            self.report(self.invalid("cases", "cases", Problem::NoCases));
        }
        if !self.errors.borrow().is_empty() {
            return None;
        }
        for case in &mut cases {
            for t in &file.tags {
                if !case.tags.contains(t) {
                    case.tags.push(t.clone());
                }
            }
        }
        let batteries: Vec<(usize, String, &crate::spec::BatterySpec)> = file
            .cases
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.name.clone(), c.battery.as_ref()?)))
            .collect();
        let mut lab = Lab {
            graded: file
                .cases
                .iter()
                .any(|c| c.points.is_some() || c.score.is_some())
                || file.checks.iter().any(|c| c.points.is_some()),
            name: file.lab,
            description: file.description,
            file: self.path.to_path_buf(),
            authorities: pki.authorities.into_iter().flatten().collect(),
            certificates: pki.certificates.into_iter().flatten().collect(),
            servers: servers.into_iter().flatten().collect(),
            cases,
            at,
            variant: Vec::new(),
            checks,
        };
        for (i, name, spec) in batteries {
            let index = lab.cases.iter().position(|c| c.name == name)?;
            if let Err(e) = battery::derive(&mut lab, index, &battery::request(spec), self.now) {
                let field = format!("cases[{i}].battery");
                let token = match spec {
                    crate::spec::BatterySpec::Set(_) => "standard",
                    crate::spec::BatterySpec::Full(_) => "",
                };
                self.report(self.invalid(&field, token, Problem::Battery(e)));
                return None;
            }
        }
        Some(lab)
    }

    /// Checks the names the lab gives: its own, and those of its authorities, certificates, servers and variables.
    fn lab_names(&self, file: &LabFile) {
        if file.lab.trim().is_empty() {
            self.report(self.invalid("lab", "", Problem::LabUnnamed));
        }
        for name in file.certificates.keys() {
            if file.authorities.contains_key(name) {
                self.report(self.key_err(
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
                    let error = LabError::invalid(field.clone(), Problem::BadName);
                    self.report(self.key_err(&field, name, error));
                }
            }
        }
        if file.authorities.contains_key(pki::SELF) {
            let field = format!("authorities.{}", pki::SELF);
            let error = LabError::invalid(field.clone(), Problem::ReservedSelf);
            self.report(self.key_err(&field, pki::SELF, error));
        }
        for name in file.vars.keys() {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                let field = format!("vars.{name}");
                let error = LabError::invalid(field.clone(), Problem::BadVariableName);
                self.report(self.key_err(&field, name, error));
            }
        }
    }

    /// Resolves a name that may be an authority or a certificate.
    fn cert_ref(&self, field: &str, name: &str, names: &Names) -> Result<CertRef, Box<LoadError>> {
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

    fn time(&self, field: &str, s: &str) -> Result<OffsetDateTime, Box<LoadError>> {
        parse_time(s, self.now).map_err(|why| self.invalid(field, s, why))
    }

    /// Each of `names` resolved in `index` as a `kind` (field `field[i]`): their indices, in order.
    fn names(
        &self,
        field: &str,
        names: &[String],
        kind: &'static str,
        index: &HashMap<String, usize>,
    ) -> Result<Vec<usize>, Box<LoadError>> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| self.resolve(&format!("{field}[{i}]"), n, kind, index))
            .collect()
    }
}
