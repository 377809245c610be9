//! The lab's PKI, generated with rcgen: keys (in parallel), authorities in issuer order, then leaves, then
//! CRLs; certificates with `from:` are loaded from files instead.
//!
//! [`keys`] generates keys, [`issue`] turns the model into rcgen parameters, [`load`] reads `from:` files,
//! [`inspect`] reads certificates back (subjects, subjectAltNames), [`export`] writes PEM and PKCS#12,
//! [`cache`] keeps generated keys between runs, [`persist`] keeps a whole PKI directory between runs.

pub mod cache;
pub mod export;
pub mod inspect;
pub mod issue;
pub mod keys;
pub mod load;
pub mod openssl;
pub mod persist;
pub mod show;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{Issuer, KeyPair, SerialNumber};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::lab::{CertRef, KeyType, Lab};

pub use load::{parse_certificate_file, with_loaded_facts};

/// A certificate with its key, ready for rustls and for export.
#[derive(Debug, Clone)]
pub struct Issued {
    pub name: String,
    pub der: CertificateDer<'static>,
    pub pem: String,
    key_der: Option<Arc<PrivateKeyDer<'static>>>,
    /// The private key as PEM; empty for a certificate loaded without one.
    pub key_pem: String,
    /// The intermediates between this certificate and its root, nearest first (the root itself is not included).
    pub intermediates: Vec<CertificateDer<'static>>,
    /// The serial number written into the certificate.
    pub serial: SerialNumber,
    /// For an authority that publishes one: its CRL, DER and PEM.
    pub crl: Option<(CertificateRevocationListDer<'static>, String)>,
}

impl Issued {
    /// The private key (PKCS#8 when generated; as written in the file when loaded). A certificate loaded without
    /// a key gives an empty one, which no provider loads: validation refuses to present such a certificate.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        match &self.key_der {
            Some(k) => k.clone_key(),
            None => PrivateKeyDer::Pkcs8(Vec::new().into()),
        }
    }

    /// Whether the private key is known.
    pub fn has_key(&self) -> bool {
        self.key_der.is_some()
    }

    /// A stand-in for a certificate that could not be loaded or issued; [`Pki::problem`] says why.
    fn unusable(name: &str) -> Issued {
        Issued {
            name: name.to_string(),
            der: CertificateDer::from(Vec::new()),
            pem: String::new(),
            key_der: None,
            key_pem: String::new(),
            intermediates: Vec::new(),
            serial: SerialNumber::from(0u64),
            crl: None,
        }
    }

    /// The certificate followed by its intermediates, as a TLS peer sends it.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        std::iter::once(self.der.clone())
            .chain(self.intermediates.iter().cloned())
            .collect()
    }
}

/// Every certificate of a lab, indexed like `Lab::authorities` and `Lab::certificates`.
#[derive(Debug, Clone)]
pub struct Pki {
    pub authorities: Vec<Issued>,
    pub certificates: Vec<Issued>,
    /// Certificates that could not be loaded (file missing or malformed) or issued (their issuer is unusable), with why.
    pub cert_problems: HashMap<CertRef, String>,
    /// Loaded certificates whose key could not be used (missing, malformed, not the certificate's), with why; the certificate itself can still be checked.
    pub key_problems: HashMap<CertRef, String>,
}

impl Pki {
    /// The certificate (and key) a [`CertRef`] names.
    pub fn get(&self, r: CertRef) -> &Issued {
        match r {
            CertRef::Authority(i) => &self.authorities[i],
            CertRef::Certificate(i) => &self.certificates[i],
        }
    }

    /// Why a certificate cannot be used in a handshake or to sign, if it cannot.
    pub fn problem(&self, r: CertRef) -> Option<&str> {
        self.cert_problems
            .get(&r)
            .or_else(|| self.key_problems.get(&r))
            .map(String::as_str)
    }

    /// Every CRL the lab publishes.
    pub fn crls(&self) -> Vec<CertificateRevocationListDer<'static>> {
        self.authorities
            .iter()
            .filter_map(|a| a.crl.as_ref().map(|c| c.0.clone()))
            .collect()
    }
}

/// Why rcgen could not generate the PKI (a broken `from:` file is not an error: see [`Pki::cert_problems`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The key of `name` could not be generated.
    #[error("cannot generate the {key:?} key of `{name}`: {source}")]
    KeyGeneration {
        name: String,
        key: KeyType,
        source: rcgen::Error,
    },
    /// rcgen refused to sign certificate or authority `name`.
    #[error("cannot issue `{name}`: {source}")]
    Issue { name: String, source: rcgen::Error },
    /// rcgen refused to sign the CRL of authority `name`.
    #[error("cannot sign the CRL of `{name}`: {source}")]
    Crl { name: String, source: rcgen::Error },
}

/// Generates every key and certificate of `lab` and loads its `from:` files: keys first (all cores), then
/// authorities in issuer order, then leaves, then each authority's CRL.
///
/// # Errors
/// [`PkiError`] when rcgen cannot generate a key or sign; files that cannot be loaded, and what they would
/// have signed, are recorded in [`Pki::cert_problems`] and [`Pki::key_problems`] instead.
pub fn build(lab: &Lab) -> Result<Pki, PkiError> {
    Ok(build_with(lab, None, None)?.0)
}

/// Where the keys and certificates of a lab's PKI come from.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Source {
    /// Every key generated afresh.
    #[default]
    Fresh,
    /// Keys taken from (and stored in) the key cache.
    Cache(cache::KeyCache),
    /// Built already (e.g. against a PKI directory).
    Built(Arc<Pki>),
}

/// Like [`build`], taking keys from `cache` (for the lab file `lab.file`) where it has them and, with
/// `prior` (a PKI directory read back), keeping every key and certificate whose declaration has not
/// changed (see [`persist`]; the cache is not used then). Returns the PKI and, with `prior`, what was kept
/// and what was made again, for [`persist::write_back`].
///
/// # Errors
/// As [`build`].
pub fn build_with(
    lab: &Lab,
    cache: Option<&cache::KeyCache>,
    prior: Option<&persist::Prior>,
) -> Result<(Pki, persist::Provenance), PkiError> {
    let wanted = keys::wanted(lab);
    let mut key_redo: HashMap<String, persist::Redo> = HashMap::new();
    let mut kept_pem: HashMap<String, String> = HashMap::new();
    let keys = match prior {
        Some(prior) => keys::obtain_keys(
            &wanted,
            |i| {
                let (name, key) = &wanted[i];
                match prior.key(name, *key) {
                    Ok((pair, pem)) => {
                        kept_pem.insert(name.clone(), pem);
                        Some(pair)
                    }
                    Err(redo) => {
                        if let Some(r) = redo {
                            key_redo.insert(name.clone(), r);
                        }
                        None
                    }
                }
            },
            None,
        )?,
        None => keys::obtain_keys(&wanted, |_| None, cache.map(|c| (c, lab.file.as_path())))?,
    };
    let mut keys = keys.into_iter().map(|(k, _)| k);
    let mut authority_keys = authority_keys(lab, &mut keys)?.into_iter();
    let mut b = Builder {
        lab,
        authorities: Vec::new(),
        certificates: Vec::new(),
        issuers: Vec::new(),
        cert_problems: HashMap::new(),
        key_problems: HashMap::new(),
        prior,
        kept_pem,
        key_redo,
        provenance: persist::Provenance::default(),
    };
    for index in 0..lab.authorities.len() {
        b.authority(index, authority_keys.next().flatten())?;
    }
    for index in 0..lab.certificates.len() {
        b.certificate(index, &mut keys)?;
    }
    for index in 0..lab.authorities.len() {
        b.crl(index)?;
    }
    Ok((
        Pki {
            authorities: b.authorities,
            certificates: b.certificates,
            cert_problems: b.cert_problems,
            key_problems: b.key_problems,
        },
        b.provenance,
    ))
}

/// The signing key of each authority, in order, taking the generated `keys` of those that own theirs: a
/// cross-signed one (`key_of`) gets its owner's key, and each signs with its `signature`; `None` for a
/// loaded authority (its key comes from its file).
fn authority_keys(
    lab: &Lab,
    keys: &mut impl Iterator<Item = KeyPair>,
) -> Result<Vec<Option<KeyPair>>, PkiError> {
    let mut own: Vec<Option<KeyPair>> = lab
        .authorities
        .iter()
        .map(|a| {
            (a.from.is_none() && a.key_of.is_none())
                .then(|| keys.next())
                .flatten()
        })
        .collect();
    let ders: Vec<Option<Vec<u8>>> = own
        .iter()
        .map(|k| k.as_ref().map(KeyPair::serialize_der))
        .collect();
    let mut out = Vec::new();
    for (i, a) in lab.authorities.iter().enumerate() {
        let fail = |source| PkiError::Issue {
            name: a.name.clone(),
            source,
        };
        // Validation makes the owner of a `key_of` a generated authority that owns its key.
        let der = a.key_of.map_or(&ders[i], |o| &ders[o]);
        out.push(match (der, a.key_of.is_some() || a.signature.is_some()) {
            (Some(der), true) => Some(keys::signer(der, a.key, a.signature).map_err(fail)?),
            _ => own[i].take(),
        });
    }
    Ok(out)
}

/// Builds the PKI of `lab` (loaded at `now`) against the PKI directory `dir` and writes it back there: reads
/// the directory, keeps what has not changed, makes the rest, and updates the files and the state file
/// (with `p12`, also `NAME.p12`: password and whether an authority's holds its key).
///
/// # Errors
/// [`PersistError::Pki`] when rcgen fails, [`PersistError::Write`] when the directory cannot be written
/// (or a path in it is a link).
pub fn build_in(
    lab: &Lab,
    dir: &Path,
    now: time::OffsetDateTime,
    p12: Option<(&str, bool)>,
) -> Result<(Pki, persist::Summary), PersistError> {
    // Links planted where the export reads or writes are refused before anything is read.
    export::check_out(lab, dir, true).map_err(PersistError::Write)?;
    export::check_file(&dir.join(persist::STATE_FILE)).map_err(PersistError::Write)?;
    let prior = persist::Prior::read(dir, lab, now);
    let (pki, provenance) = build_with(lab, None, Some(&prior)).map_err(PersistError::Pki)?;
    let summary = persist::write_back(lab, &pki, &provenance, &prior, dir, p12)
        .map_err(PersistError::Write)?;
    Ok((pki, summary))
}

/// Why a PKI directory could not be built or written back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// rcgen could not generate the PKI.
    #[error(transparent)]
    Pki(PkiError),
    /// The directory could not be written.
    #[error(transparent)]
    Write(export::ExportError),
}

/// The PKI directory of each lab of a run given `--pki DIR`: `DIR` itself for one lab; for several,
/// `DIR/NAME`, the lab's name (with a matrix variant's values) made a file name.
pub fn dir_for(dir: &Path, lab: &Lab, several: bool) -> PathBuf {
    if !several {
        return dir.to_path_buf();
    }
    let mut name: String = lab
        .name
        .replace(", ", ",")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | ',') {
                c
            } else {
                '-'
            }
        })
        .collect();
    for (k, v) in &lab.variant {
        if !name.contains(&format!("{k}={v}")) {
            name.push_str(&format!("-{k}={v}"));
        }
    }
    let name = name.trim_matches(|c| c == '-' || c == '.').to_string();
    dir.join(if name.is_empty() {
        "lab".to_string()
    } else {
        name
    })
}

/// A PKI being built: what is issued so far and, per authority, what rcgen signs with.
struct Builder<'l> {
    lab: &'l Lab,
    authorities: Vec<Issued>,
    certificates: Vec<Issued>,
    /// One per authority issued so far: its parameters and key; `None` when it cannot sign.
    issuers: Vec<Option<Issuer<'static, KeyPair>>>,
    cert_problems: HashMap<CertRef, String>,
    key_problems: HashMap<CertRef, String>,
    /// The PKI directory read back, if the build is against one.
    prior: Option<&'l persist::Prior>,
    /// The text of each key kept from the directory, by name (written back as it was).
    kept_pem: HashMap<String, String>,
    /// Why a key of the directory was not kept, by name.
    key_redo: HashMap<String, persist::Redo>,
    provenance: persist::Provenance,
}

impl Builder<'_> {
    /// Issues (or loads) authority `index` with `key` (its own, or its owner's for `key_of`, signing with its
    /// `signature`; `None` for a loaded one); its issuer, if any, comes before it.
    fn authority(&mut self, index: usize, key: Option<KeyPair>) -> Result<(), PkiError> {
        let lab = self.lab;
        let a = &lab.authorities[index];
        let me = CertRef::Authority(index);
        if let Some(source) = &a.from {
            let (issued, signer) = load::load(
                &a.name,
                source,
                me,
                &mut self.cert_problems,
                &mut self.key_problems,
            );
            let issuer = signer.and_then(|k| Issuer::from_ca_cert_der(&issued.der, k).ok());
            self.authorities.push(Issued {
                intermediates: self.intermediates_below(a.issuer),
                ..issued
            });
            self.issuers.push(issuer);
            return Ok(());
        }
        // Invariant: `authority_keys` gives every generated authority a key (validation refuses a `key_of`
        // naming a loaded authority or one without a key of its own).
        let key = key.expect("one key per generated authority");
        if let Some(i) = a.issuer {
            if self.issuers[i].is_none() {
                let why = self.unusable_issuer(&a.name, i);
                self.cert_problems.insert(me, why);
                self.authorities.push(Issued::unusable(&a.name));
                self.issuers.push(None);
                return Ok(());
            }
        }
        let mut params = issue::authority_params(a);
        if let Some(o) = a.name_of {
            // The loaded root's name as its certificate encodes it (C as PrintableString, say): rcgen
            // would write the model's subject as UTF8String, and webpki compares names byte for byte.
            if let Some(dn) = issue::name_as_encoded(&self.authorities[o].der) {
                params.distinguished_name = dn;
            }
        }
        let intermediates = self.intermediates_below(a.issuer);
        if let Some(prior) = self.prior {
            let issuer_der = a.issuer.map(|i| self.authorities[i].der.to_vec());
            let declaration = persist::authority_declaration(
                a,
                &rcgen::PublicKeyData::subject_public_key_info(&key),
                issuer_der.as_deref(),
            );
            let kept = prior.certificate(&a.name, &declaration, a.not_before, a.not_after);
            let done = self.kept(me, &a.name, &key, kept, declaration, intermediates.clone());
            if let Some(issued) = done {
                self.authorities.push(issued);
                self.issuers.push(Some(Issuer::new(params, key)));
                return Ok(());
            }
        }
        let fail = |source| PkiError::Issue {
            name: a.name.clone(),
            source,
        };
        let cert = match a.issuer.and_then(|i| self.issuers[i].as_ref()) {
            None => params.self_signed(&key).map_err(fail)?,
            Some(signer) => {
                params.use_authority_key_identifier_extension = true;
                params.signed_by(&key, signer).map_err(fail)?
            }
        };
        let serial = params.serial_number.clone();
        let issued = issue::issued(&a.name, cert, &key, intermediates, serial);
        self.authorities.push(self.with_kept_key(issued));
        self.issuers.push(Some(Issuer::new(params, key)));
        Ok(())
    }

    /// With a PKI directory: records what becomes of `name` (`me`), and returns it as kept when `kept`
    /// says it can be (its certificate from the directory, its key `key` as the file has it).
    fn kept(
        &mut self,
        me: CertRef,
        name: &str,
        key: &KeyPair,
        kept: Result<persist::Kept, persist::Redo>,
        declaration: String,
        intermediates: Vec<CertificateDer<'static>>,
    ) -> Option<Issued> {
        let key_redo = self.key_redo.get(name).cloned();
        let issued = kept.as_ref().ok().map(|k| {
            let serial = inspect::serial(&k.der).unwrap_or_else(|| SerialNumber::from(0u64));
            Issued {
                name: name.to_string(),
                der: CertificateDer::from(k.der.clone()),
                pem: k.pem.clone(),
                key_der: Some(Arc::new(PrivateKeyDer::Pkcs8(keys::pkcs8_der(key).into()))),
                key_pem: self
                    .kept_pem
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| keys::pkcs8_pem(key)),
                intermediates,
                serial,
                crl: None,
            }
        });
        self.provenance.made.insert(
            me,
            persist::Made {
                certificate: kept,
                key_redo,
                declaration,
            },
        );
        issued
    }

    /// A freshly issued certificate whose key was kept from the directory: the key written back as the
    /// file has it.
    fn with_kept_key(&self, issued: Issued) -> Issued {
        match self.kept_pem.get(&issued.name) {
            Some(pem) => Issued {
                key_pem: pem.clone(),
                ..issued
            },
            None => issued,
        }
    }

    /// Issues (or loads) leaf certificate `index`.
    fn certificate(
        &mut self,
        index: usize,
        keys: &mut impl Iterator<Item = KeyPair>,
    ) -> Result<(), PkiError> {
        let lab = self.lab;
        let c = &lab.certificates[index];
        let me = CertRef::Certificate(index);
        let intermediates = self.intermediates_below(c.issuer);
        if let Some(source) = &c.from {
            let (issued, _) = load::load(
                &c.name,
                source,
                me,
                &mut self.cert_problems,
                &mut self.key_problems,
            );
            self.certificates.push(Issued {
                intermediates,
                ..issued
            });
            return Ok(());
        }
        let key = keys.next().expect("one key per generated certificate");
        // The authority that signs it; `None` when it is self-signed (`issuer: self`).
        let issuer = match c.issuer {
            None => None,
            Some(i) if self.issuers[i].is_some() => Some(i),
            Some(i) => {
                let why = self.unusable_issuer(&c.name, i);
                self.cert_problems.insert(me, why);
                self.certificates.push(Issued::unusable(&c.name));
                return Ok(());
            }
        };
        if let Some(prior) = self.prior {
            // A self-signed certificate's declaration has no issuer certificate.
            let issuer_der = issuer
                .map(|i| self.authorities[i].der.to_vec())
                .unwrap_or_default();
            let declaration = persist::certificate_declaration(
                c,
                &rcgen::PublicKeyData::subject_public_key_info(&key),
                &issuer_der,
            );
            let kept = prior.certificate(&c.name, &declaration, c.not_before, c.not_after);
            if let Some(issued) =
                self.kept(me, &c.name, &key, kept, declaration, intermediates.clone())
            {
                self.certificates.push(issued);
                return Ok(());
            }
        }
        let fail = |source| PkiError::Issue {
            name: c.name.clone(),
            source,
        };
        let params = issue::leaf_params(c).map_err(fail)?;
        let (cert, key) = match issuer {
            Some(i) => {
                // Invariant: checked above (an unusable issuer returned early).
                let signer = self.issuers[i].as_ref().expect("a usable issuer");
                (params.signed_by(&key, signer).map_err(fail)?, key)
            }
            None => {
                // Self-signed: the certificate's own key signs it, with its `signature`.
                let key = match c.signature {
                    Some(_) => {
                        keys::signer(&key.serialize_der(), c.key, c.signature).map_err(fail)?
                    }
                    None => key,
                };
                (params.self_signed(&key).map_err(fail)?, key)
            }
        };
        let issued = issue::issued(
            &c.name,
            cert,
            &key,
            intermediates,
            params.serial_number.clone(),
        );
        self.certificates.push(self.with_kept_key(issued));
        Ok(())
    }

    /// Signs the CRL of authority `index`, when it publishes one and can sign.
    fn crl(&mut self, index: usize) -> Result<(), PkiError> {
        let lab = self.lab;
        let a = &lab.authorities[index];
        let Some(crl) = &a.crl else { return Ok(()) };
        let params = issue::crl_params(crl, |r| match r {
            CertRef::Authority(t) => self.authorities[t].serial.clone(),
            CertRef::Certificate(t) => self.certificates[t].serial.clone(),
        });
        let Some(signer) = self.issuers[index].as_ref() else {
            // A loaded authority whose files are broken publishes no CRL; its problem is recorded.
            return Ok(());
        };
        let fail = |source| PkiError::Crl {
            name: a.name.clone(),
            source,
        };
        let signed = params.signed_by(signer).map_err(fail)?;
        let pem = signed.pem().map_err(fail)?;
        self.authorities[index].crl = Some((signed.der().clone(), pem));
        Ok(())
    }

    /// The intermediates a certificate issued by `issuer` sends after itself: the issuer and the issuer's
    /// own intermediates when the issuer is not a root; nothing below a root (or for a root itself).
    fn intermediates_below(&self, issuer: Option<usize>) -> Vec<CertificateDer<'static>> {
        match issuer {
            Some(i) if self.lab.authorities[i].issuer.is_some() => self.authorities[i].chain(),
            _ => Vec::new(),
        }
    }

    /// Why `name` could not be issued: its issuer (authority `issuer`) is unusable.
    fn unusable_issuer(&self, name: &str, issuer: usize) -> String {
        let r = CertRef::Authority(issuer);
        let why = self
            .cert_problems
            .get(&r)
            .or_else(|| self.key_problems.get(&r))
            .map_or("it cannot sign".to_string(), |w| w.clone());
        format!(
            "cannot issue `{name}`: its issuer `{}` is unusable: {why}",
            self.lab.authorities[issuer].name
        )
    }
}
