//! Which files are labs: the paths given on the command line, with directories expanded into their
//! `*.yaml` / `*.yml` files (recursively, sorted), skipping `_*.yaml` fragments that labs `include`.

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
/// Errors: [`DiscoverError::ReadDir`] when a directory cannot be read, [`DiscoverError::NoLabFiles`]
/// when a directory holds no lab file; the first such directory stops the search.
pub fn lab_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let before = out.len();
            collect_dir(p, &mut out).map_err(|source| DiscoverError::ReadDir {
                dir: p.clone(),
                source,
            })?;
            if out.len() == before {
                return Err(DiscoverError::NoLabFiles { dir: p.clone() });
            }
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Appends the lab files under `dir` to `out`, depth first in sorted order.
fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_dir(&p, out)?;
        } else if is_lab_file(&p) {
            out.push(p);
        }
    }
    Ok(())
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
