//! Where a lab's routing daemons keep their files: one run directory per
//! lab, `<registry>/<lab id>.d/`, and in it one directory per node holding
//! that node's configuration, control sockets and PID files.
//!
//! Every path is the lab's own, so two nodes' daemons (and two labs) never
//! share a socket, a PID file or a configuration; nothing is written under
//! `/etc/bird`, `/etc/frr` or `/var/run/frr`. The run directory sits beside
//! the lab's registry entry so `lab gc` finds it from the lab id alone.
//!
//! FRR's daemons drop to the `frr` user after start (they refuse to run
//! as root unless root is in the `frrvty` group, which a test machine
//! should not need), so an FRR node's directory belongs to `frr` and the
//! run directory is traversable (mode 0711) but not listable by others.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::registry::Registry;

/// Longest path a Unix socket can have (`sun_path` holds 108 bytes with
/// its terminating NUL).
const SOCKET_PATH_MAX: usize = 107;

/// The run directory of one lab's daemons.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory of lab `id` in `registry`.
    pub fn of(registry: &Registry, id: &str) -> RunDir {
        RunDir {
            root: registry.dir().join(format!("{id}.d")),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Creates it (mode 0711: daemons that dropped privileges can reach
    /// their own node's directory but not list the others).
    pub fn create(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.root)?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o711))
    }

    /// The directory of `node`'s daemons (not created).
    pub fn node(&self, node: &str) -> NodeDir {
        NodeDir {
            dir: self.root.join(node),
        }
    }

    /// Removes it and everything in it; a missing one is fine.
    pub fn remove(&self) -> io::Result<()> {
        remove_tree(&self.root)
    }
}

/// Removes a directory tree; `Ok(false)` when it was already gone.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// One node's daemon files.
#[derive(Debug, Clone)]
pub struct NodeDir {
    dir: PathBuf,
}

impl NodeDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Creates it, owned by `owner` (uid, gid) when given.
    pub fn create(&self, owner: Option<(u32, u32)>) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&self.dir, Some(uid), Some(gid))?;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o750))?;
        }
        Ok(())
    }

    /// The configuration file (`bird.conf`, `frr.conf`).
    pub fn config(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// BIRD's control socket.
    pub fn bird_socket(&self) -> PathBuf {
        self.dir.join("bird.ctl")
    }

    /// A daemon's PID file.
    pub fn pid_file(&self, daemon: &str) -> PathBuf {
        self.dir.join(format!("{daemon}.pid"))
    }

    /// An FRR daemon's vty socket (FRR names it `<daemon>.vty` inside the
    /// `--vty_socket` directory, which is this one).
    pub fn vty_socket(&self, daemon: &str) -> PathBuf {
        self.dir.join(format!("{daemon}.vty"))
    }

    /// FRR's run-state directory for this node (mounted over
    /// `/var/run/frr` for its daemons).
    pub fn frr_state(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// zebra's API socket, which the other FRR daemons connect to.
    pub fn zserv_socket(&self) -> PathBuf {
        self.dir.join("zserv.api")
    }

    /// Whether every socket under this directory fits in `sun_path`
    /// (the longest is an FRR vty socket, `ospf6d.vty`).
    pub fn sockets_fit(&self) -> bool {
        self.vty_socket("ospf6d").as_os_str().len() <= SOCKET_PATH_MAX
    }
}

/// The uid and gid of `user`, if it exists.
pub fn user_ids(user: &str) -> Option<(u32, u32)> {
    let name = std::ffi::CString::new(user).ok()?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we
    // copy the two fields out at once, and the lab starts daemons from one
    // task at a time (no concurrent getpw* call in this crate).
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        (!pw.is_null()).then(|| ((*pw).pw_uid, (*pw).pw_gid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_gets_its_own_files_beside_the_registry_entry() {
        let reg = Registry::at("/run/netproof/labs");
        let run = RunDir::of(&reg, "np-abc123");
        assert_eq!(run.path(), Path::new("/run/netproof/labs/np-abc123.d"));
        let a = run.node("r1");
        let b = run.node("r2");
        assert_eq!(
            a.bird_socket(),
            Path::new("/run/netproof/labs/np-abc123.d/r1/bird.ctl")
        );
        assert_ne!(a.vty_socket("zebra"), b.vty_socket("zebra"));
        assert_ne!(a.pid_file("ospfd"), a.pid_file("zebra"));
        assert!(a.sockets_fit());
        assert!(!run.node(&"n".repeat(80)).sockets_fit());
    }

    #[test]
    fn remove_tree_accepts_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::of(&Registry::at(dir.path()), "np-000001");
        run.create().unwrap();
        run.node("r1").create(None).unwrap();
        std::fs::write(run.node("r1").config("bird.conf"), "x").unwrap();
        run.remove().unwrap();
        assert!(!run.path().exists());
        run.remove().unwrap();
    }

    #[test]
    fn root_exists_and_a_made_up_user_does_not() {
        assert_eq!(user_ids("root"), Some((0, 0)));
        assert_eq!(user_ids("np-no-such-user"), None);
    }
}
