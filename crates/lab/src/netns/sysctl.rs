//! Per-namespace sysctls: [`sysctl_write`] and [`sysctl_read`].
//!
//! `/proc/sys/net/...` resolves to the network namespace of the task that
//! *opens* the file, so the file is opened from a thread inside the
//! namespace ([`NetNs::run`]); the same path opened from the caller's
//! thread would change the caller's namespace (usually the host's).
//!
//! Only `net.*` keys are accepted: other sysctls are global, and writing
//! them "inside" a namespace would change the whole machine. Some `net.*`
//! keys are global too (`net.core.rmem_max`): inside a namespace the kernel
//! shows them read-only and a write fails with a permission error.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use super::{NetNs, NetnsError};

/// Writes `value` to the sysctl `key` (`net.ipv4.ip_forward`,
/// `net.ipv6.conf.all.forwarding`, `net.ipv4.fib_multipath_hash_policy`)
/// inside `ns`.
///
/// Dots separate the levels of the key; a level that itself contains a
/// dot (an interface `eth0.100`) is written with a slash instead
/// (`net.ipv4.conf.eth0/100.forwarding`), as with sysctl(8).
pub fn sysctl_write(ns: &NetNs, key: &str, value: &str) -> Result<(), NetnsError> {
    let path = sysctl_path(ns, key, "write")?;
    let written = ns.run(|| {
        // One write(2): proc sysctl handlers parse each write on its own,
        // so the value must not be split. No O_CREAT or O_TRUNC: the file
        // exists and proc ignores truncation.
        let mut file = std::fs::OpenOptions::new().write(true).open(&path)?;
        file.write_all(value.as_bytes())
    })?;
    written.map_err(|source| NetnsError::Sysctl {
        ns: ns.name().to_string(),
        key: key.to_string(),
        op: "write",
        source,
    })
}

/// Reads the sysctl `key` inside `ns`, without its trailing newline.
pub fn sysctl_read(ns: &NetNs, key: &str) -> Result<String, NetnsError> {
    let path = sysctl_path(ns, key, "read")?;
    let read = ns.run(|| {
        let mut text = String::new();
        std::fs::File::open(&path)?.read_to_string(&mut text)?;
        Ok::<_, io::Error>(text.trim_end_matches('\n').to_string())
    })?;
    read.map_err(|source| NetnsError::Sysctl {
        ns: ns.name().to_string(),
        key: key.to_string(),
        op: "read",
        source,
    })
}

/// `net.ipv4.conf.eth0/100.forwarding` ->
/// `/proc/sys/net/ipv4/conf/eth0.100/forwarding`.
fn sysctl_path(ns: &NetNs, key: &str, op: &str) -> Result<PathBuf, NetnsError> {
    key_to_path(key).map_err(|reason| NetnsError::InvalidArgument {
        ns: ns.name().to_string(),
        op: format!("{op} sysctl `{key}`"),
        reason: reason.to_string(),
    })
}

fn key_to_path(key: &str) -> Result<PathBuf, &'static str> {
    if !key.starts_with("net.") {
        return Err("only per-namespace `net.*` keys can be set in a namespace");
    }
    let mut path = PathBuf::from("/proc/sys");
    for level in key.split('.') {
        let level = level.replace('/', ".");
        if level.is_empty() || level == "." || level == ".." || level.contains('\0') {
            return Err("each level of the key must be a non-empty name");
        }
        path.push(level);
    }
    Ok(path)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn netns_sysctl_keys_map_to_proc_paths() {
        assert_eq!(
            key_to_path("net.ipv4.ip_forward").ok(),
            Some(PathBuf::from("/proc/sys/net/ipv4/ip_forward"))
        );
        assert_eq!(
            key_to_path("net.ipv4.conf.eth0/100.forwarding").ok(),
            Some(PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/forwarding"))
        );
    }

    #[test]
    fn netns_sysctl_keys_outside_net_or_escaping_are_refused() {
        for bad in [
            "kernel.hostname",
            "net..ipv4",
            "net.ipv4.//.x",
            "net./",
            "net.",
            "vm.swappiness",
        ] {
            assert!(key_to_path(bad).is_err(), "{bad}");
        }
    }
}
