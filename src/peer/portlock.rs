//! A fixed port held across processes: an advisory lock (`flock`) on one file per port in a private
//! runtime directory, so that two mtls-lab runs on one machine never use the seed's 4443 (or any fixed
//! port) at the same time. The holder writes its pid and lab file into the lock file, so a run that
//! waits can say who it waits for.
//!
//! The directory is `$XDG_RUNTIME_DIR/mtls-lab` when that variable names an absolute path, otherwise
//! `/tmp/mtls-lab-UID`; it is created mode 0700 and must be a directory owned by this user, not a
//! symbolic link. Lock files are never opened through a symbolic link. Locks are per user: runs of
//! different users are kept apart only by the "port in use" check.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, Mode, OFlags};

/// How long a run waits for another run's lab to release a fixed port, unless
/// `MTLS_LAB_PORT_WAIT` (seconds) says otherwise.
pub const PORT_WAIT: Duration = Duration::from_secs(600);

/// Why a fixed port could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortLockError {
    /// The lock directory `dir` cannot be used (created, or it is not a private directory of ours).
    #[error("cannot use the port lock directory {dir}: {why}")]
    Dir { dir: PathBuf, why: String },
    /// The lock file `path` cannot be opened or locked.
    #[error("cannot open the port lock file {path}: {error}")]
    File {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Another run held `port` for all of `secs` seconds; `holder` is what it wrote (`pid …, lab …`).
    #[error("port {port} is held by another mtls-lab run ({holder}); waited {secs} s (set MTLS_LAB_PORT_WAIT to wait longer)")]
    Busy {
        port: u16,
        holder: String,
        secs: u64,
    },
}

/// A fixed port held by this process until dropped (closing the file releases the lock).
#[derive(Debug)]
pub struct PortLock {
    pub port: u16,
    _file: File,
}

/// The directory holding the lock files (not created).
pub fn lock_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(d) if d.is_absolute() => d.join("mtls-lab"),
        _ => std::env::temp_dir().join(format!("mtls-lab-{}", rustix::process::getuid().as_raw())),
    }
}

/// Creates `dir` (mode 0700) if needed and checks it is a directory of this user, not a link, that no
/// one else may write to.
fn private_dir(dir: &Path) -> Result<(), PortLockError> {
    let bad = |why: String| PortLockError::Dir {
        dir: dir.to_path_buf(),
        why,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(bad(e.to_string())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| bad(e.to_string()))?;
    if !meta.file_type().is_dir() {
        return Err(bad("it is not a directory (a symbolic link?)".into()));
    }
    if meta.uid() != rustix::process::getuid().as_raw() {
        return Err(bad(format!("it belongs to user {}, not to us", meta.uid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(bad(format!(
            "others may write to it (mode {:o})",
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

/// Opens (creating, mode 0600) the lock file of `port`, never through a symbolic link.
fn open_lock(dir: &Path, port: u16) -> Result<(File, PathBuf), PortLockError> {
    let path = dir.join(format!("port-{port}.lock"));
    let fd = rustix::fs::open(
        &path,
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| PortLockError::File {
        path: path.clone(),
        error: e.into(),
    })?;
    let file = File::from(fd);
    let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    if !regular {
        return Err(PortLockError::File {
            path,
            error: std::io::Error::other("not a regular file"),
        });
    }
    Ok((file, path))
}

/// What the holder of a lock file wrote (`pid 123, lab labs/seed-mtls.yaml`), or `unknown`.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.take(4096).read_to_string(&mut text);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "unknown".into()
    } else {
        text
    }
}

/// The wait from `MTLS_LAB_PORT_WAIT` (whole seconds), else [`PORT_WAIT`].
pub fn port_wait() -> Duration {
    std::env::var("MTLS_LAB_PORT_WAIT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(PORT_WAIT, Duration::from_secs)
}

/// Takes `port` for the lab file `lab`, waiting at most `wait` for another process to release it
/// (polling every 100 ms, with one warning naming the holder); writes `pid PID, lab PATH` into the
/// lock file.
///
/// # Errors
/// [`PortLockError::Dir`] or [`PortLockError::File`] when the lock cannot be set up,
/// [`PortLockError::Busy`] when another process still holds the port after `wait`.
pub async fn acquire(port: u16, lab: &Path, wait: Duration) -> Result<PortLock, PortLockError> {
    let dir = lock_dir();
    private_dir(&dir)?;
    let (mut file, path) = open_lock(&dir, port)?;
    let started = Instant::now();
    let mut warned = false;
    loop {
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {}
            Err(e) => {
                return Err(PortLockError::File {
                    path,
                    error: e.into(),
                })
            }
        }
        if started.elapsed() >= wait {
            return Err(PortLockError::Busy {
                port,
                holder: holder(&mut file),
                secs: wait.as_secs(),
            });
        }
        if !warned {
            warned = true;
            tracing::warn!(
                "port {port} is held by another mtls-lab run ({}); waiting up to {} s",
                holder(&mut file),
                wait.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = file.set_len(0);
    let _ = file.seek(SeekFrom::Start(0));
    let _ = writeln!(file, "pid {}, lab {}", std::process::id(), lab.display());
    let _ = file.flush();
    Ok(PortLock { port, _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_port_is_busy_and_names_its_holder() {
        // A port number no lab uses, so that this test cannot wait for a real run.
        let port = 1;
        let held = acquire(port, Path::new("a.yaml"), Duration::from_secs(5))
            .await
            .unwrap();
        let err = acquire(port, Path::new("b.yaml"), Duration::ZERO)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "port 1 is held by another mtls-lab run (pid {}, lab a.yaml)",
                std::process::id()
            )),
            "{text}"
        );
        drop(held);
        acquire(port, Path::new("b.yaml"), Duration::ZERO)
            .await
            .unwrap();
    }
}
