//! Where reports go: standard output (`-`) or a file, checked before the run and replaced atomically.
//!
//! A report file is written to a new temporary file in its directory and renamed over the target, so a
//! reader never sees half a file, and nothing is ever written through an existing link or onto a device,
//! a FIFO or any other file that is not a regular one: such a path is refused before anything runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::Format;

/// Where one report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output (`-`).
    Stdout,
    /// A file, replaced atomically.
    File(PathBuf),
}

impl Destination {
    /// `-` is standard output; anything else a file.
    pub fn of(path: &Path) -> Destination {
        if path.as_os_str() == "-" {
            Destination::Stdout
        } else {
            Destination::File(path.to_path_buf())
        }
    }
}

/// The directory a file `path` is in (`.` for a bare name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Why an existing `path` may not be replaced by a report: it is a symbolic link, or not a regular file.
/// `None` when it does not exist or is a regular file.
fn unsafe_target(path: &Path) -> Option<&'static str> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        Some("it is a symbolic link (reports are never written through a link)")
    } else if kind.is_dir() {
        Some("it is a directory")
    } else if !kind.is_file() {
        Some("it is not a regular file (a device, a FIFO or a socket)")
    } else {
        None
    }
}

/// The path a report file would be written to, for comparing paths: its directory made canonical, then
/// its name; `None` when its directory does not exist.
fn identity(path: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(directory_of(path)).ok()?;
    Some(dir.join(path.file_name()?))
}

/// Checks, before anything runs, every report asked for (`reports`, each a format and the path given):
/// at most one goes to standard output; a file's directory exists and is writable; the file is not a
/// link, a device, a FIFO or a directory; no two reports share a path; no report is one of `inputs`
/// (the lab files and the files they read). Returns one message per problem.
pub fn check_destinations(reports: &[(Format, &Path)], inputs: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    let stdout: Vec<_> = reports
        .iter()
        .filter(|(_, p)| Destination::of(p) == Destination::Stdout)
        .map(|(f, _)| format!("--report-{}", f.option()))
        .collect();
    if stdout.len() > 1 {
        problems.push(format!(
            "only one report can go to standard output (`-`); {} all ask for it",
            stdout.join(", ")
        ));
    }
    let inputs: Vec<PathBuf> = inputs
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut seen: Vec<(PathBuf, Format)> = Vec::new();
    for &(format, path) in reports {
        let Destination::File(path) = Destination::of(path) else {
            continue;
        };
        let option = format!("cannot write the {} report", format.name());
        let shown = path.display();
        if path.file_name().is_none() {
            problems.push(format!("{option} {shown}: not a file name"));
            continue;
        }
        if let Some(why) = unsafe_target(&path) {
            // `/dev/stdout` and its kin are links to the terminal or a pipe: `-` says that safely.
            let stdio = ["/dev/stdout", "/dev/stderr", "/dev/fd/1", "/proc/self/fd/1"]
                .iter()
                .any(|p| path == Path::new(p));
            let hint = if stdio {
                "; write `-` for standard output"
            } else {
                ""
            };
            problems.push(format!("{option} {shown}: {why}{hint}"));
            continue;
        }
        let dir = directory_of(&path);
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                problems.push(format!(
                    "{option} {shown}: {} is not a directory",
                    dir.display()
                ));
                continue;
            }
            Err(_) => {
                problems.push(format!(
                    "{option} {shown}: the directory {} does not exist",
                    dir.display()
                ));
                continue;
            }
        }
        // The one sure test of writability: create (and drop) a temporary file there.
        if let Err(e) = tempfile::Builder::new()
            .prefix(".mtls-lab-check.")
            .tempfile_in(&dir)
        {
            problems.push(format!(
                "{option} {shown}: cannot write in the directory {}: {e}",
                dir.display()
            ));
            continue;
        }
        let Some(id) = identity(&path) else { continue };
        if inputs.contains(&id) {
            problems.push(format!(
                "{option} {shown}: it is an input of this run (a lab file or a file a lab reads)"
            ));
            continue;
        }
        if let Some((_, other)) = seen.iter().find(|(p, _)| *p == id) {
            problems.push(format!(
                "{option} {shown}: the {} report is written to the same file",
                other.name()
            ));
            continue;
        }
        seen.push((id, format));
    }
    problems
}

/// Checks, before anything runs, that no report file asked for (`reports`) is the directory `dir` or
/// inside it (`run --pki DIR`: a report must never replace a key, a certificate or the state file).
/// Returns one message per report that is.
pub fn check_outside(reports: &[(Format, &Path)], dir: &Path) -> Vec<String> {
    let Some(dir_id) = std::fs::canonicalize(dir).ok().or_else(|| identity(dir)) else {
        return Vec::new();
    };
    reports
        .iter()
        .filter_map(|&(format, path)| {
            let Destination::File(path) = Destination::of(path) else {
                return None;
            };
            identity(&path).filter(|id| id.starts_with(&dir_id)).map(|_| {
                format!(
                    "cannot write the {} report {}: it is inside the PKI directory {} (--pki), whose files it would replace",
                    format.name(),
                    path.display(),
                    dir.display()
                )
            })
        })
        .collect()
}

/// Writes `contents` to `path` atomically: a new temporary file in its directory (mode 0666 less the
/// umask), flushed to disk, then renamed over `path`. An existing `path` that is a link or not a regular
/// file is refused (and would be replaced, never written through: a rename replaces the link itself).
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(why) = unsafe_target(path) {
        return Err(std::io::Error::other(why));
    }
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{}.", name.to_string_lossy());
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(directory_of(path))?;
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_is_standard_output() {
        assert_eq!(Destination::of(Path::new("-")), Destination::Stdout);
        assert_eq!(
            Destination::of(Path::new("./-")),
            Destination::File(PathBuf::from("./-"))
        );
    }

    #[test]
    fn refuses_two_reports_on_stdout_and_on_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("r.json");
        let a2 = dir.path().join(".").join("r.json");
        let dash = Path::new("-");
        let problems = check_destinations(
            &[
                (Format::Json, &a),
                (Format::Tap, &a2),
                (Format::Junit, dash),
                (Format::Classroom, dash),
            ],
            &[],
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn writes_atomically_and_replaces_a_link_never_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.json");
        write_atomic(&target, "one").unwrap();
        write_atomic(&target, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "two");
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert!(write_atomic(&link, "x").is_err());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 3);
    }
}
