//! A node's own `/etc/resolv.conf`: the DNS resolvers the plan names for
//! it (`[[node]] resolver`), seen by every process the lab starts there.
//!
//! A network namespace has no files of its own, so this does what `ip
//! netns exec` does with `/etc/netns/NAME/resolv.conf`: the lab writes the
//! node's file in its run directory ([`write`]), and between fork and exec
//! each process on the node gets a private mount namespace in which that
//! file is bind-mounted over `/etc/resolv.conf` ([`bind_before_exec`]).
//! The host's file is never written, and the mount dies with the process's
//! namespace. Mount propagation is made one-way (`MS_SLAVE`) first, so the
//! bind cannot leak back into the host's namespace where `/` is shared.

use std::ffi::CString;
use std::io;
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Where the C library reads its resolvers.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The file for a node with `resolvers`, in order.
pub fn render(node: &str, resolvers: &[IpAddr]) -> String {
    let mut out = format!(
        "# The resolvers of lab node `{node}`, from the plan (netproof bind-mounts\n# this file over /etc/resolv.conf for the node's processes only).\n"
    );
    for r in resolvers {
        out.push_str(&format!("nameserver {r}\n"));
    }
    out
}

/// Writes `node`'s file at `path`.
pub fn write(path: &Path, node: &str, resolvers: &[IpAddr]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render(node, resolvers))
}

/// Makes `cmd` see `file` as `/etc/resolv.conf`: a private mount namespace
/// with `file` bound over it, entered between fork and exec (after any
/// namespace entries registered before this call). Fails now if
/// `/etc/resolv.conf` is missing on this host, which a bind needs as its
/// mount point.
pub fn bind_before_exec(cmd: &mut std::process::Command, file: &Path) -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    if std::fs::metadata(RESOLV_CONF).is_err() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{RESOLV_CONF} does not exist on this host (or is a dangling link), so the node's resolvers cannot be bound over it; hint: create an empty {RESOLV_CONF}"
            ),
        ));
    }
    let src = CString::new(file.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the file's path"))?;
    let dst = CString::new(RESOLV_CONF).expect("no NUL");
    let root = CString::new("/").expect("no NUL");
    // SAFETY: the closure runs in the child between fork and exec and calls
    // only unshare and mount (plain system calls) and reads errno; the
    // strings were made before the fork and are only borrowed.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_names_each_resolver_in_order() {
        let text = render(
            "client-a",
            &["198.18.0.9".parse().unwrap(), "2001:2::53".parse().unwrap()],
        );
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines, ["nameserver 198.18.0.9", "nameserver 2001:2::53"]);
        assert!(text.contains("`client-a`"));
    }
}
