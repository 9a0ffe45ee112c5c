//! The lab registry: what every live lab created, so that what a killed
//! owner left behind can be found and removed (`netproof lab gc`).
//!
//! Each lab writes one JSON file, `<dir>/<lab id>.json`, *before* it creates
//! anything, and rewrites it as it goes (atomically: write then rename). The
//! file names the owner by pid **and** process start time, so a reused pid is
//! never taken for the owner, and lists the namespaces (with their
//! `/run/netns` paths, where it mounts them) and the processes (pid and
//! start time) the lab made. A lab that mounts nothing there (a `run`
//! without `--ip-netns`, or any lab built without root) holds its
//! namespaces by descriptor: they die with their owner, and its nodes are
//! reached through the owner's `/proc/PID/...` files, which [`gc`] never
//! touches.
//! A lab that comes down in order removes its file; one whose owner died
//! leaves it, and [`gc`] finishes the teardown.
//!
//! The registry lives in `/run/netproof/labs` for root and in
//! `$XDG_RUNTIME_DIR/netproof/labs` otherwise (`$NETPROOF_REGISTRY`
//! overrides both) (both are cleared at boot, as
//! the kernel objects they describe are).

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A process identified for the life of the machine: pid and start time
/// (clock ticks since boot, field 22 of `/proc/PID/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    /// The pid.
    pub pid: u32,
    /// The start time; 0 when it could not be read.
    pub start_time: u64,
}

impl ProcessId {
    /// This process.
    pub fn current() -> ProcessId {
        Self::of(std::process::id()).unwrap_or(ProcessId {
            pid: std::process::id(),
            start_time: 0,
        })
    }

    /// The process with `pid`, if it exists (a zombie counts as gone: it
    /// runs nothing and holds no namespace; see [`netproof_proto::process`]).
    pub fn of(pid: u32) -> Option<ProcessId> {
        let stat = netproof_proto::process::read(pid).ok()?;
        (!stat.has_exited()).then_some(ProcessId {
            pid,
            start_time: stat.start_time,
        })
    }

    /// Whether this exact process (same pid, same start time) still runs.
    /// A pid whose stat cannot be read is gone: `gc` acts only on what it
    /// names, and only after the kernel no longer shows the owner.
    pub fn is_alive(&self) -> bool {
        netproof_proto::process::read(self.pid).is_ok_and(|s| s.is_alive_as(self.start_time))
    }
}

/// A namespace a lab created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceEntry {
    /// The plan node it belongs to.
    pub node: String,
    /// Its name (`np-<lab>-<node>`).
    pub name: String,
    /// Where it is bind-mounted (`/run/netns/<name>`), if it is.
    pub path: Option<PathBuf>,
}

/// A node of a lab, as `netproof lab exec` needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// The plan name.
    pub name: String,
    /// Its addresses, the first being the one `NP_ADDR` names.
    pub addresses: Vec<String>,
    /// Its namespace's path, on the netns backend: `/run/netns/<name>`, or
    /// for a lab built without root the owner's descriptor of it,
    /// `/proc/<owner pid>/fd/<n>` (valid only while the owner lives).
    pub namespace: Option<PathBuf>,
    /// The node's own resolv.conf (its plan `resolver`), which `lab exec`
    /// binds over `/etc/resolv.conf` as the lab does for its processes.
    #[serde(default)]
    pub resolv_conf: Option<PathBuf>,
}

/// A process a lab started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEntry {
    /// Which process.
    pub id: ProcessId,
    /// What it is (`service web on server`).
    pub what: String,
}

/// One lab's registry entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The lab's id (`np-` and 6 hex digits).
    pub id: String,
    /// The plan's name.
    pub plan: String,
    /// The process that owns the lab.
    pub owner: ProcessId,
    /// Seconds since the epoch when the lab was registered.
    pub created: u64,
    /// Whether the lab was started by `netproof lab up` (and so can be
    /// reached by `lab exec` and stopped by `lab down`).
    pub interactive: bool,
    /// The backend (`local`, `netns`).
    pub backend: String,
    /// The nodes.
    pub nodes: Vec<NodeEntry>,
    /// Namespaces, in creation order.
    pub namespaces: Vec<NamespaceEntry>,
    /// Processes, in start order.
    pub processes: Vec<ProcessEntry>,
    /// For a lab built without root, the owner's user namespace
    /// (`/proc/<owner pid>/ns/user`): `lab exec` enters it before a node's
    /// network namespace, which belongs to it. Valid only while the owner
    /// lives.
    #[serde(default)]
    pub user_namespace: Option<PathBuf>,
}

/// Where the registry lives and how to read and write it.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// The registry for this user: `$NETPROOF_REGISTRY` when set (tests
    /// use a private one), else `/run/netproof/labs` for root, else
    /// `$XDG_RUNTIME_DIR/netproof/labs` (or the temporary directory).
    pub fn default_location() -> Registry {
        if let Some(dir) = std::env::var_os("NETPROOF_REGISTRY") {
            return Registry { dir: dir.into() };
        }
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let dir = if root {
            PathBuf::from("/run/netproof/labs")
        } else {
            match std::env::var_os("XDG_RUNTIME_DIR") {
                Some(d) => PathBuf::from(d).join("netproof/labs"),
                // A private directory per user: /tmp is shared.
                // SAFETY: getuid has no preconditions.
                None => std::env::temp_dir()
                    .join(format!("netproof-{}/labs", unsafe { libc::getuid() })),
            }
        };
        Registry { dir }
    }

    /// A registry in `dir` (for tests).
    pub fn at(dir: impl Into<PathBuf>) -> Registry {
        Registry { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes (or rewrites) an entry atomically.
    pub fn write(&self, entry: &Entry) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(format!("{}.json", entry.id));
        let tmp = self.dir.join(format!(".{}.json.tmp", entry.id));
        let text = serde_json::to_vec_pretty(entry).map_err(io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    }

    /// Removes an entry; a missing one is fine.
    pub fn remove(&self, id: &str) -> io::Result<()> {
        match std::fs::remove_file(self.dir.join(format!("{id}.json"))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every readable entry. Unreadable files are skipped (and reported by
    /// name in the second list) rather than failing the listing.
    pub fn list(&self) -> (Vec<Entry>, Vec<PathBuf>) {
        let mut entries = Vec::new();
        let mut bad = Vec::new();
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return (entries, bad);
        };
        for item in dir.flatten() {
            let path = item.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            match std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Entry>(&b).ok())
            {
                Some(e) => entries.push(e),
                None => bad.push(path),
            }
        }
        entries.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        (entries, bad)
    }

    /// Entries whose owner is gone.
    pub fn stale(&self) -> Vec<Entry> {
        self.list()
            .0
            .into_iter()
            .filter(|e| !e.owner.is_alive())
            .collect()
    }
}

/// What [`gc`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Labs whose leftovers were removed.
    pub labs: Vec<String>,
    /// Namespaces removed.
    pub namespaces: usize,
    /// Processes killed (matched by pid and start time).
    pub processes: usize,
    /// Run directories (routing daemons' sockets, PID files and
    /// configurations, `<lab id>.d`) removed.
    pub run_dirs: usize,
    /// Things that could not be removed, as sentences.
    pub problems: Vec<String>,
}

/// Removes what labs with a dead owner left: kills their recorded processes
/// (only where pid *and* start time still match), removes their namespaces'
/// `/run/netns` mounts, and deletes their entries. Labs whose owner is alive
/// are never touched.
pub fn gc(registry: &Registry) -> GcReport {
    let mut report = GcReport::default();
    for entry in registry.stale() {
        for p in &entry.processes {
            if p.id.is_alive() {
                if let Ok(pid) = libc::pid_t::try_from(p.id.pid) {
                    // SAFETY: kill has no memory-safety preconditions; the
                    // pid was just matched with its recorded start time.
                    unsafe {
                        libc::kill(-pid, libc::SIGKILL);
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
                report.processes += 1;
            }
        }
        // The daemons' files, now that the daemons are gone.
        let run = registry.dir().join(format!("{}.d", entry.id));
        if run.exists() {
            match std::fs::remove_dir_all(&run) {
                Ok(()) => report.run_dirs += 1,
                Err(e) => report.problems.push(format!(
                    "lab `{}`: cannot remove its run directory `{}`: {e}",
                    entry.id,
                    run.display()
                )),
            }
        }
        for ns in &entry.namespaces {
            // A path under /proc is a live process's view, never a mount
            // of ours (and the owner is gone anyway).
            if let Some(path) = ns.path.as_ref().filter(|p| !p.starts_with("/proc")) {
                match remove_mount(path) {
                    Ok(true) => report.namespaces += 1,
                    Ok(false) => {}
                    Err(e) => report.problems.push(format!(
                        "lab `{}`: cannot remove namespace `{}` ({}): {e}",
                        entry.id,
                        ns.name,
                        path.display()
                    )),
                }
            }
        }
        if let Err(e) = registry.remove(&entry.id) {
            report.problems.push(format!(
                "lab `{}`: cannot remove its registry entry: {e}",
                entry.id
            ));
        }
        report.labs.push(entry.id);
    }
    report
}

/// Unmounts and removes a `/run/netns` entry. `Ok(false)` when it was
/// already gone.
pub fn remove_mount(path: &Path) -> io::Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        // EINVAL: not a mount point (a leftover empty file); remove it anyway.
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(e);
        }
    }
    std::fs::remove_file(path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, owner: ProcessId) -> Entry {
        Entry {
            id: id.into(),
            plan: "p".into(),
            owner,
            created: 1,
            interactive: false,
            backend: "local".into(),
            nodes: vec![],
            namespaces: vec![],
            processes: vec![],
            user_namespace: None,
        }
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = ProcessId::current();
        assert!(me.start_time > 0);
        assert!(me.is_alive());
        let imposter = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!imposter.is_alive());
    }

    #[test]
    fn gc_never_touches_proc_and_reads_entries_without_a_user_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::at(dir.path());
        let dead = ProcessId {
            pid: std::process::id(),
            start_time: ProcessId::current().start_time + 1,
        };
        let mut e = entry("np-dead02", dead);
        e.backend = "netns".into();
        e.user_namespace = Some("/proc/1/ns/user".into());
        e.namespaces.push(NamespaceEntry {
            node: "client".into(),
            name: "np-dead02-client".into(),
            path: Some("/proc/self/ns/net".into()),
        });
        reg.write(&e).unwrap();
        let report = gc(&reg);
        assert_eq!(report.labs, vec!["np-dead02".to_string()]);
        assert_eq!((report.namespaces, report.problems.len()), (0, 0));
        assert!(std::path::Path::new("/proc/self/ns/net").exists());
        // An entry from before `user_namespace` existed still reads.
        let mut old = serde_json::to_value(entry("np-old001", ProcessId::current())).unwrap();
        old.as_object_mut().unwrap().remove("user_namespace");
        std::fs::write(dir.path().join("np-old001.json"), old.to_string()).unwrap();
        let (all, bad) = reg.list();
        assert_eq!((all.len(), bad.len()), (1, 0));
        assert_eq!(all[0].user_namespace, None);
    }

    #[test]
    fn gc_removes_only_entries_whose_owner_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::at(dir.path());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = ProcessId {
            pid: child.id(),
            start_time: 1,
        };
        child.wait().unwrap();
        reg.write(&entry("np-dead01", dead)).unwrap();
        reg.write(&entry("np-live01", ProcessId::current()))
            .unwrap();
        std::fs::write(dir.path().join("garbage.json"), b"{").unwrap();
        let (all, bad) = reg.list();
        assert_eq!(all.len(), 2);
        assert_eq!(bad.len(), 1);
        let report = gc(&reg);
        assert_eq!(report.labs, vec!["np-dead01".to_string()]);
        let (left, _) = reg.list();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, "np-live01");
    }
}
