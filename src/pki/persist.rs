//! A PKI that persists between runs: a PKI directory (the [`export`] layout) read back, every key and
//! certificate whose declaration has not changed kept byte for byte, only what is new, changed or
//! expired made again, and the directory updated in place.
//!
//! `DIR/mtls-lab-state.json` records the lab the directory was made for ([`LabIdentity`]: a directory
//! of another lab is refused by the commands, [`check_owner`]) and what each generated certificate was made from: a SHA-256 of its
//! declaration (everything the lab says about it except its validity, plus its key's public key and its
//! issuer's certificate, so that everything under a re-made authority is re-issued), its key type, its
//! declared validity and the time the lab was loaded at, and a SHA-256 of its `.crt` and `.key` files.
//!
//! Validity is compared apart: a bound written as an absolute time must be the same; one written as an
//! offset from now (`+365d`) must be the same offset from the time the lab was loaded. A kept certificate
//! made earlier with an offset is as old as it is; it is renewed as soon as its age could change a
//! verdict: when a time at which the lab verifies (any moment of the next hour, the lab's and every case's
//! `at:` clock, the times the lab's checks look at) lies between the bound as it was made and the bound
//! as it would be made now.
//!
//! A missing or unreadable state file, an entry missing from it, a file changed since it was written (its
//! SHA-256 differs), a file that is a link or does not parse: each makes that entry again, and says so.
//! CRLs are signed afresh every time (their times are offsets from now, and signing needs no new key).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rcgen::KeyPair;
use time::{Duration, OffsetDateTime};

use crate::lab::load::{read_regular, ReadError};
use crate::lab::{Authority, CertRef, Certificate, KeyType, Lab};
use crate::pki::export::{self, ExportError};
use crate::pki::keys;
use crate::pki::Pki;

/// The state file of a PKI directory.
pub const STATE_FILE: &str = "mtls-lab-state.json";

/// The version of the state file's format and of what goes into a declaration's fingerprint; another
/// version makes everything again.
const FORMAT: u32 = 1;

/// PEM files larger than this are not files mtls-lab wrote.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// How long from now a kept certificate must verify as a fresh one would (a run, or an hour of `serve`).
const MARGIN: Duration = Duration::hours(1);

/// The state file: one entry per generated certificate or authority, by name.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    format: u32,
    /// The lab the directory was made for (absent in a directory written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lab: Option<LabIdentity>,
    #[serde(default)]
    entries: BTreeMap<String, Entry>,
}

/// Which lab a PKI directory was made for: its name (with a matrix variant's values) and its lab file's
/// canonical path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabIdentity {
    pub name: String,
    pub file: String,
}

impl LabIdentity {
    /// The identity of `lab`: its name, with the values of its matrix variant when the name does not
    /// already hold them, and its file made canonical (as given when that fails).
    pub fn of(lab: &Lab) -> LabIdentity {
        let mut name = lab.name.clone();
        let missing: Vec<String> = lab
            .variant
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .filter(|kv| !name.contains(kv.as_str()))
            .collect();
        if !missing.is_empty() {
            name.push_str(&format!(" ({})", missing.join(", ")));
        }
        let file = std::fs::canonicalize(&lab.file).unwrap_or_else(|_| lab.file.clone());
        LabIdentity {
            name,
            file: file.display().to_string(),
        }
    }
}

impl std::fmt::Display for LabIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` ({})", self.name, self.file)
    }
}

/// The lab the PKI directory `dir` records it was made for: `Ok(None)` when its state file records none
/// (written before labs were recorded); `Err(why)` when there is no usable state file.
///
/// # Errors
/// Why the state file is missing or unusable, in words.
pub fn recorded_lab(dir: &Path) -> Result<Option<LabIdentity>, String> {
    let bytes = read_small(&dir.join(STATE_FILE)).map_err(|why| {
        format!(
            "{STATE_FILE} {}",
            why.unwrap_or_else(|| "is missing".to_string())
        )
    })?;
    serde_json::from_slice::<State>(&bytes)
        .map(|s| s.lab)
        .map_err(|e| format!("{STATE_FILE} is corrupt ({e})"))
}

/// Whether the PKI directory `dir` may hold the PKI of `lab`: `Err((recorded))` when its state file says
/// it was made for another lab. A directory without a usable state file, or one that records no lab, is
/// not another lab's.
pub fn check_owner(dir: &Path, lab: &Lab) -> Result<(), LabIdentity> {
    match recorded_lab(dir) {
        Ok(Some(other)) if other != LabIdentity::of(lab) => Err(other),
        _ => Ok(()),
    }
}

/// What one generated certificate and its key were made from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// `authority` or `certificate`.
    kind: String,
    /// The issuing authority's name, for a reader (its certificate is in `declaration`).
    issuer: Option<String>,
    /// The key type, as the lab writes it.
    key_type: String,
    /// SHA-256 (hex) of the declaration, the key's public key and the issuer's certificate.
    declaration: String,
    /// The time the lab was loaded at when the certificate was made (RFC 3339).
    made_at: String,
    /// The declared validity then (RFC 3339).
    not_before: String,
    not_after: String,
    /// SHA-256 (hex) of the `.crt` and `.key` files as written.
    crt: String,
    key: String,
}

/// Why a certificate or key of the directory is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redo {
    /// The state file has no entry for it (new in the lab, or no usable state file).
    New,
    /// Its declaration (or its key, or its issuer's certificate) changed.
    Changed,
    /// Its key type changed.
    KeyType,
    /// Valid from an offset of when it was made, it is now old enough to change a verdict.
    Renewed,
    /// A file was changed, removed or replaced since mtls-lab wrote it (what, why).
    Tampered(String),
}

/// A certificate kept from the directory.
#[derive(Debug, Clone)]
pub struct Kept {
    pub der: Vec<u8>,
    pub pem: String,
    /// Its state entry, carried into the new state unchanged.
    pub entry: Entry,
}

/// A PKI directory read back: its state file (if usable) and what the lab's times are now.
#[derive(Debug)]
pub struct Prior {
    dir: PathBuf,
    state: State,
    /// Why the state file could not be used, if it could not.
    pub state_problem: Option<String>,
    /// The time the lab was loaded at.
    now: OffsetDateTime,
    /// Every virtual time at which the lab verifies or checks a certificate (now is apart).
    references: Vec<OffsetDateTime>,
}

impl Prior {
    /// Reads the state of the PKI directory `dir` for `lab`, loaded at `now` (the time its offsets were
    /// resolved from). Never fails: a missing or unusable state file gives an empty state and says why in
    /// [`Prior::state_problem`] (a missing one in an empty or new directory says nothing).
    pub fn read(dir: &Path, lab: &Lab, now: OffsetDateTime) -> Prior {
        let path = dir.join(STATE_FILE);
        let (state, state_problem) = match read_small(&path) {
            Err(None) => {
                let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
                let why = (!empty).then(|| {
                    format!("{STATE_FILE} is missing: every certificate and key is made afresh")
                });
                (State::default(), why)
            }
            Err(Some(why)) => (
                State::default(),
                Some(format!("{STATE_FILE} {why}: every certificate and key is made afresh")),
            ),
            Ok(bytes) => match serde_json::from_slice::<State>(&bytes) {
                Ok(s) if s.format == FORMAT => (s, None),
                Ok(s) => (
                    State::default(),
                    Some(format!(
                        "{STATE_FILE} is of format {} (this mtls-lab writes {FORMAT}): every certificate and key is made afresh",
                        s.format
                    )),
                ),
                Err(e) => (
                    State::default(),
                    Some(format!(
                        "{STATE_FILE} is corrupt ({e}): every certificate and key is made afresh"
                    )),
                ),
            },
        };
        Prior {
            dir: dir.to_path_buf(),
            state,
            state_problem,
            now,
            references: references(lab, now),
        }
    }

    /// The key of `name` kept in the directory, when the state says it is of type `key` and the file is
    /// the one mtls-lab wrote. `Err(None)`: there is none to keep; `Err(Some(why))`: one is there but
    /// cannot be kept.
    pub fn key(&self, name: &str, key: KeyType) -> Result<(KeyPair, String), Option<Redo>> {
        let entry = self.state.entries.get(name).ok_or(None)?;
        if entry.key_type != keys::label(key) {
            return Err(Some(Redo::KeyType));
        }
        let file = format!("{name}/{name}.key");
        let text = self.file(&file, &entry.key).map_err(Some)?;
        let pair = keys::parse_key(&text, key).ok_or_else(|| {
            Some(Redo::Tampered(format!(
                "{file} is not a {} key",
                keys::label(key)
            )))
        })?;
        Ok((pair, text))
    }

    /// The certificate of `name` kept in the directory, when its declaration is `declaration`, its
    /// declared validity now is `not_before`..`not_after` and has not drifted across a reference time, and
    /// its file is the one mtls-lab wrote.
    ///
    /// # Errors
    /// Why it must be made again.
    pub fn certificate(
        &self,
        name: &str,
        declaration: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Kept, Redo> {
        let entry = self.state.entries.get(name).ok_or(Redo::New)?;
        if entry.declaration != declaration {
            return Err(Redo::Changed);
        }
        let times = [&entry.made_at, &entry.not_before, &entry.not_after].map(|t| parse_time(t));
        let [Some(made_at), Some(old_from), Some(old_until)] = times else {
            return Err(Redo::Tampered(format!(
                "the times of `{name}` in {STATE_FILE} do not parse"
            )));
        };
        for (old, new) in [(old_from, not_before), (old_until, not_after)] {
            let same_time = old == new;
            let same_offset = old - made_at == new - self.now;
            if !same_time && !same_offset {
                return Err(Redo::Changed);
            }
            if !same_time && self.crosses(old, new) {
                return Err(Redo::Renewed);
            }
        }
        let file = format!("{name}/{name}.crt");
        let pem = self.file(&file, &entry.crt)?;
        let der = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .ok()
            .filter(|(_, p)| p.label == "CERTIFICATE")
            .map(|(_, p)| p.contents)
            .ok_or_else(|| Redo::Tampered(format!("{file} is not a PEM certificate")))?;
        Ok(Kept {
            der,
            pem,
            entry: entry.clone(),
        })
    }

    /// Whether a moment of the next [`MARGIN`] or a reference time lies between `old` and `new`.
    fn crosses(&self, old: OffsetDateTime, new: OffsetDateTime) -> bool {
        let (lo, hi) = if old <= new { (old, new) } else { (new, old) };
        (lo <= self.now + MARGIN && self.now <= hi)
            || self.references.iter().any(|&r| lo <= r && r <= hi)
    }

    /// The text of `DIR/file` when its SHA-256 is `sha256`.
    fn file(&self, file: &str, sha256: &str) -> Result<String, Redo> {
        let bytes = read_small(&self.dir.join(file)).map_err(|why| {
            Redo::Tampered(format!(
                "{file} {}",
                why.unwrap_or_else(|| "is missing".to_string())
            ))
        })?;
        if hex_sha256(&bytes) != sha256 {
            return Err(Redo::Tampered(format!(
                "{file} was changed since mtls-lab wrote it"
            )));
        }
        String::from_utf8(bytes).map_err(|_| Redo::Tampered(format!("{file} is not text")))
    }
}

/// The times other than now at which `lab` (loaded at `now`) verifies or checks a certificate: the lab's
/// clock, each case's clock, and for each check with `valid_for_at_least` the end of that span.
fn references(lab: &Lab, now: OffsetDateTime) -> Vec<OffsetDateTime> {
    let check_at = lab.at.unwrap_or(now);
    let mut refs = Vec::new();
    refs.extend(lab.at);
    refs.extend(lab.cases.iter().filter_map(|c| c.at));
    refs.extend(
        lab.checks
            .iter()
            .filter_map(|c| c.valid_for_at_least.map(|d| check_at + d)),
    );
    refs
}

/// The bytes of `path` when it is a regular file of at most [`MAX_FILE_BYTES`] and not a symbolic link
/// (read as `from:` files are, [`read_regular`]). `Err(None)`: it does not exist; `Err(Some(why))`: it
/// cannot be used.
fn read_small(path: &Path) -> Result<Vec<u8>, Option<String>> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Some("is a symbolic link".to_string()));
    }
    read_regular(path, MAX_FILE_BYTES).map_err(|e| match e {
        ReadError::NotFound => None,
        e => Some(format!("cannot be read ({e})")),
    })
}

/// The fingerprint of what authority `a` is made from: its declaration except validity and CRL, its key
/// (`public_key`, SubjectPublicKeyInfo DER) and its issuer's certificate (`issuer`, DER; `None` for a root).
pub fn authority_declaration(a: &Authority, public_key: &[u8], issuer: Option<&[u8]>) -> String {
    let text = format!(
        "format {FORMAT}\nauthority {:?}\nsubject {:?}\nkey {}\npath_len {:?}\nserial {:?}\nca {}\nname_constraints {:?}\nsignature {:?}\neku {:?}\nkey_usage {:?}\nunknown_critical_extension {}\n",
        a.name,
        a.subject,
        keys::label(a.key),
        a.path_len,
        a.serial,
        a.ca,
        a.name_constraints,
        a.signature,
        a.eku,
        a.key_usage,
        a.unknown_critical_extension,
    );
    fingerprint(&text, public_key, issuer)
}

/// The fingerprint of what leaf `c` is made from, as [`authority_declaration`].
pub fn certificate_declaration(c: &Certificate, public_key: &[u8], issuer: &[u8]) -> String {
    let text = format!(
        "format {FORMAT}\ncertificate {:?}\nsubject {:?}\nsan {:?}\nkey {}\nusage {:?}\nkey_usage {:?}\nserial {:?}\nca {}\nunknown_critical_extension {}\nsignature {:?}\nself_signed {}\n",
        c.name,
        c.subject,
        c.san,
        keys::label(c.key),
        c.eku,
        c.key_usage,
        c.serial,
        c.ca,
        c.unknown_critical_extension,
        c.signature,
        c.issuer.is_none(),
    );
    fingerprint(&text, public_key, Some(issuer))
}

/// SHA-256 (hex) of a declaration's text, the public key and the issuer's certificate.
fn fingerprint(text: &str, public_key: &[u8], issuer: Option<&[u8]>) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(text.as_bytes());
    ctx.update(b"public key\n");
    ctx.update(hex_sha256(public_key).as_bytes());
    ctx.update(b"\nissuer\n");
    ctx.update(issuer.map(hex_sha256).unwrap_or_default().as_bytes());
    hex(ctx.finish().as_ref())
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex of the SHA-256 of `bytes`.
fn hex_sha256(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn format_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What became of one generated certificate in a build against a PKI directory.
#[derive(Debug, Clone)]
pub struct Made {
    /// Kept from the directory, or made again and why.
    pub certificate: Result<Kept, Redo>,
    /// Why its key was not kept, when it was not (`None`: kept, or nothing to keep).
    pub key_redo: Option<Redo>,
    /// The declaration's fingerprint.
    pub declaration: String,
}

/// What a build against a PKI directory kept and made, per generated certificate.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub made: HashMap<CertRef, Made>,
}

/// What [`write_back`] did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Generated certificates (and their keys) kept byte for byte.
    pub kept: usize,
    /// Generated certificates issued (new, changed, renewed or replacing a damaged file).
    pub issued: usize,
    /// Files written (changed or new); the others were already as they should be.
    pub written: Vec<PathBuf>,
    /// Every file of the PKI, written or kept.
    pub files: Vec<PathBuf>,
    /// One line per certificate or key made again, and about the state file, for the user.
    pub notes: Vec<String>,
}

/// Writes `pki` (of `lab`, read back as `prior`) to the PKI directory `dir`: each file whose content
/// changed (atomically, keys 0600, never through a link), `NAME.p12` files with `p12` (password, whether
/// an authority's holds its key), and the state file. A `.p12` left from an earlier export whose
/// certificate was re-issued is removed when no `.p12` is written now.
///
/// # Errors
/// [`ExportError`] when a file cannot be written or a path is a link.
pub fn write_back(
    lab: &Lab,
    pki: &Pki,
    provenance: &Provenance,
    prior: &Prior,
    dir: &Path,
    p12: Option<(&str, bool)>,
) -> Result<Summary, ExportError> {
    let mut summary = Summary::default();
    if let Some(why) = &prior.state_problem {
        summary.notes.push(why.clone());
    }
    let files = export::export_update(lab, pki, dir, p12)?;
    let mut state = State {
        format: FORMAT,
        lab: Some(LabIdentity::of(lab)),
        entries: BTreeMap::new(),
    };
    let all = (0..lab.authorities.len())
        .map(CertRef::Authority)
        .chain((0..lab.certificates.len()).map(CertRef::Certificate));
    for r in all {
        let d = Declared::of(lab, r);
        let (name, issuer) = (lab.name_of(r), d.issuer);
        let Some(made) = provenance.made.get(&r) else {
            continue;
        };
        let issued = pki.get(r);
        if issued.pem.is_empty() {
            continue;
        }
        if let Some(redo) = &made.key_redo {
            summary
                .notes
                .push(format!("`{name}`: a new key ({})", describe(redo)));
        }
        let entry = match &made.certificate {
            Ok(kept) => {
                summary.kept += 1;
                kept.entry.clone()
            }
            Err(redo) => {
                summary.issued += 1;
                let issuer_redone = issuer.filter(|&i| {
                    provenance
                        .made
                        .get(&CertRef::Authority(i))
                        .is_some_and(|m| m.certificate.is_err())
                });
                let why = match (redo, &made.key_redo, issuer_redone) {
                    // Nothing was there before: a new directory says nothing per certificate.
                    (Redo::New, _, _) if prior.state.entries.is_empty() => None,
                    (Redo::Changed, Some(_), _) => Some("its key is new".to_string()),
                    (Redo::Changed, None, Some(i)) => Some(format!(
                        "its issuer `{}` was issued again",
                        lab.authorities[i].name
                    )),
                    (Redo::Changed, None, None) => Some("its declaration changed".to_string()),
                    (redo, _, _) => Some(describe(redo)),
                };
                if let Some(why) = why {
                    summary.notes.push(format!("`{name}`: issued ({why})"));
                }
                Entry {
                    kind: d.kind.to_string(),
                    issuer: issuer.map(|i| lab.authorities[i].name.clone()),
                    key_type: keys::label(d.key).to_string(),
                    declaration: made.declaration.clone(),
                    made_at: format_time(prior.now),
                    not_before: format_time(d.not_before),
                    not_after: format_time(d.not_after),
                    crt: hex_sha256(issued.pem.as_bytes()),
                    key: hex_sha256(issued.key_pem.as_bytes()),
                }
            }
        };
        state.entries.insert(name.to_string(), entry);
    }
    let text = serde_json::to_string_pretty(&state).unwrap_or_default() + "\n";
    let state_path = dir.join(STATE_FILE);
    let (path, changed) = export::write_if_changed(&state_path, text.as_bytes(), false)?;
    for (path, changed) in files.into_iter().chain(std::iter::once((path, changed))) {
        if changed {
            summary.written.push(path.clone());
        }
        summary.files.push(path);
    }
    Ok(summary)
}

/// What the state records of a certificate's or authority's declaration besides its fingerprint.
struct Declared {
    kind: &'static str,
    issuer: Option<usize>,
    key: KeyType,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Declared {
    fn of(lab: &Lab, r: CertRef) -> Declared {
        match r {
            CertRef::Authority(i) => {
                let a = &lab.authorities[i];
                Declared {
                    kind: "authority",
                    issuer: a.issuer,
                    key: a.key,
                    not_before: a.not_before,
                    not_after: a.not_after,
                }
            }
            CertRef::Certificate(i) => {
                let c = &lab.certificates[i];
                Declared {
                    kind: "certificate",
                    issuer: c.issuer,
                    key: c.key,
                    not_before: c.not_before,
                    not_after: c.not_after,
                }
            }
        }
    }
}

/// Why something was made again, in words.
fn describe(redo: &Redo) -> String {
    match redo {
        Redo::New => "new: not in the state file".to_string(),
        Redo::Changed => "its declaration, key or issuer changed".to_string(),
        Redo::KeyType => "its key type changed".to_string(),
        Redo::Renewed => {
            "renewed: its validity is an offset from now, and the one made before has aged enough to change a verdict".to_string()
        }
        Redo::Tampered(why) => why.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prior(now: OffsetDateTime, references: Vec<OffsetDateTime>) -> Prior {
        Prior {
            dir: PathBuf::new(),
            state: State::default(),
            state_problem: None,
            now,
            references,
        }
    }

    const NOW: OffsetDateTime = time::macros::datetime!(2030-01-10 12:00 UTC);

    #[test]
    fn a_bound_that_drifted_far_from_every_verification_time_is_kept() {
        // `until: +365d` made nine days ago: nobody verifies near either end.
        let p = prior(NOW, vec![]);
        let made = NOW - Duration::days(9);
        assert!(!p.crosses(made + Duration::days(365), NOW + Duration::days(365)));
        // `until: -1d` made nine days ago: expired then and now.
        assert!(!p.crosses(made - Duration::days(1), NOW - Duration::days(1)));
    }

    #[test]
    fn a_bound_that_drifted_across_the_next_hour_or_a_virtual_clock_is_renewed() {
        let p = prior(NOW, vec![NOW + Duration::days(30)]);
        let made = NOW - Duration::days(9);
        // `until: +5d`: the kept one expired four days ago, a fresh one is valid.
        assert!(p.crosses(made + Duration::days(5), NOW + Duration::days(5)));
        // `until: +30d`, verified at `at: +30d`: a fresh one is valid then, the kept one is not.
        assert!(p.crosses(made + Duration::days(30), NOW + Duration::days(30)));
        // `from: +2h` made two hours ago: valid within the hour, a fresh one is not yet.
        let made = NOW - Duration::hours(2);
        assert!(p.crosses(made + Duration::hours(2), NOW + Duration::hours(2)));
    }

    #[test]
    fn the_references_are_the_labs_and_the_cases_clocks() {
        let lab = lab_with_clocks();
        let refs = references(&lab, NOW);
        assert_eq!(
            refs,
            vec![NOW + Duration::days(400), NOW + Duration::hours(1)]
        );
    }

    fn lab_with_clocks() -> Lab {
        let yaml = r#"
lab: clocks
at: +400d
authorities:
  ca: { subject: { CN: CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, usage: server }
servers:
  web: { certificate: server, trust: [ca], client_auth: none }
cases:
  - name: later
    at: +1h
    client: { trust: [ca] }
    expect: accepted
"#;
        crate::lab::parse(Path::new("clocks.yaml"), yaml, NOW).expect("lab")
    }
}
