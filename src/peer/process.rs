//! Child processes of external peers: each in its own process group, its output's tail kept (bounded),
//! stopped with TERM then KILL and always reaped — with every descendant, also those that left the
//! process group or session (`setsid`, daemons); Ctrl-C tears down every live one.
//!
//! How descendants are found (Linux): this process becomes a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), so a descendant whose parent exits is re-parented to it instead of to
//! init, and stays in its process tree. A command's *scope* is then every process, below this one, that
//! is in the command's process group, or whose chain of parents reaches the command, or whose
//! environment carries the command's marker ([`SCOPE_VAR`]`=PID.SEQ`, set when it is started and
//! inherited). Scopes are stopped as a whole, and the re-parented ones reaped.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, kill_process_group, Pid, Signal, WaitOptions};

use crate::peer::procfs::{self, ProcInfo};

/// Lines of output kept for reports.
pub const TAIL_LINES: usize = 20;
/// Lines kept for [`ChildProcess::lines_since`]: what a server command printed during one case.
pub const RECENT_LINES: usize = 200;
/// Bytes kept of one line of output; the rest of a longer line is dropped and the line marked.
pub const MAX_LINE: usize = 4096;
/// How long a process may take to exit after SIGTERM before it gets SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);
/// At most this much of a client command's stdout is kept for `expect.output` (the first MiB; the
/// rest is read and dropped).
pub const MAX_STDOUT: usize = 1 << 20;
/// Output is read in chunks of this size, whether or not it has newlines.
const CHUNK: usize = 64 * 1024;
/// The environment variable that marks a command and its descendants (`PID.SEQ`: this process, and the
/// command's sequence number).
pub const SCOPE_VAR: &str = "MTLS_LAB_SCOPE";

/// Scopes started by this process and not yet cleaned up: sequence number → process group id.
fn live() -> &'static Mutex<HashMap<u64, i32>> {
    static LIVE: OnceLock<Mutex<HashMap<u64, i32>>> = OnceLock::new();
    LIVE.get_or_init(Mutex::default)
}

/// `NAME=VALUE` of scope `seq`'s marker.
fn marker(seq: u64) -> String {
    format!("{SCOPE_VAR}={}.{seq}", std::process::id())
}

/// Makes this process a child subreaper once, so that orphaned descendants stay below it (Linux;
/// elsewhere, or if refused, they escape to init and only the other rules find them).
fn become_subreaper() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
            tracing::debug!(error = %e, "cannot become a child subreaper");
        }
    });
}

/// The processes of scope `seq` (process group `pgid`, started as `pgid`) in `table`: every descendant
/// of this process in that group, below that process, or carrying the scope's marker.
fn scope_members(table: &[ProcInfo], seq: u64, pgid: i32) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    let ours = procfs::descendants(table, me);
    let below = procfs::descendants(table, pgid);
    let mark = marker(seq);
    table
        .iter()
        .filter(|p| ours.contains(&p.pid))
        .filter(|p| {
            p.pid == pgid
                || p.pgrp == pgid
                || below.contains(&p.pid)
                || (!p.zombie && procfs::environ_has(p.pid, &mark))
        })
        .copied()
        .collect()
}

/// Sends SIGKILL to every live scope — process groups and descendants that left them (on Ctrl-C,
/// before exiting); returns how many scopes there were.
pub fn kill_all() -> usize {
    let scopes: Vec<(u64, i32)> = live()
        .lock()
        .map(|g| g.iter().map(|(s, p)| (*s, *p)).collect())
        .unwrap_or_default();
    let table = procfs::processes().unwrap_or_default();
    for (seq, pgid) in &scopes {
        signal_group(*pgid, Signal::KILL);
        for p in scope_members(&table, *seq, *pgid) {
            signal_pid(p.pid, Signal::KILL);
        }
    }
    scopes.len()
}

/// Whether the TCP connection from `client` to `server` (a built-in server's view: `client` is the
/// peer's address) was opened by a process this one started (a command or its descendants). True
/// where /proc is unavailable (nothing can be told apart); false when the connecting socket is already
/// closed or belongs to any other process (another run's probe, a stray client, this process itself).
pub fn connection_is_ours(client: SocketAddr, server: SocketAddr) -> bool {
    let (Some(sockets), Some(table)) = (procfs::tcp_sockets(), procfs::processes()) else {
        return true;
    };
    let inodes: Vec<u64> = sockets
        .iter()
        .filter(|s| s.local == client && s.remote == server && s.inode != 0)
        .map(|s| s.inode)
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let me = std::process::id() as i32;
    procfs::descendants(&table, me).into_iter().any(|pid| {
        procfs::socket_inodes(pid)
            .iter()
            .any(|i| inodes.contains(i))
    })
}

/// The final sweep of a process whose every child is a lab's command (the `mtls-lab` binary, after its
/// labs): stops every descendant still alive — those that escaped their scope (a new session and a
/// cleared environment, after their parent exited, are re-parented here by the subreaper) — with
/// SIGTERM, up to [`GRACE`], then SIGKILL, and reaps them. Returns how many there were. Not for a
/// process that starts other children (a test harness).
pub async fn sweep_descendants() -> usize {
    let me = std::process::id() as i32;
    let alive = || -> Vec<ProcInfo> {
        let table = procfs::processes().unwrap_or_default();
        let below = procfs::descendants(&table, me);
        let mut out: Vec<ProcInfo> = table
            .iter()
            .filter(|p| p.pid != me && below.contains(&p.pid))
            .copied()
            .collect();
        out.retain(|p| !(p.zombie && p.ppid == me && reap(p.pid)));
        out.retain(|p| !p.zombie);
        out
    };
    let first = alive();
    if first.is_empty() {
        return 0;
    }
    tracing::warn!(pids = ?first.iter().map(|p| p.pid).collect::<Vec<_>>(), "stopping processes left behind by the labs");
    for p in &first {
        signal_pid(p.pid, Signal::TERM);
    }
    let deadline = Instant::now() + GRACE;
    loop {
        let left = alive();
        if left.is_empty() {
            break;
        }
        if Instant::now() >= deadline + GRACE {
            break;
        }
        if Instant::now() >= deadline {
            for p in &left {
                signal_pid(p.pid, Signal::KILL);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.len()
}

fn signal_group(pgid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pgid) {
        let _ = kill_process_group(pid, signal);
    }
}

fn signal_pid(pid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = kill_process(pid, signal);
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub argv: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, String)>,
}

impl CommandSpec {
    /// The command line, for messages.
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| {
                if a.is_empty() || a.contains(char::is_whitespace) {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Output kept: the last lines (each at most [`MAX_LINE`] bytes) and the first [`MAX_STDOUT`] bytes of
/// stdout and of stderr.
#[derive(Default)]
struct Captured {
    tail: VecDeque<String>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// The last [`RECENT_LINES`] lines, and how many lines there were in all.
    recent: VecDeque<String>,
    lines: u64,
}

/// A running child process in its own process group; dropping it kills its scope and reaps it.
pub struct ChildProcess {
    child: Child,
    pgid: i32,
    seq: u64,
    captured: Arc<Mutex<Captured>>,
    exit: Option<ExitStatus>,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// Members of the scope seen so far (pid → start time), to reap them once they are zombies.
    seen: HashMap<i32, u64>,
    /// The scope was stopped and reaped.
    cleaned: bool,
}

impl ChildProcess {
    /// Starts `spec` with stdin closed, stdout and stderr captured, `PYTHONUNBUFFERED=1` and the scope
    /// marker set, in a new process group.
    ///
    /// # Errors
    /// A message when the command is empty, its working directory is missing, or it cannot start.
    pub fn spawn(spec: &CommandSpec) -> Result<ChildProcess, String> {
        use std::os::unix::process::CommandExt;
        static SEQ: AtomicU64 = AtomicU64::new(1);
        let Some((program, args)) = spec.argv.split_first() else {
            return Err("the command is empty".into());
        };
        become_subreaper();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("PYTHONUNBUFFERED", "1")
            .process_group(0);
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let mark = marker(seq);
        let (name, value) = mark.split_once('=').unwrap_or((SCOPE_VAR, ""));
        cmd.env(name, value);
        if let Some(dir) = &spec.cwd {
            if !dir.is_dir() {
                return Err(format!(
                    "cannot start `{}`: working directory {} does not exist",
                    spec.display(),
                    dir.display()
                ));
            }
            cmd.current_dir(dir);
        }
        // Hold the registry lock across spawn so a Ctrl-C in between cannot miss the new group.
        let mut scopes = live()
            .lock()
            .map_err(|_| "internal error: process registry")?;
        let mut child = cmd.spawn().map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                format!("`{program}` was not found (is it installed and on PATH?)")
            } else {
                e.to_string()
            };
            format!("cannot start `{}`: {why}", spec.display())
        })?;
        let pgid = child.id() as i32;
        scopes.insert(seq, pgid);
        drop(scopes);
        let captured: Arc<Mutex<Captured>> = Arc::default();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(reader(out, captured.clone(), true));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(reader(err, captured.clone(), false));
        }
        tracing::debug!(pid = pgid, command = %spec.display(), "started");
        Ok(ChildProcess {
            child,
            pgid,
            seq,
            captured,
            exit: None,
            readers,
            seen: HashMap::new(),
            cleaned: false,
        })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pgid as u32
    }

    /// The exit status, if the process has exited (it is then reaped, and what is left of its process
    /// group is killed).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                // Stragglers of the group (a shell's children) go with it.
                signal_group(self.pgid, Signal::KILL);
            }
        }
        self.exit
    }

    /// Waits up to `limit` for the process to exit by itself.
    pub async fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.try_exit() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The live processes of this command's scope other than the command itself (zombies among them
    /// that are this process's children are reaped on the way).
    fn others(&mut self) -> Vec<ProcInfo> {
        let Some(table) = procfs::processes() else {
            return Vec::new();
        };
        let mut members = scope_members(&table, self.seq, self.pgid);
        // A member that died lost its marker: those seen before are recognised by pid and start time.
        let me = std::process::id() as i32;
        for p in &table {
            if p.ppid == me && p.zombie && self.seen.get(&p.pid) == Some(&p.start) {
                members.push(*p);
            }
        }
        members.retain(|p| p.pid != self.pgid);
        for p in &members {
            self.seen.insert(p.pid, p.start);
        }
        members.retain(|p| !(p.zombie && p.ppid == me && reap(p.pid)));
        members.retain(|p| !p.zombie);
        members
    }

    /// Stops the scope: SIGTERM to the process group and every other member, up to [`GRACE`] for the
    /// command to exit, then SIGKILL; then the same for members still alive; always reaps the command
    /// and the members re-parented to this process. Returns the command's exit status.
    pub async fn stop(&mut self) -> ExitStatus {
        let status = match self.try_exit() {
            Some(s) => s,
            None => {
                let others = self.others();
                signal_group(self.pgid, Signal::TERM);
                for p in &others {
                    signal_pid(p.pid, Signal::TERM);
                }
                match self.wait_for(GRACE).await {
                    Some(s) => s,
                    None => self.kill_and_reap(),
                }
            }
        };
        self.stop_others().await;
        // With -vv: what it printed (redacted, like every report, by the binary's log writer).
        tracing::debug!(pid = self.pgid, output = %self.tail().join("\n"), "stopped; last lines of its output");
        status
    }

    /// The command has exited: SIGTERM to what is left of its scope, up to [`GRACE`] to exit, SIGKILL,
    /// and every member re-parented here reaped.
    async fn stop_others(&mut self) {
        if self.cleaned {
            return;
        }
        let deadline = Instant::now() + GRACE;
        let mut termed = HashMap::new();
        loop {
            let others = self.others();
            if others.is_empty() {
                break;
            }
            let now = Instant::now();
            for p in &others {
                if now >= deadline {
                    signal_pid(p.pid, Signal::KILL);
                } else if termed.insert(p.pid, p.start).is_none() {
                    tracing::debug!(pid = p.pid, "stopping a process the command left behind");
                    signal_pid(p.pid, Signal::TERM);
                }
            }
            if now >= deadline + GRACE {
                tracing::warn!(
                    pids = ?others.iter().map(|p| p.pid).collect::<Vec<_>>(),
                    "processes left by a command did not die after SIGKILL"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.finish();
    }

    /// The same as [`ChildProcess::stop_others`] without waiting: SIGKILL, then reaping for a moment.
    fn kill_others_now(&mut self) {
        if self.cleaned {
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            let others = self.others();
            if others.is_empty() || Instant::now() >= deadline {
                break;
            }
            for p in &others {
                signal_pid(p.pid, Signal::KILL);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.finish();
    }

    fn finish(&mut self) {
        self.cleaned = true;
        if let Ok(mut g) = live().lock() {
            g.remove(&self.seq);
        }
    }

    fn kill_and_reap(&mut self) -> ExitStatus {
        signal_group(self.pgid, Signal::KILL);
        let status = match self.child.wait() {
            Ok(s) => s,
            Err(_) => std::os::unix::process::ExitStatusExt::from_raw(9),
        };
        self.exit = Some(status);
        status
    }

    /// The TCP addresses the command's scope listens on; `None` where /proc is unavailable.
    pub fn listening(&mut self) -> Option<Vec<SocketAddr>> {
        let mut pids = vec![self.pgid];
        pids.extend(self.others().iter().map(|p| p.pid));
        let mut inodes = std::collections::HashSet::new();
        for pid in pids {
            inodes.extend(procfs::socket_inodes(pid));
        }
        let mut out: Vec<SocketAddr> = procfs::tcp_sockets()?
            .into_iter()
            .filter(|s| s.listening && inodes.contains(&s.inode))
            .map(|s| s.local)
            .collect();
        out.sort();
        out.dedup();
        Some(out)
    }

    /// Waits briefly for the output readers to see the end of the pipes (after the process exited).
    pub async fn drain(&mut self) {
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The last [`TAIL_LINES`] lines of stdout and stderr, interleaved as they arrived (each at most
    /// [`MAX_LINE`] bytes, a longer one marked).
    pub fn tail(&self) -> Vec<String> {
        self.captured
            .lock()
            .map(|c| c.tail.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many lines the process has printed so far (stdout and stderr), a mark for [`Self::lines_since`].
    pub fn line_mark(&self) -> u64 {
        self.captured.lock().map(|c| c.lines).unwrap_or_default()
    }

    /// The lines printed since `mark` (at most the last [`RECENT_LINES`]), as [`Self::tail`] keeps them.
    pub fn lines_since(&self, mark: u64) -> Vec<String> {
        self.captured
            .lock()
            .map(|c| {
                let new = c.lines.saturating_sub(mark) as usize;
                let skip = c.recent.len().saturating_sub(new);
                c.recent.iter().skip(skip).cloned().collect()
            })
            .unwrap_or_default()
    }

    /// What the process wrote on stdout: the first [`MAX_STDOUT`] bytes, invalid UTF-8 replaced.
    pub fn stdout(&self) -> String {
        self.captured
            .lock()
            .map(|c| String::from_utf8_lossy(&c.stdout).into_owned())
            .unwrap_or_default()
    }

    /// What the process wrote on stderr: the first [`MAX_STDOUT`] bytes, invalid UTF-8 replaced (a
    /// program's own words about a failed handshake often come early there, before pages of stdout).
    pub fn stderr(&self) -> String {
        self.captured
            .lock()
            .map(|c| String::from_utf8_lossy(&c.stderr).into_owned())
            .unwrap_or_default()
    }
}

/// Reaps `pid`, a zombie child of this process; whether it was reaped.
fn reap(pid: i32) -> bool {
    let Some(p) = Pid::from_raw(pid) else {
        return false;
    };
    matches!(
        rustix::process::waitpid(Some(p), WaitOptions::NOHANG),
        Ok(Some(_))
    )
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.kill_and_reap();
        }
        self.kill_others_now();
    }
}

/// Reads `pipe` in chunks of [`CHUNK`] bytes until its end, keeping what [`Captured`] bounds.
fn reader<R: Read + Send + 'static>(
    mut pipe: R,
    captured: Arc<Mutex<Captured>>,
    is_stdout: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = vec![0u8; CHUNK];
        let mut line = LineBuf::default();
        loop {
            let n = match pipe.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            // A poisoned lock: keep reading (and dropping) so that the program never blocks on a full pipe.
            let Ok(mut c) = captured.lock() else { continue };
            let data = &chunk[..n];
            let kept = if is_stdout {
                &mut c.stdout
            } else {
                &mut c.stderr
            };
            if kept.len() < MAX_STDOUT {
                let room = MAX_STDOUT - kept.len();
                kept.extend_from_slice(&data[..n.min(room)]);
            }
            for piece in data.split_inclusive(|b| *b == b'\n') {
                match piece.strip_suffix(b"\n") {
                    Some(end) => {
                        line.push(end);
                        let l = line.take();
                        c.keep(l);
                    }
                    None => line.push(piece),
                }
            }
        }
        if !line.is_empty() {
            if let Ok(mut c) = captured.lock() {
                let l = line.take();
                c.keep(l);
            }
        }
    })
}

/// One line being read: its first [`MAX_LINE`] bytes, and how many more there were.
#[derive(Default)]
struct LineBuf {
    kept: Vec<u8>,
    dropped: u64,
}

impl LineBuf {
    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.kept.len());
        let take = bytes.len().min(room);
        self.kept.extend_from_slice(&bytes[..take]);
        self.dropped += (bytes.len() - take) as u64;
    }

    fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.dropped == 0
    }

    /// The line for display: no `\r` at its end, no control characters but tabs, a note when it was cut.
    fn take(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.kept);
        let mut clean: String = text
            .trim_end_matches(['\n', '\r'])
            .chars()
            .filter(|ch| !ch.is_control() || *ch == '\t')
            .collect();
        if self.dropped > 0 {
            clean.push_str(&format!(" … [line cut: {} more bytes]", self.dropped));
        }
        self.kept.clear();
        self.dropped = 0;
        clean
    }
}

impl Captured {
    /// Keeps one more line in the tail and the recent lines.
    fn keep(&mut self, line: String) {
        self.lines += 1;
        self.recent.push_back(line.clone());
        while self.recent.len() > RECENT_LINES {
            self.recent.pop_front();
        }
        keep_line(&mut self.tail, line);
    }
}

fn keep_line(tail: &mut VecDeque<String>, line: String) {
    tail.push_back(line);
    while tail.len() > TAIL_LINES {
        tail.pop_front();
    }
}

/// `exited with status 1`, `was killed by signal 9`.
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => format!("ended ({status})"),
    }
}

/// A tail of output as an indented block for a message, or a note that there was none.
pub fn tail_block(what: &str, tail: &[String]) -> String {
    if tail.is_empty() {
        return format!("{what}: no output");
    }
    let mut s = format!("{what} (last {} lines):", tail.len());
    for l in tail {
        s.push_str("\n  | ");
        s.push_str(l);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_marked() {
        let mut l = LineBuf::default();
        l.push(&vec![b'a'; MAX_LINE + 10]);
        l.push(b"bc");
        let text = l.take();
        assert!(text.starts_with(&"a".repeat(MAX_LINE)));
        assert!(text.ends_with(" … [line cut: 12 more bytes]"), "{text}");
        assert!(l.is_empty());
    }
}
