//! Resolving certificate checks and grading: points, score parts, `requires` order.

use std::collections::{BTreeMap, HashSet};

use ::time::Duration;

use super::pki::Pki;
use super::{Names, Resolver};
use crate::lab::error::{did_you_mean, LabError, LoadError, Problem};
use crate::lab::{CertRef, Check, Checks, Expectation, Grading, KeyRequirement, San, ScorePart};
use crate::spec::{self, LabFile};

impl Resolver<'_> {
    /// Resolves the certificate checks, in order, leaving out (and reporting) those with an error; each
    /// name goes into `item_names`, which must not hold it yet.
    pub(super) fn certificate_checks(
        &self,
        file: &LabFile,
        names: &Names,
        pki: &Pki,
        item_names: &mut HashSet<String>,
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        for (i, c) in file.checks.iter().enumerate() {
            let field = format!("checks[{i}]");
            if !item_names.insert(c.name.clone()) {
                self.report(self.err(
                    &format!("{field}.name"),
                    Some(&c.name),
                    LabError::DuplicateCase {
                        name: c.name.clone(),
                    },
                    Some(
                        "check and case names identify results in reports; make each unique".into(),
                    ),
                ));
                continue;
            }
            let earlier: Vec<&str> = file.checks[..i].iter().map(|c| c.name.as_str()).collect();
            let check = self.check(&field, c, names, pki).and_then(|check| {
                self.requires(&field, &c.requires, &earlier, &c.name, "an earlier check")?;
                Ok(check)
            });
            checks.extend(self.keep(check));
        }
        checks
    }

    /// Checks `requires` names: each must be in `earlier`.
    pub(super) fn requires(
        &self,
        field: &str,
        requires: &[String],
        earlier: &[&str],
        own: &str,
        what: &'static str,
    ) -> Result<(), Box<LoadError>> {
        for (j, r) in requires.iter().enumerate() {
            if !earlier.contains(&r.as_str()) {
                let why = if r == own {
                    Problem::RequiresItself
                } else {
                    Problem::RequiresLater {
                        name: r.clone(),
                        what,
                    }
                };
                let mut e = self.invalid(&format!("{field}.requires[{j}]"), r, why);
                e.help = did_you_mean(
                    r,
                    earlier
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .iter(),
                );
                return Err(e);
            }
        }
        Ok(())
    }

    /// Points, score parts and the rest of an item's grading.
    pub(super) fn grading(
        &self,
        field: &str,
        points: Option<f64>,
        score: Option<&BTreeMap<ScorePart, f64>>,
        requires: &[String],
        hidden: bool,
        expect: Option<(&Expectation, &Checks)>,
    ) -> Result<Grading, Box<LoadError>> {
        let bad = |v: f64| !(0.0..=1e6).contains(&v);
        if let Some(p) = points {
            if bad(p) {
                return Err(self.invalid(
                    &format!("{field}.points"),
                    &p.to_string(),
                    Problem::BadPoints,
                ));
            }
        }
        let mut parts = Vec::new();
        if let Some(score) = score {
            if points.is_some() {
                return Err(self.invalid(
                    &format!("{field}.score"),
                    "score",
                    Problem::PointsAndScore,
                ));
            }
            for (part, weight) in score {
                let name = serde_json::to_value(part)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let pf = format!("{field}.score.{name}");
                if bad(*weight) {
                    return Err(self.invalid(&pf, &name, Problem::BadPoints));
                }
                let applies = match (part, expect) {
                    (_, None) => false,
                    (ScorePart::Outcome, _) => true,
                    (ScorePart::By, Some((Expectation::Rejected { by, .. }, _))) => by.is_some(),
                    (ScorePart::Reason, Some((Expectation::Rejected { reason, .. }, _))) => {
                        reason.is_some()
                    }
                    (ScorePart::ServerSaw, Some((Expectation::Accepted { server_saw, .. }, _))) => {
                        server_saw.is_some()
                    }
                    (ScorePart::Status, Some((Expectation::Accepted { status, .. }, _))) => {
                        status.is_some()
                    }
                    (ScorePart::Alert, Some((_, c))) => c.alert.is_some(),
                    (ScorePart::Exit, Some((_, c))) => c.exit.is_some(),
                    (ScorePart::Output, Some((_, c))) => c.output.is_some(),
                    (ScorePart::ServerOutput, Some((_, c))) => c.server_output.is_some(),
                    (ScorePart::Negotiated, Some((_, c))) => !c.negotiated.is_empty(),
                    _ => false,
                };
                if !applies {
                    return Err(self.invalid(
                        &pf,
                        &name,
                        Problem::ScoreNotExpected { part: name.clone() },
                    ));
                }
                parts.push((*part, *weight));
            }
        }
        Ok(Grading {
            points: if parts.is_empty() {
                points.unwrap_or(1.0)
            } else {
                parts.iter().map(|p| p.1).sum()
            },
            score: parts,
            requires: requires.to_vec(),
            hidden,
        })
    }

    pub(super) fn check(
        &self,
        field: &str,
        c: &spec::CheckSpec,
        names: &Names,
        pki: &Pki,
    ) -> Result<Check, Box<LoadError>> {
        if c.name.trim().is_empty() {
            return Err(self.invalid(
                &format!("{field}.name"),
                "",
                Problem::NoName { kind: "check" },
            ));
        }
        let certificate = self.cert_ref(&format!("{field}.certificate"), &c.certificate, names)?;
        let chains_to = match &c.chains_to {
            Some(a) => Some(self.resolve(
                &format!("{field}.chains_to"),
                a,
                "authority",
                names.authorities,
            )?),
            None => None,
        };
        if let Some(s) = &c.subject {
            self.subject(field, s)?;
        }
        let mut san_contains = Vec::new();
        for (i, s) in c.san_contains.iter().enumerate() {
            san_contains.push(
                San::parse(s)
                    .map_err(|why| self.invalid(&format!("{field}.san_contains[{i}]"), s, why))?,
            );
        }
        let valid_for_at_least = match &c.valid_for_at_least {
            Some(d) => {
                let f = format!("{field}.valid_for_at_least");
                let t = self.time(&f, d)?;
                let span = t - self.now;
                if span <= Duration::ZERO {
                    return Err(self.invalid(&f, d, Problem::NotALength));
                }
                Some(span)
            }
            None => None,
        };
        let key_matches = c.key_matches == Some(true);
        if key_matches {
            // An authority or certificate with an error of its own (`None`) is left unchecked.
            let from = match certificate {
                CertRef::Authority(i) => pki.authorities[i].as_ref().map(|a| &a.from),
                CertRef::Certificate(i) => pki.certificates[i].as_ref().map(|c| &c.from),
            };
            if from.is_some_and(|f| f.as_ref().is_some_and(|f| f.key.is_none())) {
                return Err(self.invalid(
                    &format!("{field}.key_matches"),
                    "key_matches",
                    Problem::KeyMatchesWithoutKey {
                        certificate: c.certificate.clone(),
                    },
                ));
            }
        }
        let check = Check {
            name: c.name.clone(),
            line: self.positions.value(field).line,
            certificate,
            chains_to,
            subject: c.subject.clone(),
            san_contains,
            eku: c.eku,
            key: c.key.as_ref().map(|k| KeyRequirement {
                kind: k.kind,
                min_bits: k.min_bits,
            }),
            ca: c.ca,
            path_len: c.path_len,
            key_usage: c.key_usage.clone(),
            valid_now: c.valid_now == Some(true),
            valid_for_at_least,
            v3: c.v3 == Some(true),
            key_matches,
            grading: self.grading(field, c.points, None, &c.requires, c.hidden, None)?,
        };
        let checks_something = check.chains_to.is_some()
            || check.subject.is_some()
            || !check.san_contains.is_empty()
            || check.eku.is_some()
            || check.key.is_some()
            || check.ca.is_some()
            || check.path_len.is_some()
            || !check.key_usage.is_empty()
            || check.valid_now
            || check.valid_for_at_least.is_some()
            || check.v3
            || check.key_matches;
        if !checks_something {
            return Err(self.invalid(field, &c.name, Problem::CheckWithoutProperty));
        }
        Ok(check)
    }
}
