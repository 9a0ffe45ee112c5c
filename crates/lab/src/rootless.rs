//! Labs without root: a user and mount namespace of our own.
//!
//! Where the kernel allows unprivileged user namespaces, an ordinary user
//! can own network namespaces, as long as they belong to a user namespace
//! that user created. [`enter_if_unprivileged`] moves this process into a
//! fresh user namespace (the user becomes root inside it, and nobody
//! outside) and a private mount namespace, after which the netns backend
//! works as usual with three differences: `/run/netns` is not writable, so
//! namespaces are held by descriptor only (`lab exec`, run by the same user,
//! reaches them through the owner's `/proc/PID/ns/user` and
//! `/proc/PID/fd/N`, which the registry records while the owner lives);
//! the lab registry lives under `$XDG_RUNTIME_DIR`
//! (decided before the switch, while the real user is still visible); and
//! what the kernel reserves for the real root (global sysctls, devices such
//! as `/dev/net/tun` when it is mode 0600) stays out of reach.
//!
//! The switch must happen before the process starts any thread: the
//! kernel refuses `unshare(CLONE_NEWUSER)` to a multithreaded process. The
//! CLI calls it right after reading the plans, before it opens the results
//! database (whose writer is a thread) or starts the runtime.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::registry::Registry;

/// Set once [`enter_if_unprivileged`] has switched this process.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Whether this process switched to a user namespace of its own (and so
/// looks like root from inside while being an ordinary user outside).
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Why the switch to a user namespace failed.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    /// The process already runs threads.
    #[error(
        "cannot enter a user namespace: this process already runs {0} threads (internal error)"
    )]
    Threaded(usize),
    /// The kernel refused.
    #[error(
        "cannot create a user namespace as an unprivileged user: {0}\nhint: the netns backend needs root, or unprivileged user namespaces (sysctl user.max_user_namespaces > 0, and kernel.unprivileged_userns_clone = 1 where it exists); or run the plan with `--backend local`"
    )]
    Refused(#[source] io::Error),
    /// The identity maps could not be written.
    #[error("cannot map user and group ids into the new user namespace ({what}): {source}")]
    Map {
        /// Which file.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Threads:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(1)
}

/// Enters a new user and mount namespace when not running as root, so the
/// netns backend can build labs. Returns whether it switched. Call it while
/// the process is single-threaded.
pub fn enter_if_unprivileged() -> Result<bool, RootlessError> {
    if is_root() {
        return Ok(false);
    }
    let n = threads();
    if n > 1 {
        return Err(RootlessError::Threaded(n));
    }
    // Decide the registry while the real user is visible: inside, we are
    // uid 0 and would pick /run, which we cannot write.
    if std::env::var_os("NETPROOF_REGISTRY").is_none() {
        let dir = Registry::default_location().dir().to_path_buf();
        // SAFETY: the process is single-threaded (checked above), so no
        // other thread can read the environment concurrently.
        unsafe { std::env::set_var("NETPROOF_REGISTRY", dir) };
    }
    // SAFETY: plain system calls on this process's own credentials.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: unshare has no memory-safety preconditions.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        return Err(RootlessError::Refused(io::Error::last_os_error()));
    }
    let write = |what: &'static str, text: String| {
        std::fs::write(format!("/proc/self/{what}"), text)
            .map_err(|source| RootlessError::Map { what, source })
    };
    // setgroups must be denied before an unprivileged gid_map is accepted.
    write("setgroups", "deny".into())?;
    write("uid_map", format!("0 {uid} 1"))?;
    write("gid_map", format!("0 {gid} 1"))?;
    ACTIVE.store(true, Ordering::Relaxed);
    // Keep any mount we make (none today) from propagating to the host.
    let root = c"/";
    // SAFETY: valid NUL-terminated path; null source, type and data are
    // allowed for a propagation change.
    unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        );
    }
    Ok(true)
}
