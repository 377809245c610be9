//! The key cache: generated private keys kept between runs, one file per key type and lab-qualified name
//! (the lab file's canonical path and the certificate's or authority's name), in the user's cache
//! directory (`$XDG_CACHE_HOME/mtls-lab`, else `$HOME/.cache/mtls-lab`, as the XDG Base Directory
//! Specification says), so that a warm run skips key generation.
//!
//! Only keys are cached, never certificates: every certificate is issued afresh, so what a lab declares is
//! what it gets. Two names never share a key (a rogue CA with a trusted CA's subject still has its own), and
//! a key is used only when it is of the declared type and size. The directory is 0700 and each file 0600,
//! owned by the user; a file that is a link, not a regular file, readable by others, or not a key of the
//! right type is ignored and replaced. Writes go to a temporary file renamed into place, so concurrent runs
//! never see half a key.

use std::io::Read;
use std::path::{Path, PathBuf};

use rcgen::KeyPair;

use crate::lab::KeyType;
use crate::pki::export;

/// Key files larger than this are not keys this cache wrote (an RSA-4096 PKCS#8 PEM is about 3.3 kB).
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// A key cache directory, checked and ready.
#[derive(Debug, Clone)]
pub struct KeyCache {
    dir: PathBuf,
}

/// Why the key cache cannot be used (the run goes on without it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Neither `XDG_CACHE_HOME` nor `HOME` is an absolute path.
    #[error("no cache directory: neither XDG_CACHE_HOME nor HOME is set to an absolute path")]
    NoLocation,
    /// The directory is a link, not a directory, or not the user's.
    #[error("{path}: {why}")]
    Unsafe { path: PathBuf, why: &'static str },
    /// The directory could not be created or its mode set.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl KeyCache {
    /// Where the user's key cache is: `$XDG_CACHE_HOME/mtls-lab` when that variable is an absolute path
    /// (the XDG Base Directory Specification ignores a relative one), else `$HOME/.cache/mtls-lab`.
    ///
    /// # Errors
    /// [`CacheError::NoLocation`] when neither variable gives an absolute path.
    pub fn location() -> Result<PathBuf, CacheError> {
        let absolute = |var: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        if let Some(base) = absolute("XDG_CACHE_HOME") {
            return Ok(base.join("mtls-lab"));
        }
        absolute("HOME")
            .map(|home| home.join(".cache").join("mtls-lab"))
            .ok_or(CacheError::NoLocation)
    }

    /// The user's key cache ([`KeyCache::location`]), opened with [`KeyCache::open`].
    ///
    /// # Errors
    /// As [`KeyCache::location`] and [`KeyCache::open`].
    pub fn user() -> Result<KeyCache, CacheError> {
        KeyCache::open(&Self::location()?)
    }

    /// Opens the cache directory `dir`, creating it (and its parents) if missing. The directory itself is
    /// made mode 0700; it must be a real directory (not a link) owned by the user.
    ///
    /// # Errors
    /// [`CacheError::Unsafe`] for a link, a non-directory or another user's directory; [`CacheError::Io`]
    /// when it cannot be created or its mode set.
    pub fn open(dir: &Path) -> Result<KeyCache, CacheError> {
        let io = |source| CacheError::Io {
            path: dir.to_path_buf(),
            source,
        };
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        let meta = std::fs::symlink_metadata(dir).map_err(io)?;
        let unsafe_dir = |why| CacheError::Unsafe {
            path: dir.to_path_buf(),
            why,
        };
        if meta.file_type().is_symlink() {
            return Err(unsafe_dir(
                "is a symbolic link; the key cache is never used through a link",
            ));
        }
        if !meta.is_dir() {
            return Err(unsafe_dir("is not a directory"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            if meta.uid() != rustix::process::geteuid().as_raw() {
                return Err(unsafe_dir("belongs to another user"));
            }
            if meta.mode() & 0o777 != 0o700 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(io)?;
            }
        }
        Ok(KeyCache {
            dir: dir.to_path_buf(),
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the `key`-typed key of `name` in the lab file `lab_file` (canonical), `None` when the lab
    /// file has no canonical path (a lab that is not a file is never cached).
    fn path(&self, lab_file: &Path, name: &str, key: KeyType) -> Option<PathBuf> {
        let canonical = std::fs::canonicalize(lab_file).ok()?;
        let mut qualified = canonical.as_os_str().as_encoded_bytes().to_vec();
        qualified.push(0);
        qualified.extend_from_slice(name.as_bytes());
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &qualified);
        let id = super::persist::hex(&digest.as_ref()[..16]);
        Some(
            self.dir
                .join(format!("{id}-{}.key", super::keys::label(key))),
        )
    }

    /// The cached key of `name` in `lab_file`, when there is one of type `key` that this user alone can
    /// read; anything else (missing, a link, readable by others, malformed, another type or size) is `None`.
    pub fn get(&self, lab_file: &Path, name: &str, key: KeyType) -> Option<KeyPair> {
        let path = self.path(lab_file, name, key)?;
        let text = read_private(&path)?;
        super::keys::parse_key(&text, key)
    }

    /// Stores `pair` as the `key`-typed key of `name` in `lab_file` (mode 0600, atomically). A lab file
    /// without a canonical path stores nothing.
    ///
    /// # Errors
    /// The error of writing the file.
    pub fn put(
        &self,
        lab_file: &Path,
        name: &str,
        key: KeyType,
        pair: &KeyPair,
    ) -> Result<(), export::ExportError> {
        let Some(path) = self.path(lab_file, name, key) else {
            return Ok(());
        };
        // PKCS#8 v1 (`keys::pkcs8_pem`): rcgen's own PEM of an Ed25519 key is v2, which OpenSSL 3.0's
        // `openssl pkey` cannot read.
        export::write_file(&path, super::keys::pkcs8_pem(pair).as_bytes(), true)
    }
}

/// The text of `path` when it is a regular file (not a link), owned by this user, readable by nobody else,
/// and small; else `None`.
fn read_private(path: &Path) -> Option<String> {
    let file = open_no_follow(path)?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_KEY_BYTES {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != rustix::process::geteuid().as_raw() || meta.mode() & 0o077 != 0 {
            return None;
        }
    }
    let mut text = String::new();
    file.take(MAX_KEY_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Opens `path` for reading without following a link at its last component.
fn open_no_follow(path: &Path) -> Option<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options.open(path).ok()
}
