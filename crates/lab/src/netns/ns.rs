//! [`NetNs`]: one network namespace, held by a file descriptor, and the two
//! ways to act inside it: [`NetNs::run`] for code of this process and
//! [`prepare_exec`] for a child process.
//!
//! A namespace is created from a short-lived thread of its own
//! (`unshare(CLONE_NEWNET)` changes only the calling thread), so no thread
//! of the caller, and in particular no worker of a shared tokio runtime,
//! ever changes namespace. The namespace lives as long as [`NetNs`] holds
//! its descriptor; when running as root [`NetNs::create`] (and
//! [`NetNs::create_here`] when asked) also bind-mounts it at
//! `/run/netns/<name>`, exactly as `ip netns add` does, so
//! `ip netns exec <name> ...` and `ip -n <name> ...` work for debugging.
//!
//! Guarantees: [`NetNs::delete`] and `Drop` remove the `/run/netns` entry
//! and close the descriptor, never panic, and are idempotent (an entry
//! already removed by `ip netns del` is not an error). What they cannot
//! do: free the kernel namespace while something else still pins it (a
//! process inside it, an open descriptor of it, a socket created in it,
//! such as a [`super::Netlink`] handle): the kernel frees it when the last
//! of those goes. [`super::census`] sees pins by processes, descriptors and
//! mounts.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::NetnsError;

/// Where iproute2 keeps named network namespaces.
pub const RUN_DIR: &str = "/run/netns";

/// The prefix every namespace the lab creates carries, so `lab gc` and
/// tests can tell the lab's namespaces from everyone else's.
pub const NAME_PREFIX: &str = "np-";

/// A network namespace held open by this process.
///
/// Dropping it removes its `/run/netns` entry and closes its descriptor,
/// best effort; [`NetNs::delete`] does the same and reports what failed.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    fd: OwnedFd,
    /// st_dev and st_ino of the namespace file (nsfs): the kernel's name
    /// for the namespace, stable while it lives.
    dev: u64,
    inode: u64,
    /// The bind mount under /run/netns, until it is removed.
    mount: Option<PathBuf>,
}

impl NetNs {
    /// Creates a network namespace named `name` (which must start with
    /// [`NAME_PREFIX`]).
    ///
    /// When `/run/netns` is writable (root), the namespace is also
    /// bind-mounted at `/run/netns/<name>`; an existing entry of that name
    /// is an error, as with `ip netns add`. Without write access there, the
    /// namespace is held by its descriptor alone and [`NetNs::path`] is
    /// `None`.
    pub fn create(name: &str) -> Result<NetNs, NetnsError> {
        let mount = Self::prepare(name)?;
        let target = mount.clone();
        let made = std::thread::Builder::new()
            .name("np-netns-new".into())
            .spawn(move || unshare_and_open(target.as_deref()));
        let result = match made {
            Ok(thread) => match thread.join() {
                Ok(r) => r,
                Err(_) => Err((
                    Step::Unshare,
                    io::Error::other("the namespace-creating thread panicked"),
                )),
            },
            Err(e) => Err((Step::Unshare, e)),
        };
        Self::finish(name, mount, result)
    }

    /// Like [`NetNs::create`], but moves the *calling* thread into the new
    /// namespace and runs `inside` there before returning: a builder thread
    /// can make many namespaces, and open each one's sockets and write its
    /// sysctls on the way, without starting a thread per namespace.
    ///
    /// With `mount` false the namespace is held by its descriptor alone,
    /// even as root: nothing is created under `/run/netns` (which costs a
    /// file there per namespace; on a disk-backed `/run` that was a third
    /// of the time to create a namespace), and the kernel frees the
    /// namespace when this process lets go of it, however it ends.
    ///
    /// Only for a thread that exists to build namespaces: it stays in the
    /// last namespace it created. Never call it from a runtime worker or a
    /// caller's thread.
    pub fn create_here<T>(
        name: &str,
        mount: bool,
        inside: impl FnOnce() -> T,
    ) -> Result<(NetNs, T), NetnsError> {
        let mount = if mount {
            Self::prepare(name)?
        } else {
            validate_name(name)?;
            None
        };
        let result = unshare_and_open(mount.as_deref());
        let ns = Self::finish(name, mount, result)?;
        Ok((ns, inside()))
    }

    /// Validates `name` and, when `/run/netns` is writable, creates its
    /// empty mount point there.
    fn prepare(name: &str) -> Result<Option<PathBuf>, NetnsError> {
        validate_name(name)?;
        let err = |op: &str, source: io::Error| NetnsError::Namespace {
            ns: name.to_string(),
            op: op.to_string(),
            source,
        };
        match prepare_run_dir() {
            Ok(()) => {
                let path = Path::new(RUN_DIR).join(name);
                // O_EXCL, like iproute2: two labs must not share a name,
                // and we must never mount over someone else's namespace.
                // Mode 0 as in iproute2: the file is only a mount point.
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o000)
                    .open(&path)
                {
                    Ok(_) => Ok(Some(path)),
                    Err(e) if unwritable(&e) => Ok(None),
                    Err(e) => Err(err(&format!("create `{}` for", path.display()), e)),
                }
            }
            Err(e) if unwritable(&e) => Ok(None),
            Err(e) => Err(err(&format!("prepare `{RUN_DIR}` for"), e)),
        }
    }

    /// Wraps up an unshare: the handle, or the error with the mount point
    /// removed again.
    fn finish(
        name: &str,
        mount: Option<PathBuf>,
        result: Result<(OwnedFd, u64, u64), (Step, io::Error)>,
    ) -> Result<NetNs, NetnsError> {
        match result {
            Ok((fd, dev, inode)) => Ok(NetNs {
                name: name.to_string(),
                fd,
                dev,
                inode,
                mount,
            }),
            Err((step, e)) => {
                let op = match (step, &mount) {
                    (Step::Mount, Some(path)) => format!("bind-mount `{}` for", path.display()),
                    _ => "create".to_string(),
                };
                if let Some(path) = &mount {
                    let _ = std::fs::remove_file(path);
                }
                Err(NetnsError::Namespace {
                    ns: name.to_string(),
                    op,
                    source: e,
                })
            }
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The descriptor that holds the namespace (for `setns`, or for
    /// `IFLA_NET_NS_FD` in a netlink request). Valid while `self` lives.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The namespace's inode number: the kernel's identity for it, as
    /// `readlink /proc/PID/ns/net` (`net:[INODE]`) and `lsns -t net` show
    /// it. Teardown is counted by this, not by names.
    pub fn inode(&self) -> u64 {
        self.inode
    }

    /// Where the namespace is bind-mounted (`/run/netns/<name>`), if it is.
    pub fn path(&self) -> Option<&Path> {
        self.mount.as_deref()
    }

    /// Runs `f` on a thread that has entered this namespace and returns its
    /// result.
    ///
    /// Sockets `f` creates belong to this namespace for their whole life,
    /// whichever thread uses them afterwards: create a node's sockets here
    /// and hand them back. The thread is a fresh scoped thread, so the
    /// calling thread (perhaps a runtime worker) never changes namespace.
    /// `f` blocks that thread only, but the caller waits for it: keep it
    /// short in async code. A panic in `f` is resumed on the caller.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
        let fd = self.fd.as_raw_fd();
        let joined = std::thread::scope(|scope| {
            let thread = std::thread::Builder::new()
                .name(thread_name(&self.name))
                .spawn_scoped(scope, move || {
                    // SAFETY: setns only changes the calling thread's
                    // namespace; `fd` is a namespace descriptor that `self`
                    // keeps open for the whole scope.
                    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(f())
                })?;
            Ok::<_, io::Error>(thread.join())
        });
        match joined {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) => Err(self.error("enter", e)),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(e) => Err(self.error("start a thread to enter", e)),
        }
    }

    /// Removes the `/run/netns` entry and closes the descriptor.
    ///
    /// Idempotent: an entry that is already gone (or that now holds some
    /// other namespace, after an `ip netns del` and `add` behind our back)
    /// is left as it is. The kernel frees the namespace once nothing else
    /// pins it.
    pub fn delete(mut self) -> Result<(), NetnsError> {
        self.remove_entry()
    }

    /// Lazily unmounts and unlinks our `/run/netns` entry, if we still own
    /// it.
    fn remove_entry(&mut self) -> Result<(), NetnsError> {
        let Some(path) = self.mount.take() else {
            return Ok(());
        };
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.error(&format!("inspect `{}` of", path.display()), e)),
        };
        let ours = meta.dev() == self.dev && meta.ino() == self.inode;
        let on_nsfs = meta.dev() == self.dev;
        if on_nsfs && !ours {
            // Another namespace is mounted there now: not ours to remove.
            return Ok(());
        }
        if ours {
            let c_path = CString::new(path.as_os_str().as_bytes())
                .map_err(|e| self.error("unmount", io::Error::other(e)))?;
            // MNT_DETACH, like `ip netns del`: the entry disappears at once
            // even if some process has the file open; the kernel drops the
            // mount's reference when the last user lets go.
            // SAFETY: `c_path` is a valid NUL-terminated path that outlives
            // the call.
            if unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) } != 0 {
                let e = io::Error::last_os_error();
                // EINVAL: not a mount point (already unmounted); ENOENT:
                // gone. Both mean there is nothing left to unmount.
                if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
                    return Err(self.error(&format!("unmount `{}` of", path.display()), e));
                }
            }
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.error(&format!("remove `{}` of", path.display()), e)),
        }
    }

    fn error(&self, op: &str, source: io::Error) -> NetnsError {
        NetnsError::Namespace {
            ns: self.name.clone(),
            op: op.to_string(),
            source,
        }
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Best effort: a failure here has nowhere to go; `delete` reports.
        let _ = self.remove_entry();
    }
}

/// Makes `cmd` enter `ns` (with `setns`) in the child, after fork and
/// before exec, so the program runs inside the namespace from its first
/// instruction. No shell is involved: argv stays argv.
///
/// The command keeps its own duplicate of the namespace descriptor
/// (close-on-exec, so the program does not inherit it and cannot pin the
/// namespace by accident) until the command is dropped. For a
/// `tokio::process::Command`, pass `cmd.as_std_mut()`.
pub fn prepare_exec(cmd: &mut std::process::Command, ns: &NetNs) -> Result<(), NetnsError> {
    // try_clone uses F_DUPFD_CLOEXEC.
    let fd = ns
        .fd
        .try_clone()
        .map_err(|e| ns.error("duplicate the descriptor of", e))?;
    // SAFETY: the closure runs in the child between fork and exec; it calls
    // only setns (a plain system call) and reads errno, both
    // async-signal-safe, and allocates nothing. `fd` is owned by the
    // closure, so it is open in the parent when fork copies the table.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

/// Which step of creating a namespace failed.
#[derive(Clone, Copy)]
enum Step {
    Unshare,
    Mount,
}

/// The body of the namespace-creating thread: unshare, keep a descriptor
/// (with its st_dev and st_ino), and bind-mount it at `mount` if given.
fn unshare_and_open(mount: Option<&Path>) -> Result<(OwnedFd, u64, u64), (Step, io::Error)> {
    // SAFETY: unshare(CLONE_NEWNET) affects only this thread, which exits
    // right after; it touches no memory of ours.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err((Step::Unshare, io::Error::last_os_error()));
    }
    // thread-self, not self: /proc/self/ns/net is the main thread's
    // namespace, which this thread has just left.
    let file = File::open("/proc/thread-self/ns/net").map_err(|e| (Step::Unshare, e))?;
    let meta = file.metadata().map_err(|e| (Step::Unshare, e))?;
    if let Some(target) = mount {
        bind_mount(Path::new("/proc/thread-self/ns/net"), target, 0)
            .map_err(|e| (Step::Mount, e))?;
    }
    Ok((OwnedFd::from(file), meta.dev(), meta.ino()))
}

/// `mount --bind source target` (plus `extra` flags).
fn bind_mount(source: &Path, target: &Path, extra: libc::c_ulong) -> io::Result<()> {
    let source = CString::new(source.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let target = CString::new(target.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let none = c"none";
    // SAFETY: every pointer is a valid NUL-terminated string that outlives
    // the call; data is NULL, which bind mounts ignore.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            none.as_ptr(),
            libc::MS_BIND | extra,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the process has once made `/run/netns` ready (below).
static RUN_DIR_READY: Mutex<bool> = Mutex::new(false);

/// Makes `/run/netns` exist and be a shared mount point, as iproute2 does.
///
/// Why shared: a namespace file mounted here then propagates to mount
/// namespaces cloned from this one (`ip netns exec` makes one), and an
/// unmount here propagates too, so deleting a namespace is not defeated by
/// a copy of its mount pinning it in some other mount namespace. Changing
/// propagation needs a mount point, so the directory is first bound onto
/// itself if it is not one (the kernel answers EINVAL then).
fn prepare_run_dir() -> io::Result<()> {
    let mut ready = RUN_DIR_READY.lock().unwrap_or_else(|p| p.into_inner());
    if *ready {
        return Ok(());
    }
    match std::fs::DirBuilder::new().mode(0o755).create(RUN_DIR) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let dir = CString::new(RUN_DIR).map_err(io::Error::other)?;
    let empty = c"";
    let none = c"none";
    let mut made_mount_point = false;
    loop {
        // SAFETY: valid NUL-terminated strings that outlive the call; a
        // propagation change reads no source and no data.
        let rc = unsafe {
            libc::mount(
                empty.as_ptr(),
                dir.as_ptr(),
                none.as_ptr(),
                libc::MS_SHARED | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) || made_mount_point {
            return Err(e);
        }
        bind_mount(Path::new(RUN_DIR), Path::new(RUN_DIR), libc::MS_REC)?;
        made_mount_point = true;
    }
    *ready = true;
    Ok(())
}

/// Errors that mean "this process may not write /run/netns": we then hold
/// the namespace by descriptor only.
fn unwritable(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
    )
}

/// Refuses names that are not the lab's, or that would escape
/// `/run/netns`.
fn validate_name(name: &str) -> Result<(), NetnsError> {
    let reason = if !name.starts_with(NAME_PREFIX) {
        Some("it must start with `np-`, so that `lab gc` can find what a killed run left")
    } else if name.contains('/') || name.contains('\0') {
        Some("it must not contain `/` or NUL")
    } else if name.len() > 200 {
        Some("it is longer than 200 bytes")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it must not contain whitespace or control characters")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetnsError::InvalidNamespaceName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A thread name for `top -H`: the kernel keeps 15 bytes.
fn thread_name(ns: &str) -> String {
    let mut name = String::from("ns:");
    for c in ns.chars() {
        if name.len() + c.len_utf8() > 15 {
            break;
        }
        name.push(c);
    }
    name
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn netns_names_outside_the_lab_prefix_are_refused() {
        for bad in ["lab", "np", "np-a/b", "np-a b", "np-\u{7}", "../np-x"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        let e = validate_name("test").err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "namespace name `test` cannot be used: it must start with `np-`, \
                 so that `lab gc` can find what a killed run left"
            )
        );
        assert!(validate_name("np-run1-edge-a").is_ok());
    }

    #[test]
    fn netns_thread_names_fit_the_kernel() {
        assert_eq!(thread_name("np-abcdefghijklmnop"), "ns:np-abcdefghi");
        assert!(thread_name("np-ü-ü-ü-ü-ü-ü-ü").len() <= 15);
    }
}
