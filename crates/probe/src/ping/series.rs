//! The sans-IO state of one ping series: which bytes to send next, and
//! whether a received datagram answers one of our requests.
//!
//! [`Series`] owns no socket and reads no clock: the caller passes the time
//! of each send and receipt as offsets on one monotonic clock, and the
//! bytes it received. The statistics (RTT, loss, duplicates, reordering,
//! jitter) are udp_echo's [`Tracker`]'s, which does not care which protocol
//! carried the echo; this module adds what is ICMP-specific:
//!
//! - **Whose reply.** On a datagram ("ping") socket the kernel replaces our
//!   identifier with the socket's and delivers only the replies carrying
//!   it, so the identifier is not checked. A raw socket sees every ICMP
//!   message of the namespace, including our own requests on loopback and
//!   other programs' pings, so there a reply must carry our identifier, and
//!   any message that is not an echo reply is ignored rather than counted.
//! - **Which request.** The wire sequence is 16 bits; a series may be
//!   longer. A reply's sequence is taken as the most recent request with
//!   those low 16 bits, and the echoed send stamp confirms it: a reply
//!   65536 requests late, or forged, fails the stamp check and is stray.
//! - **IP header.** A raw IPv4 socket delivers it; it is skipped.

use std::time::Duration;

use super::wire::{Echo, Family, Kind, strip_ipv4_header};
use crate::udp_echo::tracker::{Outcome, Reception, Tracker};

/// The kind of ICMP socket a series runs on, which decides what the
/// kernel has already filtered and what arrives in front of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// An unprivileged `SOCK_DGRAM` ping socket.
    Datagram,
    /// A `SOCK_RAW` socket; replies are ours only if they carry `ident`.
    Raw {
        /// The identifier our requests carry.
        ident: u16,
    },
}

/// A first reply to one of our requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The request's sequence in the series (not truncated to 16 bits).
    pub seq: u64,
    /// When the request was sent.
    pub sent_at: Duration,
    /// Receive time minus send time.
    pub rtt: Duration,
}

/// One ping series; see the [module docs](self).
#[derive(Debug)]
pub struct Series {
    family: Family,
    socket: SocketKind,
    payload: usize,
    tracker: Tracker,
    next_seq: u64,
    /// Datagrams addressed to us (so not ignorable) that answer nothing we
    /// sent; added to the tracker's own stray count at the end.
    stray: u64,
}

impl Series {
    /// A series of `family` echo requests with `payload`-byte payloads
    /// (see [`Echo::emit`]) on a `socket` socket.
    pub fn new(family: Family, socket: SocketKind, payload: usize) -> Series {
        Series {
            family,
            socket,
            payload,
            tracker: Tracker::new(),
            next_seq: 0,
            stray: 0,
        }
    }

    /// Writes the next request into `buf`, records it as sent at `at`, and
    /// returns its sequence number.
    ///
    /// Record first, send second: a request the network refuses to take
    /// still counts, as a loss.
    pub fn request(&mut self, at: Duration, buf: &mut Vec<u8>) -> u64 {
        let seq = self.next_seq;
        let stamp_ns = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        let ident = match self.socket {
            // Any value: the kernel overwrites it.
            SocketKind::Datagram => 0,
            SocketKind::Raw { ident } => ident,
        };
        Echo {
            kind: Kind::Request,
            ident,
            // Truncation intended: the wire carries the low 16 bits.
            seq: seq as u16,
            stamp_ns,
        }
        .emit(self.family, buf, self.payload);
        self.tracker.sent(seq, Duration::from_nanos(stamp_ns));
        self.next_seq += 1;
        seq
    }

    /// Takes one datagram received at `at`; returns the reply it is when it
    /// is the first answer to one of our requests.
    pub fn receive(&mut self, datagram: &[u8], at: Duration) -> Option<Reply> {
        let raw = matches!(self.socket, SocketKind::Raw { .. });
        let message = match (self.family, raw) {
            (Family::V4, true) => strip_ipv4_header(datagram).ok()?,
            _ => datagram,
        };
        let echo = match Echo::parse(self.family, message) {
            Ok(echo) if echo.kind == Kind::Reply => echo,
            // The kernel gives a ping socket only echo replies for it, so
            // anything else there is worth counting; a raw socket gets the
            // namespace's whole ICMP traffic, which is not ours to count.
            _ => {
                if !raw {
                    self.stray += 1;
                }
                return None;
            }
        };
        if let SocketKind::Raw { ident } = self.socket
            && echo.ident != ident
        {
            return None;
        }
        let Some(seq) = unwrap_seq(echo.seq, self.next_seq) else {
            self.stray += 1;
            return None;
        };
        let sent_stamp = Duration::from_nanos(echo.stamp_ns);
        match self.tracker.received(seq, sent_stamp, at) {
            Reception::Reply { rtt, .. } => Some(Reply {
                seq,
                sent_at: sent_stamp,
                rtt,
            }),
            Reception::Duplicate | Reception::Stray => None,
        }
    }

    /// Whether every request sent so far has been answered.
    pub fn all_replied(&self) -> bool {
        self.tracker.all_replied()
    }

    /// Decides the series at `now`, as [`Tracker::finish`] does; the stray
    /// count includes the datagrams this module rejected itself.
    pub fn finish(&self, now: Duration, timeout: Duration) -> Outcome {
        let mut outcome = self.tracker.finish(now, timeout);
        outcome.summary.stray += self.stray;
        outcome
    }
}

/// The most recent sequence below `next` whose low 16 bits are `wire`, or
/// `None` when no request with those bits has been sent yet.
fn unwrap_seq(wire: u16, next: u64) -> Option<u64> {
    let last = next.checked_sub(1)?;
    let back = (last as u16).wrapping_sub(wire);
    last.checked_sub(u64::from(back))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// What a peer sends back: the request with its type turned into a
    /// reply, re-encoded so an IPv4 checksum stays right.
    fn answer(family: Family, request: &[u8], ident: Option<u16>) -> Vec<u8> {
        let mut e = Echo::parse(family, request).unwrap();
        e.kind = Kind::Reply;
        if let Some(ident) = ident {
            e.ident = ident;
        }
        let mut out = Vec::new();
        e.emit(family, &mut out, request.len() - 8);
        out
    }

    /// A 20-byte IPv4 header in front of `message`, as a raw socket gives it.
    fn with_ip_header(message: &[u8]) -> Vec<u8> {
        let mut d = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        d.extend_from_slice(message);
        d
    }

    #[test]
    fn unwrap_seq_takes_the_most_recent_match() {
        assert_eq!(unwrap_seq(0, 0), None);
        assert_eq!(unwrap_seq(0, 1), Some(0));
        assert_eq!(unwrap_seq(3, 3), None, "not sent yet");
        assert_eq!(unwrap_seq(2, 5), Some(2));
        assert_eq!(unwrap_seq(0xffff, 0x1_0002), Some(0xffff));
        assert_eq!(unwrap_seq(1, 0x1_0002), Some(0x1_0001));
        assert_eq!(unwrap_seq(2, 0x1_0002), Some(2));
    }

    /// Ten requests every 10 ms on a virtual clock; every third one gets no
    /// answer. Those three are lost once the wait has passed, and only then.
    #[test]
    fn loss_on_a_virtual_clock() {
        let mut s = Series::new(Family::V6, SocketKind::Datagram, 56);
        let mut buf = Vec::new();
        for i in 0..10u64 {
            let at = ms(10 * i);
            assert_eq!(s.request(at, &mut buf), i);
            assert_eq!(buf.len(), 64);
            if i % 3 != 0 {
                // The kernel put its own identifier in: not checked here.
                let reply = answer(Family::V6, &buf, Some(0x4242));
                let r = s.receive(&reply, at + ms(4)).unwrap();
                assert_eq!(
                    r,
                    Reply {
                        seq: i,
                        sent_at: at,
                        rtt: ms(4)
                    }
                );
            }
        }
        assert!(!s.all_replied());

        let early = s.finish(ms(90) + ms(500), ms(1000));
        assert_eq!(early.pending, vec![0, 3, 6, 9]);
        assert_eq!(early.summary.lost, 0);

        let o = s.finish(ms(90) + ms(1000), ms(1000));
        assert_eq!(
            o.lost,
            vec![(0, ms(0)), (3, ms(30)), (6, ms(60)), (9, ms(90))]
        );
        assert_eq!((o.summary.sent, o.summary.received), (10, 6));
        assert_eq!(o.summary.loss_ratio(), Some(0.4));
        assert_eq!(o.summary.rtt_avg, Some(ms(4)));
        assert_eq!(o.summary.jitter, Duration::ZERO);
    }

    #[test]
    fn raw_ipv4_skips_header_own_requests_and_foreign_idents() {
        let mut s = Series::new(Family::V4, SocketKind::Raw { ident: 77 }, 8);
        let mut request = Vec::new();
        s.request(ms(0), &mut request);
        // On loopback a raw socket sees our own request go by.
        assert_eq!(s.receive(&with_ip_header(&request), ms(1)), None);
        // Another program's ping, and another ICMP message entirely.
        let foreign = answer(Family::V4, &request, Some(78));
        assert_eq!(s.receive(&with_ip_header(&foreign), ms(1)), None);
        assert_eq!(
            s.receive(&with_ip_header(&[3, 3, 0, 0, 0, 0, 0, 0]), ms(1)),
            None
        );
        assert_eq!(s.receive(&[0x45], ms(1)), None);

        let reply = with_ip_header(&answer(Family::V4, &request, None));
        assert_eq!(s.receive(&reply, ms(2)).map(|r| r.rtt), Some(ms(2)));
        assert_eq!(s.receive(&reply, ms(3)), None);
        let summary = s.finish(ms(2000), ms(1000)).summary;
        assert_eq!((summary.received, summary.duplicates), (1, 1));
        assert_eq!(
            summary.stray, 0,
            "a raw socket's foreign traffic is not stray"
        );
    }

    #[test]
    fn datagram_socket_counts_what_answers_nothing() {
        let mut s = Series::new(Family::V4, SocketKind::Datagram, 8);
        let mut request = Vec::new();
        s.request(ms(0), &mut request);
        let mut reply = answer(Family::V4, &request, None);
        // A reply for a sequence not sent yet, a reply with a forged stamp,
        // and garbage.
        let mut ahead = Echo::parse(Family::V4, &reply).unwrap();
        ahead.seq = 5;
        let mut bytes = Vec::new();
        ahead.emit(Family::V4, &mut bytes, 8);
        assert_eq!(s.receive(&bytes, ms(1)), None);
        let mut forged = Echo::parse(Family::V4, &reply).unwrap();
        forged.stamp_ns += 1;
        forged.emit(Family::V4, &mut bytes, 8);
        assert_eq!(s.receive(&bytes, ms(1)), None);
        assert_eq!(s.receive(&[0xff; 3], ms(1)), None);
        assert!(s.receive(&reply, ms(1)).is_some());
        // A corrupted reply fails the checksum and is not taken.
        reply[12] ^= 0xff;
        assert_eq!(s.receive(&reply, ms(1)), None);
        let summary = s.finish(ms(2000), ms(1000)).summary;
        assert_eq!((summary.received, summary.stray), (1, 4));
    }

    #[test]
    fn sequence_wraps_past_16_bits() {
        let mut s = Series::new(Family::V6, SocketKind::Datagram, 8);
        let mut buf = Vec::new();
        for i in 0..=0x1_0000u64 {
            s.request(ms(i), &mut buf);
        }
        // The last request went out as wire sequence 0.
        assert_eq!(Echo::parse(Family::V6, &buf).unwrap().seq, 0);
        let r = s.receive(&answer(Family::V6, &buf, None), ms(0x1_0000 + 3));
        assert_eq!(r.map(|r| r.seq), Some(0x1_0000));
    }
}
