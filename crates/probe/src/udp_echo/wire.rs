//! The UDP echo packet format: parsing and emitting, no I/O, no state.
//!
//! Every packet starts with a fixed 24-byte big-endian header:
//!
//! ```text
//!  0       4     5     6         8                16               24
//!  +-------+-----+-----+---------+----------------+----------------+---------
//!  | NPUE  | ver | kind| reserved| sequence (u64) | send time (u64)| padding
//!  +-------+-----+-----+---------+----------------+----------------+---------
//! ```
//!
//! `kind` is 0 for a request and 1 for a reply. The send time is nanoseconds
//! on the *client's* clock; the responder echoes it unchanged, so the client
//! never needs the two clocks to agree. Padding (zeros when emitted, ignored
//! when parsed) brings the datagram to the size the probe asked for, so a
//! series can measure how a path treats large packets.
//!
//! [`Packet::parse`] never panics, whatever the bytes: a short, foreign or
//! future-version datagram is a typed [`WireError`].

use thiserror::Error;

/// The four bytes every packet starts with.
pub const MAGIC: [u8; 4] = *b"NPUE";
/// The only version this module speaks.
pub const VERSION: u8 = 1;
/// The length of the fixed header, and so the smallest packet.
pub const HEADER_LEN: usize = 24;
/// The largest UDP payload over IPv4 (65535 - 20 - 8), and so the largest packet.
pub const MAX_PACKET_LEN: usize = 65_507;

/// Whether a packet asks for an echo or is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sent by the client; the responder answers it.
    Request,
    /// Sent by the responder; never answered, so two responders cannot
    /// bounce a packet between them forever.
    Reply,
}

impl Kind {
    fn to_byte(self) -> u8 {
        match self {
            Kind::Request => 0,
            Kind::Reply => 1,
        }
    }

    fn from_byte(b: u8) -> Result<Kind, WireError> {
        match b {
            0 => Ok(Kind::Request),
            1 => Ok(Kind::Reply),
            other => Err(WireError::UnknownKind(other)),
        }
    }
}

/// The header of one echo packet; the padding is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Request or reply.
    pub kind: Kind,
    /// The client's sequence number for this packet.
    pub seq: u64,
    /// When the client sent the request, in nanoseconds on the client's clock.
    pub stamp_ns: u64,
}

/// Why a datagram is not an echo packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// Shorter than the fixed header.
    #[error("datagram of {len} bytes is shorter than the {HEADER_LEN}-byte udp echo header")]
    Truncated {
        /// The datagram's length.
        len: usize,
    },
    /// Does not start with `NPUE`.
    #[error("datagram does not start with the udp echo magic `NPUE` (found {0:02x?})")]
    BadMagic([u8; 4]),
    /// A version this module does not speak.
    #[error("udp echo version `{0}` is not supported (only version {VERSION} is)")]
    UnsupportedVersion(u8),
    /// A kind byte other than request (0) or reply (1).
    #[error("udp echo kind `{0}` is neither a request (0) nor a reply (1)")]
    UnknownKind(u8),
}

impl Packet {
    /// Parses the header of `bytes`; the padding after it is ignored.
    ///
    /// The reserved field is ignored too (emitted as zero), so a later
    /// version can give it a meaning without breaking version-1 readers.
    pub fn parse(bytes: &[u8]) -> Result<Packet, WireError> {
        // One length check up front; after it every fixed-offset read below
        // is in bounds, which is what makes this function panic-free.
        let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(WireError::Truncated { len: bytes.len() });
        };
        let magic = [header[0], header[1], header[2], header[3]];
        if magic != MAGIC {
            return Err(WireError::BadMagic(magic));
        }
        if header[4] != VERSION {
            return Err(WireError::UnsupportedVersion(header[4]));
        }
        let kind = Kind::from_byte(header[KIND_OFFSET])?;
        Ok(Packet {
            kind,
            seq: u64_at(header, 8),
            stamp_ns: u64_at(header, 16),
        })
    }

    /// Replaces `buf`'s contents with this packet, zero-padded to `size`
    /// bytes.
    ///
    /// `size` is clamped to `HEADER_LEN..=MAX_PACKET_LEN` because a packet
    /// cannot be smaller than its header nor larger than a UDP datagram;
    /// callers that take a size from a user validate it first (the client
    /// does) so the clamp never hides a mistake.
    pub fn emit(&self, buf: &mut Vec<u8>, size: usize) {
        let size = size.clamp(HEADER_LEN, MAX_PACKET_LEN);
        buf.clear();
        buf.extend_from_slice(&MAGIC);
        buf.push(VERSION);
        buf.push(self.kind.to_byte());
        buf.extend_from_slice(&0u16.to_be_bytes());
        buf.extend_from_slice(&self.seq.to_be_bytes());
        buf.extend_from_slice(&self.stamp_ns.to_be_bytes());
        buf.resize(size, 0);
    }
}

/// Turns a parsed request datagram into its reply in place: same size,
/// same sequence, same stamp, same padding; only the kind byte changes.
///
/// Editing the received bytes rather than emitting a fresh packet keeps the
/// echo byte-exact, padding included, and costs no copy.
pub(crate) fn mark_as_reply(datagram: &mut [u8]) {
    // `get_mut` rather than indexing: a too-short slice is left alone
    // instead of panicking, though callers pass only parsed packets.
    if let Some(kind) = datagram.get_mut(KIND_OFFSET) {
        *kind = Kind::Reply.to_byte();
    }
}

/// Where the kind byte sits in the header.
const KIND_OFFSET: usize = 5;

fn u64_at(header: &[u8; HEADER_LEN], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&header[at..at + 8]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request for seq 0x0102030405060708, stamp 1 s, with no padding.
    static REQUEST: [u8; HEADER_LEN] = [
        b'N', b'P', b'U', b'E', 1, 0, 0, 0, //
        1, 2, 3, 4, 5, 6, 7, 8, //
        0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00,
    ];

    #[test]
    fn parses_fixture() {
        let p = Packet::parse(&REQUEST).unwrap();
        assert_eq!(
            p,
            Packet {
                kind: Kind::Request,
                seq: 0x0102_0304_0506_0708,
                stamp_ns: 1_000_000_000,
            }
        );
    }

    #[test]
    fn emit_matches_fixture() {
        let mut buf = Vec::new();
        Packet::parse(&REQUEST).unwrap().emit(&mut buf, 0);
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn round_trip_at_every_interesting_size() {
        let mut buf = Vec::new();
        for (kind, size) in [
            (Kind::Request, HEADER_LEN),
            (Kind::Reply, 64),
            (Kind::Request, 1500),
            (Kind::Reply, MAX_PACKET_LEN),
        ] {
            let p = Packet {
                kind,
                seq: u64::MAX - 3,
                stamp_ns: 42,
            };
            p.emit(&mut buf, size);
            assert_eq!(buf.len(), size);
            assert!(buf[HEADER_LEN..].iter().all(|&b| b == 0));
            assert_eq!(Packet::parse(&buf), Ok(p));
        }
    }

    #[test]
    fn emit_clamps_size_to_a_valid_datagram() {
        let p = Packet {
            kind: Kind::Request,
            seq: 1,
            stamp_ns: 2,
        };
        let mut buf = vec![9; 10];
        p.emit(&mut buf, 3);
        assert_eq!(buf.len(), HEADER_LEN);
        p.emit(&mut buf, usize::MAX);
        assert_eq!(buf.len(), MAX_PACKET_LEN);
    }

    #[test]
    fn typed_errors() {
        assert_eq!(Packet::parse(&[]), Err(WireError::Truncated { len: 0 }));
        assert_eq!(
            Packet::parse(&REQUEST[..HEADER_LEN - 1]),
            Err(WireError::Truncated {
                len: HEADER_LEN - 1
            })
        );
        let mut bad = REQUEST;
        bad[0] = b'X';
        assert_eq!(Packet::parse(&bad), Err(WireError::BadMagic(*b"XPUE")));
        let mut bad = REQUEST;
        bad[4] = 2;
        assert_eq!(Packet::parse(&bad), Err(WireError::UnsupportedVersion(2)));
        let mut bad = REQUEST;
        bad[5] = 7;
        assert_eq!(Packet::parse(&bad), Err(WireError::UnknownKind(7)));
    }

    #[test]
    fn reserved_and_padding_are_ignored() {
        let mut odd = REQUEST.to_vec();
        odd[6] = 0xff;
        odd.extend_from_slice(&[0xaa; 100]);
        assert_eq!(Packet::parse(&odd), Packet::parse(&REQUEST));
    }

    #[test]
    fn mark_as_reply_changes_only_the_kind() {
        let mut d = REQUEST.to_vec();
        d.extend_from_slice(&[7; 40]);
        let before = d.clone();
        mark_as_reply(&mut d);
        assert_eq!(Packet::parse(&d).unwrap().kind, Kind::Reply);
        assert_eq!(d.len(), before.len());
        assert_eq!(d[..5], before[..5]);
        assert_eq!(d[6..], before[6..]);
        mark_as_reply(&mut [0u8; 3]);
    }

    /// A fixed-seed xorshift, so the "fuzz" below is the same on every run.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn never_panics_on_random_or_truncated_bytes() {
        // Every prefix of a valid packet, including the empty one.
        let mut buf = Vec::new();
        Packet {
            kind: Kind::Reply,
            seq: 5,
            stamp_ns: 6,
        }
        .emit(&mut buf, 64);
        for n in 0..=buf.len() {
            let r = Packet::parse(&buf[..n]);
            assert_eq!(r.is_ok(), n >= HEADER_LEN, "prefix of {n} bytes");
        }
        // Random bytes, and random bytes behind a valid magic and version so
        // the kind check and the field reads are exercised too.
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for i in 0..20_000 {
            let len = (xorshift(&mut state) % 80) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            if i % 2 == 0 && len >= 5 {
                bytes[..4].copy_from_slice(&MAGIC);
                bytes[4] = VERSION;
            }
            let _ = Packet::parse(&bytes);
            mark_as_reply(&mut bytes);
        }
    }
}
