//! Child processes of external peers: each in its own process group, its output's tail kept, stopped with TERM then KILL and always reaped; Ctrl-C tears down every live group.

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};

/// Lines of output kept for reports.
pub const TAIL_LINES: usize = 20;
/// How long a process may take to exit after SIGTERM before it gets SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);
/// At most this much of a client command's stdout is kept for `expect.output`.
const MAX_STDOUT: usize = 1 << 20;

/// Process groups started by this process and not yet reaped.
fn live() -> &'static Mutex<HashSet<i32>> {
    static LIVE: OnceLock<Mutex<HashSet<i32>>> = OnceLock::new();
    LIVE.get_or_init(Mutex::default)
}

/// Sends SIGKILL to every live process group (on Ctrl-C, before exiting); returns how many there were.
pub fn kill_all() -> usize {
    let groups: Vec<i32> = live()
        .lock()
        .map(|g| g.iter().copied().collect())
        .unwrap_or_default();
    for g in &groups {
        signal_group(*g, Signal::KILL);
    }
    groups.len()
}

fn signal_group(pgid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pgid) {
        let _ = kill_process_group(pid, signal);
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

#[derive(Default)]
struct Captured {
    tail: VecDeque<String>,
    stdout: String,
}

/// A running child process in its own process group; dropping it kills the group and reaps the child.
pub struct ChildProcess {
    child: Child,
    pgid: i32,
    captured: Arc<Mutex<Captured>>,
    exit: Option<ExitStatus>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ChildProcess {
    /// Starts `spec` with stdin closed, stdout and stderr captured, `PYTHONUNBUFFERED=1`, in a new process group.
    pub fn spawn(spec: &CommandSpec) -> Result<ChildProcess, String> {
        use std::os::unix::process::CommandExt;
        let Some((program, args)) = spec.argv.split_first() else {
            return Err("the command is empty".into());
        };
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
        let mut groups = live()
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
        groups.insert(pgid);
        drop(groups);
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
            captured,
            exit: None,
            readers,
        })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pgid as u32
    }

    /// The exit status, if the process has exited (it is then reaped).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                // Stragglers of the group (a shell's children) go with it.
                signal_group(self.pgid, Signal::KILL);
                self.unregister();
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

    /// Stops the process group: SIGTERM, up to [`GRACE`] to exit, then SIGKILL; always reaps the child.
    pub async fn stop(&mut self) -> ExitStatus {
        if let Some(s) = self.try_exit() {
            return s;
        }
        signal_group(self.pgid, Signal::TERM);
        if let Some(s) = self.wait_for(GRACE).await {
            return s;
        }
        self.kill_and_reap()
    }

    fn kill_and_reap(&mut self) -> ExitStatus {
        signal_group(self.pgid, Signal::KILL);
        let status = match self.child.wait() {
            Ok(s) => s,
            Err(_) => std::os::unix::process::ExitStatusExt::from_raw(9),
        };
        self.exit = Some(status);
        self.unregister();
        status
    }

    fn unregister(&self) {
        if let Ok(mut g) = live().lock() {
            g.remove(&self.pgid);
        }
    }

    /// Waits briefly for the output readers to see the end of the pipes (after the process exited).
    pub async fn drain(&mut self) {
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The last [`TAIL_LINES`] lines of stdout and stderr, interleaved as they arrived.
    pub fn tail(&self) -> Vec<String> {
        self.captured
            .lock()
            .map(|c| c.tail.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Everything the process wrote on stdout (the first MiB).
    pub fn stdout(&self) -> String {
        self.captured
            .lock()
            .map(|c| c.stdout.clone())
            .unwrap_or_default()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.kill_and_reap();
        }
    }
}

fn reader<R: std::io::Read + Send + 'static>(
    pipe: R,
    captured: Arc<Mutex<Captured>>,
    is_stdout: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let Ok(mut c) = captured.lock() else { break };
                    if is_stdout && c.stdout.len() < MAX_STDOUT {
                        c.stdout.push_str(&line);
                    }
                    let clean: String = line
                        .trim_end_matches(['\n', '\r'])
                        .chars()
                        .filter(|ch| !ch.is_control() || *ch == '\t')
                        .take(500)
                        .collect();
                    c.tail.push_back(clean);
                    while c.tail.len() > TAIL_LINES {
                        c.tail.pop_front();
                    }
                }
            }
        }
    })
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
