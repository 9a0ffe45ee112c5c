//! The kernel's view of which network namespaces are alive, by inode.
//!
//! Teardown is counted by what the kernel still holds, not by names: an
//! unlinked namespace pinned by a process or an open descriptor is
//! invisible to `ip netns list` but very much alive. [`net_namespace_inodes`]
//! collects every network namespace that is
//!
//! - the namespace of some thread of some process (`/proc/*/task/*/ns/net`),
//! - open as a descriptor in some process (`/proc/*/fd/*` -> `net:[N]`), or
//! - bind-mounted in this process's mount namespace (nsfs entries of
//!   `/proc/self/mountinfo`, which is how `/run/netns/*` holds them).
//!
//! What it cannot see: a namespace pinned only by a socket created in it
//! (the socket's descriptor reads `socket:[N]`), or by a mount in another
//! mount namespace. Close a namespace's sockets (netlink handles included)
//! before counting.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

/// Every network namespace inode that a process, a descriptor or a mount of
/// this machine holds. Processes that exit while being read, or whose
/// entries we may not read, are skipped.
pub fn net_namespace_inodes() -> io::Result<BTreeSet<u64>> {
    let mut found = BTreeSet::new();
    for proc_entry in std::fs::read_dir("/proc")? {
        let Ok(proc_entry) = proc_entry else { continue };
        let name = proc_entry.file_name();
        let Some(pid) = name.to_str() else { continue };
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let dir = proc_entry.path();
        // Threads, not only the process: a thread that has entered a
        // namespace with setns (NetNs::run) shows only under task/.
        if let Ok(tasks) = std::fs::read_dir(dir.join("task")) {
            for task in tasks.flatten() {
                if let Some(ino) = link_inode(&task.path().join("ns/net")) {
                    found.insert(ino);
                }
            }
        }
        if let Ok(fds) = std::fs::read_dir(dir.join("fd")) {
            for fd in fds.flatten() {
                if let Some(ino) = link_inode(&fd.path()) {
                    found.insert(ino);
                }
            }
        }
    }
    if let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") {
        found.extend(mountinfo.lines().filter_map(mounted_net_inode));
    }
    Ok(found)
}

/// `net:[4026532289]` behind a /proc symlink.
fn link_inode(link: &Path) -> Option<u64> {
    let target = std::fs::read_link(link).ok()?;
    parse_net_ref(target.to_str()?)
}

/// The namespace inode of a mountinfo line that bind-mounts a network
/// namespace (fstype `nsfs`, root `net:[N]`).
fn mounted_net_inode(line: &str) -> Option<u64> {
    // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    let (left, right) = line.split_once(" - ")?;
    if right.split(' ').next()? != "nsfs" {
        return None;
    }
    parse_net_ref(left.split(' ').nth(3)?)
}

fn parse_net_ref(text: &str) -> Option<u64> {
    text.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn netns_census_reads_nsfs_mounts() {
        let line = "612 29 0:4 net:[4026532289] /run/netns/np-a rw shared:5 - nsfs nsfs rw";
        assert_eq!(mounted_net_inode(line), Some(4026532289));
        let other = "612 29 0:4 mnt:[4026532289] /run/x rw - nsfs nsfs rw";
        assert_eq!(mounted_net_inode(other), None);
        let tmpfs = "30 1 0:25 / /run rw,nosuid - tmpfs tmpfs rw";
        assert_eq!(mounted_net_inode(tmpfs), None);
    }

    #[test]
    fn netns_census_sees_this_process() {
        let own = link_inode(Path::new("/proc/self/ns/net"));
        let all = net_namespace_inodes().ok();
        assert!(own.is_some());
        assert!(all.is_some_and(|all| own.is_some_and(|o| all.contains(&o))));
    }
}
