//! Client commands: run one to completion, bounded, keeping its exit status, stdout and output tail.

use std::time::Duration;

use crate::peer::process::{describe_exit, tail_block, ChildProcess, CommandSpec};
use crate::peer::PeerError;

/// What a client command did.
#[derive(Debug, Clone)]
pub struct ClientRun {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// The exit as [`describe_exit`] words it (`exited with status 1`).
    pub exit_text: String,
    pub stdout: String,
    /// The first MiB of its stderr.
    pub stderr: String,
    /// The last lines of its output (stdout and stderr).
    pub tail: Vec<String>,
}

/// Runs a client command to completion, at most `timeout`.
///
/// # Errors
/// [`PeerError::Spawn`] when the program cannot start; [`PeerError::ClientTimeout`] when it does not exit
/// in time (it is then stopped, TERM then KILL, and reaped).
pub async fn run_client(spec: &CommandSpec, timeout: Duration) -> Result<ClientRun, PeerError> {
    let mut child = ChildProcess::spawn(spec).map_err(PeerError::Spawn)?;
    match child.wait_for(timeout).await {
        Some(status) => {
            // What it left behind (a daemon, a `setsid` child) is stopped too.
            child.stop().await;
            child.drain().await;
            Ok(ClientRun {
                code: status.code(),
                exit_text: describe_exit(status),
                stdout: child.stdout(),
                stderr: child.stderr(),
                tail: child.tail(),
            })
        }
        None => {
            child.stop().await;
            child.drain().await;
            Err(PeerError::ClientTimeout {
                command: spec.display(),
                secs: timeout.as_secs_f64(),
                output: tail_block("its output", &child.tail()),
            })
        }
    }
}
