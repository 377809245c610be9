//! Resolving the PKI: authorities in issuer order, certificates, subjects, validity, name constraints, CRLs,
//! and which loaded certificates have a key to sign or be presented with.

use std::collections::{BTreeMap, HashMap, HashSet};

use ::time::{Duration, OffsetDateTime};

use super::{Names, Resolver};
use crate::lab::error::{did_you_mean, LabError, LoadError, Problem};
use crate::lab::{
    Authority, CertRef, Certificate, Crl, EkuPurpose, KeyType, NameConstraints, Revocation,
    RevocationReasonSpec, San, SignatureAlgorithm, Subject, Subtree, Usage,
};
use crate::spec::{self, LabFile, UsageSpec};

/// What `issuer:` of a certificate says for a self-signed one.
pub(super) const SELF: &str = "self";

/// The lab's PKI, resolved: authorities in issuer order, certificates, and their name indices.
/// An authority or certificate with an error is `None` (its error is reported); its name stays indexed
/// so that references to it do not add errors of their own.
pub(super) struct Pki {
    pub(super) authorities: Vec<Option<Authority>>,
    pub(super) certificates: Vec<Option<Certificate>>,
    pub(super) authority_index: HashMap<String, usize>,
    pub(super) certificate_index: HashMap<String, usize>,
}

impl Resolver<'_> {
    /// Resolves authorities (issuers first), certificates and CRLs, and checks that every signer has a key.
    /// `None` when the authorities have no issuer order (a missing issuer, a cycle): nothing else can be resolved.
    pub(super) fn pki(&self, file: &LabFile) -> Option<Pki> {
        let mut authority_index = HashMap::new();
        let mut authorities = self.authorities(&file.authorities, &mut authority_index)?;
        let mut certificates = Vec::new();
        let mut certificate_index = HashMap::new();
        for (name, c) in &file.certificates {
            certificate_index.insert(name.clone(), certificates.len());
            certificates.push(self.keep(self.certificate(name, c, &authority_index)));
        }
        let names = Names {
            authorities: &authority_index,
            certificates: &certificate_index,
            crls: HashSet::new(),
        };
        for a in authorities.iter_mut().flatten() {
            let spec = &file.authorities[&a.name];
            let crl = self.crl(&a.name, spec, &names, &certificates, &file.authorities);
            a.crl = self.keep(crl).flatten();
        }
        self.signers_have_keys(&authorities, &certificates);
        Some(Pki {
            authorities,
            certificates,
            authority_index,
            certificate_index,
        })
    }

    /// A loaded authority signs only with its key: reports generated authorities and certificates it would sign.
    fn signers_have_keys(
        &self,
        authorities: &[Option<Authority>],
        certificates: &[Option<Certificate>],
    ) {
        let keyless = |i: usize| {
            authorities[i]
                .as_ref()
                .and_then(|a| a.from.as_ref())
                .is_some_and(|f| f.key.is_none())
        };
        let signed = authorities
            .iter()
            .flatten()
            .filter(|a| a.from.is_none())
            .filter_map(|a| Some((format!("authorities.{}.issuer", a.name), &a.name, a.issuer?)));
        let signed = signed.chain(
            certificates
                .iter()
                .flatten()
                .filter(|c| c.from.is_none())
                .filter_map(|c| {
                    Some((
                        format!("certificates.{}.issuer", c.name),
                        &c.name,
                        c.issuer?,
                    ))
                }),
        );
        for (field, name, issuer) in signed {
            if keyless(issuer) {
                let authority = authorities[issuer].as_ref().map_or("", |a| &a.name);
                self.report(self.invalid(
                    &field,
                    authority,
                    Problem::SignerWithoutKey {
                        authority: authority.to_string(),
                        signed: name.clone(),
                    },
                ));
            }
        }
    }

    /// Refuses to present a certificate loaded without its key.
    pub(super) fn presentable(&self, field: &str, c: &Certificate) -> Result<(), Box<LoadError>> {
        if c.from.as_ref().is_some_and(|f| f.key.is_none()) {
            return Err(self.invalid(
                field,
                &c.name,
                Problem::PresentedWithoutKey {
                    certificate: c.name.clone(),
                },
            ));
        }
        Ok(())
    }

    /// The CRL of authority `name`, if it publishes one.
    pub(super) fn crl(
        &self,
        name: &str,
        a: &spec::AuthoritySpec,
        names: &Names,
        certificates: &[Option<Certificate>],
        specs: &BTreeMap<String, spec::AuthoritySpec>,
    ) -> Result<Option<Crl>, Box<LoadError>> {
        if a.revokes.is_none() && a.crl.is_none() {
            return Ok(None);
        }
        let field = format!("authorities.{name}");
        let spec = a.crl.clone().unwrap_or_default();
        let this_update = match &spec.this_update {
            Some(t) => self.time(&format!("{field}.crl.this_update"), t)?,
            None => self.now - Duration::hours(1),
        };
        let next_update = match &spec.next_update {
            Some(t) => self.time(&format!("{field}.crl.next_update"), t)?,
            None => this_update + Duration::days(7),
        };
        if next_update <= this_update {
            return Err(self.invalid(
                &format!("{field}.crl.next_update"),
                spec.next_update.as_deref().unwrap_or("next_update"),
                Problem::CrlNextUpdateNotLater,
            ));
        }
        let mut revoked = Vec::new();
        let mut seen = HashSet::new();
        for (i, r) in a.revokes.iter().flatten().enumerate() {
            let f = format!("{field}.revokes[{i}]");
            let target = self.cert_ref(&format!("{f}.certificate"), &r.certificate, names)?;
            let issuer = match target {
                CertRef::Certificate(c) => match &certificates[c] {
                    Some(c) if c.issuer.is_none() => {
                        // Self-signed: no authority issued it.
                        return Err(self.invalid(
                            &format!("{f}.certificate"),
                            &r.certificate,
                            Problem::RevokesForeign {
                                certificate: r.certificate.clone(),
                                authority: name.to_string(),
                            },
                        ));
                    }
                    Some(c) => c.issuer,
                    // The certificate has an error of its own, already reported.
                    None => continue,
                },
                CertRef::Authority(_) => specs[&r.certificate]
                    .issuer
                    .as_ref()
                    .map(|n| names.authorities[n]),
            };
            if issuer.is_none() {
                return Err(self.invalid(
                    &format!("{f}.certificate"),
                    &r.certificate,
                    Problem::RevokesRoot {
                        authority: r.certificate.clone(),
                    },
                ));
            }
            if issuer != names.authorities.get(name).copied() {
                return Err(self.invalid(
                    &format!("{f}.certificate"),
                    &r.certificate,
                    Problem::RevokesForeign {
                        certificate: r.certificate.clone(),
                        authority: name.to_string(),
                    },
                ));
            }
            if !seen.insert(target) {
                return Err(self.invalid(
                    &format!("{f}.certificate"),
                    &r.certificate,
                    Problem::RevokedTwice,
                ));
            }
            let at = match &r.at {
                Some(t) => self.time(&format!("{f}.at"), t)?,
                None => self.now - Duration::hours(1),
            };
            revoked.push(Revocation {
                target,
                reason: r.reason.unwrap_or(RevocationReasonSpec::Unspecified),
                at,
            });
        }
        Ok(Some(Crl {
            this_update,
            next_update,
            revoked,
        }))
    }

    /// Resolves the authorities, issuers first, filling in their name `index`; a failed authority is `None`.
    /// `None` as a whole when an issuer is missing or issuers form a cycle (errors reported): no order exists.
    fn authorities(
        &self,
        specs: &BTreeMap<String, spec::AuthoritySpec>,
        index: &mut HashMap<String, usize>,
    ) -> Option<Vec<Option<Authority>>> {
        let order = self.issuer_order(specs)?;
        for (i, (name, _)) in order.iter().enumerate() {
            index.insert((*name).clone(), i);
        }
        let mut out = Vec::new();
        for (name, issuer) in order {
            let a = self
                .key_of(name, specs, index)
                .and_then(|key_of| self.authority(name, &specs[name], issuer, key_of, specs));
            out.push(self.keep(a));
        }
        Some(out)
    }

    /// The authority whose key authority `name` reuses (`key_of`), checked: it exists, is not `name`
    /// itself, owns its key (no `key_of` of its own) and is generated.
    fn key_of(
        &self,
        name: &str,
        specs: &BTreeMap<String, spec::AuthoritySpec>,
        index: &HashMap<String, usize>,
    ) -> Result<Option<(usize, String)>, Box<LoadError>> {
        let Some(owner) = &specs[name].key_of else {
            return Ok(None);
        };
        let field = format!("authorities.{name}.key_of");
        let i = self.resolve(&field, owner, "authority", index)?;
        if owner == name {
            return Err(self.invalid(&field, owner, Problem::KeyOfItself));
        }
        let why = match &specs[owner] {
            o if o.key_of.is_some() => Some("reuses another authority's key itself"),
            o if o.from.is_some() => Some("is loaded from files"),
            _ => None,
        };
        if let Some(why) = why {
            // Point at the key's owner; in a cycle (it is this authority) one must keep its own key.
            let help = specs[owner].key_of.as_ref().map(|k| match k == name {
                true => format!("`{name}` and `{owner}` name each other: remove `key_of` from one of them, which then has a key of its own"),
                false => format!("`{owner}` has the key of `{k}`: write `key_of: {k}`"),
            });
            return Err(self.err(
                &field,
                Some(owner),
                LabError::invalid(
                    &field,
                    Problem::KeyOfUnusable {
                        authority: owner.clone(),
                        why,
                    },
                ),
                help,
            ));
        }
        Ok(Some((i, owner.clone())))
    }

    /// The extended key usage written as `usage` (`default` when not given): `None` for no extension.
    pub(super) fn eku(
        &self,
        field: &str,
        usage: Option<&UsageSpec>,
        default: Usage,
    ) -> Result<Option<Vec<EkuPurpose>>, Box<LoadError>> {
        let named = |u: Usage| match u {
            Usage::Server => Some(vec![EkuPurpose::ServerAuth]),
            Usage::Client => Some(vec![EkuPurpose::ClientAuth]),
            Usage::Both => Some(vec![EkuPurpose::ServerAuth, EkuPurpose::ClientAuth]),
            Usage::None => None,
            Usage::CodeSigning => Some(vec![EkuPurpose::CodeSigning]),
        };
        let list = match usage {
            None => return Ok(named(default)),
            Some(UsageSpec::Named(u)) => return Ok(named(*u)),
            Some(UsageSpec::List(list)) => list,
        };
        if list.is_empty() {
            return Err(self.invalid(field, "[]", Problem::EmptyEku));
        }
        let words: [(&str, EkuPurpose); 7] = [
            ("server", EkuPurpose::ServerAuth),
            ("client", EkuPurpose::ClientAuth),
            ("code_signing", EkuPurpose::CodeSigning),
            ("email_protection", EkuPurpose::EmailProtection),
            ("time_stamping", EkuPurpose::TimeStamping),
            ("ocsp_signing", EkuPurpose::OcspSigning),
            ("any", EkuPurpose::Any),
        ];
        let mut out = Vec::new();
        for (i, item) in list.iter().enumerate() {
            if let Some((_, p)) = words.iter().find(|(w, _)| w == item) {
                out.push(p.clone());
                continue;
            }
            match parse_oid(item) {
                Some(arcs) => out.push(EkuPurpose::Oid(arcs)),
                None => {
                    let names: Vec<String> = words.iter().map(|(w, _)| w.to_string()).collect();
                    let f = format!("{field}[{i}]");
                    return Err(self.err(
                        &f,
                        Some(item),
                        LabError::invalid(&f, Problem::BadEku { item: item.clone() }),
                        did_you_mean(item, names.iter()),
                    ));
                }
            }
        }
        Ok(Some(out))
    }

    /// Checks that the signer's `key` can sign with `signature` (rcgen's algorithms).
    fn signature(
        &self,
        field: &str,
        signature: Option<SignatureAlgorithm>,
        key: KeyType,
    ) -> Result<Option<SignatureAlgorithm>, Box<LoadError>> {
        match signature {
            Some(alg) if !key.signatures().contains(&alg) => Err(self.invalid(
                &format!("{field}.signature"),
                alg.name(),
                Problem::SignatureDoesNotFit {
                    algorithm: alg,
                    key,
                },
            )),
            s => Ok(s),
        }
    }

    /// Orders authorities so that every issuer comes first (with each one's issuer index), reporting
    /// dangling issuers and cycles.
    fn issuer_order<'s>(
        &self,
        specs: &'s BTreeMap<String, spec::AuthoritySpec>,
    ) -> Option<Vec<(&'s String, Option<usize>)>> {
        let names: HashMap<String, usize> = specs
            .keys()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let mut dangling = false;
        for (name, a) in specs {
            if let Some(issuer) = &a.issuer {
                let field = format!("authorities.{name}.issuer");
                dangling |= self
                    .keep(self.resolve(&field, issuer, "authority", &names))
                    .is_none();
            }
        }
        if dangling {
            return None;
        }
        let mut ordered = Vec::new();
        let mut placed: HashMap<&String, usize> = HashMap::new();
        while placed.len() < specs.len() {
            let before = placed.len();
            for (name, a) in specs {
                if placed.contains_key(name) {
                    continue;
                }
                let issuer = match &a.issuer {
                    None => None,
                    Some(i) => match placed.get(i) {
                        Some(idx) => Some(*idx),
                        None => continue,
                    },
                };
                placed.insert(name, ordered.len());
                ordered.push((name, issuer));
            }
            if placed.len() == before {
                // Every remaining authority waits on another remaining one: a cycle.
                self.report(self.issuer_cycle(specs, |n| placed.contains_key(n)));
                return None;
            }
        }
        Some(ordered)
    }

    /// The error for a cycle among the authorities not yet `placed`.
    fn issuer_cycle(
        &self,
        specs: &BTreeMap<String, spec::AuthoritySpec>,
        placed: impl Fn(&String) -> bool,
    ) -> Box<LoadError> {
        let (start, _) = specs
            .iter()
            .find(|(n, _)| !placed(n))
            .expect("at least one authority is unplaced");
        let mut chain = vec![start.clone()];
        let mut cur = start.clone();
        loop {
            let next = specs[&cur]
                .issuer
                .clone()
                .expect("unplaced authorities have issuers");
            if let Some(at) = chain.iter().position(|n| *n == next) {
                let mut cycle: Vec<String> = chain[at..].to_vec();
                cycle.push(next.clone());
                return self.err(
                    &format!("authorities.{next}.issuer"),
                    specs[&next].issuer.as_deref(),
                    LabError::IssuerCycle { cycle },
                    Some("a root authority has no `issuer`; remove it from one of these".into()),
                );
            }
            chain.push(next.clone());
            cur = next;
        }
    }

    /// Resolves one authority whose issuer (if any) is at index `issuer` and whose key is that of
    /// `key_of` (index and name) when it reuses another's.
    fn authority(
        &self,
        name: &str,
        a: &spec::AuthoritySpec,
        issuer: Option<usize>,
        key_of: Option<(usize, String)>,
        specs: &BTreeMap<String, spec::AuthoritySpec>,
    ) -> Result<Authority, Box<LoadError>> {
        let field = format!("authorities.{name}");
        let from = match &a.from {
            Some(f) => {
                let generated = [
                    ("subject", a.subject.is_some()),
                    ("key", a.key.is_some()),
                    ("valid", a.valid.is_some()),
                    ("path_len", a.path_len.is_some()),
                    ("serial", a.serial.is_some()),
                    ("ca", a.ca.is_some()),
                    ("name_constraints", a.name_constraints.is_some()),
                    ("key_of", a.key_of.is_some()),
                    ("signature", a.signature.is_some()),
                    ("usage", a.usage.is_some()),
                    ("key_usage", a.key_usage.is_some()),
                    (
                        "unknown_critical_extension",
                        a.unknown_critical_extension.is_some(),
                    ),
                ];
                self.not_with_from(&field, "authority", &generated)?;
                let source = self.source(&format!("{field}.from"), f)?;
                if (a.revokes.is_some() || a.crl.is_some()) && source.key.is_none() {
                    return Err(self.invalid(
                        &format!("{field}.from"),
                        "from",
                        Problem::CrlWithoutKey,
                    ));
                }
                Some(source)
            }
            None => None,
        };
        let (not_before, not_after) =
            self.validity(&field, a.valid.as_ref(), Duration::days(3650))?;
        // A cross-signed authority has its key owner's key type and, by default, its subject.
        let owner = key_of.as_ref().map(|(_, n)| &specs[n]);
        if let (Some(_), Some((_, owner))) = (&a.key, &key_of) {
            return Err(self.invalid(
                &format!("{field}.key"),
                "key",
                Problem::KeyWithKeyOf {
                    owner: owner.clone(),
                },
            ));
        }
        let key = owner.map_or(a.key, |o| o.key).unwrap_or(KeyType::EcdsaP256);
        let subject = self.subject_or_loaded(
            &field,
            name,
            "authority",
            a.subject
                .as_ref()
                .or(owner.and_then(|o| o.subject.as_ref())),
            from.is_some(),
        )?;
        Ok(Authority {
            from,
            name_of: None,
            name: name.to_string(),
            line: self.positions.key(&field).line,
            subject,
            issuer,
            key,
            not_before,
            not_after,
            path_len: a.path_len,
            serial: a.serial,
            ca: a.ca.unwrap_or(true),
            name_constraints: self.name_constraints(&field, a.name_constraints.as_ref())?,
            crl: None,
            key_of: key_of.map(|(i, _)| i),
            signature: self.signature(&field, a.signature, key)?,
            eku: self.eku(&format!("{field}.usage"), a.usage.as_ref(), Usage::None)?,
            key_usage: a.key_usage.clone(),
            unknown_critical_extension: a.unknown_critical_extension.unwrap_or(false),
        })
    }

    pub(super) fn name_constraints(
        &self,
        field: &str,
        nc: Option<&spec::NameConstraintsSpec>,
    ) -> Result<Option<NameConstraints>, Box<LoadError>> {
        let Some(nc) = nc else { return Ok(None) };
        let parse = |kind: &str, list: &[String]| -> Result<Vec<Subtree>, Box<LoadError>> {
            list.iter()
                .enumerate()
                .map(|(i, s)| {
                    Subtree::parse(s).map_err(|why| {
                        self.invalid(&format!("{field}.name_constraints.{kind}[{i}]"), s, why)
                    })
                })
                .collect()
        };
        let out = NameConstraints {
            permitted: parse("permitted", &nc.permitted)?,
            excluded: parse("excluded", &nc.excluded)?,
        };
        if out.permitted.is_empty() && out.excluded.is_empty() {
            return Err(self.invalid(
                &format!("{field}.name_constraints"),
                "name_constraints",
                Problem::EmptyNameConstraints,
            ));
        }
        Ok(Some(out))
    }

    /// The subject of a generated authority or certificate (checked), or an empty one for a loaded
    /// one, whose file carries it; a generated one without a subject is an error.
    pub(super) fn subject_or_loaded(
        &self,
        field: &str,
        name: &str,
        kind: &'static str,
        subject: Option<&Subject>,
        loaded: bool,
    ) -> Result<Subject, Box<LoadError>> {
        match (subject, loaded) {
            (Some(s), _) => {
                self.subject(field, s)?;
                Ok(s.clone())
            }
            (None, true) => Ok(Subject::default()),
            (None, false) => Err(self.invalid(field, name, Problem::NoSubject { kind })),
        }
    }

    pub(super) fn subject(&self, field: &str, s: &Subject) -> Result<(), Box<LoadError>> {
        if let Some(c) = &s.country {
            if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                return Err(self.invalid(&format!("{field}.subject.C"), c, Problem::BadCountry));
            }
        }
        // RFC 5280's upper bounds (ub-*), in characters: a longer value cannot be encoded.
        let bounds = [
            ("ST", &s.state, 128, "ub-state-name"),
            ("L", &s.locality, 128, "ub-locality-name"),
            ("O", &s.organization, 64, "ub-organization-name"),
            ("OU", &s.unit, 64, "ub-organizational-unit-name"),
            ("CN", &s.common_name, 64, "ub-common-name"),
        ];
        for (attribute, value, max, bound) in bounds {
            let Some(v) = value else { continue };
            let len = v.chars().count();
            if len > max {
                return Err(self.invalid(
                    &format!("{field}.subject.{attribute}"),
                    v,
                    Problem::SubjectTooLong {
                        attribute,
                        len,
                        max,
                        bound,
                    },
                ));
            }
        }
        let all = [
            &s.country,
            &s.state,
            &s.locality,
            &s.organization,
            &s.unit,
            &s.common_name,
        ];
        if all.iter().all(|f| f.is_none()) {
            return Err(self.invalid(
                &format!("{field}.subject"),
                "subject",
                Problem::EmptySubject,
            ));
        }
        Ok(())
    }

    pub(super) fn certificate(
        &self,
        name: &str,
        c: &spec::CertificateSpec,
        authorities: &HashMap<String, usize>,
    ) -> Result<Certificate, Box<LoadError>> {
        let field = format!("certificates.{name}");
        let issuer = if c.issuer == SELF {
            None
        } else {
            Some(self.resolve(
                &format!("{field}.issuer"),
                &c.issuer,
                "authority",
                authorities,
            )?)
        };
        let from = match &c.from {
            Some(f) => {
                let generated = [
                    ("subject", c.subject.is_some()),
                    ("san", c.san.is_some()),
                    ("key", c.key.is_some()),
                    ("valid", c.valid.is_some()),
                    ("usage", c.usage.is_some()),
                    ("key_usage", c.key_usage.is_some()),
                    ("serial", c.serial.is_some()),
                    ("ca", c.ca.is_some()),
                    (
                        "unknown_critical_extension",
                        c.unknown_critical_extension.is_some(),
                    ),
                    ("signature", c.signature.is_some()),
                ];
                self.not_with_from(&field, "certificate", &generated)?;
                Some(self.source(&format!("{field}.from"), f)?)
            }
            None => None,
        };
        let subject = self.subject_or_loaded(
            &field,
            name,
            "certificate",
            c.subject.as_ref(),
            from.is_some(),
        )?;
        let (not_before, not_after) =
            self.validity(&field, c.valid.as_ref(), Duration::days(90))?;
        let default_san = || {
            subject
                .common_name
                .iter()
                .map(|cn| cn.to_string())
                .filter(|cn| San::parse(cn).is_ok())
                .collect::<Vec<_>>()
        };
        let san_specs = c.san.clone().unwrap_or_else(default_san);
        let mut san = Vec::new();
        for (i, s) in san_specs.iter().enumerate() {
            let f = format!("{field}.san[{i}]");
            san.push(San::parse(s).map_err(|why| self.invalid(&f, s, why))?);
        }
        let key = c.key.unwrap_or(KeyType::EcdsaP256);
        if let (Some(alg), Some(_)) = (c.signature, issuer) {
            return Err(self.invalid(
                &format!("{field}.signature"),
                alg.name(),
                Problem::SignatureOnIssued,
            ));
        }
        Ok(Certificate {
            from,
            name: name.to_string(),
            line: self.positions.key(&field).line,
            issuer,
            subject,
            san,
            key,
            not_before,
            not_after,
            eku: self.eku(&format!("{field}.usage"), c.usage.as_ref(), Usage::Both)?,
            signature: self.signature(&field, c.signature, key)?,
            key_usage: c.key_usage.clone(),
            serial: c.serial,
            ca: c.ca.unwrap_or(false),
            unknown_critical_extension: c.unknown_critical_extension.unwrap_or(false),
        })
    }

    /// Refuses the fields that describe a generated certificate on one loaded with `from`.
    pub(super) fn not_with_from(
        &self,
        field: &str,
        kind: &'static str,
        given: &[(&'static str, bool)],
    ) -> Result<(), Box<LoadError>> {
        match given.iter().find(|(_, g)| *g) {
            Some((f, _)) => Err(self.invalid(
                &format!("{field}.{f}"),
                f,
                Problem::GeneratedOnly { field: f, kind },
            )),
            None => Ok(()),
        }
    }

    pub(super) fn validity(
        &self,
        field: &str,
        v: Option<&spec::Validity>,
        default_life: Duration,
    ) -> Result<(OffsetDateTime, OffsetDateTime), Box<LoadError>> {
        let from = match v.and_then(|v| v.from.as_deref()) {
            Some(s) => self.time(&format!("{field}.valid.from"), s)?,
            None => self.now - Duration::hours(1),
        };
        let until = match v.and_then(|v| v.until.as_deref()) {
            Some(s) => self.time(&format!("{field}.valid.until"), s)?,
            None => self.now + default_life,
        };
        if until <= from {
            return Err(self.invalid(
                &format!("{field}.valid.until"),
                v.and_then(|v| v.until.as_deref()).unwrap_or("until"),
                Problem::ValidityReversed,
            ));
        }
        Ok((from, until))
    }
}

/// The arcs of a dotted OID such as `2.5.29.37.0`, when DER can encode it (RFC 5280 §4.1.1.2, X.690 §8.19):
/// at least two arcs, the first 0, 1 or 2, the second below 40 under 0 and 1.
fn parse_oid(s: &str) -> Option<Vec<u64>> {
    let arcs: Vec<u64> = s
        .split('.')
        .map(|a| {
            (!a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
                .then(|| a.parse().ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    let ok = arcs.len() >= 2
        && arcs[0] <= 2
        && (arcs[0] == 2 || arcs[1] < 40)
        && arcs[1] <= u64::MAX - 80;
    ok.then_some(arcs)
}

#[cfg(test)]
mod tests {
    use super::parse_oid;

    #[test]
    fn dotted_oids_parse_when_der_can_encode_them() {
        assert_eq!(parse_oid("2.5.29.37.0"), Some(vec![2, 5, 29, 37, 0]));
        assert_eq!(
            parse_oid("1.3.6.1.5.5.7.3.2"),
            Some(vec![1, 3, 6, 1, 5, 5, 7, 3, 2])
        );
        for bad in [
            "",
            "2",
            "3.1",
            "1.40",
            "1..2",
            "1.2.",
            "a.b",
            "1.-2",
            "1.2.99999999999999999999",
        ] {
            assert_eq!(parse_oid(bad), None, "{bad}");
        }
    }
}
