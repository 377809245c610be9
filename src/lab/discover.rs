//! Which files are labs: the paths given on the command line, with directories expanded into their
//! `*.yaml` / `*.yml` files (recursively, sorted), skipping `_*.yaml` fragments that labs `include`;
//! links are followed, but no directory is walked twice and no file is listed twice (by device and inode).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Why the lab files of a directory could not be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// A directory has no lab file, even in its subdirectories.
    #[error("{}: no *.yaml lab files in this directory", dir.display())]
    NoLabFiles {
        /// The directory named on the command line.
        dir: PathBuf,
    },
    /// A directory (or one below it) could not be read.
    #[error("{}: cannot read directory: {source}", dir.display())]
    ReadDir {
        /// The directory named on the command line.
        dir: PathBuf,
        /// What reading it failed with.
        source: std::io::Error,
    },
}

/// The lab files among `paths`: a file is taken as it is (existing or not: loading it says why not);
/// a directory becomes its `*.yaml` and `*.yml` files, recursively, in sorted order, without the
/// `_name.yaml` fragments.
///
/// Symbolic links are followed, but no directory is entered twice (a link loop, or a link to a
/// directory already walked, is skipped) and no file is listed twice: files and directories are
/// told apart by device and inode, so a lab reached through two paths loads once, by the first.
///
/// Errors: [`DiscoverError::ReadDir`] when a directory cannot be read, [`DiscoverError::NoLabFiles`]
/// when a directory holds no lab file; the first such directory stops the search.
pub fn lab_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut walk = Walk::default();
    for p in paths {
        if p.is_dir() {
            if FileId::of(p).is_some_and(|id| walk.dirs.contains(&id)) {
                continue; // named twice, or inside a directory named before
            }
            let before = walk.out.len();
            let skipped = walk.skipped;
            walk.dir(p).map_err(|source| DiscoverError::ReadDir {
                dir: p.clone(),
                source,
            })?;
            if walk.out.len() == before && walk.skipped == skipped {
                return Err(DiscoverError::NoLabFiles { dir: p.clone() });
            }
        } else {
            walk.file(p.clone());
        }
    }
    Ok(walk.out)
}

/// A file or directory's identity: the same for every path (or link) that reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of what `p` names, links followed; `None` if it does not exist.
    fn of(p: &Path) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).ok().map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// A walk over the command line's paths: what it found, and what it has seen.
#[derive(Default)]
struct Walk {
    out: Vec<PathBuf>,
    dirs: HashSet<FileId>,
    files: HashSet<FileId>,
    /// Lab files left out because they were listed already.
    skipped: usize,
}

impl Walk {
    /// Lists `p` unless the same file is listed already (a path that does not exist is listed: loading
    /// it says why not).
    fn file(&mut self, p: PathBuf) {
        match FileId::of(&p) {
            Some(id) if !self.files.insert(id) => self.skipped += 1,
            _ => self.out.push(p),
        }
    }

    /// Appends the lab files under `dir`, depth first in sorted order, entering no directory twice.
    fn dir(&mut self, dir: &Path) -> std::io::Result<()> {
        if let Some(id) = FileId::of(dir) {
            if !self.dirs.insert(id) {
                return Ok(());
            }
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                self.dir(&p)?;
            } else if is_lab_file(&p) {
                self.file(p);
            }
        }
        Ok(())
    }
}

/// A `*.yaml` or `*.yml` file whose name does not start with `_` (`_name.yaml` files are shared
/// fragments for `include`, not labs).
fn is_lab_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        && !p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_and_other_files_are_not_labs() {
        assert!(is_lab_file(Path::new("labs/seed-mtls.yaml")));
        assert!(is_lab_file(Path::new("a.yml")));
        assert!(!is_lab_file(Path::new("labs/shared/_variations-pki.yaml")));
        assert!(!is_lab_file(Path::new("README.md")));
    }
}
