//! [`Batch`]: many route-netlink requests in one `sendmsg`, for the
//! thousands of routes a large lab installs.
//!
//! The kernel runs every request of a netlink datagram in the sender's
//! `sendmsg`, one after the other, and a request sent without `NLM_F_ACK`
//! is answered only when it fails. So a batch costs one system call per
//! [`CHUNK`] bytes of requests instead of a send and a receive per
//! request, and the kernel's work is all that is left. When `sendmsg`
//! returns, the errors of that datagram are already queued on the socket:
//! they are read without waiting, and the first one is reported with the
//! index of the request it answers.
//!
//! The socket is a second one beside [`super::Netlink`]'s, made in the same
//! namespace: on the connection's socket, answers the connection did not
//! ask for would be dropped. A batch is used from one thread at a time,
//! and it blocks that thread while the kernel works (a few milliseconds
//! for a thousand routes).

use std::io;

use rtnetlink::packet_core::{
    NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NLMSG_ERROR, NetlinkMessage,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::protocols::NETLINK_ROUTE;
use rtnetlink::sys::{Socket, SocketAddr};

use super::{NetNs, NetnsError};

/// Bytes of requests per datagram: well inside the socket's default send
/// buffer (`net.core.wmem_default`, 208 KiB), which bounds a datagram.
pub const CHUNK: usize = 64 * 1024;

/// The size of a netlink message header.
const HEADER: usize = 16;

/// A blocking route-netlink socket that sends requests in batches inside
/// one namespace.
pub struct Batch {
    ns: String,
    socket: Socket,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("ns", &self.ns).finish()
    }
}

/// A request of a batch that the kernel refused.
#[derive(Debug)]
pub struct BatchError {
    /// Its place in the requests given to [`Batch::send`].
    pub index: usize,
    /// Why: the errno of the kernel's answer, or the socket's error.
    pub error: NetnsError,
}

impl Batch {
    /// Opens a batch in the calling thread's namespace, which is the one
    /// named `ns` (a builder thread that has entered it, or
    /// [`NetNs::run`]).
    pub fn open_here(ns: &str) -> Result<Batch, NetnsError> {
        let open = || -> io::Result<Socket> {
            let socket = Socket::new(NETLINK_ROUTE)?;
            // Answers carry only the header of the request they answer.
            socket.set_cap_ack(true)?;
            // A datagram of which every request fails has more answers
            // than the receive buffer holds: the first ones, which are the
            // ones reported, stay queued, and the rest are dropped without
            // the socket being marked in error.
            socket.set_no_enobufs(true)?;
            Ok(socket)
        };
        match open() {
            Ok(socket) => Ok(Batch {
                ns: ns.to_string(),
                socket,
            }),
            Err(source) => Err(NetnsError::Namespace {
                ns: ns.to_string(),
                op: "open a netlink socket in".into(),
                source,
            }),
        }
    }

    /// The namespace this batch acts in.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// Opens a batch inside `ns` from a thread that enters it.
    pub fn open(ns: &NetNs) -> Result<Batch, NetnsError> {
        ns.run(|| Self::open_here(ns.name()))?
    }

    /// Sends `requests` (new objects, with `NLM_F_CREATE | NLM_F_EXCL`,
    /// or `RTM_SETLINK` changes), in
    /// order, and returns once the kernel has applied them all, or with
    /// the first one it refused. Requests after a refused one in the same
    /// datagram have been tried too; later datagrams are not sent.
    /// `what(i)` names request `i` in an error (`add route …`).
    pub fn send(
        &self,
        requests: impl IntoIterator<Item = RouteNetlinkMessage>,
        what: impl Fn(usize) -> String,
    ) -> Result<(), BatchError> {
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
        let mut answers = vec![0u8; 64 * 1024];
        let mut first = 0;
        for (i, request) in requests.into_iter().enumerate() {
            // Changes to what exists (a link brought up) are requests
            // alone; anything else is a new object that must not exist.
            let flags = match &request {
                RouteNetlinkMessage::SetLink(_) => NLM_F_REQUEST,
                _ => NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
            };
            let mut message = NetlinkMessage::from(request);
            message.header.flags = flags;
            // Sequence numbers count from 1: 0 is what the kernel's own
            // messages carry.
            message.header.sequence_number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            message.finalize();
            let len = message.buffer_len();
            if !buf.is_empty() && buf.len() + len > CHUNK {
                self.flush(&buf, &mut answers, first, &what)?;
                buf.clear();
                first = i;
            }
            let at = buf.len();
            buf.resize(at + len, 0);
            message.serialize(&mut buf[at..]);
        }
        if !buf.is_empty() {
            self.flush(&buf, &mut answers, first, &what)?;
        }
        Ok(())
    }

    /// Sends one datagram and reads the answers it left into `answers`.
    fn flush(
        &self,
        datagram: &[u8],
        answers: &mut [u8],
        first: usize,
        what: &impl Fn(usize) -> String,
    ) -> Result<(), BatchError> {
        let socket_error = |source: io::Error| BatchError {
            index: first,
            error: NetnsError::Netlink {
                ns: self.ns.clone(),
                ifname: None,
                op: what(first),
                source,
            },
        };
        let kernel = SocketAddr::new(0, 0);
        let sent = loop {
            match self.socket.send_to(datagram, &kernel, 0) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r.map_err(socket_error)?,
            }
        };
        if sent != datagram.len() {
            return Err(socket_error(io::Error::other(format!(
                "the kernel took {sent} of {} bytes",
                datagram.len()
            ))));
        }
        // The kernel has run every request by now; failures wait on the
        // socket. Read them without blocking.
        let mut refused: Option<(usize, i32)> = None;
        loop {
            let n = match self.socket.recv(&mut &mut answers[..], libc::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(socket_error(e)),
            };
            for (seq, errno) in errors(&answers[..n]) {
                let index = (seq as usize).saturating_sub(1);
                if errno != 0 && refused.is_none_or(|(i, _)| index < i) {
                    refused = Some((index, errno));
                }
            }
        }
        match refused {
            None => Ok(()),
            Some((index, errno)) => Err(BatchError {
                index,
                error: NetnsError::Netlink {
                    ns: self.ns.clone(),
                    ifname: None,
                    op: what(index),
                    source: io::Error::from_raw_os_error(errno),
                },
            }),
        }
    }
}

/// The (sequence number, errno) of every error answer in a datagram from
/// the kernel; other messages are skipped, and a truncated one ends it.
fn errors(datagram: &[u8]) -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    let mut at = 0;
    while datagram.len() >= at + HEADER {
        let word = |o: usize| {
            u32::from_ne_bytes([
                datagram[at + o],
                datagram[at + o + 1],
                datagram[at + o + 2],
                datagram[at + o + 3],
            ])
        };
        let len = word(0) as usize;
        if len < HEADER || at + len > datagram.len() {
            break;
        }
        let kind = u16::from_ne_bytes([datagram[at + 4], datagram[at + 5]]);
        if kind == NLMSG_ERROR && len >= HEADER + 4 {
            let seq = word(8);
            let code = word(HEADER) as i32;
            out.push((seq, code.saturating_neg()));
        }
        at += len.next_multiple_of(4);
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    fn message(kind: u16, seq: u32, code: i32) -> Vec<u8> {
        let mut m = Vec::new();
        let len: u32 = if kind == NLMSG_ERROR { 36 } else { 20 };
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&code.to_ne_bytes());
        if kind == NLMSG_ERROR {
            m.extend_from_slice(&[0u8; 16]);
        }
        m
    }

    #[test]
    fn netns_batch_answers_give_each_error_its_sequence_number() {
        let mut d = message(NLMSG_ERROR, 3, -libc::EEXIST);
        d.extend(message(24, 4, 0));
        d.extend(message(NLMSG_ERROR, 7, -libc::ENETUNREACH));
        assert_eq!(errors(&d), vec![(3, libc::EEXIST), (7, libc::ENETUNREACH)]);
        // A message cut short ends the datagram; nothing is invented.
        let mut cut = message(NLMSG_ERROR, 9, -libc::EINVAL);
        cut.truncate(30);
        assert_eq!(errors(&cut), vec![]);
        assert_eq!(errors(&[]), vec![]);
    }
}
