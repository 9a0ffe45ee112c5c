//! Processes the lab starts: services and `exec` commands.
//!
//! Every child is started in its own process group and with
//! `PR_SET_PDEATHSIG(SIGKILL)`, so it dies with netproof even after a
//! SIGKILL, and so stopping it can signal the whole group it leads (the
//! group id is the pid we started: we end only what we started, by id).
//! Output is captured into bounded buffers and becomes run artifacts.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// Most bytes of stdout or stderr kept per process; the rest is counted and
/// dropped so a chatty service cannot exhaust memory or the database.
pub const OUTPUT_LIMIT: usize = 1 << 20;

/// A bounded capture of one output stream.
#[derive(Debug, Default)]
pub struct Capture {
    /// The first [`OUTPUT_LIMIT`] bytes.
    pub bytes: Vec<u8>,
    /// Total bytes seen, including those dropped.
    pub total: u64,
    /// Whether the stream reached its end (every writer closed it).
    pub done: bool,
}

impl Capture {
    /// The kept bytes, with a note when some were dropped.
    pub fn content(&self) -> Vec<u8> {
        let mut v = self.bytes.clone();
        if self.total > self.bytes.len() as u64 {
            v.extend_from_slice(
                format!(
                    "\n[netproof: output truncated, {} of {} bytes kept]\n",
                    self.bytes.len(),
                    self.total
                )
                .as_bytes(),
            );
        }
        v
    }
}

/// Shared handle to a capture being filled by a reader task.
pub type SharedCapture = Arc<Mutex<Capture>>;

/// Prepares a command so its child dies with us and leads its own group.
pub fn supervise(cmd: &mut Command) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: the closure runs in the child between fork and exec and calls
    // only async-signal-safe functions (prctl, setpgid, getppid, _exit).
    unsafe {
        cmd.pre_exec(|| {
            // The parent *thread* dying also fires PDEATHSIG; the runner
            // spawns from long-lived runtime worker threads, so that only
            // happens when netproof itself goes away.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // If the parent died before prctl took effect, PDEATHSIG will
            // never fire: exit now rather than leak.
            if libc::getppid() == 1 {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Starts reading a child's stdout and stderr into bounded captures.
pub fn capture(child: &mut Child) -> (SharedCapture, SharedCapture) {
    let out = SharedCapture::default();
    let err = SharedCapture::default();
    if let Some(s) = child.stdout.take() {
        tokio::spawn(drain(s, out.clone()));
    }
    if let Some(s) = child.stderr.take() {
        tokio::spawn(drain(s, err.clone()));
    }
    (out, err)
}

async fn drain<R: tokio::io::AsyncRead + Unpin>(mut r: R, into: SharedCapture) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => {
                into.lock().unwrap_or_else(|e| e.into_inner()).done = true;
                break;
            }
            Ok(n) => {
                let mut c = into.lock().unwrap_or_else(|e| e.into_inner());
                c.total += n as u64;
                let room = OUTPUT_LIMIT.saturating_sub(c.bytes.len());
                let keep = room.min(n);
                c.bytes.extend_from_slice(&buf[..keep]);
            }
        }
    }
}

/// Waits until both captures have reached end of stream, at most `limit`.
/// A process that exited may still have bytes in its pipes; a grandchild
/// that inherited them may keep them open, hence the bound.
pub async fn drained(out: &SharedCapture, err: &SharedCapture, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    let done = |c: &SharedCapture| c.lock().unwrap_or_else(|e| e.into_inner()).done;
    while !(done(out) && done(err)) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Sends `signal` to the process group led by `pid`.
pub fn signal_group(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill has no memory-safety preconditions; a negative pid
        // addresses the process group we created with setpgid.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

/// Stops a child: SIGTERM to its group, then SIGKILL after `grace` (at
/// once when `grace` is zero).
/// Returns the exit status if it could be collected.
pub async fn stop(child: &mut Child, grace: Duration) -> Option<std::process::ExitStatus> {
    let Some(pid) = child.id() else {
        // Already reaped by an earlier wait.
        return child.try_wait().ok().flatten();
    };
    if let Ok(Some(status)) = child.try_wait() {
        // The leader is gone; end any stragglers it left in its group (the
        // kernel does not reuse a pid while it names a live group).
        signal_group(pid, libc::SIGKILL);
        return Some(status);
    }
    if grace.is_zero() {
        // A kill, not a stop: no chance to clean up, as a crash would be.
        signal_group(pid, libc::SIGKILL);
        return tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .ok()
            .and_then(Result::ok);
    }
    signal_group(pid, libc::SIGTERM);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => {
            signal_group(pid, libc::SIGKILL);
            status.ok()
        }
        Err(_) => {
            signal_group(pid, libc::SIGKILL);
            tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .ok()
                .and_then(Result::ok)
        }
    }
}
