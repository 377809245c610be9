//! libfaketime, the one way a virtual clock (`at:`) reaches an external program: where the preload
//! library is, and the environment that runs a program (and every process it starts) at that clock.
//! Shared by the lab runner and `limbo`; loading asks [`library`] to refuse a clock it cannot deliver.
//!
//! The library is preloaded directly (`LD_PRELOAD`), not through Debian's `faketime` wrapper: the
//! wrapper names a shared-memory semaphore after its pid, and one left in `/dev/shm` by a killed wrapper
//! makes a later wrapper with that pid fail (`sem_open`), seen 3 times in 36 runs here.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The variable that names the library when it is not where Debian installs it; when set, it is the only
/// place looked at (a path that is not a file means no libfaketime).
pub const LIBRARY_VAR: &str = "MTLS_LAB_LIBFAKETIME";

/// Where [`library`] looks, for messages.
pub const LOOKED: &str = "/usr/lib/<triplet>/faketime/libfaketime.so.1, /usr/lib/faketime/, /usr/local/lib/faketime/, or $MTLS_LAB_LIBFAKETIME";

/// libfaketime's preload library: `$MTLS_LAB_LIBFAKETIME` when set, else Debian's
/// `/usr/lib/<triplet>/faketime/libfaketime.so.1` (package `libfaketime`), `/usr/lib/faketime/` or
/// `/usr/local/lib/faketime/` (a source build). `None` when it is not there. Looked up once per process.
pub fn library() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            if let Some(named) = std::env::var_os(LIBRARY_VAR) {
                let named = PathBuf::from(named);
                return named.is_file().then_some(named);
            }
            let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            dirs.sort();
            dirs.extend(["/usr/lib".into(), "/usr/local/lib".into()]);
            dirs.into_iter()
                .map(|d| d.join("faketime/libfaketime.so.1"))
                .find(|p| p.is_file())
        })
        .as_deref()
}

/// The environment that runs a program at the virtual clock `at`, a clock that starts there and runs
/// on (libfaketime's offset form, `FAKETIME=+SECONDS` or `-SECONDS` from now: every process the program
/// starts inherits the variables and so the same clock). `preload` is an `LD_PRELOAD` the program would
/// otherwise get (its own `env:`); it is kept after libfaketime, and this process's own is used when it
/// is `None`. `None` when libfaketime is not installed ([`library`]).
///
/// `FAKETIME_DONT_FAKE_MONOTONIC=1` leaves the monotonic clock real, as libfaketime advises, so that
/// waits with a timeout (Python's `threading`, which blocks in the kernel until a monotonic deadline)
/// do not hang. libfaketime 0.9.10 (Debian 12) then gets one call wrong: an
/// absolute monotonic `clock_nanosleep`, which Python 3.11's `time.sleep` uses, fails with `EINVAL`
/// (wolfcw/libfaketime#426). A command's own `env:` may set the variable otherwise (see
/// `run::endpoint::at_clock`).
pub fn environment(
    at: time::OffsetDateTime,
    preload: Option<&str>,
) -> Option<Vec<(String, String)>> {
    preloaded(offset(at, time::OffsetDateTime::now_utc()), preload)
}

/// The environment that runs a program with its clock stopped at `at` (libfaketime's absolute form
/// without `@`, `FAKETIME=YYYY-MM-DD hh:mm:ss`, read in UTC: `TZ=UTC` is set): for a verification that
/// must happen at exactly one second — an x509-limbo testcase's `validation_time`, one second before a
/// `notBefore`, say — where a running clock, or an offset rounded to whole seconds, could cross it.
/// Otherwise as [`environment`]; `None` when libfaketime is not installed.
pub fn frozen_environment(at: time::OffsetDateTime) -> Option<Vec<(String, String)>> {
    let at = at.to_offset(time::UtcOffset::UTC);
    let stamp = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    let mut env = preloaded(stamp, None)?;
    env.push(("TZ".into(), "UTC".into()));
    Some(env)
}

/// `LD_PRELOAD` with libfaketime first (then `preload`, else this process's own), `FAKETIME=faketime`,
/// and the monotonic clock left real.
fn preloaded(faketime: String, preload: Option<&str>) -> Option<Vec<(String, String)>> {
    let lib = library()?.display().to_string();
    let inherited = std::env::var("LD_PRELOAD").ok();
    let preload = match preload.or(inherited.as_deref()) {
        Some(p) if !p.trim().is_empty() => format!("{lib}:{p}"),
        _ => lib,
    };
    Some(vec![
        ("LD_PRELOAD".into(), preload),
        ("FAKETIME".into(), faketime),
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
    ])
}

/// libfaketime's offset form for a clock that reads `at` when the real one reads `now`: whole seconds,
/// signed (`+31536000`, `-86400`).
fn offset(at: time::OffsetDateTime, now: time::OffsetDateTime) -> String {
    let seconds = (at - now).whole_seconds();
    if seconds < 0 {
        seconds.to_string()
    } else {
        format!("+{seconds}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_signed_whole_seconds() {
        let now = time::macros::datetime!(2026-01-01 00:00:00.700 UTC);
        assert_eq!(
            offset(time::macros::datetime!(2027-01-01 00:00:00.700 UTC), now),
            "+31536000"
        );
        assert_eq!(
            offset(time::macros::datetime!(2025-12-31 00:00:00.700 UTC), now),
            "-86400"
        );
        assert_eq!(offset(now, now), "+0");
    }
}
