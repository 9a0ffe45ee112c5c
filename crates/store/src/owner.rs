//! Who owns a running run, and whether that owner is still alive.
//!
//! A run in state `running` is owned by one process, recorded as
//! (hostname, pid, process start time). The start time (field 22 of
//! `/proc/PID/stat`, clock ticks since boot) is what makes the record safe
//! against pid reuse: a pid alone may by now belong to an unrelated process,
//! but a pid *and* its start time identify one process for the life of the
//! machine.
//!
//! The stat line is parsed, and the alive-or-gone decision made, by
//! [`netproof_proto::process`], which the lab registry uses too, so the two
//! agree (a zombie owner is gone).
//!
//! This module only answers "is that process still there?"; deciding what to
//! do about a dead owner (marking its run `aborted`) is the store's job.
//!
//! Limits: liveness can only be judged for owners on this host (another
//! machine's pids mean nothing here), and two containers that share a
//! hostname and a database file but not a pid namespace cannot see each
//! other's processes; give such containers distinct hostnames.

use std::io;
use std::path::Path;

use netproof_proto::process;

use crate::records::Owner;

/// What this process can tell about a run's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The owner process exists (same pid, same start time).
    Alive,
    /// The owner was on this host and is gone: its pid does not exist,
    /// belongs to a process that started at another time, or is a zombie
    /// (it has exited; only its parent has not collected it yet).
    Gone,
    /// The owner ran on another host; nothing can be said from here.
    ElsewhereHost,
    /// This host's process table could not be read (no `/proc`, or an
    /// unexpected error), so the owner is assumed alive.
    Unknown,
}

impl Owner {
    /// The current process: this host's name, our pid and our start time.
    ///
    /// Never fails: a host name that cannot be read is recorded as empty and
    /// a start time that cannot be read as 0. Both make the owner look dead
    /// to a later check that *can* read them, which errs on the side of
    /// reporting a crash; on a machine without `/proc` no run is ever marked
    /// aborted (see [`Owner::liveness`]).
    pub fn current() -> Owner {
        let pid = std::process::id();
        let start_time = match process::read(pid) {
            Ok(stat) => stat.start_time,
            Err(_) => {
                tracing::warn!(
                    pid,
                    "cannot read this process's start time from /proc; recording 0"
                );
                0
            }
        };
        Owner {
            hostname: hostname(),
            pid,
            start_time,
        }
    }

    /// Whether this owner is still alive, judged from a process on the host
    /// named `local_hostname`.
    ///
    /// Errs towards [`Liveness::Alive`]/[`Liveness::Unknown`]: a run is only
    /// reported gone when the process table says so, never because it could
    /// not be read, so a live run is never aborted by mistake.
    pub fn liveness(&self, local_hostname: &str) -> Liveness {
        if self.hostname != local_hostname {
            return Liveness::ElsewhereHost;
        }
        // Without a readable procfs, "no /proc/PID" would say every owner is
        // dead; check our own entry first so that case reads as unknown.
        if !Path::new("/proc/self/stat").exists() {
            return Liveness::Unknown;
        }
        match process::read(self.pid) {
            // A zombie owner has exited: gone, as the lab registry says too.
            Ok(stat) if stat.is_alive_as(self.start_time) => Liveness::Alive,
            Ok(_) => Liveness::Gone,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Liveness::Gone,
            // A process that exits between open and read surfaces as ESRCH.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Liveness::Gone,
            Err(_) => Liveness::Unknown,
        }
    }
}

/// This machine's host name (as seen from this process's UTS namespace), or
/// an empty string if it cannot be read.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at
    // most that many and we never read past it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        // POSIX does not promise a terminating NUL on truncation: stop at the
        // first NUL or the buffer's end.
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        return String::from_utf8_lossy(&buf[..end]).into_owned();
    }
    match std::fs::read_to_string("/proc/sys/kernel/hostname") {
        Ok(s) => s.trim().to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read this host's name; recording an empty one");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_process_is_alive() {
        let me = Owner::current();
        assert_eq!(me.pid, std::process::id());
        assert_ne!(
            me.start_time, 0,
            "procfs is mounted in the test environment"
        );
        assert_eq!(me.liveness(&hostname()), Liveness::Alive);
    }

    #[test]
    fn same_pid_other_start_time_is_gone() {
        let mut me = Owner::current();
        me.start_time += 1;
        assert_eq!(me.liveness(&me.hostname.clone()), Liveness::Gone);
    }

    #[test]
    fn other_host_is_never_judged() {
        let mut me = Owner::current();
        me.hostname = format!("{}-elsewhere", me.hostname);
        assert_eq!(me.liveness(&hostname()), Liveness::ElsewhereHost);
    }
}
