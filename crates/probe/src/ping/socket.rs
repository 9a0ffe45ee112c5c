//! Opening an ICMP echo socket, unprivileged when the system allows it.
//!
//! Linux offers two ways to send echo requests. A datagram "ping" socket
//! (`SOCK_DGRAM` with `IPPROTO_ICMP` or `IPPROTO_ICMPV6`) needs no
//! privilege, only membership of a group in `net.ipv4.ping_group_range`
//! (one sysctl for both IP versions, per network namespace, and empty by
//! default on many distributions); the kernel then picks the identifier,
//! delivers only our replies and strips the IP header. A raw socket
//! needs `CAP_NET_RAW` and sees all ICMP traffic. [`open_socket`] prefers
//! the first and falls back to the second; [`super::client::run`] handles
//! either.
//!
//! This module does no async I/O and never touches tokio: on the netns
//! backend the socket is created on a thread that has entered the node's
//! namespace, and only then handed to the runtime.

use std::io;

use socket2::{Domain, Protocol, Socket, Type};
use thiserror::Error;

/// Neither kind of ICMP socket may be opened by this process.
///
/// [`open_socket`] returns it inside an [`io::Error`] (of the datagram
/// attempt's kind), so callers that care can
/// [`downcast`](io::Error::get_ref) to it.
#[derive(Debug, Error)]
#[error(
    "cannot open an ICMP{v} socket: ping sockets are not allowed for our group ({datagram}) \
     and raw sockets need root or CAP_NET_RAW ({raw})\n\
     hint: allow every group in the namespace that runs the probe with \
     `sysctl net.ipv4.ping_group_range=\"0 2147483647\"` (it covers ICMPv6 too)",
    v = if *.v6 { "v6" } else { "" }
)]
pub struct SocketDenied {
    /// Whether an ICMPv6 socket was asked for.
    pub v6: bool,
    /// Why the datagram (ping) socket was refused.
    #[source]
    pub datagram: io::Error,
    /// Why the raw socket was refused.
    pub raw: io::Error,
}

/// Opens a non-blocking ICMP (`v6` false) or ICMPv6 echo socket.
///
/// Tries an unprivileged datagram socket first. If the system refuses it
/// (EACCES or EPERM: our group is outside `ping_group_range`;
/// EPROTONOSUPPORT: a kernel without ping sockets), tries a raw socket,
/// which works as root or with `CAP_NET_RAW` (checking the capability
/// rather than the user id lets a capable non-root process ping too).
/// When both are refused the error is a [`SocketDenied`] that says which
/// sysctl to change; any other failure is returned as it is.
pub fn open_socket(v6: bool) -> io::Result<Socket> {
    let (domain, protocol) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let socket = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(socket) => socket,
        Err(datagram) if is_refusal(&datagram) => {
            match Socket::new(domain, Type::RAW, Some(protocol)) {
                Ok(socket) => socket,
                Err(raw) if is_refusal(&raw) => {
                    let kind = datagram.kind();
                    return Err(io::Error::new(kind, SocketDenied { v6, datagram, raw }));
                }
                Err(raw) => return Err(raw),
            }
        }
        Err(e) => return Err(e),
    };
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Whether opening a socket failed for lack of permission or support,
/// which another kind of socket may not suffer from.
fn is_refusal(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES | libc::EPERM | libc::EPROTONOSUPPORT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_says_which_sysctl_to_change() {
        let e = io::Error::new(
            io::ErrorKind::PermissionDenied,
            SocketDenied {
                v6: true,
                datagram: io::Error::from_raw_os_error(libc::EACCES),
                raw: io::Error::from_raw_os_error(libc::EPERM),
            },
        );
        let text = e.to_string();
        assert!(text.starts_with("cannot open an ICMPv6 socket"), "{text}");
        assert!(
            text.contains("sysctl net.ipv4.ping_group_range=\"0 2147483647\""),
            "{text}"
        );
        assert!(
            e.get_ref()
                .unwrap()
                .downcast_ref::<SocketDenied>()
                .is_some()
        );
        assert!(is_refusal(&io::Error::from_raw_os_error(
            libc::EPROTONOSUPPORT
        )));
        assert!(!is_refusal(&io::Error::from_raw_os_error(libc::EMFILE)));
    }

    #[test]
    fn opened_socket_is_non_blocking() {
        // Whichever kind the environment allows; skip where it allows none.
        match open_socket(false) {
            Ok(s) => assert!(s.nonblocking().unwrap()),
            Err(e) => assert!(e.get_ref().is_some_and(|e| e.is::<SocketDenied>()), "{e}"),
        }
    }
}
